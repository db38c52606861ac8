//! A crate registry for tests, built from `shared/protocols-crates.md` (part A).
//!
//! It answers the way the public crate registry does, where no installable registry server
//! does (the real `ferro-cargo-registry-server` covers the cargo ↔ registry round trip, see
//! [`crate::ferro`]):
//!
//! - the sparse index under `/index/` (`config.json`, one JSON line per version with `cksum`),
//!   with a lag between the upload's 200 and the index line ([`CratesServer::set_index_lag`]);
//! - `PUT /api/v1/crates/new` with the binary body (u32 LE JSON length, JSON, u32 LE tarball
//!   length, tarball) and every refusal in the order the registry checks (A2): auth header
//!   shape, trusted-publishing tokens (unknown or expired, new crate, other crate), no
//!   credentials, token format, unknown/revoked token, endpoint and crate scopes,
//!   `trustpub_only`, the per-user rate limit (429 with an HTTP-date `Retry-After` and the
//!   bucket arithmetic of A5), tarball size and manifest, required metadata, ownership, a
//!   version already uploaded (build metadata ignored);
//! - `GET /api/v1/me`: cookie-only, so a live token gets 403 "this action can only be
//!   performed on the … website" and a dead one 403 "authentication failed" (A4.1);
//! - `GET /api/v1/crates/{name}` (`trustpub_only`), downloads;
//! - trusted publishing (A9): a GitHub Actions OIDC token endpoint (`/oidc/token`, what
//!   `ACTIONS_ID_TOKEN_REQUEST_URL` points at) that issues unsigned JWTs with the claims the
//!   test sets, the exchange with the registry's refusals in its order and words, and the
//!   revoke (204 always);
//! - a plain-text 403 for a request without `User-Agent` (downloads exempt).
//!
//! Every request is recorded; faults are injected per route, crate and occurrence. The
//! registry's domain (the `⟨R⟩` of its messages and the trusted-publishing audience) is the
//! server's `host:port`. The server runs on its own thread and runtime.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The issuer of GitHub Actions OIDC tokens, as the registry checks it.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// What `ACTIONS_ID_TOKEN_REQUEST_TOKEN` must be for the OIDC endpoint to answer.
pub const OIDC_REQUEST_TOKEN: &str = "oidc-request-token-e2e";

/// The registry's endpoint scopes.
pub const PUBLISH_NEW: &str = "publish-new";
pub const PUBLISH_UPDATE: &str = "publish-update";

/// An API token: whose it is, its scopes, and whether it still works.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub user: String,
    /// `None`: a legacy token that passes every endpoint-scope check.
    pub endpoint_scopes: Option<Vec<String>>,
    /// Exact names, `prefix*` or `*`; empty: every crate.
    pub crate_scopes: Vec<String>,
    /// Revoked or expired: both answer "authentication failed".
    pub dead: bool,
}

impl TokenSpec {
    /// A legacy (unscoped) token of `user`.
    pub fn of(user: &str) -> Self {
        TokenSpec { user: user.into(), endpoint_scopes: None, crate_scopes: Vec::new(), dead: false }
    }

    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.endpoint_scopes = Some(scopes.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn crates(mut self, patterns: &[&str]) -> Self {
        self.crate_scopes = patterns.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn dead(mut self) -> Self {
        self.dead = true;
        self
    }
}

/// A trusted-publishing config of one crate (GitHub).
#[derive(Clone, Debug)]
pub struct TrustConfig {
    /// `owner/name`.
    pub repository: String,
    pub owner_id: i64,
    /// The workflow file name, `release.yml`.
    pub workflow: String,
    pub environment: Option<String>,
}

/// The claims of the OIDC tokens the server's token endpoint issues.
#[derive(Clone, Debug)]
pub struct Claims {
    pub repository: String,
    pub repository_owner_id: String,
    /// `owner/repo/.github/workflows/release.yml@refs/tags/v1.0.0`.
    pub workflow_ref: String,
    pub environment: Option<String>,
}

/// A per-user rate-limit bucket (A5): `burst` tokens, one more every `rate`.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub burst: u32,
    pub rate: Duration,
}

/// The endpoints, for recording and faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Config,
    Index,
    Publish,
    Me,
    Crate,
    Download,
    Exchange,
    Revoke,
    Oidc,
    Unknown,
}

/// On the `nth` request (1-based) to `route` (about `krate`, when given), answer `status`
/// with the registry's error envelope around `detail` instead of doing the work.
#[derive(Clone, Debug)]
pub struct Fault {
    pub route: Route,
    pub krate: Option<String>,
    pub nth: usize,
    pub status: u16,
    pub detail: String,
    pub headers: Vec<(String, String)>,
    /// Do the work first, then answer the fault: the answer was lost on the way back.
    pub lose_answer: bool,
}

impl Fault {
    /// On the `nth` request to `route`, answer `status` with `detail` instead of working.
    pub fn new(route: Route, nth: usize, status: u16, detail: &str) -> Self {
        Fault { route, krate: None, nth, status, detail: detail.into(), headers: Vec::new(), lose_answer: false }
    }

