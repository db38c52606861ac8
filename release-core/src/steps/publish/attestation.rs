//! `publish:attestation`: the signed provenance is stored with GitHub's attestations API
//! (`POST /repos/{owner}/{repo}/attestations`), where `gh attestation verify` finds it. In
//! the publish stage, before the release is made visible.

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;

use crate::github::diagnose::GithubError;
use crate::github::target;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::signed_provenance;
use crate::steps::sign::provenance::Provenance;

#[derive(Debug)]
pub struct PublishAttestation {
    pub github: GithubConfig,
    pub network: NetworkConfig,
}

#[async_trait::async_trait]
impl Step for PublishAttestation {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Publish, "attestation"),
            Effect::Publish,
            "store the signed build provenance with GitHub's attestations API",
        )
        .consumes(&signed_provenance())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let Provenance { bundle_json } = cx.handed(&signed_provenance())?;
        let bundle: serde_json::Value = serde_json::from_str(&bundle_json)
            .map_err(|e| StepError::new(format!("the provenance bundle is not JSON: {e}")))?;
        let target = target::resolve(&self.github, cx.env()).map_err(GithubError::from)?;
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let client =
            cx.github(&target, &self.network).map_err(|e| GithubError::classify(e, &target))?.announcing(&announce);
        let id = client.create_attestation(&bundle).await.map_err(|e| GithubError::classify(e, &target))?;
        let web = target.web_url();
        cx.set_output("attestation-id", id.to_string());
        Ok(Some(format!("build provenance stored as attestation {id}: {web}/attestations/{id}")))
    }
}
