//! Sign-stage steps.

pub mod keyless;
