//! The [`Step`] trait and the context a step runs in.
//!
//! A step is one ordered, fallible unit of a release. Built-in steps and steps an embedder
//! adds are the same kind of thing; the runner decides when each may run.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use crate::cancel::Cancellation;
use crate::env::Environment;
use crate::error::StepError;
use crate::event::{Event, Reporter};
use crate::plan::{Effect, Stage};
use crate::secret::{Secret, SecretSink, Source};

/// What a step returns on success: a one-line summary for the report, if it has one.
pub type StepResult = Result<Option<String>, StepError>;

#[async_trait::async_trait]
pub trait Step: Send + Sync + std::fmt::Debug {
    /// A stable identifier, `stage-thing` style (`build:hello`, `github:probe`).
    fn id(&self) -> String;
    fn stage(&self) -> Stage;
    fn effect(&self) -> Effect;
    /// One line for `release plan`.
    fn description(&self) -> String;
    /// Whether a run resumed after a failure may skip this step when the earlier run
    /// finished it and every file it recorded is unchanged ("done in an earlier run"; see
    /// [`crate::journal`]). Only for [`Effect::Local`] steps whose whole hand-over to later
    /// steps is their artifacts and outputs: values passed with [`StepContext::insert`] are
    /// not journaled, so a step that inserts one must keep the default, `false`.
    fn resumable(&self) -> bool {
        false
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult;
}

/// The release being made: fixed before the first step runs.
#[derive(Clone, Debug, Serialize)]
pub struct Release {
    pub version: semver::Version,
    pub tag: String,
    /// The directory `release.toml` lives in; relative paths in the config start here.
    pub root: Utf8PathBuf,
    /// Where artifacts, checksums and signatures are collected.
    pub dist: Utf8PathBuf,
}

/// What kind of file an artifact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// Produced by a build command.
    Binary,
    /// A packaged Helm chart.
    Chart,
    /// The `SHA256SUMS` file.
    Checksums,
    /// A `.sig` signature.
    Signature,
    /// The public key that verifies the signatures.
    PublicKey,
    /// A `.tar.gz` or `.zip` of a build's binaries for one target.
    Archive,
    /// A CycloneDX SBOM beside an archive.
    Sbom,
}

/// A file in the dist directory that will be published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name in the dist directory and the asset name on the release.
    pub name: String,
    pub path: Utf8PathBuf,
    pub kind: ArtifactKind,
    pub size: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// State shared by every step of one run.
pub struct RunState {
    pub(crate) release: Release,
    pub(crate) env: Environment,
    artifacts: Mutex<Vec<Artifact>>,
    outputs: Mutex<BTreeMap<String, String>>,
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    pub(crate) cancel: Cancellation,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState").field("release", &self.release).finish_non_exhaustive()
    }
}

impl RunState {
    /// State for one run; `pub` so that a step can be tested on its own with
    /// [`StepContext::detached`].
    pub fn new(release: Release, env: Environment, cancel: Cancellation) -> Self {
        RunState {
            release,
            env,
            cancel,
            artifacts: Mutex::new(Vec::new()),
            outputs: Mutex::new(BTreeMap::new()),
            extensions: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts.lock().unwrap().clone()
    }

    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        self.outputs.lock().unwrap().clone()
    }

    /// Puts back what a step did in an earlier run (its artifacts and outputs), for a step
    /// the runner skips as done.
    pub(crate) fn restore(&self, artifacts: &[Artifact], outputs: &BTreeMap<String, String>) {
        let mut current = self.artifacts.lock().unwrap();
        for artifact in artifacts {
            match current.iter_mut().find(|a| a.name == artifact.name) {
                Some(existing) => *existing = artifact.clone(),
                None => current.push(artifact.clone()),
            }
        }
        self.outputs.lock().unwrap().extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// What a running step sees: the release, the environment, the artifacts so far, and a
/// way to report progress.
pub struct StepContext<'a> {
    pub(crate) state: &'a RunState,
    pub(crate) step_id: &'a str,
    pub(crate) reporter: &'a dyn Reporter,
}

impl std::fmt::Debug for StepContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext").field("step_id", &self.step_id).finish_non_exhaustive()
    }
}

