//! The build stage's steps, and what builds hand to the package stage.

pub(crate) mod cargo;
pub(crate) mod command;
pub(crate) mod gather;
pub(crate) mod prepare_dist;

use crate::config::BuildCommand;
use crate::plan::{Effect, Stage, StepId};
use crate::step::StepMeta;
use crate::steps::handoffs::built_files;

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
