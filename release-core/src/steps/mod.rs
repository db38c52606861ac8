//! Built-in steps, one folder per stage (the layout of the redesign, issue 12). New steps
//! land here; the older ones still live in [`crate::stages`].

pub mod preflight;
pub mod publish;
pub mod sign;
pub mod verify;
