//! The Sigstore instance a run signs with, and the Fulcio v2, Rekor v1 and timestamp
//! authority calls.
//!
//! Public-good Sigstore (`fulcio.sigstore.dev`, `rekor.sigstore.dev`) unless the config
//! names a `signing-config` (SigningConfig v0.2: `caUrls`, `rekorTlogUrls`, `tsaUrls`) and a
//! `trusted-root` (TrustedRoot v0.1: the CA chain, log, CT and TSA keys the bundles verify
//! against). An instance signs with Fulcio plus either a Rekor v1 log (the entry's signed
//! timestamp is the signing time) or, without one, an RFC 3161 timestamp authority (GitHub's
//! instance for private repositories: `fulcio.githubapp.com` + `timestamp.githubapp.com`, no
//! log). Where both are listed, Rekor v1 is used and the TSA is not asked, as GitHub's own
//! `actions/attest` does for public repositories. Every call runs under the network policy:
//! 5xx and transport errors are retried; a Rekor 409 ("an equivalent entry already exists")
//! is an answer — the existing entry is fetched from its `Location` and used.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::rekor::LogEntry;
use sigstore_sign::trust_root::{SigningConfig, SigstoreInstance, TrustedRoot};
use sigstore_sign::types::{
    DerCertificate, EntryUuid, KindVersion, SignatureBytes, TimestampToken, TransparencyLogEntry,
};

use super::KeylessError;
use super::token::IdToken;
use crate::net::{NetworkPolicy, RetryNotice};

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
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
pub(crate) struct Services {
    pub fulcio_url: String,
    /// The Rekor v1 log every signature is logged in, when the instance has one.
    pub rekor_url: Option<String>,
    /// The timestamp authority's endpoint (its path included, as signing configs list it),
    /// when the instance has no Rekor v1 log: every signature gets an RFC 3161 timestamp.
    pub tsa_url: Option<String>,
    /// Whether the trusted root lists CT logs: then Fulcio's certificates carry an embedded SCT.
    pub ct_logs: bool,
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
    pub(crate) fn resolve(instance: &Instance) -> Result<Self, KeylessError> {
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
        let root_name = match instance {
            Instance::Files { trusted_root, .. } => trusted_root.to_string(),
            Instance::PublicGood => "the public-good trusted root built into this release tool".to_owned(),
        };
        let root = TrustedRoot::from_json(&root_json).map_err(|e| KeylessError::TrustFile {
            what: "trusted root",
            path: root_name.clone(),
            reason: e.to_string(),
        })?;
        super::trust::check_current(&root, jiff::Timestamp::now())
            .map_err(|reason| KeylessError::OutdatedRoot { path: root_name.clone(), reason })?;
        let fulcio_url = config.fulcio_url().map(|e| e.url.trim_end_matches('/').to_owned()).ok_or_else(|| {
            KeylessError::TrustFile {
                what: "signing config",
                path: config_name.clone(),
                reason: "it lists no certificate authority valid now (`caUrls`)".into(),
            }
        })?;
        let rekor_url = config.rekor_url(Some(1)).map(|e| e.url.trim_end_matches('/').to_owned());
        let tsa_url = match rekor_url {
            Some(_) => None,
            None => Some(config.tsa_url().map(|e| e.url.trim_end_matches('/').to_owned()).ok_or_else(|| {
                KeylessError::TrustFile {
                    what: "signing config",
                    path: config_name.clone(),
                    reason: "it lists neither a Rekor v1 log valid now (`rekorTlogUrls` with `majorApiVersion: 1`) nor a timestamp authority (`tsaUrls`); a signature needs one of them for its signing time (Rekor v2 is not supported yet)".into(),
                }
            })?),
        };
        if let Some(tsa) = &tsa_url
            && root.timestamp_authorities.is_empty()
        {
            return Err(KeylessError::TrustFile {
                what: "trusted root",
                path: root_name,
                reason: format!(
                    "it lists no `timestampAuthorities`, so the timestamps of {tsa} (the signing config's only source of signing time) could not be verified"
                ),
            });
        }
        Ok(Services { fulcio_url, rekor_url, tsa_url, ct_logs: !root.ctlogs.is_empty(), trusted_root_json: root_json })
    }

