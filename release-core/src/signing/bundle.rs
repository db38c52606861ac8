//! Sigstore bundles on disk: `<file>.sigstore.json` beside the file it signs, and their
//! verification against a trusted root (the verify gate and `release verify`).
//!
//! A bundle is v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`): the leaf certificate,
//! one Rekor entry with its inclusion proof, checkpoint and signed entry timestamp (or an
//! RFC 3161 timestamp over the signature, where the instance has no Rekor), and a
//! message signature over the file's SHA-256 (or a DSSE envelope for attestations).
//! Verification is sigstore-verify's: the chain to the trusted root's CA, the embedded SCT
//! against its CT logs, the Rekor inclusion proof, checkpoint and SET against its logs (or,
//! on an instance without logs such as GitHub's for private repositories, the RFC 3161
//! timestamp against its timestamp authorities), the signature, and the identity (SAN and
//! OIDC issuer) a caller requires. The file is streamed.

use camino::{Utf8Path, Utf8PathBuf};
use sigstore_verify::types::Bundle;
use sigstore_verify::{IdentityMatcher, VerificationPolicy, Verifier};

use sigstore_verify::trust_root::TrustedRoot;

/// The extension of a bundle file: `hello.tar.gz` is signed by `hello.tar.gz.sigstore.json`.
pub(crate) const BUNDLE_EXTENSION: &str = "sigstore.json";

/// The bundle name for an artifact name.
pub(crate) fn bundle_name(artifact_name: &str) -> String {
    format!("{artifact_name}.{BUNDLE_EXTENSION}")
}

/// The bundle next to a file.
pub fn bundle_path(file: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{file}.{BUNDLE_EXTENSION}"))
}

/// Who must have signed: an exact identity or a regular expression over it, the OIDC
/// issuer, and optionally the repository the certificate names (its source repository URI,
/// `https://github.com/OWNER/REPO`).
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub identity: Option<String>,
    pub identity_regexp: Option<String>,
    pub issuer: Option<String>,
    pub repository: Option<String>,
}

/// What a verified bundle says.
#[derive(Clone, Debug)]
pub struct Verified {
    pub identity: String,
    pub issuer: String,
    pub repository: Option<String>,
}

/// Why a bundle does not verify.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {reason}")]
    Read { path: Utf8PathBuf, reason: String },
    #[error("{path} is not a Sigstore bundle: {reason}")]
    NotABundle { path: Utf8PathBuf, reason: String },
    #[error("the trusted root {path} is unusable: {reason}")]
    TrustedRoot { path: String, reason: String },
    #[error("{file} does not verify with {bundle}: {reason}")]
    Invalid { file: Utf8PathBuf, bundle: Utf8PathBuf, reason: String },
    #[error(
        "{bundle} is a key pair's bundle (public-key hint), not a keyless one: verify it with --key and the release's public key"
    )]
    KeyPair { bundle: Utf8PathBuf },
    #[error("{file}: the certificate identity is {actual}, not {expected}")]
    Identity { file: Utf8PathBuf, actual: String, expected: String },
    #[error("{file}: the certificate names the repository {actual}, not {expected}")]
    Repository { file: Utf8PathBuf, actual: String, expected: String },
}

impl crate::error::Diagnose for BundleError {
    fn help(&self) -> Option<String> {
        Some(match self {
            BundleError::Read { .. } => "check the path; a bundle sits beside its file as FILE.sigstore.json, or pass it with --bundle".into(),
            BundleError::NotABundle { .. } => "give the `.sigstore.json` file the release published (Sigstore bundle v0.1–v0.3)".into(),
            BundleError::TrustedRoot { .. } => "give the trusted_root.json of the Sigstore instance that signed (public-good Sigstore when none is given)".into(),
            BundleError::KeyPair { .. } => "verify it with the release's public key: `release verify --key cosign.pub FILE`".into(),
            BundleError::Invalid { .. } => "the file changed after it was signed, or the bundle belongs to another file or Sigstore instance: download both again".into(),
            BundleError::Identity { .. } | BundleError::Repository { .. } => {
                "the file was signed by another workflow or repository than the one you expect: do not trust it".into()
            }
        })
    }
}

/// The hint cosign v3 and sigstore-go put in a key pair's bundle: base64(SHA-256(DER SPKI)).
/// It names the key; it proves nothing (the verifier brings the key).
pub(crate) fn public_key_hint(spki_der: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki_der))
}

