//! `preflight:oci-check`: every push target checked without network.

use crate::oci::ChartPush;
use crate::oci::OciSettings;
use crate::oci::error::OciError;
use crate::oci::planned::is_loopback;
use crate::oci::planned::planned_reference;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// `preflight:oci-check`: every push target is a valid reference with lowercase names and a
/// valid tag, and plain HTTP is used only where configured. No network; runs in every mode.
#[derive(Debug)]
pub(crate) struct PreflightOciCheck {
    pub pushes: Vec<ChartPush>,
    pub settings: OciSettings,
}

#[async_trait::async_trait]
impl Step for PreflightOciCheck {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "oci-check"),
            Effect::Check,
            "check every chart's OCI reference, names, tag and registry settings (no network)",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut problems = Vec::new();
        let mut hosts = Vec::new();
        let mut references = Vec::new();
        for push in &self.pushes {
            match planned_reference(push, &cx.release().version) {
                Ok(reference) => {
                    hosts.push(reference.registry.clone());
                    references.push(reference.to_string());
                }
                Err(err) => problems.push(err),
            }
        }
        for host in self.settings.registries.keys() {
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) && !hosts.is_empty() {
                cx.warn(format!(
                    "[registries.\"{host}\"] in release.toml matches no chart's `push` registry ({}): a typo?",
                    hosts.join(", ")
                ));
            }
        }
        for host in &hosts {
            if self.settings.plain_http(host) && !is_loopback(host) {
                cx.warn(format!(
                    "{host} is reached over plain HTTP (`plain-http = true`): credentials and charts travel unencrypted"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(OciError::Checks { problems }.into());
        }
        Ok(Some(references.join(", ")))
    }
}
