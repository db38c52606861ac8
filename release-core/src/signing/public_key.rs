//! Public keys (`cosign.pub`: PEM `PUBLIC KEY`, a PKIX SubjectPublicKeyInfo) and the check
//! of a signature against one.

use std::fmt;

use camino::Utf8Path;
use sigstore::crypto::{CosignVerificationKey, Signature};

use super::{BlobSignature, SigningError, pem_contents, pem_encode, pem_label};

const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// A public key that verifies blob signatures. Cosign's are ECDSA P-256; the other key types
/// cosign can verify with (P-384, P-521, Ed25519, RSA) are read too.
#[derive(Clone)]
pub struct PublicKey {
    der: Vec<u8>,
    key: CosignVerificationKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for PublicKey {}

/// A signature that does not verify: the file changed after it was signed, or another key
/// signed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not match")]
pub struct SignatureMismatch;

impl PublicKey {
    /// Parses PEM text; `path` only names the key in errors.
    pub fn from_pem(pem: &[u8], path: &Utf8Path) -> Result<Self, SigningError> {
        let not_a_key = |reason: String| SigningError::NotAPublicKey { path: path.to_owned(), reason };
        let text = std::str::from_utf8(pem).map_err(|_| not_a_key("it is not a text (PEM) file".into()))?;
        match pem_label(text) {
            Some(PUBLIC_KEY_LABEL) => {}
            Some(label) if label.contains("PRIVATE") => {
                return Err(not_a_key(format!(
                    "it is a private key (`{label}`); give the public half (`cosign.pub`), and keep this file secret"
                )));
            }
            Some(label) => return Err(not_a_key(format!("its PEM label is `{label}`, expected `PUBLIC KEY`"))),
            None => return Err(not_a_key("it contains no PEM block (`-----BEGIN PUBLIC KEY-----`)".into())),
        }
        let der = pem_contents(text, PUBLIC_KEY_LABEL).ok_or_else(|| not_a_key("its body is not base64".into()))?;
        Self::from_spki_der(der, path)
    }

    /// Reads a PEM public key file.
    pub fn load(path: &Utf8Path) -> Result<Self, SigningError> {
        let pem = std::fs::read(path).map_err(|source| SigningError::Read { path: path.to_owned(), source })?;
        Self::from_pem(&pem, path)
    }

    pub(crate) fn from_spki_der(der: Vec<u8>, path: &Utf8Path) -> Result<Self, SigningError> {
        let key = CosignVerificationKey::try_from_der(&der)
            .map_err(|e| SigningError::NotAPublicKey { path: path.to_owned(), reason: e.to_string() })?;
        Ok(PublicKey { der, key })
    }

    /// The PKIX DER bytes.
    pub fn spki_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM text, as cosign writes `cosign.pub`.
    pub fn to_pem(&self) -> String {
        pem_encode(PUBLIC_KEY_LABEL, &self.der)
    }

    /// `sha256:` and the first 16 hex digits of the SHA-256 of the DER: short enough for a
    /// report line, long enough to tell keys apart.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", &crate::checksum::sha256_hex(&self.der)[..16])
    }

    /// Checks a signature over `blob`.
    pub fn verify(&self, blob: &[u8], signature: &BlobSignature) -> Result<(), SignatureMismatch> {
        self.key.verify_signature(Signature::Raw(signature.der()), blob).map_err(|_| SignatureMismatch)
    }

    /// Checks a signature against the SHA-256 digest of the signed bytes, so that a file of
    /// any size is verified from one streamed pass through the hash.
    pub fn verify_sha256(&self, digest: &[u8; 32], signature: &BlobSignature) -> Result<(), SignatureMismatch> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
        let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, &aws_lc_rs::digest::SHA256)
            .map_err(|_| SignatureMismatch)?;
        // aws-lc-rs reads the SubjectPublicKeyInfo DER of a P-256 key as it is.
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.der)
            .verify_digest(&digest, signature.der())
            .map_err(|_| SignatureMismatch)
    }
}
