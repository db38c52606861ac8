//! A GitHub REST server for tests, built from `shared/protocols.md`.
//!
//! It serves the releases API the way GitHub Enterprise Server lays it out: the API under
//! `/api/v3` and uploads under `/api/uploads`, so the `upload_url` a release carries is an
//! absolute URL on another path than the API base (the layout that breaks clients which
//! glue the API base onto it). It models the three kinds of token and how each one fails:
//!
//! - integration tokens (`GITHUB_TOKEN`, GitHub Apps): a permission map per repository; a
//!   missing permission is a 403 "Resource not accessible by integration" with
//!   `X-Accepted-GitHub-Permissions`;
//! - fine-grained personal access tokens: the same, "…by personal access token";
//! - classic personal access tokens: scopes, reported on every response in `X-OAuth-Scopes`
//!   and `X-Accepted-OAuth-Scopes`.
//!
//! Unknown tokens get 401 "Bad credentials"; repositories a token cannot see are 404. Drafts
//! are invisible to `GET /releases/tags/{tag}` and listed only for tokens with push access.
//!
//! Attestations (protocols-sigstore.md §6): `POST /repos/{o}/{r}/attestations` stores a bundle
//! (201 `{"id"}`; 422 for a bundle without a DSSE envelope or whose certificate names another
//! repository). `GET /repos/{o}/{r}/attestations/{alg}:{hex}` lists every attestation, the
//! stored ones and GitHub's release attestations (`github_rules.rs`), by any digest of any
//! subject of its statement, optionally filtered by `predicate_type`; none is a 404. As on
//! github.com since 2026-07-16 (aaif-goose/goose#10557, denoland/clawpatrol#769), each item is
//! `{"repository_id", "bundle_url", "initiator", "bundle": null}`: `bundle_url` is a
//! pre-signed URL on another path of this server (`/blob/attestations/1/…/{id}.json.sn?…sig=…`)
//! serving the bundle snappy block compressed as `application/x-snappy`, to any caller, with
//! or without `Authorization` (the recorded headers show what a client sent there).
//! [`GithubServer::serve_inline_attestation_bundles`] turns back to inline bundles.
//!
//! Every request is recorded (method, path, query, headers, body length) and the stored
//! releases and asset bytes can be read back, so tests assert on what the server received.
//! Faults are injected per route and occurrence ([`Fault`]): error answers (502, 503, 429
//! with `Retry-After`, a secondary-rate-limit 403), an answer lost after the work was done, an
//! upload cut after N bytes (with a `starter` asset left, or the TCP connection reset), and
//! stalls (a request accepted and never answered, or a body no longer read), and an answer
//! held at a [`Gate`] until the test opens it (to interrupt the client while a request is in
//! flight, without guessing at timing). A fixed latency
//! can be added to every answer ([`GithubServer::set_latency`], for benchmarks that model a
//! distant server). The server runs on its own thread and runtime, so sync and async tests
//! use it alike.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::github_rules::{Rules, RulesetSpec};

/// A repository's visibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
}

/// A permission level of an integration or fine-grained token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Write,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
        }
    }
}

/// The kind of a token, which decides how it is checked and how it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `GITHUB_TOKEN` or a GitHub App installation token.
    Integration,
    /// A fine-grained personal access token.
    FineGrained,
    /// A classic personal access token with these scopes.
    Classic { scopes: Vec<String> },
}

/// A token the server accepts: its kind, permissions and the repositories it may act on.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub kind: TokenKind,
    /// Permissions of integration and fine-grained tokens (`contents` → write).
    pub permissions: BTreeMap<String, Level>,
    /// Repositories an integration or fine-grained token was granted. Classic tokens act
    /// for a user who can push to every repository on this server; their scopes decide.
    pub repositories: Vec<String>,
}

impl TokenSpec {
    pub fn integration() -> Self {
        TokenSpec { kind: TokenKind::Integration, permissions: BTreeMap::new(), repositories: Vec::new() }
    }

    pub fn fine_grained() -> Self {
        TokenSpec { kind: TokenKind::FineGrained, permissions: BTreeMap::new(), repositories: Vec::new() }
    }

    pub fn classic(scopes: &[&str]) -> Self {
        TokenSpec {
            kind: TokenKind::Classic { scopes: scopes.iter().map(|s| s.to_string()).collect() },
            permissions: BTreeMap::new(),
            repositories: Vec::new(),
        }
    }

    pub fn permission(mut self, name: &str, level: Level) -> Self {
        self.permissions.insert(name.to_owned(), level);
        self
    }

    pub fn repository(mut self, full_name: &str) -> Self {
        self.repositories.push(full_name.to_owned());
        self
    }
}

/// The endpoints the server knows, for recording and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    GetRepository,
    ListReleases,
    CreateRelease,
    GetRelease,
    GetReleaseByTag,
    UpdateRelease,
    DeleteRelease,
    GenerateNotes,
    ListAssets,
    GetAsset,
    DeleteAsset,
    UploadAsset,
    // GitHub's rules around releases (see `github_rules.rs`).
    ListRulesets,
    GetRuleset,
    GetTagRef,
    /// `GET /repos/{owner}/{repo}/git/tags/{sha}`: an annotated tag object.
    GetTagObject,
    /// `GET /repos/{owner}/{repo}/attestations/{subject_digest}`: release attestations and
    /// the ones stored with `POST`, each as `"bundle": null` and a `bundle_url`.
    ListAttestations,
    /// `POST /repos/{owner}/{repo}/attestations`.
    CreateAttestation,
    /// `GET /blob/attestations/…`: a `bundle_url`, the bundle snappy block compressed, served
    /// to anyone who has the URL (a pre-signed blob URL needs no `Authorization`).
    GetAttestationBlob,
    Unknown,
}

/// What a fault does instead of (or to) the normal answer.
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answer at once with this status, headers and JSON body; the handler does not run.
    Respond { status: u16, headers: Vec<(String, String)>, body: Value },
    /// For uploads: read this many bytes of the body, then answer `status` (GitHub's upload
    /// frontend answers 502 when its upstream fails). With `leave_starter`, an empty asset in
    /// state `starter` is left under the name, as GitHub sometimes does.
    FailUploadAfter { bytes: u64, status: u16, leave_starter: bool },
    /// Do the work (create the release, store the asset, publish), then answer `status`
    /// instead of the result: the answer was lost on the way back, as behind a failing proxy.
    LoseAnswer { status: u16 },
    /// Read this many bytes of the request body, then reset the TCP connection (RST): the
    /// client sees "connection reset" mid-upload. Nothing is stored.
    ResetAfter { bytes: u64 },
    /// Read this many bytes of the request body (0: none), then neither read nor answer
    /// again: a stalled server. The connection stays open until the client gives up.
    Stall { after_bytes: u64 },
    /// Do the work (create the release, delete it, ...), then hold the answer until the gate
    /// is opened: the request is in flight, its effect already on the server.
    HoldAnswer(Gate),
}

