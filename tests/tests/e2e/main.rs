//! End-to-end tests: the real `release` binary against real files, our GitHub test server
//! and the real CNCF registry. One test binary; one module per area.

// A test harness, outside the library's rules (clippy.toml): it starts the `release` binary,
// the registry and independent checkers (openssl, tar, kill) itself, and passes `PATH` and
// `HOME` of the test process on to them.
#![allow(clippy::disallowed_methods)]

mod corpus;
mod crates;
mod dist_safety;
mod foundation;
mod github;
mod github_faults;
mod helm;
mod identity;
mod installers;
mod interrupt;
mod keyless;
mod keyless_charts;
mod keyless_private;
mod matrix;
mod oci;
mod registry_faults;
mod release_rules;
mod resume;
mod rust;
mod secrets;
mod shown;
mod signing;
mod workflow;
