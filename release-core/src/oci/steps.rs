//! The OCI steps: the check before any network, the push-permission probe, the push, and
//! with `[signing]` the tag after the signature.
//!
//! The probe exercises the exact write path the push takes later: it obtains a push-scoped
//! token with the same credentials (oci-client's `auth`, called first so that a refused
//! login is an error and not a bare 401 later) and starts a blob upload session, then cancels
//! it. A started and abandoned session stores nothing.
//!
//! The push is idempotent: the same chart content under the same tag is a no-op; different
//! content under an existing tag is refused unless `allow-overwrite` is set. The manifest has
//! no `created` annotation unless `SOURCE_DATE_EPOCH` is set (then it is that instant), so a
//! re-push of the same chart gives the same manifest digest.
//!
//! The push sends the manifest by digest only (`PUT /v2/<name>/manifests/sha256:…`): the publish
//! stage makes nothing visible under a version. [`ChartTagStep`], in the finalize stage after
//! the GitHub release's undraft (and with `[signing]` after the chart's signature), puts the
//! same bytes under the version tag: one point of no return for the whole release (see
//! `docs/reliability.md`). The tag check above still runs first, before anything is pushed; a
//! chart already there by digest is not sent again.
//!
//! Every registry call goes through the [`NetworkPolicy`]: oci-client itself retries nothing
//! on push, so each call is one retried operation here ([`Retries::run`]), and blob pushes
//! re-check first (a blob the registry already has by digest is not sent again). oci-client's
//! read timeout (the stall timeout) ends a request whose server stopped reading or answering.
//!
//! Rate limits: oci-client keeps no response headers in its errors, and it cannot be given a
//! client or middleware of ours, so a 429's `Retry-After` never reaches us through it. When one
//! of its calls is rate limited, [`RateLimitProbe`] asks once more with our own `HEAD` of the
//! same URL (a read: safe for any endpoint, uploads included; same origin only, with the push
//! credentials) and honours the `Retry-After` of that answer; if the registry no longer limits,
//! the backoff applies. The push probe's own request (reqwest) sees the headers directly.

use std::collections::BTreeMap;

use base64::Engine;
use futures_util::StreamExt;
use oci_client::RegistryOperation;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::Digest;

use crate::error::StepError;
use crate::helm::{PackagedChart, PackagedCharts};
use crate::net::{self, GaveUp, NetworkPolicy, RetryNotice, Retryable, Verdict};
use crate::oci::credentials::{self, Login, Resolution};
use crate::oci::diagnose::{Answer, Denial, explain, server_words};
use crate::oci::reference::{ChartReference, PushTarget};
use crate::oci::signature::{PushedChart, PushedCharts};
use crate::oci::{
    ChartPush, HELM_CHART_LAYER_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, OciSettings, chart_head,
};
use crate::plan::{Effect, Stage};
use crate::step::{Step, StepContext, StepResult};

/// Read size when streaming a chart package to the registry (the body of one PUT).
const STREAM_CHUNK: usize = 1 << 20;

pub(crate) const TROUBLESHOOTING: &str = "docs/troubleshooting.md#oci-registries-and-helm-charts";

/// The reference a chart will be pushed as, from release.toml and the chart's Chart.yaml,
/// with every check that needs no network.
pub(crate) fn planned_reference(
    push: &ChartPush,
    release_version: &semver::Version,
) -> Result<ChartReference, StepError> {
    let field = format!("chart[{}].push", push.index);
    let target = PushTarget::parse(&push.push).map_err(|err| {
        let help = crate::error::Diagnose::help(&err).unwrap_or_default();
        StepError::new(format!("`{field}`: {err}")).with_help(help)
    })?;
    let (name, version) = chart_head(&push.dir).map_err(|why| {
        StepError::new(format!("chart[{}] ({}): {why}", push.index, push.dir))
            .with_help("the chart's Chart.yaml must name the chart: its name is the last part of the OCI repository")
    })?;
    let version = if push.stamp_version { release_version.to_string() } else { version };
    if version.is_empty() {
        return Err(StepError::new(format!("chart[{}] ({}): Chart.yaml has no `version`", push.index, push.dir))
            .with_help("set `version` in Chart.yaml, or `stamp-version = true` on the [[chart]]"));
    }
    target.chart(&name, &version).map_err(|err| {
        let help = crate::error::Diagnose::help(&err).unwrap_or_default();
        StepError::new(format!("chart[{}] ({}): {err}", push.index, push.dir)).with_help(help)
    })
}

fn is_loopback(host: &str) -> bool {
    let bare =
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(bare, "localhost" | "[::1]") || bare.starts_with("127.")
}

/// `preflight:oci-check`: every push target is a valid reference with lowercase names and a
/// valid tag, and plain HTTP is used only where configured. No network; runs in every mode.
#[derive(Debug)]
pub struct OciCheck {
    pub pushes: Vec<ChartPush>,
    pub settings: OciSettings,
}

