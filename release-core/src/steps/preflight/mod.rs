//! Preflight steps.

pub mod attestations;
pub mod id_token;