    /// Do the work, then answer the fault.
    pub fn after_work(mut self) -> Self {
        self.lose_answer = true;
        self
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub route: Route,
    /// The crate a publish, index read or crate read was about.
    pub krate: Option<String>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub body_len: usize,
    pub status: u16,
    /// The error detail answered, if any.
    pub detail: Option<String>,
}

/// A version as stored.
#[derive(Clone, Debug)]
pub struct StoredVersion {
    pub vers: String,
    pub cksum: String,
    pub yanked: bool,
    pub bytes: Vec<u8>,
    deps: Value,
    /// Index reads of the crate's file that still do not show this version.
    hidden_reads: u32,
    /// Reads by `release` (its user agent) that still do not show it: a version someone
    /// publishes between the release's preflight and its publish stage.
    hidden_from_release: u32,
}

#[derive(Clone, Debug, Default)]
struct StoredCrate {
    /// The name as first published.
    name: String,
    owners: Vec<String>,
    trustpub_only: bool,
    trust_configs: Vec<TrustConfig>,
    versions: Vec<StoredVersion>,
}

#[derive(Clone, Debug)]
struct TpToken {
    crates: Vec<String>,
    expires: SystemTime,
    /// Uploads left before it counts as expired (see [`CratesServer::expire_tp_after`]).
    uploads_left: Option<u32>,
}

#[derive(Debug)]
struct World {
    domain: String,
    tokens: BTreeMap<String, TokenSpec>,
    crates: BTreeMap<String, StoredCrate>,
    tp_tokens: BTreeMap<String, TpToken>,
    tp_minted: usize,
    tp_revoked: usize,
    used_jti: Vec<String>,
    claims: Option<Claims>,
    next_jti: u64,
    index_lag: u32,
    new_bucket: Bucket,
    update_bucket: Bucket,
    buckets: BTreeMap<(String, bool), (u32, SystemTime)>,
    max_upload: usize,
    tp_lifetime: Duration,
    tp_uploads: Option<u32>,
    faults: Vec<Fault>,
    counts: BTreeMap<String, usize>,
    requests: Vec<RecordedRequest>,
    published: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
struct Shared {
    world: Arc<Mutex<World>>,
    base: String,
}

/// The running server. Dropping it stops it.
#[derive(Debug)]
pub struct CratesServer {
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for CratesServer {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

impl CratesServer {
    /// Starts a server on a free loopback port, on its own thread.
    pub fn start() -> CratesServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let base = format!("http://{addr}");
        let world = World {
            domain: addr.to_string(),
            tokens: BTreeMap::new(),
            crates: BTreeMap::new(),
            tp_tokens: BTreeMap::new(),
            tp_minted: 0,
            tp_revoked: 0,
            used_jti: Vec::new(),
            claims: None,
            next_jti: 1,
            index_lag: 0,
            new_bucket: Bucket { burst: 5, rate: Duration::from_secs(600) },
            update_bucket: Bucket { burst: 30, rate: Duration::from_secs(60) },
            buckets: BTreeMap::new(),
            max_upload: 10 * 1024 * 1024,
            tp_lifetime: Duration::from_secs(30 * 60),
            tp_uploads: None,
            faults: Vec::new(),
            counts: BTreeMap::new(),
            requests: Vec::new(),
            published: Vec::new(),
        };
        let shared = Shared { world: Arc::new(Mutex::new(world)), base };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        std::thread::Builder::new()
            .name("crates-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the crate registry test server");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    tokio::select! {
                        served = axum::serve(listener, app) => served.expect("the crate registry test server runs"),
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn the crate registry test server thread");
        CratesServer { shared, shutdown: Some(shutdown) }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.shared.world.lock().unwrap()
    }

    /// `http://127.0.0.1:PORT`: the API base `config.json` advertises.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// The index URL as cargo and release.toml write it: `sparse+http://…/index/`.
    pub fn index_url(&self) -> String {
        format!("sparse+{}/index/", self.shared.base)
    }

    /// The registry's domain: `127.0.0.1:PORT`, the trusted-publishing audience.
    pub fn domain(&self) -> String {
        self.world().domain.clone()
    }

    /// What `ACTIONS_ID_TOKEN_REQUEST_URL` is in a job with `id-token: write`.
    pub fn oidc_request_url(&self) -> String {
        format!("{}/oidc/token?api-version=2.0", self.shared.base)
    }

    pub fn add_token(&self, value: &str, spec: TokenSpec) -> &Self {
        self.world().tokens.insert(value.into(), spec);
        self
    }

    /// A crate with a version already published (its `.crate` bytes), owned by `owner`.
    pub fn add_version(&self, name: &str, vers: &str, bytes: Vec<u8>, owner: &str) -> &Self {
        let mut world = self.world();
        let krate = world.crates.entry(canonical(name)).or_insert_with(|| StoredCrate {
            name: name.into(),
            owners: vec![owner.into()],
            ..StoredCrate::default()
        });
        krate.versions.push(StoredVersion {
            vers: vers.into(),
            cksum: hex::encode(Sha256::digest(&bytes)),
            yanked: false,
            bytes,
            deps: json!([]),
            hidden_reads: 0,
            hidden_from_release: 0,
        });
        self
    }

    /// [`CratesServer::add_version`], shown to `release` only from its `reads + 1`-th read of
    /// the crate's index file on (others see it at once).
    pub fn add_version_unseen(&self, name: &str, vers: &str, bytes: Vec<u8>, owner: &str, reads: u32) -> &Self {
        self.add_version(name, vers, bytes, owner);
        let mut world = self.world();
        let version = world.crates.get_mut(&canonical(name)).unwrap().versions.last_mut().unwrap();
        version.hidden_from_release = reads;
        drop(world);
        self
    }

    pub fn set_trustpub_only(&self, name: &str, on: bool) -> &Self {
        self.world().crates.get_mut(&canonical(name)).expect("the crate exists").trustpub_only = on;
        self
    }

    pub fn add_trust_config(&self, name: &str, config: TrustConfig) -> &Self {
        self.world().crates.get_mut(&canonical(name)).expect("the crate exists").trust_configs.push(config);
        self
    }

    /// The claims of every OIDC token the server issues from now on.
    pub fn set_claims(&self, claims: Claims) -> &Self {
        self.world().claims = Some(claims);
        self
    }

    /// A version published from now on shows in the index only after `reads` reads of its
    /// crate's index file (the CDN lag between the 200 and the line).
    pub fn set_index_lag(&self, reads: u32) -> &Self {
        self.world().index_lag = reads;
        self
    }

    pub fn set_rate_limits(&self, new_crates: Bucket, updates: Bucket) -> &Self {
        let mut world = self.world();
        world.new_bucket = new_crates;
        world.update_bucket = updates;
        self
    }

    pub fn set_tp_lifetime(&self, lifetime: Duration) -> &Self {
        self.world().tp_lifetime = lifetime;
        self
    }

    /// Trusted-publishing tokens minted from now on expire after `uploads` accepted uploads:
    /// the 30 minutes running out mid-release, without waiting for them.
    pub fn expire_tp_after(&self, uploads: u32) -> &Self {
        self.world().tp_uploads = Some(uploads);
        self
    }

    pub fn inject(&self, fault: Fault) -> &Self {
        self.world().faults.push(fault);
        self
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.world().requests.clone()
    }

    /// `(name, version)` of every upload the registry accepted, in order.
    pub fn published(&self) -> Vec<(String, String)> {
        self.world().published.clone()
    }

    /// A stored version.
    pub fn version(&self, name: &str, vers: &str) -> Option<StoredVersion> {
        self.world().crates.get(&canonical(name))?.versions.iter().find(|v| v.vers == vers).cloned()
    }

    /// Trusted-publishing tokens minted, revoked, and still alive.
    pub fn tp_counts(&self) -> (usize, usize, usize) {
        let world = self.world();
        (world.tp_minted, world.tp_revoked, world.tp_tokens.len())
    }
}

/// A minimal `.crate` (gzip tar under `name-vers/`) with a manifest the registry accepts, for
/// versions a test puts on the server directly.
pub fn make_crate(name: &str, vers: &str, extra: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\ndescription = \"{name} for tests\"\nlicense = \"MIT\"\n"
    );
    let lib = format!("// {extra}\npub fn f() {{}}\n");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, data) in [("Cargo.toml", manifest.as_bytes()), ("src/lib.rs", lib.as_bytes())] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_153_704_088);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}-{vers}/{path}"), data).expect("tar entry");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// The sparse index path of a crate (A6): `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub fn index_path(name: &str) -> String {
    let n = name.to_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// The unique form of a crate name: lowercase, `-` as `_`.
fn canonical(name: &str) -> String {
    name.to_lowercase().replace('-', "_")
}

/// A version without its build metadata.
fn without_build(vers: &str) -> &str {
    vers.split('+').next().unwrap_or(vers)
}

fn envelope(status: StatusCode, detail: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"errors": [{"detail": detail}]}).to_string())
        .into_response()
}

