//! `cargo xtask`: this repository's own automation, and the reference example of embedding
//! `release-core` in a repository's xtask (see `docs/embedding.md`).
//!
//! - `cargo xtask release [plan|preflight|run] [--snapshot|--dry-run]` releases this
//!   repository from its own `release.toml`, with one step of its own (the changelog check);
//!   `plan --matrix [--manifest F]`, `build --target T [--plan F]` and
//!   `run --plan F --gather DIR` are the builds across runners, as in the `release` binary.
//! - `cargo xtask bench [--small] [--only KEY]` measures our costs against peer tools (see `bench/mod.rs`).

mod bench;

use std::process::ExitCode;

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};
use release_core::Redacting;
use release_core::Redactor;
use release_core::format_duration;
use release_core::job_plan;
use release_core::{
    Config, Effect, Environment, Event, Mode, Overrides, Pipeline, Reporter, Scope, Stage, Step, StepContext,
    StepError, StepId, StepMeta, StepResult,
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
                "usage: cargo xtask release [plan|preflight|run] [--snapshot|--dry-run]\n       cargo xtask release plan --matrix [--manifest FILE]\n       cargo xtask release build --target TRIPLE [--plan FILE] [--dist DIR]\n       cargo xtask release run --plan FILE --gather DIR\n       cargo xtask bench [--small] [--only KEY]"
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

/// `cargo xtask release`: every line it prints, and every event of the run, passes through
/// the same redaction as the `release` binary's (see [`Front`]).
fn release(args: &[String]) -> anyhow::Result<u8> {
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

fn release_with(args: &[String], env: &Environment, config_path: &Utf8Path, front: &Front) -> anyhow::Result<u8> {
    let (command, flags) = match args.first().map(String::as_str) {
        Some(c @ ("plan" | "preflight" | "run" | "build")) => (c, &args[1..]),
        _ => ("run", args),
    };
    let mut mode = match command {
        "preflight" => Mode::DryRun,
        _ => Mode::Release,
    };
    // The matrix flags, as the `release` binary has them (docs/github-actions.md).
    let (mut matrix, mut manifest, mut target, mut plan_file, mut gather) = (false, None, None, None, None);
    let mut overrides = Overrides::default();
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let mut value = || flags.next().cloned().with_context(|| format!("`{flag}` needs a value"));
        match flag.as_str() {
            "--snapshot" => mode = Mode::Snapshot,
            "--dry-run" => mode = Mode::DryRun,
            "--matrix" if command == "plan" => matrix = true,
            "--manifest" if command == "plan" => manifest = Some(Utf8PathBuf::from(value()?)),
            "--target" if command == "build" => target = Some(value()?),
            "--plan" if matches!(command, "build" | "run") => plan_file = Some(Utf8PathBuf::from(value()?)),
            "--gather" if command == "run" => gather = Some(Utf8PathBuf::from(value()?)),
            "--dist" => overrides.dist = Some(Utf8PathBuf::from(value()?)),
            other => bail!("unknown argument `{other}` for `cargo xtask release {command}`"),
        }
    }
    let config = Config::load(config_path).map_err(StepError::from).context("loading the release config")?;
    if matrix || manifest.is_some() {
        let plan = job_plan(&config, env, &mut overrides, None)?;
        if let Some(path) = &manifest {
            plan.write(path).map_err(StepError::from)?;
        }
        let json = serde_json::to_string(&plan.matrix())?;
        if let Some(output) = env.get("GITHUB_OUTPUT").filter(|_| env.in_github_actions()) {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(output)?;
            writeln!(file, "matrix={json}")?;
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
            .with("PATH", std::env::var("PATH").unwrap())
            .with("GITHUB_ACTIONS", "true")
            .with("GITHUB_OUTPUT", outputs.as_str());
        let printed = Collected::default();
        let front = Front::new(&env, "", printed.printer("stdout"), printed.printer("stderr"));
        let args = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let plan = root.join("plan.json");

        let code = release_with(&args(&format!("plan --matrix --manifest {plan}")), &env, &config, &front).unwrap();
        assert_eq!(code, 0);
        let matrix = r#"{"include":[{"target":"x86_64-unknown-linux-gnu","runner":"ubuntu-latest"},{"target":"aarch64-apple-darwin","runner":"macos-latest"}]}"#;
        assert!(printed.0.lock().unwrap().contains(&("stdout", matrix.to_owned())));
        assert_eq!(std::fs::read_to_string(&outputs).unwrap(), format!("matrix={matrix}\n"));

        for (target, dist) in [("x86_64-unknown-linux-gnu", "a"), ("aarch64-apple-darwin", "b")] {
            let dist = root.join("gathered").join(dist);
            let line = format!("build --target {target} --plan {plan} --dist {dist}");
            assert_eq!(release_with(&args(&line), &env, &config, &front).unwrap(), 0, "{line}");
            assert!(dist.join(format!("release-build-{target}.json")).is_file());
        }
        let line = format!("run --snapshot --plan {plan} --gather {}", root.join("gathered"));
        assert_eq!(release_with(&args(&line), &env, &config, &front).unwrap(), 0);
        let sums = std::fs::read_to_string(root.join("dist/SHA256SUMS")).unwrap();
        assert!(sums.contains("  app-aarch64-apple-darwin\n") && sums.contains("  app-x86_64-unknown-linux-gnu\n"));
        assert_eq!(
            std::fs::read_to_string(root.join("dist/app-aarch64-apple-darwin")).unwrap(),
            "aarch64-apple-darwin\n"
        );

        let err = release_with(&args("build --plan x"), &env, &config, &front).unwrap_err();
        assert!(err.to_string().contains("needs `--target TRIPLE`"), "{err}");
        let err = release_with(&args("run --gather x"), &env, &config, &front).unwrap_err();
        assert!(err.to_string().contains("`--gather` needs `--plan FILE`"), "{err}");
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
