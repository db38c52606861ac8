//! The built-in steps, filed by stage: a listing of `steps/<stage>/` answers "what runs in
//! stage X". Each file holds one step (or one kind of step, one per subject): its metadata as
//! data and what it does when it runs. Protocol clients and pure logic live in the domain
//! modules (`github`, `oci`, `helm`, `signing`, `actions`, `matrix`); which steps a release
//! has, and in which order, is decided in [`crate::assemble`].
//!
//! Steps hand values to later steps only through the typed [`handoffs`] they declare.

pub(crate) mod build;
pub(crate) mod finalize;
pub(crate) mod handoffs;
pub(crate) mod package;
pub(crate) mod preflight;
pub(crate) mod publish;
pub(crate) mod sign;
pub(crate) mod verify;
