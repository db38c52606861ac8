//! The release itself: a draft, its assets uploaded and read back, then published last.
//!
//! [`PublishGithubRelease`] (publish stage) makes the draft complete and checked; `finalize:github-release`
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

use camino::Utf8PathBuf;

use crate::config::GithubConfig;
use crate::config::NetworkConfig;
use crate::error::StepError;
use crate::github::assets::AssetPlan;
use crate::github::assets::converge;
use crate::github::assets::verify;
use crate::github::assets::with_digests;
use crate::github::checks::{PROBE_DRAFT_NAME, check_notes};
use crate::github::client::NewRelease;
use crate::github::client::RemoteRelease;
use crate::github::diagnose::GithubError;
use crate::github::release::{OUTPUT_RELEASE_URL, Outcome};
use crate::github::session::GithubApi;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Artifact;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::{github_release, keyless_session};

/// Creates or continues the draft release, uploads every artifact, reads the assets back.
#[derive(Debug)]
pub(crate) struct PublishGithubRelease {
    pub(crate) config: GithubConfig,
    pub(crate) network: NetworkConfig,
    pub(crate) root: Utf8PathBuf,
    pub(crate) project_name: Option<String>,
    /// Keyless signing: a re-run's bundles differ in bytes from the published ones (signatures
    /// are randomised), and are compared by what they vouch for instead.
    pub(crate) keyless: bool,
}

impl PublishGithubRelease {
    pub(crate) fn new(
        config: &GithubConfig,
        network: &NetworkConfig,
        root: &Utf8PathBuf,
        project_name: Option<&str>,
    ) -> Self {
        PublishGithubRelease {
            config: config.clone(),
            network: network.clone(),
            root: root.clone(),
            project_name: project_name.map(str::to_owned),
            keyless: false,
        }
    }

