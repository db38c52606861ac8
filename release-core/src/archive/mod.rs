//! Archives of built binaries, as users download them: one per target, `.tar.gz` for Unix
//! targets and `.zip` for Windows targets, named and laid out the way cargo-binstall looks for
//! them without any metadata.
//!
//! Name: `{name}-{target}-v{version}.tar.gz` (or `.zip`), the first of cargo-binstall's
//! default file names (`FULL_FILENAMES` in binstalk-fetchers `gh_crate_meta/hosting.rs`);
//! inside, one directory `{name}-{target}-v{version}/` holding the binaries
//! (`{bin}{binary-ext}`, mode 0755) and the included files (mode 0644), the first of the
//! directories its default `bin-dir` inference tries (`infer_bin_dir_template`).
//!
//! Deterministic: entries sorted by name, the directory first; owner and group 0 with no
//! names; every mtime the same (`SOURCE_DATE_EPOCH`, else 0); a gzip header with mtime 0 and
//! the "unknown" OS byte; the gzip stream compressed in fixed 1 MiB blocks on every core
//! ([`pargz`]), so the bytes do not depend on the machine. The same inputs give the same bytes. The SHA-256 and size are
//! computed as the file is written: one pass over the inputs, one over the output.

mod pargz;
mod tar_gz;
mod zip;

use std::io::{BufWriter, Read, Write};

use camino::{Utf8Path, Utf8PathBuf};

use crate::checksum::HashingWriter;

/// The deflate level of `.tar.gz` archives, chosen by measurement (128 MiB of a real binary
/// repeated, 1 MiB blocks, one core, flate2's miniz_oxide backend; `gzip -6` for scale: 8.42 s,
/// 36.05 %): level 4 3.41 s, 36.8 %; level 5 4.56 s, 36.4 %; level 6 8.46 s, 36.0 %. Level 5
/// is under 1 % larger than `gzip -6` at about half its time on one core, and the blocks
/// compress on every core (docs/performance.md).
pub(crate) const GZIP_LEVEL: u32 = 5;

/// Mode of binaries in an archive.
pub(crate) const BINARY_MODE: u32 = 0o755;
/// Mode of every other file.
pub(crate) const FILE_MODE: u32 = 0o644;
/// Mode of the archive's directory.
pub(crate) const DIR_MODE: u32 = 0o755;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    TarGz,
    Zip,
}

impl Format {
    /// `.zip` for Windows targets, `.tar.gz` for every other.
    pub(crate) fn for_target(target: &str) -> Format {
        if crate::config::target_os(target) == "windows" { Format::Zip } else { Format::TarGz }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }

    /// cargo-binstall's `pkg-fmt` for this format.
    pub(crate) fn binstall_pkg_fmt(self) -> &'static str {
        match self {
            Format::TarGz => "tgz",
            Format::Zip => "zip",
        }
    }
}

/// An archive's name, the directory inside it, and its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArchiveName {
    /// `{name}-{target}-v{version}`.
    pub stem: String,
    pub format: Format,
}

impl ArchiveName {
    pub(crate) fn file_name(&self) -> String {
        format!("{}.{}", self.stem, self.format.extension())
    }

    /// The one directory inside the archive.
    pub(crate) fn dir(&self) -> &str {
        &self.stem
    }
}

/// The archive of `name` (the cargo package) built for `target` at `version`.
pub(crate) fn archive_name(name: &str, target: &str, version: &str) -> ArchiveName {
    ArchiveName { stem: format!("{name}-{target}-v{version}"), format: Format::for_target(target) }
}

/// A binary published without an archive (`archive = false`): `{bin}-{target}-v{version}`,
/// with `.exe` for Windows targets.
pub(crate) fn raw_binary_name(bin: &str, target: &str, version: &str) -> String {
    format!("{bin}-{target}-v{version}{}", exe_suffix(target))
}

/// `.exe` for Windows targets.
pub(crate) fn exe_suffix(target: &str) -> &'static str {
    if crate::config::target_os(target) == "windows" { ".exe" } else { "" }
}

