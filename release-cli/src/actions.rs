//! Native output inside GitHub Actions: a log group per step, `::error`/`::warning`
//! annotations with titles, a Markdown table of steps appended to `$GITHUB_STEP_SUMMARY`,
//! and the run's outputs (release URL, chart references and digests) written to
//! `$GITHUB_OUTPUT` for later steps of the job.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use release_core::actions::{append_github_output, output_line};
pub(crate) use release_core::actions::{escape_data, escape_property};
use release_core::{Environment, Event, Reporter, SourceLocation};
use release_core::{RunReport, StepStatus, format_duration};

/// Whether workflow commands go to stderr (with `--json`) instead of stdout.
static COMMANDS_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends workflow commands to stderr from now on: the GitHub Actions runner reads them from
/// both streams (its `ScriptHandler` attaches a command-processing `OutputManager` to stdout
/// and to stderr), so stdout can hold exactly one JSON document.
pub(crate) fn commands_to_stderr(yes: bool) {
    COMMANDS_TO_STDERR.store(yes, std::sync::atomic::Ordering::SeqCst);
}

/// One workflow command (or a line of a log group), on the stream the runner reads them from
/// for this run, flushed at once.
pub(crate) fn workflow_line(line: &str) {
    if COMMANDS_TO_STDERR.load(std::sync::atomic::Ordering::SeqCst) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Workflow commands on stdout (on stderr with `--json`), where the runner reads them.
#[derive(Debug)]
pub(crate) struct ActionsReporter {
    pub verbose: bool,
    /// `GITHUB_WORKSPACE`, the checkout: annotations name files relative to it.
    pub workspace: Option<Utf8PathBuf>,
}

impl ActionsReporter {
    fn emit(&self, line: String) {
        workflow_line(&line);
    }
}

impl Reporter for ActionsReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::Resuming { journal, done } => self.emit(resuming_line(journal, done)),
            Event::StepStarted { id, description, .. } => {
                self.emit(format!("::group::{id}: {}", escape_data(description)))
            }
            Event::Output { line, .. } => self.emit(format!("  {line}")),
            Event::StepProgress { id, message } if self.verbose => self.emit(format!("  {id}: {message}")),
            Event::Warning { id, message, locations } => {
                self.emit(format!("::warning title={}::{}", escape_property(id), escape_data(message)));
                let title = format!("release: {id}");
                for location in locations {
                    self.emit(location_annotation(location, self.workspace.as_deref(), &title).replacen(
                        "::error",
                        "::warning",
                        1,
                    ));
                }
            }
            Event::StepSkipped { id, reason, .. } => self.emit(format!("skip {id}: {reason}")),
            Event::StepFinished { id, elapsed, summary } => {
                let summary = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
                self.emit(format!("ok {id} ({}){summary}", format_duration(*elapsed)));
                self.emit("::endgroup::".into());
            }
            Event::StepFailed { id, message, help, locations, .. } => {
                self.emit("::endgroup::".into());
                let text = match help {
                    Some(help) => format!("{message}\nhelp: {help}"),
                    None => message.clone(),
                };
                let title = format!("release: {id}");
                self.emit(format!("::error title={}::{}", escape_property(&title), escape_data(&text)));
                // Then one annotation on each line the failure is about, so that it shows on
                // the file in the run and in the pull request.
                for location in locations {
                    self.emit(location_annotation(location, self.workspace.as_deref(), &title));
                }
            }
            _ => {}
        }
    }
}

/// `::error file=F,line=N,title=T::MESSAGE` for one line of a file a failure is about.
pub(crate) fn location_annotation(location: &SourceLocation, workspace: Option<&Utf8Path>, title: &str) -> String {
    format!(
        "::error file={},line={},title={}::{}",
        escape_property(annotation_path(location, workspace).as_str()),
        location.line,
        escape_property(title),
        escape_data(&location.message),
    )
}

