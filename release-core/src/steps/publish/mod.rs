//! Publish steps: make remote changes others can see.

pub mod crates;