/// A v0.3 bundle of a key pair's signature over a file's SHA-256: `publicKey.hint`, a
/// message signature with its digest, and no transparency log entry (key mode logs
/// nothing); what `cosign sign-blob --key … --bundle … --tlog-upload=false` writes.
pub(crate) fn key_bundle_json(spki_der: &[u8], signature_der: &[u8], digest: &[u8; 32]) -> Result<String, String> {
    use sigstore_sign::bundle::{BundleV03, VerificationMaterialV03};
    use sigstore_sign::types::bundle::MessageDigest;
    use sigstore_sign::types::{HashAlgorithm, MessageSignature, Sha256Hash, SignatureBytes, SignatureContent};
    let content = SignatureContent::MessageSignature(
        MessageSignature::new(SignatureBytes::new(signature_der.to_vec()))
            .with_message_digest(MessageDigest::new(HashAlgorithm::Sha2256, Sha256Hash::new(*digest).into())),
    );
    BundleV03::new(VerificationMaterialV03::PublicKey { hint: public_key_hint(spki_der) }, content)
        .into_bundle()
        .to_json()
        .map_err(|e| e.to_string())
}

/// Why a key pair's bundle (`publicKey` verification material) does not verify a file.
/// Bundles are named by their file name: the file they were checked for heads the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyBundleError {
    #[error("cannot read the bundle {bundle}: {reason}")]
    Read { bundle: String, reason: String },
    #[error("{bundle} is not a Sigstore bundle: {reason}")]
    NotABundle { bundle: String, reason: String },
    #[error(
        "the bundle {bundle} holds a certificate (keyless signing), not a key pair's signature: verify it without --key, with --repo OWNER/REPO or --certificate-identity"
    )]
    Keyless { bundle: String },
    #[error("the bundle {bundle} holds a DSSE envelope (an attestation), not a signature over the file")]
    Envelope { bundle: String },
    #[error("the bundle {bundle} names another key: its public-key hint is {hint}, the given key's is {expected}")]
    OtherKey { bundle: String, hint: String, expected: String },
    #[error(
        "the bundle {bundle} is for other bytes: it signs SHA-256 {signed}, the file's is {actual} (the file changed after it was signed, or the bundle is for another file)"
    )]
    DigestMismatch { bundle: String, signed: String, actual: String },
    #[error("the bundle {bundle} does not match: the file changed after it was signed, or another key signed it")]
    SignatureMismatch { bundle: String },
}

/// Checks a key pair's bundle against a file's SHA-256: it is a bundle of a key pair's
/// message signature; its hint, when it has one, names `key`; the digest it signs, when it
/// states one, is the file's; the signature verifies with `key` over the file's digest. A
/// transparency log entry, when the bundle has one (cosign v3 uploads by default), is not
/// checked: the signature by the key the caller trusts is the proof.
pub(crate) fn verify_key_bundle(
    key: &crate::signing::PublicKey,
    bundle_file: &Utf8Path,
    digest: &[u8; 32],
) -> Result<(), KeyBundleError> {
    use base64::Engine as _;
    let bundle = bundle_file.file_name().unwrap_or(bundle_file.as_str()).to_owned();
    let text = std::fs::read_to_string(bundle_file)
        .map_err(|e| KeyBundleError::Read { bundle: bundle_file.to_string(), reason: e.to_string() })?;
    let not_a_bundle = |reason: &str| KeyBundleError::NotABundle { bundle: bundle.clone(), reason: reason.to_owned() };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_a_bundle(&format!("it is not JSON ({e})")))?;
    let field = |pointer: &str| value.pointer(pointer);
    let text_at = |pointer: &str| field(pointer).and_then(serde_json::Value::as_str);
    let bytes_at =
        |pointer: &str| text_at(pointer).and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
    if !text_at("/mediaType").is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle")) {
        return Err(not_a_bundle("its mediaType is not application/vnd.dev.sigstore.bundle…"));
    }
    let material = |name: &str| field(&format!("/verificationMaterial/{name}")).is_some();
    if material("certificate") || material("x509CertificateChain") {
        return Err(KeyBundleError::Keyless { bundle });
    }
    if !material("publicKey") {
        return Err(not_a_bundle("its verificationMaterial has no publicKey"));
    }
    // The hint is optional and proves nothing; one that names another key says which
    // key to ask for, so it is reported as such rather than as a bad signature.
    let expected = public_key_hint(key.spki_der());
    if let Some(hint) = text_at("/verificationMaterial/publicKey/hint").filter(|h| !h.is_empty())
        && hint != expected
    {
        return Err(KeyBundleError::OtherKey { bundle, hint: hint.to_owned(), expected });
    }
    if field("/dsseEnvelope").is_some() {
        return Err(KeyBundleError::Envelope { bundle });
    }
    if field("/messageSignature").is_none() {
        return Err(not_a_bundle("it holds no messageSignature"));
    }
    if field("/messageSignature/messageDigest").is_some() {
        if text_at("/messageSignature/messageDigest/algorithm") != Some("SHA2_256") {
            return Err(not_a_bundle("its messageDigest is not SHA2_256"));
        }
        let signed = bytes_at("/messageSignature/messageDigest/digest")
            .ok_or_else(|| not_a_bundle("its messageDigest.digest is not base64"))?;
        if signed != digest[..] {
            return Err(KeyBundleError::DigestMismatch {
                bundle,
                signed: hex::encode(signed),
                actual: hex::encode(digest),
            });
        }
    }
    let signature = bytes_at("/messageSignature/signature")
        .ok_or_else(|| not_a_bundle("its messageSignature.signature is missing or not base64"))?;
    key.verify_sha256(digest, &crate::signing::BlobSignature::from_der(signature))
        .map_err(|_| KeyBundleError::SignatureMismatch { bundle })
}

