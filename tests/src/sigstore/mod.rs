//! A private Sigstore for tests, faithful to `shared/protocols-sigstore.md` §11: the GitHub
//! Actions OIDC token endpoint ([`oidc`]), Fulcio v2 ([`fulcio`]), Rekor v1 ([`rekor`]) and
//! an RFC 3161 timestamp authority ([`tsa`]), each on its own loopback port, and the
//! `trusted_root.json`, `signing_config.json` and sigstore-python `trust_config.json` that
//! describe them.
//!
//! Two instances: [`SigstoreServers::start`] is public-good-like (Fulcio with a CT log and
//! embedded SCTs, Rekor v1, no TSA in the signing config);
//! [`SigstoreServers::start_github_private`] is like GitHub's instance for private
//! repositories (Fulcio without a CT log, so no SCT and the detached answer form, and a
//! TSA; no Rekor, no CT log in the trusted root).
//!
//! Requests are recorded (token audiences, Fulcio request shapes and certificates issued,
//! Rekor entries), and 5xx answers can be injected per service. Everything the servers make
//! is checked in the tests by an independent implementation, sigstore-python 4.5.1.

pub mod der;
pub mod fulcio;
pub mod oidc;
pub mod rekor;
pub mod tsa;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};

pub use oidc::Workflow;

/// A service of the test Sigstore, for fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Oidc,
    Fulcio,
    Rekor,
    Tsa,
}

/// What a Fulcio request looked like.
#[derive(Clone, Debug)]
pub struct FulcioRequest {
    pub shape: fulcio::Shape,
    /// The certificate issued, or None when refused.
    pub certificate: Option<Vec<u8>>,
}

#[derive(Debug)]
struct World {
    workflow: Workflow,
    audiences: Vec<String>,
    fulcio: Vec<FulcioRequest>,
    faults: Vec<(Service, u16, usize)>,
    /// Log entries whose answer is lost (the entry is made, the client gets a 502).
    lost_rekor_answers: usize,
    /// Tokens are signed by a key Fulcio does not trust.
    untrusted_tokens: bool,
    /// Rekor requests: (method, path).
    rekor_requests: Vec<(String, String)>,
    /// Timestamps granted: the hashed message of each.
    timestamps: Vec<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Shared {
    issuer: Arc<oidc::TokenIssuer>,
    /// A key of the same shape that Fulcio does not trust.
    untrusted: Arc<oidc::TokenIssuer>,
    authority: Arc<fulcio::Authority>,
    log: Arc<Mutex<rekor::Log>>,
    tsa: Arc<tsa::TimestampAuthority>,
    /// GitHub's private-repository instance: no CT log (no SCT), no Rekor, a TSA.
    github_private: bool,
    world: Arc<Mutex<World>>,
    request_token: String,
}

impl Shared {
    /// Takes one injected fault for `service`, if any.
    fn fault(&self, service: Service) -> Option<Response> {
        let mut world = self.world.lock().expect("world");
        let slot = world.faults.iter_mut().find(|(s, _, n)| *s == service && *n > 0)?;
        slot.2 -= 1;
        let status = StatusCode::from_u16(slot.1).expect("a status");
        Some((status, axum::Json(json!({"code": 14, "message": "injected fault"}))).into_response())
    }
}

/// The running servers.
#[derive(Debug)]
pub struct SigstoreServers {
    shared: Shared,
    pub oidc_url: String,
    pub fulcio_url: String,
    pub rekor_url: String,
    /// The TSA's base URL; its timestamp endpoint is `{tsa_url}/api/v1/timestamp`.
    pub tsa_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

fn bind() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    (listener, url)
}

impl SigstoreServers {
    /// Starts the servers of a public-good-like instance for a workflow run.
    pub fn start(workflow: Workflow) -> Self {
        Self::launch(workflow, false)
    }

    /// Starts the servers of an instance like GitHub's for private repositories: Fulcio
    /// without a CT log and a timestamp authority; the trust files list no Rekor and no CT log.
    pub fn start_github_private(workflow: Workflow) -> Self {
        Self::launch(workflow, true)
    }

