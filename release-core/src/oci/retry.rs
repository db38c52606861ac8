//! Every registry call under the network policy: retries, and the rate-limit probe that reads
//! the `Retry-After` oci-client drops.

use base64::Engine;
use oci_client::RegistryOperation;

use crate::error::StepError;
use crate::net;
use crate::net::GaveUp;
use crate::net::NetworkPolicy;
use crate::net::RetryListener;
use crate::net::RetryNotice;
use crate::net::Retryable;
use crate::net::Verdict;
use crate::oci::credentials::Login;
use crate::oci::credentials::Resolution;
use crate::oci::diagnose::gave_up_failure;
pub(crate) use crate::oci::error::OciAttempt;
use crate::oci::reference::ChartReference;
use crate::oci::session::RegistrySession;

/// The `Authorization` header value for a raw request, if any.
pub(crate) fn authorization(token: &Option<String>, login: &Login) -> Option<String> {
    match (token, login) {
        (Some(token), _) => Some(format!("Bearer {token}")),
        (None, Login::Basic { username, password }) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()))
        )),
        (None, Login::Anonymous) => None,
    }
}

/// The [`RateLimitProbe`] for a registry, with the credentials its pushes use and the run's
/// HTTP client for that registry.
pub(crate) fn rate_limit_probe(session: &RegistrySession, token: &Option<String>) -> Option<RateLimitProbe> {
    RateLimitProbe::new(
        session.http.clone(),
        &format!("{}://{}", session.scheme, session.host),
        authorization(token, &session.credentials.login),
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
    pub(crate) announce: &'a dyn RetryListener,
    /// Reads the `Retry-After` oci-client drops; set once the push credentials are known.
    pub(crate) rate_limit: Option<RateLimitProbe>,
}

impl<'a> Retries<'a> {
    pub(crate) fn new(network: &crate::config::NetworkConfig, announce: &'a dyn RetryListener) -> Self {
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
            .retry(what, asked, &|notice: &RetryNotice| self.announce.retrying(notice))
            .await
            .map_err(|gave_up| GaveUp { error: gave_up.error.failure, attempts: gave_up.attempts })
    }
}

/// A failed oci-client attempt and the wait the registry asked for, when it was asked.
pub(crate) struct Asked {
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
