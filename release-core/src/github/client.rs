//! The GitHub releases API as the release tool uses it: octocrab for the JSON calls, reqwest
//! for what octocrab cannot do right.
//!
//! Two things go around octocrab on purpose:
//! - uploads: octocrab's `upload_asset` holds the whole file in memory and glues the API base
//!   path onto the absolute `upload_url`, which breaks GitHub Enterprise Server
//!   (`/api/v3` + `/api/uploads`). Uploads here stream from disk, with `Content-Length`, to
//!   exactly the `upload_url` the release JSON returned;
//! - pagination: octocrab follows `Link: rel="next"` URLs, but it sends the token only to
//!   `api.github.com` or to relative URLs, so on GHES every page after the first would be
//!   anonymous (no drafts, or a 404 on a private repository). Pages are requested by number.
//!
//! Every failure is an [`ApiError`] that keeps what the diagnosis needs: the request, the
//! status, GitHub's message and error codes, and the headers `X-Accepted-GitHub-Permissions`,
//! `X-OAuth-Scopes`, `X-Accepted-OAuth-Scopes`. The token is never part of any of them.

use std::fmt;
use std::time::Duration;

use camino::Utf8Path;
use futures_util::StreamExt;
use octocrab::Octocrab;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::NetworkConfig;
use crate::github::target::Target;

/// Requests per page when listing: GitHub's maximum.
const PER_PAGE: u8 = 100;
/// Listing stops after this many pages: drafts and recent releases are listed first.
const MAX_PAGES: u32 = 20;
const API_VERSION: &str = "2022-11-28";
const USER_AGENT: &str = concat!("release-orchestrator/", env!("CARGO_PKG_VERSION"));

/// A failed GitHub request, with everything a diagnosis reads from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// What we were doing, as a verb phrase: "create a draft release".
    pub action: String,
    pub method: String,
    pub url: String,
    /// The HTTP status; `None` when no answer came (connection, timeout, TLS).
    pub status: Option<u16>,
    /// GitHub's `message`, or the transport error.
    pub message: String,
    /// The `code`s of GitHub's `errors` array (`already_exists`, `missing_field`).
    pub codes: Vec<String>,
    /// `X-Accepted-GitHub-Permissions`: what an integration or fine-grained token would need.
    pub accepted_permissions: Option<String>,
    /// `X-OAuth-Scopes`: the scopes a classic token has (present only for classic tokens).
    pub oauth_scopes: Option<String>,
    /// `X-Accepted-OAuth-Scopes`: the scopes the endpoint accepts.
    pub accepted_oauth_scopes: Option<String>,
    /// `X-RateLimit-Remaining`.
    pub rate_limit_remaining: Option<u64>,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} {} answered {status} {}", self.method, self.url, self.message),
            None => write!(f, "{} {} failed: {}", self.method, self.url, self.message),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn transport(action: &str, method: &str, url: &str, message: impl Into<String>) -> Self {
        ApiError {
            action: action.into(),
            method: method.into(),
            url: url.into(),
            status: None,
            message: message.into(),
            codes: Vec::new(),
            accepted_permissions: None,
            oauth_scopes: None,
            accepted_oauth_scopes: None,
            rate_limit_remaining: None,
            retry_after: None,
        }
    }

    fn with_headers(mut self, header: impl Fn(&str) -> Option<String>) -> Self {
        self.accepted_permissions = header("x-accepted-github-permissions");
        self.oauth_scopes = header("x-oauth-scopes");
        self.accepted_oauth_scopes = header("x-accepted-oauth-scopes");
        self.rate_limit_remaining = header("x-ratelimit-remaining").and_then(|v| v.trim().parse().ok());
        self.retry_after = header("retry-after");
        self
    }

    fn from_octocrab(err: octocrab::Error, action: &str, method: &str, url: &str) -> Self {
        match err {
            octocrab::Error::GitHub { source, .. } => {
                let mut out = ApiError::transport(action, method, url, source.message.clone());
                out.status = Some(source.status_code.as_u16());
                out.codes = codes_of(source.errors.as_deref().unwrap_or_default());
                let headers = source.headers.clone();
                out.with_headers(|name| headers.as_ref()?.get(name)?.to_str().ok().map(str::to_owned))
            }
            other => ApiError::transport(action, method, url, other.to_string()),
        }
    }

    /// Whether GitHub said a resource of this kind already exists (422 `already_exists`).
    pub fn already_exists(&self) -> bool {
        self.status == Some(422) && self.codes.iter().any(|c| c == "already_exists")
    }
}