/// Reads a bundle file.
pub(crate) fn read_bundle(path: &Utf8Path) -> Result<Bundle, BundleError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BundleError::Read { path: path.to_owned(), reason: e.to_string() })?;
    Bundle::from_json(&text).map_err(|e| BundleError::NotABundle { path: path.to_owned(), reason: e.to_string() })
}

/// Parses a trusted root (`shown` names it in errors).
pub fn trusted_root(json: &str, shown: &str) -> Result<TrustedRoot, BundleError> {
    TrustedRoot::from_json(json).map_err(|e| BundleError::TrustedRoot { path: shown.to_owned(), reason: e.to_string() })
}

/// Checks a `--certificate-identity-regexp` pattern: RE2 syntax (Rust's `regex`, as close to
/// cosign's Go `regexp` as it gets: no look-around, no back-references).
pub fn identity_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("`{pattern}` is not a regular expression: {e}"))
}

/// The identity pattern `--repo OWNER/REPO` stands for: a workflow of that repository
/// (`^https://github\.com/OWNER/REPO/`), the name escaped (a `.` in it is a dot).
pub fn repository_identity_pattern(repository: &str) -> String {
    format!("^https://github\\.com/{}/", regex::escape(repository.trim_matches('/')))
}

/// Whether `value` contains a match of `pattern` (unanchored, as `regexp.MatchString`);
/// a pattern that does not compile matches nothing.
pub(crate) fn identity_matches(pattern: &str, value: &str) -> bool {
    identity_pattern(pattern).is_ok_and(|re| re.is_match(value))
}

/// Verifies `file` (streamed) with `bundle_file` against `root` for `expected`.
pub fn verify_file(
    root: &TrustedRoot,
    file: &Utf8Path,
    bundle_file: &Utf8Path,
    expected: &Expected,
) -> Result<Verified, BundleError> {
    let bundle = read_bundle(bundle_file)?;
    if bundle.signing_certificate().is_none() {
        return Err(BundleError::KeyPair { bundle: bundle_file.to_owned() });
    }
    let invalid =
        |reason: String| BundleError::Invalid { file: file.to_owned(), bundle: bundle_file.to_owned(), reason };
    let verifier = Verifier::new(root).map_err(|e| invalid(e.to_string()))?;
    let policy = policy_for(root, expected);
    let reader =
        std::fs::File::open(file).map_err(|e| BundleError::Read { path: file.to_owned(), reason: e.to_string() })?;
    let result = verifier
        .verify_reader(std::io::BufReader::new(reader), &bundle, &policy)
        .map_err(|e| invalid(e.to_string()))?;
    check_evidence(root, &bundle, &result).map_err(invalid)?;
    signer(&result, expected, file)
}

