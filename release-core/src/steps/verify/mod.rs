//! The verify stage's steps.

pub(crate) mod signatures;
