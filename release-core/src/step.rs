//! The [`Step`] trait and the context a step runs in.
//!
//! A step is one ordered, fallible unit of a release. Built-in steps and steps an embedder
//! adds are the same kind of thing; the runner decides when each may run.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::Mutex;

pub use crate::artifact::{Artifact, ArtifactKind, Release};
use crate::cancel::Cancellation;
use crate::env::Environment;
use crate::error::StepError;
use crate::event::{Event, Reporter};
use crate::plan::{Effect, Stage, StepId};
use crate::secret::{Secret, SecretSink, Source};

/// What a step returns on success: a one-line summary for the report, if it has one.
pub type StepResult = Result<Option<String>, StepError>;

/// One ordered, fallible unit of a release: what it is ([`StepMeta`], data) and what it does
/// ([`Step::run`]). Built-in steps live in `steps/<stage>/`, one file each; an embedder's
/// steps are the same kind of thing.
#[async_trait::async_trait]
pub trait Step: Send + Sync + std::fmt::Debug {
    /// What the step is: id (and so stage), effect, description, hand-offs. Read once, when
    /// the step is added to a pipeline.
    fn meta(&self) -> StepMeta;
    async fn run(&self, cx: &StepContext<'_>) -> StepResult;
}

/// A step as data: everything the pipeline, the plan, the journal and the front ends know of
/// a step without running it.
#[derive(Clone, Debug)]
pub struct StepMeta {
    pub id: StepId,
    pub effect: Effect,
    /// One line for `release plan`.
    pub description: String,
    /// Whether a run resumed after a failure may skip this step when the earlier run finished
    /// it and every file it recorded is unchanged ("done in an earlier run"; see
    /// [`crate::journal`]). Only for [`Effect::Local`] steps whose whole hand-over to later
    /// steps is their artifacts and outputs: a step that produces a [`HandOff`] cannot be
    /// resumable (the pipeline refuses it), since hand-offs are not journaled.
    pub resumable: bool,
    /// The hand-offs this step reads: each must come from an earlier step that runs in the
    /// same mode, or the pipeline is refused when it is assembled.
    pub consumes: Vec<HandOffKey>,
    /// The hand-offs this step leaves for later steps; the runner checks it left them.
    pub produces: Vec<HandOffKey>,
}

impl StepMeta {
    pub fn new(id: StepId, effect: Effect, description: impl Into<String>) -> Self {
        StepMeta {
            id,
            effect,
            description: description.into(),
            resumable: false,
            consumes: Vec::new(),
            produces: Vec::new(),
        }
    }

    pub fn stage(&self) -> Stage {
        self.id.stage()
    }

    /// See [`StepMeta::resumable`].
    pub fn resumable(mut self) -> Self {
        self.resumable = true;
        self
    }

    /// Declares that the step reads `handoff` ([`StepContext::handed`]).
    pub fn consumes<T: HandOffValue>(mut self, handoff: &HandOff<T>) -> Self {
        self.consumes.push(handoff.key());
        self
    }

    /// Declares that the step leaves `handoff` ([`StepContext::hand_off`]).
    pub fn produces<T: HandOffValue>(mut self, handoff: &HandOff<T>) -> Self {
        self.produces.push(handoff.key());
        self
    }
}

/// What a hand-off may carry: a value cloned out to each step that reads it.
pub trait HandOffValue: Any + Clone + Send + Sync {}
impl<T: Any + Clone + Send + Sync> HandOffValue for T {}

/// A typed value one step leaves for later ones: a chart packaged, a chart pushed, the run's
/// signer, the draft release. Steps declare the hand-offs they produce and consume in their
/// [`StepMeta`], so that a pipeline in which a step reads what no earlier step makes is
/// refused when it is assembled ([`crate::Pipeline::check`]), not found after the build.
///
/// A hand-off may be about one subject (one chart: `packaged-chart:charts/a`); the key is the
/// name, the subject and the value's type.
#[derive(Debug)]
pub struct HandOff<T> {
    key: HandOffKey,
    _value: PhantomData<fn() -> T>,
}

impl<T: HandOffValue> HandOff<T> {
    /// A hand-off of the run as a whole; `made_by` names the step kind that produces it
    /// (`sign:artifacts`), for the message when none does.
    pub fn new(name: &'static str, made_by: &'static str) -> Self {
        HandOff { key: HandOffKey { name, subject: None, made_by, type_id: TypeId::of::<T>() }, _value: PhantomData }
    }