    /// Where the signing time of a signature comes from, for summaries: `Rekor URL` or
    /// `the timestamp authority URL`.
    pub(crate) fn time_source(&self) -> String {
        match (&self.rekor_url, &self.tsa_url) {
            (Some(rekor), _) => format!("Rekor {rekor}"),
            (None, Some(tsa)) => format!("the timestamp authority {tsa}"),
            (None, None) => "nothing".into(),
        }
    }

    #[cfg(test)]
    pub(crate) fn trusted_root(&self) -> Result<TrustedRoot, KeylessError> {
        TrustedRoot::from_json(&self.trusted_root_json).map_err(|e| KeylessError::TrustFile {
            what: "trusted root",
            path: "(resolved)".into(),
            reason: e.to_string(),
        })
    }

    /// Side-effect-free reads proving the services answer: `GET /api/v2/configuration` on
    /// Fulcio, then `GET /api/v1/log` on Rekor or, without Rekor, `GET …/certchain` on the
    /// timestamp authority, whose certificate must be one the trusted root lists.
    pub(crate) async fn check_reachable(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<String, KeylessError> {
        let mut checks = vec![("Fulcio", format!("{}/api/v2/configuration", self.fulcio_url))];
        if let Some(rekor) = &self.rekor_url {
            checks.push(("Rekor", format!("{rekor}/api/v1/log")));
        } else if let Some(tsa) = &self.tsa_url {
            checks.push(("the timestamp authority", format!("{tsa}/certchain")));
        }
        let mut seen = Vec::new();
        for (service, url) in checks {
            let response =
                policy.send(&format!("reaching {service}"), || http.get(&url).send(), on_retry).await.map_err(|e| {
                    KeylessError::Unreachable { service, url: url.clone(), reason: crate::net::root_cause(&e) }
                })?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(KeylessError::Unreachable { service, url, reason: format!("{status}: {}", text.trim()) });
            }
            let bad = |reason: String| KeylessError::BadAnswer { service, url: url.clone(), reason };
            match service {
                "Fulcio" => {
                    serde_json::from_str::<Value>(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
                    seen.push(format!("Fulcio {}", self.fulcio_url));
                }
                "Rekor" => {
                    let body: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
                    seen.push(format!(
                        "Rekor {} (tree size {})",
                        self.rekor_url.as_deref().unwrap_or_default(),
                        body["treeSize"]
                    ));
                }
                _ => {
                    let leaf = text
                        .split_inclusive("-----END CERTIFICATE-----")
                        .next()
                        .and_then(|block| DerCertificate::from_pem(block.trim()).ok())
                        .ok_or_else(|| bad("not a PEM certificate chain".into()))?;
                    let root = TrustedRoot::from_json(&self.trusted_root_json)
                        .map_err(|e| bad(format!("the trusted root does not parse: {e}")))?;
                    let listed = root.timestamp_authorities.iter().any(|tsa| {
                        tsa.cert_chain.certificates.first().is_some_and(|c| c.raw_bytes.as_bytes() == leaf.as_bytes())
                    });
                    if !listed {
                        return Err(bad("its certificate is not the leaf of any of the trusted root's `timestampAuthorities`, so its timestamps would not verify".into()));
                    }
                    seen.push(format!("the timestamp authority {}", self.tsa_url.as_deref().unwrap_or_default()));
                }
            }
        }
        Ok(seen.join(", "))
    }

    /// `POST /api/v2/signingCert` with the token in the body and a proof of possession over
    /// the token's `sub`; returns the leaf certificate.
    pub(crate) async fn request_certificate(
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
        // A Fulcio without a CT log (GitHub's private instance) answers in the detached form
        // with no SCT: fine when the trusted root lists no CT log to check one against.
        let leaf = if let Some(detached) = answer.get("signedCertificateDetachedSct") {
            if self.ct_logs {
                return Err(bad("the certificate has a detached SCT; verifiers need it embedded (a Fulcio with a CT log that embeds SCTs), since the trusted root lists CT logs".into()));
            }
            detached.pointer("/chain/certificates/0")
        } else {
            answer.pointer("/signedCertificateEmbeddedSct/chain/certificates/0")
        };
        let leaf = leaf
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `signedCertificateEmbeddedSct.chain.certificates`".into()))?;
        DerCertificate::from_pem(leaf).map_err(|e| bad(format!("the leaf certificate: {e}")))
    }

    /// `POST /api/v1/log/entries`; a 409 fetches the existing entry. Returns the bundle's
    /// form of the entry.
    pub(crate) async fn log_entry(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        body: &Value,
        kind: KindVersion,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<TransparencyLogEntry, KeylessError> {
        let rekor_url =
            self.rekor_url.as_deref().ok_or_else(|| KeylessError::Crypto("no Rekor v1 log to log in".into()))?;
        let url = format!("{rekor_url}/api/v1/log/entries");
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
            let existing = if location.starts_with("http") { location } else { format!("{rekor_url}{location}") };
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

impl Services {
    /// An RFC 3161 timestamp over `signature` from the timestamp authority: `POST` a DER
    /// `TimeStampReq` (SHA-256 of the signature bytes, a nonce, the TSA's certificate asked
    /// for), `201` with a DER `TimeStampResp`. The answer is checked against the trusted
    /// root's `timestampAuthorities` (signature, chain, message imprint) before it goes into
    /// a bundle.
    pub(crate) async fn timestamp(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        signature: &[u8],
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<TimestampToken, KeylessError> {
        use sha2::Digest as _;
        let url = self.tsa_url.clone().ok_or_else(|| KeylessError::Crypto("no timestamp authority to ask".into()))?;
        let imprint: [u8; 32] = sha2::Sha256::digest(signature).into();
        let nonce: u64 = rand::random::<u64>() >> 1;
        let request = timestamp_request(&imprint, nonce);
        let response = policy
            .send(
                "timestamping the signature",
                || {
                    http.post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
                        .header(reqwest::header::ACCEPT, "application/timestamp-reply")
                        .body(request.clone())
                        .send()
                },
                on_retry,
            )
            .await
            .map_err(|e| KeylessError::Unreachable {
                service: "the timestamp authority",
                url: url.clone(),
                reason: crate::net::root_cause(&e),
            })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(KeylessError::Tsa {
                url,
                status: status.as_u16(),
                message: server_message(&String::from_utf8_lossy(&body)),
            });
        }
        let token = TimestampToken::new(body.to_vec());
        let root = TrustedRoot::from_json(&self.trusted_root_json).map_err(|e| KeylessError::Crypto(e.to_string()))?;
        let signature = SignatureBytes::new(signature.to_vec());
        let mut reasons = Vec::new();
        for authority in root.tsa_authorities() {
            match sigstore_sign::tsa::verify_timestamp_for_authority(&token, &signature, &authority) {
                Ok(_) => return Ok(token),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(KeylessError::BadAnswer {
            service: "the timestamp authority",
            url,
            reason: format!(
                "its timestamp does not verify against the trusted root's `timestampAuthorities`: {}",
                if reasons.is_empty() { "none is valid now".to_owned() } else { reasons.join("; ") }
            ),
        })
    }
}

/// A DER `TimeStampReq` (RFC 3161 §2.4.1): version 1, the SHA-256 message imprint, a
/// nonce, `certReq` true.
fn timestamp_request(imprint: &[u8; 32], nonce: u64) -> Vec<u8> {
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        // Every element here is shorter than 128 bytes.
        let mut out = vec![tag, contents.len() as u8];
        out.extend_from_slice(contents);
        out
    }
    const SHA256_OID: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    let algorithm = tlv(0x30, &[tlv(0x06, &SHA256_OID), vec![0x05, 0x00]].concat());
    let message_imprint = tlv(0x30, &[algorithm, tlv(0x04, imprint)].concat());
    let mut nonce_bytes = nonce.to_be_bytes().to_vec();
    while nonce_bytes.len() > 1 && nonce_bytes[0] == 0 && nonce_bytes[1] < 0x80 {
        nonce_bytes.remove(0);
    }
    if nonce_bytes[0] >= 0x80 {
        nonce_bytes.insert(0, 0);
    }
    tlv(0x30, &[tlv(0x02, &[1]), message_imprint, tlv(0x02, &nonce_bytes), tlv(0x01, &[0xff])].concat())
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
        assert_eq!(services.rekor_url.as_deref(), Some("https://rekor.sigstore.dev"));
        // The public-good signing config lists timestamp.sigstore.dev too; with Rekor v1 it is not asked.
        assert_eq!(services.tsa_url, None);
        assert!(services.ct_logs);
        services.trusted_root().unwrap();
    }

    fn files(dir: &Utf8Path, config: Value, root: Value) -> Instance {
        let (signing_config, trusted_root) = (dir.join("signing_config.json"), dir.join("trusted_root.json"));
        std::fs::write(&signing_config, config.to_string()).unwrap();
        std::fs::write(&trusted_root, root.to_string()).unwrap();
        Instance::Files { signing_config, trusted_root }
    }

    fn service(url: &str) -> Value {
        json!({"url": url, "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}})
    }

    /// GitHub's private-repository instance: Fulcio and a TSA, no Rekor, no CT log.
    #[test]
    fn an_instance_without_rekor_timestamps_with_its_tsa() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let config = json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service("https://fulcio.githubapp.com")],
            "tsaUrls": [service("https://timestamp.githubapp.com/api/v1/timestamp")],
            "rekorTlogUrls": [],
        });
        let github = SigstoreInstance::GitHub.embedded_trusted_root_json();
        let services = Services::resolve(&files(dir, config.clone(), serde_json::from_str(github).unwrap())).unwrap();
        assert_eq!(services.rekor_url, None);
        assert_eq!(services.tsa_url.as_deref(), Some("https://timestamp.githubapp.com/api/v1/timestamp"));
        assert!(!services.ct_logs);
        assert_eq!(services.time_source(), "the timestamp authority https://timestamp.githubapp.com/api/v1/timestamp");

        let mut no_tsa: Value = serde_json::from_str(github).unwrap();
        no_tsa["timestampAuthorities"] = json!([]);
        let err = Services::resolve(&files(dir, config.clone(), no_tsa)).unwrap_err().to_string();
        assert!(err.contains("trusted_root.json: it lists no `timestampAuthorities`"), "{err}");

        let mut neither = config;
        neither["tsaUrls"] = json!([]);
        let err =
            Services::resolve(&files(dir, neither, serde_json::from_str(github).unwrap())).unwrap_err().to_string();
        assert!(err.contains("signing_config.json: it lists neither a Rekor v1 log"), "{err}");
        assert!(err.contains("`tsaUrls`"), "{err}");
    }

    #[test]
    fn the_timestamp_request_is_der() {
        let request = timestamp_request(&[7; 32], 0x0080);
        // SEQUENCE { INTEGER 1, SEQUENCE { SEQUENCE { OID sha256, NULL }, OCTET STRING }, INTEGER nonce, BOOLEAN TRUE }
        assert_eq!(&request[..2], &[0x30, (request.len() - 2) as u8]);
        assert_eq!(&request[2..5], &[0x02, 0x01, 0x01]);
        assert_eq!(&request[5..9], &[0x30, 0x31, 0x30, 0x0d]);
        assert_eq!(&request[22..24], &[0x04, 0x20]);
        // 0x80 needs a leading zero to stay positive.
        assert_eq!(&request[56..], &[0x02, 0x02, 0x00, 0x80, 0x01, 0x01, 0xff]);
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
