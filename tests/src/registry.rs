//! Registries for the OCI tests: the real CNCF registry (`/usr/bin/docker-registry`,
//! distribution 2.8.2) started on a free loopback port in three set-ups — no auth, htpasswd,
//! token auth with our own token server — plus a GHCR-shaped responder and a recording proxy.
//!
//! Every server here records what it received ([`Received`], with the `Authorization`
//! header), so tests can assert that a credential never reached a host. Nothing is mocked
//! where a real part exists: the registry is the real one, it verifies our token server's
//! ES256 JWTs against the certificate we put in its `rootcertbundle`, and it is the registry
//! itself that refuses a pull-only token's push.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use camino::Utf8PathBuf;

/// The registry binary the tests run. `.ci/run` installs it (Debian package `docker-registry`).
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// One request a test server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
}

/// What a server received, shared with the test.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<Received>>>);

impl Recorder {
    fn record(&self, method: &str, uri: &str, headers: &HeaderMap) {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.0.lock().unwrap().push(Received { method: method.into(), uri: uri.into(), authorization });
    }

    pub fn requests(&self) -> Vec<Received> {
        self.0.lock().unwrap().clone()
    }

    /// Whether any request carried `secret` in its `Authorization` header, as is or inside
    /// a Basic credential.
    pub fn saw_secret(&self, secret: &str) -> bool {
        self.requests().iter().filter_map(|r| r.authorization.as_deref()).any(|auth| {
            auth.contains(secret)
                || auth
                    .strip_prefix("Basic ")
                    .and_then(|b| STANDARD.decode(b.trim()).ok())
                    .is_some_and(|raw| String::from_utf8_lossy(&raw).contains(secret))
        })
    }

    /// The usernames of every Basic credential received.
    pub fn basic_users(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r.authorization.as_deref()?.strip_prefix("Basic ").map(str::to_owned))
            .filter_map(|b| String::from_utf8(STANDARD.decode(b.trim()).ok()?).ok())
            .filter_map(|up| up.split_once(':').map(|(u, _)| u.to_owned()))
            .collect()
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn serve(router: axum::Router) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, task))
}

/// A user of a test registry and what it may do.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub password: String,
    /// Repository actions the token server grants (`pull`, `push`); htpasswd grants all.
    pub actions: Vec<String>,
}

impl User {
    pub fn new(name: &str, password: &str, actions: &[&str]) -> Self {
        User { name: name.into(), password: password.into(), actions: actions.iter().map(|a| a.to_string()).collect() }
    }
}

/// How the registry authenticates.
#[derive(Debug)]
pub enum Auth {
    None,
    Htpasswd(Vec<User>),
    Token(Vec<User>),
}