    /// The same hand-off about one subject.
    pub fn of(name: &'static str, made_by: &'static str, subject: impl Into<String>) -> Self {
        let mut handoff = Self::new(name, made_by);
        handoff.key.subject = Some(subject.into());
        handoff
    }

    pub fn key(&self) -> HandOffKey {
        self.key.clone()
    }
}

/// A hand-off without its type, as [`StepMeta`] lists it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandOffKey {
    name: &'static str,
    subject: Option<String>,
    made_by: &'static str,
    type_id: TypeId,
}

impl HandOffKey {
    /// The step kind that produces it, as it shows in step ids (`package:chart`).
    pub fn made_by(&self) -> &'static str {
        self.made_by
    }
}

impl std::fmt::Display for HandOffKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        if let Some(subject) = &self.subject {
            write!(f, ":{subject}")?;
        }
        Ok(())
    }
}

/// State shared by every step of one run.
pub struct RunState {
    pub(crate) release: Release,
    pub(crate) env: Environment,
    artifacts: Mutex<Vec<Artifact>>,
    outputs: Mutex<BTreeMap<String, String>>,
    handoffs: Mutex<HashMap<HandOffKey, Box<dyn Any + Send + Sync>>>,
    /// One session per remote for the whole run (see [`crate::session`]).
    pub(crate) sessions: crate::session::Sessions,
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
            handoffs: Mutex::new(HashMap::new()),
            sessions: crate::session::Sessions::default(),
        }
    }

    pub(crate) fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts.lock().unwrap().clone()
    }

    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        self.outputs.lock().unwrap().clone()
    }

    /// Whether a hand-off was left (the runner checks every declared one after its producer).
    pub(crate) fn has_handoff(&self, key: &HandOffKey) -> bool {
        self.handoffs.lock().unwrap().contains_key(key)
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
    /// `None` for a detached context (a step tested on its own): hand-offs are not checked
    /// against a declaration there.
    pub(crate) meta: Option<&'a StepMeta>,
    pub(crate) step_id: &'a str,
    pub(crate) reporter: &'a dyn Reporter,
}

impl std::fmt::Debug for StepContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext").field("step_id", &self.step_id).finish_non_exhaustive()
    }
}

