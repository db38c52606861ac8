//! Built-in steps, one file per step, filed by stage (the layout of the redesign, issue 12).
//! For now only the crate steps live here; the others are in `stages/`, `github/`, `oci/`.

pub mod preflight;
pub mod publish;
