//! The package stage's steps.

pub(crate) mod archive;
pub(crate) mod chart;
pub(crate) mod checksums;
pub(crate) mod installers;
pub(crate) mod manifest;
pub(crate) mod sbom;
