//! Preflight checks for cargo builds and archives.

pub mod archives;
pub mod cargo;
