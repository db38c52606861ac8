//! Preflight steps: prove, before anything is built, what the release will need.

pub mod crates_manifests;
pub mod crates_registry;