#[async_trait::async_trait]
impl Step for OciCheck {
    fn id(&self) -> String {
        "preflight:oci-check".into()
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Check
    }
    fn description(&self) -> String {
        "check every chart's OCI reference, names, tag and registry settings (no network)".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut problems = Vec::new();
        let mut helps = Vec::new();
        let mut hosts = Vec::new();
        let mut references = Vec::new();
        for push in &self.pushes {
            match planned_reference(push, &cx.release().version) {
                Ok(reference) => {
                    hosts.push(reference.registry.clone());
                    references.push(reference.to_string());
                }
                Err(err) => {
                    problems.push(err.message().to_owned());
                    helps.extend(err.help().map(str::to_owned));
                }
            }
        }
        for host in self.settings.registries.keys() {
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) && !hosts.is_empty() {
                cx.warn(format!(
                    "[registries.\"{host}\"] in release.toml matches no chart's `push` registry ({}): a typo?",
                    hosts.join(", ")
                ));
            }
        }
        for host in &hosts {
            if self.settings.plain_http(host) && !is_loopback(host) {
                cx.warn(format!(
                    "{host} is reached over plain HTTP (`plain-http = true`): credentials and charts travel unencrypted"
                ));
            }
        }
        if !problems.is_empty() {
            helps.push(format!("see {TROUBLESHOOTING}"));
            return Err(StepError::new(problems.join("; ")).with_help(helps.join("\n")));
        }
        Ok(Some(references.join(", ")))
    }
}

/// `preflight:oci-push:<chart>`: proves the credentials may push to the chart's repository by
/// starting an upload session and cancelling it.
#[derive(Debug)]
pub struct PushProbe {
    pub push: ChartPush,
    pub settings: OciSettings,
}

/// The `Authorization` header value for a raw request, if any.
fn authorization(token: &Option<String>, login: &Login) -> Option<String> {
    match (token, login) {
        (Some(token), _) => Some(format!("Bearer {token}")),
        (None, Login::Basic { username, password }) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()))
        )),
        (None, Login::Anonymous) => None,
    }
}

/// The [`RateLimitProbe`] for a registry, with the credentials its pushes use.
pub(crate) fn rate_limit_probe(
    settings: &OciSettings,
    host: &str,
    token: &Option<String>,
    login: &Login,
) -> Option<RateLimitProbe> {
    RateLimitProbe::new(
        settings.http_client(),
        &format!("{}://{host}", settings.scheme(host)),
        authorization(token, login),
    )
}

/// Obtains a push-scoped token (`None` where the registry uses Basic auth or none). A
/// refused login becomes the diagnosed error here.
pub(crate) async fn push_token(
    client: &oci_client::Client,
    reference: &ChartReference,
    credentials: &Resolution,
    what: &str,
    retries: &Retries<'_>,
) -> Result<Option<String>, StepError> {
    let (oci_ref, login) = (&reference.to_oci(), &credentials.login.to_oci());
    retries
        .run(&format!("the login to {}", reference.registry), |_| async move {
            client.auth(oci_ref, login, RegistryOperation::Push).await.map_err(OciAttempt)
        })
        .await
        .map_err(|gave_up| gave_up_failure(gave_up, what, reference, credentials))
}

/// The network policy and where its retry notices go, for one step.
pub(crate) struct Retries<'a> {
    pub(crate) policy: NetworkPolicy,
    pub(crate) announce: &'a (dyn Fn(&RetryNotice) + Send + Sync),
    /// Reads the `Retry-After` oci-client drops; set once the push credentials are known.
    pub(crate) rate_limit: Option<RateLimitProbe>,
}

impl<'a> Retries<'a> {
    pub(crate) fn new(
        network: &crate::config::NetworkConfig,
        announce: &'a (dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Self {
        Retries { policy: NetworkPolicy::from(network), announce, rate_limit: None }
    }

    /// Runs one registry operation under the policy; `operation` gets the attempt number. A
    /// rate-limited attempt waits what the registry asks ([`RateLimitProbe`]).
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, mut operation: F) -> Result<T, GaveUp<OciAttempt>>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, OciAttempt>>,
    {
        let asked = |attempt| {
            let sent = operation(attempt);
            async move {
                match sent.await {
                    Ok(value) => Ok(value),
                    Err(failure) => {
                        let after = match (failure.rate_limited_url(), &self.rate_limit) {
                            (Some(url), Some(probe)) => probe.retry_after(url).await,
                            _ => None,
                        };
                        Err(Asked { failure, after })
                    }
                }
            }
        };
        self.policy
            .retry(what, asked, self.announce)
            .await
            .map_err(|gave_up| GaveUp { error: gave_up.error.failure, attempts: gave_up.attempts })
    }
}

/// A failed oci-client attempt and the wait the registry asked for, when it was asked.
struct Asked {
    failure: OciAttempt,
    after: Option<std::time::Duration>,
}

impl Retryable for Asked {
    fn verdict(&self) -> Verdict {
        match self.failure.verdict() {
            Verdict::Retry { after: None } => Verdict::Retry { after: self.after },
            verdict => verdict,
        }
    }

    fn reason(&self) -> String {
        self.failure.reason()
    }
}