impl<'a> StepContext<'a> {
    /// A context outside a pipeline run, for testing a step on its own.
    pub fn detached(state: &'a RunState, step_id: &'a str, reporter: &'a dyn Reporter) -> Self {
        StepContext { state, step_id, reporter }
    }

    pub fn release(&self) -> &Release {
        &self.state.release
    }

    pub fn env(&self) -> &Environment {
        &self.state.env
    }

    /// True once the run was interrupted: stop at the next safe point, after undoing
    /// anything a probe did.
    pub fn is_cancelled(&self) -> bool {
        self.state.cancel.is_cancelled()
    }

    /// Resolves when the run is interrupted.
    pub async fn cancelled(&self) {
        self.state.cancel.cancelled().await
    }

    pub fn step_id(&self) -> &str {
        self.step_id
    }

    /// Every artifact collected so far, in the order they were added.
    pub fn artifacts(&self) -> Vec<Artifact> {
        self.state.artifacts()
    }

    /// Adds an artifact, replacing one of the same name (a re-run of the same step).
    pub fn add_artifact(&self, artifact: Artifact) {
        let mut artifacts = self.state.artifacts.lock().unwrap();
        match artifacts.iter_mut().find(|a| a.name == artifact.name) {
            Some(existing) => *existing = artifact,
            None => artifacts.push(artifact),
        }
    }

    /// Records a named output of the run (release URL, chart reference and digest).
    pub fn set_output(&self, name: impl Into<String>, value: impl Into<String>) {
        self.state.outputs.lock().unwrap().insert(name.into(), value.into());
    }

    /// Stores a value for later steps, one per type.
    pub fn insert<T: Any + Send + Sync>(&self, value: T) {
        self.state.extensions.lock().unwrap().insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A copy of the value an earlier step stored, if any.
    pub fn get<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.state.extensions.lock().unwrap().get(&TypeId::of::<T>()).and_then(|v| v.downcast_ref::<T>()).cloned()
    }

    /// A copy of the stored value of this type, storing `make()` first if there is none. One
    /// lock for both, so concurrent steps (preflight) all get the same value.
    pub fn get_or_insert_with<T: Any + Send + Sync + Clone>(&self, make: impl FnOnce() -> T) -> T {
        let mut extensions = self.state.extensions.lock().unwrap();
        let value = extensions.entry(TypeId::of::<T>()).or_insert_with(|| Box::new(make()));
        value.downcast_ref::<T>().expect("stored under its own type id").clone()
    }

    pub fn progress(&self, message: impl Into<String>) {
        self.reporter.report(&Event::StepProgress { id: self.step_id.to_owned(), message: message.into() });
    }

    pub fn bytes(&self, done: u64, total: Option<u64>) {
        self.reporter.report(&Event::StepBytes { id: self.step_id.to_owned(), done, total });
    }

    pub fn output_line(&self, line: impl Into<String>) {
        self.reporter.report(&Event::Output { id: self.step_id.to_owned(), line: line.into() });
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.warn_at(message, Vec::new());
    }

    /// A warning about lines of files (already named in `message`), which front ends can
    /// point at: GitHub Actions shows a `::warning file=…,line=…` on each.
    pub fn warn_at(&self, message: impl Into<String>, locations: Vec<crate::error::SourceLocation>) {
        self.reporter.report(&Event::Warning { id: self.step_id.to_owned(), message: message.into(), locations });
    }
}

/// A step hands every secret it finds outside the environment to the front end as
/// [`Event::SecretFound`], before it uses the value.
impl SecretSink for StepContext<'_> {
    fn secret_found(&self, source: &Source, secret: &Secret) {
        self.reporter.report(&Event::SecretFound {
            id: self.step_id.to_owned(),
            source: source.to_string(),
            secret: secret.clone(),
        });
    }
}
