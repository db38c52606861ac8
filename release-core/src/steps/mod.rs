//! Built-in steps, one file per step, filed by stage (the layout of issue 12; steps written
//! before it still live in their domain modules).

pub mod finalize;
pub mod preflight;
