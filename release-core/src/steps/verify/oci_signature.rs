//! `verify:oci-signature:<chart>`: the chart's keyless registry signature verifies (chain,
//! SCT, Rekor entry, this run's identity and issuer), is cosign's `sign/v1` statement, and
//! names exactly the manifest the push step will push, recomputed here from the packaged chart.

use crate::error::StepError;
use crate::oci::ChartPush;
use crate::oci::manifest::PlannedManifest;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, dsse_statement, trusted_root, verify_attestation_json};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::{COSIGN_SIGN_V1, predicate_type_of};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{chart_signature, keyless_session, packaged_chart};

#[derive(Debug)]
pub(crate) struct VerifyOciSignature {
    pub push: ChartPush,
}

#[async_trait::async_trait]
impl Step for VerifyOciSignature {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Verify, "oci-signature").with_subject(self.push.chart.label()),
            Effect::Local,
            format!("verify the registry signature of chart {} before anything is published", self.push.chart),
        )
        .consumes(&keyless_session())
        .consumes(&packaged_chart(&self.push.chart))
        .consumes(&chart_signature(&self.push.chart))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let chart = cx.handed(&packaged_chart(&self.push.chart))?;
        let signature = cx.handed(&chart_signature(&self.push.chart))?;
        let planned = PlannedManifest::new(&chart, &self.push.push, cx.env())?;
        let shown = planned.reference.at_digest(&planned.digest);
        let refuse = |what: String| {
            StepError::new(format!("the registry signature of chart `{}` ({shown}) {what}", chart.name))
                .with_help("nothing was published; run the release again (if it recurs, the dist directory or the chart changed during the run)")
        };
        let expected = Expected {
            identity: Some(session.identity.clone()),
            issuer: Some(session.issuer.clone()),
            ..Expected::default()
        };
        let root_json = session.services().trusted_root_json.clone();
        let text = signature.bundle_json.clone();
        let name = camino::Utf8PathBuf::from(format!("the signature of {shown}"));
        let (verified, subjects) = tokio::task::spawn_blocking(move || {
            let root = trusted_root(&root_json, "of the signing instance")?;
            verify_attestation_json(&root, &text, &name, &expected)
        })
        .await
        .map_err(|e| StepError::new(format!("verification stopped: {e}")))??;
        let predicate = dsse_statement(&signature.bundle_json).and_then(|s| predicate_type_of(&s));
        if predicate.as_deref() != Some(COSIGN_SIGN_V1) {
            return Err(refuse(format!("is a statement of type {predicate:?}, not {COSIGN_SIGN_V1}")));
        }
        let named: Vec<&str> = subjects.iter().map(|s| s.sha256.as_str()).collect();
        if named != [planned.sha256_hex()] || signature.manifest_digest != planned.digest {
            return Err(refuse(format!("names {named:?}, not the manifest this run pushes")));
        }
        Ok(Some(format!("the registry signature of {shown} verified, signed by {}", verified.identity)))
    }
}