/// A refusal: the status, the detail, extra headers.
struct Refusal(StatusCode, String, Vec<(String, String)>);

impl Refusal {
    fn new(status: u16, detail: impl Into<String>) -> Self {
        Refusal(StatusCode::from_u16(status).unwrap(), detail.into(), Vec::new())
    }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (route, krate) = route_of(&parts.method, &path);
    let user_agent = header("user-agent");
    let authorization = header("authorization");

    let mut world = shared.world.lock().unwrap();
    let key = format!("{route:?}/{}", krate.clone().unwrap_or_default());
    let route_key = format!("{route:?}");
    *world.counts.entry(key.clone()).or_default() += 1;
    *world.counts.entry(route_key.clone()).or_default() += 1;
    let (nth_crate, nth_route) = (world.counts[&key], world.counts[&route_key]);
    let fault = world
        .faults
        .iter()
        .find(|f| {
            f.route == route
                && match &f.krate {
                    Some(k) => Some(k) == krate.as_ref() && f.nth == nth_crate,
                    None => f.nth == nth_route,
                }
        })
        .cloned();

    let outcome: Result<Response, Refusal> = if let Some(fault) = fault.clone().filter(|f| !f.lose_answer) {
        Err(Refusal(StatusCode::from_u16(fault.status).unwrap(), fault.detail, fault.headers))
    } else if user_agent.is_none() && route != Route::Download {
        // The registry's middleware: plain text, not the JSON envelope.
        Ok((
            StatusCode::FORBIDDEN,
            "We require that all requests include a `User-Agent` header.  To allow us to determine the impact your bot may have on our service, we ask that your user agent actually identify your bot, and not just report the version of the library you are using.  At a minimum, user agents should identify the crate and its version.\n",
        )
            .into_response())
    } else {
        let base = shared.base.clone();
        match route {
            Route::Config => Ok(axum::Json(json!({
                "dl": format!("{base}/api/v1/crates"),
                "api": base,
            }))
            .into_response()),
            Route::Index => {
                let ours = user_agent.as_deref().is_some_and(|ua| ua.starts_with("release-orchestrator/"));
                index_file(&mut world, krate.as_deref().unwrap_or_default(), ours)
            }
            Route::Crate => crate_info(&world, krate.as_deref().unwrap_or_default()),
            Route::Download => download(&world, &path),
            Route::Me => me(&world, authorization.as_deref()).map(|()| StatusCode::OK.into_response()),
            Route::Publish => publish(&mut world, authorization.as_deref(), &body),
            Route::Exchange => exchange(&mut world, &body),
            Route::Revoke => revoke(&mut world, authorization.as_deref()),
            Route::Oidc => oidc(&mut world, authorization.as_deref(), &query),
            Route::Unknown => Err(Refusal::new(404, "Not Found")),
        }
    };
    let outcome = match fault.filter(|f| f.lose_answer) {
        Some(fault) => Err(Refusal(StatusCode::from_u16(fault.status).unwrap(), fault.detail, fault.headers)),
        None => outcome,
    };
    let (response, status, detail) = match outcome {
        Ok(response) => {
            let status = response.status().as_u16();
            (response, status, None)
        }
        Err(Refusal(status, detail, headers)) => {
            let mut response = envelope(status, &detail);
            for (name, value) in headers {
                response.headers_mut().insert(
                    axum::http::HeaderName::try_from(name).unwrap(),
                    axum::http::HeaderValue::try_from(value).unwrap(),
                );
            }
            (response, status.as_u16(), Some(detail))
        }
    };
    world.requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path,
        route,
        krate,
        authorization,
        user_agent,
        body_len: body.len(),
        status,
        detail,
    });
    response
}

