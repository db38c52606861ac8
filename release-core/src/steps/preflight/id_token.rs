//! `preflight:id-token`: keyless signing will work, proven in about a second before the
//! build (protocols-sigstore.md §10).
//!
//! 1. Inside GitHub Actions, both `ACTIONS_ID_TOKEN_REQUEST_*` variables exist (they do only
//!    with `permissions: id-token: write`); else the job's permissions are named.
//! 2. One token is fetched (audience `sigstore`) and its claims checked as Fulcio will:
//!    issuer, audience, expiry, the claims of Fulcio's GitHub principal. The token is then
//!    dropped: it lives five minutes, the sign step fetches its own.
//! 3. Fulcio and Rekor answer side-effect-free reads. No certificate is requested: it would
//!    land in a public CT log.

use crate::net::RetryNotice;
use crate::plan::{Effect, Stage, StepId};
use crate::secret::{SecretSink, Source};
use crate::signing::keyless::settings::KeylessSettings;
use crate::signing::keyless::token::{AUDIENCE, REQUEST_URL_VAR};
use crate::signing::keyless::{Services, TokenRequest};
use crate::step::{Step, StepContext, StepMeta, StepResult};

/// Preflight: the OIDC token, its claims, Fulcio and Rekor.
#[derive(Debug)]
pub(crate) struct PreflightIdToken {
    pub settings: KeylessSettings,
}

#[async_trait::async_trait]
impl Step for PreflightIdToken {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "id-token"),
            Effect::Check,
            "check that this job can get a GitHub OIDC token Fulcio accepts, and that Fulcio and Rekor answer",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let request = TokenRequest::from_env(cx.env())?;
        cx.secret_found(&Source::env(crate::signing::keyless::token::REQUEST_TOKEN_VAR), &request.token);
        let services = Services::resolve(&self.settings.instance)?;
        let http = self.settings.http()?;
        let policy = self.settings.policy();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let token = request.fetch(&http, &policy, AUDIENCE, &announce).await?;
        cx.secret_found(&Source(format!("the OIDC token from {REQUEST_URL_VAR}")), token.jwt());
        token.check_for_fulcio(crate::signing::keyless::services::now())?;
        let reached = services.check_reachable(&http, &policy, &announce).await?;
        let identity = token.identity("https://github.com").unwrap_or_default();
        Ok(Some(format!(
            "an OIDC token for {identity} (issuer {}) has every claim Fulcio needs; {reached} answer",
            token.claim("iss").unwrap_or_default()
        )))
    }
}
