//! The publish stage's steps.

pub(crate) mod attestation;
pub(crate) mod crates;
pub(crate) mod github_release;
pub(crate) mod oci_push;
pub(crate) mod oci_referrers;
pub(crate) mod oci_signature;