fn route_of(method: &Method, path: &str) -> (Route, Option<String>) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["index", "config.json"]) => (Route::Config, None),
        // Only at the crate's own path (A6): a client that computes another gets a 404.
        ("GET", ["index", rest @ ..]) if rest.join("/") == index_path(rest[rest.len() - 1]) => {
            (Route::Index, Some(rest[rest.len() - 1].to_string()))
        }
        ("PUT", ["api", "v1", "crates", "new"]) => (Route::Publish, None),
        ("GET", ["api", "v1", "me"]) => (Route::Me, None),
        ("GET", ["api", "v1", "crates", name]) => (Route::Crate, Some(name.to_string())),
        ("GET", ["api", "v1", "crates", name, _, "download"]) => (Route::Download, Some(name.to_string())),
        ("POST", ["api", "v1", "trusted_publishing", "tokens"]) => (Route::Exchange, None),
        ("DELETE", ["api", "v1", "trusted_publishing", "tokens"]) => (Route::Revoke, None),
        ("GET", ["oidc", "token"]) => (Route::Oidc, None),
        _ => (Route::Unknown, None),
    }
}

fn index_file(world: &mut World, name: &str, by_release: bool) -> Result<Response, Refusal> {
    let Some(krate) = world.crates.get_mut(&canonical(name)) else {
        return Err(Refusal::new(404, "Not Found"));
    };
    let mut lines = String::new();
    for version in &mut krate.versions {
        if by_release && version.hidden_from_release > 0 {
            version.hidden_from_release -= 1;
            continue;
        }
        if version.hidden_reads > 0 {
            version.hidden_reads -= 1;
            continue;
        }
        let line = json!({
            "name": krate.name, "vers": version.vers, "deps": version.deps, "cksum": version.cksum,
            "features": {}, "yanked": version.yanked, "v": 1,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    if lines.is_empty() {
        return Err(Refusal::new(404, "Not Found"));
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain"), (header::CACHE_CONTROL, "public,max-age=600")], lines)
        .into_response())
}

fn crate_info(world: &World, name: &str) -> Result<Response, Refusal> {
    let krate = world
        .crates
        .get(&canonical(name))
        .ok_or_else(|| Refusal::new(404, format!("crate `{name}` does not exist")))?;
    let versions: Vec<Value> = krate.versions.iter().map(|v| json!({"num": v.vers, "yanked": v.yanked})).collect();
    Ok(axum::Json(json!({
        "crate": {"name": krate.name, "trustpub_only": krate.trustpub_only,
                  "max_version": krate.versions.last().map(|v| v.vers.clone())},
        "versions": versions,
    }))
    .into_response())
}

fn download(world: &World, path: &str) -> Result<Response, Refusal> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (name, vers) = (segments[3], segments[4]);
    let version = world
        .crates
        .get(&canonical(name))
        .and_then(|k| k.versions.iter().find(|v| v.vers == vers))
        .ok_or_else(|| Refusal::new(404, format!("crate `{name}` does not have a version `{vers}`")))?;
    Ok((StatusCode::OK, version.bytes.clone()).into_response())
}

/// The bare token, or `Bearer <token>` (A1); anything else is a 401.
fn bare_token(authorization: Option<&str>) -> Result<Option<String>, Refusal> {
    let Some(value) = authorization else { return Ok(None) };
    if !value.is_ascii() {
        return Err(Refusal::new(401, "Invalid `Authorization` header: Found unexpected non-ASCII characters"));
    }
    match value.split_once(' ') {
        None => Ok(Some(value.to_owned())),
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim().to_owned())),
        Some((scheme, _)) => Err(Refusal::new(
            401,
            format!("Invalid `Authorization` header: Found unexpected authentication scheme `{scheme}`"),
        )),
    }
}

