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
//! - [`assets`]: bringing a draft's assets to match the local manifest (the plan, pure; then
//!   deletes, streamed uploads, read-back);
//! - [`checks`]: settings checks that need no network, and the write probe's throwaway tag;
//! - [`snappy`]: the snappy block decoder for attestation bundles served from `bundle_url`.
//!
//! Its steps live in `steps/`: `preflight/github_release_write.rs` (the throwaway draft created and
//! deleted), `publish/github_release.rs` (the draft, its uploads and read-back) and
//! `finalize/github_release.rs` (the undraft, the last step of a run).
//!
//! What it must never do: send the token to a host other than the API's (or github.com's
//! upload host; an attestation's `bundle_url` is fetched without it), print anything (it reports through the step context), or make a release
//! visible before every asset is uploaded and checked.

// The errors here carry the whole failed exchange (request, status, message, permission
// headers) so that the diagnosis can name the fix. They are built at most a few times per run,
// when a release is already failing: their size costs nothing that matters.
#![allow(clippy::result_large_err)]

pub(crate) mod assets;
pub(crate) mod checks;
pub(crate) mod client;
pub(crate) mod diagnose;
pub(crate) mod release;
pub(crate) mod rulesets;
pub(crate) mod session;
pub(crate) mod snappy;
pub(crate) mod target;
