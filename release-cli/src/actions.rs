//! Native output inside GitHub Actions: a log group per step, `::error`/`::warning`
//! annotations with titles, a Markdown table of steps appended to `$GITHUB_STEP_SUMMARY`,
//! and the run's outputs (release URL, chart references and digests) written to
//! `$GITHUB_OUTPUT` for later steps of the job.

use std::io::Write;

pub use release_core::actions::commands::{escape_data, escape_property};
use release_core::runner::{RunReport, StepStatus, format_duration};
use release_core::{Environment, Event, Reporter};

/// Workflow commands on stdout, where the runner reads them.
#[derive(Debug)]
pub struct ActionsReporter {
    pub verbose: bool,
}

impl ActionsReporter {
    fn emit(&self, line: String) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

impl Reporter for ActionsReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::Resuming { journal, done } => self.emit(crate::progress::resuming_line(journal, done)),
            Event::StepStarted { id, description, .. } => {
                self.emit(format!("::group::{id}: {}", escape_data(description)))
            }
            Event::Output { line, .. } => self.emit(format!("  {line}")),
            Event::StepProgress { id, message } if self.verbose => self.emit(format!("  {id}: {message}")),
            Event::Warning { id, message } => {
                self.emit(format!("::warning title={}::{}", escape_property(id), escape_data(message)))
            }
            Event::StepSkipped { id, reason, .. } => self.emit(format!("skip {id}: {reason}")),
            Event::StepFinished { id, elapsed, summary } => {
                let summary = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
                self.emit(format!("ok {id} ({}){summary}", format_duration(*elapsed)));
                self.emit("::endgroup::".into());
            }
            Event::StepFailed { id, message, help, .. } => {
                self.emit("::endgroup::".into());
                let text = match help {
                    Some(help) => format!("{message}\nhelp: {help}"),
                    None => message.clone(),
                };
                self.emit(format!(
                    "::error title={}::{}",
                    escape_property(&format!("release: {id}")),
                    escape_data(&text)
                ));
            }
            _ => {}
        }
    }
}

/// Appends the step table to `$GITHUB_STEP_SUMMARY` and the outputs to `$GITHUB_OUTPUT`,
/// secret values masked.
pub fn write_summary_and_outputs(env: &Environment, report: &RunReport) -> std::io::Result<()> {
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
    if let Some(path) = env.get("GITHUB_OUTPUT") {
        let mut file = Redacted(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        writeln!(file, "version={}", report.version)?;
        writeln!(file, "tag={}", report.tag)?;
        for (name, value) in &report.outputs {
            let key = name.replace(['.', ':', ' '], "-");
            if value.contains('\n') {
                writeln!(file, "{key}<<RELEASE_OUTPUT_EOF\n{value}\nRELEASE_OUTPUT_EOF")?;
            } else {
                writeln!(file, "{key}={value}")?;
            }
        }
    }
    Ok(())
}

/// Appends one `name=value` output to `$GITHUB_OUTPUT`, when there is one.
pub fn write_output(env: &Environment, name: &str, value: &str) -> std::io::Result<()> {
    if let Some(path) = env.get("GITHUB_OUTPUT") {
        let mut file = Redacted(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        writeln!(file, "{name}={value}")?;
    }
    Ok(())
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
