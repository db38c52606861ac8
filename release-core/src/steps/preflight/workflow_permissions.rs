//! `preflight:workflow-permissions`: inside GitHub Actions, the workflow grants what the release needs.

use camino::Utf8PathBuf;

use crate::actions::audit::Finding;
use crate::actions::audit::WORKFLOWS_DIR;
use crate::actions::audit::audit_files;
use crate::actions::audit::audit_repository;
use crate::actions::audit::current_workflow_file;
use crate::actions::audit::find_repository_root;
use crate::actions::permissions::Requirement;
use crate::error::SourceLocation;
use crate::error::StepError;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// The audit as a preflight check inside GitHub Actions: a job of the current workflow that
/// will run the release without the permissions it needs fails the release now, not after
/// the build.
#[derive(Debug)]
pub(crate) struct PreflightWorkflowPermissions {
    root: Utf8PathBuf,
    needed: Vec<Requirement>,
}

impl PreflightWorkflowPermissions {
    pub(crate) fn new(root: Utf8PathBuf, needed: Vec<Requirement>) -> Self {
        PreflightWorkflowPermissions { root, needed }
    }
}

#[async_trait::async_trait]
impl Step for PreflightWorkflowPermissions {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let needed: Vec<String> = self.needed.iter().map(|r| format!("`{r}`")).collect();
            format!("check that the workflow's release jobs are granted {}", needed.join(" and "))
        };
        StepMeta::new(StepId::new(Stage::Preflight, "workflow-permissions"), Effect::Check, description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let Some(root) = find_repository_root(&self.root) else {
            return Ok(Some(format!("no {WORKFLOWS_DIR} to check")));
        };
        // Only the workflow this job runs from: another workflow's mistakes are not this
        // release's. Without the variable (or the file), check them all.
        let audit = match current_workflow_file(cx.env()).filter(|file| root.join(file).is_file()) {
            Some(file) => audit_files(&root, &[file], &self.needed)?,
            None => audit_repository(&root, &self.needed)?,
        };
        for warning in audit.warnings() {
            let location =
                SourceLocation::new(Some(&root), warning.file.clone(), warning.line, warning.message.clone());
            cx.warn_at(format!("{warning}\nhelp: {}", warning.help), vec![location]);
        }
        let errors: Vec<&Finding> = audit.errors().collect();
        if errors.is_empty() {
            return Ok(Some(format!("{} release job(s) in {} file(s)", audit.release_jobs.len(), audit.files.len())));
        }
        let help: Vec<&str> = errors.iter().map(|f| f.help.as_str()).collect();
        let mut help = help;
        help.dedup();
        // Each finding is a location of the error: printed as `file:line: message` after
        // the message, and annotated on its line inside Actions.
        let locations =
            errors.iter().map(|f| SourceLocation::new(Some(&root), f.file.clone(), f.line, f.message.clone()));
        Err(StepError::new(
            "the workflow does not grant what the release needs (later jobs would be refused with 403):",
        )
        .with_locations(locations)
        .with_help(format!("{}\n(`release audit` shows the same; docs/github-actions.md explains)", help.join("\n"))))
    }
}
