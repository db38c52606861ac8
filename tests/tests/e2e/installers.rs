//! The installers a release ships, made by a snapshot release through the binary and run by
//! `dash`, `bash` and busybox `sh` against a loopback host laid out like GitHub's release
//! downloads: the binary installed runs; a second run changes nothing; a tampered archive, a
//! wrong digest, a machine without a SHA-256 tool and a machine the release has no archive for
//! each fail with a clear message and install nothing; `gh attestation verify` decides when
//! the release has provenance.

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use release_tests::downloads::Downloads;
use release_tests::{Project, host_triple};

const CONFIG: &str = r#"
[project]
name = "hello"
version-from = "Cargo.toml"

[[build]]
name = "hello"
cargo = { package = "hello", bins = ["hello"] }

[github]
repository = "acme/hello"

[installers]
"#;

/// A crate whose binary says its version, released as a snapshot with installers.
fn released() -> Project {
    let project = Project::new();
    project
        .file("Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.4.0\"\nedition = \"2021\"\n")
        .file("src/main.rs", "fn main() {\n    println!(\"hello {}\", env!(\"CARGO_PKG_VERSION\"));\n}\n")
        .file("README.md", "hello\n")
        .config(CONFIG);
    let lock = Command::new("cargo").args(["generate-lockfile", "--offline"]).current_dir(project.path()).output();
    assert!(lock.unwrap().status.success());
    project.release(["run", "--snapshot"]).run().success().stderr_has("package:installers");
    project
}

struct Ran {
    ok: bool,
    stderr: String,
}

