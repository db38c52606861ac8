//! Verify-stage steps.

pub mod bundles;
