//! Verify-stage steps.

pub mod bundles;
pub mod provenance;