/// Runs the installer at `script` with `shell` (`["dash"]`, `["busybox", "sh"]`), installing
/// into `dir`, with `path` as PATH.
fn install(shell: &[&str], script: &Utf8Path, url: &str, dir: &Utf8Path, path: &str) -> Ran {
    let out = Command::new(on_path(shell[0]))
        .args(&shell[1..])
        .arg(script.as_str())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.parent().unwrap().as_str())
        .env("HELLO_DOWNLOAD_URL", url)
        .env("HELLO_INSTALL_DIR", dir.as_str())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shell:?} ({e}); .ci/run installs dash, bash and busybox"));
    Ran { ok: out.status.success(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// Where `program` is on this process's PATH (the installer runs with a PATH of its own).
fn on_path(program: &str) -> Utf8PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|dir| Utf8Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not installed; .ci/run installs dash, bash and busybox"))
}

fn installed(dir: &Utf8Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

/// A directory of links to the tools the installer uses, `without` some of them, and
/// `extra` scripts of our own (a fake `uname`, a fake `gh`).
fn tools(root: &Utf8Path, without: &[&str], extra: &[(&str, &str)]) -> Utf8PathBuf {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = root.join(format!("tools-{}", MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    let wanted = [
        "uname",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "chmod",
        "mktemp",
        "cut",
        "tr",
        "grep",
        "tar",
        "gzip",
        "curl",
        "cat",
        "ldd",
        "sha256sum",
        "shasum",
        "openssl",
        "sysctl",
    ];
    for tool in wanted.iter().filter(|t| !without.contains(t)) {
        for base in ["/usr/bin", "/bin"] {
            let source = Utf8Path::new(base).join(tool);
            if source.exists() {
                std::os::unix::fs::symlink(&source, dir.join(tool)).unwrap();
                break;
            }
        }
    }
    for (name, script) in extra {
        let path = dir.join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

const SHELLS: [&[&str]; 3] = [&["dash"], &["bash"], &["busybox", "sh"]];

#[test]
fn the_shell_installer_installs_the_released_binary_under_dash_bash_and_busybox() {
    let project = released();
    let dist = project.join("dist");
    let script = dist.join("hello-installer.sh");
    let archive = format!("hello-{}-v0.4.0.tar.gz", host_triple());
    let sums = project.read("dist/SHA256SUMS");
    assert!(sums.contains("  hello-installer.sh\n") && sums.contains(&format!("  {archive}\n")), "{sums}");
    assert!(!project.exists("dist/hello-installer.ps1"), "no Windows target, no PowerShell installer");
    let text = project.read("dist/hello-installer.sh");
    let digest = sums.lines().find(|l| l.ends_with(&archive)).unwrap().split_whitespace().next().unwrap();
    assert!(text.contains(&format!(" {archive} {digest} ")), "the archive's digest is written into the installer");
    assert!(text.contains("DEFAULT_DOWNLOAD_URL='https://github.com/acme/hello/releases/download/v0.4.0'"));

    let server = Downloads::serve(&dist, "v0.4.0");
    let path = std::env::var("PATH").unwrap();
    let home = tempfile::tempdir().unwrap();
    let home = Utf8Path::from_path(home.path()).unwrap();
    for shell in SHELLS {
        let dir = home.join(format!("bin-{}", shell.join("-")));
        let first = install(shell, &script, &server.url, &dir, &path);
        assert!(first.ok, "{shell:?}: {}", first.stderr);
        assert!(first.stderr.contains(&format!("verified {archive} (sha256 {digest})")), "{}", first.stderr);
        assert!(first.stderr.contains(&format!("installed {dir}/hello")), "{}", first.stderr);
        assert!(first.stderr.contains("is not on PATH; add it"), "{}", first.stderr);
        let out = Command::new(dir.join("hello")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 0.4.0\n", "{shell:?}");
        assert_eq!(installed(&dir), ["hello"], "{shell:?}: only the binary, no temporary file left");

        let second = install(shell, &script, &server.url, &dir, &path);
        assert!(second.ok && second.stderr.contains("is already this version"), "{shell:?}: {}", second.stderr);
    }
    assert!(
        server.requests().iter().all(|r| r == &format!("/releases/download/v0.4.0/{archive}")),
        "{:?}",
        server.requests()
    );
}

#[test]
fn a_tampered_archive_a_wrong_digest_no_hash_tool_and_no_archive_each_install_nothing() {
    let project = released();
    let dist = project.join("dist");
    let archive = format!("hello-{}-v0.4.0.tar.gz", host_triple());
    let home = tempfile::tempdir().unwrap();
    let home = Utf8Path::from_path(home.path()).unwrap();
    let path = std::env::var("PATH").unwrap();

    // The host serves other bytes under the archive's name.
    let tampered = home.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    let mut bytes = std::fs::read(dist.join(&archive)).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    std::fs::write(tampered.join(&archive), bytes).unwrap();
    let bad_host = Downloads::serve(&tampered, "v0.4.0");
    let good_host = Downloads::serve(&dist, "v0.4.0");

    // An installer whose digest is not the archive's.
    let script = dist.join("hello-installer.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let digest = text.lines().find(|l| l.contains(&archive)).unwrap().split_whitespace().nth(2).unwrap().to_owned();
    let wrong = home.join("wrong-installer.sh");
    std::fs::write(&wrong, text.replace(&digest, &"0".repeat(64))).unwrap();

    let no_hash = tools(home, &["sha256sum", "shasum", "openssl"], &[]);
    let freebsd =
        tools(home, &["uname"], &[("uname", "#!/bin/sh\ncase \"$1\" in -s) echo FreeBSD ;; -m) echo amd64 ;; esac\n")]);
    let cases: [(&str, &Utf8Path, &str, String, &str); 4] = [
        ("tampered", &script, &bad_host.url, path.clone(), "the download is not the released file"),
        ("wrong digest", &wrong, &good_host.url, path.clone(), &"0".repeat(64)),
        (
            "no hash tool",
            &script,
            &good_host.url,
            no_hash.to_string(),
            "no SHA-256 tool found (sha256sum, shasum or openssl)",
        ),
        (
            "no archive",
            &script,
            &good_host.url,
            format!("{freebsd}:{path}"),
            "has no archive for this machine (FreeBSD amd64); it has: ",
        ),
    ];
    for shell in SHELLS {
        for (case, script, url, path, expected) in &cases {
            let dir = home.join(format!("bin-{}-{}", shell.join("-"), case.replace(' ', "-")));
            let ran = install(shell, script, url, &dir, path);
            assert!(!ran.ok, "{shell:?} {case}: installed anyway: {}", ran.stderr);
            assert!(ran.stderr.contains(expected), "{shell:?} {case}: {}", ran.stderr);
            assert!(ran.stderr.contains("nothing was installed"), "{shell:?} {case}: {}", ran.stderr);
            assert!(installed(&dir).is_empty(), "{shell:?} {case}: {:?}", installed(&dir));
        }
    }
    // The no-hash-tool and no-archive cases refused before downloading anything.
    assert!(good_host.requests().iter().all(|r| r.ends_with(&archive)), "{:?}", good_host.requests());
    assert_eq!(good_host.requests().len(), SHELLS.len(), "only the wrong-digest case downloads");
}

#[test]
fn with_provenance_gh_attestation_verify_decides() {
    let project = released();
    let dist = project.join("dist");
    let home = tempfile::tempdir().unwrap();
    let home = Utf8Path::from_path(home.path()).unwrap();
    let path = std::env::var("PATH").unwrap();
    let server = Downloads::serve(&dist, "v0.4.0");
    // The same installer as a release with provenance writes it (the repository, the workflow
    // and the tag filled in).
    let text = project
        .read("dist/hello-installer.sh")
        .replace("PROVENANCE_REPO=''", "PROVENANCE_REPO='acme/hello'")
        .replace("PROVENANCE_WORKFLOW=''", "PROVENANCE_WORKFLOW='acme/hello/.github/workflows/release.yml'")
        .replace("PROVENANCE_REF=''", "PROVENANCE_REF='refs/tags/v0.4.0'");
    let script = home.join("hello-installer.sh");
    std::fs::write(&script, text).unwrap();
    let args = home.join("gh-args");
    let gh = |exit: u8| format!("#!/bin/sh\necho \"$@\" >> {args}\necho 'gh says {exit}' >&2\nexit {exit}\n");

    let refuses = tools(home, &[], &[("gh", &gh(1))]);
    let ran = install(&["dash"], &script, &server.url, &home.join("bin-refused"), &format!("{refuses}:{path}"));
    assert!(!ran.ok && ran.stderr.contains("gh attestation verify refused hello-"), "{}", ran.stderr);
    assert!(ran.stderr.contains("gh says 1") && installed(&home.join("bin-refused")).is_empty(), "{}", ran.stderr);
    let recorded = std::fs::read_to_string(&args).unwrap();
    assert!(
        recorded.starts_with("attestation verify /")
            && recorded.contains(" --repo acme/hello --signer-workflow acme/hello/.github/workflows/release.yml --source-ref refs/tags/v0.4.0"),
        "{recorded}"
    );

    let logged_out = tools(home, &[], &[("gh", &gh(4))]);
    let ran = install(&["dash"], &script, &server.url, &home.join("bin-4"), &format!("{logged_out}:{path}"));
    assert!(ran.ok && ran.stderr.contains("provenance not checked: gh is not logged in"), "{}", ran.stderr);

    let vouches = tools(home, &[], &[("gh", &gh(0))]);
    let ran = install(&["bash"], &script, &server.url, &home.join("bin-0"), &format!("{vouches}:{path}"));
    assert!(ran.ok && ran.stderr.contains("provenance verified: built by acme/hello"), "{}", ran.stderr);
    assert_eq!(installed(&home.join("bin-0")), ["hello"]);
}
