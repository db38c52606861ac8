//! End-to-end tests: the real `release` binary against real files, our GitHub test server
//! and the real CNCF registry. One test binary; one module per area.

mod corpus;
mod foundation;
mod github;
mod github_faults;
mod helm;
mod interrupt;
mod keyless;
mod matrix;
mod oci;
mod registry_faults;
mod resume;
mod secrets;
mod signing;
mod workflow;
