//! `build:prepare-dist`: empty the dist directory so that nothing from an earlier run is published.

use crate::error::StepError;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// Empties the dist directory so that nothing from an earlier run is published.
#[derive(Debug)]
pub struct PrepareDist;

#[async_trait::async_trait]
impl Step for PrepareDist {
    fn meta(&self) -> StepMeta {
        StepMeta::new(StepId::new(Stage::Build, "prepare-dist"), Effect::Local, "empty the dist directory").resumable()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let dist = &cx.release().dist;
        let err = |e: std::io::Error| {
            StepError::new(format!("cannot prepare the dist directory {dist}: {e}"))
                .with_help("check the permissions of the directory, or set `project.dist` to another path")
        };
        if dist.exists() {
            std::fs::remove_dir_all(dist).map_err(err)?;
        }
        std::fs::create_dir_all(dist).map_err(err)?;
        Ok(Some(dist.to_string()))
    }
}
