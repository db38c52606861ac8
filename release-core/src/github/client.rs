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
//!
//! Every call goes through the [`crate::net::NetworkPolicy`] (`[network]`):
//! octocrab's own retry layer is not used (it is not enabled, and it would not honour
//! `Retry-After` or re-check a mutation); instead each call here is wrapped in
//! [`NetworkPolicy::retry`](crate::net::NetworkPolicy::retry), and a mutating call looks at
//! what a failed attempt left before it tries again: a create that lost its answer adopts the
//! draft it made, a delete that finds nothing left succeeds. octocrab's read timeout (the stall
//! timeout) ends a JSON call whose server stopped answering; uploads and downloads are watched
//! by [`crate::net::watch`] instead, because reqwest's read timeout runs from the
//! start of the request and would cut a long upload that is still moving.
//!
//! Every mutating request (POST, PATCH, DELETE, asset uploads included), every attempt of it,
//! first waits for its turn at the client's [`Pacer`]: GitHub asks integrations to leave about
//! a second between mutating requests of one token, or risk its secondary rate limit. Reads
//! are not paced. Steps share one pacer per API and token for the whole run
//! (one pacer per token, shared through the run's sessions), so the probe's delete, the publish step's create and its uploads are
//! spaced as one stream of requests.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use camino::Utf8Path;
use futures_util::StreamExt;
use octocrab::Octocrab;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::NetworkConfig;
use crate::github::target::Target;
use crate::net::{self, Activity, NetworkPolicy, Pacer, RetryNotice, Retryable, Verdict};

/// Requests per page when listing: GitHub's maximum.
const PER_PAGE: u8 = 100;
/// Listing stops after this many pages: drafts and recent releases are listed first.
const MAX_PAGES: u32 = 20;
const API_VERSION: &str = "2022-11-28";
const USER_AGENT: &str = concat!("release-orchestrator/", env!("CARGO_PKG_VERSION"));

/// A failed GitHub request, with everything a diagnosis reads from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
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
    /// The `message`s of GitHub's `errors` array: where a 422 says what it refused
    /// (`tag_name was used by an immutable release`, `pre_receive Repository rule violations
    /// found …`).
    pub details: Vec<String>,
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
    /// What the network policy makes of this failure.
    pub retry: Verdict,
    /// How many attempts were made before giving up (1 when the failure was final at once).
    pub attempts: u32,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => {
                write!(f, "{} {} answered {status} {}", self.method, self.url, self.message)?;
                if !self.details.is_empty() {
                    let details: Vec<String> =
                        self.details.iter().map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
                    write!(f, " ({})", details.join("; "))?;
                }
            }
            None => write!(f, "{} {} failed: {}", self.method, self.url, self.message)?,
        }
        if self.attempts > 1 { write!(f, " (gave up after {} attempts)", self.attempts) } else { Ok(()) }
    }
}

impl std::error::Error for ApiError {}

impl Retryable for ApiError {
    fn verdict(&self) -> Verdict {
        self.retry
    }

    fn reason(&self) -> String {
        let message: String = self.message.chars().take(120).collect();
        match self.status {
            Some(status) => format!("{status} {message}"),
            // A transport error's chain ends with the cause that matters: "Connection reset by
            // peer (os error 104)", "timed out", "no data moved for 60s".
            None => match self.message.rsplit(": ").next().unwrap_or(&self.message) {
                "timed out" => "a timeout".into(),
                cause => cause.to_owned(),
            },
        }
    }
}

impl ApiError {
    pub(crate) fn transport(action: &str, method: &str, url: &str, message: impl Into<String>) -> Self {
        ApiError {
            action: action.into(),
            method: method.into(),
            url: url.into(),
            status: None,
            message: message.into(),
            codes: Vec::new(),
            details: Vec::new(),
            accepted_permissions: None,
            oauth_scopes: None,
            accepted_oauth_scopes: None,
            rate_limit_remaining: None,
            retry_after: None,
            retry: Verdict::Final,
            attempts: 1,
        }
    }

