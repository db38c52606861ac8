//! GitHub releases: prove write access before building, publish draft-first, converge on
//! re-run.
//!
//! What this module owns:
//! - [`target`]: which repository, which API (`github.api-url` → `GITHUB_API_URL` →
//!   `https://api.github.com`) and which token (`github.token-env` → `GH_TOKEN` →
//!   `GITHUB_TOKEN`), reported by source, never by value;
//! - [`client`]: the API calls (octocrab), streamed uploads to the release's own
//!   `upload_url` (reqwest), and errors that keep status, message and the permission headers;
//! - [`diagnose`]: turning a 401/403/404 into the setting, scope or permission to change;
//! - [`probe`]: the preflight step, a throwaway draft created and deleted;
//! - [`publish`]: the draft, its uploads and read-back (publish stage), and the undraft
//!   (finalize stage, the last step of a run).
//!
//! What it must never do: send the token to a host other than the API's (or github.com's
//! upload host), print anything (it reports through the step context), or make a release
//! visible before every asset is uploaded and checked.

// The errors here carry the whole failed exchange (request, status, message, permission
// headers) so that the diagnosis can name the fix. They are built at most a few times per run,
// when a release is already failing: their size costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod diagnose;
pub mod probe;
pub mod publish;
pub mod rulesets;
pub mod target;

pub use client::{ApiError, GithubClient};
pub use diagnose::GithubError;
pub use probe::GithubPreflight;
pub use publish::{FinalizeRelease, OUTPUT_RELEASE_URL, PublishRelease};
pub use target::{Target, TargetError};

use crate::config::Config;
use crate::step::Step;
use crate::steps::finalize::github_release_attestation::ReleaseAttestationCheck;
use crate::steps::preflight::github_tag_rules::GithubTagRules;

/// The steps a `[github]` section adds: the preflight probe and the check of the tag's rules,
/// the publish step and the finalize step (the undraft); see also [`attestation_check`]. Pure: nothing is resolved or contacted until the steps run.
pub fn steps(config: &Config) -> Vec<Box<dyn Step>> {
    let Some(github) = &config.github else { return Vec::new() };
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(GithubPreflight::new(github, &config.network, &config.root))];
    // It reads the network: `probe = false` (preflight without the network) leaves it out.
    if github.probe {
        steps.push(Box::new(GithubTagRules::new(github, &config.network)));
    }
    steps.push(Box::new(PublishRelease::new(github, &config.network, &config.root, config.project.name.as_deref())));
    steps.push(Box::new(FinalizeRelease::new(github, &config.network)));
    steps
}

/// The last step of a `[github]` release: GitHub's attestation of an immutable release
/// compared with `SHA256SUMS`. Added after every other finalize step (the chart tags too), so
/// that its verdict is about a release that is otherwise complete.
pub fn attestation_check(config: &Config) -> Option<Box<dyn Step>> {
    let github = config.github.as_ref()?;
    Some(Box::new(ReleaseAttestationCheck::new(github, &config.network)))
}
