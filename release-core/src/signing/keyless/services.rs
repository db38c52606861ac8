//! The Sigstore instance a run signs with, and the Fulcio v2 and Rekor v1 calls.
//!
//! Public-good Sigstore (`fulcio.sigstore.dev`, `rekor.sigstore.dev`) unless the config
//! names a `signing-config` (SigningConfig v0.2: `caUrls`, `rekorTlogUrls`) and a
//! `trusted-root` (TrustedRoot v0.1: the CA chain, log and CT keys the bundles verify
//! against). Every call runs under the network policy: 5xx and transport errors are
//! retried; a Rekor 409 ("an equivalent entry already exists") is an answer — the existing
//! entry is fetched from its `Location` and used.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::rekor::LogEntry;
use sigstore_sign::trust_root::{SigningConfig, SigstoreInstance, TrustedRoot};
use sigstore_sign::types::{DerCertificate, EntryUuid, KindVersion, TransparencyLogEntry};

use super::KeylessError;
use super::token::IdToken;
use crate::net::{NetworkPolicy, RetryNotice};

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Which Sigstore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instance {
    /// sigstore.dev, from the configuration embedded in sigstore-rust 0.15.1.
    PublicGood,
    /// Another instance, described by its two files.
    Files { signing_config: Utf8PathBuf, trusted_root: Utf8PathBuf },
}

impl Instance {
    /// The trusted root of public-good Sigstore embedded in sigstore-trust-root 0.15.1.
    pub fn public_good_trusted_root() -> &'static str {
        SigstoreInstance::PublicGood.embedded_trusted_root_json()
    }
}

/// The resolved services and the trust material of an instance.
#[derive(Debug, Clone)]
pub struct Services {
    pub fulcio_url: String,
    pub rekor_url: String,
    /// The trusted root, as JSON text (written beside bundles for offline verification).
    pub trusted_root_json: String,
}

fn trust_file(what: &'static str, path: &Utf8Path) -> Result<String, KeylessError> {
    std::fs::read_to_string(path).map_err(|e| KeylessError::TrustFile {
        what,
        path: path.to_string(),
        reason: e.to_string(),
    })
}

impl Services {
    /// Reads and checks the instance's files (no network).
    pub fn resolve(instance: &Instance) -> Result<Self, KeylessError> {
        let (config, root_json, config_name) = match instance {
            Instance::PublicGood => {
                let config =
                    SigstoreInstance::PublicGood.embedded_signing_config().ok().flatten().ok_or_else(|| {
                        KeylessError::Crypto("the embedded public-good signing config is missing".into())
                    })?;
                (config, SigstoreInstance::PublicGood.embedded_trusted_root_json().to_owned(), "public-good".to_owned())
            }
            Instance::Files { signing_config, trusted_root } => {
                let text = trust_file("signing config", signing_config)?;
                let config = SigningConfig::from_json(&text).map_err(|e| KeylessError::TrustFile {
                    what: "signing config",
                    path: signing_config.to_string(),
                    reason: e.to_string(),
                })?;
                (config, trust_file("trusted root", trusted_root)?, signing_config.to_string())
            }
        };
        let root_path = match instance {
            Instance::Files { trusted_root, .. } => trusted_root.to_string(),
            Instance::PublicGood => "the public-good trusted root built into this release tool".to_owned(),
        };
        let root = TrustedRoot::from_json(&root_json).map_err(|e| KeylessError::TrustFile {
            what: "trusted root",
            path: root_path.clone(),
            reason: e.to_string(),
        })?;
        super::trust::check_current(&root, jiff::Timestamp::now())
            .map_err(|reason| KeylessError::OutdatedRoot { path: root_path, reason })?;
        let fulcio_url = config.fulcio_url().map(|e| e.url.trim_end_matches('/').to_owned()).ok_or_else(|| {
            KeylessError::TrustFile {
                what: "signing config",
                path: config_name.clone(),
                reason: "it lists no certificate authority valid now (`caUrls`)".into(),
            }
        })?;
        let rekor_url = config.rekor_url(Some(1)).map(|e| e.url.trim_end_matches('/').to_owned()).ok_or_else(|| {
            KeylessError::TrustFile {
                what: "signing config",
                path: config_name.clone(),
                reason: "it lists no Rekor v1 log valid now (`rekorTlogUrls` with `majorApiVersion: 1`); Rekor v2 needs a timestamp authority and is not supported yet".into(),
            }
        })?;
        Ok(Services { fulcio_url, rekor_url, trusted_root_json: root_json })
    }

    #[cfg(test)]
    pub fn trusted_root(&self) -> Result<TrustedRoot, KeylessError> {
        TrustedRoot::from_json(&self.trusted_root_json).map_err(|e| KeylessError::TrustFile {
            what: "trusted root",
            path: "(resolved)".into(),
            reason: e.to_string(),
        })
    }