/// Where held answers wait ([`FaultAction::HoldAnswer`]). The test learns that a request is
/// being held ([`Gate::wait_held`]), acts (sends a signal), then opens the gate.
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    held: std::sync::atomic::AtomicUsize,
    open: AtomicBool,
    opened: tokio::sync::Notify,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets every held answer go, and every later one pass at once.
    pub fn open(&self) {
        self.0.open.store(true, Ordering::SeqCst);
        self.0.opened.notify_waiters();
    }

    /// How many answers reached the gate so far.
    pub fn held(&self) -> usize {
        self.0.held.load(Ordering::SeqCst)
    }

    /// Blocks this thread until an answer is held at the gate; false if none was within
    /// `limit` (the test then fails: the request it waited for never came).
    pub fn wait_held(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while self.held() == 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        true
    }

    async fn pass(&self) {
        self.0.held.fetch_add(1, Ordering::SeqCst);
        loop {
            let opened = self.0.opened.notified();
            if self.0.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

impl FaultAction {
    /// An error answer with GitHub's JSON body for the status.
    pub fn status(status: u16) -> Self {
        let code = StatusCode::from_u16(status).expect("a valid status");
        FaultAction::Respond {
            status,
            headers: Vec::new(),
            body: error_body(code, code.canonical_reason().unwrap_or("error"), "https://docs.github.com/rest"),
        }
    }

    /// A 429 with `Retry-After: secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        FaultAction::Respond {
            status: 429,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: error_body(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "https://docs.github.com/rest"),
        }
    }

    /// GitHub's secondary rate limit: a 403 with `Retry-After` and quota left.
    pub fn secondary_rate_limit(retry_after_secs: u64) -> Self {
        FaultAction::Respond {
            status: 403,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: error_body(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            ),
        }
    }

    /// GitHub's primary rate limit: a 403 with `x-ratelimit-remaining: 0` and the reset time
    /// `reset_in_secs` from now.
    pub fn primary_rate_limit(reset_in_secs: u64) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        FaultAction::Respond {
            status: 403,
            headers: vec![
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), (now + reset_in_secs).to_string()),
            ],
            body: error_body(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for installation.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            ),
        }
    }
}

/// A fault: on the `nth` request (1-based) to `route`, and the `times - 1` after it, do
/// `action`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub route: Route,
    pub nth: usize,
    pub times: usize,
    pub action: FaultAction,
}

