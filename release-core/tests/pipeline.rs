//! The runner's invariants, through the public library API an embedder uses.

use std::sync::{Arc, Mutex};

use camino::Utf8Path;
use release_core::event::Recorder;
use release_core::{
    Config, Effect, Environment, Event, FailureKind, Mode, Overrides, Pipeline, Release, Stage, Step, StepContext,
    StepError, StepResult,
};

/// A step that records when it ran into a shared journal and succeeds or fails on demand.
#[derive(Debug)]
struct Journaled {
    id: &'static str,
    stage: Stage,
    effect: Effect,
    fail: bool,
    journal: Arc<Mutex<Vec<&'static str>>>,
}

#[async_trait::async_trait]
impl Step for Journaled {
    fn id(&self) -> String {
        self.id.into()
    }
    fn stage(&self) -> Stage {
        self.stage
    }
    fn effect(&self) -> Effect {
        self.effect
    }
    fn description(&self) -> String {
        format!("journal {}", self.id)
    }
    async fn run(&self, _cx: &StepContext<'_>) -> StepResult {
        self.journal.lock().unwrap().push(self.id);
        if self.fail { Err(StepError::new(format!("{} failed on purpose", self.id))) } else { Ok(None) }
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

fn step(
    id: &'static str,
    stage: Stage,
    effect: Effect,
    fail: bool,
    journal: &Arc<Mutex<Vec<&'static str>>>,
) -> Journaled {
    Journaled { id, stage, effect, fail, journal: journal.clone() }
}

#[tokio::test]
async fn an_embedder_step_added_first_still_runs_after_every_probe() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("custom:upload", Stage::Publish, Effect::Publish, false, &journal)).unwrap();
    pipeline.add_step(step("custom:compile", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("custom:probe", Stage::Preflight, Effect::Probe, false, &journal)).unwrap();
    let ids: Vec<String> = pipeline.plan().steps.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["custom:probe", "custom:compile", "custom:upload"]);
    pipeline.run(&Recorder::default()).await.unwrap();
    assert_eq!(*journal.lock().unwrap(), ["custom:probe", "custom:compile", "custom:upload"]);
}

#[tokio::test]
async fn a_failed_probe_means_no_later_step_starts() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("custom:build", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("probe:a", Stage::Preflight, Effect::Probe, true, &journal)).unwrap();
    pipeline.add_step(step("probe:b", Stage::Preflight, Effect::Check, true, &journal)).unwrap();
    let recorder = Recorder::default();
    let failure = pipeline.run(&recorder).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Preflight);
    assert_eq!(failure.kind.exit_code(), 3);
    // Every probe ran and every failure is reported, so one run shows every problem.
    let failed: Vec<&str> = failure.failures.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, ["probe:a", "probe:b"]);
    assert!(!journal.lock().unwrap().contains(&"custom:build"));
    assert!(!recorder.events().iter().any(|e| matches!(e, Event::StepStarted { id, .. } if id == "custom:build")));
}

#[tokio::test]
async fn a_failing_step_stops_the_run_and_later_steps_never_start() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(release(), Environment::empty(), Mode::Release);
    pipeline.add_step(step("build:one", Stage::Build, Effect::Local, false, &journal)).unwrap();
    pipeline.add_step(step("build:two", Stage::Build, Effect::Local, true, &journal)).unwrap();
    pipeline.add_step(step("publish:three", Stage::Publish, Effect::Publish, false, &journal)).unwrap();
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
        (Mode::Snapshot, vec!["check", "build"]),
        (Mode::DryRun, vec!["check", "probe"]),
        (Mode::Release, vec!["check", "probe", "build", "publish"]),
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
        fn id(&self) -> String {
            self.0.into()
        }
        fn stage(&self) -> Stage {
            Stage::Preflight
        }
        fn effect(&self) -> Effect {
            Effect::Check
        }
        fn description(&self) -> String {
            "wait for the other probe".into()
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
