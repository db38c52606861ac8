//! Preflight steps.

pub mod id_token;