/// Asks a registry how long to wait after oci-client's call was rate limited: one `HEAD` of
/// the same URL with the same credentials, read with our own client, which keeps the headers.
#[derive(Clone, Debug)]
pub(crate) struct RateLimitProbe {
    http: reqwest::Client,
    /// `scheme://host[:port]` of the registry: nothing is sent anywhere else.
    origin: reqwest::Url,
    /// `Authorization` for the registry (the push token, or Basic), if any. Never printed.
    authorization: Option<String>,
}

impl RateLimitProbe {
    pub(crate) fn new(http: reqwest::Client, origin: &str, authorization: Option<String>) -> Option<Self> {
        Some(RateLimitProbe { http, origin: reqwest::Url::parse(origin).ok()?, authorization })
    }

    /// The wait a still rate-limited registry asks for (`Retry-After`, else the rate-limit
    /// reset), or `None`: another origin, no answer, or no longer limited.
    pub(crate) async fn retry_after(&self, url: &str) -> Option<std::time::Duration> {
        let mut url = reqwest::Url::parse(url).ok()?;
        let same_origin = url.scheme() == self.origin.scheme()
            && url.host_str() == self.origin.host_str()
            && url.port_or_known_default() == self.origin.port_or_known_default();
        if !same_origin {
            return None;
        }
        url.set_query(None);
        let mut request = self.http.head(url);
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let response = request.send().await.ok()?;
        match net::classify(response.status(), response.headers()) {
            Verdict::Retry { after } if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => after,
            _ => None,
        }
    }
}

/// An oci-client failure as the network policy judges it.
#[derive(Debug)]
pub(crate) struct OciAttempt(pub(crate) OciDistributionError);

impl Retryable for OciAttempt {
    fn verdict(&self) -> Verdict {
        let retry = Verdict::Retry { after: None };
        match &self.0 {
            OciDistributionError::RequestError(err)
                if net::is_transient(err) || err.status().is_some_and(|s| s.is_server_error() || s.as_u16() == 429) =>
            {
                retry
            }
            OciDistributionError::ServerError { code, .. } if *code >= 500 || *code == 429 => retry,
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| e.code == OciErrorCode::Toomanyrequests) =>
            {
                retry
            }
            _ => Verdict::Final,
        }
    }

    fn reason(&self) -> String {
        match &self.0 {
            OciDistributionError::ServerError { code, message, .. } => {
                // The registry's own words: the first entry of an OCI error envelope, else the
                // start of the body.
                let envelope: Option<serde_json::Value> = serde_json::from_str(message).ok();
                let first = envelope.as_ref().and_then(|e| e.get("errors")?.get(0));
                let words = match first {
                    Some(error) => format!(
                        "{} {}",
                        error.get("code").and_then(|c| c.as_str()).unwrap_or_default(),
                        error.get("message").and_then(|m| m.as_str()).unwrap_or_default()
                    ),
                    None => message.trim().chars().take(100).collect(),
                };
                format!("{code} {}", words.trim())
            }
            OciDistributionError::RequestError(err) => match err.status() {
                Some(status) => status.to_string(),
                None => net::root_cause(err),
            },
            other => other.to_string(),
        }
    }
}

impl OciAttempt {
    /// The URL of a request the registry answered with a rate limit (429, `TOOMANYREQUESTS`).
    fn rate_limited_url(&self) -> Option<&str> {
        match &self.0 {
            OciDistributionError::RequestError(err) if err.status().is_some_and(|s| s.as_u16() == 429) => {
                err.url().map(reqwest::Url::as_str)
            }
            OciDistributionError::ServerError { code: 429, url, .. } => Some(url),
            OciDistributionError::RegistryError { envelope, url }
                if envelope.errors.iter().any(|e| e.code == OciErrorCode::Toomanyrequests) =>
            {
                Some(url)
            }
            _ => None,
        }
    }
}

/// What the push tells when the registry kept failing: the diagnosis, how many attempts were
/// made, and how to resume.
pub(crate) fn gave_up_failure(
    gave_up: GaveUp<OciAttempt>,
    what: &str,
    reference: &ChartReference,
    credentials: &Resolution,
) -> StepError {
    let attempts = gave_up.attempts;
    if attempts <= 1 {
        return oci_failure(gave_up.error.0, what, reference, credentials);
    }
    StepError::new(format!(
        "{what}: {} kept failing: {} (gave up after {attempts} attempts)",
        reference.registry,
        gave_up.error.reason()
    ))
    .with_help(
        "the registry failed, not the configuration; nothing else was published (a GitHub release stays a draft): \
         run the release again, blobs the registry already has are not sent again",
    )
}

