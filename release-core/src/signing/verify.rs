//! Verifying files on disk against a key pair's signatures, `FILE.sig` (base64 DER) and
//! `FILE.sigstore.json` (a Sigstore bundle with a public-key hint): what `release verify
//! --key` runs for people who downloaded a release, and what the pipeline's verification
//! gate runs before anything is published.
//!
//! Every file is read once: the same digest is checked against `SHA256SUMS` (or the digest
//! the pipeline recorded) and against every signature.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

use super::bundle::{KeyBundleError, bundle_path, verify_key_bundle};
use super::{BlobSignature, PublicKey, SigningError, signature_path};
use crate::checksum::parse_sha256sums;

/// One signature of a file by a key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureFile {
    /// `FILE.sig`: the base64 DER signature `cosign sign-blob --output-signature` wrote
    /// before cosign v3.
    Legacy(Utf8PathBuf),
    /// `FILE.sigstore.json`: a Sigstore bundle whose verification material is a public-key
    /// hint, what `cosign sign-blob --key … --bundle` writes.
    Bundle(Utf8PathBuf),
}

impl SignatureFile {
    pub fn path(&self) -> &Utf8Path {
        match self {
            SignatureFile::Legacy(path) | SignatureFile::Bundle(path) => path,
        }
    }
}

/// Which signatures a file is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// `FILE.sig` and `FILE.sigstore.json` beside the file: each that exists must verify,
    /// and at least one must exist.
    Beside,
    /// Exactly these, each of which must exist and verify.
    Given(Vec<SignatureFile>),
}

impl Signatures {
    /// The signature files to check for `file`; `Err` when there are none beside it.
    fn resolve(&self, file: &Utf8Path) -> Result<Vec<SignatureFile>, VerifyFailure> {
        match self {
            Signatures::Given(given) => Ok(given.clone()),
            Signatures::Beside => {
                let candidates =
                    [SignatureFile::Legacy(signature_path(file)), SignatureFile::Bundle(bundle_path(file))];
                let found: Vec<SignatureFile> = candidates.iter().filter(|s| s.path().exists()).cloned().collect();
                if found.is_empty() {
                    let looked_for = candidates.iter().map(|s| s.path().to_owned()).collect();
                    return Err(VerifyFailure::Unsigned { looked_for });
                }
                Ok(found)
            }
        }
    }
}

/// Why one file did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The file itself could not be read.
    Unreadable {
        error: String,
    },
    /// A signature file that should be there is not.
    SignatureMissing {
        signature: Utf8PathBuf,
    },
    /// Neither `FILE.sig` nor `FILE.sigstore.json` is beside the file.
    Unsigned {
        looked_for: Vec<Utf8PathBuf>,
    },
    SignatureUnreadable {
        signature: Utf8PathBuf,
        error: String,
    },
    /// The `.sig` file is not base64.
    SignatureMalformed {
        signature: Utf8PathBuf,
    },
    /// The signature is not the key's signature over these bytes.
    SignatureMismatch {
        signature: Utf8PathBuf,
    },
    /// The file's SHA-256 differs from the one `SHA256SUMS` (or the pipeline) recorded.
    DigestMismatch {
        expected: String,
        actual: String,
    },
    /// A `SHA256SUMS` that lists no file vouches for nothing.
    NothingListed,
    /// The key pair's Sigstore bundle (`FILE.sigstore.json`) does not verify the file.
    KeyBundle(KeyBundleError),
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::Unreadable { error } => write!(f, "cannot read the file: {error}"),
            VerifyFailure::SignatureMissing { signature } => write!(f, "no signature: {signature} does not exist"),
            VerifyFailure::Unsigned { looked_for } => {
                let names: Vec<&str> = looked_for.iter().map(|p| p.as_str()).collect();
                write!(f, "no signature: neither {} exists", names.join(" nor "))
            }
            VerifyFailure::SignatureUnreadable { signature, error } => write!(f, "cannot read {signature}: {error}"),
            VerifyFailure::SignatureMalformed { signature } => {
                write!(f, "{signature} is not a cosign signature (base64 text)")
            }
            VerifyFailure::SignatureMismatch { signature } => write!(
                f,
                "the signature {} does not match: the file changed after it was signed, or another key signed it",
                signature.file_name().unwrap_or(signature.as_str())
            ),
            VerifyFailure::DigestMismatch { expected, actual } => {
                write!(f, "the SHA-256 is {actual}, but {expected} was recorded")
            }
            VerifyFailure::NothingListed => f.write_str("it lists no files"),
            VerifyFailure::KeyBundle(error) => error.fmt(f),
        }
    }
}

