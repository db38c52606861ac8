//! The release itself: a draft, its assets uploaded and read back, then published last.
//!
//! [`PublishRelease`] (publish stage) makes the draft complete and checked; [`FinalizeRelease`]
//! (finalize stage, the very last step of a run) undrafts it. Between the two nothing is
//! visible to readers: a draft has no git tag and is listed only for tokens with push access.
//!
//! A re-run converges instead of failing on "already exists":
//! - its own draft (found by listing: `GET /releases/tags/{tag}` never finds drafts) is
//!   continued: assets whose name, size and sha256 match are kept, others (differing,
//!   unfinished `starter`/`open` uploads, or not in this build) are deleted, missing ones are
//!   uploaded;
//! - a published release whose assets are identical is "already released" (success);
//! - a published release whose assets differ is an error, unless `github.replace = true`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::Utf8PathBuf;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;
use crate::github::client::{ApiError, GithubClient, NewRelease, RemoteAsset, RemoteRelease, shared_pacer};
use crate::github::diagnose::GithubError;
use crate::github::probe::{PROBE_DRAFT_NAME, check_notes};
use crate::github::target::{self, Target};
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage};
use crate::step::{Artifact, Step, StepContext, StepResult};

/// The run output that holds the release's URL.
pub const OUTPUT_RELEASE_URL: &str = "github-release-url";

const RERUN_HELP: &str = "the release stays a draft and nothing is visible yet (no chart version is tagged either); run the release again: it keeps the assets already uploaded and checked, uploads the rest, and finishes the finalize stage";

/// What the publish step left for the finalize step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A complete, checked draft, to be published.
    Draft { id: u64, url: String },
    /// The release was published before this run and now matches this build.
    AlreadyPublished { url: String, immutable: bool },
}

/// The release as published, for the steps after the undraft (the attestation check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub tag: String,
    pub url: String,
    /// GitHub's `immutable`: tag and assets locked, and attested by GitHub.
    pub immutable: bool,
}

/// Creates or continues the draft release, uploads every artifact, reads the assets back.
#[derive(Debug)]
pub struct PublishRelease {
    pub(crate) config: GithubConfig,
    pub(crate) network: NetworkConfig,
    pub(crate) root: Utf8PathBuf,
    pub(crate) project_name: Option<String>,
}

impl PublishRelease {
    pub fn new(config: &GithubConfig, network: &NetworkConfig, root: &Utf8PathBuf, project_name: Option<&str>) -> Self {
        PublishRelease {
            config: config.clone(),
            network: network.clone(),
            root: root.clone(),
            project_name: project_name.map(str::to_owned),
        }
    }

    fn title(&self, cx: &StepContext<'_>) -> String {
        let release = cx.release();
        let version = release.version.to_string();
        match (&self.config.title, &self.project_name) {
            (Some(template), name) => template
                .replace("{name}", name.as_deref().unwrap_or(&release.tag))
                .replace("{version}", &version)
                .replace("{tag}", &release.tag),
            (None, Some(name)) => format!("{name} {version}"),
            (None, None) => release.tag.clone(),
        }
    }

    async fn create_draft(&self, cx: &StepContext<'_>, client: &GithubClient<'_>) -> Result<RemoteRelease, StepError> {
        let target = client.target();
        let tag = cx.release().tag.clone();
        // The commit the tag is created at when the draft is published, if the tag does not
        // exist yet; GitHub ignores it for an existing tag.
        let target_commitish = cx.env().get("GITHUB_SHA").map(str::to_owned);
        let body = if let Some(file) = &self.config.notes_file {
            let path = self.root.join(file);
            Some(std::fs::read_to_string(&path).map_err(|e| {
                StepError::new(format!("cannot read the release notes {path} (`github.notes-file`): {e}"))
            })?)
        } else if self.config.generate_notes {
            Some(
                client
                    .generate_notes(&tag, target_commitish.as_deref())
                    .await
                    .map_err(|e| GithubError::classify(e, target))?,
            )
        } else {
            None
        };
        let release = NewRelease {
            tag,
            name: self.title(cx),
            body,
            draft: true,
            prerelease: self.config.prerelease || !cx.release().version.pre.is_empty(),
            target_commitish,
        };
        let draft = client.create_release(&release).await.map_err(|e| GithubError::classify(e, target))?;
        cx.progress(format!("created the draft release {}", draft.html_url));
        Ok(draft)
    }
}