/// An oci-client error as a user reads it; refusals go through [`explain`].
pub(crate) fn oci_failure(
    err: OciDistributionError,
    what: &str,
    reference: &ChartReference,
    credentials: &Resolution,
) -> StepError {
    let host = &reference.registry;
    let refused = |answer: Answer| {
        let denial = Denial::classify(&answer);
        explain(&denial, what, &reference.repository, &server_words(&answer), credentials)
    };
    match err {
        OciDistributionError::AuthenticationFailure(reason) => {
            let words = server_words(&Answer { status: 401, www_authenticate: None, body: reason });
            explain(&Denial::TokenRefused, what, &reference.repository, &format!("token service: {words}"), credentials)
        }
        OciDistributionError::UnauthorizedError { .. } => {
            refused(Answer { status: 401, www_authenticate: None, body: String::new() })
        }
        OciDistributionError::ServerError { code, message, .. } if matches!(code, 401 | 403 | 405) => {
            refused(Answer { status: code, www_authenticate: None, body: message })
        }
        OciDistributionError::RegistryError { envelope, url } => {
            let status = match envelope.errors.first().map(|e| &e.code) {
                Some(OciErrorCode::Denied) => 403,
                Some(OciErrorCode::Unauthorized) => 401,
                Some(OciErrorCode::Unsupported) => 405,
                _ => 0,
            };
            let body = serde_json::to_string(&envelope).unwrap_or_default();
            if status != 0 {
                refused(Answer { status, www_authenticate: None, body })
            } else {
                let words = server_words(&Answer { status: 400, www_authenticate: None, body });
                StepError::new(format!("{what}: {url}: {words}"))
                    .with_help(format!("the registry refused the request; see {TROUBLESHOOTING}"))
            }
        }
        OciDistributionError::RequestError(err) => StepError::new(format!("{what}: cannot reach {host}: {err}"))
            .with_help(format!(
                "check the registry host in `push` and the network; a loopback or in-house registry without TLS \
                 needs `[registries.\"{host}\"] plain-http = true` in release.toml"
            )),
        other => StepError::new(format!("{what}: {host}: {other}")).with_help(format!("see {TROUBLESHOOTING}")),
    }
}

pub(crate) fn is_not_found(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound)
        }),
        _ => false,
    }
}

/// Resolves the URL an upload `Location` points to, relative to the request URL.
fn resolve_location(base: &str, location: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse(base).ok()?.join(location).ok()
}

#[async_trait::async_trait]
impl Step for PushProbe {
    fn id(&self) -> String {
        format!("preflight:oci-push:{}", self.push.label)
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Probe
    }
    fn description(&self) -> String {
        format!("prove push access for {} (start and cancel a blob upload)", self.push.push)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let reference = planned_reference(&self.push, &cx.release().version)?;
        let what = format!("chart `{}`", self.push.label);
        let host = reference.registry.clone();
        let credentials = credentials::resolve(&host, self.settings.registry(&host), cx.env(), cx).await;
        for warning in credentials.warnings() {
            cx.warn(warning);
        }
        cx.progress(format!("credentials for {host}: {}", credentials.source));

        let client = self.settings.oci_client(&host);
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let retries = Retries::new(&self.settings.network, &announce);
        let token = push_token(&client, &reference, &credentials, &what, &retries).await?;
        let auth = authorization(&token, &credentials.login);

        let http = self.settings.http_client();
        let url = format!("{}://{host}/v2/{}/blobs/uploads/", self.settings.scheme(&host), reference.repository);
        // Transient failures (5xx, 429, connection errors) are retried by the network policy;
        // refusals are final at once, so their diagnosis shows without delay.
        let response = retries
            .policy
            .send(
                &format!("POST {url}"),
                || {
                    let mut request = http.post(&url).header(reqwest::header::CONTENT_LENGTH, "0");
                    if let Some(auth) = &auth {
                        request = request.header(reqwest::header::AUTHORIZATION, auth);
                    }
                    request.send()
                },
                &announce,
            )
            .await
            .map_err(|err| oci_failure(OciDistributionError::RequestError(err), &what, &reference, &credentials))?;
        let status = response.status();
        if status != reqwest::StatusCode::ACCEPTED {
            let answer = Answer {
                status: status.as_u16(),
                www_authenticate: response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: response.text().await.unwrap_or_default(),
            };
            let denial = Denial::classify(&answer);
            return Err(explain(&denial, &what, &reference.repository, &server_words(&answer), &credentials));
        }

        // Cancel the session. Credentials go only to the registry's own host and scheme.
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
        let cancelled = match location.and_then(|l| resolve_location(&url, l)) {
            None => {
                cx.warn(format!("{host} started an upload session without a Location; it will expire on its own"));
                "started (no location to cancel)"
            }
            Some(session) => {
                let same_host = reqwest::Url::parse(&url).ok().is_some_and(|u| {
                    u.scheme() == session.scheme()
                        && u.host_str() == session.host_str()
                        && u.port_or_known_default() == session.port_or_known_default()
                });
                let mut delete = http.delete(session.clone());
                if let (true, Some(auth)) = (same_host, &auth) {
                    delete = delete.header(reqwest::header::AUTHORIZATION, auth);
                }
                match delete.send().await {
                    Ok(r) if r.status().is_success() => "started and cancelled",
                    // GHCR cannot cancel a session (405); distribution with token auth wants the
                    // `delete` action for any DELETE (401), which a push grant does not include.
                    // Either way the session expires unused and stores nothing.
                    Ok(r) if matches!(r.status().as_u16(), 404 | 405) => "started; cannot be cancelled, it expires",
                    Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                        "started; cancelling needs delete rights, it expires"
                    }
                    Ok(r) => {
                        cx.warn(format!("cancelling the upload session at {session} answered {}", r.status()));
                        "started; cancel failed, it expires"
                    }
                    Err(err) => {
                        cx.warn(format!("cancelling the upload session at {session} failed: {err}"));
                        "started; cancel failed, it expires"
                    }
                }
            }
        };
        Ok(Some(format!("may push {reference} with {}; upload session {cancelled}", credentials.source)))
    }
}

