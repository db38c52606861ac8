use std::io::Read;

use super::*;

fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    (dir, path)
}

fn entries(root: &Utf8Path) -> Vec<Entry> {
    std::fs::write(root.join("hello"), b"\x7fELF binary").unwrap();
    std::fs::write(root.join("README.md"), b"# hello\n").unwrap();
    std::fs::write(root.join("LICENSE"), b"MIT\n").unwrap();
    vec![
        Entry { source: root.join("README.md"), name: "README.md".into(), mode: FILE_MODE },
        Entry { source: root.join("hello"), name: "hello".into(), mode: BINARY_MODE },
        Entry { source: root.join("LICENSE"), name: "LICENSE".into(), mode: FILE_MODE },
    ]
}

#[test]
fn names_follow_cargo_binstall_defaults() {
    let linux = archive_name("hello", "x86_64-unknown-linux-gnu", "0.3.1");
    assert_eq!(linux.file_name(), "hello-x86_64-unknown-linux-gnu-v0.3.1.tar.gz");
    assert_eq!(linux.dir(), "hello-x86_64-unknown-linux-gnu-v0.3.1");
    let windows = archive_name("hello", "x86_64-pc-windows-msvc", "0.3.1");
    assert_eq!(windows.file_name(), "hello-x86_64-pc-windows-msvc-v0.3.1.zip");
    assert_eq!(raw_binary_name("hello", "x86_64-pc-windows-gnu", "1.0.0"), "hello-x86_64-pc-windows-gnu-v1.0.0.exe");
}

#[test]
fn patterns() {
    assert!(wildcard_match("README*", "README.md"));
    assert!(wildcard_match("LICENSE*", "LICENSE"));
    assert!(wildcard_match("*.m?", "notes.md"));
    assert!(!wildcard_match("LICENSE*", "COPYING"));
    assert!(!wildcard_match("a?c", "ac"));
    assert_eq!(check_pattern("../LICENSE"), Err("contains `..`"));
    assert_eq!(check_pattern("/etc/passwd"), Err("is absolute"));
    assert!(check_pattern("docs/*/x").is_err());
    assert!(check_pattern("docs/*.md").is_ok());
}

#[test]
fn include_reports_patterns_that_match_nothing() {
    let (_keep, root) = temp();
    entries(&root);
    std::fs::create_dir(root.join("README.d")).unwrap();
    let included =
        expand_include(&root, &root, &["README*".into(), "LICENSE*".into(), "CHANGELOG*".into(), "README*".into()]);
    assert_eq!(included.files, [root.join("README.md"), root.join("LICENSE")], "files only, each once");
    assert_eq!(included.unmatched, ["CHANGELOG*"]);
    assert!(included.outside.is_empty());
}

#[test]
fn an_included_link_out_of_the_project_is_set_apart_and_one_inside_is_kept() {
    let (_keep, base) = temp();
    let root = base.join("project");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(base.join("secret.txt"), "not for publishing").unwrap();
    std::fs::write(root.join("LICENSE"), "MIT").unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), root.join("README.md")).unwrap();
    std::os::unix::fs::symlink("LICENSE", root.join("COPYING")).unwrap();
    let included = expand_include(&root, &root, &["README*".into(), "LICENSE".into(), "COPYING".into()]);
    assert_eq!(included.files, [root.join("LICENSE"), root.join("COPYING")]);
    let real = camino::Utf8PathBuf::from_path_buf(std::fs::canonicalize(base.join("secret.txt")).unwrap()).unwrap();
    assert_eq!(included.outside, [(root.join("README.md"), real.clone())]);
    let message = included.outside_message("hello", &root).unwrap();
    assert_eq!(
        message,
        format!(
            "build `hello`: an `include`d file leaves the project: {}/README.md is a symbolic link to {real}, outside the project {root}",
            root
        )
    );
}

