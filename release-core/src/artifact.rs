//! The release and its artifacts as plain data: what steps produce and domain code reads
//! (checksums, the journal, the matrix manifests, GitHub uploads), with no step API attached.

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

/// The release being made: fixed before the first step runs.
#[derive(Clone, Debug, Serialize)]
pub struct Release {
    pub version: semver::Version,
    pub tag: String,
    /// The directory `release.toml` lives in; relative paths in the config start here.
    pub root: Utf8PathBuf,
    /// Where artifacts, checksums and signatures are collected.
    pub dist: Utf8PathBuf,
}

/// What kind of file an artifact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// Produced by a build command.
    Binary,
    /// A packaged Helm chart.
    Chart,
    /// The `SHA256SUMS` file.
    Checksums,
    /// A `.sig` signature.
    Signature,
    /// The public key that verifies the signatures.
    PublicKey,
    /// A `.tar.gz` or `.zip` of a build's binaries for one target.
    Archive,
    /// A CycloneDX SBOM beside an archive.
    Sbom,
    /// A script that installs the release's archive for the machine it runs on.
    Installer,
}

/// A file in the dist directory that will be published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name in the dist directory and the asset name on the release.
    pub name: String,
    pub path: Utf8PathBuf,
    pub kind: ArtifactKind,
    pub size: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}
