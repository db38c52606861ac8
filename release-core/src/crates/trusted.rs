//! Trusted publishing: the GitHub Actions job's OIDC token exchanged for a short-lived
//! registry token, shared by the preflight probe and the publish step.

use crate::crates::RegistryClient;
use crate::error::StepError;
use crate::io::Io;
use crate::net::RetryNotice;
use crate::secret::{Secret, Source};

/// The trusted-publishing exchange: the job's OIDC token, then the registry's token; a
/// refusal is quoted with the setting to change.
pub(crate) async fn exchange(
    io: &dyn Io,
    client: &RegistryClient,
    request_url: &str,
    request_token: &Secret,
    registry: &str,
) -> Result<Secret, StepError> {
    let announce = |notice: &RetryNotice| io.warn(notice.to_string());
    let jwt = client.oidc_token(request_url, request_token, &announce).await.map_err(|e| {
        StepError::new(format!("cannot get the GitHub Actions OIDC token for {registry}: {e}"))
            .with_help("grant the job `permissions: id-token: write`")
    })?;
    // Values found at run time: masked by the front end before they are used.
    io.secret_found(&Source("the GitHub Actions OIDC token".into()), &jwt);
    let token = client.exchange(&jwt, &announce).await.map_err(|err| {
        StepError::new(format!(
            "{registry} refused the trusted publishing exchange: {} \"{}\"",
            err.status().map(|s| s.to_string()).unwrap_or_default(),
            err.detail()
        ))
        .with_help(
            "make the crate's trusted publishing config on the registry name exactly this repository, its owner, the workflow file that runs the release (the calling workflow) and the job's environment; or fix the job to match the config",
        )
    })?;
    io.secret_found(&Source(format!("the trusted publishing token of {registry}")), &token);
    io.progress(format!(
        "{registry} accepted the trusted publishing exchange (repository, owner, workflow and environment match)"
    ));
    Ok(token)
}
