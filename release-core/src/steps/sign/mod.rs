//! Sign-stage steps.

pub mod keyless;
pub mod provenance;
