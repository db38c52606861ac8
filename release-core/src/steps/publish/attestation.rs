//! `publish:attestation`: the signed provenance is stored with GitHub's attestations API
//! (`POST /repos/{owner}/{repo}/attestations`), where `gh attestation verify` finds it. In
//! the publish stage, before the release is made visible.

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;
use crate::github::client::{GithubClient, shared_pacer};
use crate::github::diagnose::GithubError;
use crate::github::target;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage};
use crate::step::{Step, StepContext, StepResult};
use crate::steps::sign::provenance::Provenance;

#[derive(Debug)]
pub struct PublishAttestation {
    pub github: GithubConfig,
    pub network: NetworkConfig,
}

#[async_trait::async_trait]
impl Step for PublishAttestation {
    fn id(&self) -> String {
        "publish:attestation".into()
    }
    fn stage(&self) -> Stage {
        Stage::Publish
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        "store the signed build provenance with GitHub's attestations API".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let Provenance { bundle_json } = cx.get::<Provenance>().ok_or_else(|| {
            StepError::new("no signed provenance to publish")
                .with_help("the sign:provenance step must run before this one")
        })?;
        let bundle: serde_json::Value = serde_json::from_str(&bundle_json)
            .map_err(|e| StepError::new(format!("the provenance bundle is not JSON: {e}")))?;
        let target = target::resolve(&self.github, cx.env()).map_err(GithubError::from)?;
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let client = GithubClient::new(&target, &self.network)
            .map_err(|e| GithubError::classify(e, &target))?
            .announcing(&announce)
            .paced_by(shared_pacer(cx, &target, &self.network));
        let id = client.create_attestation(&bundle).await.map_err(|e| GithubError::classify(e, &target))?;
        let web = target.web_url();
        cx.set_output("attestation-id", id.to_string());
        Ok(Some(format!("build provenance stored as attestation {id}: {web}/attestations/{id}")))
    }
}