/// Who a verified bundle says signed, checked against what the policy cannot express: the
/// identity pattern and the certificate's source repository.
fn signer(
    result: &sigstore_verify::VerificationResult,
    expected: &Expected,
    file: &Utf8Path,
) -> Result<Verified, BundleError> {
    let identity = result.identity().map(|i| i.as_str().to_owned()).unwrap_or_default();
    let issuer = result.issuer().unwrap_or_default().to_owned();
    if let Some(pattern) = &expected.identity_regexp
        && !identity_matches(pattern, &identity)
    {
        return Err(BundleError::Identity {
            file: file.to_owned(),
            actual: identity,
            expected: format!("a match of {pattern}"),
        });
    }
    let repository = result.certificate().and_then(|c| c.ci_claims.source_repository_uri.clone());
    if let Some(expected_repo) = &expected.repository {
        let want = format!("https://github.com/{}", expected_repo.trim_matches('/'));
        if repository.as_deref() != Some(want.as_str()) {
            return Err(BundleError::Repository {
                file: file.to_owned(),
                actual: repository.unwrap_or_else(|| "none".into()),
                expected: want,
            });
        }
    }
    Ok(Verified { identity, issuer, repository })
}

/// Verifies an attestation bundle file (DSSE over an in-toto statement; JSON, or JSON Lines
/// with the bundle on its first line) and returns its subjects: see
/// [`verify_attestation_json`].
pub(crate) fn verify_attestation(
    root: &TrustedRoot,
    bundle_file: &Utf8Path,
    expected: &Expected,
) -> Result<(Verified, Vec<crate::signing::provenance::Subject>), BundleError> {
    let text = std::fs::read_to_string(bundle_file)
        .map_err(|e| BundleError::Read { path: bundle_file.to_owned(), reason: e.to_string() })?;
    verify_attestation_json(root, &text, bundle_file, expected)
}

/// Verifies a message-signature bundle given as text (`shown` names it in errors) for the file
/// `file` whose SHA-256 is `sha256_hex` (a file already hashed, or one not at hand: a
/// release asset).
pub(crate) fn verify_digest_json(
    root: &TrustedRoot,
    text: &str,
    sha256_hex: &str,
    file: &Utf8Path,
    shown: &Utf8Path,
    expected: &Expected,
) -> Result<Verified, BundleError> {
    let bundle = Bundle::from_json(text)
        .map_err(|e| BundleError::NotABundle { path: shown.to_owned(), reason: e.to_string() })?;
    let invalid = |reason: String| BundleError::Invalid { file: file.to_owned(), bundle: shown.to_owned(), reason };
    let digest = sigstore_verify::types::Sha256Hash::from_hex(sha256_hex).map_err(|e| invalid(e.to_string()))?;
    let verifier = Verifier::new(root).map_err(|e| invalid(e.to_string()))?;
    let result = verifier
        .verify(sigstore_verify::types::Artifact::from_digest(digest), &bundle, &policy_for(root, expected))
        .map_err(|e| invalid(e.to_string()))?;
    check_evidence(root, &bundle, &result).map_err(invalid)?;
    signer(&result, expected, file)
}

/// Verifies an attestation bundle given as text (`shown` names it in errors: a file, or
/// where the bundle came from) and returns its subjects: the signature, log entry and
/// identity are checked against the digest of its first subject; the caller checks every
/// subject against its file. A JSON Lines text is read by its first bundle.
pub(crate) fn verify_attestation_json(
    root: &TrustedRoot,
    text: &str,
    shown: &Utf8Path,
    expected: &Expected,
) -> Result<(Verified, Vec<crate::signing::provenance::Subject>), BundleError> {
    use base64::Engine as _;
    // A JSON Lines asset holds one bundle a line; the release's has one.
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let not_a_bundle = |reason: String| BundleError::NotABundle { path: shown.to_owned(), reason };
    let bundle = Bundle::from_json(line).map_err(|e| not_a_bundle(e.to_string()))?;
    let raw: serde_json::Value = serde_json::from_str(line).map_err(|e| not_a_bundle(e.to_string()))?;
    let payload = raw
        .pointer("/dsseEnvelope/payload")
        .and_then(serde_json::Value::as_str)
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .ok_or_else(|| not_a_bundle("it holds no DSSE envelope".into()))?;
    let subjects = crate::signing::provenance::subjects_of(&payload)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| not_a_bundle("its payload is not an in-toto statement with subjects".into()))?;
    let invalid = |reason: String| BundleError::Invalid {
        file: subjects[0].name.clone().into(),
        bundle: shown.to_owned(),
        reason,
    };
    let digest =
        sigstore_verify::types::Sha256Hash::from_hex(&subjects[0].sha256).map_err(|e| invalid(e.to_string()))?;
    let verifier = Verifier::new(root).map_err(|e| invalid(e.to_string()))?;
    let policy = policy_for(root, expected);
    let result = verifier
        .verify(sigstore_verify::types::Artifact::from_digest(digest), &bundle, &policy)
        .map_err(|e| invalid(e.to_string()))?;
    check_evidence(root, &bundle, &result).map_err(invalid)?;
    let verified = signer(&result, expected, Utf8Path::new(&subjects[0].name))?;
    Ok((verified, subjects))
}

