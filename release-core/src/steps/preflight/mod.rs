//! The preflight stage's steps.

pub(crate) mod archives;
pub(crate) mod attestations;
pub(crate) mod build_tools;
pub(crate) mod cargo;
pub(crate) mod charts;
pub(crate) mod crates_manifests;
pub(crate) mod crates_registry;
pub(crate) mod dist;
pub(crate) mod gathered_builds;
pub(crate) mod github_release_write;
pub(crate) mod github_tag_rules;
pub(crate) mod id_token;
pub(crate) mod identity;
pub(crate) mod oci_check;
pub(crate) mod oci_push;
pub(crate) mod signing_key;
pub(crate) mod workflow_permissions;
