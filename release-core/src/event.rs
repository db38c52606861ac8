//! What the runner tells the outside world while it works.
//!
//! The library never prints: it sends [`Event`]s to a [`Reporter`], and each front end
//! decides how to show them (progress bars on a terminal, plain lines in CI logs, JSON).

use std::time::Duration;

use serde::Serialize;

use crate::plan::{Effect, Stage};
use crate::secret::Secret;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        mode: String,
        version: String,
        tag: String,
        steps: usize,
    },
    /// The run resumes an earlier one that failed: `done` lists the steps that finished
    /// then; each is skipped if its files are unchanged.
    Resuming {
        journal: String,
        done: Vec<String>,
    },
    StepStarted {
        id: String,
        stage: Stage,
        effect: Effect,
        description: String,
    },
    /// A short status line from a long step ("uploading hello.tar.gz", "3/5 files").
    StepProgress {
        id: String,
        message: String,
    },
    /// Bytes moved so far for a transfer, for progress bars.
    StepBytes {
        id: String,
        done: u64,
        total: Option<u64>,
    },
    /// One line a subprocess printed (build commands), streamed as it comes.
    Output {
        id: String,
        line: String,
    },
    Warning {
        id: String,
        message: String,
        /// The lines of files the warning is about (already listed in `message`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        locations: Vec<crate::error::SourceLocation>,
    },
    /// A secret value the step found outside the environment (a docker `config.json`, a
    /// credential helper's answer), reported before the step uses it. A front end adds it to
    /// its redactor, and in GitHub Actions masks it, before showing anything else:
    /// [`Redacting`] does both. `source` says where it was found; the value shows only
    /// through [`Secret::expose`] (its `Debug` prints `<redacted>`) and is never serialised.
    SecretFound {
        id: String,
        source: String,
        #[serde(skip)]
        secret: Secret,
    },
    StepSkipped {
        id: String,
        stage: Stage,
        reason: String,
    },
    StepFinished {
        id: String,
        #[serde(serialize_with = "as_millis")]
        elapsed: Duration,
        summary: Option<String>,
    },
    StepFailed {
        id: String,
        #[serde(serialize_with = "as_millis")]
        elapsed: Duration,
        message: String,
        help: Option<String>,
        /// The lines of files the failure is about (already listed in `message`), for front
        /// ends that can point at them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        locations: Vec<crate::error::SourceLocation>,
    },
    RunFinished {
        #[serde(serialize_with = "as_millis")]
        elapsed: Duration,
        success: bool,
    },
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Receives events. Implementations must be cheap and must not block for long: probes
/// report from several tasks at once.
pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event);
}

impl Event {
    /// The event with `f` applied to every text it carries (ids, messages, lines, paths).
    pub fn map_text(&self, f: impl Fn(&str) -> String) -> Event {
        let mut event = self.clone();
        match &mut event {
            Event::RunStarted { mode, version, tag, .. } => {
                for text in [mode, version, tag] {
                    *text = f(text);
                }
            }
            Event::Resuming { journal, done } => {
                *journal = f(journal);
                done.iter_mut().for_each(|d| *d = f(d));
            }
            Event::StepStarted { id, description, .. } => {
                *id = f(id);
                *description = f(description);
            }
            Event::StepProgress { id, message } => {
                *id = f(id);
                *message = f(message);
            }
            Event::Warning { id, message, locations } => {
                *id = f(id);
                *message = f(message);
                redact_locations(locations, &f);
            }
            Event::Output { id, line } => {
                *id = f(id);
                *line = f(line);
            }
            Event::StepSkipped { id, reason, .. } => {
                *id = f(id);
                *reason = f(reason);
            }
            Event::StepFinished { id, summary, .. } => {
                *id = f(id);
                if let Some(summary) = summary {
                    *summary = f(summary);
                }
            }
            Event::StepFailed { id, message, help, locations, .. } => {
                *id = f(id);
                *message = f(message);
                if let Some(help) = help {
                    *help = f(help);
                }
                redact_locations(locations, &f);
            }
            Event::SecretFound { id, source, .. } => {
                *id = f(id);
                *source = f(source);
            }
            Event::StepBytes { id, .. } => *id = f(id),
            Event::RunFinished { .. } => {}
        }
        event
    }
}

/// Masks secret values in every event before another reporter shows it: the one place a
/// front end needs to wrap (a build command may print its environment, a server may echo a
/// header back). A [`Event::SecretFound`] adds its value to the redactor (which, made with
/// [`crate::redact::Redactor::for_run`], masks it in GitHub Actions) before the event, or
/// anything after it, reaches the inner reporter.
pub struct Redacting<R> {
    pub inner: R,
    pub redactor: crate::redact::Redactor,
}

impl<R> std::fmt::Debug for Redacting<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redacting").field("redactor", &self.redactor).finish_non_exhaustive()
    }
}

impl<R: std::ops::Deref<Target = dyn Reporter> + Send + Sync> Reporter for Redacting<R> {
    fn report(&self, event: &Event) {
        if let Event::SecretFound { secret, .. } = event {
            self.redactor.add_secret(secret);
        }
        self.inner.report(&event.map_text(|text| self.redactor.redact(text)));
    }
}

/// A reporter that drops everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: &Event) {}
}

/// A reporter that keeps every event, for tests and for embedders that print at the end.
#[derive(Debug, Default)]
pub struct Recorder {
    events: std::sync::Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl Reporter for Recorder {
    fn report(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
    }
}

fn redact_locations(locations: &mut [crate::error::SourceLocation], f: &impl Fn(&str) -> String) {
    for location in locations {
        location.root = location.root.as_deref().map(|root| f(root.as_str()).into());
        location.file = f(location.file.as_str()).into();
        location.message = f(&location.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;
    use crate::secret::Secret;

    #[test]
    fn a_found_secret_is_masked_from_its_own_event_on_and_never_serialised() {
        let recorder = Recorder::default();
        let inner: &(dyn Reporter + 'static) = &recorder;
        let redactor = Redactor::new();
        let reporter = Redacting { inner, redactor: redactor.clone() };
        let found = Event::SecretFound {
            id: "preflight:oci-push:hello".into(),
            source: "docker config /x/config.json auths.\"r\".auth".into(),
            secret: Secret::new("found-secret-1"),
        };
        let json = serde_json::to_string(&found).unwrap();
        assert!(!json.contains("found-secret-1"), "{json}");
        assert!(!format!("{found:?}").contains("found-secret-1"));
        reporter.report(&found);
        reporter.report(&Event::Output { id: "build:app".into(), line: "echo found-secret-1".into() });
        assert_eq!(redactor.redact("found-secret-1"), "***");
        let events = recorder.events();
        assert!(matches!(&events[0], Event::SecretFound { secret, .. } if secret.expose() == "found-secret-1"));
        assert!(matches!(&events[1], Event::Output { line, .. } if line == "echo ***"), "{events:?}");
    }
}
