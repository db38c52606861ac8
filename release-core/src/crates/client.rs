//! The crate registry's protocol, our own client (reqwest, under [`crate::net`]): the sparse
//! index, the publish request, `GET /api/v1/me`, the crate record, downloads, and the
//! trusted-publishing exchange and revoke (`shared/protocols-crates.md` A1, A4, A6, A9).

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::net::{self, NetworkPolicy, RetryNotice};
use crate::secret::Secret;

const USER_AGENT: &str = concat!("release-orchestrator/", env!("CARGO_PKG_VERSION"));

/// A failed call: the registry's answer (status and its own words) or the transport error.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error("{what} ({url}) failed: {cause}")]
    Transport { what: String, url: String, cause: String },
    #[error("{what} ({url}) was refused: {status} {detail}")]
    Refused {
        what: String,
        url: String,
        status: u16,
        /// The registry's `errors[0].detail`, or the body's text when it sent no envelope.
        detail: String,
        /// A 429's `Retry-After`, as a point in time.
        retry_at: Option<SystemTime>,
    },
}

impl RegistryError {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Refused { status, .. } => Some(*status),
            RegistryError::Transport { .. } => None,
        }
    }

    pub(crate) fn detail(&self) -> &str {
        match self {
            RegistryError::Refused { detail, .. } => detail,
            RegistryError::Transport { cause, .. } => cause,
        }
    }
}

/// One line of a crate's index file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub name: String,
    pub vers: String,
    pub cksum: String,
    #[serde(default)]
    pub yanked: bool,
}

impl IndexEntry {
    /// The same version, build metadata ignored (`1.0.0+a` is `1.0.0` to the registry).
    pub(crate) fn is_version(&self, version: &str) -> bool {
        without_build(&self.vers) == without_build(version)
    }
}

fn without_build(v: &str) -> &str {
    v.split('+').next().unwrap_or(v)
}

/// The sparse index path of a crate (lowercased): `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub(crate) fn index_path(name: &str) -> String {
    let n = name.to_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// The index's `config.json`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct IndexConfig {
    pub dl: String,
    pub api: Option<String>,
}

impl IndexConfig {
    /// The download URL of a version, from the `dl` template (A6).
    pub(crate) fn download_url(&self, name: &str, vers: &str, cksum: &str) -> String {
        let markers = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];
        if !markers.iter().any(|m| self.dl.contains(m)) {
            return format!("{}/{name}/{vers}/download", self.dl.trim_end_matches('/'));
        }
        let prefix = index_path(name);
        let prefix = prefix.rsplit_once('/').map(|(p, _)| p.to_owned()).unwrap_or_default();
        self.dl
            .replace("{crate}", name)
            .replace("{version}", vers)
            .replace("{lowerprefix}", &prefix.to_lowercase())
            .replace("{prefix}", &prefix)
            .replace("{sha256-checksum}", cksum)
    }
}

/// What `GET /api/v1/me` says about an API token (A4.1): same status, different detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// 403 "this action can only be performed on the … website": the token authenticated.
    Live,
    /// 403 "authentication failed" (unknown, revoked or expired), or a 401 (not a token of
    /// this registry): the registry's words.
    Dead { status: u16, detail: String },
    /// Any other answer: this registry does not answer the way the crate registry does.
    Unknown { status: u16, detail: String },
}

/// The crate's public record: whether it exists and `trustpub_only`.
#[derive(Clone, Debug, Default)]
pub(crate) struct CrateRecord {
    pub trustpub_only: bool,
}

/// A client of one registry: its index and its API.
#[derive(Clone, Debug)]
pub(crate) struct RegistryClient {
    http: reqwest::Client,
    /// The index URL without `sparse+`, ending in `/`.
    index: String,
    /// The API base, no trailing slash.
    pub api: String,
    policy: NetworkPolicy,
}

/// How a step hears about retries.
pub(crate) type Announce<'a> = &'a (dyn Fn(&RetryNotice) + Send + Sync);

fn transport(what: &str, url: &str, err: &reqwest::Error) -> RegistryError {
    RegistryError::Transport { what: what.into(), url: url.into(), cause: net::root_cause(err) }
}