    fn launch(workflow: Workflow, github_private: bool) -> Self {
        let shared = Shared {
            issuer: Arc::new(oidc::TokenIssuer::generate()),
            authority: Arc::new(fulcio::Authority::generate()),
            log: Arc::new(Mutex::new(rekor::Log::generate())),
            tsa: Arc::new(tsa::TimestampAuthority::generate()),
            github_private,
            world: Arc::new(Mutex::new(World {
                workflow,
                audiences: Vec::new(),
                fulcio: Vec::new(),
                faults: Vec::new(),
                lost_rekor_answers: 0,
                untrusted_tokens: false,
                rekor_requests: Vec::new(),
                timestamps: Vec::new(),
            })),
            untrusted: Arc::new(oidc::TokenIssuer::generate()),
            request_token: format!("actions-request-{:016x}", rand::random::<u64>()),
        };
        let (oidc_listener, oidc_url) = bind();
        let (fulcio_listener, fulcio_url) = bind();
        let (rekor_listener, rekor_url) = bind();
        let (tsa_listener, tsa_url) = bind();
        let oidc_app = Router::new()
            .route("/_apis/oidctoken", get(token))
            .route("/.well-known/jwks", get(jwks))
            .with_state(shared.clone());
        let fulcio_app = Router::new()
            .route("/api/v2/signingCert", post(signing_cert))
            .route("/api/v2/configuration", get(fulcio_configuration))
            .route("/api/v2/trustBundle", get(trust_bundle))
            .with_state(shared.clone());
        let rekor_app = Router::new()
            .route("/api/v1/log", get(log_info))
            .route("/api/v1/log/publicKey", get(log_public_key))
            .route("/api/v1/log/entries", post(create_entry).get(entry_by_index))
            .route("/api/v1/log/entries/{uuid}", get(entry_by_uuid))
            .with_state(shared.clone());
        let tsa_app = Router::new()
            .route("/api/v1/timestamp", post(timestamp))
            .route("/api/v1/timestamp/certchain", get(tsa_certchain))
            .with_state(shared.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sigstore-servers".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the Sigstore test servers");
                runtime.block_on(async move {
                    let serve = |l: std::net::TcpListener, app: Router| async move {
                        let l = tokio::net::TcpListener::from_std(l).expect("a tokio listener");
                        axum::serve(l, app).await.expect("a Sigstore test server runs");
                    };
                    tokio::select! {
                        _ = serve(oidc_listener, oidc_app) => {}
                        _ = serve(fulcio_listener, fulcio_app) => {}
                        _ = serve(rekor_listener, rekor_app) => {}
                        _ = serve(tsa_listener, tsa_app) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn the Sigstore servers");
        SigstoreServers { shared, oidc_url, fulcio_url, rekor_url, tsa_url, shutdown: Some(shutdown) }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, with the query string GitHub puts on it.
    pub fn token_request_url(&self) -> String {
        format!("{}/_apis/oidctoken?api-version=2.0", self.oidc_url)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn token_request_token(&self) -> &str {
        &self.shared.request_token
    }

    /// The workflow run the tokens describe.
    pub fn workflow(&self) -> Workflow {
        self.shared.world.lock().expect("world").workflow.clone()
    }

    pub fn set_workflow(&self, workflow: Workflow) {
        self.shared.world.lock().expect("world").workflow = workflow;
    }

    /// A token as the endpoint would hand it out (for driving other clients).
    pub fn mint_token(&self, audience: &str) -> String {
        let claims = self.workflow().claims(audience, oidc::now());
        self.shared.issuer.sign(&claims)
    }

    /// The audiences tokens were requested for, in order.
    pub fn token_audiences(&self) -> Vec<String> {
        self.shared.world.lock().expect("world").audiences.clone()
    }

    /// Every signing-certificate request.
    pub fn fulcio_requests(&self) -> Vec<FulcioRequest> {
        self.shared.world.lock().expect("world").fulcio.clone()
    }

    /// Every entry in the log, the two seed entries first.
    pub fn rekor_entries(&self) -> Vec<rekor::Entry> {
        self.shared.log.lock().expect("log").entries.clone()
    }

    /// The next `times` writes to `service` (token requests, signing certificates, log
    /// entries; reads are never refused) are answered with `status`.
    pub fn fail(&self, service: Service, status: u16, times: usize) {
        self.shared.world.lock().expect("world").faults.push((service, status, times));
    }

    /// The next `times` log entries are made but their answers lost (a 502 instead), as
    /// behind a failing proxy: the client's retry meets a 409.
    pub fn lose_rekor_answers(&self, times: usize) {
        self.shared.world.lock().expect("world").lost_rekor_answers = times;
    }

    /// From now on tokens are signed by a key Fulcio does not trust.
    pub fn sign_tokens_with_an_untrusted_key(&self) {
        self.shared.world.lock().expect("world").untrusted_tokens = true;
    }

    /// The hashed messages of the timestamps the TSA granted, in order.
    pub fn timestamps(&self) -> Vec<Vec<u8>> {
        self.shared.world.lock().expect("world").timestamps.clone()
    }

    /// The TSA's certificate chain, leaf first (DER).
    pub fn tsa_chain(&self) -> Vec<Vec<u8>> {
        self.shared.tsa.chain().iter().map(|c| c.to_vec()).collect()
    }

    /// The Fulcio CA's intermediate and root (DER).
    pub fn fulcio_chain(&self) -> Vec<Vec<u8>> {
        vec![self.shared.authority.intermediate_der.clone(), self.shared.authority.root_der.clone()]
    }

    /// Rekor requests: (method, path), in order.
    pub fn rekor_requests(&self) -> Vec<(String, String)> {
        self.shared.world.lock().expect("world").rekor_requests.clone()
    }

    /// `trusted_root.json` (protobuf-specs TrustedRoot v0.1). The GitHub-like private
    /// instance lists no transparency log and no CT log, and its TSA's chain.
    pub fn trusted_root(&self) -> Value {
        let start = "2020-01-01T00:00:00Z";
        let log = self.shared.log.lock().expect("log");
        let rekor_id = STANDARD.encode(hex::decode(log.log_id_hex()).expect("hex"));
        let a = &self.shared.authority;
        let private = self.shared.github_private;
        let tlogs = if private {
            json!([])
        } else {
            json!([{
                "baseUrl": self.rekor_url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(&log.spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}},
                "logId": {"keyId": rekor_id},
            }])
        };
        let ctlogs = if private {
            json!([])
        } else {
            json!([{
                "baseUrl": format!("{}/ct", self.fulcio_url), "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(&a.ct_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}},
                "logId": {"keyId": STANDARD.encode(a.ct_log_id())},
            }])
        };
        let timestamp_authorities = if private {
            let chain: Vec<Value> =
                self.shared.tsa.chain().iter().map(|c| json!({"rawBytes": STANDARD.encode(c)})).collect();
            json!([{
                "subject": {"organization": "GitHub, Inc.", "commonName": "Internal Services Root"},
                "uri": self.tsa_url,
                "certChain": {"certificates": chain},
                "validFor": {"start": start},
            }])
        } else {
            json!([])
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": tlogs,
            "certificateAuthorities": [{
                "subject": {"organization": "sigstore.dev", "commonName": "sigstore"},
                "uri": self.fulcio_url,
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(&a.intermediate_der)},
                    {"rawBytes": STANDARD.encode(&a.root_der)},
                ]},
                "validFor": {"start": start},
            }],
            "ctlogs": ctlogs,
            "timestampAuthorities": timestamp_authorities,
        })
    }

