//! The built-in steps, one module per kind of work. Each module turns its part of the
//! config into steps (purely) and owns the effects those steps have when they run.

pub mod build;
pub mod checksums;
pub mod sign;
