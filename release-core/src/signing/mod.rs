//! Signing: cosign-compatible key pairs, blob signatures, and their verification.
//!
//! This module owns the cryptographic side of a release's signatures:
//!
//! - [`key`]: cosign key files. Reads `cosign.key` (PEM `ENCRYPTED SIGSTORE PRIVATE KEY`, or
//!   the legacy `ENCRYPTED COSIGN PRIVATE KEY`: scrypt-derived key, nacl/secretbox), writes new
//!   pairs, and signs with them.
//! - [`public_key`]: `cosign.pub` (PEM `PUBLIC KEY`, PKIX) and signature verification.
//! - [`verify`]: verifying files on disk against their `.sig` files, one by one or every file a
//!   `SHA256SUMS` lists; what `release verify` and the pipeline's verification gate use.
//!
//! A signature is what `cosign sign-blob --key` writes: the DER ECDSA P-256 signature over the
//! SHA-256 of the blob, base64-encoded ([`BlobSignature`]). Files signed here verify with
//! `cosign verify-blob --key cosign.pub --signature F --insecure-ignore-tlog=true F`.
//!
//! The cryptography is the `sigstore` crate's; this module adds file handling, the mapping of
//! its errors onto messages that say what to fix, and the [`Signer`] interface the pipeline
//! signs through, so that keyless signing (GitHub OIDC → Fulcio → Rekor) can be added as
//! another implementation without touching the steps.
//!
//! Never: prints, reads `std::env` (passwords come in as [`Secret`]s from the
//! [`Environment`](crate::env::Environment) the front end captured), or touches the network.
//! The pipeline steps that use this module live in `steps/{preflight,sign,verify}/`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use camino::{Utf8Path, Utf8PathBuf};

#[cfg(doc)]
use crate::secret::Secret;

pub(crate) mod bundle;
pub(crate) mod key;
pub(crate) mod keyless;
pub(crate) mod provenance;
pub(crate) mod public_key;
pub(crate) mod settings;
pub(crate) mod verify;

pub use bundle::{BundleError, KeyBundleError, Verified};
pub use bundle::{
    Expected, bundle_path, identity_pattern, repository_identity_pattern, trusted_root, verify_file as verify_bundle,
};
pub use key::{CosignKeyPair, KeyOrigin, PasswordSource};
pub use keyless::Instance;
pub use public_key::{PublicKey, SignatureMismatch};
pub use verify::{FileVerdict, SignatureFile, Signatures, VerifyFailure, verify_checksums, verify_file};

/// The extension of a signature file: `hello.tar.gz` is signed by `hello.tar.gz.sig`.
pub const SIGNATURE_EXTENSION: &str = "sig";
/// The default private key file, relative to the config's directory.
pub const DEFAULT_KEY_FILE: &str = "cosign.key";
/// The name the public key is published under.
pub const PUBLIC_KEY_NAME: &str = "cosign.pub";
/// The name the public key of a key pair generated for one snapshot run is written under;
/// the name itself says that it verifies nothing beyond that run.
pub const EPHEMERAL_PUBLIC_KEY_NAME: &str = "cosign.ephemeral.pub";

/// The signature file name for an artifact name: `NAME.sig`.
pub fn signature_name(artifact_name: &str) -> String {
    format!("{artifact_name}.{SIGNATURE_EXTENSION}")
}

/// The signature file next to a file: `FILE.sig`.
pub fn signature_path(file: &Utf8Path) -> Utf8PathBuf {
    let mut name = file.as_str().to_owned();
    name.push('.');
    name.push_str(SIGNATURE_EXTENSION);
    Utf8PathBuf::from(name)
}

/// Something that signs release files.
///
/// Today's only implementation is [`CosignKeyPair`]. A keyless signer (an OIDC token traded
/// for a short-lived Fulcio certificate, the signature logged in Rekor) would be another: it
/// returns no fixed [`public_key`](Signer::public_key), and its bundle carries the certificate.
pub trait Signer: Send + Sync + fmt::Debug {
    /// How reports name this signer: `key release/cosign.key`, `ephemeral key pair …`.
    fn describe(&self) -> String;

    /// The one public key that verifies every signature of this signer, if there is one.
    fn public_key(&self) -> Option<&PublicKey>;

    /// Signs bytes as `cosign sign-blob --key` does.
    fn sign(&self, blob: &[u8]) -> Result<BlobSignature, SigningError>;

    /// Signs the SHA-256 digest of a file, exactly as [`Signer::sign`] would sign the file's
    /// bytes (ECDSA over SHA-256 signs the digest): a file of any size is streamed through
    /// the hash once and never held in memory.
    fn sign_sha256(&self, digest: &[u8; 32]) -> Result<BlobSignature, SigningError>;

    /// Signs bytes and returns the base64 text that `.sig` files and cosign's signature
    /// manifests (the `dev.cosignproject.cosign/signature` annotation) hold.
    fn sign_base64(&self, blob: &[u8]) -> Result<String, SigningError> {
        Ok(self.sign(blob)?.to_base64())
    }
}

/// The signer of the current run, stored in the step context by the sign step so that later
/// steps (attaching a chart's signature in the registry) sign with the same key:
/// the `signer` hand-off (`release_core::signer_handoff`).
#[derive(Clone, Debug)]
pub struct ActiveSigner(pub Arc<dyn Signer>);