/// The outcome for one file: it passed when there are no failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVerdict {
    pub file: Utf8PathBuf,
    /// The signature files it was checked against.
    pub signatures: Vec<SignatureFile>,
    pub failures: Vec<VerifyFailure>,
}

impl FileVerdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies one file against its signatures, and against an expected SHA-256 when one is
/// given. Reads the file once.
pub fn verify_file(
    key: &PublicKey,
    file: &Utf8Path,
    signatures: &Signatures,
    expected_sha256: Option<&str>,
) -> FileVerdict {
    // One streamed pass through SHA-256 feeds every check: the digest against the expected
    // one, and each signature (ECDSA over SHA-256 signs the digest). Memory stays bounded.
    match crate::checksum::hash_file_raw(file) {
        Err(error) => {
            let text = match error {
                crate::checksum::ChecksumError::Read { source, .. }
                | crate::checksum::ChecksumError::Write { source, .. } => source.to_string(),
            };
            FileVerdict {
                file: file.to_owned(),
                signatures: Vec::new(),
                failures: vec![VerifyFailure::Unreadable { error: text }],
            }
        }
        Ok((digest, _)) => verify_digest(key, file, &digest, signatures, expected_sha256),
    }
}

/// The checks of [`verify_file`] on a digest already computed.
fn verify_digest(
    key: &PublicKey,
    file: &Utf8Path,
    digest: &[u8; 32],
    signatures: &Signatures,
    expected_sha256: Option<&str>,
) -> FileVerdict {
    let mut failures = Vec::new();
    if let Some(expected) = expected_sha256 {
        let actual = hex::encode(digest);
        if !actual.eq_ignore_ascii_case(expected) {
            failures.push(VerifyFailure::DigestMismatch { expected: expected.to_owned(), actual });
        }
    }
    let resolved = match signatures.resolve(file) {
        Ok(resolved) => resolved,
        Err(failure) => {
            failures.push(failure);
            Vec::new()
        }
    };
    for signature in &resolved {
        let checked = match signature {
            SignatureFile::Legacy(path) => read_signature(path).and_then(|text| {
                let parsed = BlobSignature::from_base64(&text)
                    .map_err(|_| VerifyFailure::SignatureMalformed { signature: path.clone() })?;
                key.verify_sha256(digest, &parsed)
                    .map_err(|_| VerifyFailure::SignatureMismatch { signature: path.clone() })
            }),
            SignatureFile::Bundle(path) => {
                if path.exists() {
                    verify_key_bundle(key, path, digest).map_err(VerifyFailure::KeyBundle)
                } else {
                    Err(VerifyFailure::SignatureMissing { signature: path.clone() })
                }
            }
        };
        if let Err(failure) = checked {
            failures.push(failure);
        }
    }
    FileVerdict { file: file.to_owned(), signatures: resolved, failures }
}

/// Verifies a `SHA256SUMS` file against its signatures beside it (`.sig`, `.sigstore.json`),
/// then every file it lists (found next to it): its SHA-256 against the listed one and its
/// own signatures beside it. The first verdict is the checksums file's.
pub fn verify_checksums(key: &PublicKey, sums: &Utf8Path) -> Result<Vec<FileVerdict>, SigningError> {
    let bytes = std::fs::read(sums).map_err(|source| SigningError::Read { path: sums.to_owned(), source })?;
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    let mut own = verify_digest(key, sums, &digest, &Signatures::Beside, None);
    let listed = parse_sha256sums(&String::from_utf8_lossy(&bytes));
    if listed.is_empty() {
        own.failures.push(VerifyFailure::NothingListed);
    }
    let dir = sums.parent().unwrap_or(Utf8Path::new("."));
    let mut verdicts = vec![own];
    for (digest, name) in listed {
        let file = dir.join(&name);
        verdicts.push(verify_file(key, &file, &Signatures::Beside, Some(&digest)));
    }
    Ok(verdicts)
}

fn read_signature(signature: &Utf8Path) -> Result<String, VerifyFailure> {
    std::fs::read_to_string(signature).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => VerifyFailure::SignatureMissing { signature: signature.to_owned() },
        _ => VerifyFailure::SignatureUnreadable { signature: signature.to_owned(), error: error.to_string() },
    })
}