fn token_format_error(domain: &str) -> Refusal {
    Refusal::new(
        401,
        format!(
            "The given API token does not match the format used by {domain}. Tokens generated before 2020-07-14 were generated with an insecure random number generator, and have been revoked. You can generate a new token at https://{domain}/me. For more information please see https://blog.rust-lang.org/inside-rust/2020/07/13/crates-io-security-advisory.html. We apologize for any inconvenience."
        ),
    )
}

/// Authenticates an API token (A2 7a-7e): the live token's spec.
fn authenticate<'w>(world: &'w World, authorization: Option<&str>) -> Result<&'w TokenSpec, Refusal> {
    let Some(token) = bare_token(authorization)? else {
        return Err(Refusal::new(403, "this action requires authentication"));
    };
    if !token.starts_with("cio") {
        return Err(token_format_error(&world.domain));
    }
    match world.tokens.get(&token) {
        Some(spec) if !spec.dead => Ok(spec),
        _ => Err(Refusal::new(403, "authentication failed")),
    }
}

fn me(world: &World, authorization: Option<&str>) -> Result<(), Refusal> {
    authenticate(world, authorization)?;
    Err(Refusal::new(403, format!("this action can only be performed on the {} website", world.domain)))
}

fn crate_scope_matches(patterns: &[String], name: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
}

fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

/// Takes a token from the user's bucket (A5): refill by whole periods since the last refill,
/// then spend one, or refuse with the time the next token arrives.
fn take_rate_token(world: &mut World, user: &str, new_crate: bool) -> Result<(), Refusal> {
    let bucket = if new_crate { world.new_bucket } else { world.update_bucket };
    let now = SystemTime::now();
    let state = world.buckets.entry((user.to_owned(), new_crate)).or_insert((bucket.burst, now));
    let elapsed = now.duration_since(state.1).unwrap_or_default();
    let periods = (elapsed.as_millis() / bucket.rate.as_millis().max(1)) as u32;
    if periods > 0 {
        state.0 = (state.0 + periods).min(bucket.burst);
        state.1 += bucket.rate * periods;
    }
    if state.0 > 0 {
        state.0 -= 1;
        return Ok(());
    }
    let after = http_date(state.1 + bucket.rate);
    let what = if new_crate { "new crates" } else { "updates to existing crates" };
    let mut refusal = Refusal::new(
        429,
        format!(
            "You have published too many {what} in a short period of time. Please try again after {after} and see https://{}/docs/rate-limits for more details.",
            world.domain
        ),
    );
    refusal.2.push(("retry-after".into(), after));
    Err(refusal)
}

