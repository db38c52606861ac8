//! End-to-end test support: the test servers and (soon) the harness that runs the `release`
//! binary against a temporary project.

pub mod github_server;