/// The file relative to the workspace (the repository's checkout), as annotations want it.
/// A file outside the workspace, or a workspace that is not known, keeps the name relative
/// to the step's own root, which for a workflow file is the repository root too.
fn annotation_path(location: &SourceLocation, workspace: Option<&Utf8Path>) -> Utf8PathBuf {
    let absolute = match &location.root {
        Some(root) => root.join(&location.file),
        None => location.file.clone(),
    };
    if let Some(workspace) = workspace.filter(|_| absolute.is_absolute()) {
        if let Ok(relative) = absolute.strip_prefix(workspace) {
            return relative.to_owned();
        }
        // The same directory spelled differently: a symbolic link, `..`, a trailing `/.`.
        if let (Ok(absolute), Ok(workspace)) = (absolute.canonicalize_utf8(), workspace.canonicalize_utf8())
            && let Ok(relative) = absolute.strip_prefix(&workspace)
        {
            return relative.to_owned();
        }
    }
    location.file.clone()
}

/// Appends the step table to `$GITHUB_STEP_SUMMARY` and the outputs to `$GITHUB_OUTPUT`,
/// secret values masked.
pub(crate) fn write_summary_and_outputs(env: &Environment, report: &RunReport) -> std::io::Result<()> {
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY") {
        let mut file = Redacted(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        writeln!(file, "### release {} ({}), {}\n", report.version, report.tag, report.mode.name())?;
        writeln!(file, "| step | stage | outcome | time | detail |\n|---|---|---|---|---|")?;
        for step in &report.steps {
            let outcome = match step.status {
                StepStatus::Ok => "✅ ok",
                StepStatus::Failed => "❌ failed",
                StepStatus::Skipped => "⏭ skipped",
                StepStatus::DoneEarlier => "♻ done in an earlier run",
                StepStatus::NotRun => "· not run",
            };
            let detail = step.error.as_ref().map(|e| e.message.as_str()).or(step.summary.as_deref()).unwrap_or("");
            let time = format_duration(std::time::Duration::from_millis(step.elapsed_ms));
            writeln!(file, "| `{}` | {} | {outcome} | {time} | {} |", step.id, step.stage, markdown_cell(detail))?;
        }
        writeln!(file)?;
    }
    let mut outputs = output_line("version", &report.version.to_string());
    outputs.push_str(&output_line("tag", &report.tag));
    for (name, value) in &report.outputs {
        outputs.push_str(&output_line(&name.replace(['.', ':', ' '], "-"), value));
    }
    append_github_output(env, &crate::redact::redact(&outputs))
}

/// Appends one `name=value` output to `$GITHUB_OUTPUT`, when there is one.
pub(crate) fn write_output(env: &Environment, name: &str, value: &str) -> std::io::Result<()> {
    append_github_output(env, &crate::redact::redact(&output_line(name, value)))
}

/// A file whose every formatted write is redacted. `writeln!` on it formats first, so a
/// value is masked whole, never split across two writes.
struct Redacted(std::fs::File);

impl Redacted {
    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        self.0.write_all(crate::redact::redact(&args.to_string()).as_bytes())
    }
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// The line that says a run resumes an earlier one, and how not to.
pub(crate) fn resuming_line(journal: &str, done: &[String]) -> String {
    format!(
        "resuming the failed run recorded in {journal}: {} step(s) finished then are reused if their files are unchanged (--fresh runs everything again)",
        done.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_workflow_command_rules() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn location_annotations_name_the_file_relative_to_the_workspace() {
        let location = SourceLocation::new(
            Some(Utf8Path::new("/home/runner/work/app/app")),
            ".github/workflows/a,b.yml",
            13,
            "job `release` lacks `contents: write` (needed to create: 100%)\nsecond line",
        );
        let workspace = Utf8Path::new("/home/runner/work/app");
        assert_eq!(
            location_annotation(&location, Some(workspace), "release: preflight:workflow-permissions"),
            "::error file=app/.github/workflows/a%2Cb.yml,line=13,title=release%3A preflight%3Aworkflow-permissions\
             ::job `release` lacks `contents: write` (needed to create: 100%25)%0Asecond line"
        );
        // Outside the workspace, or without one, the file stays relative to the step's root.
        let elsewhere = Utf8Path::new("/somewhere/else");
        assert!(
            location_annotation(&location, Some(elsewhere), "t")
                .starts_with("::error file=.github/workflows/a%2Cb.yml,")
        );
        assert!(location_annotation(&location, None, "t").starts_with("::error file=.github/workflows/a%2Cb.yml,"));
    }
}
