//! `preflight:gathered-builds`: the final job of a matrix release has every planned target's build.

use camino::Utf8PathBuf;

use crate::matrix::PlanManifest;
use crate::matrix::scan;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// Preflight of the final job: every planned target was built once, for this plan, and
/// every artifact it lists is there with its recorded size. Reads no artifact.
#[derive(Debug)]
pub(crate) struct PreflightGatheredBuilds {
    pub plan: PlanManifest,
    pub dir: Utf8PathBuf,
}

#[async_trait::async_trait]
impl Step for PreflightGatheredBuilds {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "gathered-builds"),
            Effect::Check,
            format!(
                "check that {} holds one build of each of the {} planned target(s)",
                self.dir,
                self.plan.targets.len()
            ),
        )
    }
    async fn run(&self, _cx: &StepContext<'_>) -> StepResult {
        let found = scan(&self.plan, &self.dir)?;
        let artifacts: usize = found.iter().map(|f| f.manifest.artifacts.len()).sum();
        Ok(Some(format!("{} target(s), {artifacts} artifact(s), plan {}", found.len(), self.plan.short_id())))
    }
}