#[async_trait::async_trait]
impl Step for PublishRelease {
    fn id(&self) -> String {
        "publish:github-release".into()
    }
    fn stage(&self) -> Stage {
        Stage::Publish
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        "create or continue the draft GitHub release, upload every artifact, read the assets back".into()
    }

    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let target = target::resolve(&self.config, cx.env()).map_err(GithubError::from)?;
        check_notes(&self.config, &self.root)?;
        cx.progress(format!("GitHub {} at {}, token from {}", target.full_name(), target.api_url, target.token_source));
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let client = GithubClient::new(&target, &self.network)
            .map_err(|e| GithubError::classify(e, &target))?
            .announcing(&announce)
            .paced_by(shared_pacer(cx, &target, &self.network));
        let artifacts = cx.artifacts();
        let tag = cx.release().tag.clone();
        let existing = client.releases_for_tag(&tag).await.map_err(|e| GithubError::classify(e, &target))?;

        if let Some(published) = existing.iter().find(|r| !r.draft) {
            let assets = with_digests(&client, &target, published.assets.clone()).await?;
            let plan = AssetPlan::new(&assets, &artifacts);
            if plan.is_identical() {
                cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
                cx.insert(Outcome::AlreadyPublished {
                    url: published.html_url.clone(),
                    immutable: published.immutable,
                });
                let kind = if published.immutable { " (immutable)" } else { "" };
                return Ok(Some(format!("already released: {}{kind} has identical assets", published.html_url)));
            }
            if !self.config.replace || published.immutable {
                return Err(GithubError::PublishedDifferent {
                    tag,
                    url: published.html_url.clone(),
                    differences: plan.differences(),
                    immutable: published.immutable,
                }
                .into());
            }
            cx.warn(format!(
                "replacing assets of the published release {}: {}",
                published.html_url,
                plan.differences().join("; ")
            ));
            let summary = converge(cx, &client, published, &plan).await?;
            verify(&client, &target, published, &artifacts).await?;
            cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
            cx.insert(Outcome::AlreadyPublished { url: published.html_url.clone(), immutable: published.immutable });
            return Ok(Some(format!("replaced assets of {}: {summary}", published.html_url)));
        }

        // A preflight probe's draft left behind (an interrupted run) is ours to delete, never to
        // continue.
        for leftover in existing.iter().filter(|r| r.draft && r.name.as_deref() == Some(PROBE_DRAFT_NAME)) {
            cx.warn(format!("deleting the draft {} a preflight probe left behind", leftover.html_url));
            client.delete_release(leftover.id).await.map_err(|e| GithubError::classify(e, &target))?;
        }
        let mut drafts: Vec<&RemoteRelease> =
            existing.iter().filter(|r| r.draft && r.name.as_deref() != Some(PROBE_DRAFT_NAME)).collect();
        drafts.sort_by_key(|r| r.id);
        let draft = match drafts.first() {
            Some(draft) => {
                cx.progress(format!("continuing the draft release {} from an earlier run", draft.html_url));
                if drafts.len() > 1 {
                    cx.warn(format!(
                        "{} draft releases exist for {tag}; continuing the oldest, {}; delete the others on the releases page",
                        drafts.len(),
                        draft.html_url
                    ));
                }
                (*draft).clone()
            }
            None => self.create_draft(cx, &client).await?,
        };
        let assets = with_digests(&client, &target, draft.assets.clone()).await?;
        let plan = AssetPlan::new(&assets, &artifacts);
        let summary = converge(cx, &client, &draft, &plan).await?;
        verify(&client, &target, &draft, &artifacts).await?;
        cx.insert(Outcome::Draft { id: draft.id, url: draft.html_url.clone() });
        Ok(Some(format!("draft {}: {summary}, all checked", draft.html_url)))
    }
}

