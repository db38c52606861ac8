//! Arguments, subcommands and exit codes.
//!
//! Exit codes: 0 success; 1 a step failed; 2 usage or configuration error; 3 a preflight
//! probe failed (nothing was built or published); 130 interrupted.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use clap::{Args, Parser, Subcommand};
use release_core::{Cancellation, Config, Environment, FailureKind, Mode, Overrides, RunFailure, Scope, StepError};

use crate::errors::usage_error;
use crate::progress::{Verbosity, reporter_for_stderr};
use crate::redact::redact;
use release_core::Redacting;

#[derive(Debug, Parser)]
#[command(name = "release", version, about = "Plan, prove, build, sign and publish a release", long_about = None)]
pub(crate) struct Cli {
    /// The release configuration file.
    #[arg(long, global = true, default_value = "release.toml", value_name = "PATH", value_parser = utf8_path())]
    config: Utf8PathBuf,
    /// Show more: every subprocess line, credential sources, timings.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Show only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print a machine-readable result (plan or run report) as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the ordered steps of a release, with their stages, without running anything.
    Plan(PlanArgs),
    /// Run the preflight probes only: prove every permission and credential.
    Preflight(ReleaseArgs),
    /// Run the release.
    Run(RunArgs),
    /// Build one target of a matrix release on this runner, for the final job to gather.
    Build(BuildArgs),
    /// Write a new cosign-compatible key pair; the password comes from COSIGN_PASSWORD.
    Keygen(crate::keygen::KeygenArgs),
    /// Verify downloaded files against their .sig files and public key, or their Sigstore bundles.
    Verify(crate::verify::VerifyArgs),
    /// Write release.toml and .github/workflows/release.yml for this repository.
    Init(crate::workflow::InitArgs),
    /// Check that the workflow jobs running the release get the permissions it needs.
    Audit(crate::workflow::AuditArgs),
}

#[derive(Debug, Args)]
struct ReleaseArgs {
    /// Release this version instead of the one in the config.
    #[arg(long, value_name = "SEMVER")]
    release_version: Option<semver::Version>,
    /// Collect artifacts here instead of the config's dist directory.
    #[arg(long, value_name = "DIR", value_parser = utf8_path())]
    dist: Option<Utf8PathBuf>,
    /// Release a work tree with uncommitted changes to tracked files, or a directory outside
    /// git, as it is (the run's report says so).
    #[arg(long)]
    allow_dirty: bool,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    release: ReleaseArgs,
    /// Plan a snapshot run.
    #[arg(long)]
    snapshot: bool,
    /// Print the build matrix for `strategy.matrix` as one line of JSON (in GitHub Actions
    /// also the job output `matrix`).
    #[arg(long)]
    matrix: bool,
    /// Write the plan manifest every job of a matrix release shares to this file.
    #[arg(long, value_name = "FILE", value_parser = utf8_path())]
    manifest: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
struct BuildArgs {
    #[command(flatten)]
    release: ReleaseArgs,
    /// The target to build: one of the `targets` of release.toml's [[build]]s.
    #[arg(long, value_name = "TRIPLE")]
    target: String,
    /// The plan manifest of the matrix release (from `release plan --manifest`); this job
    /// refuses to build when its own checkout plans something else.
    #[arg(long, value_name = "FILE", value_parser = utf8_path())]
    plan: Option<Utf8PathBuf>,
    /// Ignore the journal of an earlier run that failed.
    #[arg(long)]
    fresh: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    release: ReleaseArgs,
    /// Do everything that has no remote effect: checks, build, package, sign, verify.
    #[arg(long, conflicts_with = "dry_run")]
    snapshot: bool,
    /// Plan and run the preflight probes, nothing else.
    #[arg(long)]
    dry_run: bool,
    /// Ignore the journal of an earlier run that failed: run every step again instead of
    /// resuming.
    #[arg(long)]
    fresh: bool,
    /// The plan manifest of a matrix release (from `release plan --manifest`).
    #[arg(long, value_name = "FILE", value_parser = utf8_path())]
    plan: Option<Utf8PathBuf>,
    /// Gather the targets' builds from this directory (each runner's `release build`
    /// output, downloaded) instead of building them here. Needs --plan.
    #[arg(long, value_name = "DIR", value_parser = utf8_path(), requires = "plan")]
    gather: Option<Utf8PathBuf>,
}

/// Paths on the command line must be UTF-8: every path ends up as text in reports, the
/// journal and `--json`. Clap's own message ("invalid UTF-8 was detected") names neither the
/// argument nor a fix; this one does both.
fn utf8_path() -> impl clap::builder::TypedValueParser<Value = Utf8PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().try_map(|value| {
        Utf8PathBuf::from_path_buf(value.into()).map_err(|path| {
            format!(
                "the path {path:?} is not valid UTF-8\n  help: rename the file or directory to a UTF-8 name; release keeps every path as UTF-8 text in its reports"
            )
        })
    })
}

