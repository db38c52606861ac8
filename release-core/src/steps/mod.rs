//! The built-in steps, filed by stage: a listing of `steps/<stage>/` answers "what runs in
//! stage X". Each file holds one step (or one kind of step, one per subject): its metadata as
//! data and what it does when it runs. Protocol clients and pure logic live in the domain
//! modules (`github`, `oci`, `helm`, `signing`, `actions`, `matrix`); which steps a release
//! has, and in which order, is decided in [`crate::assemble`].
//!
//! Steps hand values to later steps only through the typed [`handoffs`] they declare.

pub(crate) mod build;
pub(crate) mod finalize;
pub(crate) mod handoffs;
pub(crate) mod package;
pub(crate) mod preflight;
pub(crate) mod publish;
pub(crate) mod sign;
pub(crate) mod verify;

use std::collections::BTreeMap;

use camino::Utf8Path;

use crate::error::StepError;
use crate::shell::run_captured;
use crate::step::StepContext;

pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> Result<T, StepError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StepError::new(format!("{what} stopped: {e}")))?
}

/// A safe point between two files: an interrupted run stops here; nothing half-written stays
/// behind (each `.sig` is written whole).
pub(crate) fn stop_if_interrupted(cx: &StepContext<'_>, what: &str) -> Result<(), StepError> {
    if cx.is_cancelled() {
        return Err(StepError::new(format!("{what} was stopped: the run was interrupted"))
            .with_help("nothing was published; run the release again"));
    }
    Ok(())
}

/// The host's target triple, from `rustc -vV` run in `dir`.
pub(crate) async fn host_triple(cx: &StepContext<'_>, dir: &Utf8Path) -> Result<String, StepError> {
    let argv = ["rustc".to_owned(), "-vV".to_owned()];
    let text = run_captured(cx, &argv, dir, &BTreeMap::new()).await?;
    Ok(crate::cargo::host_triple(&text)?)
}
