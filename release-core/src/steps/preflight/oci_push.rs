//! `preflight:oci-push:<chart>`: proves the credentials may push to the chart's repository by
//! starting an upload session and cancelling it.

use oci_client::errors::OciDistributionError;

use crate::net::RetryNotice;
use crate::oci::ChartPush;
use crate::oci::OciSettings;
use crate::oci::diagnose::Answer;
use crate::oci::diagnose::Denial;
use crate::oci::diagnose::explain;
use crate::oci::diagnose::oci_failure;
use crate::oci::diagnose::server_words;
use crate::oci::planned::planned_reference;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// `preflight:oci-push:<chart>`: proves the credentials may push to the chart's repository by
/// starting an upload session and cancelling it.
#[derive(Debug)]
pub(crate) struct PreflightOciPush {
    pub push: ChartPush,
    pub settings: OciSettings,
}

/// Resolves the URL an upload `Location` points to, relative to the request URL.
fn resolve_location(base: &str, location: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse(base).ok()?.join(location).ok()
}

#[async_trait::async_trait]
impl Step for PreflightOciPush {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "oci-push").with_subject(self.push.chart.label()),
            Effect::Probe,
            format!("prove push access for {} (start and cancel a blob upload)", self.push.push),
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let reference = planned_reference(&self.push, &cx.release().version)?;
        let what = format!("chart `{}`", self.push.chart);
        let host = reference.registry.clone();
        let registry = cx.push_scope(&reference, &what, &self.settings).await?;
        let (session, credentials) = (&registry.session, registry.credentials());
        let auth = registry.authorization();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());

        let http = session.http.clone();
        let url = format!("{}://{host}/v2/{}/blobs/uploads/", session.scheme, reference.repository);
        // Transient failures (5xx, 429, connection errors) are retried by the network policy;
        // refusals are final at once, so their diagnosis shows without delay.
        let response = registry
            .retries
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
            .map_err(|err| oci_failure(OciDistributionError::RequestError(err), &what, &reference, credentials))?;
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
            return Err(explain(&denial, &what, &reference.repository, &server_words(&answer), credentials));
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
