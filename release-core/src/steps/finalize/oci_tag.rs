//! `finalize:oci-tag:<chart>`: the chart's manifest under its version tag, after the undraft.

use crate::net::GaveUp;
use crate::oci::ChartPush;
use crate::oci::OciSettings;
use crate::oci::diagnose::gave_up_after_push;
use crate::oci::error::OciError;
use crate::oci::retry::OciAttempt;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::{pushed_chart, signed_chart};

/// `finalize:oci-tag:<chart>`: puts the chart's manifest, pushed by digest, under its version
/// tag, after the GitHub release's undraft. Until this step the chart is in the registry only
/// by digest, so `helm pull` of the version finds nothing (and with `[signing]`, never finds it
/// unsigned: the signature step ran in the publish stage).
#[derive(Debug)]
pub(crate) struct FinalizeOciTag {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// `[signing]` is configured: the chart must have its signature from this run.
    pub signed: bool,
    /// Keyless: the signature is the cosign v3 referrer (`publish:oci-referrers:<chart>`).
    pub keyless: bool,
}

#[async_trait::async_trait]
impl Step for FinalizeOciTag {
    fn meta(&self) -> StepMeta {
        let meta = StepMeta::new(
            StepId::new(Stage::Finalize, "oci-tag").with_subject(self.push.chart.label()),
            Effect::Publish,
            format!("tag chart {} in {}: the chart version becomes visible", self.push.chart, self.push.push),
        )
        .consumes(&pushed_chart(&self.push.chart));
        if self.signed { meta.consumes(&signed_chart(&self.push.chart, self.keyless)) } else { meta }
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let pushed = cx.handed(&pushed_chart(&self.push.chart))?;
        // With `[signing]`, the signature step of this run handed this over only once the
        // signature was in place: the tag never names an unsigned chart.
        if self.signed {
            cx.handed(&signed_chart(&self.push.chart, self.keyless))?;
        }
        let reference = &pushed.reference;
        let what = format!("the tag of chart `{}`", pushed.name);
        let registry = cx.push_scope(reference, &what, &self.settings).await?;
        let credentials = registry.credentials();
        let oci_ref = &reference.to_oci();
        let digest = &pushed.digest;
        let fail = |gave_up: GaveUp<OciAttempt>| {
            gave_up_after_push(gave_up, &what, reference, credentials, || {
                format!(
                    "the chart is in the registry as {} (with its signature, if signed), but not tagged `{}` yet; \
                     a GitHub release of this run is already published. Run the release again: the release and \
                     the chart are found unchanged and only the tag is sent",
                    reference.at_digest(digest),
                    reference.tag
                )
            })
        };
        let record = || cx.set_output(format!("chart.{}.reference", pushed.name), reference.to_string());
        let shown = reference.to_string();
        let tag_digest = || registry.manifest_digest(oci_ref, &shown);

        // The tag as it is now: already this chart (a re-run), absent, or what the push step's
        // check saw and allow-overwrite let this run replace. Anything else arrived since.
        match tag_digest().await.map_err(fail)? {
            Some(current) if &current == digest => {
                record();
                return Ok(Some(format!("{reference} already resolves to {digest} (unchanged)")));
            }
            Some(current) if pushed.replaces.as_ref() == Some(&current) => {}
            Some(current) => {
                return Err(OciError::TagMoved {
                    what,
                    reference: reference.to_string(),
                    current,
                    at_digest: reference.at_digest(digest).to_string(),
                }
                .into());
            }
            None => {}
        }
        registry.put_manifest(oci_ref, &shown, &pushed.manifest).await.map_err(fail)?;
        let stored = tag_digest().await.map_err(fail)?.unwrap_or_else(|| "nothing".to_owned());
        if &stored != digest {
            return Err(OciError::Raced {
                what,
                target: reference.to_string(),
                stored,
                pushed: "signed",
                digest: digest.clone(),
                signer: false,
            }
            .into());
        }
        record();
        let signed = if self.signed { " (its signature is in place)" } else { "" };
        Ok(Some(format!("tagged {reference} as {digest}{signed} with {}", credentials.source)))
    }
}