/// What a verified bundle must have proven beyond its signature and certificate chain: a
/// verified transparency log entry or a verified RFC 3161 timestamp (never neither), the
/// entry whenever the trusted root lists logs, and the SCT whenever it lists CT logs.
fn check_evidence(
    root: &TrustedRoot,
    bundle: &Bundle,
    result: &sigstore_verify::VerificationResult,
) -> Result<(), String> {
    let material = &bundle.verification_material;
    let logged = result.tlog_verified() && !material.tlog_entries.is_empty();
    let timestamped =
        !material.timestamp_verification_data.rfc3161_timestamps.is_empty() && !result.verified_timestamps().is_empty();
    if !logged && !timestamped {
        return Err("it has neither a verified transparency log entry nor a verified RFC 3161 timestamp".into());
    }
    if !root.tlogs.is_empty() && !logged {
        return Err("it has no verified transparency log entry, and the trusted root lists transparency logs".into());
    }
    if !root.ctlogs.is_empty() && !result.sct_verified() {
        return Err("the certificate's SCT was not verified, and the trusted root lists CT logs".into());
    }
    Ok(())
}

/// The statement inside a DSSE bundle (its decoded payload), unverified: for reading its
/// predicate type before or after [`verify_attestation_json`].
pub(crate) fn dsse_statement(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let raw: serde_json::Value = serde_json::from_str(line).ok()?;
    let payload = raw.pointer("/dsseEnvelope/payload")?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(payload).ok()
}

/// The verification policy for what a caller expects: the certificate's identity (SAN) and
/// issuer, each when given. What the trusted root has decides the rest: a transparency log
/// entry is required when it lists logs (else the signing time must come from an RFC 3161
/// timestamp, as on GitHub's private instance), and the certificate's SCT when it lists CT logs.
fn policy_for(root: &TrustedRoot, expected: &Expected) -> VerificationPolicy {
    let mut policy = VerificationPolicy::any_identity();
    if root.tlogs.is_empty() {
        policy = policy.skip_tlog_unsafe();
    }
    if root.ctlogs.is_empty() {
        policy = policy.skip_sct();
    }
    if let Some(identity) = &expected.identity {
        policy = policy.require_identity(IdentityMatcher::Uri(identity.clone()));
    }
    if let Some(issuer) = &expected.issuer {
        policy = policy.require_issuer(issuer.clone());
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_patterns() {
        let san = "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3";
        assert!(identity_matches("^https://github.com/acme/hello/", san));
        assert!(identity_matches("^https://github\\.com/acme/.*@refs/tags/v.*$", san));
        assert!(identity_matches("release.yml", san));
        assert!(!identity_matches("^https://github.com/acme/other/", san));
        assert!(!identity_matches("^https://github.com/acme/hello/.github/workflows/release.yml$", san));
        // Real regular expressions: classes, repetition, alternation.
        assert!(identity_matches(r"@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$", san));
        assert!(identity_matches("/(release|publish)\\.yml@", san));
        assert!(!identity_matches(r"@refs/tags/v[0-9]+$", san));
        assert!(!identity_matches("(unclosed", san), "a pattern that does not compile matches nothing");
        assert!(identity_pattern("(unclosed").unwrap_err().contains("is not a regular expression"));
        // `--repo`: the repository's workflows only; a dot in its name is a dot.
        let pattern = repository_identity_pattern("acme/hello.js");
        assert!(identity_matches(&pattern, "https://github.com/acme/hello.js/.github/workflows/r.yml@refs/tags/v1"));
        assert!(!identity_matches(&pattern, "https://github.com/acme/helloXjs/.github/workflows/r.yml@refs/tags/v1"));
        assert!(!identity_matches(&pattern, "https://githubXcom/acme/hello.js/.github/workflows/r.yml@refs/tags/v1"));
    }

    #[test]
    fn names() {
        assert_eq!(bundle_name("SHA256SUMS"), "SHA256SUMS.sigstore.json");
        assert_eq!(bundle_path(Utf8Path::new("/d/a.tgz")), "/d/a.tgz.sigstore.json");
    }
}