impl Fault {
    pub fn new(route: Route, nth: usize, action: FaultAction) -> Self {
        Fault { route, nth, times: 1, action }
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// From the `nth` request to `route` on, every time: a persistent fault.
    pub fn always(mut self) -> Self {
        self.times = usize::MAX;
        self
    }

    fn applies(&self, route: Route, occurrence: usize) -> bool {
        self.route == route && occurrence >= self.nth && occurrence < self.nth.saturating_add(self.times)
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Every header, names lowercase, values as sent (`authorization` included: tests check
    /// where a token went).
    pub headers: Vec<(String, String)>,
    /// Bytes of body the server read.
    pub body_len: u64,
    pub route: Route,
    /// The status answered; 0 when no answer was sent (a reset or a stall).
    pub status: u16,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A release as stored.
#[derive(Clone, Debug)]
pub struct StoredRelease {
    pub id: u64,
    pub repository: String,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    /// The `untagged-<hex>` slug a draft's `html_url` shows.
    pub untagged: String,
    pub created_at: String,
    pub published_at: Option<String>,
    pub assets: Vec<StoredAsset>,
    /// Published in a repository with release immutability: tag and assets locked.
    pub immutable: bool,
}

/// An asset as stored, with its bytes.
#[derive(Clone, Debug)]
pub struct StoredAsset {
    pub id: u64,
    pub name: String,
    pub label: Option<String>,
    pub content_type: String,
    /// `uploaded`, `open` or `starter`.
    pub state: String,
    pub bytes: Vec<u8>,
    pub created_at: String,
}

impl StoredAsset {
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

fn is_commit_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl World {
    /// The release the route names, if it may be shown (drafts only to who may push).
    fn visible_release(&self, target: &Target, drafts: bool) -> Option<&StoredRelease> {
        let repo = target.repository.as_str();
        self.releases.iter().find(|r| r.repository == repo && Some(r.id) == target.release_id && (drafts || !r.draft))
    }

    /// The commit a tag points at.
    fn tag_commit(&self, repo: &str, tag: &str) -> String {
        self.tag_commits
            .get(&(repo.to_owned(), tag.to_owned()))
            .cloned()
            .unwrap_or_else(|| crate::github_rules::commit_of(repo, tag))
    }

    /// Creates a tag (publishing a release) at `commitish` when that is a commit id.
    fn create_tag(&mut self, repo: &str, tag: &str, commitish: &str) {
        let tags = self.tags.entry(repo.to_owned()).or_default();
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
            if is_commit_id(commitish) {
                self.tag_commits.insert((repo.to_owned(), tag.to_owned()), commitish.to_owned());
            }
        }
    }
}

#[derive(Debug, Default)]
struct World {
    repositories: BTreeMap<String, Visibility>,
    tokens: BTreeMap<String, TokenSpec>,
    releases: Vec<StoredRelease>,
    /// Git tags: created when a release is published.
    tags: BTreeMap<String, Vec<String>>,
    /// The commit of a tag, by repository and tag: the release's `target_commitish` when it
    /// was a commit id, or what a test seeded; other tags point at [`crate::github_rules::commit_of`].
    tag_commits: BTreeMap<(String, String), String>,
    /// Annotated tags: the tag object's id, by repository and tag.
    annotated: BTreeMap<(String, String), String>,
    next_id: u64,
    requests: Vec<RecordedRequest>,
    route_counts: BTreeMap<String, usize>,
    faults: Vec<Fault>,
    /// Immutable releases, burned tags, rulesets, attestations (`github_rules.rs`).
    rules: Rules,
    ratelimit_used: u64,
    /// Added before every answer.
    latency: std::time::Duration,
    /// Stored attestations: (repository, id, bundle).
    attestations: Vec<(String, u64, Value)>,
    /// Attestation blobs by path (`/blob/attestations/…`): snappy block compressed bundles.
    blobs: BTreeMap<String, Vec<u8>>,
    /// List attestations with their bundle inline, as GitHub did before 2026-07-16.
    inline_bundles: bool,
}

#[derive(Clone, Debug)]
struct Shared {
    world: Arc<Mutex<World>>,
    base: String,
}

/// The running server. Dropping it stops it.
#[derive(Debug)]
pub struct GithubServer {
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl GithubServer {
    /// Starts a server on a free loopback port, on its own thread.
    pub fn start() -> GithubServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("set the listener non-blocking");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Shared { world: Arc::new(Mutex::new(World { next_id: 1000, ..World::default() })), base };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .with_state(shared.clone())
            .into_make_service_with_connect_info::<Connection>();
        std::thread::Builder::new()
            .name("github-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the GitHub test server");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    // Not a graceful shutdown: a stalled request never ends by itself, and
                    // dropping the runtime ends it.
                    tokio::select! {
                        served = axum::serve(CuttableListener(listener), app) => served.expect("the GitHub test server runs"),
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn the GitHub test server thread");
        GithubServer { shared, shutdown: Some(shutdown) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// The API base, as `GITHUB_API_URL` gives it on GitHub Enterprise Server.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.shared.base)
    }

    pub fn add_repository(&self, full_name: &str, visibility: Visibility) -> &Self {
        self.world().repositories.insert(full_name.to_owned(), visibility);
        self
    }

    pub fn add_token(&self, value: &str, spec: TokenSpec) -> &Self {
        self.world().tokens.insert(value.to_owned(), spec);
        self
    }

    pub fn inject(&self, fault: Fault) -> &Self {
        self.world().faults.push(fault);
        self
    }

    /// Delays every answer by `latency`, as a server across the internet would: requests
    /// still run concurrently, each one waits.
    pub fn set_latency(&self, latency: std::time::Duration) -> &Self {
        self.world().latency = latency;
        self
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.world().requests.clone()
    }

    /// The releases of a repository, oldest first, drafts included.
    pub fn releases(&self, full_name: &str) -> Vec<StoredRelease> {
        self.world().releases.iter().filter(|r| r.repository == full_name).cloned().collect()
    }

    /// The attestations stored for a repository: (id, bundle).
    pub fn attestations(&self, full_name: &str) -> Vec<(u64, Value)> {
        self.world().attestations.iter().filter(|(r, _, _)| r == full_name).map(|(_, id, b)| (*id, b.clone())).collect()
    }

    /// Lists attestations with the bundle inline and `bundle_url: null`, as GitHub answered
    /// before 2026-07-16 (and as a GitHub Enterprise Server may still answer).
    pub fn serve_inline_attestation_bundles(&self) -> &Self {
        self.world().inline_bundles = true;
        self
    }

    /// The git tags of a repository (made when a release is published).
    pub fn tags(&self, full_name: &str) -> Vec<String> {
        self.world().tags.get(full_name).cloned().unwrap_or_default()
    }

    /// Creates a tag directly, as if pushed earlier, at `commit`; `annotated` makes it an
    /// annotated tag (its ref names a tag object, which names the commit).
    pub fn seed_tag(&self, full_name: &str, tag: &str, commit: &str, annotated: bool) -> &Self {
        let mut world = self.world();
        world.create_tag(full_name, tag, commit);
        let key = (full_name.to_owned(), tag.to_owned());
        world.tag_commits.insert(key.clone(), commit.to_owned());
        if annotated {
            let object =
                hex::encode(sha2::Sha256::digest(format!("tag object {full_name}@{tag}").as_bytes()))[..40].to_owned();
            world.annotated.insert(key, object);
        }
        drop(world);
        self
    }

    /// The commit a tag points at (for a tag a release created: its `target_commitish`).
    pub fn tag_commit(&self, full_name: &str, tag: &str) -> String {
        self.world().tag_commit(full_name, tag)
    }

    /// The body (release notes) of the release of `tag`.
    pub fn release_body(&self, full_name: &str, tag: &str) -> Option<String> {
        self.world()
            .releases
            .iter()
            .find(|r| r.repository == full_name && r.tag_name == tag)
            .and_then(|r| r.body.clone())
    }

    /// Stores a release directly, as if made earlier by someone else; returns its id.
    pub fn seed_release(&self, full_name: &str, tag: &str, draft: bool, assets: &[(&str, &[u8])]) -> u64 {
        let mut world = self.world();
        let id = world.new_id();
        let now = timestamp();
        let mut release = StoredRelease {
            id,
            repository: full_name.to_owned(),
            tag_name: tag.to_owned(),
            target_commitish: "main".into(),
            name: Some(tag.to_owned()),
            body: None,
            draft,
            prerelease: false,
            untagged: untagged_slug(id),
            created_at: now.clone(),
            published_at: (!draft).then(|| now.clone()),
            assets: Vec::new(),
            immutable: false,
        };
        for (name, bytes) in assets {
            let asset_id = world.new_id();
            release.assets.push(StoredAsset {
                id: asset_id,
                name: (*name).to_owned(),
                label: None,
                content_type: "application/octet-stream".into(),
                state: "uploaded".into(),
                bytes: bytes.to_vec(),
                created_at: now.clone(),
            });
        }
        if !draft {
            world.tags.entry(full_name.to_owned()).or_default().push(tag.to_owned());
        }
        world.releases.push(release);
        id
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.shared.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- GitHub's rules around releases (the model is `github_rules.rs`) ----

    /// Enables release immutability for a repository: releases published from now on are
    /// immutable (and attested).
    pub fn enable_immutable_releases(&self, full_name: &str) -> &Self {
        self.world().rules.immutable.insert(full_name.to_owned());
        self
    }

    /// Marks a seeded published release immutable, as if published under immutability.
    pub fn make_immutable(&self, release_id: u64) -> &Self {
        let mut world = self.world();
        let release = world.releases.iter_mut().find(|r| r.id == release_id).expect("a seeded release");
        release.immutable = true;
        self
    }

    /// Renames a seeded release.
    pub fn rename_release(&self, release_id: u64, name: &str) -> &Self {
        let mut world = self.world();
        world.releases.iter_mut().find(|r| r.id == release_id).expect("a seeded release").name = Some(name.to_owned());
        self
    }

    /// A tag of a deleted immutable release: no release can be made for it again.
    pub fn burn_tag(&self, full_name: &str, tag: &str) -> &Self {
        self.world().rules.burned.entry(full_name.to_owned()).or_default().insert(tag.to_owned());
        self
    }

    /// Lets a draft be created for a burned tag (only its undraft is refused).
    pub fn allow_drafts_of_burned_tags(&self) -> &Self {
        self.world().rules.drafts_of_burned_tags = true;
        self
    }

    pub fn add_ruleset(&self, full_name: &str, ruleset: RulesetSpec) -> &Self {
        self.world().rules.repository_rulesets.entry(full_name.to_owned()).or_default().push(ruleset);
        self
    }

    pub fn add_organisation_ruleset(&self, organisation: &str, ruleset: RulesetSpec) -> &Self {
        self.world().rules.organisation_rulesets.entry(organisation.to_owned()).or_default().push(ruleset);
        self
    }

    /// The rulesets of a repository answer 403 (a token that may not read them).
    pub fn hide_rulesets(&self, full_name: &str) -> &Self {
        self.world().rules.hidden_rulesets.insert(full_name.to_owned());
        self
    }

    /// The next release attestation of the repository states a wrong digest for `asset`.
    pub fn tamper_attestation(&self, full_name: &str, asset: &str) -> &Self {
        self.world().rules.tampered.insert(full_name.to_owned(), asset.to_owned());
        self
    }

    /// Release attestations recorded so far (in-toto statements).
    pub fn release_attestations(&self, full_name: &str) -> Vec<Value> {
        self.world()
            .rules
            .attestations
            .iter()
            .filter(|((r, _), _)| r == full_name)
            .flat_map(|(_, s)| s.iter().map(|(_, statement)| statement.clone()))
            .collect()
    }
}

impl Drop for GithubServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl World {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

fn untagged_slug(id: u64) -> String {
    format!("untagged-{}", hex::encode(Sha256::digest(id.to_be_bytes()))[..20].to_owned())
}

/// Now, as GitHub writes times: `2025-01-31T12:00:00Z`.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let at = jiff::Timestamp::from_second(secs as i64).expect("a time after 1970 and before 9999");
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a request is, parsed from its path.
#[derive(Debug)]
struct Target {
    route: Route,
    repository: String,
    release_id: Option<u64>,
    asset_id: Option<u64>,
    tag: Option<String>,
}

fn parse_target(method: &Method, path: &str) -> Target {
    let unknown =
        Target { route: Route::Unknown, repository: String::new(), release_id: None, asset_id: None, tag: None };
    if path.starts_with(BLOB_PREFIX) && method == Method::GET {
        return Target { route: Route::GetAttestationBlob, tag: Some(path.to_owned()), ..unknown };
    }
    let (uploads, rest) = if let Some(rest) = path.strip_prefix("/api/v3/repos/") {
        (false, rest)
    } else if let Some(rest) = path.strip_prefix("/api/uploads/repos/") {
        (true, rest)
    } else {
        return unknown;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 {
        return unknown;
    }
    let repository = format!("{}/{}", parts[0], parts[1]);
    let tail = &parts[2..];
    let id = |s: &str| s.parse::<u64>().ok();
    let mut target = Target { route: Route::Unknown, repository, release_id: None, asset_id: None, tag: None };
    target.route = match (uploads, method.clone(), tail) {
        (false, Method::GET, []) => Route::GetRepository,
        (false, Method::GET, ["releases"]) => Route::ListReleases,
        (false, Method::POST, ["releases"]) => Route::CreateRelease,
        (false, Method::POST, ["attestations"]) => Route::CreateAttestation,
        (false, Method::POST, ["releases", "generate-notes"]) => Route::GenerateNotes,
        (false, Method::GET, ["releases", "tags", tag]) => {
            target.tag = Some((*tag).to_owned());
            Route::GetReleaseByTag
        }
        (false, method, ["releases", "assets", asset]) if id(asset).is_some() => {
            target.asset_id = id(asset);
            match method {
                Method::GET => Route::GetAsset,
                Method::DELETE => Route::DeleteAsset,
                _ => Route::Unknown,
            }
        }
        (false, method, ["releases", release]) if id(release).is_some() => {
            target.release_id = id(release);
            match method {
                Method::GET => Route::GetRelease,
                Method::PATCH => Route::UpdateRelease,
                Method::DELETE => Route::DeleteRelease,
                _ => Route::Unknown,
            }
        }
        (false, Method::GET, ["releases", release, "assets"]) if id(release).is_some() => {
            target.release_id = id(release);
            Route::ListAssets
        }
        (true, Method::POST, ["releases", release, "assets"]) if id(release).is_some() => {
            target.release_id = id(release);
            Route::UploadAsset
        }
        (false, Method::GET, ["rulesets"]) => Route::ListRulesets,
        (false, Method::GET, ["rulesets", ruleset]) if id(ruleset).is_some() => {
            target.release_id = id(ruleset);
            Route::GetRuleset
        }
        (false, Method::GET, ["git", "ref", "tags", tag @ ..]) if !tag.is_empty() => {
            target.tag = Some(tag.join("/"));
            Route::GetTagRef
        }
        (false, Method::GET, ["git", "tags", sha]) => {
            target.tag = Some((*sha).to_owned());
            Route::GetTagObject
        }
        (false, Method::GET, ["attestations", digest]) => {
            target.tag = Some((*digest).to_owned());
            Route::ListAttestations
        }
        _ => Route::Unknown,
    };
    target
}

/// Who is calling.
enum Caller {
    Anonymous,
    Token(TokenSpec),
    BadToken,
}

/// A permission failure, answered as GitHub answers it.
struct Denied(Box<Response>);

impl Denied {
    fn new(response: Response) -> Self {
        Denied(Box::new(response))
    }
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then(|| token.trim().to_owned())
}

const CREATE_DOC: &str = "https://docs.github.com/rest/releases/releases#create-a-release";

/// Where attestation blobs are served: another path of this server, outside the API (on
/// github.com, a storage host: `https://….blob.core.windows.net/attestations/…/N.json.sn?…`).
const BLOB_PREFIX: &str = "/blob/attestations/";

/// The in-toto statement a bundle's DSSE envelope carries (`Null` when there is none).
fn statement_of(bundle: &Value) -> Value {
    bundle
        .pointer("/dsseEnvelope/payload")
        .and_then(Value::as_str)
        .and_then(|p| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// Every `algorithm:hex` digest of a statement's subjects: what it is listed by.
fn subject_digests(statement: &Value) -> Vec<String> {
    let subjects = statement.get("subject").and_then(Value::as_array).cloned().unwrap_or_default();
    subjects
        .iter()
        .filter_map(|s| s.get("digest").and_then(Value::as_object))
        .flat_map(|d| d.iter().filter_map(|(alg, hex)| Some(format!("{alg}:{}", hex.as_str()?))))
        .collect()
}

/// The `predicate_type` filter: a whole predicate type URI, or `release` (what `gh release
/// verify` sends) for GitHub's release predicate, any version. The short name is an
/// assumption of this server: GitHub does not document which short names it takes.
fn predicate_matches(filter: &str, statement: &Value) -> bool {
    let predicate = statement.get("predicateType").and_then(Value::as_str).unwrap_or_default();
    match filter {
        "release" => predicate.starts_with("https://in-toto.io/attestation/release/"),
        uri => predicate == uri,
    }
}

fn error_body(status: StatusCode, message: &str, documentation_url: &str) -> Value {
    json!({"message": message, "documentation_url": documentation_url, "status": status.as_u16().to_string()})
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert("x-github-media-type", HeaderValue::from_static("github.v3; format=json"));
    response
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        error_body(StatusCode::NOT_FOUND, "Not Found", "https://docs.github.com/rest/releases/releases"),
    )
}

fn validation_failed(resource: &str, field: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "already_exists", "field": field}],
            "documentation_url": CREATE_DOC,
            "status": "422",
        }),
    )
}

impl Shared {
    fn caller(&self, headers: &HeaderMap) -> Caller {
        match token_of(headers) {
            None => Caller::Anonymous,
            Some(token) => match self.world.lock().unwrap().tokens.get(&token) {
                Some(spec) => Caller::Token(spec.clone()),
                None => Caller::BadToken,
            },
        }
    }

    /// Checks `contents` access at `level` on a repository, the way GitHub does for each
    /// kind of token.
    fn authorize(&self, caller: &Caller, repository: &str, level: Level) -> Result<(), Denied> {
        self.authorize_scope(caller, repository, "contents", level)
    }

    /// [`Shared::authorize`] for another permission of integration and fine-grained tokens
    /// (`attestations`); classic tokens are judged by their repository scopes.
    fn authorize_scope(&self, caller: &Caller, repository: &str, scope: &str, level: Level) -> Result<(), Denied> {
        let visibility = match self.world.lock().unwrap().repositories.get(repository) {
            Some(v) => *v,
            None => return Err(Denied::new(not_found())),
        };
        match caller {
            Caller::BadToken => Err(Denied::new(json_response(
                StatusCode::UNAUTHORIZED,
                error_body(StatusCode::UNAUTHORIZED, "Bad credentials", "https://docs.github.com/rest"),
            ))),
            Caller::Anonymous => match (visibility, level) {
                (Visibility::Public, Level::Read) => Ok(()),
                (Visibility::Private, _) => Err(Denied::new(not_found())),
                (Visibility::Public, Level::Write) => Err(Denied::new(json_response(
                    StatusCode::UNAUTHORIZED,
                    error_body(StatusCode::UNAUTHORIZED, "Requires authentication", CREATE_DOC),
                ))),
            },
            Caller::Token(spec) => match &spec.kind {
                TokenKind::Classic { scopes } => {
                    let has = |s: &str| scopes.iter().any(|x| x == s);
                    let ok = match (visibility, level) {
                        (Visibility::Public, Level::Read) => true,
                        (Visibility::Public, Level::Write) => has("repo") || has("public_repo"),
                        (Visibility::Private, _) => has("repo"),
                    };
                    // GitHub hides what a classic token may not touch behind a 404 (an
                    // assumption of this server for public repositories: the release tool
                    // reads the scopes first and never relies on it).
                    if ok { Ok(()) } else { Err(Denied::new(not_found())) }
                }
                TokenKind::Integration | TokenKind::FineGrained => {
                    let granted = spec.repositories.iter().any(|r| r == repository);
                    if !granted && visibility == Visibility::Private {
                        return Err(Denied::new(not_found()));
                    }
                    let has = granted && spec.permissions.get(scope).is_some_and(|l| *l >= level);
                    let level = if scope == "contents" { level } else { Level::Write };
                    if has || (visibility == Visibility::Public && level == Level::Read) {
                        return Ok(());
                    }
                    let who = if spec.kind == TokenKind::Integration { "integration" } else { "personal access token" };
                    let mut response = json_response(
                        StatusCode::FORBIDDEN,
                        error_body(StatusCode::FORBIDDEN, &format!("Resource not accessible by {who}"), CREATE_DOC),
                    );
                    response.headers_mut().insert(
                        "x-accepted-github-permissions",
                        HeaderValue::from_str(&format!("{scope}={}", level.name())).unwrap(),
                    );
                    Err(Denied::new(response))
                }
            },
        }
    }

    /// Whether the caller may see drafts: push access.
    /// A read of the release the route names: `answer` of it when the caller may see it (a
    /// draft only with push access), 404 otherwise.
    fn answer_release(
        &self,
        caller: &Caller,
        target: &Target,
        answer: impl FnOnce(&StoredRelease) -> Response,
    ) -> Result<(Response, u64), Denied> {
        let repo = target.repository.as_str();
        self.authorize(caller, repo, Level::Read)?;
        // Before the world is locked: `can_push` reads it.
        let drafts = self.can_push(caller, repo);
        let world = self.world.lock().unwrap();
        ok(world.visible_release(target, drafts).map_or_else(not_found, answer))
    }

    fn can_push(&self, caller: &Caller, repository: &str) -> bool {
        self.authorize(caller, repository, Level::Write).is_ok()
    }

    fn release_json(&self, release: &StoredRelease) -> Value {
        let api = format!("{}/api/v3/repos/{}", self.base, release.repository);
        let slug = if release.draft { release.untagged.clone() } else { release.tag_name.clone() };
        json!({
            "url": format!("{api}/releases/{}", release.id),
            "html_url": format!("{}/{}/releases/tag/{slug}", self.base, release.repository),
            "assets_url": format!("{api}/releases/{}/assets", release.id),
            "upload_url": format!(
                "{}/api/uploads/repos/{}/releases/{}/assets{{?name,label}}",
                self.base, release.repository, release.id
            ),
            "tarball_url": format!("{api}/tarball/{}", release.tag_name),
            "zipball_url": format!("{api}/zipball/{}", release.tag_name),
            "id": release.id,
            "node_id": format!("RE_{}", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "immutable": release.immutable,
            "created_at": release.created_at,
            "published_at": release.published_at,
            "author": null,
            "assets": release.assets.iter().map(|a| self.asset_json(release, a)).collect::<Vec<_>>(),
        })
    }

    fn asset_json(&self, release: &StoredRelease, asset: &StoredAsset) -> Value {
        let digest = (asset.state == "uploaded").then(|| format!("sha256:{}", asset.sha256()));
        json!({
            "url": format!("{}/api/v3/repos/{}/releases/assets/{}", self.base, release.repository, asset.id),
            "browser_download_url": format!(
                "{}/{}/releases/download/{}/{}",
                self.base, release.repository, release.tag_name, asset.name
            ),
            "id": asset.id,
            "node_id": format!("RA_{}", asset.id),
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": asset.bytes.len(),
            "digest": digest,
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.created_at,
            "uploader": null,
        })
    }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let latency = shared.world.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let target = parse_target(&parts.method, parts.uri.path());
    let occurrence = {
        let mut world = shared.world.lock().unwrap();
        let count = world.route_counts.entry(format!("{:?}", target.route)).or_insert(0);
        *count += 1;
        *count
    };
    let fault = shared.world.lock().unwrap().faults.iter().find(|f| f.applies(target.route, occurrence)).cloned();
    let mut body_len = 0u64;
    let caller = shared.caller(&parts.headers);
    let record = |body_len: u64, status: u16| RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body_len,
        route: target.route,
        status,
    };

    let mut response = match fault.map(|f| f.action) {
        Some(FaultAction::Respond { status, headers, body: reply }) => {
            // Read the request body first, as GitHub's front end does: answering before it
            // is read makes the client's write fail with a broken pipe, racing the answer.
            body_len = axum::body::to_bytes(body, usize::MAX).await.map_or(0, |b| b.len() as u64);
            let mut response = json_response(StatusCode::from_u16(status).unwrap(), reply);
            for (name, value) in headers {
                response.headers_mut().insert(
                    header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        Some(FaultAction::ResetAfter { bytes }) => {
            let (mut rest, read) = read_some(body, bytes).await;
            shared.world.lock().unwrap().requests.push(record(read, 0));
            if let Some(ConnectInfo(Connection(cut))) = parts.extensions.get::<ConnectInfo<Connection>>() {
                cut.store(true, Ordering::SeqCst);
            }
            // Reading on makes the server touch the socket, which is now cut: the connection
            // fails and is reset. This answer is never sent.
            while let Some(Ok(_)) = rest.next().await {}
            return StatusCode::BAD_REQUEST.into_response();
        }
        Some(FaultAction::Stall { after_bytes }) => {
            let (_rest, read) = read_some(body, after_bytes).await;
            shared.world.lock().unwrap().requests.push(record(read, 0));
            // Keeps the rest of the body unread and the connection open, forever.
            std::future::pending::<()>().await;
            unreachable!("a stall never ends")
        }
        Some(FaultAction::HoldAnswer(gate)) => {
            let response = match route(&shared, &caller, &target, &parts.headers, parts.uri.query(), body).await {
                Ok((response, read)) => {
                    body_len = read;
                    response
                }
                Err(Denied(response)) => *response,
            };
            gate.pass().await;
            response
        }
        Some(FaultAction::LoseAnswer { status }) => {
            let done = match route(&shared, &caller, &target, &parts.headers, parts.uri.query(), body).await {
                Ok((_, read)) => read,
                Err(_) => 0,
            };
            body_len = done;
            let status = StatusCode::from_u16(status).unwrap();
            json_response(
                status,
                error_body(status, status.canonical_reason().unwrap_or("error"), "https://docs.github.com/rest"),
            )
        }
        Some(FaultAction::FailUploadAfter { bytes, status, leave_starter }) if target.route == Route::UploadAsset => {
            let (_rest, read) = read_some(body, bytes).await;
            body_len = read;
            if leave_starter {
                let name = query_param(parts.uri.query(), "name").unwrap_or_default();
                shared.world.lock().unwrap().leave_starter_asset(target.release_id, name);
            }
            let status = StatusCode::from_u16(status).unwrap();
            json_response(status, error_body(status, "Bad Gateway", "https://docs.github.com/rest"))
        }
        _ => match route(&shared, &caller, &target, &parts.headers, parts.uri.query(), body).await {
            Ok((response, read)) => {
                body_len = read;
                response
            }
            Err(Denied(response)) => *response,
        },
    };

    let mut world = shared.world.lock().unwrap();
    world.add_github_headers(&mut response, &caller, target.route);
    world.requests.push(record(body_len, response.status().as_u16()));
    response
}

impl World {
    /// What an upload that failed half-way leaves on GitHub: a `starter` asset, empty.
    fn leave_starter_asset(&mut self, release_id: Option<u64>, name: String) {
        let id = self.new_id();
        if let Some(release) = self.releases.iter_mut().find(|r| Some(r.id) == release_id) {
            release.assets.push(StoredAsset {
                id,
                name,
                label: None,
                content_type: "application/octet-stream".into(),
                state: "starter".into(),
                bytes: Vec::new(),
                created_at: timestamp(),
            });
        }
    }

    /// The headers GitHub sends on every API response (a fault's own rate-limit headers win).
    fn add_github_headers(&mut self, response: &mut Response, caller: &Caller, route: Route) {
        let headers = response.headers_mut();
        let world = self;
        world.ratelimit_used += 1;
        let remaining = HeaderValue::from(5000u64.saturating_sub(world.ratelimit_used));
        headers.entry("x-ratelimit-limit").or_insert(HeaderValue::from(5000u64));
        headers.entry("x-ratelimit-remaining").or_insert(remaining);
        headers.entry("x-ratelimit-used").or_insert(HeaderValue::from(world.ratelimit_used));
        headers.entry("x-ratelimit-resource").or_insert(HeaderValue::from_static("core"));
        headers.insert("x-github-request-id", HeaderValue::from(world.requests.len() as u64 + 1));
        if let Caller::Token(TokenSpec { kind: TokenKind::Classic { scopes }, .. }) = caller {
            headers.insert("x-oauth-scopes", HeaderValue::from_str(&scopes.join(", ")).unwrap());
            let accepted = if route == Route::Unknown { "" } else { "repo" };
            headers.insert("x-accepted-oauth-scopes", HeaderValue::from_static(accepted));
        }
    }
}

/// Accepts connections that a fault can cut.
struct CuttableListener(tokio::net::TcpListener);

impl axum::serve::Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => return (CuttableStream { inner: stream, cut: Arc::default() }, addr),
                // Out of descriptors or an aborted handshake: try again shortly.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every read and write once cut, and is then closed with a reset
/// (SO_LINGER 0), so that the peer sees ECONNRESET rather than an orderly end.
struct CuttableStream {
    inner: tokio::net::TcpStream,
    cut: Arc<AtomicBool>,
}

impl CuttableStream {
    fn check(&self) -> io::Result<()> {
        if self.cut.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection cut by an injected fault"))
        } else {
            Ok(())
        }
    }
}

impl tokio::io::AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CuttableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a handler knows about its connection: the switch that cuts it.
#[derive(Clone, Debug)]
struct Connection(Arc<AtomicBool>);

impl Connected<axum::serve::IncomingStream<'_, CuttableListener>> for Connection {
    fn connect_info(stream: axum::serve::IncomingStream<'_, CuttableListener>) -> Self {
        Connection(stream.io().cut.clone())
    }
}

/// Reads up to `limit` bytes of a body; returns the stream for the rest and the count.
async fn read_some(body: Body, limit: u64) -> (axum::body::BodyDataStream, u64) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    while read < limit {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => break,
        }
    }
    (stream, read)
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_json(body: Body) -> (Value, u64) {
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    (serde_json::from_slice(&bytes).unwrap_or(Value::Null), bytes.len() as u64)
}

/// A handler's answer when it read no body.
fn ok(response: Response) -> Result<(Response, u64), Denied> {
    Ok((response, 0))
}

/// What a handler gets of a request: the server, who called, the parsed route, the headers,
/// the query and the body.
struct Call<'a> {
    shared: &'a Shared,
    caller: &'a Caller,
    target: &'a Target,
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    body: Body,
}

async fn route(
    shared: &Shared,
    caller: &Caller,
    target: &Target,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Result<(Response, u64), Denied> {
    let call = Call { shared, caller, target, headers, query, body };
    // The route table: one small handler per route.
    match target.route {
        Route::Unknown => Ok((not_found(), 0)),
        Route::ListAttestations => on_list_attestations(call).await,
        Route::GetAttestationBlob => on_get_attestation_blob(call).await,
        Route::ListRulesets | Route::GetRuleset | Route::GetTagRef | Route::GetTagObject => {
            on_rules_and_refs(call).await
        }
        Route::CreateAttestation => on_create_attestation(call).await,
        Route::GetRepository => on_get_repository(call).await,
        Route::ListReleases => on_list_releases(call).await,
        Route::GetReleaseByTag => on_get_release_by_tag(call).await,
        Route::GetRelease => on_get_release(call).await,
        Route::CreateRelease => on_create_release(call).await,
        Route::UpdateRelease => on_update_release(call).await,
        Route::DeleteRelease => on_delete_release(call).await,
        Route::GenerateNotes => on_generate_notes(call).await,
        Route::ListAssets => on_list_assets(call).await,
        Route::GetAsset => on_get_asset(call).await,
        Route::DeleteAsset => on_delete_asset(call).await,
        Route::UploadAsset => on_upload_asset(call).await,
    }
}

async fn on_list_attestations(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, query, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let digest = target.tag.clone().unwrap_or_default();
    let predicate = query_param(query, "predicate_type");
    let per_page = query_param(query, "per_page").and_then(|v| v.parse().ok()).unwrap_or(30usize).clamp(1, 100);
    let mut world = shared.world.lock().unwrap();
    // GitHub's own release attestations, then the ones stored with POST (by a workflow).
    let mut found: Vec<(u64, Value, &str)> =
        world.rules.release_bundles(repo).into_iter().map(|(id, b)| (id, b, "github")).collect();
    found.extend(world.attestations.iter().filter(|(r, _, _)| r == repo).map(|(_, id, b)| (*id, b.clone(), "user")));
    found.retain(|(_, bundle, _)| {
        let statement = statement_of(bundle);
        subject_digests(&statement).iter().any(|d| d.eq_ignore_ascii_case(&digest))
            && predicate.as_deref().is_none_or(|p| predicate_matches(p, &statement))
    });
    found.truncate(per_page);
    if found.is_empty() {
        return ok(json_response(
            StatusCode::NOT_FOUND,
            error_body(
                StatusCode::NOT_FOUND,
                "Not Found",
                "https://docs.github.com/rest/repos/attestations#list-attestations",
            ),
        ));
    }
    let mut items = Vec::new();
    for (id, bundle, initiator) in found {
        if world.inline_bundles {
            items.push(json!({"repository_id": 1, "bundle_url": null, "initiator": initiator, "bundle": bundle}));
            continue;
        }
        let path = format!("{BLOB_PREFIX}1/2026/07/16/{id}.json.sn");
        let compressed =
            snap::raw::Encoder::new().compress_vec(bundle.to_string().as_bytes()).expect("snappy compresses");
        // A pre-signed URL: the query authorises the read (its values are decoration
        // here; the blob store refuses nothing).
        let signature = hex::encode(&Sha256::digest(&compressed)[..8]);
        let url = format!("{}{path}?sv=2025-01-05&se=2026-07-16T12%3A00%3A00Z&sr=b&sp=r&sig={signature}", shared.base);
        world.blobs.insert(path, compressed);
        items.push(json!({"repository_id": 1, "bundle_url": url, "initiator": initiator, "bundle": null}));
    }
    ok(json_response(StatusCode::OK, json!({"attestations": items})))
}

async fn on_get_attestation_blob(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, target, .. } = call;
    let path = target.tag.clone().unwrap_or_default();
    let blob = shared.world.lock().unwrap().blobs.get(&path).cloned();
    let mut response = match blob {
        Some(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-snappy"));
            response
        }
        None => (StatusCode::NOT_FOUND, "BlobNotFound: The specified blob does not exist.").into_response(),
    };
    response.headers_mut().insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    ok(response)
}

async fn on_rules_and_refs(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, query, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let world = shared.world.lock().unwrap();
    let (status, body) = match target.route {
        Route::ListRulesets => {
            let parents = query_param(query, "includes_parents").is_none_or(|v| v != "false");
            world.rules.list_rulesets(&shared.base, repo, parents)
        }
        Route::GetRuleset => world.rules.get_ruleset(&shared.base, repo, target.release_id.unwrap_or(0)),
        Route::GetTagRef => {
            let tag = target.tag.clone().unwrap_or_default();
            if world.tags.get(repo).is_some_and(|t| t.contains(&tag)) {
                let (sha, kind) = match world.annotated.get(&(repo.to_owned(), tag.clone())) {
                    Some(object) => (object.clone(), "tag"),
                    None => (world.tag_commit(repo, &tag), "commit"),
                };
                let plural = if kind == "tag" { "tags" } else { "commits" };
                (
                    200,
                    json!({
                        "ref": format!("refs/tags/{tag}"), "node_id": "REF_1",
                        "url": format!("{}/api/v3/repos/{repo}/git/refs/tags/{tag}", shared.base),
                        "object": {"sha": sha, "type": kind, "url": format!("{}/api/v3/repos/{repo}/git/{plural}/{sha}", shared.base)},
                    }),
                )
            } else {
                (
                    404,
                    error_body(
                        StatusCode::NOT_FOUND,
                        "Not Found",
                        "https://docs.github.com/rest/git/refs#get-a-reference",
                    ),
                )
            }
        }
        Route::GetTagObject => {
            let sha = target.tag.clone().unwrap_or_default();
            let found = world.annotated.iter().find(|((r, _), object)| r == repo && **object == sha);
            match found {
                Some(((_, tag), _)) => (
                    200,
                    json!({
                        "node_id": "TAG_1", "sha": sha, "tag": tag, "message": format!("{tag}\n"),
                        "url": format!("{}/api/v3/repos/{repo}/git/tags/{sha}", shared.base),
                        "object": {"sha": world.tag_commit(repo, tag), "type": "commit"},
                    }),
                ),
                None => (
                    404,
                    error_body(StatusCode::NOT_FOUND, "Not Found", "https://docs.github.com/rest/git/tags#get-a-tag"),
                ),
            }
        }
        _ => unreachable!("only the routes of this arm"),
    };
    ok(json_response(StatusCode::from_u16(status).unwrap(), body))
}

async fn on_create_attestation(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, body, target, .. } = call;
    let repo = target.repository.as_str();
    // The permission is checked before the body (protocols-sigstore.md §10; the
    // order on github.com is an assumption of this server).
    shared.authorize_scope(caller, repo, "attestations", Level::Write)?;
    let (request, read) = read_json(body).await;
    let bundle = &request["bundle"];
    let certificate = bundle
        .pointer("/verificationMaterial/certificate/rawBytes")
        .and_then(Value::as_str)
        .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok());
    let (Some(certificate), true) = (certificate, bundle.get("dsseEnvelope").is_some()) else {
        return Ok((
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation Failed: bundle is not a valid Sigstore bundle with a DSSE envelope", "documentation_url": "https://docs.github.com/rest/repos/attestations#create-an-attestation", "status": "422"}),
            ),
            read,
        ));
    };
    let want = format!("https://github.com/{repo}");
    let named = crate::sigstore::source_repository_of(&certificate).unwrap_or_default();
    if named != want {
        return Ok((
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": format!("Invalid Argument - values do not match: {named} != {want}"), "status": "422"}),
            ),
            read,
        ));
    }
    let mut world = shared.world.lock().unwrap();
    // An identical bundle is stored once (assumed: how github.com treats a repeated
    // POST is not documented).
    let existing = world.attestations.iter().find(|(r, _, b)| r == repo && b == bundle).map(|(_, id, _)| *id);
    let id = existing.unwrap_or_else(|| {
        world.next_id += 1;
        let id = world.next_id;
        world.attestations.push((repo.to_owned(), id, bundle.clone()));
        id
    });
    Ok((json_response(StatusCode::CREATED, json!({"id": id})), read))
}

