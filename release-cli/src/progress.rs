//! Showing the library's events: spinners with elapsed time on a terminal, one plain line
//! per event otherwise (CI logs stay readable). `NO_COLOR` turns colour off.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use release_core::format_duration;
use release_core::{Environment, Event, Reporter};

use crate::actions::resuming_line;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The reporter for this process's stderr.
pub(crate) fn reporter_for_stderr(verbosity: Verbosity, env: &Environment) -> Box<dyn Reporter> {
    let color = env.get("NO_COLOR").is_none();
    if env.in_github_actions() && verbosity != Verbosity::Quiet {
        return Box::new(crate::actions::ActionsReporter {
            verbose: verbosity == Verbosity::Verbose,
            workspace: env.get("GITHUB_WORKSPACE").map(camino::Utf8PathBuf::from),
        });
    }
    if std::io::stderr().is_terminal() && verbosity != Verbosity::Quiet && env.get("CI").is_none() {
        Box::new(TerminalReporter::new(verbosity, color))
    } else {
        Box::new(PlainReporter { verbosity })
    }
}

/// One line per event, nothing rewritten in place.
pub(crate) struct PlainReporter {
    verbosity: Verbosity,
}

impl PlainReporter {
    fn line(&self, event: &Event) -> Option<String> {
        let v = self.verbosity;
        match event {
            Event::RunStarted { mode, version, tag, steps } => {
                (v >= Verbosity::Normal).then(|| format!("release {version} ({tag}): {mode}, {steps} steps"))
            }
            Event::Resuming { journal, done } => (v >= Verbosity::Normal).then(|| resuming_line(journal, done)),
            Event::StepStarted { id, stage, description, .. } => {
                (v >= Verbosity::Normal).then(|| format!("==> {id} [{stage}] {description}"))
            }
            Event::StepProgress { id, message } => (v >= Verbosity::Verbose).then(|| format!("    {id}: {message}")),
            Event::StepBytes { .. } | Event::SecretFound { .. } => None,
            Event::Output { id, line } => (v >= Verbosity::Normal).then(|| format!("    {id} | {line}")),
            Event::Warning { id, message, .. } => Some(format!("warning: {id}: {message}")),
            Event::StepSkipped { id, reason, .. } => {
                (v >= Verbosity::Normal).then(|| format!("    skip {id}: {reason}"))
            }
            Event::StepFinished { id, elapsed, summary } => (v >= Verbosity::Normal).then(|| {
                let summary = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
                format!("    ok   {id} ({}){summary}", format_duration(*elapsed))
            }),
            Event::StepFailed { id, elapsed, .. } => Some(format!("    FAIL {id} ({})", format_duration(*elapsed))),
            Event::RunFinished { elapsed, success } => (v >= Verbosity::Normal)
                .then(|| format!("{} in {}", if *success { "finished" } else { "stopped" }, format_duration(*elapsed))),
        }
    }
}

impl Reporter for PlainReporter {
    fn report(&self, event: &Event) {
        if let Some(line) = self.line(event) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// Spinners for running steps, a line for each finished one.
pub(crate) struct TerminalReporter {
    verbosity: Verbosity,
    color: bool,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl TerminalReporter {
    fn new(verbosity: Verbosity, color: bool) -> Self {
        TerminalReporter {
            verbosity,
            color,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

impl Reporter for TerminalReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::StepStarted { id, description, .. } => {
                let template = if self.color {
                    "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed}"
                } else {
                    "{spinner} {prefix} {wide_msg} {elapsed}"
                };
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
                bar.set_prefix(id.clone());
                bar.set_message(description.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars.lock().unwrap().insert(id.clone(), bar);
            }
            Event::StepProgress { id, message } => {
                if let Some(bar) = self.bars.lock().unwrap().get(id) {
                    bar.set_message(message.clone());
                }
            }
            Event::StepBytes { id, done, total } => {
                if let Some(bar) = self.bars.lock().unwrap().get(id) {
                    let text = match total {
                        Some(total) => format!("{} / {}", indicatif::HumanBytes(*done), indicatif::HumanBytes(*total)),
                        None => indicatif::HumanBytes(*done).to_string(),
                    };
                    bar.set_message(text);
                }
            }
            Event::Output { id, line } => {
                if self.verbosity >= Verbosity::Verbose {
                    self.println(format!("  {id} | {line}"));
                } else if let Some(bar) = self.bars.lock().unwrap().get(id) {
                    bar.set_message(line.clone());
                }
            }
            Event::Warning { id, message, .. } => {
                self.println(format!("{} {id}: {message}", self.paint("warning:", "33")))
            }
            Event::StepSkipped { id, reason, .. } => self.println(format!("- {id} skipped: {reason}")),
            Event::StepFinished { id, elapsed, summary } => {
                if let Some(bar) = self.bars.lock().unwrap().remove(id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                let summary = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
                self.println(format!("{} {id} ({}){summary}", self.paint("✓", "32"), format_duration(*elapsed)));
            }
            Event::StepFailed { id, elapsed, .. } => {
                if let Some(bar) = self.bars.lock().unwrap().remove(id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.println(format!("{} {id} ({})", self.paint("✗", "31"), format_duration(*elapsed)));
            }
            // Added to the redactor by `Redacting` before it got here; nothing to show.
            Event::SecretFound { .. } => {}
            Event::RunStarted { mode, version, tag, .. } => self.println(format!("release {version} ({tag}): {mode}")),
            Event::Resuming { journal, done } => self.println(resuming_line(journal, done)),
            Event::RunFinished { elapsed, success } => self.println(format!(
                "{} in {}",
                if *success { "finished" } else { "stopped" },
                format_duration(*elapsed)
            )),
        }
    }
}
