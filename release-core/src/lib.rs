//! `release-core`: a release as ordered, fallible stages.
//!
//! A release is planned from `release.toml` ([`config`]) into a [`runner::Pipeline`] of
//! [`step::Step`]s filed by [`plan::Stage`]: preflight probes prove every permission first,
//! then build, package, sign, verify, publish and finalize run in order. Planning is pure;
//! the runner is the only place with effects, and the library never prints: it reports
//! [`event::Event`]s to a [`event::Reporter`].
//!
//! Read in this order: [`config`] → [`env`]/[`secret`] → [`plan`] → [`step`] →
//! [`assemble`] → [`runner`] → [`stages`] → [`helm`] → [`oci`] → [`signing`] →
//! [`checksum`]/[`shell`]. [`actions`] writes and audits the GitHub Actions workflow that
//! runs a release; [`matrix`] spreads its builds across runners.

pub mod actions;
pub mod assemble;
pub mod cancel;
pub mod checksum;
pub mod config;
pub mod env;
pub mod error;
pub mod event;
pub mod github;
pub mod helm;
pub mod journal;
pub mod matrix;
pub mod net;
pub mod oci;
pub mod plan;
pub mod runner;
pub mod secret;
pub mod shell;
pub mod signing;
pub mod stages;
pub mod step;
pub mod steps;

pub use assemble::{Overrides, Scope, pipeline};
pub use cancel::Cancellation;
pub use config::Config;
pub use env::Environment;
pub use error::{Diagnose, FailureKind, SourceLocation, StepError};
pub use event::{Event, Reporter};
pub use plan::{Effect, Mode, Plan, Stage};
pub use runner::{Pipeline, RunFailure, RunReport};
pub use secret::{Secret, Source};
pub use step::{Artifact, ArtifactKind, Release, Step, StepContext, StepResult};

/// The guide to embedding `release-core` in another repository's xtask; its examples are
/// compiled and run as doctests.
#[doc = include_str!("../../docs/embedding.md")]
#[cfg(doctest)]
pub struct EmbeddingGuide;