async fn on_get_repository(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let private = shared.world.lock().unwrap().repositories[repo] == Visibility::Private;
    let push = shared.can_push(caller, repo);
    let (owner, name) = repo.split_once('/').unwrap();
    ok(json_response(
        StatusCode::OK,
        json!({
            "id": 1, "node_id": "R_1", "name": name, "full_name": repo,
            "owner": {"login": owner}, "private": private,
            "visibility": if private { "private" } else { "public" },
            "html_url": format!("{}/{repo}", shared.base),
            "default_branch": "main",
            "permissions": {"admin": false, "maintain": false, "push": push, "triage": push, "pull": true},
        }),
    ))
}

async fn on_list_releases(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, query, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let drafts = shared.can_push(caller, repo);
    let per_page = query_param(query, "per_page").and_then(|v| v.parse().ok()).unwrap_or(30usize).clamp(1, 100);
    let page = query_param(query, "page").and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
    let world = shared.world.lock().unwrap();
    // Newest first, as GitHub lists them.
    let visible: Vec<&StoredRelease> =
        world.releases.iter().rev().filter(|r| r.repository == repo && (drafts || !r.draft)).collect();
    let items: Vec<Value> =
        visible.iter().skip((page - 1) * per_page).take(per_page).map(|r| shared.release_json(r)).collect();
    let mut response = json_response(StatusCode::OK, Value::Array(items));
    if page * per_page < visible.len() {
        let next = format!(
            "<{}/api/v3/repos/{repo}/releases?per_page={per_page}&page={}>; rel=\"next\"",
            shared.base,
            page + 1
        );
        response.headers_mut().insert(header::LINK, HeaderValue::from_str(&next).unwrap());
    }
    ok(response)
}

