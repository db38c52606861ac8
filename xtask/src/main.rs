//! `cargo xtask`: this repository's own automation, and the reference example of embedding
//! `release-core` in a repository's xtask (see `docs/embedding.md`).
//!
//! - `cargo xtask release [plan|preflight|run] [--snapshot|--dry-run]` releases this
//!   repository from its own `release.toml`, with one step of its own (the changelog check).
//! - `cargo xtask bench [--small] [--only KEY]` measures our costs against peer tools (see `bench/mod.rs`).

mod bench;

use std::process::ExitCode;

use anyhow::{Context, bail};
use camino::Utf8PathBuf;
use release_core::runner::format_duration;
use release_core::{
    Config, Effect, Environment, Event, Mode, Overrides, Reporter, Stage, Step, StepContext, StepError, StepResult,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("release") => release(&args[1..]),
        Some("bench") => {
            let small = args[1..].iter().any(|a| a == "--small");
            let only = args[1..].iter().position(|a| a == "--only").and_then(|i| args.get(i + 2)).cloned();
            bench::run(&workspace_root(), &bench::Options { small, only }).map(|()| 0)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask release [plan|preflight|run] [--snapshot|--dry-run]\n       cargo xtask bench [--small] [--only KEY]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn workspace_root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

fn release(args: &[String]) -> anyhow::Result<u8> {
    let (command, flags) = match args.first().map(String::as_str) {
        Some(c @ ("plan" | "preflight" | "run")) => (c, &args[1..]),
        _ => ("run", args),
    };
    let mut mode = match command {
        "preflight" => Mode::DryRun,
        _ => Mode::Release,
    };
    for flag in flags {
        mode = match flag.as_str() {
            "--snapshot" => Mode::Snapshot,
            "--dry-run" => Mode::DryRun,
            other => bail!("unknown argument `{other}`"),
        };
    }
    let config_path = workspace_root().join("release.toml");
    let config = Config::load(&config_path).map_err(StepError::from).context("loading the release config")?;
    let env = Environment::from_process();
    let mut pipeline = release_core::pipeline(&config, &env, mode, &Overrides::default()).map_err(StepError::from)?;
    pipeline.add_step(ChangelogMentionsVersion).map_err(StepError::from)?;

    if command == "plan" {
        for step in pipeline.plan().steps {
            let skipped = step.skipped.map(|s| format!(" [skipped: {s}]")).unwrap_or_default();
            println!("{:<9} {:<28} {}{skipped}", step.stage.name(), step.id, step.description);
        }
        return Ok(0);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    match runtime.block_on(pipeline.run(&Lines)) {
        Ok(report) => {
            println!("{}", report.dist);
            Ok(0)
        }
        Err(failure) => {
            eprintln!("{failure}");
            Ok(failure.kind.exit_code() as u8)
        }
    }
}

/// The xtask's own reporter: one line per event, to show that a front end can be this small.
struct Lines;

impl Reporter for Lines {
    fn report(&self, event: &Event) {
        match event {
            Event::StepStarted { id, description, .. } => eprintln!("==> {id}: {description}"),
            Event::Output { line, .. } => eprintln!("    {line}"),
            Event::Warning { id, message } => eprintln!("warning: {id}: {message}"),
            Event::StepSkipped { id, reason, .. } => eprintln!("    skip {id}: {reason}"),
            Event::StepFinished { id, elapsed, .. } => eprintln!("    ok {id} ({})", format_duration(*elapsed)),
            Event::StepFailed { id, .. } => eprintln!("    FAIL {id}"),
            _ => {}
        }
    }
}

/// This repository's own step: refuse to release a version the changelog does not mention.
#[derive(Debug)]
struct ChangelogMentionsVersion;

#[async_trait::async_trait]
impl Step for ChangelogMentionsVersion {
    fn id(&self) -> String {
        "preflight:changelog".into()
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Check
    }
    fn description(&self) -> String {
        "check that CHANGELOG.md has a section for this version".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let release = cx.release();
        let path = release.root.join("CHANGELOG.md");
        let text = std::fs::read_to_string(&path).map_err(|e| StepError::new(format!("cannot read {path}: {e}")))?;
        let heading = format!("## {}", release.version);
        if text.lines().any(|line| line.starts_with(&heading)) {
            Ok(Some(format!("CHANGELOG.md mentions {}", release.version)))
        } else {
            Err(StepError::new(format!("{path} has no `{heading}` section"))
                .with_help("add the release notes for this version to CHANGELOG.md"))
        }
    }
}
