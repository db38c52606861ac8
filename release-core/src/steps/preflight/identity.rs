//! `preflight:identity`: the release is what it claims to be. The pushed tag, the commit,
//! every version written in the tree, the tree itself and the changelog section the notes
//! come from are read (`crate::identity`) and compared before anything is built.

use crate::error::StepError;
use crate::identity::{IdentitySettings, read};
use crate::plan::{Effect, Mode, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

/// Refuses a release whose tag, commit, versions, tree or notes disagree.
#[derive(Debug)]
pub(crate) struct PreflightIdentity {
    pub settings: IdentitySettings,
    pub mode: Mode,
}

#[async_trait::async_trait]
impl Step for PreflightIdentity {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "identity"),
            Effect::Check,
            "check that the pushed tag, the commit, every version in the tree and the changelog agree with the release",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let (settings, env) = (self.settings.clone(), cx.env().clone());
        let (version, tag) = (cx.release().version.clone(), cx.release().tag.clone());
        let identity = tokio::task::spawn_blocking(move || read(&settings, &version, &tag, &env))
            .await
            .map_err(|e| StepError::new(format!("the identity check stopped: {e}")))?;
        let (refusals, warnings) = identity.verdict(self.mode, self.settings.allow_dirty);
        for warning in warnings {
            cx.warn(warning);
        }
        if !refusals.is_empty() {
            let (message, help) = if refusals.len() == 1 {
                (refusals[0].message.clone(), refusals[0].help.clone())
            } else {
                let lines: Vec<String> = refusals.iter().map(|r| format!("\n  - {}", r.message)).collect();
                let helps: Vec<String> = refusals.iter().map(|r| format!("\n  - {}", r.help)).collect();
                (
                    format!(
                        "the release {} disagrees with the tree in {} ways:{}",
                        identity.tag,
                        refusals.len(),
                        lines.concat()
                    ),
                    format!("one fix each:{}", helps.concat()),
                )
            };
            return Err(StepError::new(message).with_help(help));
        }
        let commit = identity
            .commit
            .as_ref()
            .map_or("no commit".to_owned(), |c| format!("commit {}", &c.sha[..c.sha.len().min(12)]));
        let versions = identity.versions.len();
        let dirty = match &identity.tree {
            crate::identity::Tree::Repository { changed } if !changed.is_empty() => {
                format!(", {} changed file(s) released as they are (--allow-dirty)", changed.len())
            }
            _ => String::new(),
        };
        Ok(Some(format!("{} at {commit}: {versions} version(s) in the tree agree{dirty}", identity.tag)))
    }
}