/// The registry's answer to a failed call.
async fn refused(what: &str, url: &str, response: reqwest::Response) -> RegistryError {
    let status = response.status().as_u16();
    let retry_at = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v.trim()));
    let text = response.text().await.unwrap_or_default();
    RegistryError::Refused { what: what.into(), url: url.into(), status, detail: error_detail(&text), retry_at }
}

/// `Retry-After` as a point in time: an HTTP-date, or seconds from now.
pub(crate) fn parse_retry_after(value: &str) -> Option<SystemTime> {
    match value.parse::<u64>() {
        Ok(secs) => Some(SystemTime::now() + Duration::from_secs(secs)),
        Err(_) => httpdate::parse_http_date(value).ok(),
    }
}

/// The registry's `{"errors":[{"detail":…}]}`, every detail joined; else the body's text.
pub(crate) fn error_detail(body: &str) -> String {
    let details: Vec<String> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
        .map(|errors| {
            errors.iter().filter_map(|e| e.get("detail").and_then(Value::as_str).map(str::to_owned)).collect()
        })
        .unwrap_or_default();
    if details.is_empty() {
        let text = body.trim();
        if text.is_empty() { "(empty body)".into() } else { text.chars().take(500).collect() }
    } else {
        details.join("; ")
    }
}

impl RegistryClient {
    /// A client for the index at `index_url` (`sparse+https://…/`). The API base is set by
    /// [`RegistryClient::with_api`] once `config.json` was read.
    pub(crate) fn new(index_url: &str, policy: NetworkPolicy) -> Self {
        let mut index = index_url.trim_start_matches("sparse+").to_owned();
        if !index.ends_with('/') {
            index.push('/');
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(policy.stall_timeout)
            .build()
            .expect("a client with a user agent and timeouts builds");
        RegistryClient { http, index, api: String::new(), policy }
    }

    pub(crate) fn with_api(mut self, api: &str) -> Self {
        self.api = api.trim_end_matches('/').to_owned();
        self
    }

    /// The trusted-publishing audience: the API's host (and port), no scheme (A9.1).
    pub(crate) fn audience(&self) -> String {
        let rest = self.api.split_once("://").map_or(self.api.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest).to_owned()
    }

    async fn get(&self, what: &str, url: &str, announce: Announce<'_>) -> Result<reqwest::Response, RegistryError> {
        self.policy
            .send(what, || self.http.get(url).header("cache-control", "no-cache").send(), announce)
            .await
            .map_err(|e| transport(what, url, &e))
    }

    /// `config.json` of the index.
    pub(crate) async fn config(&self, announce: Announce<'_>) -> Result<IndexConfig, RegistryError> {
        let url = format!("{}config.json", self.index);
        let what = "reading the index's config.json";
        let response = self.get(what, &url, announce).await?;
        if !response.status().is_success() {
            return Err(refused(what, &url, response).await);
        }
        let text = response.text().await.map_err(|e| transport(what, &url, &e))?;
        serde_json::from_str(&text).map_err(|e| RegistryError::Transport {
            what: what.into(),
            url,
            cause: format!("not an index config ({e})"),
        })
    }

    /// Every version the index lists for a crate; `None` when the index has no such crate.
    pub(crate) async fn index_entries(
        &self,
        name: &str,
        announce: Announce<'_>,
    ) -> Result<Option<Vec<IndexEntry>>, RegistryError> {
        let url = format!("{}{}", self.index, index_path(name));
        let what = format!("reading the index of `{name}`");
        let response = self.get(&what, &url, announce).await?;
        match response.status().as_u16() {
            404 | 410 | 451 => return Ok(None),
            s if !(200..300).contains(&s) => return Err(refused(&what, &url, response).await),
            _ => {}
        }
        let text = response.text().await.map_err(|e| transport(&what, &url, &e))?;
        let entries =
            text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect();
        Ok(Some(entries))
    }

    /// The crate's record (`GET /api/v1/crates/{name}`); `None` when the API does not know it
    /// (or this registry has no such endpoint).
    pub(crate) async fn crate_record(
        &self,
        name: &str,
        announce: Announce<'_>,
    ) -> Result<Option<CrateRecord>, RegistryError> {
        let url = format!("{}/api/v1/crates/{name}", self.api);
        let what = format!("reading the record of `{name}`");
        let response = self.get(&what, &url, announce).await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let value: Value = response.json().await.unwrap_or(Value::Null);
        let Some(krate) = value.get("crate") else { return Ok(None) };
        Ok(Some(CrateRecord { trustpub_only: krate.get("trustpub_only").and_then(Value::as_bool).unwrap_or(false) }))
    }

    /// `GET /api/v1/me` with the token: liveness by the 403's detail.
    pub(crate) async fn me(&self, token: &Secret, announce: Announce<'_>) -> Result<Liveness, RegistryError> {
        let url = format!("{}/api/v1/me", self.api);
        let what = "checking the token (GET /api/v1/me)";
        let response = self
            .policy
            .send(what, || self.http.get(&url).header("authorization", token.expose()).send(), announce)
            .await
            .map_err(|e| transport(what, &url, &e))?;
        let status = response.status().as_u16();
        let detail = error_detail(&response.text().await.unwrap_or_default());
        Ok(match status {
            403 if detail.contains("can only be performed on the") => Liveness::Live,
            403 if detail.contains("authentication failed") => Liveness::Dead { status, detail },
            401 => Liveness::Dead { status, detail },
            _ => Liveness::Unknown { status, detail },
        })
    }

    /// Downloads a version's `.crate`.
    pub(crate) async fn download(&self, url: &str, announce: Announce<'_>) -> Result<Vec<u8>, RegistryError> {
        let what = "downloading the .crate";
        let response = self.get(what, url, announce).await?;
        if !response.status().is_success() {
            return Err(refused(what, url, response).await);
        }
        Ok(response.bytes().await.map_err(|e| transport(what, url, &e))?.to_vec())
    }

    /// One publish request (`PUT /api/v1/crates/new`), not retried here: the caller decides,
    /// after looking at what the failed attempt left.
    pub(crate) async fn publish(&self, token: &Secret, body: Vec<u8>, what: &str) -> Result<(), RegistryError> {
        let url = format!("{}/api/v1/crates/new", self.api);
        let response = self
            .http
            .put(&url)
            .header("authorization", token.expose())
            .header("content-type", "application/octet-stream")
            .header("accept", "application/json")
            .timeout(Duration::from_secs(600))
            .body(body)
            .send()
            .await
            .map_err(|e| transport(what, &url, &e))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refused(what, &url, response).await)
    }