    /// Marks a failure without an answer (connection, timeout, stall) as worth retrying.
    fn transient(mut self, transient: bool) -> Self {
        if transient {
            self.retry = Verdict::Retry { after: None };
        }
        self
    }

    /// A transfer that stalled.
    fn stalled(action: &str, method: &str, url: &str, stalled: net::Stalled) -> Self {
        ApiError::transport(action, method, url, stalled.to_string()).transient(true)
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
                out.details = details_of(source.errors.as_deref().unwrap_or_default());
                let headers = source.headers.clone().unwrap_or_default();
                out.retry = net::classify(source.status_code, &headers);
                out.with_headers(|name| headers.get(name)?.to_str().ok().map(str::to_owned))
            }
            // No answer: the connection failed, was cut, or timed out (octocrab's read timeout
            // is the stall timeout). Worth another attempt.
            transport @ (octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. }) => {
                ApiError::transport(action, method, url, error_chain(&transport)).transient(true)
            }
            other => ApiError::transport(action, method, url, error_chain(&other)),
        }
    }

    /// Whether GitHub said a resource of this kind already exists (422 `already_exists`).
    pub(crate) fn already_exists(&self) -> bool {
        self.status == Some(422) && self.codes.iter().any(|c| c == "already_exists")
    }

    /// A 422 saying the tag belonged to a deleted immutable release (a burned tag).
    pub(crate) fn tag_burned(&self) -> bool {
        self.status == Some(422) && self.details.iter().any(|d| d.contains("used by an immutable release"))
    }

    /// A 422 saying a repository rule refused the tag (`pre_receive Repository rule
    /// violations found`).
    pub(crate) fn rule_violation(&self) -> bool {
        self.status == Some(422)
            && (self.details.iter().any(|d| d.contains("Repository rule violations"))
                || self.message.contains("Repository rule violations"))
    }
}

fn details_of(errors: &[serde_json::Value]) -> Vec<String> {
    errors.iter().filter_map(|e| e.get("message").and_then(|m| m.as_str()).map(str::to_owned)).collect()
}

fn codes_of(errors: &[serde_json::Value]) -> Vec<String> {
    errors.iter().filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(str::to_owned)).collect()
}

/// The action of a failed `bundle_url` download: its status is the storage host's, not the
/// API's (a 403 or 404 there says nothing about the token or the repository).
pub(crate) const DOWNLOAD_BUNDLE: &str = "download an attestation bundle";

/// The most an attestation bundle may weigh, compressed or not (a bundle is a few KiB; a
/// provenance over many files, some hundred).
const MAX_BUNDLE_BYTES: usize = 16 << 20;

/// An attestation from a listing, its bundle resolved (inline or from its `bundle_url`).
#[derive(Clone, Debug)]
pub(crate) struct ListedAttestation {
    /// Its id: the item's `id` when the answer has one, else the number its blob is named by
    /// (`…/N.json.sn`, as GitHub names them; an inference, not documented).
    pub id: Option<u64>,
    /// The Sigstore bundle.
    pub bundle: serde_json::Value,
}

/// The number a blob URL's file is named by: `…/123.json.sn?…` → 123.
fn blob_number(url: &str) -> Option<u64> {
    let path = url.split(['?', '#']).next()?;
    let file = path.rsplit('/').next()?;
    file.split('.').next()?.parse().ok()
}

/// A release as the tool needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteRelease {
    pub id: u64,
    pub tag: String,
    pub draft: bool,
    /// GitHub's `immutable`: published with release immutability, tag and assets locked.
    pub immutable: bool,
    pub name: Option<String>,
    pub html_url: String,
    /// The upload URL template as GitHub returned it (`…/assets{?name,label}`).
    pub upload_url: String,
    pub assets: Vec<RemoteAsset>,
}