/// `publish:oci-push:<chart>`: pushes the packaged chart with Helm's media types, by digest
/// only; [`ChartTagStep`] tags it in the finalize stage.
#[derive(Debug)]
pub struct ChartPushStep {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// `[signing]` is configured: the signature step follows the push (the push itself is by
    /// digest either way).
    pub signed: bool,
}

impl ChartPushStep {
    /// The packaged chart this step pushes: the one of its `[[chart]]` entry.
    fn packaged(&self, cx: &StepContext<'_>) -> Result<PackagedChart, StepError> {
        let charts = cx.get::<PackagedCharts>().unwrap_or_default().0;
        let wanted = Some(self.push.push.as_str());
        let by_index = charts.get(self.push.index).filter(|c| c.push.as_deref() == wanted);
        let by_target: Vec<&PackagedChart> = charts.iter().filter(|c| c.push.as_deref() == wanted).collect();
        by_index.or(if by_target.len() == 1 { by_target.first().copied() } else { None }).cloned().ok_or_else(|| {
            StepError::new(format!("chart `{}` ({}) was not packaged in this run", self.push.label, self.push.dir))
                .with_help(
                    "the package stage must run before the push; run the whole pipeline, not the publish steps alone",
                )
        })
    }
}

/// The manifest annotations Helm writes, from the chart's metadata.
fn annotations(chart: &PackagedChart, env: &crate::env::Environment) -> BTreeMap<String, String> {
    let meta: serde_json::Value = serde_json::from_str(&chart.config_json).unwrap_or_default();
    let text = |key: &str| meta.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
    let mut out = BTreeMap::new();
    out.insert("org.opencontainers.image.title".into(), chart.name.clone());
    out.insert("org.opencontainers.image.version".into(), chart.version.clone());
    if let Some(description) = text("description") {
        out.insert("org.opencontainers.image.description".into(), description);
    }
    if let Some(home) = text("home") {
        out.insert("org.opencontainers.image.url".into(), home);
    }
    if let Some(source) = meta.get("sources").and_then(|s| s.get(0)).and_then(|s| s.as_str()) {
        out.insert("org.opencontainers.image.source".into(), source.to_owned());
    }
    if let Some(maintainers) = meta.get("maintainers").and_then(|m| m.as_array()) {
        let authors: Vec<String> = maintainers
            .iter()
            .filter_map(|m| {
                let name = m.get("name")?.as_str()?;
                Some(match m.get("email").and_then(|e| e.as_str()) {
                    Some(email) => format!("{name} ({email})"),
                    None => name.to_owned(),
                })
            })
            .collect();
        if !authors.is_empty() {
            out.insert("org.opencontainers.image.authors".into(), authors.join(", "));
        }
    }
    // Deterministic on purpose: a timestamp of now would make every re-push a new manifest.
    if let Some(created) = env.get("SOURCE_DATE_EPOCH").and_then(|s| s.parse::<i64>().ok()).map(rfc3339_utc) {
        out.insert("org.opencontainers.image.created".into(), created);
    }
    out
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `PUT`s exact manifest bytes under `target` (a tag or the manifest's own digest), under the
/// network policy; the same bytes again are a no-op for the registry.
pub(crate) async fn put_manifest(
    retries: &Retries<'_>,
    client: &oci_client::Client,
    target: &oci_client::Reference,
    shown: &str,
    bytes: &[u8],
) -> Result<(), GaveUp<OciAttempt>> {
    retries
        .run(&format!("PUT the manifest of {shown}"), |_| async move {
            let content_type = reqwest::header::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE);
            client.push_manifest_raw(target, bytes.to_vec(), content_type).await.map(drop).map_err(OciAttempt)
        })
        .await
}

/// The manifest for a chart and its exact bytes (their digest is the manifest digest).
pub(crate) fn chart_manifest(chart: &PackagedChart, env: &crate::env::Environment) -> (OciImageManifest, Vec<u8>) {
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
        config: OciDescriptor {
            media_type: HELM_CONFIG_MEDIA_TYPE.into(),
            digest: sha256_digest(chart.config_json.as_bytes()),
            size: chart.config_json.len() as i64,
            ..Default::default()
        },
        layers: vec![OciDescriptor {
            media_type: HELM_CHART_LAYER_MEDIA_TYPE.into(),
            digest: format!("sha256:{}", chart.sha256),
            size: chart.size as i64,
            ..Default::default()
        }],
        subject: None,
        artifact_type: None,
        annotations: Some(annotations(chart, env)),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    (manifest, bytes)
}

#[async_trait::async_trait]
impl Step for ChartPushStep {
    fn id(&self) -> String {
        format!("publish:oci-push:{}", self.push.label)
    }
    fn stage(&self) -> Stage {
        Stage::Publish
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        format!("push chart {} to {}", self.push.label, self.push.push)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let chart = self.packaged(cx)?;
        let what = format!("chart `{}`", chart.name);
        let target = PushTarget::parse(&self.push.push)?;
        let reference = target.chart(&chart.name, &chart.version)?;
        let host = reference.registry.clone();
        let credentials = credentials::resolve(&host, self.settings.registry(&host), cx.env(), cx).await;
        let auth = credentials.login.to_oci();
        let oci_ref = reference.to_oci();
        let client = self.settings.oci_client(&host);
        let fail = |gave_up| gave_up_failure(gave_up, &what, &reference, &credentials);
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let mut retries = Retries::new(&self.settings.network, &announce);
        let token = push_token(&client, &reference, &credentials, &what, &retries).await?;
        retries.rate_limit = rate_limit_probe(&self.settings, &host, &token, &credentials.login);
        let (client, oci_ref, auth) = (&client, &oci_ref, &auth);

        let (manifest, manifest_bytes) = chart_manifest(&chart, cx.env());
        let digest = sha256_digest(&manifest_bytes);
        // The tag is the finalize stage's: the output naming the tag reference is set there.
        let record = |digest: &str, bytes: &[u8], replaces: Option<String>| {
            cx.set_output(format!("chart.{}.digest", chart.name), digest.to_owned());
            let pushed = PushedChart {
                name: chart.name.clone(),
                reference: reference.clone(),
                digest: digest.to_owned(),
                manifest: bytes.to_vec(),
                replaces,
                signed: false,
            };
            PushedCharts::record(cx, &self.push.label, pushed);
        };

        // Idempotence: what is under the tag already? Checked before anything is pushed.
        let mut replaces = None;
        let existing = retries
            .run(&format!("GET the manifest of {reference}"), |_| async move {
                client.pull_manifest_raw(oci_ref, auth, &[OCI_MANIFEST_MEDIA_TYPE]).await.map_err(OciAttempt)
            })
            .await;
        match existing {
            Ok((_, existing)) if existing == digest => {
                record(&digest, &manifest_bytes, None);
                return Ok(Some(format!("{reference}@{digest} unchanged (already in the registry)")));
            }
            Ok((bytes, existing)) => {
                let same_content = serde_json::from_slice::<OciImageManifest>(&bytes).is_ok_and(|old| {
                    old.config.digest == manifest.config.digest
                        && old.layers.iter().map(|l| &l.digest).eq(manifest.layers.iter().map(|l| &l.digest))
                });
                if same_content {
                    record(&existing, &bytes, None);
                    return Ok(Some(format!(
                        "{reference}@{existing} holds the same chart already (its annotations differ); left as is"
                    )));
                }
                if !chart.allow_overwrite {
                    return Err(StepError::new(format!(
                        "{what}: {reference} already exists with different content (manifest {existing}; this \
                         chart would be {digest})"
                    ))
                    .with_help(format!(
                        "a published chart version should never change: bump `version` in Chart.yaml (or use \
                         `stamp-version`), or set `allow-overwrite = true` on chart[{}] in release.toml to replace it",
                        self.push.index
                    )));
                }
                cx.warn(format!(
                    "{reference} exists with different content ({existing}); replacing it (allow-overwrite)"
                ));
                replaces = Some(existing);
            }
            Err(gave_up) if is_not_found(&gave_up.error.0) => {}
            Err(gave_up) => return Err(fail(gave_up)),
        }

        // The manifest goes by digest, untagged until the finalize stage; a run that failed
        // after this push finds it here and sends nothing again.
        let by_digest = &reference.to_oci_digest(&digest);
        let target = by_digest;
        let where_to = reference.at_digest(&digest);
        {
            let present = retries
                .run(&format!("HEAD the manifest {where_to}"), |_| async move {
                    client.fetch_manifest_digest(by_digest, auth).await.map_err(OciAttempt)
                })
                .await;
            match present {
                Ok(stored) if stored == digest => {
                    record(&digest, &manifest_bytes, replaces);
                    return Ok(Some(format!(
                        "{where_to} unchanged (already in the registry by digest; tagged `{}` in the finalize stage)",
                        reference.tag
                    )));
                }
                Ok(_) => {}
                Err(gave_up) if is_not_found(&gave_up.error.0) => {}
                Err(gave_up) => return Err(fail(gave_up)),
            }
        }

        // Blobs are addressed by digest, so a push is safe to repeat; before a retry the
        // registry is asked whether the failed attempt got the blob in after all.
        let layer = &manifest.layers[0];
        let retries = &retries;
        let has_blob = |digest: String| async move {
            retries
                .run(&format!("HEAD the blob {digest}"), |_| {
                    let digest = digest.clone();
                    async move { client.blob_exists(oci_ref, &digest).await.map_err(OciAttempt) }
                })
                .await
        };
        if has_blob(layer.digest.clone()).await.map_err(fail)? {
            cx.progress(format!("layer {} already in the registry", layer.digest));
        } else {
            cx.progress(format!("uploading {} ({} bytes)", chart.path, chart.size));
            let (path, digest, size) = (&chart.path, &layer.digest, chart.size);
            let stall = retries.policy.stall_timeout;
            retries
                .run(
                    &format!("the upload of {}", chart.path.file_name().unwrap_or("the chart")),
                    |attempt| async move {
                        if attempt > 1 && client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)? {
                            return Ok(());
                        }
                        let file = tokio::fs::File::open(path).await.map_err(|e| OciAttempt(e.into()))?;
                        // The stream fails if reading the file itself stalls; a registry that stops
                        // reading or answering is ended by oci-client's read timeout.
                        let stream =
                            net::stall_guard(tokio_util::io::ReaderStream::with_capacity(file, STREAM_CHUNK), stall)
                                .map(|chunk| chunk.map_err(OciDistributionError::from));
                        client.push_blob_stream(oci_ref, stream, digest, Some(size)).await.map(drop).map_err(OciAttempt)
                    },
                )
                .await
                .map_err(fail)?;
            cx.bytes(chart.size, Some(chart.size));
        }
        let config_digest = &manifest.config.digest;
        if !has_blob(config_digest.clone()).await.map_err(fail)? {
            let config = chart.config_json.as_bytes();
            retries
                .run(&format!("the upload of the chart's config blob {config_digest}"), |attempt| async move {
                    if attempt > 1 && client.blob_exists(oci_ref, config_digest).await.map_err(OciAttempt)? {
                        return Ok(());
                    }
                    client.push_blob(oci_ref, config.to_vec(), config_digest).await.map(drop).map_err(OciAttempt)
                })
                .await
                .map_err(fail)?;
        }
        // A manifest PUT (by tag or by its own digest) is idempotent for the same bytes.
        put_manifest(retries, client, target, &where_to, &manifest_bytes).await.map_err(fail)?;

        // Read back: the tag (or digest) must now resolve to exactly this manifest.
        let stored = retries
            .run(&format!("HEAD the manifest of {where_to}"), |_| async move {
                client.fetch_manifest_digest(target, auth).await.map_err(OciAttempt)
            })
            .await
            .map_err(fail)?;
        if stored != digest {
            return Err(StepError::new(format!(
                "{what}: after the push {where_to} resolves to {stored}, not to the pushed manifest {digest}"
            ))
            .with_help("another push to the same tag ran at the same time; run the release again"));
        }
        record(&digest, &manifest_bytes, replaces);
        Ok(Some(format!(
            "pushed {where_to} with {} (by digest; tagged `{}` in the finalize stage)",
            credentials.source, reference.tag
        )))
    }
}