/// One file to put into an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub source: Utf8PathBuf,
    /// Its name inside the archive's directory: a plain file name.
    pub name: String,
    pub mode: u32,
}

/// The archive written: its digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub path: Utf8PathBuf,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("{path} changed size while it was being archived (it had {size} bytes)")]
    Changed { path: Utf8PathBuf, size: u64 },
    #[error("two files would be `{name}` in {archive}: {first} and {second}")]
    Duplicate { archive: String, name: String, first: Utf8PathBuf, second: Utf8PathBuf },
    #[error(transparent)]
    Dist(#[from] crate::dist::DistError),
    #[error("{path} is {size} bytes: a .zip archive over 4 GiB needs zip64, which is not written")]
    TooLarge { path: Utf8PathBuf, size: u64 },
}

impl crate::error::Diagnose for ArchiveError {
    fn help(&self) -> Option<String> {
        Some(
            match self {
                ArchiveError::Read { .. } => "check that the build produced the file and that it is readable",
                ArchiveError::Write { .. } => {
                    "check the permissions and free space of the dist directory, or set `project.dist`"
                }
                ArchiveError::Changed { .. } => "nothing may write to the build's output while the release runs",
                ArchiveError::Duplicate { .. } => {
                    "rename one of them: an included file may not have a binary's name, and two `include` patterns may not pick files of the same name"
                }
                ArchiveError::TooLarge { .. } => "publish this file without an archive (`archive = false`)",
                ArchiveError::Dist(err) => return crate::error::Diagnose::help(err),
            }
            .into(),
        )
    }
}

/// Checks an `include` pattern: relative, no `..`, wildcards in the file name only.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), &'static str> {
    if pattern.is_empty() {
        return Err("is empty");
    }
    if pattern.starts_with('/') || pattern.contains('\\') || pattern.contains(':') {
        return Err("is absolute");
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.contains(&"..") {
        return Err("contains `..`");
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err("has an empty path component");
    }
    if parts[..parts.len() - 1].iter().any(|p| p.contains(['*', '?'])) {
        return Err("has a wildcard in a directory: only the file name may have `*` or `?`");
    }
    Ok(())
}

/// `*` (any run of characters) and `?` (one character) against a file name.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What an archive's `include` patterns pick in a build's directory.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Included {
    /// The regular files to archive, in pattern order, each once.
    pub files: Vec<Utf8PathBuf>,
    /// The patterns that matched no file.
    pub unmatched: Vec<String>,
    /// Files that resolve, through a symbolic link, to a file outside the project: never
    /// archived. Each with the file it resolves to.
    pub outside: Vec<(Utf8PathBuf, Utf8PathBuf)>,
}

impl Included {
    /// The message for the files that resolve outside `root`, one per file; `None` when
    /// every file is inside.
    pub(crate) fn outside_message(&self, build: &str, root: &Utf8Path) -> Option<String> {
        let lines: Vec<String> = self
            .outside
            .iter()
            .map(|(path, target)| format!("{path} is a symbolic link to {target}, outside the project {root}"))
            .collect();
        (!lines.is_empty())
            .then(|| format!("build `{build}`: an `include`d file leaves the project: {}", lines.join("; ")))
    }
}

/// The help for an `include`d file that leaves the project.
pub(crate) const OUTSIDE_HELP: &str = "copy the file into the project, or point the link at a file inside it: archives never ship a file from outside the project";

