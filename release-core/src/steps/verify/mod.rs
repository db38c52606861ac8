//! The verify stage's steps.

pub(crate) mod bundles;
pub(crate) mod oci_signature;
pub(crate) mod provenance;
pub(crate) mod signatures;
