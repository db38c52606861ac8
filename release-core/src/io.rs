//! [`Io`]: the narrow interface domain code reports through (progress, output lines,
//! bytes, warnings, secrets found) and reads the run's environment and interruption from.
//! A step's context implements it; a test, an embedder or a front end outside a run can
//! implement it too, without a pipeline.

use crate::cancel::Cancellation;
use crate::env::Environment;
use crate::secret::SecretSink;

pub(crate) trait Io: SecretSink + Sync {
    /// The run's environment: what subprocesses inherit and credentials are read from.
    fn env(&self) -> &Environment;
    /// Interruption: stop at the next safe point once it is cancelled.
    fn cancellation(&self) -> &Cancellation;
    /// One line of what is happening.
    fn progress(&self, message: String);
    /// One line a subprocess printed.
    fn output_line(&self, line: String);
    /// Bytes done of a transfer.
    fn bytes(&self, done: u64, total: Option<u64>);
    /// A warning: the work goes on.
    fn warn(&self, message: String);
}
