//! The error a step reports, and how failures map onto exit codes.
//!
//! Every module keeps its own `thiserror` enum; at the step boundary they become a
//! [`StepError`], which answers the three questions a user has: what failed (with the
//! file, field or URL), why (the server's or tool's own words) and what to do (`help`).

use std::fmt;

/// Why the run stopped, as the front ends map it onto an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Bad command line or configuration: nothing ran. Exit code 2.
    Usage,
    /// A preflight probe failed: nothing was built or published. Exit code 3.
    Preflight,
    /// A step after preflight failed. Exit code 1.
    Step,
    /// The run was interrupted (Ctrl-C, SIGTERM). Exit code 130.
    Interrupted,
}

impl FailureKind {
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Step => 1,
            FailureKind::Usage => 2,
            FailureKind::Preflight => 3,
            FailureKind::Interrupted => 130,
        }
    }
}

/// A failure as a user reads it: a lowercase message without trailing period, and a
/// help line that says what to change.
#[derive(Debug)]
pub struct StepError {
    message: String,
    help: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> Self {
        StepError { message: message.into(), help: None, source: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The message followed by every cause in the chain, separated by `: `, unless the
    /// message already says it.
    pub fn full_message(&self) -> String {
        let mut out = self.message.clone();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = self.source.as_deref().map(|e| e as _);
        while let Some(err) = cause {
            let text = err.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = err.source();
        }
        out
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_message())?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {}", help.replace('\n', "\n        "))?;
        }
        Ok(())
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// An error that knows how it is fixed. Module errors implement this so that `?` in a
/// step turns them into a [`StepError`] with the right help line.
pub trait Diagnose: std::error::Error + Send + Sync + 'static {
    fn help(&self) -> Option<String> {
        None
    }
}

impl<E: Diagnose> From<E> for StepError {
    fn from(err: E) -> Self {
        StepError { message: err.to_string(), help: err.help(), source: None }
    }
}
