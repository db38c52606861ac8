//! The build stage's steps.

pub(crate) mod command;
pub(crate) mod gather;
pub(crate) mod manifest;
pub(crate) mod prepare_dist;
