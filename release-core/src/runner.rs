//! The pipeline and its runner: the one place where steps are ordered and executed.
//!
//! Architecture invariant: no step outside the preflight stage starts before every
//! preflight probe has passed. The invariant is enforced here, for built-in steps and for
//! steps an embedder adds alike: [`Pipeline::add_step`] files a step under its stage, and the
//! later stages can only be run with a [`ProbesPassed`] token, which only the preflight phase
//! can mint.
//!
//! The runner also keeps the run's [journal](mod@crate::journal): after a failure, the next run
//! skips the local steps the failed one finished (when their files are unchanged) and
//! starts from the first step that needs doing; remote steps always run and re-check the
//! remote state themselves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use futures_util::future::join_all;
use serde::Serialize;

use crate::cancel::Cancellation;
use crate::env::Environment;
use crate::error::{FailureKind, StepError};
use crate::event::{Event, Reporter};
use crate::journal::{self, Journal, JournalSettings, JournalStatus, JournalStep};
use crate::plan::{Effect, Mode, PLAN_SCHEMA, Plan, PlannedStep, Stage};
use crate::step::{Artifact, HandOffKey, Release, RunState, Step, StepContext, StepMeta};

/// An ordered set of steps for one release.
#[derive(Debug)]
pub struct Pipeline {
    release: Release,
    env: Environment,
    mode: Mode,
    steps: Vec<Entry>,
    journal: Option<JournalSettings>,
}

/// A step with its metadata, read once when it was added.
#[derive(Debug)]
struct Entry {
    meta: StepMeta,
    /// `meta.id` as text: the key of the plan, the journal and every event.
    id: String,
    step: Box<dyn Step>,
}

impl Entry {
    fn stage(&self) -> Stage {
        self.meta.stage()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("step `{id}` is in the preflight stage but declares effect `{effect:?}`")]
    ProbeWithEffect { id: String, effect: Effect },
    #[error("two steps have the id `{id}`")]
    DuplicateId { id: String },
    #[error("step `{id}` is resumable but produces the hand-off `{handoff}`, which the journal does not keep")]
    ResumableProducer { id: String, handoff: String },
    #[error("step `{consumer}` consumes `{handoff}`, but no earlier step that runs in {mode} mode produces it{later}")]
    MissingProducer { consumer: String, handoff: String, made_by: String, mode: &'static str, later: String },
}

impl crate::error::Diagnose for PipelineError {
    fn help(&self) -> Option<String> {
        Some(match self {
            PipelineError::ProbeWithEffect { .. } => {
                "a preflight step may only check (`Effect::Check`) or exercise and undo a remote write (`Effect::Probe`); move the step to a later stage".into()
            }
            PipelineError::DuplicateId { .. } => "give each step a distinct id".into(),
            PipelineError::ResumableProducer { .. } => {
                "drop `.resumable()` from the step's StepMeta, or hand on files (artifacts) instead".into()
            }
            PipelineError::MissingProducer { made_by, .. } => format!(
                "add the step that produces it (a `{made_by}` step) before this one, or remove the consumer; a step in the preflight stage cannot consume what another preflight step produces, since probes run at once"
            ),
        })
    }
}

impl Pipeline {
    /// An empty pipeline. Building one does no I/O.
    pub fn new(release: Release, env: Environment, mode: Mode) -> Self {
        Pipeline { release, env, mode, steps: Vec::new(), journal: None }
    }

    /// Keeps a journal of each run (see [`crate::journal`]) and resumes from it after a
    /// failure. Without this, every run starts afresh and nothing is written.
    pub fn set_journal(&mut self, settings: JournalSettings) {
        self.journal = Some(settings);
    }

    pub fn journal(&self) -> Option<&JournalSettings> {
        self.journal.as_ref()
    }

