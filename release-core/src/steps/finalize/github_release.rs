//! `finalize:github-release`: undraft the checked draft, the very last step of a run.

use crate::config::GithubConfig;
use crate::config::NetworkConfig;
use crate::github::release::OUTPUT_RELEASE_URL;
use crate::github::release::RERUN_HELP;
use crate::github::release::{Outcome, Published};
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::{github_release, published_release};

/// Publishes the checked draft: the very last step of a run.
#[derive(Debug)]
pub(crate) struct FinalizeGithubRelease {
    pub(crate) config: GithubConfig,
    pub(crate) network: NetworkConfig,
}

impl FinalizeGithubRelease {
    pub(crate) fn new(config: &GithubConfig, network: &NetworkConfig) -> Self {
        FinalizeGithubRelease { config: config.clone(), network: network.clone() }
    }
}

#[async_trait::async_trait]
impl Step for FinalizeGithubRelease {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Finalize, "github-release"),
            Effect::Publish,
            "publish the draft GitHub release (undraft): the point of no return",
        )
        .consumes(&github_release())
        .produces(&published_release())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let (id, url) = match cx.handed(&github_release())? {
            Outcome::Draft { id, url } => (id, url),
            Outcome::AlreadyPublished { url, immutable } => {
                cx.hand_off(
                    &published_release(),
                    Published { tag: cx.release().tag.clone(), url: url.clone(), immutable },
                )?;
                return Ok(Some(format!("already released: {url}")));
            }
        };
        let api = cx.github(&self.config, &self.network)?;
        let target = &api.target;
        let published = api.client.publish_release(id).await.map_err(|e| {
            let tag = &cx.release().tag;
            let help = if e.already_exists() {
                format!("another release for {tag} was published while this run worked; compare it with the draft {url} and delete one of them")
            } else if e.tag_burned() {
                format!("the tag {tag} belonged to an immutable release that was deleted, and GitHub never releases it again; nothing is visible: the release stays the draft {url} and no chart version is tagged; release a new version (change `project.version`) and delete the draft")
            } else if e.rule_violation() {
                format!("a ruleset refuses creating the tag {tag}; nothing is visible: the release stays the draft {url} and no chart version is tagged; see {}/{}/rules?ref=refs%2Ftags%2F{tag} for the rulesets that apply, add the GitHub Actions app (or the token's app or user) to the bypass list or exclude the tag, then run the release again: it continues the draft", target.web_url(), target.full_name())
            } else {
                RERUN_HELP.to_owned()
            };
            api.classify(e).with_api_help(help)
        })?;
        cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
        cx.hand_off(
            &published_release(),
            Published {
                tag: cx.release().tag.clone(),
                url: published.html_url.clone(),
                immutable: published.immutable,
            },
        )?;
        Ok(Some(format!(
            "published {}{}",
            published.html_url,
            if published.immutable { " (immutable: its tag and assets are now locked)" } else { "" }
        )))
    }
}
