//! `package:archive:<build>[:<target>]`: the binaries a build handed on (see
//! [`crate::steps::handoffs::BuiltFiles`]) and the `include`d files, into one archive in the dist
//! directory, written and hashed in one pass (see [`crate::archive`]).

use camino::Utf8PathBuf;

use crate::archive::{self, Entry, FILE_MODE, archive_name, expand_include, mtime_from};
use crate::config::{BuildCommand, Config};
use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::built_files;

#[derive(Debug)]
pub(crate) struct PackageArchive {
    pub(crate) build: BuildCommand,
    pub(crate) dir: Utf8PathBuf,
    pub(crate) target: Option<String>,
    /// The project root: an `include`d file that resolves outside it is refused.
    pub(crate) root: Utf8PathBuf,
}

impl PackageArchive {
    pub(crate) fn new(config: &Config, build: &BuildCommand, target: Option<&str>) -> Self {
        let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
        PackageArchive { build: build.clone(), dir, target: target.map(str::to_owned), root: config.root.clone() }
    }
}

#[async_trait::async_trait]
impl Step for PackageArchive {
    fn meta(&self) -> StepMeta {
        let subject = match &self.target {
            Some(target) => format!("{}:{target}", self.build.name),
            None => self.build.name.clone(),
        };
        let target = self.target.as_deref().unwrap_or("this machine's target");
        StepMeta::new(
            StepId::new(Stage::Package, "archive").with_subject(subject),
            Effect::Local,
            format!(
                "archive the binaries of build `{}` for {target} with {}",
                self.build.name,
                self.build.include_patterns().join(", ")
            ),
        )
        .consumes(&built_files(&self.build.name, self.target.as_deref()))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let built = cx.handed(&built_files(&self.build.name, self.target.as_deref()))?;
        let version = cx.release().version.to_string();
        let name = archive_name(self.build.archive_base(), &built.triple, &version);
        // A pattern that matches nothing was warned about in preflight (`preflight:archives`),
        // and a file leaving the project refused there; refused again here, should a link
        // have changed since.
        let included = expand_include(&self.dir, &self.root, &self.build.include_patterns());
        if let Some(message) = included.outside_message(&self.build.name, &self.root) {
            return Err(StepError::new(message).with_help(archive::OUTSIDE_HELP));
        }
        let mut entries = built.files.clone();
        for path in included.files {
            let file_name = path.file_name().unwrap_or(path.as_str()).to_owned();
            entries.push(Entry { source: path, name: file_name, mode: FILE_MODE });
        }
        let dist = cx.release().dist.clone();
        let mtime = mtime_from(cx.env().get("SOURCE_DATE_EPOCH"));
        let job_name = name.clone();
        let written = tokio::task::spawn_blocking(move || archive::write(&dist, &job_name, &entries, mtime))
            .await
            .map_err(|e| StepError::new(format!("writing the archive failed: {e}")))??;
        cx.add_artifact(Artifact {
            name: name.file_name(),
            path: written.path,
            kind: ArtifactKind::Archive,
            size: written.size,
            sha256: written.sha256,
        });
        Ok(Some(format!("{} ({} bytes)", name.file_name(), written.size)))
    }
}
