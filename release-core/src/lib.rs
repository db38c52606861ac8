//! `release-core`: a release as ordered, fallible stages.
//!
//! A release is planned from `release.toml` ([`Config`]) into a [`Pipeline`] of [`Step`]s,
//! each with its [`StepMeta`] (a [`StepId`] whose [`Stage`] fixes where it runs): preflight
//! probes prove every permission first, then build, package, sign, verify, publish and finalize
//! run in order. Planning is pure; the runner is the only place with effects, and the library
//! never prints: it reports [`Event`]s to a [`Reporter`]. Steps hand values to later steps only
//! through declared [`HandOff`]s, which [`Pipeline::check`] verifies when the pipeline is
//! assembled.
//!
//! This page is the whole public surface: what an embedder needs to build, extend and run a
//! release (see `docs/embedding.md`), plus [`actions`] (the workflow files `release init` writes
//! and `release audit` checks) and [`signing`] (cosign key pairs and the checks `release verify`
//! makes) for front ends. Everything else is private to the crate.
//!
//! Inside, read `src/` in pipeline order: `config` → `env`/`secret` → `plan`/`step` →
//! `assemble` → `runner` → `steps/<stage>/` → the domain modules `helm`, `oci`, `github`,
//! `signing`, `matrix` → `checksum`/`shell`/`net`.

// The library never prints: events go to a `Reporter` (clippy.toml and tests/tidy.rs hold the
// other house rules).
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]
// The docs of public items name the private modules that implement them, for maintainers
// (`cargo doc --document-private-items` resolves those links); on the public page they read as
// plain text.
#![allow(rustdoc::private_intra_doc_links)]

// The engine. Private: its items change without notice.
mod archive;
mod artifact;
mod assemble;
mod cancel;
mod cargo;
mod changelog;
mod checksum;
mod config;
mod crates;
mod date;
mod dist;
mod env;
mod error;
mod event;
mod github;
mod helm;
mod identity;
mod installers;
mod io;
mod journal;
mod matrix;
mod net;
mod oci;
mod plan;
mod redact;
mod runner;
mod sbom;
mod secret;
mod session;
mod shell;
mod step;
mod steps;

// Front-end features, each behind a curated surface in its `mod.rs`.
pub mod actions;
pub mod signing;

// Configuration and assembly.
pub use assemble::{Overrides, Scope, identity, job_plan, pipeline};
pub use config::{
    ArtifactSpec, BuildCommand, CargoBuild, ChartConfig, Config, ConfigError, ConfigFile, CratesConfig,
    DEFAULT_PASSWORD_ENV, GithubConfig, InstallersConfig, NetworkConfig, Project, RateLimitConfig, RegistryConfig,
    SigningConfig, SigningMode, secret_variables_in,
};
pub use crates::plan_lines as crate_publish_order;
pub use dist::{GitPath, JOURNAL_FILE, MARKER_FILE, git_committed_unchanged, git_path};
pub use env::Environment;
pub use identity::{Commit, Identity, Notes, NotesSection, Refusal, Rule, Tree, Trigger, Written};
pub use journal::JournalSettings;
pub use matrix::{Matrix, MatrixEntry, MatrixError, PlanManifest, PlannedTarget};

// Steps and the pipeline.
pub use cancel::Cancellation;
pub use plan::{Effect, Mode, Plan, PlannedStep, Stage, StepId};
pub use runner::{
    ErrorRecord, Pipeline, PipelineError, RunFailure, RunReport, StepRecord, StepStatus, format_duration,
};
pub use step::{
    Artifact, ArtifactKind, HandOff, HandOffKey, HandOffValue, Release, RunState, Step, StepContext, StepMeta,
    StepResult,
};

// Errors and events.
pub use error::{Diagnose, FailureKind, SourceLocation, StepError};
pub use event::{Event, Recorder, Redacting, Reporter, Silent};

// Secrets and files.
pub use checksum::{ChecksumError, hash_file, sha256_hex};
pub use oci::verify::{ChartVerdict, verify_chart};
pub use redact::Redactor;
pub use secret::{Secret, SecretSink, Source, scrub_url_credentials};
pub use steps::handoffs::signer_handoff;

/// The guide to embedding `release-core` in another repository's xtask; its examples are
/// compiled and run as doctests.
#[doc = include_str!("../../docs/embedding.md")]
#[cfg(doctest)]
pub struct EmbeddingGuide;