async fn on_get_release_by_tag(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let world = shared.world.lock().unwrap();
    let found =
        world.releases.iter().find(|r| r.repository == repo && !r.draft && Some(&r.tag_name) == target.tag.as_ref());
    ok(found.map_or_else(not_found, |r| json_response(StatusCode::OK, shared.release_json(r))))
}

async fn on_get_release(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    shared.answer_release(caller, target, |r| json_response(StatusCode::OK, shared.release_json(r)))
}

async fn on_create_release(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, body, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let (request, read) = read_json(body).await;
    let Some(tag) = request["tag_name"].as_str().filter(|t| !t.is_empty()) else {
        return Ok((
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "missing_field", "field": "tag_name"}], "status": "422"}),
            ),
            read,
        ));
    };
    let mut world = shared.world.lock().unwrap();
    if world.releases.iter().any(|r| r.repository == repo && r.tag_name == tag && !r.draft) {
        return Ok((validation_failed("Release", "tag_name"), read));
    }
    let draft = request["draft"].as_bool().unwrap_or(false);
    let creating_tag = !world.tags.get(repo).is_some_and(|t| t.iter().any(|t| t == tag));
    if let Some(refusal) = world.rules.refusal(repo, tag, draft, creating_tag, false) {
        return Ok((json_response(StatusCode::UNPROCESSABLE_ENTITY, refusal), read));
    }
    let id = world.new_id();
    let immutable = !draft && world.rules.is_immutable_repository(repo);
    let now = timestamp();
    let release = StoredRelease {
        id,
        repository: repo.to_owned(),
        tag_name: tag.to_owned(),
        target_commitish: request["target_commitish"].as_str().unwrap_or("main").to_owned(),
        name: request["name"].as_str().map(str::to_owned),
        body: request["body"].as_str().map(str::to_owned),
        draft,
        prerelease: request["prerelease"].as_bool().unwrap_or(false),
        untagged: untagged_slug(id),
        created_at: now.clone(),
        published_at: (!draft).then_some(now),
        assets: Vec::new(),
        immutable,
    };
    if !draft {
        let commitish = release.target_commitish.clone();
        world.create_tag(repo, tag, &commitish);
    }
    let json = shared.release_json(&release);
    world.releases.push(release);
    Ok((json_response(StatusCode::CREATED, json), read))
}

