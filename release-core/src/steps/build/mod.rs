//! The build stage's steps, and what builds hand to the package stage.

pub(crate) mod cargo;
pub(crate) mod command;
pub(crate) mod gather;
pub(crate) mod prepare_dist;

use std::collections::BTreeMap;

use camino::Utf8Path;

use crate::archive::Entry;
use crate::config::BuildCommand;
use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::shell::run_captured;
use crate::step::{HandOff, StepContext, StepMeta};

/// One build's binaries for one target, waiting to be archived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BuiltFiles {
    /// The target triple the files were built for (the host's for a build without targets).
    pub triple: String,
    /// The files, under their names in the archive.
    pub files: Vec<Entry>,
}

/// What one build hands `package:archive` and `package:sbom` for one target: the hand-off
/// `built-files:<build>[:<target>]`. Not journaled: the build steps that make it are not
/// resumable.
pub(crate) fn built_files(build: &str, target: Option<&str>) -> HandOff<BuiltFiles> {
    let subject = match target {
        Some(target) => format!("{build}:{target}"),
        None => build.to_owned(),
    };
    HandOff::of("built-files", "build:<build>", subject)
}

/// The host's target triple, from `rustc -vV` run in `dir`.
pub(crate) async fn host_triple(cx: &StepContext<'_>, dir: &Utf8Path) -> Result<String, StepError> {
    let argv = ["rustc".to_owned(), "-vV".to_owned()];
    let text = run_captured(cx, &argv, dir, &BTreeMap::new()).await?;
    Ok(crate::cargo::host_triple(&text)?)
}

/// The metadata of a build step (`command` or `cargo`): `build:<name>[:<target>]`. Raw
/// artifacts are a build's whole hand-over, so it is resumable; files for an archive go to
/// the package stage as the `built-files` hand-off, which the journal does not keep.
pub(crate) fn build_meta(build: &BuildCommand, target: Option<&str>, description: String) -> StepMeta {
    let id = StepId::new(Stage::Build, build.name.clone());
    let id = match target {
        Some(target) => id.with_subject(target),
        None => id,
    };
    let meta = StepMeta::new(id, Effect::Local, description);
    if build.archives() { meta.produces(&built_files(&build.name, target)) } else { meta.resumable() }
}
