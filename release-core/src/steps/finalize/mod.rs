pub(crate) mod github_release;
pub(crate) mod github_release_attestation;
pub(crate) mod oci_tag;