/// `PUT /api/v1/crates/new`, every check in the registry's order (A2).
fn publish(world: &mut World, authorization: Option<&str>, body: &Bytes) -> Result<Response, Refusal> {
    // 1. The metadata.
    let read_u32 = |at: usize| -> Option<usize> {
        body.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let json_len = read_u32(0).ok_or_else(|| Refusal::new(400, "invalid metadata length"))?;
    if json_len > 1024 * 1024 {
        return Err(Refusal::new(413, "JSON metadata blob too large"));
    }
    let json_bytes = body.get(4..4 + json_len).ok_or_else(|| Refusal::new(400, "invalid metadata length"))?;
    let metadata: Value =
        serde_json::from_slice(json_bytes).map_err(|e| Refusal::new(400, format!("invalid upload request: {e}")))?;
    let name =
        metadata["name"].as_str().ok_or_else(|| Refusal::new(400, "invalid upload request: missing field `name`"))?;
    let vers =
        metadata["vers"].as_str().ok_or_else(|| Refusal::new(400, "invalid upload request: missing field `vers`"))?;
    // 2, 3. Name and version.
    if name.len() > 64 {
        return Err(Refusal::new(400, format!("the crate name `{name}` is too long (max 64 characters)")));
    }
    if semver::Version::parse(vers).is_err() {
        return Err(Refusal::new(400, format!("\"{vers}\" is an invalid semver version")));
    }
    let key = canonical(name);
    let exists = world.crates.contains_key(&key);
    // 5-7. Authentication: a trusted-publishing token, or an API token.
    let token = bare_token(authorization)?;
    let token_used = token.clone();
    let user = publisher(world, authorization, token, exists, &key, name)?;
    // 8. trustpub_only.
    if let Some(krate) = world.crates.get(&key)
        && krate.trustpub_only
        && user.is_some()
    {
        return Err(Refusal::new(
            403,
            format!(
                "New versions of this crate can only be published using Trusted Publishing (see https://{}/docs/trusted-publishing).",
                world.domain
            ),
        ));
    }
    // 10. The per-user rate limit, before the tarball is read.
    if let Some(user) = &user {
        take_rate_token(world, user, !exists)?;
    }
    // 11. The tarball.
    let tar_len = read_u32(4 + json_len).ok_or_else(|| Refusal::new(400, "invalid tarball length"))?;
    if tar_len > world.max_upload {
        return Err(Refusal::new(413, format!("max upload size is: {}", world.max_upload)));
    }
    let tarball =
        body.get(8 + json_len..8 + json_len + tar_len).ok_or_else(|| Refusal::new(400, "invalid tarball length"))?;
    let manifest = manifest_of(tarball, name, vers)?;
    // 12, 13. The manifest against the metadata, and the required fields.
    check_manifest(&manifest, name, vers)?;
    // 16. Ownership, 19. the version.
    if let (Some(krate), Some(user)) = (world.crates.get(&key), &user)
        && !krate.owners.contains(user)
    {
        return Err(Refusal::new(
            403,
            "this crate exists but you don't seem to be an owner. If you believe this is a mistake, perhaps you need to accept an invitation to be an owner before publishing.",
        ));
    }
    if let Some(krate) = world.crates.get(&key)
        && krate.versions.iter().any(|v| without_build(&v.vers) == without_build(vers))
    {
        return Err(Refusal::new(400, format!("crate version `{}` is already uploaded", without_build(vers))));
    }
    let deps: Vec<Value> = metadata["deps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            json!({"name": d["name"], "req": d["version_req"], "features": d["features"], "optional": d["optional"],
                   "default_features": d["default_features"], "target": d["target"], "kind": d["kind"]})
        })
        .collect();
    let lag = world.index_lag;
    let owner = user.clone().unwrap_or_default();
    let krate = world.crates.entry(key).or_insert_with(|| StoredCrate {
        name: name.into(),
        owners: vec![owner],
        ..StoredCrate::default()
    });
    krate.versions.push(StoredVersion {
        vers: vers.into(),
        cksum: hex::encode(Sha256::digest(tarball)),
        yanked: false,
        bytes: tarball.to_vec(),
        deps: Value::Array(deps),
        hidden_reads: lag,
        hidden_from_release: 0,
    });
    let trustpub_only = krate.trustpub_only;
    world.published.push((name.into(), vers.into()));
    if let Some(tp) = token_used.and_then(|t| world.tp_tokens.get_mut(&t))
        && let Some(left) = tp.uploads_left.as_mut()
    {
        *left = left.saturating_sub(1);
    }
    Ok(axum::Json(json!({
        "crate": {"name": name, "max_version": vers, "trustpub_only": trustpub_only},
        "warnings": {"invalid_categories": [], "invalid_badges": [], "other": []},
    }))
    .into_response())
}

/// Steps 5-7 of a publish: who publishes, by a trusted-publishing token (`None`: no user) or
/// an API token with the scope for this crate.
fn publisher(
    world: &World,
    authorization: Option<&str>,
    token: Option<String>,
    exists: bool,
    key: &str,
    name: &str,
) -> Result<Option<String>, Refusal> {
    let user: Option<String> = match token {
        Some(token) if token.starts_with("cio_tp_") => {
            let live =
                world.tp_tokens.get(&token).filter(|t| t.expires > SystemTime::now() && t.uploads_left != Some(0));
            let Some(tp) = live else { return Err(Refusal::new(403, "Invalid authentication token")) };
            if !exists {
                return Err(Refusal::new(
                    403,
                    "Trusted Publishing tokens do not support creating new crates. Publish the crate manually, first",
                ));
            }
            if !tp.crates.iter().any(|c| c == key) {
                return Err(Refusal::new(403, format!("The provided access token is not valid for crate `{name}`")));
            }
            None
        }
        _ => {
            let spec = authenticate(world, authorization)?.clone();
            let scope = if exists { PUBLISH_UPDATE } else { PUBLISH_NEW };
            let endpoint_ok = spec.endpoint_scopes.as_ref().is_none_or(|s| s.iter().any(|s| s == scope));
            if !endpoint_ok || !crate_scope_matches(&spec.crate_scopes, name) {
                return Err(Refusal::new(
                    403,
                    "this token does not have the required permissions to perform this action",
                ));
            }
            Some(spec.user)
        }
    };
    Ok(user)
}