pub(crate) fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { FailureKind::Usage.exit_code() } else { 0 };
        }
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    crate::redact::install_panic_hook();
    // With --json stdout holds one JSON document and nothing else: workflow commands go to
    // stderr, which the Actions runner reads them from too.
    crate::actions::commands_to_stderr(cli.json);
    let env = Environment::from_process();
    // Before anything else is printed: inside GitHub Actions this registers every secret
    // with the runner.
    crate::redact::install(&env, &cli.config);
    match cli.command {
        Command::Plan(ref args) if args.matrix || args.manifest.is_some() => matrix_plan(&cli, &env, args),
        Command::Plan(ref args) => {
            let mode = if args.snapshot { Mode::Snapshot } else { Mode::Release };
            plan(&cli, &env, mode, &args.release)
        }
        Command::Preflight(ref args) => run(&cli, &env, Mode::DryRun, &overrides(args), verbosity),
        Command::Run(ref args) => {
            let mode = if args.dry_run {
                Mode::DryRun
            } else if args.snapshot {
                Mode::Snapshot
            } else {
                Mode::Release
            };
            let mut overrides = Overrides { fresh: args.fresh, ..overrides(&args.release) };
            if let Some(plan_path) = &args.plan {
                let plan = match load(&cli.config)
                    .and_then(|config| release_core::job_plan(&config, &env, &mut overrides, Some(plan_path)))
                {
                    Ok(plan) => plan,
                    Err(err) => return usage_error(&err),
                };
                if let Some(dir) = &args.gather {
                    overrides.scope = Scope::Gather { plan, dir: dir.clone() };
                }
            }
            run(&cli, &env, mode, &overrides, verbosity)
        }
        Command::Build(ref args) => {
            let mut overrides = Overrides { fresh: args.fresh, ..overrides(&args.release) };
            let plan = load(&cli.config).and_then(|config| {
                let plan = release_core::job_plan(&config, &env, &mut overrides, args.plan.as_deref())?;
                plan.target(&args.target)?;
                Ok(plan)
            });
            match plan {
                Ok(plan) => {
                    overrides.scope = Scope::Target { target: args.target.clone(), plan_id: plan.id };
                    run(&cli, &env, Mode::Release, &overrides, verbosity)
                }
                Err(err) => usage_error(&err),
            }
        }
        Command::Keygen(ref args) => crate::keygen::run(args, &env),
        Command::Verify(ref args) => crate::verify::run(args, &env, cli.json),
        Command::Init(ref args) => crate::workflow::init(&cli.config, args, &env),
        Command::Audit(_) => crate::workflow::audit(&cli.config, &env, cli.json),
    }
}

fn overrides(args: &ReleaseArgs) -> Overrides {
    Overrides {
        version: args.release_version.clone(),
        dist: args.dist.clone(),
        allow_dirty: args.allow_dirty,
        ..Overrides::default()
    }
}

fn load(path: &Utf8Path) -> Result<Config, StepError> {
    Config::load(path).map_err(StepError::from)
}

