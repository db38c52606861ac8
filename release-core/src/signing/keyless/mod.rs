//! Keyless signing: a GitHub Actions OIDC token traded for a short-lived Fulcio certificate,
//! every signature logged in Rekor v1 (or, on an instance without Rekor, timestamped by an
//! RFC 3161 timestamp authority), every result a Sigstore bundle v0.3.
//!
//! - [`token`]: the Actions token request and the claims Fulcio requires.
//! - [`services`]: the Sigstore instance (public good by default, or a `signing-config` +
//!   `trusted-root` pair of files), and the Fulcio and Rekor v1 calls under the network
//!   policy (a Rekor 409 fetches the existing entry and goes on).
//! - [`KeylessSession`]: one ephemeral P-256 key and one Fulcio certificate for the whole
//!   run; [`KeylessSession::sign_digest`] makes a message-signature bundle over a file's
//!   SHA-256, [`KeylessSession::sign_statement`] a DSSE bundle over an in-toto statement.
//!
//! The building blocks (key pair, bundle and log-entry types, Rekor request bodies) are
//! sigstore-rust's (`sigstore-sign` 0.15.1 and the crates it re-exports); its `Signer` makes a
//! new key and certificate per call, so the session drives the pieces itself.

pub(crate) mod services;
pub(crate) mod settings;
pub(crate) mod token;
pub(crate) mod trust;

use std::sync::Arc;

use sigstore_sign::bundle::BundleV03;
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::rekor::{DsseEntry, HashedRekord};
use sigstore_sign::types::{
    Bundle, DerCertificate, DsseEnvelope, DsseSignature, KeyId, KindVersion, PayloadBytes, Sha256Hash,
};

pub use services::Instance;
pub(crate) use services::Services;
pub(crate) use token::{IdToken, TokenRequest};

use crate::net::{NetworkPolicy, RetryNotice};

