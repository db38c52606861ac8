//! The runner's invariants, through the public library API an embedder uses.

use std::sync::{Arc, Mutex};

use camino::Utf8Path;
use release_core::Recorder;
use release_core::{
    Config, Effect, Environment, Event, FailureKind, HandOff, Mode, Overrides, Pipeline, Release, Stage, Step,
    StepContext, StepError, StepId, StepMeta, StepResult,
};

/// A step that records when it ran into a shared journal and succeeds or fails on demand.
#[derive(Debug)]
struct Journaled {
    kind: &'static str,
    stage: Stage,
    effect: Effect,
    fail: bool,
    journal: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Step for Journaled {
    fn meta(&self) -> StepMeta {
        StepMeta::new(StepId::new(self.stage, self.kind), self.effect, format!("journal {}", self.kind))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        self.journal.lock().unwrap().push(cx.step_id().to_owned());
        if self.fail { Err(StepError::new(format!("{} failed on purpose", cx.step_id()))) } else { Ok(None) }
    }
}

fn release() -> Release {
    Release {
        version: semver::Version::new(1, 0, 0),
        tag: "v1.0.0".into(),
        root: "/nonexistent/project".into(),
        dist: "/nonexistent/project/dist".into(),
    }
}

fn step(kind: &'static str, stage: Stage, effect: Effect, fail: bool, journal: &Arc<Mutex<Vec<String>>>) -> Journaled {
    Journaled { kind, stage, effect, fail, journal: journal.clone() }
}

#[tokio::test]
async fn an_embedder_step_added_first_still_runs_after_every_probe() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("custom-upload", Stage::Publish, Effect::Publish, false, &journal)).unwrap();
    pipeline.add_step(step("custom-compile", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("custom-probe", Stage::Preflight, Effect::Probe, false, &journal)).unwrap();
    let ids: Vec<String> = pipeline.plan().steps.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["preflight:custom-probe", "build:custom-compile", "publish:custom-upload"]);
    pipeline.run(&Recorder::default()).await.unwrap();
    assert_eq!(*journal.lock().unwrap(), ["preflight:custom-probe", "build:custom-compile", "publish:custom-upload"]);
}

#[tokio::test]
async fn a_failed_probe_means_no_later_step_starts() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("custom-build", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("probe-a", Stage::Preflight, Effect::Probe, true, &journal)).unwrap();
    pipeline.add_step(step("probe-b", Stage::Preflight, Effect::Check, true, &journal)).unwrap();
    let recorder = Recorder::default();
    let failure = pipeline.run(&recorder).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Preflight);
    assert_eq!(failure.kind.exit_code(), 3);
    // Every probe ran and every failure is reported, so one run shows every problem.
    let failed: Vec<&str> = failure.failures.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, ["preflight:probe-a", "preflight:probe-b"]);
    assert!(!journal.lock().unwrap().iter().any(|id| id == "build:custom-build"));
    assert!(
        !recorder.events().iter().any(|e| matches!(e, Event::StepStarted { id, .. } if id == "build:custom-build"))
    );
}

#[tokio::test]
async fn a_failing_step_stops_the_run_and_later_steps_never_start() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("one", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("two", Stage::Build, Effect::Local, true, &journal)).unwrap();
    pipeline.add_step(step("three", Stage::Publish, Effect::Publish, false, &journal)).unwrap();
    let failure = pipeline.run(&Recorder::default()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Step);
    assert_eq!(*journal.lock().unwrap(), ["build:one", "build:two"]);
    let statuses: Vec<String> = failure.report.steps.iter().map(|s| format!("{}={:?}", s.id, s.status)).collect();
    assert_eq!(statuses, ["build:one=Ok", "build:two=Failed", "publish:three=NotRun"]);
}

#[test]
fn a_preflight_step_that_publishes_is_refused() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    let err = pipeline.add_step(step("sneaky", Stage::Preflight, Effect::Publish, false, &journal)).unwrap_err();
    assert!(err.to_string().contains("preflight stage but declares effect"), "{err}");
}