/// The regular files `patterns` pick in `dir`, in pattern order, each once. A file that
/// resolves (through a symbolic link, of the file or of a directory on its way) to a file
/// outside `root` is set apart in [`Included::outside`], never among the files.
pub(crate) fn expand_include(dir: &Utf8Path, root: &Utf8Path, patterns: &[String]) -> Included {
    let mut included = Included::default();
    let root_real = std::fs::canonicalize(root).ok();
    for pattern in patterns {
        let (parent, name) = match pattern.rsplit_once('/') {
            Some((parent, name)) => (dir.join(parent), name),
            None => (dir.to_owned(), pattern.as_str()),
        };
        let mut found: Vec<Utf8PathBuf> = parent
            .read_dir_utf8()
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| wildcard_match(name, e.file_name()))
            .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
            .map(|e| e.into_path())
            .collect();
        if found.is_empty() {
            included.unmatched.push(pattern.clone());
        }
        found.sort();
        for file in found {
            let real = std::fs::canonicalize(&file).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok());
            let inside = match (&real, &root_real) {
                (Some(real), Some(root)) => real.as_std_path().starts_with(root),
                _ => false,
            };
            if !inside {
                let target = real.unwrap_or_else(|| file.clone());
                if !included.outside.iter().any(|(p, _)| *p == file) {
                    included.outside.push((file, target));
                }
            } else if !included.files.contains(&file) {
                included.files.push(file);
            }
        }
    }
    included
}

/// `SOURCE_DATE_EPOCH` as seconds, else 0.
pub(crate) fn mtime_from(source_date_epoch: Option<&str>) -> u64 {
    source_date_epoch.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Writes the archive `name` of `entries` into `dist` and returns its digest. The file
/// appears under its final name only once complete.
pub(crate) fn write(
    dist: &Utf8Path,
    name: &ArchiveName,
    entries: &[Entry],
    mtime: u64,
) -> Result<Written, ArchiveError> {
    let path = dist.join(name.file_name());
    let partial = dist.join(format!(".{}.partial", name.file_name()));
    let write_err = |source| ArchiveError::Write { path: path.clone(), source };
    let mut entries = entries.to_vec();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in entries.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(ArchiveError::Duplicate {
                archive: name.file_name(),
                name: pair[0].name.clone(),
                first: pair[0].source.clone(),
                second: pair[1].source.clone(),
            });
        }
    }
    // Both names are claimed before either exists (crate::dist): a partial file left by a
    // killed run is the tool's to remove.
    let partial_name = format!(".{}.partial", name.file_name());
    crate::dist::claim(dist, &[&name.file_name(), &partial_name])?;
    let file = std::fs::File::create(&partial).map_err(write_err)?;
    let out = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let result = match name.format {
        Format::TarGz => tar_gz::write(out, name.dir(), &entries, mtime, &path),
        Format::Zip => zip::write(out, name.dir(), &entries, mtime, &path),
    }
    .and_then(|hashing| {
        let (buffered, digest, size) = hashing.finish();
        let file = buffered.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        Ok((hex::encode(digest), size))
    });
    match result {
        Ok((sha256, size)) => {
            std::fs::rename(&partial, &path).map_err(write_err)?;
            Ok(Written { path, sha256, size })
        }
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            Err(err)
        }
    }
}

/// Opens an entry's file and its size.
fn open(entry: &Entry) -> Result<(std::fs::File, u64), ArchiveError> {
    let read_err = |source| ArchiveError::Read { path: entry.source.clone(), source };
    let file = std::fs::File::open(&entry.source).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    Ok((file, size))
}

/// After exactly `size` bytes were read: the file must end there.
fn check_ended(file: &mut std::fs::File, entry: &Entry, size: u64, copied: u64) -> Result<(), ArchiveError> {
    let longer =
        file.read(&mut [0u8; 1]).map_err(|source| ArchiveError::Read { path: entry.source.clone(), source })? > 0;
    if copied != size || longer {
        return Err(ArchiveError::Changed { path: entry.source.clone(), size });
    }
    Ok(())
}

/// Counts what passes through, reading or writing.
struct Counting<T> {
    inner: T,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;

/// The message for an `include` pattern that picks no file.
pub(crate) fn unmatched_warning(build: &str, pattern: &str, dir: &camino::Utf8Path) -> String {
    format!("build `{build}`: the `include` pattern `{pattern}` matches no file in {dir}")
}