async fn on_update_release(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, body, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let (request, read) = read_json(body).await;
    let mut world = shared.world.lock().unwrap();
    let Some(index) = world.releases.iter().position(|r| r.repository == repo && Some(r.id) == target.release_id)
    else {
        return Ok((not_found(), read));
    };
    let tag = request["tag_name"].as_str().map(str::to_owned).unwrap_or(world.releases[index].tag_name.clone());
    let publishing = request["draft"].as_bool() == Some(false) && world.releases[index].draft;
    if (publishing || !world.releases[index].draft)
        && world
            .releases
            .iter()
            .any(|r| r.repository == repo && r.tag_name == tag && !r.draft && Some(r.id) != target.release_id)
    {
        return Ok((validation_failed("Release", "tag_name"), read));
    }
    if publishing {
        let creating_tag = !world.tags.get(repo).is_some_and(|t| t.contains(&tag));
        if let Some(refusal) = world.rules.refusal(repo, &tag, false, creating_tag, true) {
            return Ok((json_response(StatusCode::UNPROCESSABLE_ENTITY, refusal), read));
        }
    }
    let immutable_repository = world.rules.is_immutable_repository(repo);
    let release = &mut world.releases[index];
    release.tag_name = tag.clone();
    if let Some(name) = request["name"].as_str() {
        release.name = Some(name.to_owned());
    }
    if let Some(body) = request["body"].as_str() {
        release.body = Some(body.to_owned());
    }
    if let Some(pre) = request["prerelease"].as_bool() {
        release.prerelease = pre;
    }
    if publishing {
        release.draft = false;
        release.published_at = Some(timestamp());
        release.immutable = immutable_repository;
    }
    let json = shared.release_json(release);
    let (id, commitish) = (release.id, release.target_commitish.clone());
    let assets: Vec<(String, String)> = release.assets.iter().map(|a| (a.name.clone(), a.sha256())).collect();
    if publishing {
        world.create_tag(repo, &tag, &commitish);
    }
    if publishing && immutable_repository {
        let attestation = world.new_id();
        let commit = world.tag_commit(repo, &tag);
        world.rules.attest(repo, id, attestation, (&tag, &commit), &assets);
    }
    Ok((json_response(StatusCode::OK, json), read))
}