/// Steps 12 and 13 of a publish: the packaged manifest names the crate and version of the
/// metadata, and has the fields the registry requires.
fn check_manifest(manifest: &Value, name: &str, vers: &str) -> Result<(), Refusal> {
    let package = &manifest["package"];
    if package["name"].as_str() != Some(name) {
        return Err(Refusal::new(
            400,
            format!("metadata name `{name}` does not match manifest name `{}`", package["name"].as_str().unwrap_or("")),
        ));
    }
    if package["version"].as_str() != Some(vers) {
        return Err(Refusal::new(
            400,
            format!(
                "metadata version `{vers}` does not match manifest version `{}`",
                package["version"].as_str().unwrap_or("")
            ),
        ));
    }
    // 13. Required metadata.
    let mut missing = Vec::new();
    if package["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
        missing.push("description");
    }
    if package["license"].as_str().is_none_or(|d| d.trim().is_empty()) && package["license-file"].as_str().is_none() {
        missing.push("license");
    }
    if !missing.is_empty() {
        return Err(Refusal::new(
            400,
            format!(
                "missing or empty metadata fields: {}. Please see https://doc.rust-lang.org/cargo/reference/manifest.html for more information on configuring these fields",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The `Cargo.toml` inside a `.crate`, as JSON.
fn manifest_of(tarball: &[u8], name: &str, vers: &str) -> Result<Value, Refusal> {
    let malformed = || Refusal::new(400, "uploaded tarball is malformed or too large when decompressed");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let wanted = format!("{name}-{vers}/Cargo.toml");
    for entry in archive.entries().map_err(|_| malformed())? {
        let mut entry = entry.map_err(|_| malformed())?;
        if entry.path().map_err(|_| malformed())?.to_str() == Some(wanted.as_str()) {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|_| malformed())?;
            let table: toml::Table = toml::from_str(&text).map_err(|_| malformed())?;
            return serde_json::to_value(table).map_err(|_| malformed());
        }
    }
    Err(Refusal::new(400, "Cargo.toml manifest is missing"))
}

/// The GitHub Actions OIDC token endpoint: `Bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN`, the
/// audience in the query; an unsigned JWT with the configured claims.
fn oidc(world: &mut World, authorization: Option<&str>, query: &str) -> Result<Response, Refusal> {
    if authorization != Some(&format!("Bearer {OIDC_REQUEST_TOKEN}")) {
        return Err(Refusal::new(401, "Bad credentials"));
    }
    let audience = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("audience="))
        .ok_or_else(|| Refusal::new(400, "no audience"))?;
    let claims = world.claims.clone().ok_or_else(|| Refusal::new(500, "the test set no claims"))?;
    let jti = format!("jti-{}", world.next_jti);
    world.next_jti += 1;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let payload = json!({
        "iss": GITHUB_ISSUER, "aud": audience, "jti": jti, "iat": now, "exp": now + 300,
        "repository": claims.repository, "repository_owner_id": claims.repository_owner_id,
        "workflow_ref": claims.workflow_ref, "environment": claims.environment,
    });
    let header = json!({"alg": "RS256", "kid": "test-key"});
    let jwt = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode("unsigned")
    );
    Ok(axum::Json(json!({"value": jwt})).into_response())
}

/// `POST /api/v1/trusted_publishing/tokens` (A9.3): the refusals in the registry's order and
/// words. The JWT's signature is not checked (the test issues it).
fn exchange(world: &mut World, body: &Bytes) -> Result<Response, Refusal> {
    let decode = || Refusal::new(400, "Failed to decode JWT");
    let request: Value =
        serde_json::from_slice(body).map_err(|e| Refusal::new(400, format!("invalid request: {e}")))?;
    let jwt = request["jwt"].as_str().ok_or_else(decode)?;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(decode());
    }
    let claims: Value =
        URL_SAFE_NO_PAD.decode(parts[1]).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(decode)?;
    let issuer = claims["iss"].as_str().unwrap_or("");
    if issuer != GITHUB_ISSUER {
        return Err(Refusal::new(400, format!("Unsupported JWT issuer: {issuer}")));
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    if claims["aud"].as_str() != Some(world.domain.as_str()) || claims["exp"].as_u64().unwrap_or(0) < now {
        return Err(decode());
    }
    let jti = claims["jti"].as_str().unwrap_or("").to_owned();
    if world.used_jti.contains(&jti) {
        return Err(Refusal::new(400, "JWT has already been used"));
    }
    let repo = claims["repository"].as_str().unwrap_or("").to_owned();
    let owner_id: i64 = claims["repository_owner_id"].as_str().unwrap_or("").parse().unwrap_or(-1);
    let workflow = claims["workflow_ref"]
        .as_str()
        .and_then(|r| r.split('@').next())
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or("")
        .to_owned();
    let environment = claims["environment"].as_str().map(str::to_owned);
    let mut configs: Vec<(String, TrustConfig)> = world
        .crates
        .iter()
        .flat_map(|(key, k)| k.trust_configs.iter().map(move |c| (key.clone(), c.clone())))
        .filter(|(_, c)| c.repository.eq_ignore_ascii_case(&repo))
        .collect();
    if configs.is_empty() {
        return Err(Refusal::new(400, format!("No Trusted Publishing config found for repository `{repo}`.")));
    }
    let wrong_owner: Vec<String> =
        configs.iter().filter(|(_, c)| c.owner_id != owner_id).map(|(_, c)| c.owner_id.to_string()).collect();
    configs.retain(|(_, c)| c.owner_id == owner_id);
    if configs.is_empty() {
        return Err(Refusal::new(
            400,
            format!(
                "The Trusted Publishing config for repository `{repo}` does not match the repository owner ID ({owner_id}) in the JWT. Expected owner IDs: {}. Please recreate the Trusted Publishing config to update the repository owner ID.",
                wrong_owner.join(", ")
            ),
        ));
    }
    let wrong_workflow: Vec<String> =
        configs.iter().filter(|(_, c)| c.workflow != workflow).map(|(_, c)| format!("`{}`", c.workflow)).collect();
    configs.retain(|(_, c)| c.workflow == workflow);
    if configs.is_empty() {
        return Err(Refusal::new(
            400,
            format!(
                "The Trusted Publishing config for repository `{repo}` does not match the workflow filename `{workflow}` in the JWT. Expected workflow filenames: {}",
                wrong_workflow.join(", ")
            ),
        ));
    }
    let env_matches = |c: &TrustConfig| match (&c.environment, &environment) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
    };
    let wrong_env: Vec<String> = configs
        .iter()
        .filter(|(_, c)| !env_matches(c))
        .filter_map(|(_, c)| c.environment.as_ref().map(|e| format!("`{e}`")))
        .collect();
    configs.retain(|(_, c)| env_matches(c));
    if configs.is_empty() {
        let message = match &environment {
            Some(env) => format!(
                "The Trusted Publishing config for repository `{repo}` does not match the environment `{env}` in the JWT. Expected environments: {}",
                wrong_env.join(", ")
            ),
            None => format!(
                "The Trusted Publishing config for repository `{repo}` requires an environment, but the JWT does not specify one. Expected environments: {}",
                wrong_env.join(", ")
            ),
        };
        return Err(Refusal::new(400, message));
    }
    world.used_jti.push(jti);
    let token: String = format!(
        "cio_tp_{}",
        (0..32)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rand::random_range(0..36)]))
            .collect::<String>()
    );
    world.tp_tokens.insert(
        token.clone(),
        TpToken {
            crates: configs.into_iter().map(|(k, _)| k).collect(),
            expires: SystemTime::now() + world.tp_lifetime,
            uploads_left: world.tp_uploads,
        },
    );
    world.tp_minted += 1;
    Ok(axum::Json(json!({"token": token})).into_response())
}

