//! How the assets on GitHub are brought to match the local manifest: the plan (pure), then
//! deletes, streamed uploads and the read-back, under the network policy.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::artifact::Artifact;
use crate::error::StepError;
use crate::github::client::ApiError;
use crate::github::client::GithubClient;
use crate::github::client::RemoteAsset;
use crate::github::client::RemoteRelease;
use crate::github::diagnose::GithubError;
use crate::github::release::RERUN_HELP;
use crate::github::session::GithubApi;
use crate::io::Io;

/// Fills in the sha256 of assets GitHub reports without a digest (older GitHub Enterprise
/// Server versions) by downloading them.
pub(crate) async fn with_digests(api: &GithubApi<'_>, assets: Vec<RemoteAsset>) -> Result<Vec<RemoteAsset>, StepError> {
    let mut out = Vec::with_capacity(assets.len());
    for mut asset in assets {
        if asset.sha256.is_none() && asset.state == "uploaded" {
            let (sha256, _) = api.call(api.client.download_sha256(asset.id)).await?;
            asset.sha256 = Some(sha256);
        }
        out.push(asset);
    }
    Ok(out)
}

/// How the assets on GitHub are brought to match the local manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AssetPlan {
    /// Names that already match.
    pub keep: Vec<String>,
    /// Remote assets to delete, with the reason.
    pub delete: Vec<(RemoteAsset, String)>,
    /// Local artifacts to upload.
    pub upload: Vec<Artifact>,
}

impl AssetPlan {
    /// Compares remote assets (with digests) with the local artifacts. Pure.
    pub(crate) fn new(remote: &[RemoteAsset], local: &[Artifact]) -> AssetPlan {
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

    pub(crate) fn is_identical(&self) -> bool {
        self.delete.is_empty() && self.upload.is_empty()
    }

    /// One line per difference, for messages.
    pub(crate) fn differences(&self) -> Vec<String> {
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
pub(crate) fn mismatch(asset: &RemoteAsset, artifact: &Artifact) -> Option<String> {
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

pub(crate) fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Applies a plan to a release: deletes, then uploads, streamed, at most
/// `network.upload-concurrency` at once. After a failed upload no new one is started (those
/// in flight finish), so a broken connection or a refusal does not turn into a burst of
/// doomed requests; the release stays a draft and a re-run uploads the rest.
pub(crate) async fn converge(
    cx: &dyn Io,
    api: &GithubApi<'_>,
    release: &RemoteRelease,
    plan: &AssetPlan,
) -> Result<String, StepError> {
    let client = &api.client;
    let fail = |e| StepError::from(api.classify(e).with_api_help(RERUN_HELP));
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

pub(crate) async fn upload_reporting(
    cx: &dyn Io,
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
pub(crate) async fn upload_one(
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
pub(crate) async fn settle(
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
pub(crate) async fn verify(
    api: &GithubApi<'_>,
    release: &RemoteRelease,
    artifacts: &[Artifact],
) -> Result<(), StepError> {
    let assets = api.call(api.client.list_assets(release.id)).await.map_err(|e| e.with_api_help(RERUN_HELP))?;
    let assets = with_digests(api, assets).await?;
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
    use crate::artifact::ArtifactKind;

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