    /// `signing_config.json` (SigningConfig v0.2): this Fulcio and this Rekor v1, no TSA; for
    /// the GitHub-like private instance this Fulcio and this TSA, no Rekor.
    pub fn signing_config(&self) -> Value {
        let service = |url: &str, major: u32| json!({"url": url, "majorApiVersion": major, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "release-tests"});
        let (rekor, tsa) = if self.shared.github_private {
            (json!([]), json!([service(&format!("{}/api/v1/timestamp", self.tsa_url), 1)]))
        } else {
            (json!([service(&self.rekor_url, 1)]), json!([]))
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(&self.fulcio_url, 1)],
            "oidcUrls": [],
            "rekorTlogUrls": rekor,
            "tsaUrls": tsa,
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        })
    }

    /// sigstore-python's `--trust-config` document.
    pub fn trust_config(&self) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": self.signing_config(),
        })
    }

    /// Writes `trusted_root.json`, `signing_config.json` and `trust_config.json` into `dir`.
    pub fn write_trust_files(&self, dir: &Utf8Path) -> TrustFiles {
        std::fs::create_dir_all(dir).expect("trust file dir");
        let write = |name: &str, value: Value| {
            let path = dir.join(name);
            std::fs::write(&path, serde_json::to_vec_pretty(&value).expect("JSON")).expect("write a trust file");
            path
        };
        TrustFiles {
            trusted_root: write("trusted_root.json", self.trusted_root()),
            signing_config: write("signing_config.json", self.signing_config()),
            trust_config: write("trust_config.json", self.trust_config()),
        }
    }
}