/// `DELETE /api/v1/trusted_publishing/tokens`: 204 always, 401 for an unparsable header.
fn revoke(world: &mut World, authorization: Option<&str>) -> Result<Response, Refusal> {
    let token = bare_token(authorization)?.unwrap_or_default();
    if !token.starts_with("cio_tp_") {
        return Err(Refusal::new(401, "Invalid `Authorization` header: Failed to parse token"));
    }
    if world.tp_tokens.remove(&token).is_some() {
        world.tp_revoked += 1;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(name: &str, vers: &str, tarball: &[u8]) -> Vec<u8> {
        let json = json!({"name": name, "vers": vers, "deps": []}).to_string();
        let mut out = (json.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(&(tarball.len() as u32).to_le_bytes());
        out.extend_from_slice(tarball);
        out
    }

    async fn put(server: &CratesServer, token: Option<&str>, body: Vec<u8>) -> (u16, String, Option<String>) {
        let client = reqwest::Client::builder().user_agent("test").build().unwrap();
        let mut request = client.put(format!("{}/api/v1/crates/new", server.base_url())).body(body);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), retry)
    }

    #[tokio::test]
    async fn publishes_refuses_in_order_and_limits_the_rate() {
        let server = CratesServer::start();
        server.add_token("cioLIVE", TokenSpec::of("alice")).add_token("cioDEAD", TokenSpec::of("alice").dead());
        server.set_rate_limits(
            Bucket { burst: 1, rate: Duration::from_secs(600) },
            Bucket { burst: 1, rate: Duration::from_secs(60) },
        );
        let first = make_crate("tiny", "0.1.0", "");
        assert_eq!(
            put(&server, Some("cioDEAD"), body("tiny", "0.1.0", &first)).await.1,
            r#"{"errors":[{"detail":"authentication failed"}]}"#
        );
        let (status, text, _) = put(&server, Some("nope"), body("tiny", "0.1.0", &first)).await;
        assert_eq!(status, 401, "{text}");
        assert_eq!(put(&server, Some("cioLIVE"), body("tiny", "0.1.0", &first)).await.0, 200);
        // The version line is there, with the SHA-256 of the .crate.
        assert_eq!(server.version("tiny", "0.1.0").unwrap().cksum, hex::encode(Sha256::digest(&first)));
        // A second new crate: the bucket of one is empty; Retry-After is an HTTP-date.
        let other = make_crate("other", "0.1.0", "");
        let (status, text, retry) = put(&server, Some("cioLIVE"), body("other", "0.1.0", &other)).await;
        assert_eq!(status, 429, "{text}");
        let at = httpdate::parse_http_date(&retry.unwrap()).unwrap();
        assert!(at > SystemTime::now() + Duration::from_secs(500), "one refill period after the first publish");
        assert!(text.contains("You have published too many new crates in a short period of time"), "{text}");
        // The bucket pays before the tarball is read: a refused tarball still spends it.
        let (status, text, _) = put(&server, Some("cioLIVE"), body("tiny", "0.1.0+meta", &first)).await;
        assert_eq!((status, text.as_str()), (400, r#"{"errors":[{"detail":"Cargo.toml manifest is missing"}]}"#));
        let (status, text, _) = put(&server, Some("cioLIVE"), body("tiny", "0.1.0", &first)).await;
        assert_eq!(status, 429, "the replay spends from the same bucket: {text}");
    }
}
