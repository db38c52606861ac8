//! The chart archive: `<name>-<version>.tgz`, byte for byte the same for the same chart.
//!
//! Layout, as `helm package` writes it: one entry per file (no directory entries), every
//! path under `<name>/`, `Chart.yaml` first; then every other file sorted by path.
//! Determinism: ustar headers with mtime 0, uid/gid 0, empty user and group names, mode
//! 0644 for every file (Helm writes 0644 too); a gzip header with mtime 0, no file name and
//! the "unknown" OS byte. The SHA-256 and size are computed while the file is written.

use std::io::{Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use flate2::{Compression, GzBuilder};

use super::files::check_archive_path;
use super::{ChartError, PreparedChart};
use crate::checksum::HashingWriter;
use crate::helm::chart::CHART_YAML;

/// The mode of every file in the archive.
pub(crate) const FILE_MODE: u32 = 0o644;

/// The archive written: where, its digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub path: Utf8PathBuf,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    pub size: u64,
}

/// Writes the chart's archive into `dist` (created if needed). The file appears under its
/// final name only once complete.
pub(crate) fn write(prepared: &PreparedChart, dist: &Utf8Path) -> Result<Written, ChartError> {
    let path = dist.join(prepared.file_name());
    let partial = dist.join(format!(".{}.partial", prepared.file_name()));
    let write_err = |source| ChartError::Write { path: path.clone(), source };
    // Both names are claimed before either exists (crate::dist).
    let partial_name = format!(".{}.partial", prepared.file_name());
    crate::dist::claim(dist, &[&prepared.file_name(), &partial_name])
        .map_err(|e| ChartError::Dist { dist: dist.to_owned(), message: e.to_string() })?;
    let file = std::fs::File::create(&partial).map_err(write_err)?;
    let result = write_to(prepared, HashingWriter::new(file)).and_then(|hashing| {
        let (file, digest, size) = hashing.finish();
        file.sync_all().map_err(write_err)?;
        Ok((hex::encode(digest), size))
    });
    let (sha256, size) = match result {
        Ok(done) => done,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    std::fs::rename(&partial, &path).map_err(write_err)?;
    Ok(Written { path, sha256, size })
}

/// Writes the archive into any writer; returns the writer.
pub(crate) fn write_to<W: Write>(prepared: &PreparedChart, out: W) -> Result<W, ChartError> {
    let name = prepared.chart.name();
    let shown = prepared.dir.join(prepared.file_name());
    let io_err = |source| ChartError::Write { path: shown.clone(), source };
    let gzip = GzBuilder::new().mtime(0).operating_system(255).write(out, Compression::default());
    let mut tar = tar::Builder::new(gzip);

    let header_for = |archive_path: &str, size: u64| {
        check_archive_path(archive_path)
            .map_err(|reason| io_err(std::io::Error::other(format!("archive path `{archive_path}` {reason}"))))?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(FILE_MODE);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(size);
        Ok::<_, ChartError>(header)
    };

    let chart_yaml = prepared.chart.to_yaml().into_bytes();
    let mut header = header_for(CHART_YAML, chart_yaml.len() as u64)?;
    tar.append_data(&mut header, format!("{name}/{CHART_YAML}"), chart_yaml.as_slice()).map_err(io_err)?;
    for file in &prepared.files {
        // Streamed through a fixed buffer, so memory does not grow with the chart's files.
        // The header states the size first: a file that changes size meanwhile would make a
        // corrupt archive, so exactly that many bytes must come, and then the end of the file.
        let read_err = |source| ChartError::Read { path: file.source.clone(), source };
        let mut source = std::fs::File::open(&file.source).map_err(read_err)?;
        let size = source.metadata().map_err(read_err)?.len();
        let mut header = header_for(&file.archive_path, size)?;
        let mut counted = CountingReader { inner: (&mut source).take(size), count: 0 };
        tar.append_data(&mut header, format!("{name}/{}", file.archive_path), &mut counted).map_err(io_err)?;
        let copied = counted.count;
        let longer = source.read(&mut [0u8; 1]).map_err(read_err)? > 0;
        if copied != size || longer {
            return Err(read_err(std::io::Error::other(format!(
                "the file changed size while it was being packaged (it had {size} bytes)"
            ))));
        }
    }
    let gzip = tar.into_inner().map_err(io_err)?;
    let out = gzip.finish().map_err(io_err)?;
    Ok(out)
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::config::ChartConfig;
    use crate::helm::prepare;

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        (dir, path)
    }

    fn write_file(path: &Utf8Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A small but real chart under `root/charts/hello`.
    fn chart(root: &Utf8Path) {
        let dir = root.join("charts/hello");
        write_file(
            &dir.join("Chart.yaml"),
            "# the chart\napiVersion: v2\nname: hello\ndescription: Says hello\nversion: 0.1.0\nappVersion: \"1.0\"\nx-extra: kept\n",
        );
        write_file(&dir.join("values.yaml"), "replicaCount: 1\n");
        write_file(&dir.join(".helmignore"), "*.tmp\n");
        write_file(&dir.join("templates/deployment.yaml"), "kind: Deployment\n");
        write_file(&dir.join("templates/_helpers.tpl"), "{{/* helpers */}}\n");
        write_file(&dir.join("templates/zz/nested.yaml"), "kind: ConfigMap\n");
        write_file(&dir.join("scratch.tmp"), "ignored\n");
        write_file(&dir.join("README.md"), "# hello\n");
    }

    fn config(stamp_version: bool, stamp_app_version: bool) -> ChartConfig {
        ChartConfig {
            path: "charts/hello".into(),
            stamp_version,
            stamp_app_version,
            push: None,
            allow_overwrite: false,
        }
    }

    fn version(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    fn package(root: &Utf8Path, dist: &str, config: &ChartConfig, release: &str) -> Written {
        let prepared = prepare(root, config, &version(release)).unwrap();
        write(&prepared, &root.join(dist)).unwrap()
    }

    /// A writer that takes `limit` bytes and then fails, as a full disk would.
    struct FailsAfter {
        limit: u64,
        taken: u64,
    }

    impl Write for FailsAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.taken >= self.limit {
                return Err(std::io::Error::other("the sink is full"));
            }
            self.taken += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Files are streamed into the archive, never read whole: a chart holding a sparse file
    /// of 1 TiB reaches the writer (which gives up after 64 KiB of compressed output) without
    /// the 1 TiB ever being held in memory. Reading it whole would fail to allocate (and
    /// abort the test binary) or run out of memory long before.
    #[test]
    fn files_are_streamed_into_the_archive_not_read_whole() {
        let (_guard, root) = temp();
        chart(&root);
        std::fs::create_dir_all(root.join("charts/hello/files")).unwrap();
        std::fs::File::create(root.join("charts/hello/files/huge.bin")).unwrap().set_len(1 << 40).unwrap();
        let prepared = prepare(&root, &config(false, false), &version("1.0.0")).unwrap();
        assert!(prepared.files.iter().any(|f| f.archive_path == "files/huge.bin"), "{:?}", prepared.files);
        let err = write_to(&prepared, FailsAfter { limit: 64 << 10, taken: 0 }).err().expect("the sink fills up");
        assert!(err.to_string().contains("the sink is full"), "{err}");
    }

    /// One archive entry as the tar crate reads it back.
    #[derive(Debug)]
    struct Entry {
        name: String,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        user: String,
        group: String,
        body: Vec<u8>,
    }

    fn entries(path: &Utf8Path) -> Vec<Entry> {
        let file = std::fs::File::open(path).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                Entry {
                    name: e.path().unwrap().to_str().unwrap().to_owned(),
                    mode: h.mode().unwrap(),
                    uid: h.uid().unwrap(),
                    gid: h.gid().unwrap(),
                    mtime: h.mtime().unwrap(),
                    user: h.username().unwrap().unwrap_or_default().to_owned(),
                    group: h.groupname().unwrap().unwrap_or_default().to_owned(),
                    body,
                }
            })
            .collect()
    }

    #[test]
    fn same_chart_same_bytes() {
        let (_guard, root) = temp();
        chart(&root);
        let first = package(&root, "dist1", &config(false, false), "1.0.0");
        // Touch every file: a later mtime must not change the archive.
        std::thread::sleep(std::time::Duration::from_millis(20));
        chart(&root);
        let second = package(&root, "dist2", &config(false, false), "1.0.0");
        assert_eq!(first.path.file_name(), Some("hello-0.1.0.tgz"));
        assert_eq!(std::fs::read(&first.path).unwrap(), std::fs::read(&second.path).unwrap());
        assert_eq!((first.sha256.clone(), first.size), crate::checksum::hash_file(&first.path).unwrap());
        assert_eq!(first.sha256, second.sha256);
        let bytes = std::fs::read(&first.path).unwrap();
        assert_eq!(&bytes[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], "gzip header: no name, mtime 0");
        assert!(!root.join("dist1/.hello-0.1.0.tgz.partial").exists());
    }

    #[test]
    fn entries_are_prefixed_ordered_and_anonymous() {
        let (_guard, root) = temp();
        chart(&root);
        let written = package(&root, "dist", &config(false, false), "1.0.0");
        let entries = entries(&written.path);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hello/Chart.yaml",
                "hello/.helmignore",
                "hello/README.md",
                "hello/templates/_helpers.tpl",
                "hello/templates/deployment.yaml",
                "hello/templates/zz/nested.yaml",
                "hello/values.yaml",
            ]
        );
        for e in &entries {
            assert_eq!(
                (e.mode, e.uid, e.gid, e.mtime, e.user.as_str(), e.group.as_str()),
                (0o644, 0, 0, 0, "", ""),
                "{}",
                e.name
            );
        }
        let chart_yaml = String::from_utf8(entries[0].body.clone()).unwrap();
        assert_eq!(
            chart_yaml,
            "apiVersion: v2\nname: hello\ndescription: Says hello\nversion: \"0.1.0\"\nappVersion: \"1.0\"\nx-extra: kept\n"
        );
    }

    #[test]
    fn stamping_changes_the_file_name_and_chart_yaml() {
        let (_guard, root) = temp();
        chart(&root);
        let prepared = prepare(&root, &config(true, true), &version("2.0.0-rc.1")).unwrap();
        assert_eq!(prepared.file_name(), "hello-2.0.0-rc.1.tgz");
        let written = write(&prepared, &root.join("dist")).unwrap();
        let entries = entries(&written.path);
        let chart_yaml = String::from_utf8(entries[0].body.clone()).unwrap();
        assert!(chart_yaml.contains("\nversion: 2.0.0-rc.1\n"), "{chart_yaml}");
        assert!(chart_yaml.contains("\nappVersion: 2.0.0-rc.1\n"), "{chart_yaml}");
        let json: serde_json::Value = serde_json::from_str(&prepared.chart.to_json()).unwrap();
        assert_eq!((json["version"].as_str(), json["appVersion"].as_str()), (Some("2.0.0-rc.1"), Some("2.0.0-rc.1")));
        assert_eq!(json["x-extra"], "kept");
    }

    #[test]
    fn escaping_links_fail_preparation() {
        let (_guard, root) = temp();
        chart(&root);
        write_file(&root.join("secret.yaml"), "password: x\n");
        symlink("../../../secret.yaml", root.join("charts/hello/templates/secret.yaml")).unwrap();
        let problems = prepare(&root, &config(false, false), &version("1.0.0")).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(matches!(problems[0], ChartError::SymlinkEscape { .. }), "{:?}", problems);
        // An escaping Chart.yaml is reported once, and its target is never read.
        std::fs::remove_file(root.join("charts/hello/templates/secret.yaml")).unwrap();
        std::fs::rename(root.join("charts/hello/Chart.yaml"), root.join("Chart.yaml")).unwrap();
        symlink("../../Chart.yaml", root.join("charts/hello/Chart.yaml")).unwrap();
        let problems = prepare(&root, &config(false, false), &version("1.0.0")).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].to_string().contains("Chart.yaml: the symbolic link points to ../../Chart.yaml"));
        let config = ChartConfig { path: "../hello".into(), ..config(false, false) };
        let problems = prepare(&root, &config, &version("1.0.0")).unwrap_err();
        assert!(matches!(problems[0], ChartError::ChartPath { .. }), "{:?}", problems);
    }

    #[test]
    fn long_paths_survive() {
        let (_guard, root) = temp();
        chart(&root);
        let long = format!("templates/{}/{}.yaml", "d".repeat(90), "f".repeat(80));
        write_file(&root.join("charts/hello").join(&long), "kind: Service\n");
        let written = package(&root, "dist", &config(false, false), "1.0.0");
        let names: Vec<_> = entries(&written.path).into_iter().map(|e| e.name).collect();
        assert!(names.contains(&format!("hello/{long}")), "{names:?}");
    }

    /// Checks the archive with an independent reader: the system's `tar`.
    #[test]
    fn system_tar_lists_the_archive() {
        let (_guard, root) = temp();
        chart(&root);
        let written = package(&root, "dist", &config(false, false), "1.0.0");
        let output = crate::shell::checker("tar")
            .args(["--numeric-owner", "--utc", "-tzvf"])
            .arg(&written.path)
            .output()
            .expect("the system `tar` runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let listing = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 7, "{listing}");
        assert!(lines[0].starts_with("-rw-r--r-- 0/0 "), "{listing}");
        assert!(lines[0].ends_with(" 1970-01-01 00:00 hello/Chart.yaml"), "{listing}");
        assert!(lines.iter().all(|l| l.starts_with("-rw-r--r-- 0/0 ")), "{listing}");
        let names: Vec<&str> = lines.iter().map(|l| l.rsplit(' ').next().unwrap()).collect();
        assert_eq!(
            names[1..],
            [
                "hello/.helmignore",
                "hello/README.md",
                "hello/templates/_helpers.tpl",
                "hello/templates/deployment.yaml",
                "hello/templates/zz/nested.yaml",
                "hello/values.yaml"
            ]
        );
    }
}