/// An asset of a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteAsset {
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
            immutable: release.immutable.unwrap_or(false),
            name: release.name,
            html_url: release.html_url.to_string(),
            upload_url: release.upload_url,
            assets: release.assets.into_iter().map(RemoteAsset::from).collect(),
        }
    }
}

/// `sha256:<hex>` → `<hex>`.
pub(crate) fn parse_digest(digest: &str) -> Option<String> {
    digest.strip_prefix("sha256:").filter(|hex| hex.len() == 64).map(str::to_ascii_lowercase)
}

/// What the repository endpoint tells about the token without writing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RepositoryAccess {
    pub private: bool,
    /// `permissions.push`, when GitHub reports it (it does for user tokens).
    pub push: Option<bool>,
    /// `X-OAuth-Scopes`: present only for classic personal access tokens.
    pub oauth_scopes: Option<String>,
}

/// A release to create.
#[derive(Clone, Debug, Default)]
pub(crate) struct NewRelease {
    pub tag: String,
    pub name: String,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub target_commitish: Option<String>,
}

/// Something told about every retry: a step turns it into a warning event.
pub(crate) type RetryObserver<'r> = &'r dyn net::RetryListener;

/// A client for one repository.
#[derive(Clone)]
pub(crate) struct GithubClient<'r> {
    crab: Octocrab,
    /// For uploads and downloads: no read timeout (a transfer is watched by
    /// [`net::watch`] instead), a connect timeout.
    http: reqwest::Client,
    target: Target,
    policy: NetworkPolicy,
    observer: RetryObserver<'r>,
    /// Spaces out mutating requests; fixed when the client is built, and shared by every step
    /// of a run with the same API and token (the run builds one client per API and token:
    /// `crate::session`).
    pacer: Arc<Pacer>,
}

impl fmt::Debug for GithubClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient")
            .field("target", &self.target)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GithubClient<'static> {
    /// A client for the target's repository, with its own pacer. Must be called inside a tokio
    /// runtime. Only the run's sessions build one (`crate::session::Sessions::github`), so that
    /// every step of a run shares one pacer per API and token.
    pub(crate) fn new(target: &Target, network: &NetworkConfig) -> Result<Self, ApiError> {
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
            .build()
            .map_err(|e| build_error(&e))?;
        let policy = NetworkPolicy::from(network);
        Ok(GithubClient {
            crab,
            http,
            target: target.clone(),
            observer: &net::ignore_retries,
            pacer: Arc::new(Pacer::new(policy.mutation_interval)),
            policy,
        })
    }
}

