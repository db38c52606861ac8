//! The typed hand-offs between built-in steps: who makes what, for whom.
//!
//! | hand-off | made by | read by |
//! |---|---|---|
//! | `built-files:<build>[:<target>]` | `build:<build>[:<target>]` (archived builds) | `package:archive:…`, `package:sbom:…` |
//! | `packaged-chart:<chart>` | `package:chart:<chart>` | `publish:oci-push:<chart>` |
//! | `pushed-chart:<chart>` | `publish:oci-push:<chart>` | `publish:oci-signature:<chart>`, `finalize:oci-tag:<chart>` |
//! | `signed-chart:<chart>` | `publish:oci-signature:<chart>` (key) or `publish:oci-referrers:<chart>` (keyless) | `finalize:oci-tag:<chart>` |
//! | `chart-signature:<chart>` | `sign:oci-signature:<chart>` (keyless) | `verify:oci-signature:<chart>`, `publish:oci-referrers:<chart>` |
//! | `signer` | `sign:artifacts` | `publish:oci-signature:<chart>` |
//! | `keyless-session` | `sign:keyless` | `sign:provenance`, `sign:oci-signature:<chart>`, the keyless verify steps, `publish:attestation`, `publish:oci-referrers:<chart>` |
//! | `signed-provenance` | `sign:provenance` | `verify:provenance`, `publish:attestation`, `publish:oci-referrers:<chart>` |
//! | `github-release` | `publish:github-release` | `finalize:github-release` |
//! | `published-release` | `finalize:github-release` | `finalize:github-release-attestation` |
//!
//! Steps declare them in their [`StepMeta`](crate::step::StepMeta); the pipeline refuses a
//! consumer without an earlier producer when it is assembled.

use crate::archive::Entry;
use crate::github::release::{Outcome, Published};
use crate::helm::{ChartId, PackagedChart};
use crate::oci::manifest::PushedChart;
use crate::oci::referrers::ChartSignature;
use crate::signing::ActiveSigner;
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::Provenance;
use crate::step::HandOff;

/// The chart `chart` as the package stage wrote it.
pub(crate) fn packaged_chart(chart: &ChartId) -> HandOff<PackagedChart> {
    HandOff::of("packaged-chart", "package:chart", chart.label())
}

/// The chart `chart` as its registry holds it (by digest, and maybe by tag).
pub(crate) fn pushed_chart(chart: &ChartId) -> HandOff<PushedChart> {
    HandOff::of("pushed-chart", "publish:oci-push", chart.label())
}

/// The chart's signature is in its registry: its version tag may appear. Made by the key
/// mode's `publish:oci-signature` or the keyless `publish:oci-referrers`.
pub(crate) fn signed_chart(chart: &ChartId, keyless: bool) -> HandOff<String> {
    let made_by = if keyless { "publish:oci-referrers" } else { "publish:oci-signature" };
    HandOff::of("signed-chart", made_by, chart.label())
}

/// The chart's keyless signature for its registry (cosign v3 bundle over its manifest).
pub(crate) fn chart_signature(chart: &ChartId) -> HandOff<ChartSignature> {
    HandOff::of("chart-signature", "sign:oci-signature", chart.label())
}

/// The hand-off under which `sign:artifacts` leaves the run's signer, once it has signed
/// every file, for later steps: public for embedders, who declare
/// `StepMeta::consumes(&signer_handoff())` to read it.
pub fn signer_handoff() -> HandOff<ActiveSigner> {
    HandOff::new("signer", "sign:artifacts")
}

/// The GitHub release as published (or found published), for the checks after the undraft.
pub(crate) fn published_release() -> HandOff<Published> {
    HandOff::new("published-release", "finalize:github-release")
}

/// The draft (or already published) GitHub release, for the finalize step.
pub(crate) fn github_release() -> HandOff<Outcome> {
    HandOff::new("github-release", "publish:github-release")
}

/// The run's keyless session (its key, certificate and identity), once every file is signed.
pub(crate) fn keyless_session() -> HandOff<ActiveKeyless> {
    HandOff::new("keyless-session", "sign:keyless")
}

/// The run's signed build provenance, for the steps that publish it.
pub(crate) fn signed_provenance() -> HandOff<Provenance> {
    HandOff::new("signed-provenance", "sign:provenance")
}

/// One build's binaries for one target, waiting to be archived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BuiltFiles {
    /// The target triple the files were built for (the host's for a build without targets).
    pub triple: String,
    /// The files, under their names in the archive.
    pub files: Vec<Entry>,
}

/// What one build hands `package:archive` and `package:sbom` for one target: the hand-off
/// `built-files:<build>[:<target>]`. Not journaled: the build steps that make it are not
/// resumable.
pub(crate) fn built_files(build: &str, target: Option<&str>) -> HandOff<BuiltFiles> {
    let subject = match target {
        Some(target) => format!("{build}:{target}"),
        None => build.to_owned(),
    };
    HandOff::of("built-files", "build:<build>", subject)
}
