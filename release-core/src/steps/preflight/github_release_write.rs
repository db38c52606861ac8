//! The preflight step: prove, before anything is built, that the token may write releases.
//!
//! It exercises the exact write path: it creates a draft release under the release's own tag,
//! named `github::checks::PROBE_DRAFT_NAME`, and deletes it at once. Drafts create no git tag, so a failed
//! cleanup leaks at worst an invisible draft (a warning, never a failure; the publish step
//! deletes it). Under the real tag, the probe also finds a **burned** tag, one of a deleted
//! immutable release: GitHub answers 422 `tag_name was used by an immutable release` (that it
//! refuses a draft, not only a release, is this tool's reading of GitHub's answers; if it does
//! not, the undraft is refused, first in the finalize stage, with nothing visible yet). When the
//! tag already has a published release, GitHub refuses any release under it (`already_exists`)
//! and the tag cannot be burned: the probe's draft then gets a throwaway tag
//! (`github::checks::probe_tag`). Before writing, it reads the
//! repository (a 401 or 404 is diagnosed without writing anything, and a classic token's
//! scopes are checked from `X-OAuth-Scopes`), and it lists the releases of the tag being
//! released, to say up front when that tag is already published.
//!
//! Interruption (Ctrl-C, SIGTERM): before the draft is created the probe stops and writes
//! nothing; once the create request is sent, the probe runs to its end and deletes the draft
//! (the runner waits for it), so a first interrupt never leaves the draft behind. Only a second
//! interrupt, which ends the process at once, can.

use camino::Utf8PathBuf;

use crate::config::GithubConfig;
use crate::config::NetworkConfig;
use crate::error::StepError;
use crate::github::checks::check_notes;
use crate::github::checks::{PROBE_DRAFT_NAME, probe_tag};
use crate::github::client::NewRelease;
use crate::github::diagnose::GithubError;
use crate::github::diagnose::missing_classic_scope;
use crate::github::session::GithubApi;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// The preflight step for `[github]`. With `probe = false` it only checks the settings
/// (token, repository, notes file) without touching the network.
#[derive(Debug)]
pub(crate) struct PreflightGithubReleaseWrite {
    pub(crate) config: GithubConfig,
    pub(crate) network: NetworkConfig,
    pub(crate) root: Utf8PathBuf,
}

impl PreflightGithubReleaseWrite {
    pub(crate) fn new(config: &GithubConfig, network: &NetworkConfig, root: &Utf8PathBuf) -> Self {
        PreflightGithubReleaseWrite { config: config.clone(), network: network.clone(), root: root.clone() }
    }
}

#[async_trait::async_trait]
impl Step for PreflightGithubReleaseWrite {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let repo = self.config.repository.as_deref().unwrap_or("$GITHUB_REPOSITORY");
            if self.config.probe {
                format!(
                    "prove the token may write releases to {repo}: create a draft release under the release's tag, delete it"
                )
            } else {
                format!("check the GitHub settings for {repo} (write probe disabled)")
            }
        };
        StepMeta::new(
            StepId::new(Stage::Preflight, if self.config.probe { "github-release-write" } else { "github-settings" }),
            if self.config.probe { Effect::Probe } else { Effect::Check },
            description,
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let api = cx.github(&self.config, &self.network)?;
        let (target, client) = (&api.target, &api.client);
        cx.progress(format!(
            "GitHub repository {} at {}, token from {}",
            target.full_name(),
            target.api_url,
            target.token_source
        ));
        check_notes(&self.config, &self.root)?;
        if !self.config.probe {
            return Ok(Some(format!(
                "{} (token from {}; write probe disabled)",
                target.full_name(),
                target.token_source
            )));
        }
        let access = api.call(client.repository()).await?;
        if let Some(scopes) = &access.oauth_scopes {
            cx.progress(format!("classic token with the scopes `{scopes}`"));
            if let Some(need) = missing_classic_scope(scopes, access.private) {
                return Err(GithubError::ClassicScope {
                    repository: target.full_name(),
                    token_source: target.token_source.clone(),
                    visibility: if access.private { "private" } else { "public" },
                    have: scopes.clone(),
                    need,
                    web_url: target.web_url(),
                }
                .into());
            }
        }

        let released = self.report_existing(cx, &api).await?;

        // A safe point: interrupted before the write, the probe writes nothing at all. Once
        // the create is sent it runs to its end, delete included, whatever happens meanwhile:
        // an interrupted run must not leave the throwaway draft behind.
        if cx.is_cancelled() {
            return Err(StepError::new(format!(
                "the write probe of {} was stopped before it wrote anything: the run was interrupted",
                target.full_name()
            ))
            .with_help("nothing was created; run the release again"));
        }
        let tag = if released { probe_tag(cx.env()) } else { cx.release().tag.clone() };
        let draft = client
            .create_release(&NewRelease {
                tag: tag.clone(),
                name: PROBE_DRAFT_NAME.into(),
                body: Some("A draft made and deleted by the release tool's preflight check.".into()),
                draft: true,
                ..NewRelease::default()
            })
            .await
            .map_err(|e| {
                if e.tag_burned() {
                    StepError::new(format!(
                        "the tag {tag} belonged to an immutable release that was deleted: GitHub refuses every new release for it ({e})"
                    ))
                    .with_help("a burned tag can never be released again, not even in a new repository of the same name: release a new version (change `project.version` in release.toml, or pass --release-version)")
                } else {
                    StepError::from(api.classify(e))
                }
            })?;
        if let Err(err) = client.delete_release(draft.id).await {
            cx.warn(format!(
                "the probe draft {} (tag {tag}) could not be deleted ({err}); a draft has no git tag and is invisible to readers: delete it on the releases page",
                draft.html_url
            ));
        }
        Ok(Some(format!("{}: may write releases (token from {})", target.full_name(), target.token_source)))
    }
}

impl PreflightGithubReleaseWrite {
    /// Says up front what the publish step will find for the tag being released.
    async fn report_existing(&self, cx: &StepContext<'_>, api: &GithubApi<'_>) -> Result<bool, StepError> {
        let tag = &cx.release().tag;
        let existing = api.call(api.client.releases_for_tag(tag)).await?;
        if let Some(published) = existing.iter().find(|r| !r.draft) {
            let then = if published.immutable {
                "it is immutable: the release succeeds only if this build's assets are identical to its assets; otherwise release a new version"
            } else if self.config.replace {
                "its differing assets will be replaced (`github.replace = true`)"
            } else {
                "the release succeeds only if this build's assets are identical to its assets"
            };
            cx.warn(format!("the tag {tag} already has a published release ({}): {then}", published.html_url));
        } else if let Some(draft) = existing.iter().find(|r| r.draft) {
            cx.progress(format!("a draft release for {tag} exists ({}): this run will continue it", draft.html_url));
        }
        Ok(existing.iter().any(|r| !r.draft))
    }
}
