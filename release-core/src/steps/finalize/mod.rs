//! Finalize steps.

pub mod github_release_attestation;
