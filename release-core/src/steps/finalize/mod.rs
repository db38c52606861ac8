//! The finalize stage's steps.

pub(crate) mod github_release;