#[tokio::test]
async fn snapshot_skips_remote_effects_and_dry_run_stops_after_preflight() {
    for (mode, expected) in [
        (Mode::Snapshot, vec!["preflight:check", "build:build"]),
        (Mode::DryRun, vec!["preflight:check", "preflight:probe"]),
        (Mode::Release, vec!["preflight:check", "preflight:probe", "build:build", "publish:publish"]),
    ] {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let mut pipeline = Pipeline::new(release(), Environment::empty(), mode);
        pipeline.add_step(step("check", Stage::Preflight, Effect::Check, false, &journal)).unwrap();
        pipeline.add_step(step("probe", Stage::Preflight, Effect::Probe, false, &journal)).unwrap();
        pipeline.add_step(step("build", Stage::Build, Effect::Local, false, &journal)).unwrap();
        pipeline.add_step(step("publish", Stage::Publish, Effect::Publish, false, &journal)).unwrap();
        pipeline.run(&Recorder::default()).await.unwrap();
        let mut ran = journal.lock().unwrap().clone();
        ran.sort_by_key(|id| expected.iter().position(|e| e == id));
        assert_eq!(ran, expected, "{mode:?}");
    }
}

/// Two probes that can only finish if both are running at the same time: preflight runs
/// its probes concurrently, so its duration is the slowest probe's, not the sum.
#[tokio::test]
async fn probes_run_concurrently() {
    #[derive(Debug)]
    struct Rendezvous(&'static str, Arc<tokio::sync::Barrier>);
    #[async_trait::async_trait]
    impl Step for Rendezvous {
        fn meta(&self) -> StepMeta {
            StepMeta::new(StepId::new(Stage::Preflight, self.0), Effect::Check, "wait for the other probe")
        }
        async fn run(&self, _cx: &StepContext<'_>) -> StepResult {
            self.1.wait().await;
            Ok(None)
        }
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::DryRun);
    pipeline.add_step(Rendezvous("a", barrier.clone())).unwrap();
    pipeline.add_step(Rendezvous("b", barrier)).unwrap();
    let recorder = Recorder::default();
    let run = tokio::time::timeout(std::time::Duration::from_secs(30), pipeline.run(&recorder));
    run.await.expect("the probes met: they ran at the same time").unwrap();
}

#[test]
fn planning_performs_no_io() {
    // Every path points into a directory that does not exist: planning must neither read
    // nor create anything there, and must not fail because of it.
    let text = r#"
        [project]
        version = "2.0.0"
        [[build]]
        name = "app"
        command = ["make", "dist"]
        dir = "sub/dir"
        artifacts = ["out/app"]
    "#;
    let config = Config::parse(text, Utf8Path::new("/nonexistent/project/release.toml")).unwrap();
    let pipeline =
        release_core::pipeline(&config, &Environment::empty(), Mode::Release, &Overrides::default()).unwrap();
    let plan = pipeline.plan();
    assert_eq!(plan.version, "2.0.0");
    assert!(plan.steps.iter().any(|s| s.id == "build:app"));
    assert!(!Utf8Path::new("/nonexistent").exists());
}

/// A step that hands a value on, and one that reads it: an embedder's pair.
#[derive(Debug)]
struct Maker(Stage, &'static str);
#[derive(Debug)]
struct Reader(Stage, &'static str, Arc<Mutex<Vec<String>>>);

fn notes() -> HandOff<String> {
    HandOff::new("release-notes", "build:notes")
}

#[async_trait::async_trait]
impl Step for Maker {
    fn meta(&self) -> StepMeta {
        StepMeta::new(StepId::new(self.0, self.1), Effect::Local, "write the notes").produces(&notes())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        cx.hand_off(&notes(), "notes text".to_owned())?;
        Ok(None)
    }
}

#[async_trait::async_trait]
impl Step for Reader {
    fn meta(&self) -> StepMeta {
        StepMeta::new(StepId::new(self.0, self.1), Effect::Local, "read the notes").consumes(&notes())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        self.2.lock().unwrap().push(cx.handed(&notes())?);
        Ok(None)
    }
}

#[tokio::test]
async fn a_hand_off_reaches_the_step_that_declares_it() {
    let read = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(Reader(Stage::Package, "reader", read.clone())).unwrap();
    pipeline.add_step(Maker(Stage::Build, "notes")).unwrap();
    pipeline.check().unwrap();
    pipeline.run(&Recorder::default()).await.unwrap();
    assert_eq!(*read.lock().unwrap(), ["notes text"]);
}

#[tokio::test]
async fn a_consumer_without_an_earlier_producer_is_refused_before_anything_runs() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let read = Arc::new(Mutex::new(Vec::new()));
    // The producer comes after the consumer: refused, naming both.
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("probe", Stage::Preflight, Effect::Probe, false, &journal)).unwrap();
    pipeline.add_step(Reader(Stage::Build, "reader", read.clone())).unwrap();
    pipeline.add_step(Maker(Stage::Package, "notes")).unwrap();
    let problems = pipeline.check().unwrap_err();
    let text = problems[0].to_string();
    assert!(text.contains("`build:reader` consumes `release-notes`"), "{text}");
    assert!(text.contains("only package:notes does"), "{text}");
    let failure = pipeline.run(&Recorder::default()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Usage);
    assert_eq!(failure.kind.exit_code(), 2);
    assert!(journal.lock().unwrap().is_empty(), "not even a probe ran");

    // No producer at all: the message names the step kind that makes it.
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(Reader(Stage::Publish, "reader", read.clone())).unwrap();
    let problems = pipeline.check().unwrap_err();
    let error = StepError::from(problems.into_iter().next().unwrap());
    assert!(error.message().contains("no earlier step that runs in release mode produces it"), "{error}");
    assert!(error.help().unwrap().contains("a `build:notes` step"), "{error:?}");
    assert!(read.lock().unwrap().is_empty());
}

#[test]
fn a_resumable_step_may_not_produce_a_hand_off() {
    #[derive(Debug)]
    struct Resumable;
    #[async_trait::async_trait]
    impl Step for Resumable {
        fn meta(&self) -> StepMeta {
            StepMeta::new(StepId::new(Stage::Build, "notes"), Effect::Local, "x").resumable().produces(&notes())
        }
        async fn run(&self, _cx: &StepContext<'_>) -> StepResult {
            Ok(None)
        }
    }
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    let err = pipeline.add_step(Resumable).unwrap_err();
    assert!(err.to_string().contains("resumable but produces the hand-off `release-notes`"), "{err}");
}

/// A snapshot of a release with targets builds what this machine builds natively: the host's
/// target, as a local cargo-dist build does; the release itself builds every target.
#[test]
#[allow(clippy::disallowed_methods)] // the test asks rustc itself, as a reference
fn a_snapshot_builds_the_hosts_target_and_a_release_every_target() {
    let out = std::process::Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let host = text.lines().find_map(|l| l.strip_prefix("host: ")).unwrap().trim().to_owned();
    let other = if host.contains("apple") { "x86_64-pc-windows-msvc" } else { "aarch64-apple-darwin" };
    let dir = tempfile::tempdir().unwrap();
    let root = camino::Utf8Path::from_path(dir.path()).unwrap();
    let toml = format!(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"true\"]\nartifacts = [{{ path = \"out/app\", name = \"app-{{target}}\" }}]\ntargets = [\"{host}\", \"{other}\"]\n"
    );
    let config = release_core::Config::parse(&toml, &root.join("release.toml")).unwrap();
    let env = release_core::Environment::from_process();
    let builds = |mode: Mode| -> Vec<String> {
        let pipeline = release_core::pipeline(&config, &env, mode, &Default::default()).unwrap();
        pipeline.plan().steps.into_iter().map(|s| s.id).filter(|id| id.starts_with("build:app")).collect()
    };
    assert_eq!(builds(Mode::Snapshot), [format!("build:app:{host}")]);
    assert_eq!(builds(Mode::Release), [format!("build:app:{host}"), format!("build:app:{other}")]);
}
