//! `package:installers`: `NAME-installer.sh` (and, with a Windows target, `NAME-installer.ps1`)
//! holding the SHA-256 of every archive this release ships, written after the archives and
//! before `SHA256SUMS`, so that they are listed, signed and published like every artifact
//! (see [`crate::installers`]).

use crate::archive::{archive_name, exe_suffix};
use crate::checksum::sha256_hex;
use crate::config::{BuildCommand, Config, InstallersConfig, artifact_name, expand};
use crate::env::Environment;
use crate::error::StepError;
use crate::installers::{Installer, Offered, Provenance, powershell_name, shell_name};
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PackageInstallers {
    pub(crate) settings: InstallerSettings,
}

/// What the installers step needs from the config.
#[derive(Clone, Debug)]
pub(crate) struct InstallerSettings {
    pub(crate) app: String,
    pub(crate) config: InstallersConfig,
    /// The archived builds, with their targets (`None`: this machine's).
    pub(crate) builds: Vec<(BuildCommand, Vec<Option<String>>)>,
    /// `github.repository`, when the config names it.
    pub(crate) repository: Option<String>,
    /// Keyless signing with provenance and a GitHub release: the archives have an attestation.
    pub(crate) attested: bool,
    pub(crate) root: camino::Utf8PathBuf,
    /// A snapshot: an unknown repository is a warning (the installers name a placeholder).
    pub(crate) snapshot: bool,
}

impl InstallerSettings {
    pub(crate) fn new(config: &Config, installers: &InstallersConfig, snapshot: bool) -> Self {
        let builds = config
            .build
            .iter()
            .filter(|b| b.archives())
            .map(|b| (b.clone(), b.target_list().into_iter().map(|t| t.map(str::to_owned)).collect()))
            .collect::<Vec<_>>();
        let app = config
            .project
            .name
            .clone()
            .or_else(|| builds.first().map(|(b, _)| b.archive_base().to_owned()))
            .unwrap_or_else(|| "app".into());
        let attested = config.github.is_some()
            && config.signing.as_ref().is_some_and(|s| s.mode == crate::config::SigningMode::Keyless && s.provenance);
        InstallerSettings {
            app,
            config: installers.clone(),
            builds,
            repository: PackageInstallers::repository_of(config),
            attested,
            root: config.root.clone(),
            snapshot,
        }
    }
}

impl PackageInstallers {
    fn repository_of(config: &Config) -> Option<String> {
        config.github.as_ref().and_then(|g| g.repository.clone())
    }

    /// The repository the release is published to: the config's, else `GITHUB_REPOSITORY`.
    fn repository(&self, env: &Environment) -> Option<String> {
        self.settings.repository.clone().or_else(|| env.get("GITHUB_REPOSITORY").map(str::to_owned))
    }

    /// Where the installers download from: `installers.download-url`, else the GitHub
    /// release's download URL.
    fn download_url(&self, cx: &StepContext<'_>, tag: &str, version: &str) -> Result<String, StepError> {
        let env = cx.env();
        if let Some(template) = &self.settings.config.download_url {
            return Ok(expand(template, version, tag, "").trim_end_matches('/').to_owned());
        }
        let repository = match self.repository(env) {
            Some(repository) => repository,
            None if self.settings.snapshot => {
                cx.warn("no repository is known (`github.repository`, or GITHUB_REPOSITORY in Actions): this snapshot's installers download from github.com/OWNER/REPO");
                "OWNER/REPO".to_owned()
            }
            None => {
                return Err(StepError::new(
                    "the installers need the URL the archives are downloaded from, and no repository is known",
                )
                .with_help("set `github.repository` (or run in GitHub Actions, where GITHUB_REPOSITORY says it), or `installers.download-url`"));
            }
        };
        let server = env.get("GITHUB_SERVER_URL").unwrap_or("https://github.com").trim_end_matches('/');
        Ok(format!("{server}/{repository}/releases/download/{tag}"))
    }

    fn provenance(&self, env: &Environment, tag: &str) -> Option<Provenance> {
        if !self.settings.attested {
            return None;
        }
        let repository = self.repository(env)?;
        // `OWNER/REPO/.github/workflows/release.yml@refs/tags/v1`: the workflow that signs.
        let workflow = env.get("GITHUB_WORKFLOW_REF").and_then(|r| r.split('@').next()).map(str::to_owned);
        Some(Provenance { repository, workflow, source_ref: Some(format!("refs/tags/{tag}")) })
    }
}

#[async_trait::async_trait]
impl Step for PackageInstallers {
    fn meta(&self) -> StepMeta {
        let mut names = Vec::new();
        if self.settings.config.shell {
            names.push(shell_name(&self.settings.app));
        }
        if self.settings.config.powershell {
            names.push(format!("{} (with a Windows target)", powershell_name(&self.settings.app)));
        }
        StepMeta::new(
            StepId::new(Stage::Package, "installers"),
            Effect::Local,
            format!("write {}, each holding the SHA-256 of every archive it may download", names.join(" and ")),
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let release = cx.release();
        let version = release.version.to_string();
        let artifacts = cx.artifacts();
        let mut host = None;
        let mut archives = Vec::new();
        for (build, targets) in &self.settings.builds {
            for target in targets {
                let triple = match target {
                    Some(triple) => triple.clone(),
                    None => match &host {
                        Some(host) => String::clone(host),
                        None => host.insert(crate::steps::host_triple(cx, &self.settings.root).await?).clone(),
                    },
                };
                let name = archive_name(build.archive_base(), &triple, &version);
                let file = name.file_name();
                // A snapshot builds the host's target only; a release has every archive (the
                // gather step refuses a missing one).
                let Some(archive) = artifacts.iter().find(|a| a.name == file && a.kind == ArtifactKind::Archive) else {
                    continue;
                };
                // What the archive holds: a cargo build's binaries, or a command build's
                // artifacts under their published names.
                let bins = match &build.cargo {
                    Some(cargo) => cargo.bins.iter().map(|b| format!("{b}{}", exe_suffix(&triple))).collect(),
                    None => build
                        .artifacts
                        .iter()
                        .map(|spec| artifact_name(spec, Some(&release.version), target.as_deref()))
                        .collect(),
                };
                archives.push(Offered {
                    target: triple.clone(),
                    file,
                    sha256: archive.sha256.clone(),
                    dir: name.stem.clone(),
                    bins,
                });
            }
        }
        let installer = Installer {
            app: self.settings.app.clone(),
            version: version.clone(),
            download_url: self.download_url(cx, &release.tag, &version)?,
            archives,
            provenance: self.provenance(cx.env(), &release.tag),
        };
        let mut written = Vec::new();
        let unwritable = StepError::from;
        if self.settings.config.shell {
            written.push((shell_name(&installer.app), installer.shell().map_err(unwritable)?));
        }
        if self.settings.config.powershell && installer.has_windows() {
            written.push((powershell_name(&installer.app), installer.powershell().map_err(unwritable)?));
        }
        let mut shown = Vec::new();
        for (name, text) in written {
            let path = crate::dist::write_file(&release.dist, &name, text.as_bytes())?;
            cx.add_artifact(Artifact {
                name: name.clone(),
                path,
                kind: ArtifactKind::Installer,
                size: text.len() as u64,
                sha256: sha256_hex(text.as_bytes()),
            });
            shown.push(name);
        }
        let targets: Vec<&str> = installer.archives.iter().map(|a| a.target.as_str()).collect();
        let provenance = if installer.provenance.is_some() { "; provenance checked with gh when present" } else { "" };
        Ok(Some(format!("{} for {}{provenance}", shown.join(", "), targets.join(", "))))
    }
}
