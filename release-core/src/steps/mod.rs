//! Built-in steps by stage, one file per step (the layout every step moves to): Rust
//! binaries built with cargo, their archives and SBOMs.

pub mod build;
pub mod package;
pub mod preflight;
