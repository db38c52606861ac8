//! `preflight:github-tag-rules`: before anything is built, read what would refuse the one
//! step that makes the release visible, the undraft in the finalize stage.
//!
//! The write probe (`github/probe.rs`) proves the token may write releases, with a draft under
//! a throwaway tag; a draft creates no git tag, so it cannot see what refuses a tag. This step
//! looks at the release's own tag:
//!
//! 1. its releases: a published **immutable** release cannot be changed, so
//!    `github.replace = true` is refused now (release a new version instead); without
//!    `replace` the run goes on and succeeds only if this build is identical to it;
//! 2. whether the tag exists (`GET /repos/{o}/{r}/git/ref/tags/{tag}`, an annotated tag
//!    followed to its commit): one at another commit than the one being released
//!    (`GITHUB_SHA`, else `HEAD`) is refused; publishing creates only a missing tag, and
//!    only a creation is refused by `creation` rules;
//! 3. the **tag rulesets**, the repository's and those inherited from its organisation
//!    (`GET /repos/{o}/{r}/rulesets?includes_parents=true`, then each by id): one that covers
//!    the tag, would refuse its creation (`creation`, an unmet `tag_name_pattern`) and that the
//!    token may not bypass (`current_user_can_bypass` `never` or `pull_requests_only`) fails
//!    the run, naming the ruleset, where to change it and the ways out. When the token cannot
//!    read the rulesets, a warning says what was not checked.
//!
//! Reads only. A **burned** tag (one of a deleted immutable release) is found by the write
//! probe (`github/probe.rs`), whose draft is made under the release's own tag.

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;
use crate::github::client::{ApiError, GithubClient};
use crate::github::rulesets::{self, Ruleset, Verdict};
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

/// Reads the tag's releases, the tag, and the rulesets that would refuse publishing it.
#[derive(Debug)]
pub(crate) struct PreflightGithubTagRules {
    pub config: GithubConfig,
    pub network: NetworkConfig,
    /// The config's directory: where git says which commit is released.
    pub root: camino::Utf8PathBuf,
}

impl PreflightGithubTagRules {
    pub(crate) fn new(config: &GithubConfig, network: &NetworkConfig, root: &camino::Utf8Path) -> Self {
        PreflightGithubTagRules { config: config.clone(), network: network.clone(), root: root.to_owned() }
    }
}

/// The commit a tag's ref points at: the ref's object, or for an annotated tag the object
/// of the tag object it names (`GET …/git/tags/{sha}`). `None` when GitHub does not say.
async fn tagged_commit(client: &GithubClient<'_>, found: &serde_json::Value) -> Option<String> {
    let object = found.get("object")?;
    let sha = object.get("sha")?.as_str()?.to_owned();
    match object.get("type").and_then(|t| t.as_str()) {
        Some("tag") => {
            let route = format!("{}/git/tags/{sha}", client.repository_route());
            let annotated = client.get_json("read the annotated tag", &route).await.ok()?;
            annotated.get("object")?.get("sha")?.as_str().map(str::to_owned)
        }
        _ => Some(sha),
    }
}

