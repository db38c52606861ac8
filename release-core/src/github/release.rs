//! What the GitHub release steps hand each other and tell the user: the publish step's
//! outcome (a checked draft, or a release published before), the release as published, the
//! run output naming it, and the help every failure before the undraft shares.

/// The run output that holds the release's URL.
pub(crate) const OUTPUT_RELEASE_URL: &str = "github-release-url";

pub(crate) const RERUN_HELP: &str = "the release stays a draft and nothing is visible yet (no chart version is tagged either); run the release again: it keeps the assets already uploaded and checked, uploads the rest, and finishes the finalize stage";

/// What the publish step left for the finalize step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A complete, checked draft, to be published.
    Draft { id: u64, url: String },
    /// The release was published before this run and now matches this build.
    AlreadyPublished { url: String, immutable: bool },
}

/// The release as published, for the steps after the undraft (the attestation check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Published {
    pub tag: String,
    pub url: String,
    /// GitHub's `immutable`: tag and assets locked, and attested by GitHub.
    pub immutable: bool,
}