/// Publishes the checked draft: the very last step of a run.
#[derive(Debug)]
pub struct FinalizeRelease {
    pub(crate) config: GithubConfig,
    pub(crate) network: NetworkConfig,
}

impl FinalizeRelease {
    pub fn new(config: &GithubConfig, network: &NetworkConfig) -> Self {
        FinalizeRelease { config: config.clone(), network: network.clone() }
    }
}

#[async_trait::async_trait]
impl Step for FinalizeRelease {
    fn id(&self) -> String {
        "finalize:github-release".into()
    }
    fn stage(&self) -> Stage {
        Stage::Finalize
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        "publish the draft GitHub release (undraft): the last step".into()
    }

    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let (id, url) = match cx.get::<Outcome>() {
            Some(Outcome::Draft { id, url }) => (id, url),
            Some(Outcome::AlreadyPublished { url, immutable }) => {
                cx.insert(Published { tag: cx.release().tag.clone(), url: url.clone(), immutable });
                return Ok(Some(format!("already released: {url}")));
            }
            None => {
                return Err(StepError::new("no checked draft release to publish: the GitHub publish step did not run")
                    .with_help(
                        "run the whole pipeline; the finalize step only publishes what the publish step checked",
                    ));
            }
        };
        let target = target::resolve(&self.config, cx.env()).map_err(GithubError::from)?;
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let client = GithubClient::new(&target, &self.network)
            .map_err(|e| GithubError::classify(e, &target))?
            .announcing(&announce)
            .paced_by(shared_pacer(cx, &target, &self.network));
        let published = client.publish_release(id).await.map_err(|e| {
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
            GithubError::classify(e, &target).with_api_help(help)
        })?;
        cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
        cx.insert(Published {
            tag: cx.release().tag.clone(),
            url: published.html_url.clone(),
            immutable: published.immutable,
        });
        Ok(Some(format!(
            "published {}{}",
            published.html_url,
            if published.immutable { " (immutable: its tag and assets are now locked)" } else { "" }
        )))
    }
}

/// Fills in the sha256 of assets GitHub reports without a digest (older GitHub Enterprise
/// Server versions) by downloading them.
async fn with_digests(
    client: &GithubClient<'_>,
    target: &Target,
    assets: Vec<RemoteAsset>,
) -> Result<Vec<RemoteAsset>, StepError> {
    let mut out = Vec::with_capacity(assets.len());
    for mut asset in assets {
        if asset.sha256.is_none() && asset.state == "uploaded" {
            let (sha256, _) = client.download_sha256(asset.id).await.map_err(|e| GithubError::classify(e, target))?;
            asset.sha256 = Some(sha256);
        }
        out.push(asset);
    }
    Ok(out)
}

/// How the assets on GitHub are brought to match the local manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetPlan {
    /// Names that already match.
    pub keep: Vec<String>,
    /// Remote assets to delete, with the reason.
    pub delete: Vec<(RemoteAsset, String)>,
    /// Local artifacts to upload.
    pub upload: Vec<Artifact>,
}

impl AssetPlan {
    /// Compares remote assets (with digests) with the local artifacts. Pure.
    pub fn new(remote: &[RemoteAsset], local: &[Artifact]) -> AssetPlan {
        let mut plan = AssetPlan::default();
        let local_by_name: BTreeMap<&str, &Artifact> = local.iter().map(|a| (a.name.as_str(), a)).collect();
        for asset in remote {
            match local_by_name.get(asset.name.as_str()) {
                None => plan.delete.push((asset.clone(), "is not part of this build".into())),
                Some(artifact) => {
                    if let Some(reason) = mismatch(asset, artifact) {
                        plan.delete.push((asset.clone(), reason));
                        plan.upload.push((*artifact).clone());
                    } else {
                        plan.keep.push(asset.name.clone());
                    }
                }
            }
        }
        for artifact in local {
            if !remote.iter().any(|a| a.name == artifact.name) {
                plan.upload.push(artifact.clone());
            }
        }
        plan
    }

    pub fn is_identical(&self) -> bool {
        self.delete.is_empty() && self.upload.is_empty()
    }

