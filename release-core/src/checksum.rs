//! SHA-256 of files, read once, and the `SHA256SUMS` file.

use std::io::{Read, Write};

/// The checksum file every release publishes.
pub(crate) const CHECKSUMS_FILE: &str = "SHA256SUMS";

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::artifact::Artifact;

/// Read buffer for hashing and copying: large enough that syscalls do not dominate.
const BUFFER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ChecksumError {
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
}

impl crate::error::Diagnose for ChecksumError {}

/// A writer that hashes and counts every byte on its way to `inner`: the one place where
/// bytes are streamed through SHA-256 (file hashing, artifact collection, chart archives).
#[derive(Debug)]
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), size: 0 }
    }

    /// The writer back, the SHA-256 and the number of bytes written.
    pub(crate) fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Streams the file at `from` into `out` through a large buffer; `to` names the destination
/// in write errors.
fn pump<W: Write>(from: &Utf8Path, out: W, to: &Utf8Path) -> Result<(W, [u8; 32], u64), ChecksumError> {
    let read_err = |source| ChecksumError::Read { path: from.to_owned(), source };
    let write_err = |source| ChecksumError::Write { path: to.to_owned(), source };
    let mut src = std::fs::File::open(from).map_err(read_err)?;
    let mut out = HashingWriter::new(out);
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = src.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(out.finish())
}

/// Hex SHA-256 and size of a file, streamed.
pub fn hash_file(path: &Utf8Path) -> Result<(String, u64), ChecksumError> {
    hash_file_raw(path).map(|(digest, size)| (hex::encode(digest), size))
}

/// SHA-256 and size of a file, streamed through a fixed buffer.
pub(crate) fn hash_file_raw(path: &Utf8Path) -> Result<([u8; 32], u64), ChecksumError> {
    pump(path, std::io::sink(), path).map(|(_, digest, size)| (digest, size))
}

/// Copies `from` to `to` and hashes the bytes on the way: one read of the source.
pub(crate) fn copy_and_hash(from: &Utf8Path, to: &Utf8Path) -> Result<(String, u64), ChecksumError> {
    let dst = std::fs::File::create(to).map_err(|source| ChecksumError::Write { path: to.to_owned(), source })?;
    let (_, digest, size) = pump(from, dst, to)?;
    // Keep the executable bit of built binaries.
    if let Ok(meta) = std::fs::metadata(from) {
        let _ = std::fs::set_permissions(to, meta.permissions());
    }
    Ok((hex::encode(digest), size))
}

/// Hex SHA-256 of bytes in memory.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text of a `SHA256SUMS` file in the format `sha256sum -c` reads: the digest, two
/// spaces (text mode), the file name; one line each, sorted by name.
pub(crate) fn sha256sums(artifacts: &[Artifact]) -> String {
    let mut lines: Vec<_> = artifacts.iter().map(|a| format!("{}  {}\n", a.sha256, a.name)).collect();
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    lines.concat()
}

/// Parses a `SHA256SUMS` file into (digest, name) pairs, binary-mode `*name` included.
pub(crate) fn parse_sha256sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (digest, rest) = line.split_once(' ')?;
            let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*')).unwrap_or(rest);
            (digest.len() == 64).then(|| (digest.to_ascii_lowercase(), name.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn sums_round_trip() {
        let a = |name: &str, sha: &str| Artifact {
            name: name.into(),
            path: name.into(),
            kind: crate::artifact::ArtifactKind::Binary,
            size: 1,
            sha256: sha.into(),
        };
        let text = sha256sums(&[a("b", &"1".repeat(64)), a("a", &"2".repeat(64))]);
        assert_eq!(text, format!("{}  a\n{}  b\n", "2".repeat(64), "1".repeat(64)));
        assert_eq!(parse_sha256sums(&text)[0], ("2".repeat(64), "a".to_owned()));
    }
}