async fn on_delete_release(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let mut world = shared.world.lock().unwrap();
    let before = world.releases.len();
    let burned: Vec<String> = world
        .releases
        .iter()
        .filter(|r| r.repository == repo && Some(r.id) == target.release_id && r.immutable)
        .map(|r| r.tag_name.clone())
        .collect();
    for tag in burned {
        world.rules.burned.entry(repo.to_owned()).or_default().insert(tag);
    }
    world.releases.retain(|r| !(r.repository == repo && Some(r.id) == target.release_id));
    ok(if world.releases.len() < before { StatusCode::NO_CONTENT.into_response() } else { not_found() })
}

async fn on_generate_notes(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, body, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let (request, read) = read_json(body).await;
    let tag = request["tag_name"].as_str().unwrap_or_default();
    let notes = json!({
        "name": tag,
        "body": format!("## What's Changed\n* Generated notes for {tag} by the test server\n"),
    });
    Ok((json_response(StatusCode::OK, notes), read))
}

async fn on_list_assets(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    shared.answer_release(caller, target, |r| {
        json_response(StatusCode::OK, Value::Array(r.assets.iter().map(|a| shared.asset_json(r, a)).collect()))
    })
}

async fn on_get_asset(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, headers, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Read)?;
    let drafts = shared.can_push(caller, repo);
    let world = shared.world.lock().unwrap();
    let found = world
        .releases
        .iter()
        .filter(|r| r.repository == repo && (drafts || !r.draft))
        .find_map(|r| r.assets.iter().find(|a| Some(a.id) == target.asset_id).map(|a| (r, a)));
    let Some((release, asset)) = found else { return ok(not_found()) };
    let wants_bytes = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    ok(if wants_bytes {
        let mut response = Response::new(Body::from(Bytes::from(asset.bytes.clone())));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(&asset.content_type).unwrap());
        response
    } else {
        json_response(StatusCode::OK, shared.asset_json(release, asset))
    })
}