impl Drop for SigstoreServers {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Paths of the files [`SigstoreServers::write_trust_files`] wrote.
#[derive(Debug, Clone)]
pub struct TrustFiles {
    pub trusted_root: Utf8PathBuf,
    pub signing_config: Utf8PathBuf,
    pub trust_config: Utf8PathBuf,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

async fn token(State(s): State<Shared>, Query(q): Query<Vec<(String, String)>>, headers: HeaderMap) -> Response {
    if let Some(fault) = s.fault(Service::Oidc) {
        return fault;
    }
    if bearer(&headers) != Some(s.request_token.as_str()) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let audience = q.iter().rev().find(|(k, _)| k == "audience").map(|(_, v)| v.clone());
    let Some(audience) = audience else {
        return (StatusCode::BAD_REQUEST, "audience is required").into_response();
    };
    let (claims, untrusted) = {
        let mut world = s.world.lock().expect("world");
        world.audiences.push(audience.clone());
        (world.workflow.claims(&audience, oidc::now()), world.untrusted_tokens)
    };
    let issuer = if untrusted { &s.untrusted } else { &s.issuer };
    axum::Json(json!({"count": 1, "value": issuer.sign(&claims)})).into_response()
}

async fn jwks(State(s): State<Shared>) -> Response {
    axum::Json(s.issuer.jwks()).into_response()
}

fn fulcio_error(refusal: &fulcio::Refusal) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"code": 3, "message": refusal.message(), "details": []})))
        .into_response()
}

async fn signing_cert(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = s.fault(Service::Fulcio) {
        return fault;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 3, "message": "invalid JSON body", "details": []})),
        )
            .into_response();
    };
    let now = oidc::now();
    let result = (|| {
        let (jwt, point, shape, pop) = fulcio::parse_request(&body, bearer(&headers))?;
        let claims = s.issuer.verify(&jwt).map_err(|_| fulcio::Refusal::Token)?;
        fulcio::check_claims(&claims, now)?;
        if let Some(pop) = pop {
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            fulcio::verify_pop(&point, sub, &pop)?;
        }
        Ok::<_, fulcio::Refusal>((shape, s.authority.issue(&point, &claims, now, !s.github_private)))
    })();
    match result {
        Err(refusal) => fulcio_error(&refusal),
        Ok((shape, leaf)) => {
            s.world.lock().expect("world").fulcio.push(FulcioRequest { shape, certificate: Some(leaf.clone()) });
            let chain = [&leaf, &s.authority.intermediate_der, &s.authority.root_der]
                .iter()
                .map(|d| der::pem("CERTIFICATE", d))
                .collect::<Vec<_>>();
            // Without a CT log Fulcio answers in the detached form, with no SCT
            // (sigstore/fulcio `pkg/server/grpc_server.go`).
            let form = if s.github_private { "signedCertificateDetachedSct" } else { "signedCertificateEmbeddedSct" };
            (StatusCode::CREATED, axum::Json(json!({form: {"chain": {"certificates": chain}}}))).into_response()
        }
    }
}

