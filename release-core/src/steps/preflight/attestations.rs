//! `preflight:attestations`: the token may store attestations (`attestations: write`),
//! proven before the build (protocols-sigstore.md §10). No endpoint reports a token's
//! permissions, so the write path is exercised with a bundle that cannot be stored: GitHub
//! checks the permission first (403 "Resource not accessible by integration" without it) and
//! then refuses the body (422). Nothing is stored either way. A user-owned private repository
//! is refused by GitHub with its own reason, quoted.

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;

use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PreflightAttestations {
    pub github: GithubConfig,
    pub network: NetworkConfig,
}

#[async_trait::async_trait]
impl Step for PreflightAttestations {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "attestations"),
            Effect::Probe,
            "prove the token may store attestations: POST an attestation GitHub refuses to store",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let api = cx.github(&self.github, &self.network)?;
        let target = &api.target;
        match api.client.create_attestation(&serde_json::json!({})).await {
            Err(api) if matches!(api.status, Some(400 | 422)) => Ok(Some(format!(
                "{} accepts attestations from the token in {} (an empty bundle was refused: {})",
                target.full_name(),
                target.token_source,
                api.message
            ))),
            Err(api) if api.status == Some(403) && api.message.contains("Feature not available") => Err(StepError::new(
                format!("GitHub does not store attestations for {}: {}", target.full_name(), api.message),
            )
            .with_help("artifact attestations need a public repository, or GitHub Enterprise Cloud for private ones; or set `signing.provenance = false` (the provenance is still signed into provenance.intoto.jsonl)")),
            Err(e) => Err(api.classify(e).into()),
            Ok(id) => Err(StepError::new(format!(
                "GitHub stored an empty attestation for {} (id {id}): the server is not GitHub's attestations API",
                target.full_name()
            ))
            .with_help("check `github.api-url` / GITHUB_API_URL")),
        }
    }
}
