//! The sign stage: every file that will be published gets a signature; the signer is handed to later steps.
//! The settings the signing steps of every stage share are `crate::signing::settings`.

pub(crate) mod artifacts;
pub(crate) mod keyless;
pub(crate) mod oci_signature;
pub(crate) mod provenance;
#[cfg(test)]
mod tests;
