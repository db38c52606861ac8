//! Build-stage steps, and what they hand to the package stage.

pub mod cargo;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use camino::Utf8Path;

use crate::archive::Entry;
use crate::error::StepError;
use crate::shell::run_captured;
use crate::step::StepContext;

/// One build's binaries for one target, waiting to be archived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltFiles {
    /// The target triple the files were built for (the host's for a build without targets).
    pub triple: String,
    /// The files, under their names in the archive.
    pub files: Vec<Entry>,
}

/// The hand-off from build steps to `package:archive` and `package:sbom`: what each build
/// built, by [`built_key`]. Not journaled: build steps that fill it are not resumable.
#[derive(Clone, Debug, Default)]
pub struct Built(Arc<Mutex<BTreeMap<String, BuiltFiles>>>);

impl Built {
    /// The run's shared store.
    pub fn of(cx: &StepContext<'_>) -> Built {
        cx.get_or_insert_with(Built::default)
    }

    pub fn put(&self, key: String, files: BuiltFiles) {
        self.0.lock().unwrap().insert(key, files);
    }

    pub fn get(&self, key: &str) -> Option<BuiltFiles> {
        self.0.lock().unwrap().get(key).cloned()
    }
}

/// The key of one build for one target in [`Built`].
pub fn built_key(build: &str, target: Option<&str>) -> String {
    format!("{build}:{}", target.unwrap_or(""))
}

/// The host's target triple, from `rustc -vV` run in `dir`.
pub async fn host_triple(cx: &StepContext<'_>, dir: &Utf8Path) -> Result<String, StepError> {
    let argv = ["rustc".to_owned(), "-vV".to_owned()];
    let text = run_captured(cx, &argv, dir, &BTreeMap::new()).await?;
    Ok(crate::cargo::host_triple(&text)?)
}