    /// The GitHub Actions OIDC token for the registry's audience (A9.1).
    pub(crate) async fn oidc_token(
        &self,
        request_url: &str,
        request_token: &Secret,
        announce: Announce<'_>,
    ) -> Result<Secret, RegistryError> {
        let separator = if request_url.contains('?') { '&' } else { '?' };
        let url = format!("{request_url}{separator}audience={}", self.audience());
        let what = "requesting the GitHub Actions OIDC token";
        let response = self
            .policy
            .send(
                what,
                || self.http.get(&url).header("authorization", format!("Bearer {}", request_token.expose())).send(),
                announce,
            )
            .await
            .map_err(|e| transport(what, request_url, &e))?;
        if !response.status().is_success() {
            return Err(refused(what, request_url, response).await);
        }
        let value: Value = response.json().await.map_err(|e| transport(what, request_url, &e))?;
        value.get("value").and_then(Value::as_str).map(Secret::new).ok_or_else(|| RegistryError::Transport {
            what: what.into(),
            url: request_url.into(),
            cause: "the answer has no `value`".into(),
        })
    }

    /// Exchanges the OIDC token for a 30-minute publish token (A9.2). Not retried on a 4xx:
    /// a refused exchange does not use up the JWT, but the refusal is final.
    pub(crate) async fn exchange(&self, jwt: &Secret, announce: Announce<'_>) -> Result<Secret, RegistryError> {
        let url = format!("{}/api/v1/trusted_publishing/tokens", self.api);
        let what = "the trusted publishing exchange";
        let body = json!({ "jwt": jwt.expose() });
        let response = self
            .policy
            .send(what, || self.http.post(&url).json(&body).send(), announce)
            .await
            .map_err(|e| transport(what, &url, &e))?;
        if !response.status().is_success() {
            return Err(refused(what, &url, response).await);
        }
        let value: Value = response.json().await.map_err(|e| transport(what, &url, &e))?;
        value.get("token").and_then(Value::as_str).map(Secret::new).ok_or_else(|| RegistryError::Transport {
            what: what.into(),
            url,
            cause: "the answer has no `token`".into(),
        })
    }