/// A running `docker-registry`, killed on drop.
#[derive(Debug)]
pub struct Registry {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The token server, for `Auth::Token`.
    pub token_server: Option<TokenServer>,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVICE: &str = "release-test-registry";
const ISSUER: &str = "release-test-token-server";

impl Registry {
    pub async fn start(auth: Auth) -> anyhow::Result<Registry> {
        if !std::path::Path::new(REGISTRY_BIN).exists() {
            bail!("{REGISTRY_BIN} is missing: install the Debian package `docker-registry` (.ci/run does)");
        }
        let dir = tempfile::Builder::new().prefix("registry-").tempdir()?;
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).map_err(|_| anyhow::anyhow!("non UTF-8 tmp"))?;
        let port = free_port()?;
        let host = format!("127.0.0.1:{port}");
        let (auth_yaml, token_server) = match auth {
            Auth::None => (String::new(), None),
            Auth::Htpasswd(users) => {
                let mut lines = String::new();
                for user in &users {
                    // Low cost: the registry checks this on every request.
                    let hash = bcrypt::hash(&user.password, 5).context("bcrypt")?;
                    lines.push_str(&format!("{}:{hash}\n", user.name));
                }
                let path = root.join("htpasswd");
                std::fs::write(&path, lines)?;
                (format!("auth:\n  htpasswd:\n    realm: release-test\n    path: {path}\n"), None)
            }
            Auth::Token(users) => {
                let server = TokenServer::start(users).await?;
                let bundle = root.join("token-ca.pem");
                std::fs::write(&bundle, &server.cert_pem)?;
                let yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {bundle}\n",
                    server.realm()
                );
                (yaml, Some(server))
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: release-test-secret\n{auth_yaml}"
        );
        let config_path = root.join("config.yml");
        std::fs::write(&config_path, config)?;
        let child = std::process::Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(config_path.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("registry.log"))?)
            .spawn()
            .with_context(|| format!("starting {REGISTRY_BIN}"))?;
        let mut registry = Registry { child, host, token_server, _dir: dir };
        registry.wait_ready(&root).await?;
        Ok(registry)
    }

    /// Polls `/v2/` until the registry answers (any status: 401 means it is up too).
    async fn wait_ready(&mut self, root: &camino::Utf8Path) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(root.join("registry.log")).unwrap_or_default();
                bail!("docker-registry exited with {status} before it was ready:\n{log}");
            }
            if client.get(format!("http://{}/v2/", self.host)).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("docker-registry did not answer on {} within 20 s", self.host);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// A manifest as the registry has it: `(content type, bytes)`, fetched with `auth`
    /// (`user:password`) through the token server when there is one.
    pub async fn manifest(
        &self,
        repository: &str,
        tag: &str,
        user: Option<&User>,
    ) -> anyhow::Result<(String, Vec<u8>)> {
        self.manifest_as(repository, tag, "application/vnd.oci.image.manifest.v1+json", user).await
    }

    /// [`Registry::manifest`] accepting `accept` (an image index, say).
    pub async fn manifest_as(
        &self,
        repository: &str,
        tag: &str,
        accept: &str,
        user: Option<&User>,
    ) -> anyhow::Result<(String, Vec<u8>)> {
        let request = reqwest::Client::new()
            .get(format!("{}/v2/{repository}/manifests/{tag}", self.url()))
            .header(header::ACCEPT, accept);
        let response = self.authorize(request, repository, user)?.send().await?;
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = response.bytes().await?.to_vec();
        if !status.is_success() {
            bail!("GET manifest {repository}:{tag}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok((content_type, body))
    }
}

impl Registry {
    /// A blob as the registry serves it, checked against its digest.
    pub async fn blob(&self, repository: &str, digest: &str, user: Option<&User>) -> anyhow::Result<Vec<u8>> {
        let request = reqwest::Client::new().get(format!("{}/v2/{repository}/blobs/{digest}", self.url()));
        let response = self.authorize(request, repository, user)?.send().await?;
        let status = response.status();
        let body = response.bytes().await?.to_vec();
        if !status.is_success() {
            bail!("GET blob {repository}@{digest}: {status}: {}", String::from_utf8_lossy(&body));
        }
        let actual = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)));
        if actual != digest {
            bail!("GET blob {repository}@{digest}: the registry served bytes whose digest is {actual}");
        }
        Ok(body)
    }

    /// Adds `user`'s pull credentials: a token from the token server, or Basic auth.
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        repository: &str,
        user: Option<&User>,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let Some(user) = user else { return Ok(request) };
        Ok(match &self.token_server {
            Some(server) => request.bearer_auth(server.issue(user, &format!("repository:{repository}:pull"))?),
            None => request.basic_auth(&user.name, Some(&user.password)),
        })
    }
}

/// A token server for distribution's token auth: grants each user the subset of the
/// requested actions it allows, as ES256 JWTs with an `x5c` header.
#[derive(Debug)]
pub struct TokenServer {
    pub addr: SocketAddr,
    pub received: Recorder,
    state: Arc<TokenState>,
    cert_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct TokenState {
    users: Vec<User>,
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    received: Recorder,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState").finish_non_exhaustive()
    }
}

impl TokenServer {
    pub async fn start(users: Vec<User>) -> anyhow::Result<TokenServer> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating the P-256 key"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("reading the P-256 key"))?;
        let cert_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).context("the key for the certificate")?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, ISSUER);
        let cert = params.self_signed(&cert_key)?;
        let received = Recorder::default();
        let state = Arc::new(TokenState { users, key, cert_der: cert.der().to_vec(), received: received.clone() });
        let router = axum::Router::new().route("/token", axum::routing::get(token)).with_state(state.clone());
        let (addr, task) = serve(router).await?;
        Ok(TokenServer { addr, received, state, cert_pem: cert.pem(), task })
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// A token for `user` and `scope`, as the server would issue it.
    pub fn issue(&self, user: &User, scope: &str) -> anyhow::Result<String> {
        self.state.sign(Some(user), &[scope.to_owned()])
    }
}

