//! The error a step reports, and how failures map onto exit codes.
//!
//! Every module keeps its own `thiserror` enum; at the step boundary they become a
//! [`StepError`], which answers the three questions a user has: what failed (with the
//! file, field or URL), why (the server's or tool's own words) and what to do (`help`).
//! A failure that is about lines of files (a workflow's `permissions:` block) also carries
//! them as [`SourceLocation`]s, so that a front end can point at each one (GitHub Actions
//! annotations) besides printing the message.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

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

/// One line of one file that a failure is about, and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceLocation {
    /// The directory `file` is relative to (the repository root), when the step knows it.
    /// Front ends re-anchor the file on a root of their own: GitHub Actions annotations want
    /// it relative to `GITHUB_WORKSPACE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<Utf8PathBuf>,
    /// The file as users name it: relative to `root`.
    pub file: Utf8PathBuf,
    /// 1-based.
    pub line: usize,
    /// What is wrong at that line, lowercase, no trailing period.
    pub message: String,
}

impl SourceLocation {
    pub fn new(root: Option<&Utf8Path>, file: impl Into<Utf8PathBuf>, line: usize, message: impl Into<String>) -> Self {
        SourceLocation { root: root.map(Utf8Path::to_owned), file: file.into(), line, message: message.into() }
    }
}

/// `file:line: message`, the way compilers print it.
impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A failure as a user reads it: a lowercase message without trailing period, and a
/// help line that says what to change.
#[derive(Debug)]
pub struct StepError {
    message: String,
    help: Option<String>,
    locations: Vec<SourceLocation>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> Self {
        StepError { message: message.into(), help: None, locations: Vec::new(), source: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The lines of files the failure is about. [`StepError::full_message`] lists them
    /// after the message, one `file:line: message` a line, so the message itself need not.
    pub fn with_locations(mut self, locations: impl IntoIterator<Item = SourceLocation>) -> Self {
        self.locations.extend(locations);
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

    pub fn locations(&self) -> &[SourceLocation] {
        &self.locations
    }

    /// The message followed by every cause in the chain, separated by `: `, unless the
    /// message already says it, then every location on a line of its own.
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
        for location in &self.locations {
            out.push('\n');
            out.push_str(&location.to_string());
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
        StepError { message: err.to_string(), help: err.help(), locations: Vec::new(), source: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_the_message_one_a_line() {
        let error = StepError::new("the workflow does not grant what the release needs:")
            .with_locations([
                SourceLocation::new(None, ".github/workflows/release.yml", 13, "job `release` lacks `contents: write`"),
                SourceLocation::new(Some(Utf8Path::new("/repo")), ".github/workflows/b.yml", 4, "job `b` lacks it too"),
            ])
            .with_help("add it");
        assert_eq!(
            error.full_message(),
            "the workflow does not grant what the release needs:\n.github/workflows/release.yml:13: job `release` \
             lacks `contents: write`\n.github/workflows/b.yml:4: job `b` lacks it too"
        );
        assert_eq!(error.locations()[1].root.as_deref(), Some(Utf8Path::new("/repo")));
        assert!(StepError::new("plain").locations().is_empty());
    }
}