    /// Side-effect-free reads proving both services answer: `GET /api/v2/configuration` on
    /// Fulcio, `GET /api/v1/log` on Rekor.
    pub async fn check_reachable(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<String, KeylessError> {
        let mut seen = Vec::new();
        for (service, url) in [
            ("Fulcio", format!("{}/api/v2/configuration", self.fulcio_url)),
            ("Rekor", format!("{}/api/v1/log", self.rekor_url)),
        ] {
            let response =
                policy.send(&format!("reaching {service}"), || http.get(&url).send(), on_retry).await.map_err(|e| {
                    KeylessError::Unreachable { service, url: url.clone(), reason: crate::net::root_cause(&e) }
                })?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(KeylessError::Unreachable { service, url, reason: format!("{status}: {}", body.trim()) });
            }
            let body: Value = response.json().await.map_err(|e| KeylessError::BadAnswer {
                service,
                url: url.clone(),
                reason: format!("not JSON: {e}"),
            })?;
            if service == "Rekor" {
                seen.push(format!("Rekor {} (tree size {})", self.rekor_url, body["treeSize"]));
            } else {
                seen.push(format!("Fulcio {}", self.fulcio_url));
            }
        }
        Ok(seen.join(", "))
    }

    /// `POST /api/v2/signingCert` with the token in the body and a proof of possession over
    /// the token's `sub`; returns the leaf certificate.
    pub async fn request_certificate(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        token: &IdToken,
        key: &KeyPair,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<DerCertificate, KeylessError> {
        let url = format!("{}/api/v2/signingCert", self.fulcio_url);
        let subject = token.claim("sub").unwrap_or_default();
        let pem = key.public_key_der().map_err(|e| KeylessError::Crypto(e.to_string()))?.to_pem();
        let pop = key.sign(subject.as_bytes()).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let body = json!({
            "credentials": {"oidcIdentityToken": token.jwt().expose()},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": pem},
                "proofOfPossession": pop.to_base64(),
            },
        });
        let response = policy
            .send("requesting the Fulcio certificate", || http.post(&url).json(&body).send(), on_retry)
            .await
            .map_err(|e| KeylessError::Unreachable {
                service: "Fulcio",
                url: url.clone(),
                reason: crate::net::root_cause(&e),
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(KeylessError::Fulcio { url, status: status.as_u16(), message: server_message(&text) });
        }
        let bad = |reason: String| KeylessError::BadAnswer { service: "Fulcio", url: url.clone(), reason };
        let answer: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if answer.get("signedCertificateDetachedSct").is_some() {
            return Err(bad("the certificate has a detached SCT; verifiers need it embedded (a Fulcio with a CT log that embeds SCTs)".into()));
        }
        let leaf = answer
            .pointer("/signedCertificateEmbeddedSct/chain/certificates/0")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `signedCertificateEmbeddedSct.chain.certificates`".into()))?;
        DerCertificate::from_pem(leaf).map_err(|e| bad(format!("the leaf certificate: {e}")))
    }

    /// `POST /api/v1/log/entries`; a 409 fetches the existing entry. Returns the bundle's
    /// form of the entry.
    pub async fn log_entry(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        body: &Value,
        kind: KindVersion,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<TransparencyLogEntry, KeylessError> {
        let url = format!("{}/api/v1/log/entries", self.rekor_url);
        let unreachable = |e: reqwest::Error| KeylessError::Unreachable {
            service: "Rekor",
            url: url.clone(),
            reason: crate::net::root_cause(&e),
        };
        let response = policy
            .send(
                "logging the signature in Rekor",
                || http.post(&url).header(reqwest::header::ACCEPT, "application/json").json(body).send(),
                on_retry,
            )
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let response = if status == reqwest::StatusCode::CONFLICT {
            let location =
                response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let text = response.text().await.unwrap_or_default();
            let Some(location) = location else {
                return Err(KeylessError::Rekor { url, status: 409, message: server_message(&text) });
            };
            let existing =
                if location.starts_with("http") { location } else { format!("{}{location}", self.rekor_url) };
            policy
                .send("fetching the existing Rekor entry", || http.get(&existing).send(), on_retry)
                .await
                .map_err(unreachable)?
        } else {
            response
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(KeylessError::Rekor { url, status: status.as_u16(), message: server_message(&text) });
        }
        let bad = |reason: String| KeylessError::BadAnswer { service: "Rekor", url: url.clone(), reason };
        let entries: HashMap<String, LogEntry> =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a log entry: {e}")))?;
        let (uuid, mut entry) = entries.into_iter().next().ok_or_else(|| bad("no entry in the answer".into()))?;
        entry.uuid = EntryUuid::new(uuid);
        entry.to_bundle_entry(kind).map_err(|e| bad(e.to_string()))
    }
}

/// The `message` of a `{"code","message"}` error body, else the body.
fn server_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_resolves_to_fulcio_and_rekor_v1() {
        let services = Services::resolve(&Instance::PublicGood).unwrap();
        assert_eq!(services.fulcio_url, "https://fulcio.sigstore.dev");
        assert_eq!(services.rekor_url, "https://rekor.sigstore.dev");
        services.trusted_root().unwrap();
    }

    #[test]
    fn a_missing_file_is_named_with_the_fix() {
        let err = Services::resolve(&Instance::Files {
            signing_config: "/nonexistent/signing_config.json".into(),
            trusted_root: "/nonexistent/trusted_root.json".into(),
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read the Sigstore signing config /nonexistent/signing_config.json"),
            "{err}"
        );
    }

    #[test]
    fn server_messages_are_quoted() {
        assert_eq!(
            server_message(r#"{"code":3,"message":"There was an error processing the identity token"}"#),
            "There was an error processing the identity token"
        );
        assert_eq!(server_message("plain\n"), "plain");
    }
}
