//! `preflight:archives`: each archived build's `include` patterns, checked before the build:
//! a pattern that matches no file is a warning (the archive is still made).

use camino::Utf8PathBuf;

use crate::archive::expand_include;
use crate::config::Config;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::package::archive::unmatched_warning;

#[derive(Debug)]
pub struct IncludeCheck {
    /// Build name, its directory, its patterns.
    builds: Vec<(String, Utf8PathBuf, Vec<String>)>,
}

impl IncludeCheck {
    /// The check for the archived builds among `indexes`; `None` when there is none.
    pub fn new(config: &Config, indexes: &[usize]) -> Option<Self> {
        let mut builds: Vec<(String, Utf8PathBuf, Vec<String>)> = Vec::new();
        for &i in indexes {
            let build = &config.build[i];
            if build.archives() && !builds.iter().any(|(name, ..)| *name == build.name) {
                let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
                builds.push((build.name.clone(), dir, build.include_patterns()));
            }
        }
        (!builds.is_empty()).then_some(IncludeCheck { builds })
    }
}

#[async_trait::async_trait]
impl Step for IncludeCheck {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "archives"),
            Effect::Check,
            "check that every archive's `include` patterns find files",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut files = 0;
        for (name, dir, patterns) in &self.builds {
            let (found, unmatched) = expand_include(dir, patterns);
            files += found.len();
            for pattern in unmatched {
                cx.warn(unmatched_warning(name, &pattern, dir));
            }
        }
        Ok(Some(format!("{files} file(s) to include in {} build(s)' archives", self.builds.len())))
    }
}
