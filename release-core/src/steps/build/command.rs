//! `build:<name>[:<target>]`: run one build command, then collect its artifacts into the dist directory, hashing each as it is copied.

use camino::{Utf8Path, Utf8PathBuf};

use crate::checksum::copy_and_hash;
use crate::config::BuildCommand as BuildConfig;
use crate::config::Config;
use crate::config::artifact_name;
use crate::config::expand_for;
use crate::error::StepError;
use crate::shell::display_command;
use crate::shell::run_streamed;
use crate::step::Artifact;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::build::build_meta;
use crate::steps::handoffs::built_files;

/// One `[[build]]` for one of its targets (or for this machine): its command, then its
/// artifacts.
#[derive(Debug)]
pub(crate) struct BuildCommand {
    pub(crate) build: BuildConfig,
    pub(crate) dir: Utf8PathBuf,
    pub(crate) target: Option<String>,
}

impl BuildCommand {
    pub(crate) fn new(config: &Config, build: &BuildConfig, target: Option<&str>) -> Self {
        BuildCommand { build: build.clone(), dir: working_dir(config, build), target: target.map(str::to_owned) }
    }
}

fn working_dir(config: &Config, build: &BuildConfig) -> Utf8PathBuf {
    match &build.dir {
        Some(dir) => config.root.join(dir),
        None => config.root.clone(),
    }
}

#[async_trait::async_trait]
impl Step for BuildCommand {
    fn meta(&self) -> StepMeta {
        let n = self.build.artifacts.len();
        let command = display_command(&self.build.command);
        let description = match &self.target {
            Some(target) => format!("run `{command}` for {target} in {}, collect {n} artifact(s)", self.dir),
            None => format!("run `{command}` in {}, collect {n} artifact(s)", self.dir),
        };
        build_meta(&self.build, self.target.as_deref(), description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let release = cx.release();
        let version = release.version.to_string();
        let target = self.target.as_deref();
        let expand = |text: &str| expand_for(text, &version, &release.tag, release.dist.as_str(), target);
        let argv: Vec<String> = self.build.command.iter().map(|arg| expand(arg)).collect();
        let mut env: std::collections::BTreeMap<String, String> =
            self.build.env.iter().map(|(k, v)| (k.clone(), expand(v))).collect();
        if let Some(target) = target {
            env.entry("RELEASE_TARGET".into()).or_insert_with(|| target.to_owned());
        }
        run_streamed(cx, &argv, &self.dir, &env).await?;

        // Check every artifact first, then collect them.
        let mut files = Vec::new();
        for spec in &self.build.artifacts {
            let source = self.dir.join(expand(spec.path().as_str()));
            check_artifact(&source, &self.build, &argv)?;
            files.push((source, artifact_name(spec, Some(&release.version), target)));
        }
        if self.build.archives() {
            // Into the archive under their published names, as they are (mode 0755).
            let triple = match target {
                Some(target) => target.to_owned(),
                None => crate::steps::host_triple(cx, &self.dir).await?,
            };
            let files: Vec<crate::archive::Entry> = files
                .into_iter()
                .map(|(source, name)| crate::archive::Entry { source, name, mode: crate::archive::BINARY_MODE })
                .collect();
            let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
            cx.hand_off(&built_files(&self.build.name, target), crate::steps::handoffs::BuiltFiles { triple, files })?;
            return Ok(Some(format!("{} for the archive", names.join(", "))));
        }
        let collected = collect_into_dist(cx, files, |_, _, _| Ok(())).await?;
        Ok(Some(if collected.is_empty() { "no artifacts".into() } else { collected.join(", ") }))
    }
}

/// Copies `(source, published name)` files into the dist directory as binary artifacts
/// (see [`collect_kinds_into_dist`]).
pub(crate) async fn collect_into_dist<F>(
    cx: &StepContext<'_>,
    files: Vec<(Utf8PathBuf, String)>,
    check: F,
) -> Result<Vec<String>, StepError>
where
    F: Fn(usize, &Utf8Path, &Artifact) -> Result<(), StepError> + Send + Sync + 'static,
{
    let files = files.into_iter().map(|(source, name)| (source, name, ArtifactKind::Binary)).collect();
    collect_kinds_into_dist(cx, files, check).await
}

/// Copies `(source, published name, kind)` files into the dist directory as artifacts, in
/// parallel, one blocking task each (a file is read once, and several files use several
/// cores), hashing each as it is copied. `check(index, source, artifact)` sees each copy
/// before it is added; a copy it refuses is removed. The names collected, in order.
pub(crate) async fn collect_kinds_into_dist<F>(
    cx: &StepContext<'_>,
    files: Vec<(Utf8PathBuf, String, ArtifactKind)>,
    check: F,
) -> Result<Vec<String>, StepError>
where
    F: Fn(usize, &Utf8Path, &Artifact) -> Result<(), StepError> + Send + Sync + 'static,
{
    let check = std::sync::Arc::new(check);
    let dist = &cx.release().dist;
    let jobs = files.into_iter().enumerate().map(|(index, (source, name, kind))| {
        let (dist, target, check) = (dist.clone(), dist.join(&name), check.clone());
        tokio::task::spawn_blocking(move || -> Result<Artifact, StepError> {
            // Claimed before it is created: an earlier run's leftovers are the tool's to remove.
            crate::dist::claim(&dist, &[&name])?;
            let (sha256, size) = copy_and_hash(&source, &target)?;
            let artifact = Artifact { name, path: target, kind, size, sha256 };
            check(index, &source, &artifact).inspect_err(|_| {
                let _ = std::fs::remove_file(&artifact.path);
            })?;
            Ok(artifact)
        })
    });
    let mut collected = Vec::new();
    for job in futures_util::future::join_all(jobs).await {
        let artifact = job.map_err(|e| StepError::new(format!("collecting an artifact failed: {e}")))??;
        collected.push(artifact.name.clone());
        cx.add_artifact(artifact);
    }
    Ok(collected)
}

fn check_artifact(path: &Utf8Path, build: &BuildConfig, argv: &[String]) -> Result<(), StepError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(StepError::new(format!("build `{}`: the artifact {path} is a directory, not a file", build.name))
            .with_help("point `artifacts` at the file to publish; archive a directory in the build command first")),
        Err(_) => Err(StepError::new(format!(
            "build `{}`: the artifact {path} was not produced by `{}`",
            build.name,
            display_command(argv)
        ))
        .with_help(
            "check the artifact path in release.toml (relative to the build's `dir`) against what the command writes",
        )),
    }
}
