//! Verifying files on disk against their `.sig` files: what `release verify` runs for people
//! who downloaded a release, and what the pipeline's verification gate runs before anything
//! is published.
//!
//! Every file is read once: the same bytes are hashed (against `SHA256SUMS` or the digest the
//! pipeline recorded) and checked against the signature.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

use super::{BlobSignature, PublicKey, SigningError, signature_path};
use crate::checksum::parse_sha256sums;

/// Why one file did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The file itself could not be read.
    Unreadable {
        error: String,
    },
    /// There is no `.sig` file next to it.
    SignatureMissing {
        signature: Utf8PathBuf,
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
    /// The file's Sigstore bundle (`FILE.sigstore.json`) does not verify.
    Bundle {
        reason: String,
    },
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::Unreadable { error } => write!(f, "cannot read the file: {error}"),
            VerifyFailure::SignatureMissing { signature } => write!(f, "no signature: {signature} does not exist"),
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
            VerifyFailure::Bundle { reason } => f.write_str(reason),
        }
    }
}

/// The outcome for one file: it passed when there are no failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVerdict {
    pub file: Utf8PathBuf,
    pub failures: Vec<VerifyFailure>,
}

impl FileVerdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Checks `blob` against the signature stored at `signature` (the path only for messages).
pub fn verify_signature_text(
    key: &PublicKey,
    blob: &[u8],
    signature_text: &str,
    signature: &Utf8Path,
) -> Result<(), VerifyFailure> {
    let parsed = BlobSignature::from_base64(signature_text)
        .map_err(|_| VerifyFailure::SignatureMalformed { signature: signature.to_owned() })?;
    key.verify(blob, &parsed).map_err(|_| VerifyFailure::SignatureMismatch { signature: signature.to_owned() })
}

/// Verifies one file against a signature file, and against an expected SHA-256 when one is
/// given. Reads the file once.
pub fn verify_file(
    key: &PublicKey,
    file: &Utf8Path,
    signature: &Utf8Path,
    expected_sha256: Option<&str>,
) -> FileVerdict {
    let mut failures = Vec::new();
    // One streamed pass through SHA-256 feeds both checks: the digest against the expected
    // one, and the signature (ECDSA over SHA-256 signs the digest). Memory stays bounded.
    match crate::checksum::hash_file_raw(file) {
        Err(error) => {
            let text = match error {
                crate::checksum::ChecksumError::Read { source, .. }
                | crate::checksum::ChecksumError::Write { source, .. } => source.to_string(),
            };
            failures.push(VerifyFailure::Unreadable { error: text })
        }
        Ok((digest, _)) => {
            if let Some(expected) = expected_sha256 {
                let actual = hex::encode(digest);
                if !actual.eq_ignore_ascii_case(expected) {
                    failures.push(VerifyFailure::DigestMismatch { expected: expected.to_owned(), actual });
                }
            }
            match read_signature(signature) {
                Ok(text) => match BlobSignature::from_base64(&text) {
                    Err(_) => failures.push(VerifyFailure::SignatureMalformed { signature: signature.to_owned() }),
                    Ok(parsed) => {
                        if key.verify_sha256(&digest, &parsed).is_err() {
                            failures.push(VerifyFailure::SignatureMismatch { signature: signature.to_owned() });
                        }
                    }
                },
                Err(failure) => failures.push(failure),
            }
        }
    }
    FileVerdict { file: file.to_owned(), failures }
}

/// Verifies a `SHA256SUMS` file against its `.sig`, then every file it lists (found next to
/// it): its SHA-256 against the listed one and its own `.sig`. The first verdict is the
/// checksums file's.
pub fn verify_checksums(key: &PublicKey, sums: &Utf8Path) -> Result<Vec<FileVerdict>, SigningError> {
    let bytes = std::fs::read(sums).map_err(|source| SigningError::Read { path: sums.to_owned(), source })?;
    let mut own = Vec::new();
    match read_signature(&signature_path(sums)) {
        Ok(text) => {
            if let Err(failure) = verify_signature_text(key, &bytes, &text, &signature_path(sums)) {
                own.push(failure);
            }
        }
        Err(failure) => own.push(failure),
    }
    let listed = parse_sha256sums(&String::from_utf8_lossy(&bytes));
    if listed.is_empty() {
        own.push(VerifyFailure::NothingListed);
    }
    let dir = sums.parent().unwrap_or(Utf8Path::new("."));
    let mut verdicts = vec![FileVerdict { file: sums.to_owned(), failures: own }];
    for (digest, name) in listed {
        let file = dir.join(&name);
        verdicts.push(verify_file(key, &file, &signature_path(&file), Some(&digest)));
    }
    Ok(verdicts)
}

fn read_signature(signature: &Utf8Path) -> Result<String, VerifyFailure> {
    std::fs::read_to_string(signature).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => VerifyFailure::SignatureMissing { signature: signature.to_owned() },
        _ => VerifyFailure::SignatureUnreadable { signature: signature.to_owned(), error: error.to_string() },
    })
}