fn codes_of(errors: &[serde_json::Value]) -> Vec<String> {
    errors.iter().filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(str::to_owned)).collect()
}

/// A release as the tool needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRelease {
    pub id: u64,
    pub tag: String,
    pub draft: bool,
    pub html_url: String,
    /// The upload URL template as GitHub returned it (`…/assets{?name,label}`).
    pub upload_url: String,
    pub assets: Vec<RemoteAsset>,
}

/// An asset of a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteAsset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// `uploaded` when complete; `open` or `starter` when an upload did not finish.
    pub state: String,
    /// Lowercase hex SHA-256 from GitHub's `digest` (`sha256:…`), when GitHub reports one.
    pub sha256: Option<String>,
}

impl From<octocrab::models::repos::Asset> for RemoteAsset {
    fn from(asset: octocrab::models::repos::Asset) -> Self {
        RemoteAsset {
            id: asset.id.0,
            name: asset.name,
            size: asset.size.max(0) as u64,
            state: asset.state,
            sha256: asset.digest.as_deref().and_then(parse_digest),
        }
    }
}

impl From<octocrab::models::repos::Release> for RemoteRelease {
    fn from(release: octocrab::models::repos::Release) -> Self {
        RemoteRelease {
            id: release.id.0,
            tag: release.tag_name,
            draft: release.draft,
            html_url: release.html_url.to_string(),
            upload_url: release.upload_url,
            assets: release.assets.into_iter().map(RemoteAsset::from).collect(),
        }
    }
}

/// `sha256:<hex>` → `<hex>`.
pub fn parse_digest(digest: &str) -> Option<String> {
    digest.strip_prefix("sha256:").filter(|hex| hex.len() == 64).map(str::to_ascii_lowercase)
}

/// What the repository endpoint tells about the token without writing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryAccess {
    pub private: bool,
    /// `permissions.push`, when GitHub reports it (it does for user tokens).
    pub push: Option<bool>,
    /// `X-OAuth-Scopes`: present only for classic personal access tokens.
    pub oauth_scopes: Option<String>,
}

/// A release to create.
#[derive(Clone, Debug, Default)]
pub struct NewRelease {
    pub tag: String,
    pub name: String,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub target_commitish: Option<String>,
}

/// A client for one repository.
#[derive(Clone)]
pub struct GithubClient {
    crab: Octocrab,
    http: reqwest::Client,
    target: Target,
}

impl fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient").field("target", &self.target).finish_non_exhaustive()
    }
}