async fn fulcio_configuration(State(_s): State<Shared>) -> Response {
    axum::Json(json!({"issuers": [{"issuerUrl": oidc::ISSUER, "audience": "sigstore", "challengeClaim": "sub"}]}))
        .into_response()
}

async fn trust_bundle(State(s): State<Shared>) -> Response {
    let a = &s.authority;
    let chain = [&a.intermediate_der, &a.root_der].iter().map(|d| der::pem("CERTIFICATE", d)).collect::<Vec<_>>();
    axum::Json(json!({"chains": [{"certificates": chain}]})).into_response()
}

async fn log_info(State(s): State<Shared>) -> Response {
    axum::Json(s.log.lock().expect("log").info()).into_response()
}

async fn log_public_key(State(s): State<Shared>) -> Response {
    let pem = der::pem("PUBLIC KEY", &s.log.lock().expect("log").spki);
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

fn rekor_error(status: u16, message: &str) -> Response {
    (StatusCode::from_u16(status).expect("status"), axum::Json(json!({"code": status, "message": message})))
        .into_response()
}

async fn create_entry(State(s): State<Shared>, body: Bytes) -> Response {
    s.world.lock().expect("world").rekor_requests.push(("POST".into(), "/api/v1/log/entries".into()));
    if let Some(fault) = s.fault(Service::Rekor) {
        return fault;
    }
    let Ok(proposed) = serde_json::from_slice::<Value>(&body) else {
        return rekor_error(400, "error parsing entry: invalid JSON");
    };
    let mut log = s.log.lock().expect("log");
    match log.propose(&proposed, oidc::now()) {
        Ok(entry) => {
            let lose = {
                let mut world = s.world.lock().expect("world");
                let lose = world.lost_rekor_answers > 0;
                world.lost_rekor_answers = world.lost_rekor_answers.saturating_sub(1);
                lose
            };
            if lose {
                return rekor_error(502, "Bad Gateway");
            }
            let location = format!("/api/v1/log/entries/{}", entry.uuid);
            (
                StatusCode::CREATED,
                [(header::LOCATION, location), (header::ETAG, entry.uuid.clone())],
                axum::Json(log.entry_json(&entry)),
            )
                .into_response()
        }
        Err((status, message, existing)) => {
            let mut response = rekor_error(status, &message);
            if let Some(uuid) = existing {
                let location = format!("/api/v1/log/entries/{uuid}").parse().expect("a header value");
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
    }
}

async fn entry_by_uuid(State(s): State<Shared>, Path(uuid): Path<String>) -> Response {
    s.world.lock().expect("world").rekor_requests.push(("GET".into(), format!("/api/v1/log/entries/{uuid}")));
    let log = s.log.lock().expect("log");
    match log.by_uuid(&uuid) {
        Some(entry) => axum::Json(log.entry_json(entry)).into_response(),
        None => rekor_error(404, "entry not found"),
    }
}

async fn entry_by_index(State(s): State<Shared>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let log = s.log.lock().expect("log");
    let index = q.iter().find(|(k, _)| k == "logIndex").and_then(|(_, v)| v.parse::<u64>().ok());
    match index.and_then(|i| log.by_global_index(i)) {
        Some(entry) => axum::Json(log.entry_json(entry)).into_response(),
        None => rekor_error(404, "entry not found"),
    }
}

/// `POST /api/v1/timestamp`: a DER `TimeStampReq` (or sigstore-js's JSON) in, `201` with a
/// DER `TimeStampResp` out; a malformed request is a 400 with the reason, as
/// sigstore/timestamp-authority answers.
async fn timestamp(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = s.fault(Service::Tsa) {
        return fault;
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let request = match content_type {
        "application/timestamp-query" => tsa::parse_request(&body),
        "application/json" => serde_json::from_slice::<Value>(&body)
            .map_err(|e| format!("invalid JSON: {e}"))
            .and_then(|v| tsa::parse_json_request(&v)),
        other => Err(format!("unsupported content type {other:?}")),
    };
    match request {
        Err(reason) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 400, "message": format!("error parsing timestamp request: {reason}")})),
        )
            .into_response(),
        Ok(request) => {
            s.world.lock().expect("world").timestamps.push(request.hash.clone());
            let answer = s.tsa.respond(&request, oidc::now());
            (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/timestamp-reply")], answer).into_response()
        }
    }
}

async fn tsa_certchain(State(s): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, "application/pem-certificate-chain")], s.tsa.chain_pem()).into_response()
}