/// `finalize:oci-tag:<chart>`: puts the chart's manifest, pushed by digest, under its version
/// tag, after the GitHub release's undraft. Until this step the chart is in the registry only
/// by digest, so `helm pull` of the version finds nothing (and with `[signing]`, never finds it
/// unsigned: the signature step ran in the publish stage).
#[derive(Debug)]
pub struct ChartTagStep {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// `[signing]` is configured: the chart must have its signature from this run.
    pub signed: bool,
}

#[async_trait::async_trait]
impl Step for ChartTagStep {
    fn id(&self) -> String {
        format!("finalize:oci-tag:{}", self.push.label)
    }
    fn stage(&self) -> Stage {
        Stage::Finalize
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        format!("tag chart {} in {}: the chart version becomes visible", self.push.label, self.push.push)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let pushed = cx.get::<PushedCharts>().and_then(|p| p.0.get(&self.push.label).cloned()).ok_or_else(|| {
            StepError::new(format!("chart `{}` ({}) was not pushed in this run", self.push.label, self.push.dir))
                .with_help("its push and signature steps must run before it is tagged; run the whole pipeline")
        })?;
        let reference = &pushed.reference;
        let what = format!("the tag of chart `{}`", pushed.name);
        if self.signed && !pushed.signed {
            return Err(StepError::new(format!(
                "{what}: {} has no signature from this run; {reference} is not tagged",
                reference.at_digest(&pushed.digest)
            ))
            .with_help("the signature step must succeed before the chart is tagged; run the whole pipeline"));
        }
        let host = reference.registry.clone();
        let credentials = credentials::resolve(&host, self.settings.registry(&host), cx.env(), cx).await;
        let auth = &credentials.login.to_oci();
        let client = &self.settings.oci_client(&host);
        let oci_ref = &reference.to_oci();
        let digest = &pushed.digest;
        let fail = |gave_up: GaveUp<OciAttempt>| {
            let retried = gave_up.attempts > 1;
            let error = gave_up_failure(gave_up, &what, reference, &credentials);
            if !retried {
                return error;
            }
            error.with_help(format!(
                "the registry failed, not the configuration: the chart is in the registry as {} (with its \
                 signature, if signed), but not tagged `{}` yet; a GitHub release of this run is already \
                 published. Run the release again: the release and the chart are found unchanged and only the \
                 tag is sent (see {TROUBLESHOOTING})",
                reference.at_digest(digest),
                reference.tag
            ))
        };
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let mut retries = Retries::new(&self.settings.network, &announce);
        let token = push_token(client, reference, &credentials, &what, &retries).await?;
        retries.rate_limit = rate_limit_probe(&self.settings, &host, &token, &credentials.login);
        let retries = &retries;
        let record = || cx.set_output(format!("chart.{}.reference", pushed.name), reference.to_string());
        let tag_digest = || async move {
            retries
                .run(&format!("HEAD the manifest of {reference}"), |_| async move {
                    client.fetch_manifest_digest(oci_ref, auth).await.map_err(OciAttempt)
                })
                .await
        };

        // The tag as it is now: already this chart (a re-run), absent, or what the push step's
        // check saw and allow-overwrite let this run replace. Anything else arrived since.
        match tag_digest().await {
            Ok(current) if &current == digest => {
                record();
                return Ok(Some(format!("{reference} already resolves to {digest} (unchanged)")));
            }
            Ok(current) if pushed.replaces.as_ref() == Some(&current) => {}
            Ok(current) => {
                return Err(StepError::new(format!(
                    "{what}: {reference} now resolves to {current}, which it did not when this run checked it; \
                     {} is not tagged",
                    reference.at_digest(digest)
                ))
                .with_help("another push to the same tag ran at the same time; run the release again"));
            }
            Err(gave_up) if is_not_found(&gave_up.error.0) => {}
            Err(gave_up) => return Err(fail(gave_up)),
        }
        put_manifest(retries, client, oci_ref, &reference.to_string(), &pushed.manifest).await.map_err(fail)?;
        let stored = tag_digest().await.map_err(fail)?;
        if &stored != digest {
            return Err(StepError::new(format!(
                "{what}: after the push {reference} resolves to {stored}, not to the signed manifest {digest}"
            ))
            .with_help("another push to the same tag ran at the same time; run the release again"));
        }
        record();
        let signed = if self.signed { " (its signature is in place)" } else { "" };
        Ok(Some(format!("tagged {reference} as {digest}{signed} with {}", credentials.source)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(config_json: &str) -> PackagedChart {
        PackagedChart {
            name: "hello".into(),
            version: "1.2.3+b1".into(),
            path: "/dist/hello-1.2.3+b1.tgz".into(),
            size: 42,
            sha256: "ab".repeat(32),
            config_json: config_json.into(),
            push: Some("oci://127.0.0.1:5000/charts".into()),
            allow_overwrite: false,
        }
    }

    #[test]
    fn manifest_has_helm_media_types_and_annotations() {
        let config = r#"{"apiVersion":"v2","name":"hello","version":"1.2.3+b1","description":"Says hello","home":"https://example.com","sources":["https://github.com/acme/hello"],"maintainers":[{"name":"Ada","email":"ada@example.com"},{"name":"Bob"}]}"#;
        let (manifest, bytes) = chart_manifest(&chart(config), &crate::env::Environment::empty());
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], HELM_CONFIG_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["mediaType"], HELM_CHART_LAYER_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["digest"], format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(json["layers"][0]["size"], 42);
        let annotations = manifest.annotations.unwrap();
        assert_eq!(annotations["org.opencontainers.image.title"], "hello");
        assert_eq!(annotations["org.opencontainers.image.version"], "1.2.3+b1");
        assert_eq!(annotations["org.opencontainers.image.description"], "Says hello");
        assert_eq!(annotations["org.opencontainers.image.url"], "https://example.com");
        assert_eq!(annotations["org.opencontainers.image.source"], "https://github.com/acme/hello");
        assert_eq!(annotations["org.opencontainers.image.authors"], "Ada (ada@example.com), Bob");
        assert!(!annotations.contains_key("org.opencontainers.image.created"));
    }

    #[test]
    fn manifest_is_deterministic_and_created_comes_from_source_date_epoch() {
        let env = crate::env::Environment::empty();
        assert_eq!(chart_manifest(&chart("{}"), &env).1, chart_manifest(&chart("{}"), &env).1);
        let env = env.with("SOURCE_DATE_EPOCH", "1700000000");
        let (manifest, _) = chart_manifest(&chart("{}"), &env);
        assert_eq!(manifest.annotations.unwrap()["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn basic_authorization_for_basic_logins_bearer_for_tokens() {
        let login = Login::Basic { username: "u".into(), password: crate::secret::Secret::new("p") };
        assert_eq!(authorization(&None, &login).unwrap(), "Basic dTpw");
        assert_eq!(authorization(&Some("t".into()), &login).unwrap(), "Bearer t");
        assert_eq!(authorization(&None, &Login::Anonymous), None);
    }
}
