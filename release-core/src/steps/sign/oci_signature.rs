//! `sign:oci-signature:<chart>`: in keyless mode, the chart's signature for its registry, as
//! cosign v3 makes it (`cosign sign` with the new bundle format): a DSSE envelope over the
//! in-toto statement `https://sigstore.dev/cosign/sign/v1` whose one subject is the digest of
//! the manifest this run will push (named `REGISTRY/PATH/NAME`, which cosign leaves out and
//! sigstore-python requires), signed with the run's certificate and logged in Rekor.
//!
//! Signed here, in the sign stage, not at push time: the certificate is fresh (Fulcio's live
//! ten minutes, an upload may take longer), the verify gate checks the bundle before anything
//! is published, and the manifest digest is known now, because the manifest is deterministic
//! (`publish:oci-push:<chart>` pushes exactly these bytes). `publish:oci-referrers:<chart>`
//! attaches the bundle to the chart as an OCI 1.1 referrer.

use crate::error::StepError;
use crate::net::RetryNotice;
use crate::oci::ChartPush;
use crate::oci::manifest::PlannedManifest;
use crate::oci::referrers::ChartSignature;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::cosign_sign_statement;
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{chart_signature, keyless_session, packaged_chart};

#[derive(Debug)]
pub(crate) struct SignOciSignature {
    pub push: ChartPush,
}

#[async_trait::async_trait]
impl Step for SignOciSignature {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Sign, "oci-signature").with_subject(self.push.chart.label()),
            Effect::Local,
            format!("sign the manifest of chart {} keyless for its registry (cosign v3 bundle)", self.push.chart),
        )
        .consumes(&keyless_session())
        .consumes(&packaged_chart(&self.push.chart))
        .produces(&chart_signature(&self.push.chart))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let chart = cx.handed(&packaged_chart(&self.push.chart))?;
        let planned = PlannedManifest::new(&chart, &self.push.push, cx.env())?;
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let bundle = session
            .sign_statement(&cosign_sign_statement(&planned.subject_name(), planned.sha256_hex()), &announce)
            .await?;
        let bundle_json = bundle
            .to_json()
            .map_err(|e| StepError::new(format!("cannot write the signature bundle of chart `{}`: {e}", chart.name)))?;
        let shown = planned.reference.at_digest(&planned.digest);
        cx.hand_off(
            &chart_signature(&self.push.chart),
            ChartSignature { manifest_digest: planned.digest.clone(), manifest_size: planned.bytes.len(), bundle_json },
        )?;
        Ok(Some(format!("signed {shown} keyless as {} (logged in Rekor)", session.identity)))
    }
}
