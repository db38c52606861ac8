//! `release init` and `release audit`: the GitHub Actions workflow, written right and
//! checked against `release.toml`.
//!
//! The library does the work (`release_core::actions`): detection, generation, the audit.
//! This file reads the current directory, writes the files, prints findings (plain lines,
//! and `::error`/`::warning` annotations inside Actions) and picks the exit code.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use clap::Args;
use release_core::actions::{
    self, Audit, Finding, Runner, Severity, WORKFLOWS_DIR, WorkflowOptions, required_permissions,
};
use release_core::{Config, Environment, FailureKind, GitPath, StepError, git_committed_unchanged, git_path};

use crate::actions::{escape_data, escape_property};

/// The workflow `release init` writes, relative to the repository root.
const WORKFLOW_FILE: &str = ".github/workflows/release.yml";

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Replace release.toml and .github/workflows/release.yml when they exist, provided git
    /// holds them as committed (or they already say what would be written).
    #[arg(long)]
    force: bool,
    /// Build every binary for this target on a runner of its own (repeat for each target):
    /// the workflow gets a build matrix, and a release job that gathers and publishes.
    /// Without `--target`, a repository with binaries builds the five common targets (Linux
    /// x86_64 and aarch64 with glibc, macOS x86_64 and aarch64, Windows x86_64).
    #[arg(long = "target", value_name = "TRIPLE")]
    targets: Vec<String>,
    /// Build for the machine the release job runs on only, in one job (no matrix).
    #[arg(long, conflicts_with = "targets")]
    host_only: bool,
    /// Write .github/workflows/release.yml again from the existing config (release.toml is
    /// left as it is); an existing workflow is replaced when git holds it as committed.
    #[arg(long, conflicts_with_all = ["targets", "host_only", "force"])]
    workflow: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {}

/// `release init`: detect, generate, refuse to overwrite, write.
pub(crate) fn init(config_arg: &Utf8Path, args: &InitArgs, env: &Environment) -> i32 {
    let root = match std::env::current_dir().map(Utf8PathBuf::from_path_buf) {
        Ok(Ok(dir)) => dir,
        _ => return fail("the current directory is not a readable UTF-8 path", None, FailureKind::Usage),
    };
    let config_file = root.join(config_arg);
    let workflow_file = root.join(WORKFLOW_FILE);
    if args.workflow {
        return init_workflow(&root, config_arg, &config_file, &workflow_file, env);
    }
    for (shown, path) in [(config_arg.as_str(), &config_file), (WORKFLOW_FILE, &workflow_file)] {
        if path.symlink_metadata().is_ok() && !args.force {
            return fail(
                &format!("refusing to overwrite {shown}: it already exists"),
                Some(
                    "pass --force to replace it once it is committed (git keeps the old content), or move it away first",
                ),
                FailureKind::Usage,
            );
        }
    }
    let detected = match actions::detect(&root) {
        Ok(detected) => detected,
        Err(err) => return fail_with(&StepError::from(err), FailureKind::Usage),
    };
    let targets: Vec<String> = if !args.targets.is_empty() {
        args.targets.clone()
    } else if args.host_only || detected.binaries.is_empty() {
        Vec::new()
    } else {
        actions::COMMON_TARGETS.iter().map(|t| (*t).to_owned()).collect()
    };
    let toml = actions::release_toml(&detected, &targets);
    // The generated config is loaded like any other before the workflow is derived from
    // it: what the workflow grants is what this config needs.
    let config = match Config::parse(&toml, &config_file) {
        Ok(config) => config,
        // A bad --target is the user's to fix; the config names the field.
        Err(err @ release_core::ConfigError::Invalid { .. }) if !args.targets.is_empty() => {
            return fail_with(&StepError::from(err), FailureKind::Usage);
        }
        Err(err) => {
            let err = StepError::from(err);
            return fail(
                &format!("the generated release.toml does not load: {}", err.full_message()),
                Some("this is a bug in `release init`; please report it with the repository layout"),
                FailureKind::Step,
            );
        }
    };
    let config_path = (config_arg != "release.toml").then(|| config_arg.to_string());
    let options = WorkflowOptions::for_repository(&detected, config_path);
    let runner = options.runner.clone();
    let workflow = actions::release_workflow(&config, &options);

    // --force replaces a file only when nothing is lost: git holds it as committed, or it
    // already says what would be written. Both are checked before either is written.
    for (path, text) in [(&config_file, &toml), (&workflow_file, &workflow)] {
        let shown = if path == &config_file { config_arg.to_string() } else { WORKFLOW_FILE.to_owned() };
        if let Err(code) = replaceable(path, text, &shown, "--force", env) {
            return code;
        }
    }
    for (path, text) in [(&config_file, &toml), (&workflow_file, &workflow)] {
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(path, text));
        if let Err(err) = written {
            return fail(&format!("cannot write {path}: {err}"), None, FailureKind::Step);
        }
    }
    let ignored = match ignore_dist(&root, &config.project.dist, env) {
        Ok(ignored) => ignored,
        Err(err) => return fail(&format!("cannot update {root}/.gitignore: {err}"), None, FailureKind::Step),
    };

    let mut stderr = std::io::stderr().lock();
    let found = format!(
        "{} binar{}, {} chart(s), GitHub remote {}",
        detected.binaries.len(),
        if detected.binaries.len() == 1 { "y" } else { "ies" },
        detected.charts.len(),
        detected.github.as_ref().map_or("not found".to_owned(), |r| r.to_string()),
    );
    let needed: Vec<String> = required_permissions(&config).iter().map(|r| format!("`{r}`")).collect();
    let _ = writeln!(stderr, "found {found}");
    let _ = writeln!(stderr, "wrote {config_arg}");
    let jobs = if config.targets().is_empty() {
        "preflight, then release".to_owned()
    } else {
        format!("preflight and plan, build on {} runner(s), then release", config.targets().len())
    };
    let _ = writeln!(
        stderr,
        "wrote {WORKFLOW_FILE}: {jobs} on tags {}; {}; grants {}",
        actions::tag_pattern(&config.project.tag),
        runner.describe(),
        if needed.is_empty() { "`contents: read` only".to_owned() } else { needed.join(" and ") },
    );
    if matches!(runner, Runner::Xtask(_)) && config_arg != "release.toml" {
        let _ =
            writeln!(stderr, "note: the workflow runs the xtask, which reads its own config file, not {config_arg}");
    }
    let _ = match ignored {
        Some(line) => {
            writeln!(stderr, "added `{line}` to .gitignore: the dist directory, with the run journal inside it")
        }
        None => writeln!(stderr, ".gitignore already ignores the dist directory"),
    };
    let _ = writeln!(stderr, "next: review both files, then `release plan` and `release run --snapshot`");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{config_file}\n{workflow_file}");
    0
}