impl<'a> StepContext<'a> {
    /// A context outside a pipeline run, for testing a step (or a few in a row) on its own.
    pub fn detached(state: &'a RunState, step_id: &'a str, reporter: &'a dyn Reporter) -> Self {
        StepContext { state, meta: None, step_id, reporter }
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

    /// Leaves `value` for later steps. The step must declare it produces `handoff`.
    pub fn hand_off<T: HandOffValue>(&self, handoff: &HandOff<T>, value: T) -> Result<(), StepError> {
        if self.meta.is_some_and(|meta| !meta.produces.contains(&handoff.key)) {
            return Err(undeclared(self.step_id, "produces", &handoff.key));
        }
        self.state.handoffs.lock().unwrap().insert(handoff.key.clone(), Box::new(value));
        Ok(())
    }

    /// What an earlier step left under `handoff`. The step must declare it consumes `handoff`;
    /// the pipeline then guarantees an earlier producer ran (see [`crate::Pipeline::check`]).
    pub fn handed<T: HandOffValue>(&self, handoff: &HandOff<T>) -> Result<T, StepError> {
        if self.meta.is_some_and(|meta| !meta.consumes.contains(&handoff.key)) {
            return Err(undeclared(self.step_id, "consumes", &handoff.key));
        }
        let handoffs = self.state.handoffs.lock().unwrap();
        handoffs.get(&handoff.key).and_then(|v| v.downcast_ref::<T>()).cloned().ok_or_else(|| {
            StepError::new(format!("`{}` was not handed over to {} by an earlier step", handoff.key, self.step_id))
                .with_help(format!(
                    "a step `{}` must run before it in the same pipeline; this is a bug in how the pipeline was assembled",
                    handoff.key.made_by
                ))
        })
    }

    /// The run's session with the crate registry of `settings`: the token chosen and the
    /// index read once per run; retries are announced as the step's warnings.
    pub(crate) async fn crates(
        &self,
        settings: &crate::crates::CratesSettings,
    ) -> Result<std::sync::Arc<crate::crates::session::CratesSession>, StepError> {
        let announce = |notice: &crate::net::RetryNotice| self.warn(notice.to_string());
        self.state.sessions.crates(settings, &self.state.env, &announce).await
    }

    /// The run's GitHub session for `config` (one client per API and token per run, paced
    /// from the start), its failures classified: see [`crate::github::session::GithubApi`].
    pub(crate) fn github(
        &self,
        config: &crate::config::GithubConfig,
        network: &crate::config::NetworkConfig,
    ) -> Result<crate::github::session::GithubApi<'_>, StepError> {
        use crate::github::diagnose::GithubError;
        let target = crate::github::target::resolve(config, self.env()).map_err(GithubError::from)?;
        let client = self
            .state
            .sessions
            .github(&target, network)
            .map_err(|e| GithubError::classify(e, &target))?
            .announcing(self);
        Ok(crate::github::session::GithubApi { target, client })
    }

    /// A push-scoped handle on `reference`'s repository: the run's session with its registry,
    /// logged in for pushing (a refusal is diagnosed, naming `what`), retries announced as the
    /// step's warnings.
    pub(crate) async fn push_scope(
        &self,
        reference: &crate::oci::reference::ChartReference,
        what: &str,
        settings: &crate::oci::OciSettings,
    ) -> Result<crate::oci::registry::Registry<'_>, StepError> {
        let session = self.registry(&reference.registry, settings).await;
        session.push_scope(reference, what, &settings.network, self).await
    }

    /// The run's session with the registry `host`: credentials resolved once per run. The step
    /// that resolves them reports their warnings; every step says where they came from.
    pub(crate) async fn registry(
        &self,
        host: &str,
        settings: &crate::oci::OciSettings,
    ) -> std::sync::Arc<crate::oci::session::RegistrySession> {
        let (session, first) = self.state.sessions.registry(host, settings, &self.state.env, self).await;
        if first {
            for warning in session.credentials.warnings() {
                self.warn(warning);
            }
        }
        self.progress(format!("credentials for {host}: {}", session.credentials.source));
        session
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

/// A retry is announced as a warning of the step.
impl crate::net::RetryListener for StepContext<'_> {
    fn retrying(&self, notice: &crate::net::RetryNotice) {
        self.warn(notice.to_string());
    }
}

/// The step's context is how domain code (`shell`, `crates`, `github::assets`) reports.
impl crate::io::Io for StepContext<'_> {
    fn env(&self) -> &Environment {
        &self.state.env
    }
    fn cancellation(&self) -> &Cancellation {
        &self.state.cancel
    }
    fn progress(&self, message: String) {
        StepContext::progress(self, message)
    }
    fn output_line(&self, line: String) {
        StepContext::output_line(self, line)
    }
    fn bytes(&self, done: u64, total: Option<u64>) {
        StepContext::bytes(self, done, total)
    }
    fn warn(&self, message: String) {
        StepContext::warn(self, message)
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

fn undeclared(step: &str, verb: &str, key: &HandOffKey) -> StepError {
    StepError::new(format!("{step} uses the hand-off `{key}` but its StepMeta does not say it {verb} it"))
        .with_help(format!("add `.{verb}(&…)` for `{key}` to the step's StepMeta"))
}
