//! `build:prepare-dist`: empty the dist directory of what earlier runs wrote there, so that
//! nothing from an earlier run is published. It removes only the files the directory's marker
//! lists ([`crate::dist`]); anything else there was refused before any step ran.

use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// Empties the dist directory of the files earlier runs wrote there.
#[derive(Debug)]
pub(crate) struct BuildPrepareDist;

#[async_trait::async_trait]
impl Step for BuildPrepareDist {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Build, "prepare-dist"),
            Effect::Local,
            "empty the dist directory of what earlier runs wrote there",
        )
        .resumable()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let dist = &cx.release().dist;
        let removed = crate::dist::empty(dist)?;
        Ok(Some(match removed {
            0 => dist.to_string(),
            n => format!("{dist} ({n} file(s) of an earlier run removed)"),
        }))
    }
}