fn plan(cli: &Cli, env: &Environment, mode: Mode, args: &ReleaseArgs) -> i32 {
    let (config, pipeline) = match load(&cli.config).and_then(|config| {
        let pipeline = release_core::pipeline(&config, env, mode, &overrides(args)).map_err(StepError::from)?;
        Ok((config, pipeline))
    }) {
        Ok(p) => p,
        Err(err) => return usage_error(&err),
    };
    // A pipeline whose hand-offs do not line up is refused here, as a run would refuse it.
    if let Err(problems) = pipeline.check() {
        let mut code = 2;
        for problem in problems {
            code = usage_error(&StepError::from(problem));
        }
        return code;
    }
    let plan = pipeline.plan();
    // What the release claims to be, and where each part was read (git, cargo, the charts).
    let identity = match release_core::identity(&config, env, &overrides(args)) {
        Ok(identity) => identity,
        Err(err) => return usage_error(&StepError::from(err)),
    };
    let mut out = std::io::stdout().lock();
    let written = if cli.json {
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            plan: &'a release_core::Plan,
            identity: &'a release_core::Identity,
        }
        write_json(&mut out, &Shown { plan: &plan, identity: &identity })
    } else {
        (|| {
            writeln!(out, "release {} ({}), tag {}, {} mode", plan.version, plan.dist, plan.tag, plan.mode.name())?;
            for line in identity.lines() {
                writeln!(out, "  {}", redact(&line))?;
            }
            // What `preflight:identity` will say of it.
            let (refusals, warnings) = identity.verdict(mode, args.allow_dirty);
            for refusal in &refusals {
                writeln!(out, "  refused   {}", redact(&refusal.message))?;
            }
            for warning in &warnings {
                writeln!(out, "  warning   {}", redact(warning))?;
            }
            for (i, step) in plan.steps.iter().enumerate() {
                let skipped = step.skipped.as_deref().map(|s| format!("  [skipped: {s}]")).unwrap_or_default();
                let line =
                    format!("{:>3}. {:<9} {:<32} {}{}", i + 1, step.stage.name(), step.id, step.description, skipped);
                writeln!(out, "{}", redact(&line))?;
            }
            // The crates in the order the publish stage uploads them (read from the
            // workspace with `cargo metadata`).
            match release_core::crate_publish_order(&config, env) {
                Some(Ok(crates)) => writeln!(out, "crates, in publish order: {}", crates.join(" -> "))?,
                Some(Err(err)) => writeln!(out, "crates: cannot read the workspace: {}", redact(&err))?,
                None => {}
            }
            Ok(())
        })()
    };
    broken_pipe_is_ok(written)
}

/// `release plan --matrix` / `--manifest FILE`: the plan every job of a matrix release
/// shares, and the build matrix made from it.
fn matrix_plan(cli: &Cli, env: &Environment, args: &PlanArgs) -> i32 {
    let mut overrides = overrides(&args.release);
    let manifest = match load(&cli.config).and_then(|config| release_core::job_plan(&config, env, &mut overrides, None))
    {
        Ok(manifest) => manifest,
        Err(err) => return usage_error(&err),
    };
    if let Some(path) = &args.manifest
        && let Err(err) = manifest.write(path)
    {
        return usage_error(&StepError::from(err));
    }
    let matrix = serde_json::to_string(&manifest.matrix()).expect("a matrix serialises");
    if env.in_github_actions()
        && let Err(err) = crate::actions::write_output(env, "matrix", &matrix)
    {
        eprintln!("warning: cannot write the job output `matrix`: {err}");
    }
    let written = if cli.json && !args.matrix {
        write_json(&mut std::io::stdout().lock(), &manifest)
    } else if args.matrix {
        writeln!(std::io::stdout().lock(), "{}", redact(&matrix))
    } else {
        Ok(())
    };
    if let Some(path) = &args.manifest
        && !cli.quiet
    {
        eprintln!(
            "plan {} ({}): {} target(s), written to {path}",
            manifest.short_id(),
            manifest.tag,
            manifest.targets.len()
        );
    }
    broken_pipe_is_ok(written)
}

