//! Publish-stage steps.

pub mod attestation;