/// Percent-encodes a tag for a path segment (tags may hold `/`, which the ref route keeps).
fn encode_tag(tag: &str) -> String {
    tag.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[async_trait::async_trait]
impl Step for PreflightGithubTagRules {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "github-tag-rules"),
            Effect::Probe,
            "read what would refuse publishing the release's tag: an immutable release of it, tag rulesets",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let api = cx.github(&self.config, &self.network)?;
        let (target, client) = (&api.target, &api.client);
        let tag = cx.release().tag.clone();
        let repository = target.full_name();

        // 1. The tag's releases.
        let existing = api.call(client.releases_for_tag(&tag)).await?;
        if cx.is_cancelled() {
            return Err(StepError::new(format!("the check of the tag {tag} was stopped: the run was interrupted"))
                .with_help("it only reads; run the release again"));
        }
        // 2. Does the tag exist, and at the commit being released? Only a missing tag is
        // created (so only a creation can be refused by a ruleset), and an existing tag at
        // another commit means this run would publish other code under it.
        let route = format!("{}/git/ref/tags/{}", client.repository_route(), encode_tag(&tag));
        let tag_ref = match client.get_json("read the tag", &route).await {
            Ok(found) => Some(found),
            Err(e) if e.status == Some(404) => None,
            Err(e) => {
                cx.warn(format!("could not read the tag {tag} ({e}); checking the rulesets as if it did not exist"));
                None
            }
        };
        if let Some(found) = &tag_ref {
            self.same_commit(cx, client, found, &tag, &repository).await?;
        }
        if let Some(published) = existing.iter().find(|r| !r.draft) {
            if published.immutable && self.config.replace {
                return Err(StepError::new(format!(
                    "the tag {tag} already has an immutable release ({}): `github.replace = true` cannot change it, GitHub locks the tag and the assets of a published immutable release",
                    published.html_url
                ))
                .with_help(format!(
                    "release a new version (change `project.version` in release.toml, or pass --release-version); remove `replace = true` from [github]; an immutable release of {tag} can never be changed or made again"
                )));
            }
            let note = if published.immutable {
                format!(
                    "the tag {tag} already has an immutable published release ({}): the run succeeds only if this build's assets are identical to it; if they differ, release a new version",
                    published.html_url
                )
            } else {
                format!(
                    "the tag {tag} already has a published release ({}): publishing creates no tag",
                    published.html_url
                )
            };
            cx.progress(note);
            let kind = if published.immutable { "immutable" } else { "published" };
            return Ok(Some(format!("{repository}: {tag} is already released ({kind}); nothing to create")));
        }

        let tag_exists = tag_ref.is_some();

        // 3. Tag rulesets.
        if tag_exists {
            return Ok(Some(format!(
                "{repository}: the tag {tag} exists already; publishing creates no tag, so no ruleset can refuse it"
            )));
        }
        let rulesets = match self.rulesets(client).await {
            Ok(rulesets) => rulesets,
            Err(e) => {
                cx.warn(not_checked(&repository, &tag, &e));
                return Ok(Some(format!("{repository}: tag rulesets not checked (see the warning)")));
            }
        };
        let web = target.web_url();
        let mut refusals = Vec::new();
        let mut uncertain = Vec::new();
        for ruleset in &rulesets {
            let named = format!("the {} ruleset \"{}\" (id {})", rulesets::owner_of(ruleset), ruleset.name, ruleset.id);
            let url = rulesets::settings_url(ruleset, &web, &repository);
            match rulesets::evaluate(ruleset, &tag, false) {
                Verdict::NotApplicable => {}
                Verdict::Bypassed { rules } => cx.progress(format!(
                    "{named} restricts refs/tags/{tag} ({}), and this token may bypass it",
                    rules.join(", ")
                )),
                Verdict::MayRefuse { rules, bypass } => uncertain.push(format!(
                    "{named} restricts creating refs/tags/{tag} ({}); GitHub did not say whether this token may bypass it (current_user_can_bypass: {}); see {url}",
                    rules.join(", "),
                    bypass.as_deref().unwrap_or("not reported")
                )),
                Verdict::Refuses { rules, bypass } => refusals.push(format!(
                    "{named} refuses creating refs/tags/{tag} with {}, and this token may not bypass it (current_user_can_bypass: {bypass}); change it at {url}",
                    rules.join(", ")
                )),
            }
        }
        for line in &uncertain {
            cx.warn(line.clone());
        }
        if !refusals.is_empty() {
            return Err(StepError::new(format!(
                "publishing the release creates the tag {tag}, and GitHub would refuse it (422 \"Repository rule violations found\"): {}",
                refusals.join("; ")
            ))
            .with_help(format!(
                "in the ruleset's settings, add the GitHub Actions app (or the app or user whose token the release uses) to its bypass list, or exclude the release tags from it (`refs/tags/{tag}` under \"Exclude by pattern\"); or choose a tag pattern it does not cover (`project.tag` in release.toml); or push the tag before the release runs, as someone allowed to create it (publishing then creates no tag); an organisation's ruleset is changed in the organisation's settings, not the repository's"
            )));
        }
        Ok(Some(format!("{repository}: {} ruleset(s) read, none refuses creating {tag}", rulesets.len())))
    }
}

