//! `preflight:build-tools`: every build command's program can be found, before anything runs.

use camino::Utf8PathBuf;

use crate::error::StepError;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::shell::find_program;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// Checks, before anything runs, that every build command's program can be found.
#[derive(Debug)]
pub(crate) struct PreflightBuildTools {
    pub(crate) commands: Vec<(String, String, Utf8PathBuf)>,
}

impl PreflightBuildTools {
    /// The check for the `command` builds one run makes, each `(name, program, directory)`:
    /// each command once, however many targets.
    pub(crate) fn for_commands(builds: &[(String, String, Utf8PathBuf)]) -> Self {
        let mut commands: Vec<(String, String, Utf8PathBuf)> = Vec::new();
        for build in builds {
            if !commands.iter().any(|(name, ..)| *name == build.0) {
                commands.push(build.clone());
            }
        }
        PreflightBuildTools { commands }
    }
}

#[async_trait::async_trait]
impl Step for PreflightBuildTools {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "build-tools"),
            Effect::Check,
            "check that every build command's program and directory exist",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut problems = Vec::new();
        for (name, program, dir) in &self.commands {
            if !dir.is_dir() {
                problems.push(format!("build `{name}`: the directory {dir} does not exist"));
            } else if find_program(program, dir, cx.env()).is_none() {
                problems.push(format!("build `{name}`: the program `{program}` is not on PATH"));
            }
        }
        if problems.is_empty() {
            Ok(Some(format!("{} command(s) ready", self.commands.len())))
        } else {
            Err(StepError::new(problems.join("; "))
                .with_help("install the missing program or fix `command`/`dir` of that [[build]] in release.toml"))
        }
    }
}