/// The sigstore-python 4.5.1 CLI the tests verify with: `$SIGSTORE_PYTHON`, else the venv
/// `.ci/run` makes at `/opt/sigstore-4.5.1`. A missing verifier fails the test.
pub fn sigstore_python() -> Utf8PathBuf {
    let path = std::env::var("SIGSTORE_PYTHON").unwrap_or_else(|_| "/opt/sigstore-4.5.1/bin/sigstore".into());
    assert!(
        Utf8Path::new(&path).exists(),
        "sigstore-python is not installed at {path}: run .ci/run (it makes the venv), or set SIGSTORE_PYTHON"
    );
    Utf8PathBuf::from(path)
}

/// Runs sigstore-python with these arguments; (success, stdout + stderr).
pub fn run_sigstore_python(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(sigstore_python().as_str())
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .output()
        .expect("run sigstore-python");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `sigstore verify identity --offline` of `file` with `bundle`.
pub fn python_verify_identity(
    trust: &TrustFiles,
    bundle: &Utf8Path,
    identity: &str,
    file: &Utf8Path,
) -> (bool, String) {
    python_verify(trust, "identity", bundle, identity, &["--cert-oidc-issuer", oidc::ISSUER], file)
}

/// `sigstore verify github --offline`: identity plus the repository the certificate names.
pub fn python_verify_github(
    trust: &TrustFiles,
    bundle: &Utf8Path,
    identity: &str,
    repository: &str,
    file: &Utf8Path,
) -> (bool, String) {
    python_verify(trust, "github", bundle, identity, &["--repository", repository], file)
}

/// `sigstore --trust-config … verify KIND --offline --bundle … --cert-identity … POLICY… FILE`.
fn python_verify(
    trust: &TrustFiles,
    kind: &str,
    bundle: &Utf8Path,
    identity: &str,
    policy: &[&str],
    file: &Utf8Path,
) -> (bool, String) {
    let mut args = vec![
        "--trust-config",
        trust.trust_config.as_str(),
        "verify",
        kind,
        "--offline",
        "--bundle",
        bundle.as_str(),
        "--cert-identity",
        identity,
    ];
    args.extend_from_slice(policy);
    args.push(file.as_str());
    run_sigstore_python(&args)
}

/// The source repository a Fulcio certificate names (extension 1.3.6.1.4.1.57264.1.12,
/// a DER UTF8String), as GitHub's attestations API compares it with the target repository.
pub fn source_repository_of(certificate: &[u8]) -> Option<String> {
    const OID: [u8; 12] = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x0c];
    let at = certificate.windows(OID.len()).position(|w| w == OID)? + OID.len();
    let (mut value, rest) = der::read_tlv(&certificate[at..])?;
    if value.tag == 0x01 {
        value = der::read_tlv(rest)?.0; // the criticality flag
    }
    let (inner, _) = der::read_tlv(value.contents)?;
    String::from_utf8(inner.contents.to_vec()).ok()
}