    /// One line per difference, for messages.
    pub fn differences(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.delete.iter().map(|(asset, reason)| format!("{} {reason}", asset.name)).collect();
        for artifact in &self.upload {
            if !self.delete.iter().any(|(a, _)| a.name == artifact.name) {
                lines.push(format!("{} is missing on GitHub", artifact.name));
            }
        }
        lines
    }
}

/// Why a remote asset does not stand for a local artifact, if it does not.
fn mismatch(asset: &RemoteAsset, artifact: &Artifact) -> Option<String> {
    if asset.state != "uploaded" {
        return Some(format!("is an unfinished upload (state `{}`)", asset.state));
    }
    if asset.size != artifact.size {
        return Some(format!("differs in size ({} bytes on GitHub, {} here)", asset.size, artifact.size));
    }
    match &asset.sha256 {
        Some(sha) if !sha.eq_ignore_ascii_case(&artifact.sha256) => {
            Some(format!("differs (sha256 {} on GitHub, {} here)", short(sha), short(&artifact.sha256)))
        }
        Some(_) => None,
        None => Some("has no digest on GitHub".into()),
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Applies a plan to a release: deletes, then uploads, streamed, at most
/// `network.upload-concurrency` at once. After a failed upload no new one is started (those
/// in flight finish), so a broken connection or a refusal does not turn into a burst of
/// doomed requests; the release stays a draft and a re-run uploads the rest.
async fn converge(
    cx: &StepContext<'_>,
    client: &GithubClient<'_>,
    release: &RemoteRelease,
    plan: &AssetPlan,
) -> Result<String, StepError> {
    let target = client.target();
    let fail = |e| StepError::from(GithubError::classify(e, target).with_api_help(RERUN_HELP));
    for (asset, reason) in &plan.delete {
        cx.progress(format!("deleting the asset {}: it {reason}", asset.name));
        client.delete_asset(asset.id).await.map_err(fail)?;
    }
    let total: u64 = plan.upload.iter().map(|a| a.size).sum();
    let sent = AtomicU64::new(0);
    let limit = client.policy().upload_concurrency.max(1);
    let mut waiting = plan.upload.iter();
    let mut running = FuturesUnordered::new();
    let mut failure = None;
    loop {
        while failure.is_none() && running.len() < limit {
            let Some(artifact) = waiting.next() else { break };
            running.push(upload_reporting(cx, client, release, artifact, &sent, total));
        }
        match running.next().await {
            None => break,
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                if failure.is_none() {
                    failure = Some(err);
                }
            }
        }
    }
    if let Some(err) = failure {
        let not_started: Vec<&str> = waiting.map(|a| a.name.as_str()).collect();
        if !not_started.is_empty() {
            cx.warn(format!(
                "stopped uploading after a failure; not started: {} (a re-run uploads them)",
                not_started.join(", ")
            ));
        }
        return Err(fail(err));
    }
    Ok(format!("{} asset(s) uploaded, {} kept", plan.upload.len(), plan.keep.len()))
}

async fn upload_reporting(
    cx: &StepContext<'_>,
    client: &GithubClient<'_>,
    release: &RemoteRelease,
    artifact: &Artifact,
    sent: &AtomicU64,
    total: u64,
) -> Result<RemoteAsset, ApiError> {
    cx.progress(format!("uploading {} ({} bytes)", artifact.name, artifact.size));
    let result = upload_one(client, release, artifact).await;
    let done = sent.fetch_add(artifact.size, Ordering::Relaxed) + artifact.size;
    cx.bytes(done, Some(total));
    result
}

/// Uploads one artifact under the network policy, never leaving a duplicate or a partial
/// asset behind a success. Before every retry it looks at what the failed attempt left
/// under the name (see [`settle`]); when GitHub says the name already exists (an unfinished
/// upload appeared since the listing) it settles that and uploads once more.
async fn upload_one(
    client: &GithubClient<'_>,
    release: &RemoteRelease,
    artifact: &Artifact,
) -> Result<RemoteAsset, ApiError> {
    let what = format!("the upload of {}", artifact.name);
    client
        .with_retries(&what, |attempt| async move {
            if attempt > 1
                && let Some(complete) = settle(client, release, artifact).await?
            {
                return Ok(complete);
            }
            let upload = || client.upload_asset_once(&release.upload_url, &artifact.name, &artifact.path);
            match upload().await {
                Err(err) if err.already_exists() => match settle(client, release, artifact).await? {
                    Some(complete) => Ok(complete),
                    None => upload().await,
                },
                other => other,
            }
        })
        .await
}

/// What an earlier attempt left under the artifact's name: a complete asset with the right
/// size and sha256 is the upload done (its answer was lost) and is kept; anything else (an
/// empty `starter`, an `open` upload, other bytes) is deleted so the next attempt starts clean.
async fn settle(
    client: &GithubClient<'_>,
    release: &RemoteRelease,
    artifact: &Artifact,
) -> Result<Option<RemoteAsset>, ApiError> {
    for mut asset in client.list_assets(release.id).await?.into_iter().filter(|a| a.name == artifact.name) {
        if asset.sha256.is_none() && asset.state == "uploaded" {
            asset.sha256 = Some(client.download_sha256(asset.id).await?.0);
        }
        if mismatch(&asset, artifact).is_none() {
            return Ok(Some(asset));
        }
        client.delete_asset(asset.id).await?;
    }
    Ok(None)
}

/// Reads the assets back and compares names, sizes and sha256 digests with the manifest.
async fn verify(
    client: &GithubClient<'_>,
    target: &Target,
    release: &RemoteRelease,
    artifacts: &[Artifact],
) -> Result<(), StepError> {
    let assets =
        client.list_assets(release.id).await.map_err(|e| GithubError::classify(e, target).with_api_help(RERUN_HELP))?;
    let assets = with_digests(client, target, assets).await?;
    let plan = AssetPlan::new(&assets, artifacts);
    if plan.is_identical() {
        Ok(())
    } else {
        Err(GithubError::VerifyFailed { url: release.html_url.clone(), problems: plan.differences() }.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::ArtifactKind;

    fn local(name: &str, size: u64, sha: char) -> Artifact {
        Artifact {
            name: name.into(),
            path: name.into(),
            kind: ArtifactKind::Binary,
            size,
            sha256: sha.to_string().repeat(64),
        }
    }

    fn remote(id: u64, name: &str, size: u64, sha: char, state: &str) -> RemoteAsset {
        RemoteAsset { id, name: name.into(), size, state: state.into(), sha256: Some(sha.to_string().repeat(64)) }
    }

    #[test]
    fn identical_assets_need_nothing() {
        let plan = AssetPlan::new(&[remote(1, "a", 3, 'a', "uploaded")], &[local("a", 3, 'a')]);
        assert!(plan.is_identical());
        assert_eq!(plan.keep, vec!["a".to_owned()]);
    }

    #[test]
    fn mismatched_unfinished_missing_and_extra_assets() {
        let plan = AssetPlan::new(
            &[
                remote(1, "keep", 3, 'a', "uploaded"),
                remote(2, "changed", 3, 'b', "uploaded"),
                remote(3, "half", 0, 'c', "starter"),
                remote(4, "stale", 1, 'd', "uploaded"),
            ],
            &[local("keep", 3, 'a'), local("changed", 3, 'c'), local("half", 9, 'c'), local("new", 1, 'e')],
        );
        assert_eq!(plan.keep, vec!["keep".to_owned()]);
        let deleted: Vec<u64> = plan.delete.iter().map(|(a, _)| a.id).collect();
        assert_eq!(deleted, vec![2, 3, 4]);
        let uploaded: Vec<&str> = plan.upload.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(uploaded, vec!["changed", "half", "new"]);
        let differences = plan.differences().join("\n");
        assert!(
            differences.contains("changed differs (sha256 bbbbbbbbbbbb on GitHub, cccccccccccc here)"),
            "{differences}"
        );
        assert!(differences.contains("half is an unfinished upload (state `starter`)"), "{differences}");
        assert!(differences.contains("stale is not part of this build"), "{differences}");
        assert!(differences.contains("new is missing on GitHub"), "{differences}");
    }
}
