//! `preflight:archives`: each archived build's `include` patterns, checked before the build:
//! a pattern that matches no file is a warning (the archive is still made); a file that
//! resolves through a symbolic link to a file outside the project is refused.

use camino::Utf8PathBuf;

use crate::archive::unmatched_warning;
use crate::archive::{OUTSIDE_HELP, expand_include};
use crate::config::Config;
use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PreflightArchives {
    /// Build name, its directory, its patterns.
    builds: Vec<(String, Utf8PathBuf, Vec<String>)>,
    /// The project root no included file may leave.
    root: Utf8PathBuf,
}

impl PreflightArchives {
    /// The check for the archived builds among `indexes`; `None` when there is none.
    pub(crate) fn new(config: &Config, indexes: &[usize]) -> Option<Self> {
        let mut builds: Vec<(String, Utf8PathBuf, Vec<String>)> = Vec::new();
        for &i in indexes {
            let build = &config.build[i];
            if build.archives() && !builds.iter().any(|(name, ..)| *name == build.name) {
                let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
                builds.push((build.name.clone(), dir, build.include_patterns()));
            }
        }
        (!builds.is_empty()).then_some(PreflightArchives { builds, root: config.root.clone() })
    }
}

#[async_trait::async_trait]
impl Step for PreflightArchives {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "archives"),
            Effect::Check,
            "check that every archive's `include` patterns find files inside the project",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut files = 0;
        let mut outside = Vec::new();
        for (name, dir, patterns) in &self.builds {
            let included = expand_include(dir, &self.root, patterns);
            files += included.files.len();
            for pattern in &included.unmatched {
                cx.warn(unmatched_warning(name, pattern, dir));
            }
            outside.extend(included.outside_message(name, &self.root));
        }
        if !outside.is_empty() {
            return Err(StepError::new(outside.join("\n")).with_help(OUTSIDE_HELP));
        }
        Ok(Some(format!("{files} file(s) to include in {} build(s)' archives", self.builds.len())))
    }
}