    /// Revokes a trusted-publishing token (204 whatever its state).
    pub(crate) async fn revoke(&self, token: &Secret, announce: Announce<'_>) -> Result<(), RegistryError> {
        let url = format!("{}/api/v1/trusted_publishing/tokens", self.api);
        let what = "revoking the trusted publishing token";
        let response = self
            .policy
            .send(
                what,
                || self.http.delete(&url).header("authorization", format!("Bearer {}", token.expose())).send(),
                announce,
            )
            .await
            .map_err(|e| transport(what, &url, &e))?;
        if !response.status().is_success() {
            return Err(refused(what, &url, response).await);
        }
        Ok(())
    }
}

/// The publish request's body (A1): u32 LE length of the JSON metadata, the JSON, u32 LE
/// length of the `.crate`, the `.crate`.
pub(crate) fn publish_body(metadata: &Value, krate: &[u8]) -> Vec<u8> {
    let json = metadata.to_string();
    let mut body = Vec::with_capacity(8 + json.len() + krate.len());
    body.extend_from_slice(&(json.len() as u32).to_le_bytes());
    body.extend_from_slice(json.as_bytes());
    body.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    body.extend_from_slice(krate);
    body
}

/// True when a publish refusal says the version is already there: the crate registry's
/// `crate version `V` is already uploaded` (400), or another registry's 409/400 "already
/// exists".
pub(crate) fn is_already_uploaded(err: &RegistryError) -> bool {
    matches!(err, RegistryError::Refused { status: 400 | 409, detail, .. }
        if detail.contains("already uploaded") || detail.contains("already exists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_and_versions() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("Syn"), "3/s/syn");
        assert_eq!(index_path("Cargo"), "ca/rg/cargo");
        let entry = IndexEntry { name: "a".into(), vers: "1.0.0+x".into(), cksum: String::new(), yanked: true };
        assert!(entry.is_version("1.0.0"), "build metadata is ignored, yanked counts");
    }

    #[test]
    fn body_layout_and_details() {
        let body = publish_body(&json!({"name": "a"}), b"tgz");
        assert_eq!(&body[..4], &12u32.to_le_bytes());
        assert_eq!(&body[4..16], br#"{"name":"a"}"#);
        assert_eq!(&body[16..20], &3u32.to_le_bytes());
        assert_eq!(&body[20..], b"tgz");
        assert_eq!(error_detail(r#"{"errors":[{"detail":"authentication failed"}]}"#), "authentication failed");
        assert_eq!(error_detail(""), "(empty body)");
        let date = parse_retry_after("Tue, 01 Dec 2026 10:00:00 GMT").unwrap();
        assert_eq!(httpdate::fmt_http_date(date), "Tue, 01 Dec 2026 10:00:00 GMT");
    }

    #[test]
    fn download_urls_follow_the_template() {
        let plain = IndexConfig { dl: "https://static.example/crates".into(), api: None };
        assert_eq!(plain.download_url("serde", "1.0.0", "ab"), "https://static.example/crates/serde/1.0.0/download");
        let templated =
            IndexConfig { dl: "http://x/{prefix}/{crate}-{version}.crate?{sha256-checksum}".into(), api: None };
        assert_eq!(templated.download_url("serde", "1.0.0", "ab"), "http://x/se/rd/serde-1.0.0.crate?ab");
    }

    #[test]
    fn the_audience_is_the_host() {
        let client = RegistryClient::new("sparse+https://index.crates.io/", NetworkPolicy::default())
            .with_api("https://crates.io");
        assert_eq!(client.audience(), "crates.io");
        let local = client.with_api("http://127.0.0.1:8080/");
        assert_eq!(local.audience(), "127.0.0.1:8080");
    }
}