impl GithubClient {
    /// A client for the target's repository. Must be called inside a tokio runtime.
    pub fn new(target: &Target, network: &NetworkConfig) -> Result<Self, ApiError> {
        let build_error =
            |e: &dyn fmt::Display| ApiError::transport("set up the GitHub client", "", &target.api_url, e.to_string());
        let stall = Duration::from_secs(network.stall_timeout_secs.max(1));
        let crab = Octocrab::builder()
            .base_uri(target.api_url.as_str())
            .map_err(|e| build_error(&e))?
            .personal_token(target.token.expose().to_owned())
            .add_header(reqwest::header::USER_AGENT, USER_AGENT.into())
            .add_header(reqwest::header::HeaderName::from_static("x-github-api-version"), API_VERSION.into())
            .set_connect_timeout(Some(Duration::from_secs(30)))
            .set_read_timeout(Some(stall))
            .build()
            .map_err(|e| build_error(&e))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(stall)
            .build()
            .map_err(|e| build_error(&e))?;
        Ok(GithubClient { crab, http, target: target.clone() })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.target.api_url)
    }

    fn repo_route(&self) -> String {
        format!("/repos/{}/{}", self.target.owner, self.target.repo)
    }

    /// Reads the repository: visibility, push permission, and a classic token's scopes.
    pub async fn repository(&self) -> Result<RepositoryAccess, ApiError> {
        const ACTION: &str = "read the repository";
        let route = self.repo_route();
        let url = self.url(&route);
        let response =
            self.crab._get(route.as_str()).await.map_err(|e| ApiError::from_octocrab(e, ACTION, "GET", &url))?;
        let response =
            octocrab::map_github_error(response).await.map_err(|e| ApiError::from_octocrab(e, ACTION, "GET", &url))?;
        let oauth_scopes = response.headers().get("x-oauth-scopes").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body =
            self.crab.body_to_string(response).await.map_err(|e| ApiError::from_octocrab(e, ACTION, "GET", &url))?;
        #[derive(Deserialize)]
        struct Repository {
            #[serde(default)]
            private: bool,
            permissions: Option<Permissions>,
        }
        #[derive(Deserialize)]
        struct Permissions {
            push: bool,
        }
        let repository: Repository = serde_json::from_str(&body)
            .map_err(|e| ApiError::transport(ACTION, "GET", &url, format!("unexpected answer: {e}")))?;
        Ok(RepositoryAccess { private: repository.private, push: repository.permissions.map(|p| p.push), oauth_scopes })
    }

    /// Every release whose tag is `tag`, drafts included (drafts are listed only for tokens
    /// with push access, and `GET /releases/tags/{tag}` never finds them).
    pub async fn releases_for_tag(&self, tag: &str) -> Result<Vec<RemoteRelease>, ApiError> {
        const ACTION: &str = "list the releases";
        let url = self.url(&format!("{}/releases", self.repo_route()));
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self
                .crab
                .repos(&self.target.owner, &self.target.repo)
                .releases()
                .list()
                .per_page(PER_PAGE)
                .page(page)
                .send()
                .await
                .map_err(|e| ApiError::from_octocrab(e, ACTION, "GET", &url))?
                .items;
            let last = items.len() < usize::from(PER_PAGE);
            found.extend(items.into_iter().filter(|r| r.tag_name == tag).map(RemoteRelease::from));
            if last {
                break;
            }
        }
        Ok(found)
    }

    pub async fn create_release(&self, release: &NewRelease) -> Result<RemoteRelease, ApiError> {
        let action = if release.draft { "create a draft release" } else { "create a release" };
        let url = self.url(&format!("{}/releases", self.repo_route()));
        let repos = self.crab.repos(&self.target.owner, &self.target.repo);
        let releases = repos.releases();
        let mut builder =
            releases.create(&release.tag).name(&release.name).draft(release.draft).prerelease(release.prerelease);
        if let Some(body) = &release.body {
            builder = builder.body(body);
        }
        if let Some(commitish) = &release.target_commitish {
            builder = builder.target_commitish(commitish);
        }
        builder.send().await.map(RemoteRelease::from).map_err(|e| ApiError::from_octocrab(e, action, "POST", &url))
    }

    /// Release notes generated by GitHub for a tag (writes nothing).
    pub async fn generate_notes(&self, tag: &str, target_commitish: Option<&str>) -> Result<String, ApiError> {
        let url = self.url(&format!("{}/releases/generate-notes", self.repo_route()));
        let repos = self.crab.repos(&self.target.owner, &self.target.repo);
        let releases = repos.releases();
        let mut builder = releases.generate_release_notes(tag);
        if let Some(commitish) = target_commitish {
            builder = builder.target_commitish(commitish);
        }
        builder
            .send()
            .await
            .map(|notes| notes.body)
            .map_err(|e| ApiError::from_octocrab(e, "generate release notes", "POST", &url))
    }

    pub async fn delete_release(&self, id: u64) -> Result<(), ApiError> {
        let url = self.url(&format!("{}/releases/{id}", self.repo_route()));
        self.crab
            .repos(&self.target.owner, &self.target.repo)
            .releases()
            .delete(id)
            .await
            .map_err(|e| ApiError::from_octocrab(e, "delete the release", "DELETE", &url))
    }

    /// Publishes a draft: `PATCH {"draft": false}`.
    pub async fn publish_release(&self, id: u64) -> Result<RemoteRelease, ApiError> {
        let url = self.url(&format!("{}/releases/{id}", self.repo_route()));
        self.crab
            .repos(&self.target.owner, &self.target.repo)
            .releases()
            .update(id)
            .draft(false)
            .send()
            .await
            .map(RemoteRelease::from)
            .map_err(|e| ApiError::from_octocrab(e, "publish the release", "PATCH", &url))
    }

    pub async fn list_assets(&self, release_id: u64) -> Result<Vec<RemoteAsset>, ApiError> {
        let url = self.url(&format!("{}/releases/{release_id}/assets", self.repo_route()));
        let mut assets = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self
                .crab
                .repos(&self.target.owner, &self.target.repo)
                .releases()
                .assets(release_id)
                .per_page(PER_PAGE)
                .page(page)
                .send()
                .await
                .map_err(|e| ApiError::from_octocrab(e, "list the release's assets", "GET", &url))?
                .items;
            let last = items.len() < usize::from(PER_PAGE);
            assets.extend(items.into_iter().map(RemoteAsset::from));
            if last {
                break;
            }
        }
        Ok(assets)
    }

    pub async fn delete_asset(&self, asset_id: u64) -> Result<(), ApiError> {
        let url = self.url(&format!("{}/releases/assets/{asset_id}", self.repo_route()));
        self.crab
            .repos(&self.target.owner, &self.target.repo)
            .release_assets()
            .delete(asset_id)
            .await
            .map_err(|e| ApiError::from_octocrab(e, "delete an asset", "DELETE", &url))
    }

    /// Uploads a file as an asset, streamed from disk, to the release's own `upload_url`.
    /// `progress` is called with the bytes sent so far.
    pub async fn upload_asset(
        &self,
        upload_url: &str,
        name: &str,
        path: &Utf8Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<RemoteAsset, ApiError> {
        const ACTION: &str = "upload an asset";
        let template_free = upload_url.split('{').next().unwrap_or(upload_url);
        let mut url = reqwest::Url::parse(template_free)
            .map_err(|e| ApiError::transport(ACTION, "POST", upload_url, format!("bad upload URL: {e}")))?;
        url.query_pairs_mut().append_pair("name", name);
        let shown = url.to_string();
        if !self.target.may_receive_token(&url) {
            return Err(ApiError::transport(
                ACTION,
                "POST",
                &shown,
                format!("refusing to send the GitHub token to a host other than the API's ({})", self.target.api_url),
            ));
        }
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| ApiError::transport(ACTION, "POST", &shown, format!("cannot open {path}: {e}")))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| ApiError::transport(ACTION, "POST", &shown, format!("cannot read {path}: {e}")))?
            .len();
        let mut sent = 0u64;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
            if let Ok(bytes) = &chunk {
                sent += bytes.len() as u64;
                progress(sent);
            }
            chunk
        });
        let response = self
            .http
            .post(url)
            .bearer_auth(self.target.token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .map_err(|e| ApiError::transport(ACTION, "POST", &shown, error_chain(&e)))?;
        #[derive(Deserialize)]
        struct Uploaded {
            id: u64,
            name: String,
            size: u64,
            state: String,
            digest: Option<String>,
        }
        let asset: Uploaded = json_or_error(response, ACTION, "POST", &shown).await?;
        Ok(RemoteAsset {
            id: asset.id,
            name: asset.name,
            size: asset.size,
            state: asset.state,
            sha256: asset.digest.as_deref().and_then(parse_digest),
        })
    }

    /// Downloads an asset and hashes it on the way, for servers that report no digest.
    pub async fn download_sha256(&self, asset_id: u64) -> Result<(String, u64), ApiError> {
        const ACTION: &str = "download an asset";
        let url = self.url(&format!("{}/releases/assets/{asset_id}", self.repo_route()));
        // github.com answers with a redirect to a storage host; reqwest drops the
        // Authorization header when a redirect leaves the origin.
        let response = self
            .http
            .get(&url)
            .bearer_auth(self.target.token.expose())
            .header(reqwest::header::ACCEPT, "application/octet-stream")
            .send()
            .await
            .map_err(|e| ApiError::transport(ACTION, "GET", &url, error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(status_error(response, ACTION, "GET", &url).await);
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::transport(ACTION, "GET", &url, error_chain(&e)))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finalize()), size))
    }
}