/// The media type of an in-toto statement in a DSSE envelope.
pub(crate) const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Everything that stops keyless signing, each with the fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeylessError {
    #[error("keyless signing needs a GitHub Actions OIDC token, and this is not a GitHub Actions job")]
    NotInActions,
    #[error("the job cannot request an OIDC token: {missing} is not set")]
    NoIdTokenPermission { missing: String },
    #[error("the GitHub OIDC token endpoint {url} refused the request: {reason}")]
    TokenEndpoint { url: String, reason: String },
    #[error("the GitHub OIDC token is unusable: {0}")]
    BadToken(String),
    #[error("the GitHub OIDC token would be refused by Fulcio: {0}")]
    Claims(String),
    #[error("Fulcio {url} refused the signing certificate: {status}: {message}")]
    Fulcio { url: String, status: u16, message: String },
    #[error("Rekor {url} refused the log entry: {status}: {message}")]
    Rekor { url: String, status: u16, message: String },
    #[error("the timestamp authority {url} refused to timestamp the signature: {status}: {message}")]
    Tsa { url: String, status: u16, message: String },
    #[error("{service} {url} cannot be reached: {reason}")]
    Unreachable { service: &'static str, url: String, reason: String },
    #[error("{service} {url} answered something unusable: {reason}")]
    BadAnswer { service: &'static str, url: String, reason: String },
    #[error("cannot read the Sigstore {what} {path}: {reason}")]
    TrustFile { what: &'static str, path: String, reason: String },
    #[error("the Sigstore trusted root {path} cannot vouch for a signature made now: {reason}")]
    OutdatedRoot { path: String, reason: String },
    #[error("signing failed: {0}")]
    Crypto(String),
}

impl crate::error::Diagnose for KeylessError {
    fn help(&self) -> Option<String> {
        Some(match self {
            KeylessError::NotInActions => "run the release in a GitHub Actions job with `permissions: id-token: write`; elsewhere use `[signing] mode = \"key\"` with a cosign key pair (`release keygen` writes one)".into(),
            KeylessError::NoIdTokenPermission { .. } => "add `permissions: id-token: write` to the release job (a job-level `permissions:` block replaces the workflow-level one); a pull request from a fork never gets an OIDC token, so release from a push or a tag".into(),
            KeylessError::TokenEndpoint { .. } => "GitHub did not hand out an OIDC token; re-run the job, and check `permissions: id-token: write` on it".into(),
            KeylessError::BadToken(_) | KeylessError::Claims(_) => "Fulcio issues certificates only for tokens of a GitHub Actions workflow run with GitHub's standard claims; a customised `sub` is fine, removed claims are not".into(),
            KeylessError::Fulcio { status, .. } if *status >= 500 => "Fulcio failed on its side and the retries ran out; run the release again later (https://status.sigstore.dev)".into(),
            KeylessError::Fulcio { .. } => "Fulcio's message says what it refused: the identity token (its issuer, audience `sigstore`, expiry) or the key; check `signing.signing-config` points at the Fulcio that trusts GitHub's tokens".into(),
            KeylessError::Rekor { .. } => "Rekor refused the entry; its message says why. Run the release again; if it persists check `signing.signing-config`".into(),
            KeylessError::Tsa { status, .. } if *status >= 500 => "the timestamp authority failed on its side and the retries ran out; run the release again later".into(),
            KeylessError::Tsa { .. } => "the timestamp authority's message says what it refused; check that `tsaUrls` in `signing.signing-config` is the full timestamp endpoint (`https://…/api/v1/timestamp`)".into(),
            KeylessError::Unreachable { service, .. } => format!("check the network and the {service} URL in `signing.signing-config` (public-good Sigstore when unset)"),
            KeylessError::BadAnswer { .. } => "the URL may not be a Sigstore service; check `signing.signing-config`".into(),
            KeylessError::OutdatedRoot { .. } => "nothing was signed: fetch the instance's current trusted_root.json and point `signing.trusted-root` at it (for public-good Sigstore without `signing.trusted-root`: update this release tool, whose built-in root is out of date)".into(),
            KeylessError::TrustFile { .. } => "point `signing.signing-config` and `signing.trusted-root` at the instance's `signing_config.json` and `trusted_root.json` (both, or neither for public-good Sigstore)".into(),
            KeylessError::Crypto(_) => return None,
        })
    }
}

/// The certificate of a run and the key that goes with it.
pub(crate) struct KeylessSession {
    key: KeyPair,
    certificate: DerCertificate,
    /// The certificate's identity as the token said it would be.
    pub identity: String,
    /// The token's issuer.
    pub issuer: String,
    /// The token's claims (what provenance is built from; the token itself is not kept).
    pub claims: serde_json::Value,
    services: Arc<Services>,
    http: reqwest::Client,
    policy: NetworkPolicy,
}

impl std::fmt::Debug for KeylessSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSession")
            .field("identity", &self.identity)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl KeylessSession {
    /// Generates the run's key and asks Fulcio for its certificate with a fresh token.
    pub(crate) async fn start(
        token: &IdToken,
        services: Arc<Services>,
        http: reqwest::Client,
        policy: NetworkPolicy,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<Self, KeylessError> {
        token.check_for_fulcio(crate::signing::keyless::services::now())?;
        let key = KeyPair::generate_ecdsa_p256().map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let certificate = services.request_certificate(&http, &policy, token, &key, on_retry).await?;
        let server = "https://github.com";
        Ok(KeylessSession {
            key,
            certificate,
            identity: token.identity(server).unwrap_or_default(),
            issuer: token.claim("iss").unwrap_or_default().to_owned(),
            claims: token.claims().clone(),
            services,
            http,
            policy,
        })
    }

    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// A message-signature bundle over a SHA-256 digest, logged in Rekor as hashedrekord (or,
    /// without Rekor, with an RFC 3161 timestamp over the signature).
    pub(crate) async fn sign_digest(
        &self,
        digest: &[u8; 32],
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<Bundle, KeylessError> {
        let hash = Sha256Hash::new(*digest);
        let signature = self.key.sign_digest(&hash).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let bundle = BundleV03::with_certificate_and_signature(self.certificate.clone(), signature.clone(), hash);
        if self.services.rekor_url.is_none() {
            let token = self.services.timestamp(&self.http, &self.policy, signature.as_bytes(), on_retry).await?;
            return Ok(bundle.with_rfc3161_timestamp(token).into_bundle());
        }
        let body = serde_json::to_value(HashedRekord::new(&hash, &signature, &self.certificate))
            .map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let entry =
            self.services.log_entry(&self.http, &self.policy, &body, KindVersion::HashedRekordV001, on_retry).await?;
        Ok(bundle.with_tlog_entry(entry).into_bundle())
    }

    /// A DSSE bundle over an in-toto statement, logged in Rekor as dsse 0.0.1 (or, without
    /// Rekor, with an RFC 3161 timestamp over the envelope's signature).
    pub(crate) async fn sign_statement(
        &self,
        statement: &[u8],
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<Bundle, KeylessError> {
        let pae = sigstore_sign::types::pae(IN_TOTO_PAYLOAD_TYPE, statement);
        let signature = self.key.sign(&pae).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let envelope = DsseEnvelope::new(
            IN_TOTO_PAYLOAD_TYPE.to_owned(),
            PayloadBytes::new(statement.to_vec()),
            DsseSignature::new(signature.clone(), KeyId::default()),
        );
        if self.services.rekor_url.is_none() {
            let token = self.services.timestamp(&self.http, &self.policy, signature.as_bytes(), on_retry).await?;
            return Ok(BundleV03::with_certificate_and_dsse(self.certificate.clone(), envelope)
                .with_rfc3161_timestamp(token)
                .into_bundle());
        }
        let request = DsseEntry::new(&envelope, &self.certificate).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let body = serde_json::to_value(request).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let entry = self.services.log_entry(&self.http, &self.policy, &body, KindVersion::DsseV001, on_retry).await?;
        Ok(BundleV03::with_certificate_and_dsse(self.certificate.clone(), envelope)
            .with_tlog_entry(entry)
            .into_bundle())
    }
}

/// The run's keyless session: the `keyless-session` hand-off.
#[derive(Clone, Debug)]
pub(crate) struct ActiveKeyless(pub std::sync::Arc<KeylessSession>);
