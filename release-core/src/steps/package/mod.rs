//! Package-stage steps: archives of built binaries and their SBOMs.

pub mod archive;
pub mod sbom;