impl TokenState {
    fn sign(&self, user: Option<&User>, scopes: &[String]) -> anyhow::Result<String> {
        let mut access = Vec::new();
        for scope in scopes {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let allowed = user.map(|u| u.actions.clone()).unwrap_or_default();
            let granted: Vec<&str> = actions.split(',').filter(|a| allowed.iter().any(|x| x == a)).collect();
            access.push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": user.map(|u| u.name.as_str()).unwrap_or(""),
            "aud": SERVICE,
            "exp": now + 600,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{:x}", rand::random::<u64>()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| anyhow::anyhow!("signing the token"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }
}

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

async fn token(State(state): State<Arc<TokenState>>, request: Request) -> Response {
    let uri = request.uri().to_string();
    state.received.record("GET", &uri, request.headers());
    let query = request.uri().query().unwrap_or("").to_owned();
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| String::from_utf8(STANDARD.decode(b.trim()).ok()?).ok());
    let user = match basic {
        None => None,
        Some(pair) => {
            let (name, password) = pair.split_once(':').unwrap_or((&pair, ""));
            match state.users.iter().find(|u| u.name == name && u.password == password) {
                Some(user) => Some(user),
                None => {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(serde_json::json!({"details": "incorrect username or password"})),
                    )
                        .into_response();
                }
            }
        }
    };
    let scopes = query_values(&query, "scope");
    match state.sign(user, &scopes) {
        Ok(token) => {
            axum::Json(serde_json::json!({"token": token, "access_token": token, "expires_in": 600})).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// A server shaped like ghcr.io's refusal: a Bearer challenge, a token endpoint that hands
/// out a token to anyone, and 403 `DENIED` with the configured message on every upload.
#[derive(Debug)]
pub struct GhcrLike {
    pub addr: SocketAddr,
    pub received: Recorder,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GhcrLike {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct GhcrState {
    addr: Arc<Mutex<Option<SocketAddr>>>,
    denial: String,
    received: Recorder,
}

impl GhcrLike {
    /// `denial` is the message of the 403, e.g. `permission_denied: write_package`.
    pub async fn start(denial: &str) -> anyhow::Result<GhcrLike> {
        let received = Recorder::default();
        let state = GhcrState { addr: Arc::default(), denial: denial.into(), received: received.clone() };
        let router = axum::Router::new().fallback(ghcr_like).with_state(state.clone());
        let (addr, task) = serve(router).await?;
        *state.addr.lock().unwrap() = Some(addr);
        Ok(GhcrLike { addr, received, task })
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn ghcr_like(State(state): State<GhcrState>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    state.received.record(&method, &request.uri().to_string(), request.headers());
    let addr = state.addr.lock().unwrap().expect("address is set before serving");
    let has_bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    let json = |status: StatusCode, code: &str, message: &str| {
        let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
        (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    };
    if path == "/token" {
        return axum::Json(serde_json::json!({"token": "ghcr-like-token"})).into_response();
    }
    if !has_bearer {
        let challenge = format!("Bearer realm=\"http://{addr}/token\",service=\"ghcr.io\"");
        let mut response = json(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
        return response;
    }
    if method == "POST" && path.ends_with("/blobs/uploads/") {
        return json(StatusCode::FORBIDDEN, "DENIED", &state.denial);
    }
    json(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry")
}

/// A reverse proxy that records every request and forwards it to `upstream` (a real
/// registry), so a test can see exactly what a client sent to that registry.
///
/// With [`RecordingProxy::start_with_referrers_api`] it also gives the registry behind it
/// the OCI distribution spec 1.1 referrers API, which distribution lacks: a manifest `PUT`
/// with a `subject` that the registry stores is answered with `OCI-Subject`, and
/// `GET /v2/<name>/referrers/<digest>` answers 200 with an image index of the stored
/// referrers' descriptors (never 404; `artifactType` filters, `OCI-Filters-Applied` says so).
#[derive(Debug)]
pub struct RecordingProxy {
    pub addr: SocketAddr,
    pub received: Recorder,
    latency: Arc<Mutex<Duration>>,
    referrers: Option<Referrers>,
    task: tokio::task::JoinHandle<()>,
}

/// The referrers the proxy's API lists: (repository, subject digest, descriptor).
type Referrers = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    /// Added before every request is forwarded.
    latency: Arc<Mutex<Duration>>,
    own: Arc<Mutex<Option<SocketAddr>>>,
    client: reqwest::Client,
    received: Recorder,
    referrers: Option<Referrers>,
}

impl RecordingProxy {
    pub async fn start(upstream: &str) -> anyhow::Result<RecordingProxy> {
        Self::start_with(upstream, None).await
    }

    /// A proxy that gives `upstream` the referrers API (see [`RecordingProxy`]).
    pub async fn start_with_referrers_api(upstream: &str) -> anyhow::Result<RecordingProxy> {
        Self::start_with(upstream, Some(Referrers::default())).await
    }

    async fn start_with(upstream: &str, referrers: Option<Referrers>) -> anyhow::Result<RecordingProxy> {
        let received = Recorder::default();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let state = ProxyState {
            upstream: upstream.into(),
            latency: Arc::default(),
            own: Arc::default(),
            client,
            received: received.clone(),
            referrers: referrers.clone(),
        };
        let router = axum::Router::new().fallback(forward).with_state(state.clone());
        let (addr, task) = serve(router).await?;
        *state.own.lock().unwrap() = Some(addr);
        Ok(RecordingProxy { addr, received, latency: state.latency, referrers, task })
    }

    /// The descriptors the referrers API lists for `subject` in `repository`.
    pub fn referrers(&self, repository: &str, subject: &str) -> Vec<serde_json::Value> {
        let Some(referrers) = &self.referrers else { return Vec::new() };
        let referrers = referrers.lock().unwrap();
        referrers.iter().filter(|(r, s, _)| r == repository && s == subject).map(|(_, _, d)| d.clone()).collect()
    }

    /// Delays every request by `latency` before it is forwarded, as a registry across the
    /// internet would answer.
    pub fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap() = latency;
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let uri = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    let method = request.method().clone();
    state.received.record(method.as_str(), &uri, request.headers());
    let latency = *state.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let own = state.own.lock().unwrap().expect("address is set before serving");
    let headers = request.headers().clone();
    let body = match axum::body::to_bytes(request.into_body(), usize::MAX).await {
        Ok(body) => body,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let path = uri.split('?').next().unwrap_or_default();
    let repository_and = |marker: &str| {
        let rest = path.strip_prefix("/v2/")?;
        let at = rest.find(marker)?;
        Some((rest[..at].to_owned(), rest[at + marker.len()..].to_owned()))
    };
    if let (Some(referrers), Some((repository, subject))) = (&state.referrers, repository_and("/referrers/"))
        && method == axum::http::Method::GET
    {
        let wanted = uri
            .split_once("artifactType=")
            .map(|(_, t)| t.split('&').next().unwrap_or_default().replace("%2B", "+").replace("%2F", "/"));
        let listed: Vec<serde_json::Value> = referrers
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, s, d)| {
                r == &repository
                    && s == &subject
                    && wanted.as_deref().is_none_or(|t| d["artifactType"].as_str() == Some(t))
            })
            .map(|(_, _, d)| d.clone())
            .collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": listed});
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/vnd.oci.image.index.v1+json");
        if wanted.is_some() {
            response = response.header("OCI-Filters-Applied", "artifactType");
        }
        return response.body(Body::from(index.to_string())).unwrap();
    }
    // A manifest with a subject, stored by the registry behind: listed by the referrers API.
    let referrer = match (&state.referrers, method == axum::http::Method::PUT, repository_and("/manifests/")) {
        (Some(_), true, Some((repository, _))) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .filter(|m| m.get("subject").is_some())
            .map(|m| (repository, m)),
        _ => None,
    };
    let mut upstream = state.client.request(method, format!("http://{}{uri}", state.upstream));
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    // The registry builds upload locations from these: they must point back at the proxy.
    upstream = upstream.header("X-Forwarded-Host", own.to_string()).header("X-Forwarded-Proto", "http");
    let answer = match upstream.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(err) => return (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    if let (Some(referrers), Some((repository, manifest)), true) =
        (&state.referrers, referrer, answer.status() == StatusCode::CREATED)
    {
        let subject = manifest["subject"]["digest"].as_str().unwrap_or_default().to_owned();
        let digest = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)));
        let mut descriptor = serde_json::json!({
            "mediaType": manifest["mediaType"],
            "digest": digest,
            "size": body.len(),
            "artifactType": manifest.get("artifactType").cloned().unwrap_or_else(|| manifest["config"]["mediaType"].clone()),
        });
        if let Some(annotations) = manifest.get("annotations") {
            descriptor["annotations"] = annotations.clone();
        }
        let mut stored = referrers.lock().unwrap();
        if !stored.iter().any(|(r, _, d)| r == &repository && d["digest"] == digest) {
            stored.push((repository, subject.clone(), descriptor));
        }
        response = response.header("OCI-Subject", subject);
    }
    let body = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(body)).unwrap_or_else(|err| (StatusCode::BAD_GATEWAY, err.to_string()).into_response())
}