#[test]
fn tar_gz_is_deterministic_sorted_and_owned_by_zero() {
    let (_keep, root) = temp();
    let list = entries(&root);
    let name = archive_name("hello", "x86_64-unknown-linux-gnu", "0.3.1");
    let first = write(&root.join("a"), &name, &list, 1_700_000_000).unwrap();
    let mut reversed = list.clone();
    reversed.reverse();
    let second = write(&root.join("b"), &name, &reversed, 1_700_000_000).unwrap();
    assert_eq!(first.sha256, second.sha256, "the same inputs, in any order, give the same bytes");
    assert_eq!(std::fs::read(&first.path).unwrap(), std::fs::read(&second.path).unwrap());
    assert_eq!(first.sha256, crate::checksum::hash_file(&first.path).unwrap().0, "hashed as written");
    assert_eq!(first.size, std::fs::metadata(&first.path).unwrap().len());

    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&first.path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        seen.push((
            entry.path().unwrap().to_string_lossy().into_owned(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.mtime().unwrap(),
        ));
    }
    let dir = "hello-x86_64-unknown-linux-gnu-v0.3.1";
    assert_eq!(
        seen,
        [
            (format!("{dir}/"), 0o755, 0, 1_700_000_000),
            (format!("{dir}/LICENSE"), 0o644, 0, 1_700_000_000),
            (format!("{dir}/README.md"), 0o644, 0, 1_700_000_000),
            (format!("{dir}/hello"), 0o755, 0, 1_700_000_000),
        ]
    );
    assert!(!root.join("a").join(format!(".{}.partial", name.file_name())).exists());
}

#[test]
fn zip_entries_inflate_to_their_files() {
    let (_keep, root) = temp();
    let list = entries(&root);
    let name = archive_name("hello", "x86_64-pc-windows-msvc", "0.3.1");
    let written = write(&root.join("out"), &name, &list, 0).unwrap();
    let again = write(&root.join("again"), &name, &list, 0).unwrap();
    assert_eq!(written.sha256, again.sha256);
    let bytes = std::fs::read(&written.path).unwrap();
    // The end record: 5 entries? no: the directory and three files.
    let end = &bytes[bytes.len() - 22..];
    assert_eq!(&end[..4], &0x0605_4b50u32.to_le_bytes());
    assert_eq!(u16::from_le_bytes([end[10], end[11]]), 4);
    // The first file after the directory's local header is LICENSE, deflated.
    let dir = "hello-x86_64-pc-windows-msvc-v0.3.1/";
    let second = 30 + dir.len();
    assert_eq!(&bytes[second..second + 4], &0x0403_4b50u32.to_le_bytes());
    let name_len = u16::from_le_bytes([bytes[second + 26], bytes[second + 27]]) as usize;
    assert_eq!(&bytes[second + 30..second + 30 + name_len], format!("{dir}LICENSE").as_bytes());
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(&bytes[second + 30 + name_len..]).read_to_end(&mut inflated).unwrap();
    assert_eq!(inflated, b"MIT\n");
}

#[test]
fn dos_times() {
    assert_eq!(zip::dos_time(0), (0, (1 << 5) | 1), "before 1980: the format's first day");
    // 2023-11-14 22:13:20 UTC
    let (time, date) = zip::dos_time(1_700_000_000);
    assert_eq!((date >> 9) + 1980, 2023);
    assert_eq!(((date >> 5) & 0xf, date & 0x1f), (11, 14));
    assert_eq!((time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2), (22, 13, 20));
}

#[test]
fn a_file_name_twice_is_refused() {
    let (_keep, root) = temp();
    let mut list = entries(&root);
    list.push(Entry { source: root.join("LICENSE"), name: "hello".into(), mode: FILE_MODE });
    let err = write(&root, &archive_name("hello", "x86_64-unknown-linux-gnu", "1.0.0"), &list, 0).unwrap_err();
    assert!(
        err.to_string().starts_with("two files would be `hello` in hello-x86_64-unknown-linux-gnu-v1.0.0.tar.gz"),
        "{err}"
    );
}
