//! `cargo xtask`: this repository's own automation, and the reference example of embedding
//! `release-core` in a repository's xtask (see `docs/embedding.md`).
//!
//! - `cargo xtask release [plan|preflight|run] [--snapshot|--dry-run]` releases this
//!   repository from its own `release.toml`, with one step of its own (the changelog check);
//!   `plan --matrix [--manifest F]`, `build --target T [--plan F]` and
//!   `run --plan F --gather DIR` are the builds across runners, as in the `release` binary.
//! - `cargo xtask bench [--small] [--only KEY]` measures our costs against peer tools: it runs
//!   the `bench` crate (`bench/src/main.rs`), so that the test servers it starts are never
//!   compiled into this xtask.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};
use clap::{Args, Parser, Subcommand};
use release_core::actions::{append_github_output, output_line};
use release_core::{
    Config, Effect, Environment, Event, Mode, Overrides, Pipeline, Reporter, Scope, Stage, Step, StepContext,
    StepError, StepId, StepMeta, StepResult,
};
use release_core::{Redacting, Redactor, format_duration, job_plan};

/// This repository's own automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
enum Xtask {
    /// Release this repository from its own release.toml (`run` when no command is given).
    Release(ReleaseArgs),
    /// Measure the tool against peer tools: `cargo xtask bench [--small] [--only KEY]`
    /// (docs/performance.md); runs the `bench` crate with these arguments.
    #[command(disable_help_flag = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ReleaseArgs {
    #[command(subcommand)]
    command: Option<ReleaseCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Print the plan; with `--matrix`, the build matrix for GitHub Actions.
    Plan {
        /// Print the build matrix (JSON) and write it to `$GITHUB_OUTPUT` in GitHub Actions.
        #[arg(long)]
        matrix: bool,
        /// Write the job plan (the manifest the build jobs and the final job share).
        #[arg(long, value_name = "FILE")]
        manifest: Option<Utf8PathBuf>,
        #[command(flatten)]
        mode: ModeArgs,
    },
    /// Run the preflight probes only.
    Preflight {
        #[command(flatten)]
        mode: ModeArgs,
    },
    /// Run the whole release.
    Run(RunArgs),
    /// One runner's build of one target.
    Build {
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
        #[arg(long, value_name = "FILE")]
        plan: Option<Utf8PathBuf>,
        #[command(flatten)]
        mode: ModeArgs,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The job plan (`plan --manifest`) this run follows.
    #[arg(long, value_name = "FILE")]
    plan: Option<Utf8PathBuf>,
    /// Gather the target builds from this directory (with `--plan`).
    #[arg(long, value_name = "DIR")]
    gather: Option<Utf8PathBuf>,
    #[command(flatten)]
    mode: ModeArgs,
}

#[derive(Debug, Args)]
struct ModeArgs {
    /// Everything local, nothing remote.
    #[arg(long, conflicts_with = "dry_run")]
    snapshot: bool,
    /// Stop after preflight.
    #[arg(long)]
    dry_run: bool,
    /// The dist directory instead of the config's.
    #[arg(long, value_name = "DIR")]
    dist: Option<Utf8PathBuf>,
    /// Release a work tree with uncommitted changes, or outside git, as it is.
    #[arg(long)]
    allow_dirty: bool,
}

fn main() -> ExitCode {
    let result = match Xtask::parse() {
        Xtask::Release(args) => release(args),
        Xtask::Bench { args } => bench(&args),
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

/// `cargo xtask bench ARGS`: `cargo run --package bench -- ARGS` with the cargo that runs
/// this xtask; the benchmarks ask cargo where it puts its output.
fn bench(args: &[String]) -> anyhow::Result<u8> {
    let cargo = Environment::from_process().get("CARGO").unwrap_or("cargo").to_owned();
    // A harness, not the library: its one subprocess is started here (clippy.toml).
    #[allow(clippy::disallowed_methods)]
    let mut command = std::process::Command::new(&cargo);
    let status = command
        .args(["run", "--quiet", "--package", "bench", "--"])
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot start `{cargo} run --package bench`"))?;
    Ok(status.code().map_or(2, |code| u8::try_from(code).unwrap_or(2)))
}

/// `cargo xtask release`: every line it prints, and every event of the run, passes through
/// the same redaction as the `release` binary's (see [`Front`]).
fn release(args: ReleaseArgs) -> anyhow::Result<u8> {
    let env = Environment::from_process();
    let config_path = workspace_root().join("release.toml");
    // Before anything is printed: in GitHub Actions this registers every secret with the
    // runner. The raw text, so that a config with an error still has its secrets masked.
    let config_text = std::fs::read_to_string(&config_path).unwrap_or_default();
    let front = Front::new(&env, &config_text, Arc::new(print_stdout), Arc::new(print_stderr));
    let redactor = front.redactor.clone();
    std::panic::set_hook(Box::new(move |info| print_stderr(&redactor.crash_message("cargo xtask", info))));
    match release_with(args, &env, &config_path, &front) {
        Ok(code) => Ok(code),
        Err(err) => {
            front.err(&format!("error: {err:#}"));
            Ok(2)
        }
    }
}

fn release_with(args: ReleaseArgs, env: &Environment, config_path: &Utf8Path, front: &Front) -> anyhow::Result<u8> {
    // The matrix flags, as the `release` binary has them (docs/github-actions.md).
    let (command, matrix, manifest, target, plan_file, gather, flags) = match args.command {
        Some(ReleaseCommand::Plan { matrix, manifest, mode }) => ("plan", matrix, manifest, None, None, None, mode),
        Some(ReleaseCommand::Preflight { mode }) => ("preflight", false, None, None, None, None, mode),
        Some(ReleaseCommand::Run(run)) => ("run", false, None, None, run.plan, run.gather, run.mode),
        Some(ReleaseCommand::Build { target, plan, mode }) => ("build", false, None, target, plan, None, mode),
        None => ("run", false, None, None, args.run.plan, args.run.gather, args.run.mode),
    };
    let mode = match (flags.snapshot, flags.dry_run, command) {
        (true, _, _) => Mode::Snapshot,
        (_, true, _) | (_, _, "preflight") => Mode::DryRun,
        _ => Mode::Release,
    };
    let mut overrides = Overrides { dist: flags.dist, allow_dirty: flags.allow_dirty, ..Overrides::default() };
    let config = Config::load(config_path).map_err(StepError::from).context("loading the release config")?;
    if matrix || manifest.is_some() {
        let plan = job_plan(&config, env, &mut overrides, None)?;
        if let Some(path) = &manifest {
            plan.write(path).map_err(StepError::from)?;
        }
        let json = serde_json::to_string(&plan.matrix())?;
        if env.in_github_actions() {
            append_github_output(env, &front.redactor.redact(&output_line("matrix", &json)))?;
        }
        if matrix {
            front.out(&json);
        }
        return Ok(0);
    }
    match (command, target) {
        ("build", Some(target)) => {
            let plan = job_plan(&config, env, &mut overrides, plan_file.as_deref())?;
            plan.target(&target).map_err(StepError::from)?;
            overrides.scope = Scope::Target { target, plan_id: plan.id };
        }
        ("build", None) => bail!("`cargo xtask release build` needs `--target TRIPLE`"),
        _ => {
            if let Some(path) = &plan_file {
                let plan = job_plan(&config, env, &mut overrides, Some(path))?;
                if let Some(dir) = gather {
                    overrides.scope = Scope::Gather { plan, dir };
                }
            } else if gather.is_some() {
                bail!("`--gather` needs `--plan FILE`");
            }
        }
    }
    let mut pipeline = release_core::pipeline(&config, env, mode, &overrides).map_err(StepError::from)?;
    if command != "build" {
        pipeline.add_step(ChangelogMentionsVersion).map_err(StepError::from)?;
    }

    if command == "plan" {
        for step in pipeline.plan().steps {
            let skipped = step.skipped.map(|s| format!(" [skipped: {s}]")).unwrap_or_default();
            front.out(&format!("{:<9} {:<28} {}{skipped}", step.stage.name(), step.id, step.description));
        }
        return Ok(0);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    Ok(runtime.block_on(front.run(&pipeline)))
}

/// How this xtask shows a release: one plain line per event ([`Lines`]) and the run's
/// outcome, every line through the run's redactor ([`Redactor::for_run`], the one the
/// `release` binary uses), so that a secret value — from a variable, or found by a step in a
/// docker config file or a credential helper — never shows, and in GitHub Actions is
/// registered with `::add-mask::` before anything could show it.
struct Front {
    redactor: Redactor,
    stdout: Printer,
    stderr: Printer,
}

/// Prints one line.
type Printer = Arc<dyn Fn(&str) + Send + Sync>;

impl Front {
    fn new(env: &Environment, config_text: &str, stdout: Printer, stderr: Printer) -> Self {
        let commands = stdout.clone();
        let redactor = Redactor::for_run(env, config_text, move |line| commands(line));
        Front { redactor, stdout, stderr }
    }

    fn out(&self, line: &str) {
        (self.stdout)(&self.redactor.redact(line));
    }

    fn err(&self, line: &str) {
        (self.stderr)(&self.redactor.redact(line));
    }

    /// Runs the pipeline, showing its events; the exit code.
    async fn run(&self, pipeline: &Pipeline) -> u8 {
        let reporter = Redacting {
            inner: Box::new(Lines { print: self.stderr.clone() }) as Box<dyn Reporter>,
            redactor: self.redactor.clone(),
        };
        match pipeline.run(&reporter).await {
            Ok(report) => {
                self.out(report.dist.as_str());
                0
            }
            Err(failure) => {
                self.err(&failure.to_string());
                failure.kind.exit_code() as u8
            }
        }
    }
}

fn print_stdout(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn print_stderr(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The xtask's own reporter: one line per event, to show that a front end can be this small.
/// Wrapped in [`Redacting`], it only ever sees redacted text.
struct Lines {
    print: Printer,
}

impl Reporter for Lines {
    fn report(&self, event: &Event) {
        let line = match event {
            Event::StepStarted { id, description, .. } => format!("==> {id}: {description}"),
            Event::Output { line, .. } => format!("    {line}"),
            Event::Warning { id, message, .. } => format!("warning: {id}: {message}"),
            Event::StepSkipped { id, reason, .. } => format!("    skip {id}: {reason}"),
            Event::StepFinished { id, elapsed, .. } => format!("    ok {id} ({})", format_duration(*elapsed)),
            Event::StepFailed { id, .. } => format!("    FAIL {id}"),
            _ => return,
        };
        (self.print)(&line);
    }
}

/// This repository's own step: refuse to release a version the changelog does not mention.
#[derive(Debug)]
struct ChangelogMentionsVersion;

#[async_trait::async_trait]
impl Step for ChangelogMentionsVersion {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "changelog"),
            Effect::Check,
            "check that CHANGELOG.md has a section for this version",
        )
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use release_core::{Release, StepResult};
    use release_core::{Secret, SecretSink, Source};

    use super::*;

    /// A preflight step that finds a secret (as the OCI credential chain does in a docker
    /// config file), then prints it and fails quoting it.
    #[derive(Debug)]
    struct FindsAndLeaks;

    #[async_trait::async_trait]
    impl Step for FindsAndLeaks {
        fn meta(&self) -> StepMeta {
            StepMeta::new(StepId::new(Stage::Preflight, "leaky"), Effect::Check, "find a credential and print it")
        }
        async fn run(&self, cx: &StepContext<'_>) -> StepResult {
            cx.secret_found(&Source("docker config config.json".into()), &Secret::new("found-in-docker-config-1"));
            cx.output_line("the config holds found-in-docker-config-1");
            cx.warn(format!("token {} from the environment", cx.env().get("XTASK_TOKEN").unwrap_or_default()));
            Err(StepError::new("the server answered: bad credential found-in-docker-config-1"))
        }
    }

    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<Vec<(&'static str, String)>>>);

    impl Collected {
        fn printer(&self, stream: &'static str) -> Printer {
            let lines = self.0.clone();
            Arc::new(move |line: &str| lines.lock().unwrap().push((stream, line.to_owned())))
        }
    }

    /// The three commands of a release across runners, through the xtask: the plan, one
    /// runner's build (two runners, two directories), and the final job gathering them.
    #[test]
    fn the_matrix_flow_runs_through_the_xtask() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
        let config = root.join("release.toml");
        std::fs::write(
            &config,
            "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && echo $RELEASE_TARGET > out/app\"]\ntargets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\nartifacts = [{ path = \"out/app\", name = \"app-{target}\" }]\n",
        )
        .unwrap();
        std::fs::write(root.join("CHANGELOG.md"), "## 1.0.0\n").unwrap();
        let outputs = root.join("outputs");
        let env = Environment::empty()
            .with("PATH", Environment::from_process().get("PATH").unwrap())
            .with("GITHUB_ACTIONS", "true")
            .with("GITHUB_OUTPUT", outputs.as_str());
        let printed = Collected::default();
        let front = Front::new(&env, "", printed.printer("stdout"), printed.printer("stderr"));
        let args = |line: &str| match Xtask::try_parse_from(["xtask", "release"].into_iter().chain(line.split(' '))) {
            Ok(Xtask::Release(args)) => args,
            other => panic!("{line}: {other:?}"),
        };
        let plan = root.join("plan.json");

        let code = release_with(args(&format!("plan --matrix --manifest {plan}")), &env, &config, &front).unwrap();
        assert_eq!(code, 0);
        let matrix = r#"{"include":[{"target":"x86_64-unknown-linux-gnu","runner":"ubuntu-latest"},{"target":"aarch64-apple-darwin","runner":"macos-latest"}]}"#;
        assert!(printed.0.lock().unwrap().contains(&("stdout", matrix.to_owned())));
        assert_eq!(std::fs::read_to_string(&outputs).unwrap(), format!("matrix={matrix}\n"));

        for (target, dist) in [("x86_64-unknown-linux-gnu", "a"), ("aarch64-apple-darwin", "b")] {
            let dist = root.join("gathered").join(dist);
            // The temporary directory is no git checkout: the runner's build releases it as it is.
            let line = format!("build --target {target} --plan {plan} --dist {dist} --allow-dirty");
            assert_eq!(release_with(args(&line), &env, &config, &front).unwrap(), 0, "{line}");
            assert!(dist.join(format!("release-build-{target}.json")).is_file());
        }
        let line = format!("run --snapshot --plan {plan} --gather {}", root.join("gathered"));
        assert_eq!(release_with(args(&line), &env, &config, &front).unwrap(), 0);
        let sums = std::fs::read_to_string(root.join("dist/SHA256SUMS")).unwrap();
        assert!(sums.contains("  app-aarch64-apple-darwin\n") && sums.contains("  app-x86_64-unknown-linux-gnu\n"));
        assert_eq!(
            std::fs::read_to_string(root.join("dist/app-aarch64-apple-darwin")).unwrap(),
            "aarch64-apple-darwin\n"
        );

        let err = release_with(args("build --plan x"), &env, &config, &front).unwrap_err();
        assert!(err.to_string().contains("needs `--target TRIPLE`"), "{err}");
        let err = release_with(args("run --gather x"), &env, &config, &front).unwrap_err();
        assert!(err.to_string().contains("`--gather` needs `--plan FILE`"), "{err}");
    }

    /// `cargo xtask release` compiles no test server: neither `release-tests` nor `bench` is
    /// in the xtask's build graph (cargo's own answer, `cargo tree`).
    #[test]
    fn the_xtask_does_not_build_the_test_servers() {
        let cargo = Environment::from_process().get("CARGO").unwrap_or("cargo").to_owned();
        // A test asking cargo, as the xtask's `bench` entry does (clippy.toml).
        #[allow(clippy::disallowed_methods)]
        let output = std::process::Command::new(cargo)
            .args(["tree", "--locked", "--package", "xtask", "--edges", "normal,build", "--prefix", "none"])
            .args(["--format", "{p}"])
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let tree = String::from_utf8(output.stdout).unwrap();
        assert!(tree.lines().any(|l| l.starts_with("release-core ")), "the tree is the xtask's: {tree}");
        for package in ["release-tests ", "bench ", "axum "] {
            assert!(!tree.lines().any(|l| l.starts_with(package)), "the xtask builds {package}: {tree}");
        }
    }

    #[tokio::test]
    async fn every_line_is_redacted_and_found_secrets_are_masked_first_in_actions() {
        let env = Environment::empty().with("GITHUB_ACTIONS", "true").with("XTASK_TOKEN", "xtask-token-value-1");
        let config = "[project]\nversion = \"1.0.0\"\n[github]\ntoken-env = \"XTASK_TOKEN\"\n";
        let printed = Collected::default();
        let front = Front::new(&env, config, printed.printer("stdout"), printed.printer("stderr"));
        let release = Release {
            version: semver::Version::new(1, 0, 0),
            tag: "v1.0.0".into(),
            root: "/nonexistent".into(),
            dist: "/nonexistent/dist".into(),
        };
        let mut pipeline = Pipeline::new(release, env.clone(), Mode::DryRun);
        pipeline.add_step(FindsAndLeaks).unwrap();
        assert_eq!(front.run(&pipeline).await, 3);
        front.err("error: the config names xtask-token-value-1");

        let lines = printed.0.lock().unwrap().clone();
        let text: Vec<String> = lines.iter().map(|(stream, line)| format!("{stream}: {line}")).collect();
        assert_eq!(text[0], "stdout: ::add-mask::xtask-token-value-1", "{text:#?}");
        let mask = text.iter().position(|l| l == "stdout: ::add-mask::found-in-docker-config-1");
        let printed_at = text.iter().position(|l| l.contains("the config holds ***"));
        assert!(mask.is_some() && mask < printed_at, "the found value is masked before its line: {text:#?}");
        assert!(text.iter().any(|l| l.contains("bad credential ***")), "{text:#?}");
        assert!(text.iter().any(|l| l.contains("warning: preflight:leaky: token *** from")), "{text:#?}");
        for line in text.iter().filter(|l| !l.starts_with("stdout: ::add-mask::")) {
            assert!(!line.contains("found-in-docker-config-1") && !line.contains("xtask-token-value-1"), "{line}");
        }
    }
}