impl PreflightGithubTagRules {
    /// Every ruleset that applies to the repository, with its conditions and rules.
    async fn rulesets(&self, client: &GithubClient<'_>) -> Result<Vec<Ruleset>, ApiError> {
        let base = format!("{}/rulesets", client.repository_route());
        let mut out = Vec::new();
        for page in 1..=10u32 {
            let list = client
                .get_json("list the rulesets", &format!("{base}?includes_parents=true&per_page=100&page={page}"))
                .await?;
            let items = list.as_array().cloned().unwrap_or_default();
            for item in &items {
                let target = item.get("target").and_then(|t| t.as_str());
                if target.is_some_and(|t| t != "tag") {
                    continue;
                }
                let Some(id) = item.get("id").and_then(|i| i.as_u64()) else { continue };
                let detail = client.get_json("read a ruleset", &format!("{base}/{id}")).await?;
                let ruleset: Ruleset = serde_json::from_value(detail).map_err(|e| {
                    ApiError::transport(
                        "read a ruleset",
                        "GET",
                        &base,
                        format!("unexpected answer for the ruleset {id}: {e}"),
                    )
                })?;
                out.push(ruleset);
            }
            if items.len() < 100 {
                break;
            }
        }
        Ok(out)
    }
}

/// The warning when the rulesets cannot be read.
fn not_checked(repository: &str, tag: &str, e: &ApiError) -> String {
    format!(
        "could not read the rulesets of {repository} ({e}): tag rulesets that would refuse creating {tag} when the release is published were not checked; a refusal would stop the run at its last step, with nothing visible yet; to check them, give the token \"Metadata\" read access (fine-grained tokens, GitHub Apps) or use a token that can see the repository's rules"
    )
}

impl PreflightGithubTagRules {
    /// A tag that exists on GitHub must name the commit being released (`GITHUB_SHA`, else
    /// `HEAD`): publishing would otherwise put this build under a tag of other code.
    async fn same_commit(
        &self,
        cx: &StepContext<'_>,
        client: &GithubClient<'_>,
        found: &serde_json::Value,
        tag: &str,
        repository: &str,
    ) -> Result<(), StepError> {
        let Some(tagged) = tagged_commit(client, found).await else {
            cx.warn(format!(
                "the tag {tag} exists on GitHub ({repository}), but the commit it names could not be read: whether it is the commit being released was not checked"
            ));
            return Ok(());
        };
        let root = self.root.clone();
        let env = cx.env().clone();
        let released = tokio::task::spawn_blocking(move || crate::identity::commit(&env, &root)).await.ok().flatten();
        if let Some(released) = released
            && tagged != released.sha
        {
            return Err(StepError::new(format!(
                "the tag {tag} exists on GitHub ({repository}) at commit {}, but the commit being released is {} ({})",
                &tagged[..tagged.len().min(12)],
                &released.sha[..released.sha.len().min(12)],
                released.source
            ))
            .with_help(format!(
                "release the tagged commit (check out {tag}), or bump the version for a new release; a tag that is wrong and has no published release can be deleted on GitHub (`git push --delete origin {tag}`)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_encoded_for_the_ref_route() {
        assert_eq!(encode_tag("v1.2.3"), "v1.2.3");
        assert_eq!(encode_tag("charts/hello-0.1.0"), "charts/hello-0.1.0");
        assert_eq!(encode_tag("v1+build"), "v1%2Bbuild");
    }
}