/// Whether `path` may be replaced by `text` (it is absent, says `text` already, or git holds
/// it as committed); the exit code of the refusal otherwise, printed.
fn replaceable(path: &Utf8Path, text: &str, shown: &str, flag: &str, env: &Environment) -> Result<(), i32> {
    let Ok(meta) = path.symlink_metadata() else { return Ok(()) };
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err(fail(
            &format!("refusing to overwrite {shown}: it is a symbolic link or not a regular file"),
            Some("replace it with a regular file, or move it away first"),
            FailureKind::Usage,
        ));
    }
    let same = std::fs::read_to_string(path).is_ok_and(|old| old == text);
    if same || git_committed_unchanged(path, env) {
        return Ok(());
    }
    let why = match git_path(path, env) {
        GitPath::Tracked => "it has changes git has not committed",
        _ => "git does not hold a copy of it",
    };
    Err(fail(
        &format!("refusing to overwrite {shown} with {flag}: {why}, so its content would be lost"),
        Some(&format!("commit it first (then {flag} replaces it and git keeps the old one), or move it away")),
        FailureKind::Usage,
    ))
}

/// `release init --workflow`: the workflow again, from the config as it is now (and the
/// running tool's version as the pin of the binary it installs).
fn init_workflow(
    root: &Utf8Path,
    config_arg: &Utf8Path,
    config_file: &Utf8Path,
    workflow_file: &Utf8Path,
    env: &Environment,
) -> i32 {
    let config = match Config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            let err = StepError::from(err);
            return fail_with(
                &err.with_help(
                    "`release init --workflow` writes the workflow for an existing config; run `release init` first",
                ),
                FailureKind::Usage,
            );
        }
    };
    let detected = match actions::detect(root) {
        Ok(detected) => detected,
        Err(err) => return fail_with(&StepError::from(err), FailureKind::Usage),
    };
    let config_path = (config_arg != "release.toml").then(|| config_arg.to_string());
    let options = WorkflowOptions::for_repository(&detected, config_path);
    let workflow = actions::release_workflow(&config, &options);
    if let Err(code) = replaceable(workflow_file, &workflow, WORKFLOW_FILE, "--workflow", env) {
        return code;
    }
    let written = workflow_file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(workflow_file, &workflow));
    if let Err(err) = written {
        return fail(&format!("cannot write {workflow_file}: {err}"), None, FailureKind::Step);
    }
    let needed: Vec<String> = required_permissions(&config).iter().map(|r| format!("`{r}`")).collect();
    let _ = writeln!(
        std::io::stderr().lock(),
        "wrote {WORKFLOW_FILE} from {config_arg}: {}; grants {}",
        options.runner.describe(),
        if needed.is_empty() { "`contents: read` only".to_owned() } else { needed.join(" and ") },
    );
    let _ = writeln!(std::io::stdout().lock(), "{workflow_file}");
    0
}