impl<'r> GithubClient<'r> {
    /// The same client, telling `observer` about every retry.
    pub(crate) fn announcing<'o>(self, observer: RetryObserver<'o>) -> GithubClient<'o> {
        GithubClient {
            crab: self.crab,
            http: self.http,
            target: self.target,
            policy: self.policy,
            observer,
            pacer: self.pacer,
        }
    }

    pub(crate) fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Runs `operation` under the network policy; the error says how many attempts were made.
    /// `operation` gets the attempt number, so that a mutation can re-check first.
    pub(crate) async fn with_retries<T, F, Fut>(&self, what: &str, operation: F) -> Result<T, ApiError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.policy.retry(what, operation, &|notice: &RetryNotice| self.observer.retrying(notice)).await.map_err(
            |gave_up| {
                let mut error = gave_up.error;
                error.attempts = gave_up.attempts;
                error
            },
        )
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.target.api_url)
    }

    fn repo_route(&self) -> String {
        format!("/repos/{}/{}", self.target.owner, self.target.repo)
    }

    /// Reads the repository: visibility, push permission, and a classic token's scopes.
    pub(crate) async fn repository(&self) -> Result<RepositoryAccess, ApiError> {
        const ACTION: &str = "read the repository";
        let route = &self.repo_route();
        let url = &self.url(route);
        self.with_retries(&format!("GET {url}"), |_| async move {
            let fail = |e| ApiError::from_octocrab(e, ACTION, "GET", url);
            let response = self.crab._get(route.as_str()).await.map_err(fail)?;
            let response = octocrab::map_github_error(response).await.map_err(fail)?;
            let oauth_scopes =
                response.headers().get("x-oauth-scopes").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = self.crab.body_to_string(response).await.map_err(fail)?;
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
                .map_err(|e| ApiError::transport(ACTION, "GET", url, format!("unexpected answer: {e}")))?;
            Ok(RepositoryAccess {
                private: repository.private,
                push: repository.permissions.map(|p| p.push),
                oauth_scopes,
            })
        })
        .await
    }

    /// Every release whose tag is `tag`, drafts included (drafts are listed only for tokens
    /// with push access, and `GET /releases/tags/{tag}` never finds them).
    pub(crate) async fn releases_for_tag(&self, tag: &str) -> Result<Vec<RemoteRelease>, ApiError> {
        const ACTION: &str = "list the releases";
        let url = &self.url(&format!("{}/releases", self.repo_route()));
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self
                .with_retries(&format!("GET {url}"), |_| async move {
                    self.crab
                        .repos(&self.target.owner, &self.target.repo)
                        .releases()
                        .list()
                        .per_page(PER_PAGE)
                        .page(page)
                        .send()
                        .await
                        .map(|page| page.items)
                        .map_err(|e| ApiError::from_octocrab(e, ACTION, "GET", url))
                })
                .await?;
            let last = items.len() < usize::from(PER_PAGE);
            found.extend(items.into_iter().filter(|r| r.tag_name == tag).map(RemoteRelease::from));
            if last {
                break;
            }
        }
        Ok(found)
    }

    /// Creates a release. A draft is created at most once per call: when an attempt failed
    /// without a clear answer (a 502 from a proxy can hide a success), the next attempt first
    /// lists the tag's drafts and adopts the oldest one of the same name instead of making a
    /// second one. Callers create a draft only when the tag had none of that name (the publish
    /// step continues an existing draft; the probe's draft has a name of its own), so a draft
    /// found there is this call's.
    pub(crate) async fn create_release(&self, release: &NewRelease) -> Result<RemoteRelease, ApiError> {
        let action = if release.draft { "create a draft release" } else { "create a release" };
        let url = &self.url(&format!("{}/releases", self.repo_route()));
        self.with_retries(&format!("POST {url}"), |attempt| async move {
            if attempt > 1 && release.draft {
                let drafts = self.releases_for_tag(&release.tag).await?;
                let same = drafts.into_iter().filter(|r| r.draft && r.name.as_deref() == Some(release.name.as_str()));
                if let Some(draft) = same.min_by_key(|r| r.id) {
                    return Ok(draft);
                }
            }
            self.pacer.pace().await;
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
            builder.send().await.map(RemoteRelease::from).map_err(|e| ApiError::from_octocrab(e, action, "POST", url))
        })
        .await
    }

    /// A GET of an API route (`/repos/…`) as JSON, under the network policy; a 404 is an
    /// error like any other status (callers that expect one look at `status`).
    pub(crate) async fn get_json(&self, action: &str, route: &str) -> Result<serde_json::Value, ApiError> {
        let url = &self.url(route);
        self.with_retries(&format!("GET {url}"), |_| async move {
            let fail = |e| ApiError::from_octocrab(e, action, "GET", url);
            let response = self.crab._get(route).await.map_err(fail)?;
            let response = octocrab::map_github_error(response).await.map_err(fail)?;
            let body = self.crab.body_to_string(response).await.map_err(fail)?;
            serde_json::from_str(&body)
                .map_err(|e| ApiError::transport(action, "GET", url, format!("unexpected answer: {e}")))
        })
        .await
    }

    /// `/repos/{owner}/{repo}`, for routes under it.
    pub(crate) fn repository_route(&self) -> String {
        self.repo_route()
    }

    /// Release notes generated by GitHub for a tag (writes nothing).
    pub(crate) async fn generate_notes(&self, tag: &str, target_commitish: Option<&str>) -> Result<String, ApiError> {
        let url = &self.url(&format!("{}/releases/generate-notes", self.repo_route()));
        self.with_retries(&format!("POST {url}"), |_| async move {
            // It writes nothing, but it is a POST, and GitHub paces by method.
            self.pacer.pace().await;
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
                .map_err(|e| ApiError::from_octocrab(e, "generate release notes", "POST", url))
        })
        .await
    }

    /// Deletes a release. A 404 on a retry means an earlier attempt did it.
    pub(crate) async fn delete_release(&self, id: u64) -> Result<(), ApiError> {
        let url = &self.url(&format!("{}/releases/{id}", self.repo_route()));
        self.with_retries(&format!("DELETE {url}"), |attempt| async move {
            self.pacer.pace().await;
            let result = self
                .crab
                .repos(&self.target.owner, &self.target.repo)
                .releases()
                .delete(id)
                .await
                .map_err(|e| ApiError::from_octocrab(e, "delete the release", "DELETE", url));
            gone_on_retry(attempt, result)
        })
        .await
    }

    /// Publishes a draft: `PATCH {"draft": false}`. Repeating it is harmless, so it is
    /// retried as it is.
    pub(crate) async fn publish_release(&self, id: u64) -> Result<RemoteRelease, ApiError> {
        let url = &self.url(&format!("{}/releases/{id}", self.repo_route()));
        self.with_retries(&format!("PATCH {url}"), |_| async move {
            self.pacer.pace().await;
            self.crab
                .repos(&self.target.owner, &self.target.repo)
                .releases()
                .update(id)
                .draft(false)
                .send()
                .await
                .map(RemoteRelease::from)
                .map_err(|e| ApiError::from_octocrab(e, "publish the release", "PATCH", url))
        })
        .await
    }

    pub(crate) async fn list_assets(&self, release_id: u64) -> Result<Vec<RemoteAsset>, ApiError> {
        let url = &self.url(&format!("{}/releases/{release_id}/assets", self.repo_route()));
        let mut assets = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self
                .with_retries(&format!("GET {url}"), |_| async move {
                    self.crab
                        .repos(&self.target.owner, &self.target.repo)
                        .releases()
                        .assets(release_id)
                        .per_page(PER_PAGE)
                        .page(page)
                        .send()
                        .await
                        .map(|page| page.items)
                        .map_err(|e| ApiError::from_octocrab(e, "list the release's assets", "GET", url))
                })
                .await?;
            let last = items.len() < usize::from(PER_PAGE);
            assets.extend(items.into_iter().map(RemoteAsset::from));
            if last {
                break;
            }
        }
        Ok(assets)
    }

    /// Deletes an asset. A 404 on a retry means an earlier attempt did it.
    pub(crate) async fn delete_asset(&self, asset_id: u64) -> Result<(), ApiError> {
        let url = &self.url(&format!("{}/releases/assets/{asset_id}", self.repo_route()));
        self.with_retries(&format!("DELETE {url}"), |attempt| async move {
            self.pacer.pace().await;
            let result = self
                .crab
                .repos(&self.target.owner, &self.target.repo)
                .release_assets()
                .delete(asset_id)
                .await
                .map_err(|e| ApiError::from_octocrab(e, "delete an asset", "DELETE", url));
            gone_on_retry(attempt, result)
        })
        .await
    }

    /// One attempt at uploading a file as an asset, streamed from disk, to the release's own
    /// `upload_url`. Not retried here: before another attempt the caller must look at what
    /// this one left (nothing, an unfinished `starter` asset, or a complete asset whose
    /// answer was lost), which only it can judge. A stalled attempt (no byte accepted and no
    /// answer for the stall timeout) fails as transient.
    pub(crate) async fn upload_asset_once(
        &self,
        upload_url: &str,
        name: &str,
        path: &Utf8Path,
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
        // Uploads go to the upload host, but they are POSTs of the same token: paced too.
        // Before the stall watch starts, so that waiting for a turn is not taken for a stall.
        self.pacer.pace().await;
        let activity = Activity::new();
        // A chunk is taken from the stream only when the connection accepted the previous
        // one: when the server stops reading, the stream stops being polled and the activity
        // goes quiet.
        let moved = activity.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect(move |_| moved.touch());
        let exchange = async {
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
                .map_err(|e| {
                    ApiError::transport(ACTION, "POST", &shown, error_chain(&e)).transient(net::is_transient(&e))
                })?;
            activity.touch();
            json_or_error::<Uploaded>(response, ACTION, "POST", &shown).await
        };
        #[derive(Deserialize)]
        struct Uploaded {
            id: u64,
            name: String,
            size: u64,
            state: String,
            digest: Option<String>,
        }
        let asset = net::watch(&activity, self.policy.stall_timeout, exchange)
            .await
            .map_err(|stalled| ApiError::stalled(ACTION, "POST", &shown, stalled))??;
        Ok(RemoteAsset {
            id: asset.id,
            name: asset.name,
            size: asset.size,
            state: asset.state,
            sha256: asset.digest.as_deref().and_then(parse_digest),
        })
    }

    /// `POST /repos/{owner}/{repo}/attestations` with `{"bundle": …}` (a Sigstore bundle with
    /// a DSSE envelope); returns the attestation's id. The preflight sends a bundle that
    /// cannot be stored to prove the permission without storing anything.
    pub(crate) async fn create_attestation(&self, bundle: &serde_json::Value) -> Result<u64, ApiError> {
        const ACTION: &str = "store an attestation";
        let url = self.url(&format!("{}/attestations", self.repo_route()));
        let body = serde_json::json!({ "bundle": bundle });
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        self.with_retries(&format!("POST {url}"), |_| async {
            self.pacer.pace().await;
            let response = self
                .http
                .post(&url)
                .bearer_auth(self.target.token.expose())
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", API_VERSION)
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    ApiError::transport(ACTION, "POST", &url, error_chain(&e)).transient(net::is_transient(&e))
                })?;
            json_or_error::<Created>(response, ACTION, "POST", &url).await.map(|c| c.id)
        })
        .await
    }

    /// `GET /repos/{owner}/{repo}/attestations/{subject_digest}` (`sha256:<hex>`, `sha1:<hex>`),
    /// optionally `predicate_type` (a predicate type URI, or GitHub's short `release`), one
    /// page of 100: the attestations with their bundles. A 404 is none.
    ///
    /// Since 2026-07-16 GitHub answers each item with `"bundle": null` and a `bundle_url`
    /// (protocols-sigstore.md §6): a pre-signed URL on a storage host serving the bundle
    /// snappy block compressed. It is downloaded **without the token** (the URL itself
    /// authorises the read; the token goes to the API's host only), decompressed, and read as
    /// JSON. An inline `bundle` (older answers, GitHub Enterprise Server) is taken as it is.
    pub(crate) async fn list_attestations(
        &self,
        subject_digest: &str,
        predicate_type: Option<&str>,
    ) -> Result<Vec<ListedAttestation>, ApiError> {
        const ACTION: &str = "list the attestations";
        let mut route = format!("{}/attestations/{subject_digest}?per_page=100", self.repo_route());
        if let Some(predicate) = predicate_type {
            route.push_str(&format!("&predicate_type={predicate}"));
        }
        let answer = match self.get_json(ACTION, &route).await {
            Ok(answer) => answer,
            Err(e) if e.status == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let url = self.url(&route);
        let items = answer.get("attestations").and_then(|a| a.as_array()).cloned().ok_or_else(|| {
            ApiError::transport(ACTION, "GET", &url, format!("unexpected answer: no `attestations` array in {answer}"))
        })?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let bundle_url = item.get("bundle_url").and_then(|u| u.as_str()).filter(|u| !u.is_empty());
            let bundle = match (item.get("bundle").filter(|b| !b.is_null()), bundle_url) {
                (Some(inline), _) => inline.clone(),
                (None, Some(blob)) => self.attestation_bundle(blob).await?,
                (None, None) => {
                    return Err(ApiError::transport(
                        ACTION,
                        "GET",
                        &url,
                        "unexpected answer: an attestation has neither a `bundle` nor a `bundle_url`",
                    ));
                }
            };
            let id = item.get("id").and_then(|i| i.as_u64()).or_else(|| bundle_url.and_then(blob_number));
            out.push(ListedAttestation { id, bundle });
        }
        Ok(out)
    }

    /// Downloads the bundle a `bundle_url` serves, without the token, and reads it: snappy
    /// block compressed (`application/x-snappy`, what GitHub serves), or plain JSON.
    async fn attestation_bundle(&self, blob: &str) -> Result<serde_json::Value, ApiError> {
        const ACTION: &str = DOWNLOAD_BUNDLE;
        // The query is the URL's signature: a credential for this blob, kept out of messages.
        let shown = blob.split('?').next().unwrap_or(blob).to_owned();
        let shown = &shown;
        let (content_type, bytes) = self
            .with_retries(&format!("GET {shown}"), |_| async move {
                let activity = Activity::new();
                let exchange = async {
                    let fail = |e: reqwest::Error| {
                        let transient = net::is_transient(&e);
                        ApiError::transport(ACTION, "GET", shown, error_chain(&e.without_url())).transient(transient)
                    };
                    // No `bearer_auth`: a pre-signed URL needs none, and it is not the API's host.
                    let response = self.http.get(blob).send().await.map_err(fail)?;
                    if !response.status().is_success() {
                        return Err(status_error(response, ACTION, "GET", shown).await);
                    }
                    let content_type = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let mut bytes = Vec::new();
                    let mut stream = response.bytes_stream();
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(fail)?;
                        activity.touch();
                        bytes.extend_from_slice(&chunk);
                        if bytes.len() > MAX_BUNDLE_BYTES {
                            return Err(ApiError::transport(
                                ACTION,
                                "GET",
                                shown,
                                format!("the bundle is larger than {MAX_BUNDLE_BYTES} bytes"),
                            ));
                        }
                    }
                    Ok((content_type, bytes))
                };
                net::watch(&activity, self.policy.stall_timeout, exchange)
                    .await
                    .map_err(|stalled| ApiError::stalled(ACTION, "GET", shown, stalled))?
            })
            .await?;
        let unreadable = |reason: String| {
            ApiError::transport(
                ACTION,
                "GET",
                shown,
                format!("the bundle served ({content_type}) is unreadable: {reason}"),
            )
        };
        // Plain JSON starts with `{`; a snappy block of a bundle never does (its length, a
        // varint of more than 127, starts with a byte of 128 or more).
        let json = if content_type.contains("snappy") || bytes.first() != Some(&b'{') {
            crate::github::snappy::decompress(&bytes, MAX_BUNDLE_BYTES).map_err(unreadable)?
        } else {
            bytes
        };
        serde_json::from_slice(&json).map_err(|e| unreadable(format!("not JSON: {e}")))
    }

    /// Downloads an asset and hashes it on the way, for servers that report no digest.
    pub(crate) async fn download_sha256(&self, asset_id: u64) -> Result<(String, u64), ApiError> {
        self.download(asset_id, None).await.map(|(sha256, size, _)| (sha256, size))
    }

    /// Downloads a small asset (at most `limit` bytes; a larger one is an error): its bytes.
    pub(crate) async fn download_small(&self, asset_id: u64, limit: u64) -> Result<Vec<u8>, ApiError> {
        self.download(asset_id, Some(limit)).await.map(|(_, _, bytes)| bytes)
    }

    /// Downloads an asset, hashing it on the way; with `keep`, also keeps up to that many bytes.
    async fn download(&self, asset_id: u64, keep: Option<u64>) -> Result<(String, u64, Vec<u8>), ApiError> {
        const ACTION: &str = "download an asset";
        let url = &self.url(&format!("{}/releases/assets/{asset_id}", self.repo_route()));
        self.with_retries(&format!("GET {url}"), |_| async move {
            let activity = Activity::new();
            let exchange = async {
                // github.com answers with a redirect to a storage host; reqwest drops the
                // Authorization header when a redirect leaves the origin.
                let response = self
                    .http
                    .get(url)
                    .bearer_auth(self.target.token.expose())
                    .header(reqwest::header::ACCEPT, "application/octet-stream")
                    .send()
                    .await
                    .map_err(|e| {
                        ApiError::transport(ACTION, "GET", url, error_chain(&e)).transient(net::is_transient(&e))
                    })?;
                if !response.status().is_success() {
                    return Err(status_error(response, ACTION, "GET", url).await);
                }
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                let mut kept = Vec::new();
                let mut stream = response.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::transport(ACTION, "GET", url, error_chain(&e)).transient(net::is_transient(&e))
                    })?;
                    activity.touch();
                    size += chunk.len() as u64;
                    hasher.update(&chunk);
                    if let Some(limit) = keep {
                        if size > limit {
                            return Err(ApiError::transport(
                                ACTION,
                                "GET",
                                url,
                                format!("the asset is larger than the {limit} bytes expected"),
                            ));
                        }
                        kept.extend_from_slice(&chunk);
                    }
                }
                Ok((hex::encode(hasher.finalize()), size, kept))
            };
            net::watch(&activity, self.policy.stall_timeout, exchange)
                .await
                .map_err(|stalled| ApiError::stalled(ACTION, "GET", url, stalled))?
        })
        .await
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
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::transport(action, method, url, error_chain(&e)).transient(net::is_transient(&e)))?;
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
    error.details = parsed.as_ref().map(|b| details_of(&b.errors)).unwrap_or_default();
    error.codes = parsed.map(|b| codes_of(&b.errors)).unwrap_or_default();
    error.retry = net::classify(status, &headers);
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