fn run(cli: &Cli, env: &Environment, mode: Mode, overrides: &Overrides, verbosity: Verbosity) -> i32 {
    let pipeline = match load(&cli.config)
        .and_then(|config| release_core::pipeline(&config, env, mode, overrides).map_err(StepError::from))
    {
        Ok(p) => p,
        Err(err) => return usage_error(&err),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return 1;
        }
    };
    let reporter = Redacting { inner: reporter_for_stderr(verbosity, env), redactor: crate::redact::redactor() };
    let cancel = Cancellation::new();
    // The handlers are in place before the first step starts: a signal that arrives while a
    // step runs is always seen (listening inside the spawned task raced the pipeline under load).
    let signals = {
        let _inside = runtime.enter();
        Signals::listen()
    };
    runtime.spawn(interrupt_on_signals(cancel.clone(), signals));
    let result = runtime.block_on(pipeline.run_with(&reporter, cancel));
    drop(reporter);
    let report = match &result {
        Ok(report) => report,
        Err(failure) => &failure.report,
    };
    if env.in_github_actions()
        && let Err(err) = crate::actions::write_summary_and_outputs(env, report)
    {
        eprintln!("warning: cannot write the job summary or outputs: {err}");
    }
    if cli.json {
        let _ = write_json(&mut std::io::stdout().lock(), report);
    }
    match result {
        Ok(report) => {
            if !cli.json && mode != Mode::DryRun {
                // The one line scripts may read: where the release was collected.
                let dist = std::fs::canonicalize(&report.dist).map(|p| p.display().to_string());
                println!("{}", redact(&dist.unwrap_or_else(|_| report.dist.to_string())));
            }
            0
        }
        Err(failure) => {
            print_failure(&failure, verbosity);
            failure.kind.exit_code()
        }
    }
}

/// The first Ctrl-C or SIGTERM interrupts the run cleanly: no further step starts, a probe
/// still undoes its write, a release stays a draft. The second exits at once.
async fn interrupt_on_signals(cancel: Cancellation, signals: Option<Signals>) {
    let Some(mut signals) = signals else {
        return;
    };
    loop {
        signals.next().await;
        if cancel.is_cancelled() {
            // What a step had not undone yet stays: say what that can be.
            eprintln!(
                "interrupted again: exiting at once. Left as it was: a preflight probe's throwaway draft release \
                 (named `release preflight probe (safe to delete)`, a draft without a git tag: the next run deletes it) if the probe \
                 had not deleted it yet; a registry upload session (expires by itself); this run's draft release \
                 (run the release again to continue it)"
            );
            std::process::exit(FailureKind::Interrupted.exit_code());
        }
        eprintln!("interrupting: letting the running step clean up (press Ctrl-C again to exit at once)");
        cancel.cancel();
    }
}

/// The signals that interrupt a run. The streams live for the whole run: a signal that
/// arrives while the first one is being handled is kept for the next `recv`, not lost (a
/// fresh `ctrl_c()` per loop would miss it).
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn listen() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Signals {
            interrupt: signal(SignalKind::interrupt()).ok()?,
            terminate: signal(SignalKind::terminate()).ok()?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
    }
}

/// On Windows runners (a matrix build for a Windows target), Ctrl-C only.
#[cfg(windows)]
struct Signals(tokio::signal::windows::CtrlC);

#[cfg(windows)]
impl Signals {
    fn listen() -> Option<Signals> {
        tokio::signal::windows::ctrl_c().ok().map(Signals)
    }

    async fn next(&mut self) {
        self.0.recv().await;
    }
}

fn print_failure(failure: &RunFailure, _verbosity: Verbosity) {
    let mut err = std::io::stderr().lock();
    for (id, error) in &failure.failures {
        let _ = writeln!(err, "error: {id}: {}", redact(&error.full_message()));
        if let Some(help) = error.help() {
            let _ = writeln!(err, "  help: {}", redact(help).replace('\n', "\n        "));
        }
    }
    let _ = match failure.kind {
        FailureKind::Preflight => {
            writeln!(err, "preflight failed: nothing was built or published; resolve the above and run again")
        }
        FailureKind::Step => writeln!(
            err,
            "release failed: later steps did not run; once the cause above is fixed, the same command resumes from the failed step (--fresh to start over)"
        ),
        FailureKind::Interrupted => {
            writeln!(err, "interrupted: nothing further ran; run the same command again to resume")
        }
        FailureKind::Usage => Ok(()),
    };
}

/// Pretty JSON with every string redacted.
fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::from)?;
    writeln!(out, "{}", crate::redact::redactor().redact_json_text(&text))
}

fn broken_pipe_is_ok(result: std::io::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            1
        }
    }
}