async fn on_delete_asset(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let mut world = shared.world.lock().unwrap();
    if world
        .releases
        .iter()
        .any(|r| r.repository == repo && r.immutable && r.assets.iter().any(|a| Some(a.id) == target.asset_id))
    {
        return ok(json_response(StatusCode::UNPROCESSABLE_ENTITY, Rules::locked_assets(true)));
    }
    let mut deleted = false;
    for release in world.releases.iter_mut().filter(|r| r.repository == repo) {
        let before = release.assets.len();
        release.assets.retain(|a| Some(a.id) != target.asset_id);
        deleted |= release.assets.len() < before;
    }
    ok(if deleted { StatusCode::NO_CONTENT.into_response() } else { not_found() })
}

async fn on_upload_asset(call: Call<'_>) -> Result<(Response, u64), Denied> {
    let Call { shared, caller, target, headers, query, body, .. } = call;
    let repo = target.repository.as_str();
    shared.authorize(caller, repo, Level::Write)?;
    let Some(name) = query_param(query, "name").filter(|n| !n.is_empty()) else {
        return ok(json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation Failed", "errors": [{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}], "status": "422"}),
        ));
    };
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return ok(json_response(
            StatusCode::BAD_REQUEST,
            error_body(StatusCode::BAD_REQUEST, "Content-Type header is required", "https://docs.github.com/rest"),
        ));
    };
    if headers.get(header::CONTENT_LENGTH).is_none() {
        return ok(json_response(
            StatusCode::LENGTH_REQUIRED,
            error_body(
                StatusCode::LENGTH_REQUIRED,
                "Content-Length header is required",
                "https://docs.github.com/rest",
            ),
        ));
    }
    {
        let world = shared.world.lock().unwrap();
        let Some(release) = world.releases.iter().find(|r| r.repository == repo && Some(r.id) == target.release_id)
        else {
            return ok(not_found());
        };
        if release.immutable {
            return ok(json_response(StatusCode::UNPROCESSABLE_ENTITY, Rules::locked_assets(false)));
        }
        if release.assets.iter().any(|a| a.name == name) {
            return ok(validation_failed("ReleaseAsset", "name"));
        }
    }
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(_) => return Ok((StatusCode::BAD_REQUEST.into_response(), bytes.len() as u64)),
        }
    }
    let read = bytes.len() as u64;
    let mut world = shared.world.lock().unwrap();
    let id = world.new_id();
    let asset = StoredAsset {
        id,
        name: name.clone(),
        label: query_param(query, "label"),
        content_type,
        state: "uploaded".into(),
        bytes,
        created_at: timestamp(),
    };
    let Some(release) = world.releases.iter_mut().find(|r| r.repository == repo && Some(r.id) == target.release_id)
    else {
        return Ok((not_found(), read));
    };
    if release.assets.iter().any(|a| a.name == name) {
        return Ok((validation_failed("ReleaseAsset", "name"), read));
    }
    let json = shared.asset_json(release, &asset);
    release.assets.push(asset);
    Ok((json_response(StatusCode::CREATED, json), read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_parsed_from_ghes_paths() {
        let t = parse_target(&Method::POST, "/api/uploads/repos/o/r/releases/12/assets");
        assert_eq!((t.route, t.repository.as_str(), t.release_id), (Route::UploadAsset, "o/r", Some(12)));
        let t = parse_target(&Method::GET, "/api/v3/repos/o/r/releases/tags/v1.0.0");
        assert_eq!((t.route, t.tag.as_deref()), (Route::GetReleaseByTag, Some("v1.0.0")));
        let t = parse_target(&Method::DELETE, "/api/v3/repos/o/r/releases/assets/7");
        assert_eq!((t.route, t.asset_id), (Route::DeleteAsset, Some(7)));
        assert_eq!(parse_target(&Method::GET, "/repos/o/r").route, Route::Unknown);
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_param(Some("name=a%20b.tar.gz&label=x"), "name").as_deref(), Some("a b.tar.gz"));
        assert_eq!(query_param(Some("name=a"), "label"), None);
    }

    #[test]
    fn timestamps_look_like_githubs() {
        let t = timestamp();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