/// `release audit`: findings on stdout, a summary on stderr; exit 1 when a release job lacks
/// a permission.
pub(crate) fn audit(config_arg: &Utf8Path, env: &Environment, json: bool) -> i32 {
    let config = match Config::load(config_arg) {
        Ok(config) => config,
        Err(err) => return fail_with(&StepError::from(err), FailureKind::Usage),
    };
    let needed = required_permissions(&config);
    let audit = match actions::audit_repository(&config.root, &needed) {
        Ok(audit) => audit,
        Err(err) => return fail_with(&StepError::from(err), FailureKind::Usage),
    };
    let mut stdout = std::io::stdout().lock();
    if json {
        let _ = serde_json::to_writer_pretty(&mut stdout, &audit)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout));
    } else {
        for finding in &audit.findings {
            let _ = print_finding(&mut stdout, finding);
        }
    }
    if env.in_github_actions() {
        for finding in &audit.findings {
            let _ = writeln!(stdout, "{}", annotation(finding));
        }
    }
    drop(stdout);
    summarize(&audit, needed.is_empty());
    if audit.errors().next().is_some() { 1 } else { 0 }
}

fn print_finding(out: &mut impl Write, finding: &Finding) -> std::io::Result<()> {
    match finding.severity {
        Severity::Error => writeln!(out, "{finding}")?,
        Severity::Warning => writeln!(out, "{}:{}: warning: {}", finding.file, finding.line, finding.message)?,
    }
    writeln!(out, "  help: {}", finding.help)
}

/// A finding as a workflow command, so it shows on the file in the run and pull request.
fn annotation(finding: &Finding) -> String {
    let command = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let title = match &finding.job {
        Some(job) => format!("release audit: job {job}"),
        None => "release audit".to_owned(),
    };
    format!(
        "::{command} file={},line={},title={}::{}",
        escape_property(finding.file.as_str()),
        finding.line,
        escape_property(&title),
        escape_data(&format!("{}\nhelp: {}", finding.message, finding.help)),
    )
}

fn summarize(audit: &Audit, nothing_needed: bool) {
    let mut stderr = std::io::stderr().lock();
    if nothing_needed {
        let _ = writeln!(
            stderr,
            "note: the config needs no token permission (only [github], chart pushes to ghcr.io, keyless signing, \
             build provenance and crates' trusted publishing do)"
        );
    }
    if audit.release_jobs.is_empty() {
        let _ = writeln!(
            stderr,
            "warning: no job in {WORKFLOWS_DIR} runs the release (`release run`, `release preflight`, \
             `cargo xtask release`)"
        );
    }
    // Another repository's workflow is not in this checkout: what its jobs run and need is
    // unknown, so it is neither a finding nor silently passed over.
    for call in &audit.external_calls {
        let _ = writeln!(stderr, "note: not audited, a workflow of another repository: {call}");
    }
    let errors = audit.errors().count();
    let warnings = audit.warnings().count();
    let _ = writeln!(
        stderr,
        "audited {} workflow file(s), {} release job(s): {}",
        audit.files.len(),
        audit.release_jobs.len(),
        match (errors, warnings) {
            (0, 0) => "every release job has the permissions it needs".to_owned(),
            (0, w) => format!("{w} warning(s)"),
            (e, w) => format!("{e} missing permission(s), {w} warning(s)"),
        }
    );
}

/// Adds the dist directory to the repository's `.gitignore` (created if missing) unless a
/// line already names it; returns the line added. The journal lives inside dist, so one
/// line covers both.
fn ignore_dist(root: &Utf8Path, dist: &Utf8Path, env: &Environment) -> std::io::Result<Option<String>> {
    let path = root.join(".gitignore");
    // Already ignored by any rule (asked of git, for the journal and for an artifact).
    if [release_core::JOURNAL_FILE, "SHA256SUMS"]
        .iter()
        .all(|name| git_path(&root.join(dist).join(name), env) == GitPath::Ignored)
    {
        return Ok(None);
    }
    let dist = dist.as_str().trim_start_matches("./").trim_end_matches('/');
    let line = format!("/{dist}/");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err),
    };
    let names = |l: &str| {
        let l = l.trim();
        [format!("/{dist}/"), format!("/{dist}"), format!("{dist}/"), dist.to_owned()].iter().any(|n| n == l)
    };
    if existing.lines().any(names) {
        return Ok(None);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    std::fs::write(&path, text)?;
    Ok(Some(line))
}

fn fail(message: &str, help: Option<&str>, kind: FailureKind) -> i32 {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {message}");
    if let Some(help) = help {
        let _ = writeln!(stderr, "  help: {help}");
    }
    kind.exit_code()
}

fn fail_with(err: &StepError, kind: FailureKind) -> i32 {
    fail(&err.full_message(), err.help(), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_file_title_and_message() {
        let finding = Finding {
            severity: Severity::Error,
            file: ".github/workflows/a,b.yml".into(),
            line: 7,
            job: Some("publish".into()),
            message: "job `publish` lacks `packages: write` (needed to push charts to ghcr.io)".into(),
            help: "add it".into(),
        };
        assert_eq!(
            annotation(&finding),
            "::error file=.github/workflows/a%2Cb.yml,line=7,title=release audit%3A job publish::job `publish` \
             lacks `packages: write` (needed to push charts to ghcr.io)%0Ahelp: add it"
        );
    }
}