async fn json_or_error<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    action: &str,
    method: &str,
    url: &str,
) -> Result<T, ApiError> {
    if !response.status().is_success() {
        return Err(status_error(response, action, method, url).await);
    }
    let text = response.text().await.map_err(|e| ApiError::transport(action, method, url, error_chain(&e)))?;
    serde_json::from_str(&text).map_err(|e| ApiError::transport(action, method, url, format!("unexpected answer: {e}")))
}

async fn status_error(response: reqwest::Response, action: &str, method: &str, url: &str) -> ApiError {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let parsed: Option<Body> = serde_json::from_str(&text).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.message.clone())
        .or_else(|| (!text.trim().is_empty()).then(|| text.trim().chars().take(200).collect()))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let mut error = ApiError::transport(action, method, url, message);
    error.status = Some(status.as_u16());
    error.codes = parsed.map(|b| codes_of(&b.errors)).unwrap_or_default();
    error.with_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// An error and its causes on one line: reqwest's own message alone ("error sending
/// request") does not say what went wrong.
fn error_chain(err: &dyn std::error::Error) -> String {
    crate::secret::scrub_url_credentials(&error_chain_unscrubbed(err))
}

fn error_chain_unscrubbed(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        let text = err.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_parsed() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_digest(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(parse_digest("sha1:abc"), None);
        assert_eq!(parse_digest("sha256:short"), None);
    }
}
