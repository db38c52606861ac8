//! The package stage's steps.

pub(crate) mod chart;
pub(crate) mod checksums;
