//! How the front end prints an error: `error: MESSAGE` and its `help:` line on stderr,
//! redacted, and the exit code of a usage error.

use std::io::Write;

use release_core::{FailureKind, StepError};

use crate::redact::redact;

pub(crate) fn usage_error(err: &StepError) -> i32 {
    print_error(err);
    FailureKind::Usage.exit_code()
}

/// `error: MESSAGE` and its help line on stderr.
pub(crate) fn print_error(err: &StepError) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", redact(&err.full_message()));
    if let Some(help) = err.help() {
        let _ = writeln!(stderr, "  help: {}", redact(help));
    }
}