/// An ECDSA signature in ASN.1 DER, as cosign makes them.
#[derive(Clone, PartialEq, Eq)]
pub struct BlobSignature {
    der: Vec<u8>,
}

impl BlobSignature {
    pub fn from_der(der: Vec<u8>) -> Self {
        BlobSignature { der }
    }

    /// Reads the text of a `.sig` file: base64, surrounding whitespace (a trailing newline
    /// an editor added) ignored.
    pub fn from_base64(text: &str) -> Result<Self, base64::DecodeError> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact).map(|der| BlobSignature { der })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The text of a `.sig` file: standard base64 with padding and without a newline, as
    /// `cosign sign-blob --output-signature` writes it.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.der)
    }
}

impl fmt::Debug for BlobSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobSignature({})", self.to_base64())
    }
}

/// Everything that can go wrong with keys and signatures.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("the signing key {path} does not exist")]
    KeyMissing { path: Utf8PathBuf, ephemeral_possible: bool },
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("{path} already exists")]
    Exists { path: Utf8PathBuf },
    #[error(
        "{path} already exists and is not a {what}: {found}; --force replaces only a key file release or cosign wrote"
    )]
    NotReplaceable { path: Utf8PathBuf, what: &'static str, found: String },
    #[error("{path} {why}: a private key there would be committed with the next `git add`")]
    KeyInGit { path: Utf8PathBuf, why: String, ignore_line: String },
    #[error("the password for the signing key {key} is not set: the environment variable {variable} is empty or unset")]
    PasswordMissing { key: Utf8PathBuf, variable: String },
    #[error("wrong password for {key} (from {source_name})")]
    WrongPassword { key: Utf8PathBuf, source_name: String },
    #[error("{path} is not a cosign private key: {reason}")]
    NotAPrivateKey { path: Utf8PathBuf, reason: String },
    #[error("{path} is not a public key: {reason}")]
    NotAPublicKey { path: Utf8PathBuf, reason: String },
    #[error("the signing key {key} does not match the public key {public_key}")]
    KeyMismatch { key: Utf8PathBuf, public_key: Utf8PathBuf },
    #[error("generating a key pair failed: {reason}")]
    Generate { reason: String },
    #[error("signing failed: {reason}")]
    Sign { reason: String },
}

impl crate::error::Diagnose for SigningError {
    fn help(&self) -> Option<String> {
        match self {
            SigningError::KeyMissing { ephemeral_possible, .. } => Some(if *ephemeral_possible {
                "run `release keygen` to write a key pair, point `signing.key` at yours, or set `signing.ephemeral-in-snapshot = true` to sign snapshots with a throwaway key".into()
            } else {
                "run `release keygen` to write a key pair, or point `signing.key` in release.toml at yours (see docs/signing.md)".into()
            }),
            SigningError::Read { .. } | SigningError::Write { .. } => {
                Some("check that the path exists and that this user may read and write it".into())
            }
            SigningError::Exists { .. } => {
                Some("pass --force to replace it, or choose another path with --output-key/--output-pub".into())
            }
            SigningError::NotReplaceable { .. } => {
                Some("move that file away yourself, or choose another path with --output-key/--output-pub".into())
            }
            SigningError::KeyInGit { ignore_line, .. } => Some(format!(
                "add `{ignore_line}` to .gitignore (and, if git already tracks it, `git rm --cached` it and rotate the key), or write the key outside the repository with --output-key"
            )),
            SigningError::PasswordMissing { variable, .. } => Some(format!(
                "set {variable} to the key's password (in GitHub Actions: `env: {variable}: ${{{{ secrets.{variable} }}}}`), or name another variable in `signing.password-env`"
            )),
            SigningError::WrongPassword { .. } => Some(
                "check the password variable (`signing.password-env`, default COSIGN_PASSWORD); if the password is right, the key file was altered".into(),
            ),
            SigningError::NotAPrivateKey { .. } => Some(
                "point `signing.key` at the private key `cosign generate-key-pair` or `release keygen` wrote (`cosign.key`)".into(),
            ),
            SigningError::NotAPublicKey { .. } => {
                Some("give the PEM public key (`-----BEGIN PUBLIC KEY-----`) that came with the key pair".into())
            }
            SigningError::KeyMismatch { .. } => Some(
                "`signing.public-key` must be the public half of `signing.key`: fix either path, or remove `public-key`".into(),
            ),
            SigningError::Generate { .. } | SigningError::Sign { .. } => None,
        }
    }
}

/// Normalises PEM text to `\n` line endings: the `pem` crate writes `\r\n`, cosign and every
/// other tool on the platforms we release for write `\n`.
pub(crate) fn unix_newlines(pem: &str) -> String {
    pem.replace("\r\n", "\n")
}

/// The label of the first PEM block in `text`, for the checks (and the error messages) that
/// come before the sigstore crate parses a key.
pub(crate) fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// The decoded body of the first PEM block labelled `label`, or `None` when there is no such
/// block or its body is not base64.
pub(crate) fn pem_contents(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(body).ok()
}

/// A PEM block with `\n` line endings and 64-column lines, as Go's `encoding/pem` writes it.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