/// The answer to one attempt of a DELETE: a 404 on a retry means an earlier attempt, whose
/// answer was lost, did delete it.
fn gone_on_retry(attempt: u32, result: Result<(), ApiError>) -> Result<(), ApiError> {
    match result {
        Err(err) if attempt > 1 && err.status == Some(404) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(api_url: &str, token: &str) -> Target {
        Target {
            owner: "acme".into(),
            repo: "hello".into(),
            repository_source: "github.repository".into(),
            api_url: api_url.into(),
            token: crate::secret::Secret::new(token),
            token_source: crate::secret::Source::env("GH_TOKEN"),
        }
    }

    #[tokio::test]
    async fn steps_of_one_run_share_one_paced_client_per_api_and_token() {
        let sessions = crate::session::Sessions::default();
        let network = NetworkConfig { github_mutation_interval_ms: 250, ..NetworkConfig::default() };
        let api = "https://api.github.com";
        let pacer = |api: &str, token: &str| sessions.github(&target(api, token), &network).unwrap().pacer.clone();
        let first = pacer(api, "ghs_one");
        assert_eq!(first.interval(), Duration::from_millis(250), "the pacer is set when the client is built");
        assert!(Arc::ptr_eq(&first, &pacer(api, "ghs_one")), "one per token");
        assert!(!Arc::ptr_eq(&first, &pacer(api, "ghs_two")), "another token");
        assert!(!Arc::ptr_eq(&first, &pacer("https://ghe.example.com/api/v3", "ghs_one")), "another host");
    }

    #[test]
    fn digests_are_parsed() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_digest(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(parse_digest("sha1:abc"), None);
        assert_eq!(parse_digest("sha256:short"), None);
    }
}