    pub fn release(&self) -> &Release {
        &self.release
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Adds a step. It is filed after every step of its own stage and before every step of
    /// a later stage, whatever order steps are added in.
    pub fn add_step(&mut self, step: impl Step + 'static) -> Result<(), PipelineError> {
        self.add_boxed(Box::new(step))
    }

    pub fn add_boxed(&mut self, step: Box<dyn Step>) -> Result<(), PipelineError> {
        let meta = step.meta();
        let (id, stage, effect) = (meta.id.to_string(), meta.stage(), meta.effect);
        if stage == Stage::Preflight && !matches!(effect, Effect::Check | Effect::Probe) {
            return Err(PipelineError::ProbeWithEffect { id, effect });
        }
        if self.steps.iter().any(|s| s.id == id) {
            return Err(PipelineError::DuplicateId { id });
        }
        if meta.resumable
            && let Some(handoff) = meta.produces.first()
        {
            return Err(PipelineError::ResumableProducer { id, handoff: handoff.to_string() });
        }
        let at = self.steps.iter().position(|s| s.stage() > stage).unwrap_or(self.steps.len());
        self.steps.insert(at, Entry { meta, id, step });
        Ok(())
    }

    /// Checks the hand-offs: every step that runs in this pipeline's mode gets everything it
    /// consumes from an earlier step that also runs (in a stage before its own when it is a
    /// probe, since probes run at once). Pure; `release plan` and every run call it first, so
    /// a mis-assembled pipeline (an embedder's included) is refused before anything runs.
    pub fn check(&self) -> Result<(), Vec<PipelineError>> {
        let mut problems = Vec::new();
        let runs = |e: &Entry| self.mode.skip_reason(e.stage(), e.meta.effect).is_none();
        for (index, consumer) in self.steps.iter().enumerate() {
            if !runs(consumer) {
                continue;
            }
            for wanted in &consumer.meta.consumes {
                let produced_before = self.steps[..index].iter().any(|producer| {
                    runs(producer)
                        && producer.meta.produces.contains(wanted)
                        && !(producer.stage() == Stage::Preflight && consumer.stage() == Stage::Preflight)
                });
                if !produced_before {
                    problems.push(missing_producer(consumer, wanted, &self.steps, self.mode));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The plan as data. Pure: no I/O.
    pub fn plan(&self) -> Plan {
        Plan {
            schema: PLAN_SCHEMA,
            mode: self.mode,
            version: self.release.version.to_string(),
            tag: self.release.tag.clone(),
            dist: self.release.dist.to_string(),
            steps: self
                .steps
                .iter()
                .map(|s| PlannedStep {
                    id: s.id.clone(),
                    stage: s.stage(),
                    effect: s.meta.effect,
                    description: s.meta.description.clone(),
                    skipped: self.mode.skip_reason(s.stage(), s.meta.effect).map(str::to_owned),
                })
                .collect(),
        }
    }

    /// Runs the pipeline: every preflight step at once, then, if all passed, every later
    /// step in order, stopping at the first failure.
    pub async fn run(&self, reporter: &dyn Reporter) -> Result<RunReport, RunFailure> {
        self.run_with(reporter, Cancellation::new()).await
    }

    /// [`Pipeline::run`], interruptible: once `cancel` fires no further step starts, and the
    /// running ones stop at their next safe point.
    pub async fn run_with(&self, reporter: &dyn Reporter, cancel: Cancellation) -> Result<RunReport, RunFailure> {
        let started = Instant::now();
        if let Err(problems) = self.check() {
            let failures = problems.into_iter().map(|p| ("pipeline".to_owned(), StepError::from(p))).collect();
            return Err(RunFailure { kind: FailureKind::Usage, failures, report: self.empty_report() });
        }
        // A pipeline with a journal writes into the dist directory (the journal lives there,
        // and `build:prepare-dist` empties it): the directory must be the tool's own, or
        // nothing runs (crate::dist).
        if self.journal.is_some()
            && let Err(err) = crate::dist::inspect(&self.release.dist)
        {
            return Err(RunFailure {
                kind: FailureKind::Usage,
                failures: vec![("dist".to_owned(), StepError::from(err))],
                report: self.empty_report(),
            });
        }
        let state = RunState::new(self.release.clone(), self.env.clone(), cancel.clone());
        let mut records = Vec::new();
        reporter.report(&Event::RunStarted {
            mode: self.mode.name().into(),
            version: self.release.version.to_string(),
            tag: self.release.tag.clone(),
            steps: self.steps.len(),
        });

        let (probes, later): (Vec<&Entry>, Vec<&Entry>) =
            self.steps.iter().partition(|s| s.stage() == Stage::Preflight);

        let gate = match self.preflight(&probes, &state, reporter, &mut records).await {
            Ok(gate) if !cancel.is_cancelled() => gate,
            Ok(_) => return Err(self.interrupted(started, &state, records, &later, reporter)),
            Err(failures) => {
                let kind = if cancel.is_cancelled() { FailureKind::Interrupted } else { FailureKind::Preflight };
                let report = self.finish(started, &state, records, &later, reporter, false);
                return Err(RunFailure { kind, failures, report });
            }
        };

        let mut journal = self.open_journal(reporter);
        let mut failure = None;
        for (index, step) in later.iter().enumerate() {
            if failure.is_some() {
                break;
            }
            if cancel.is_cancelled() {
                return Err(self.interrupted(started, &state, records, &later, reporter));
            }
            if let Some(journal) = &mut journal
                && let Some(record) = journal.reuse(step, &state, reporter)
            {
                records.push(record);
                continue;
            }
            if let Some(journal) = &mut journal
                && step.meta.effect == Effect::Local
            {
                // This local step runs again: what comes after it may depend on what it makes.
                journal.end_resume(&later[index..]);
            }
            let before = (state.artifacts(), state.outputs());
            let result = self.run_after_preflight(&gate, step, &state, reporter).await;
            if let Some(journal) = &mut journal {
                journal.record(step, result.is_ok(), &before, &state, reporter);
            }
            match result {
                Ok(record) => records.push(record),
                Err((record, error)) => {
                    records.push(record);
                    failure = Some((step.id.clone(), error));
                }
            }
        }
        let success = failure.is_none() && !cancel.is_cancelled();
        if let Some(journal) = &mut journal
            && success
        {
            journal.finish(reporter);
        }
        let success = failure.is_none();
        let report = self.finish(started, &state, records, &later, reporter, success);
        match failure {
            None => Ok(report),
            Some(failure) => {
                let kind = if cancel.is_cancelled() { FailureKind::Interrupted } else { FailureKind::Step };
                Err(RunFailure { kind, failures: vec![failure], report })
            }
        }
    }

    /// The report of a run refused before anything ran.
    fn empty_report(&self) -> RunReport {
        RunReport {
            mode: self.mode,
            version: self.release.version.to_string(),
            tag: self.release.tag.clone(),
            dist: self.release.dist.clone(),
            success: false,
            elapsed_ms: 0,
            steps: Vec::new(),
            artifacts: Vec::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// The journal this run writes, resuming the earlier one when it may. A dry run keeps
    /// none: it changes nothing worth resuming.
    fn open_journal(&self, reporter: &dyn Reporter) -> Option<JournalRun<'_>> {
        let settings = self.journal.as_ref().filter(|_| self.mode != Mode::DryRun)?;
        let fingerprint = journal::fingerprint(&self.plan(), &settings.context);
        let previous = if settings.fresh { None } else { Journal::resumable(&settings.path, &fingerprint) };
        if let Some(previous) = &previous {
            let done =
                previous.steps.iter().filter(|s| s.status == JournalStatus::Done).map(|s| s.id.clone()).collect();
            reporter.report(&Event::Resuming { journal: settings.path.to_string(), done });
        }
        // The new journal starts as the old one: a run that fails before reaching a step
        // keeps that step's earlier record for the next run.
        let current = previous.clone().unwrap_or_else(|| Journal::new(fingerprint));
        Some(JournalRun { path: &settings.path, resuming: previous.is_some(), current })
    }

    fn interrupted(
        &self,
        started: Instant,
        state: &RunState,
        records: Vec<StepRecord>,
        later: &[&Entry],
        reporter: &dyn Reporter,
    ) -> RunFailure {
        let report = self.finish(started, state, records, later, reporter, false);
        let error = StepError::new("the run was interrupted before this step")
            .with_help("nothing after the interrupted step ran; a draft release stays a draft. Run the same command again to resume");
        let next = report
            .steps
            .iter()
            .find(|s| s.status == StepStatus::NotRun)
            .map_or_else(|| "run".to_owned(), |s| s.id.clone());
        RunFailure { kind: FailureKind::Interrupted, failures: vec![(next, error)], report }
    }

    /// Runs every probe concurrently and collects every failure, so that one run shows every
    /// problem at once.
    async fn preflight(
        &self,
        probes: &[&Entry],
        state: &RunState,
        reporter: &dyn Reporter,
        records: &mut Vec<StepRecord>,
    ) -> Result<ProbesPassed, Vec<(String, StepError)>> {
        let results = join_all(probes.iter().map(|step| execute(step, self.mode, state, reporter))).await;
        let mut failures = Vec::new();
        for (step, result) in probes.iter().zip(results) {
            match result {
                Ok(record) => records.push(record),
                Err((record, error)) => {
                    records.push(record);
                    failures.push((step.id.clone(), error));
                }
            }
        }
        if failures.is_empty() { Ok(ProbesPassed(())) } else { Err(failures) }
    }

    /// The only way to run a step of a later stage: it takes the proof that preflight passed.
    async fn run_after_preflight(
        &self,
        _gate: &ProbesPassed,
        step: &Entry,
        state: &RunState,
        reporter: &dyn Reporter,
    ) -> Result<StepRecord, (StepRecord, StepError)> {
        execute(step, self.mode, state, reporter).await
    }

    fn finish(
        &self,
        started: Instant,
        state: &RunState,
        mut records: Vec<StepRecord>,
        later: &[&Entry],
        reporter: &dyn Reporter,
        success: bool,
    ) -> RunReport {
        for step in later {
            let id = step.id.clone();
            if !records.iter().any(|r| r.id == id) {
                records.push(StepRecord {
                    id,
                    stage: step.stage(),
                    status: StepStatus::NotRun,
                    elapsed_ms: 0,
                    summary: None,
                    error: None,
                });
            }
        }
        let elapsed = started.elapsed();
        reporter.report(&Event::RunFinished { elapsed, success });
        RunReport {
            mode: self.mode,
            version: self.release.version.to_string(),
            tag: self.release.tag.clone(),
            dist: self.release.dist.clone(),
            success,
            elapsed_ms: elapsed.as_millis() as u64,
            steps: records,
            artifacts: state.artifacts(),
            outputs: state.outputs(),
        }
    }
}

/// Proof that every preflight step passed. Only [`Pipeline::preflight`] makes one.
#[derive(Debug)]
struct ProbesPassed(());

/// The journal of the run in progress.
struct JournalRun<'a> {
    path: &'a Utf8Path,
    /// True while every local step so far was reused from the earlier run.
    resuming: bool,
    current: Journal,
}

/// What a skipped step's record and event say.
const DONE_EARLIER: &str = "done in an earlier run";

impl JournalRun<'_> {
    /// Reuses the earlier run's record of `step` instead of running it, if the step may be
    /// skipped: a resumable local step, in the unbroken prefix of reused steps, finished
    /// earlier, its files unchanged.
    fn reuse(&mut self, step: &Entry, state: &RunState, reporter: &dyn Reporter) -> Option<StepRecord> {
        if !self.resuming || step.meta.effect != Effect::Local || !step.meta.resumable {
            return None;
        }
        let id = step.id.clone();
        let earlier = self.current.step(&id)?;
        if let Err(stale) = earlier.verify() {
            reporter.report(&Event::StepProgress { id: id.clone(), message: format!("running again: {stale}") });
            return None;
        }
        state.restore(&earlier.artifacts, &earlier.outputs);
        reporter.report(&Event::StepSkipped { id: id.clone(), stage: step.stage(), reason: DONE_EARLIER.into() });
        Some(StepRecord {
            id,
            stage: step.stage(),
            status: StepStatus::DoneEarlier,
            elapsed_ms: 0,
            summary: Some(DONE_EARLIER.into()),
            error: None,
        })
    }

    /// Stops resuming: `from` and every step after it run, and their earlier records are
    /// forgotten.
    fn end_resume(&mut self, from: &[&Entry]) {
        self.resuming = false;
        let ids: Vec<String> = from.iter().map(|s| s.id.clone()).collect();
        self.current.steps.retain(|s| !ids.contains(&s.id));
    }

    /// Records what a step that ran did: the artifacts and outputs it added or changed.
    fn record(
        &mut self,
        step: &Entry,
        ok: bool,
        (artifacts_before, outputs_before): &(Vec<Artifact>, BTreeMap<String, String>),
        state: &RunState,
        reporter: &dyn Reporter,
    ) {
        let artifacts = state.artifacts().into_iter().filter(|a| !artifacts_before.contains(a)).collect();
        let outputs =
            state.outputs().into_iter().filter(|(k, v)| outputs_before.get(k) != Some(v)).collect::<BTreeMap<_, _>>();
        let status = if ok { JournalStatus::Done } else { JournalStatus::Failed };
        self.current.record(JournalStep { id: step.id.clone(), status, artifacts, outputs });
        self.save(reporter);
    }

    fn finish(&mut self, reporter: &dyn Reporter) {
        self.current.finished = true;
        self.save(reporter);
    }

    /// A journal that cannot be written costs the next run its resume, not this run its
    /// release: warn and go on.
    fn save(&self, reporter: &dyn Reporter) {
        if let Err(err) = self.current.save(self.path) {
            reporter.report(&Event::Warning {
                id: "journal".into(),
                message: format!("{err}; a run after a failure will start afresh"),
                locations: Vec::new(),
            });
        }
    }
}

async fn execute(
    step: &Entry,
    mode: Mode,
    state: &RunState,
    reporter: &dyn Reporter,
) -> Result<StepRecord, (StepRecord, StepError)> {
    let id = step.id.clone();
    let stage = step.stage();
    if let Some(reason) = mode.skip_reason(stage, step.meta.effect) {
        reporter.report(&Event::StepSkipped { id: id.clone(), stage, reason: reason.into() });
        return Ok(StepRecord {
            id,
            stage,
            status: StepStatus::Skipped,
            elapsed_ms: 0,
            summary: Some(reason.into()),
            error: None,
        });
    }
    reporter.report(&Event::StepStarted {
        id: id.clone(),
        stage,
        effect: step.meta.effect,
        description: step.meta.description.clone(),
    });
    let started = Instant::now();
    let cx = StepContext { state, meta: Some(&step.meta), step_id: &id, reporter };
    let mut result = step.step.run(&cx).await;
    if result.is_ok()
        && let Some(missing) = step.meta.produces.iter().find(|key| !state.has_handoff(key))
    {
        result = Err(StepError::new(format!(
            "{id} finished without handing over `{missing}`, which its StepMeta says it produces"
        ))
        .with_help("the step must call `hand_off` for everything it declares; this is a bug in the step"));
    }
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_millis() as u64;
    match result {
        Ok(summary) => {
            reporter.report(&Event::StepFinished { id: id.clone(), elapsed, summary: summary.clone() });
            Ok(StepRecord { id, stage, status: StepStatus::Ok, elapsed_ms, summary, error: None })
        }
        Err(error) => {
            reporter.report(&Event::StepFailed {
                id: id.clone(),
                elapsed,
                message: error.full_message(),
                help: error.help().map(str::to_owned),
                locations: error.locations().to_vec(),
            });
            let record = StepRecord {
                id,
                stage,
                status: StepStatus::Failed,
                elapsed_ms,
                summary: None,
                error: Some(ErrorRecord {
                    message: error.full_message(),
                    help: error.help().map(str::to_owned),
                    locations: error.locations().to_vec(),
                }),
            };
            Err((record, error))
        }
    }
}

/// What a run did, for `--json` and for embedders.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub mode: Mode,
    pub version: String,
    pub tag: String,
    pub dist: Utf8PathBuf,
    pub success: bool,
    pub elapsed_ms: u64,
    pub steps: Vec<StepRecord>,
    pub artifacts: Vec<Artifact>,
    pub outputs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub id: String,
    pub stage: Stage,
    pub status: StepStatus,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Ok,
    Failed,
    Skipped,
    /// Not run again: an earlier run that failed later finished it, and its files are
    /// unchanged (see [`crate::journal`]).
    DoneEarlier,
    /// A step that never started because an earlier one failed.
    NotRun,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorRecord {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The lines of files the failure is about (already listed in `message`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<crate::error::SourceLocation>,
}

/// A run that did not succeed: why, every failure, and what ran.
#[derive(Debug)]
pub struct RunFailure {
    pub kind: FailureKind,
    pub failures: Vec<(String, StepError)>,
    pub report: RunReport,
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (id, error)) in self.failures.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{id}: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RunFailure {}

/// Elapsed time as the reports show it.
pub fn format_duration(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn missing_producer(consumer: &Entry, wanted: &HandOffKey, steps: &[Entry], mode: Mode) -> PipelineError {
    let later: Vec<&str> = steps.iter().filter(|s| s.meta.produces.contains(wanted)).map(|s| s.id.as_str()).collect();
    let later = if later.is_empty() {
        String::new()
    } else {
        format!(" (only {} does, which does not run before it in this mode)", later.join(", "))
    };
    PipelineError::MissingProducer {
        consumer: consumer.id.clone(),
        handoff: wanted.to_string(),
        made_by: wanted.made_by().to_owned(),
        mode: mode.name(),
        later,
    }
}