    /// With keyless signing (see [`PublishGithubRelease::keyless`]).
    pub(crate) fn keyless(mut self, keyless: bool) -> Self {
        self.keyless = keyless;
        self
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

    async fn create_draft(&self, cx: &StepContext<'_>, api: &GithubApi<'_>) -> Result<RemoteRelease, StepError> {
        let tag = cx.release().tag.clone();
        // The commit the tag is created at when the draft is published, if the tag does not
        // exist yet; GitHub ignores it for an existing tag.
        // The commit being released: `GITHUB_SHA` in Actions, else the repository's HEAD.
        let (env, root) = (cx.env().clone(), self.root.clone());
        let target_commitish = tokio::task::spawn_blocking(move || crate::identity::commit(&env, &root))
            .await
            .ok()
            .flatten()
            .map(|c| c.sha);
        let body = if let Some(file) = &self.config.notes_file {
            let path = self.root.join(file);
            Some(std::fs::read_to_string(&path).map_err(|e| {
                StepError::new(format!("cannot read the release notes {path} (`github.notes-file`): {e}"))
            })?)
        } else if self.config.generate_notes {
            Some(api.call(api.client.generate_notes(&tag, target_commitish.as_deref())).await?)
        } else if let Some(file) = crate::changelog::notes_file(&self.config, &self.root) {
            Some(changelog_notes(&file, &cx.release().version)?)
        } else {
            None
        };
        // The install commands of the installers this release ships.
        let installers: Vec<Artifact> =
            cx.artifacts().into_iter().filter(|a| a.kind == crate::step::ArtifactKind::Installer).collect();
        let names: Vec<&str> = installers.iter().map(|a| a.name.as_str()).collect();
        let download_url = format!("{}/{}/releases/download/{tag}", api.target.web_url(), api.target.full_name());
        let body = match (body, crate::installers::notes_section(&download_url, &names)) {
            (Some(body), Some(install)) => Some(format!("{}\n\n{install}", body.trim_end())),
            (None, Some(install)) => Some(install),
            (body, None) => body,
        };
        let release = NewRelease {
            tag,
            name: self.title(cx),
            body,
            draft: true,
            prerelease: self.config.prerelease || !cx.release().version.pre.is_empty(),
            target_commitish,
        };
        let draft = api.call(api.client.create_release(&release)).await?;
        cx.progress(format!("created the draft release {}", draft.html_url));
        Ok(draft)
    }
}

#[async_trait::async_trait]
impl Step for PublishGithubRelease {
    fn meta(&self) -> StepMeta {
        let meta = StepMeta::new(
            StepId::new(Stage::Publish, "github-release"),
            Effect::Publish,
            "create or continue the draft GitHub release, upload every artifact, read the assets back",
        )
        .produces(&github_release());
        if self.keyless { meta.consumes(&keyless_session()) } else { meta }
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let api = cx.github(&self.config, &self.network)?;
        let (target, client) = (&api.target, &api.client);
        check_notes(&self.config, &self.root)?;
        cx.progress(format!("GitHub {} at {}, token from {}", target.full_name(), target.api_url, target.token_source));
        let artifacts = cx.artifacts();
        let tag = cx.release().tag.clone();
        let existing = api.call(client.releases_for_tag(&tag)).await?;

        if let Some(published) = existing.iter().find(|r| !r.draft) {
            let assets = with_digests(&api, published.assets.clone()).await?;
            let plan = AssetPlan::new(&assets, &artifacts);
            let resigned = match (plan.is_identical(), self.keyless) {
                (false, true) => resigned_only(cx, &api, &plan, &artifacts).await?,
                _ => None,
            };
            if plan.is_identical() || resigned.is_some() {
                cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
                cx.hand_off(
                    &github_release(),
                    Outcome::AlreadyPublished { url: published.html_url.clone(), immutable: published.immutable },
                )?;
                let kind = if published.immutable { " (immutable)" } else { "" };
                let bundles = match resigned {
                    Some(n) => format!(
                        "; its {n} Sigstore bundle(s) differ in bytes from this run's but verify for the same files \
                         and this workflow's identity, so they are kept"
                    ),
                    None => String::new(),
                };
                return Ok(Some(format!(
                    "already released: {}{kind} has identical assets{bundles}",
                    published.html_url
                )));
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
            let summary = converge(cx, &api, published, &plan).await?;
            verify(&api, published, &artifacts).await?;
            cx.set_output(OUTPUT_RELEASE_URL, published.html_url.clone());
            cx.hand_off(
                &github_release(),
                Outcome::AlreadyPublished { url: published.html_url.clone(), immutable: published.immutable },
            )?;
            return Ok(Some(format!("replaced assets of {}: {summary}", published.html_url)));
        }

        // A preflight probe's draft left behind (an interrupted run) is ours to delete, never to
        // continue.
        for leftover in existing.iter().filter(|r| r.draft && r.name.as_deref() == Some(PROBE_DRAFT_NAME)) {
            cx.warn(format!("deleting the draft {} a preflight probe left behind", leftover.html_url));
            api.call(client.delete_release(leftover.id)).await?;
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
            None => self.create_draft(cx, &api).await?,
        };
        let assets = with_digests(&api, draft.assets.clone()).await?;
        let plan = AssetPlan::new(&assets, &artifacts);
        let summary = converge(cx, &api, &draft, &plan).await?;
        verify(&api, &draft, &artifacts).await?;
        cx.hand_off(&github_release(), Outcome::Draft { id: draft.id, url: draft.html_url.clone() })?;
        Ok(Some(format!("draft {}: {summary}, all checked", draft.html_url)))
    }
}

/// Largest bundle asset read back when comparing a re-run with a published release.
const MAX_BUNDLE_ASSET: u64 = 4 << 20;

/// With keyless signing, whether the published release differs from this run only in its
/// Sigstore bundles, each of which verifies (against this run's trusted root, identity and
/// issuer) for the same file, or, for the provenance, for the same subjects: then the
/// release is this build already, signed by an earlier run of this workflow. `Some(n)`: `n`
/// such bundles; `None`: some other difference, or a bundle that does not verify.
async fn resigned_only(
    cx: &StepContext<'_>,
    api: &GithubApi<'_>,
    plan: &AssetPlan,
    artifacts: &[crate::step::Artifact],
) -> Result<Option<usize>, StepError> {
    use crate::signing::bundle::{
        BUNDLE_EXTENSION, Expected, dsse_statement, trusted_root, verify_attestation_json, verify_digest_json,
    };
    use crate::signing::provenance::{PROVENANCE_ASSET, subjects_of};
    use crate::step::ArtifactKind;
    let crate::signing::keyless::ActiveKeyless(session) = cx.handed(&keyless_session())?;
    let named = |name: &str| plan.upload.iter().find(|a| a.name == name);
    let differing = plan.delete.iter().all(|(asset, _)| named(&asset.name).is_some())
        && plan.upload.iter().all(|a| plan.delete.iter().any(|(asset, _)| asset.name == a.name));
    if !differing || plan.upload.iter().any(|a| a.kind != ArtifactKind::Signature) {
        return Ok(None);
    }
    let root = trusted_root(&session.services().trusted_root_json, "of the signing instance")?;
    let expected = Expected {
        identity: Some(session.identity.clone()),
        issuer: Some(session.issuer.clone()),
        ..Expected::default()
    };
    for (asset, _) in &plan.delete {
        if asset.state != "uploaded" || asset.size > MAX_BUNDLE_ASSET {
            return Ok(None);
        }
        let ours = named(&asset.name).expect("checked above");
        let shown = Utf8PathBuf::from(format!("the release asset {}", asset.name));
        let signed = asset.name.strip_suffix(&format!(".{BUNDLE_EXTENSION}"));
        let file = signed.and_then(|name| artifacts.iter().find(|a| a.name == name && plan.keep.contains(&a.name)));
        if file.is_none() && asset.name != PROVENANCE_ASSET {
            return Ok(None);
        }
        let bytes = api.call(api.client.download_small(asset.id, MAX_BUNDLE_ASSET)).await?;
        let text = String::from_utf8_lossy(&bytes);
        let vouches = match file {
            Some(file) => verify_digest_json(&root, &text, &file.sha256, &file.path, &shown, &expected).is_ok(),
            None => {
                let local = std::fs::read_to_string(&ours.path)
                    .map_err(|e| StepError::new(format!("cannot read {}: {e}", ours.path)))?;
                let mut want = dsse_statement(&local).and_then(|s| subjects_of(&s)).unwrap_or_default();
                match verify_attestation_json(&root, &text, &shown, &expected) {
                    Ok((_, mut theirs)) => {
                        want.sort_by(|a, b| a.name.cmp(&b.name));
                        theirs.sort_by(|a, b| a.name.cmp(&b.name));
                        !want.is_empty() && want == theirs
                    }
                    Err(_) => false,
                }
            }
        };
        if !vouches {
            return Ok(None);
        }
    }
    Ok(Some(plan.delete.len()))
}

/// The version's section of the changelog `file`; one without it, or that cannot be read, was
/// refused in preflight (`preflight:identity`), so this finds it changed since.
fn changelog_notes(file: &camino::Utf8Path, version: &semver::Version) -> Result<String, StepError> {
    let help =
        format!("add a section `## [{version}] - YYYY-MM-DD` to {file}, or set `github.notes-from-changelog = false`");
    match crate::changelog::read(file, version) {
        Ok(crate::changelog::Found::Section(section)) => Ok(section.body),
        Ok(crate::changelog::Found::Missing(_)) => {
            Err(StepError::new(format!("{file} has no section for {version}, and the release notes come from it"))
                .with_help(help))
        }
        Err(err) => Err(StepError::new(format!("cannot read the release notes {file}: {err}")).with_help(help)),
    }
}
