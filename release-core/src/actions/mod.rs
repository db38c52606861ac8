//! GitHub Actions workflows: writing one that is right from the start (`release init`) and
//! catching one that is not (`release audit`, and the same check in preflight).
//!
//! Every incident this project was started from lived in a workflow: a job without
//! `packages: write`, a workflow-level block that listed one permission and so dropped the
//! others to `none`, a job relying on a repository default that had been switched to
//! read-only. This module owns the permission model and the workflow files:
//!
//! - [`permissions`]: what the configured targets need from `GITHUB_TOKEN`, and what a job
//!   gets (job block, else workflow block, else the repository default).
//! - [`yaml`]: workflow files as YAML trees that remember lines, for findings at `file:line`.
//! - [`audit`]: the jobs that run the release (also inside reusable workflows of the same
//!   repository, capped by the jobs that call them), their missing permissions as findings,
//!   and the preflight check that runs the audit inside Actions.
//! - [`detect`](mod@detect): what `release init` finds in a repository (binaries, charts, remote, xtask).
//! - [`generate`]: pure functions from that data and a config to `release.toml` and
//!   `.github/workflows/release.yml`.
//! - [`commands`]: workflow commands as text (escaping, `::add-mask::`) for front ends to print.
//!
//! Invariant: the generated workflow grants exactly [`permissions::required_permissions`],
//! the function the audit checks against, so a generated workflow passes its own audit.
//! This module never prints and never talks to the network.

pub(crate) mod audit;
pub(crate) mod commands;
pub(crate) mod detect;
pub(crate) mod generate;
pub(crate) mod hardening;
pub(crate) mod permissions;
pub(crate) mod pins;
pub(crate) mod yaml;

pub use audit::{Audit, AuditError, Finding, Severity, WORKFLOWS_DIR, audit_repository, audit_texts, audit_workflow};
pub use commands::{append_github_output, escape_data, escape_property, output_line};
pub use detect::{Binary, Chart, DetectError, Detected, GithubRemote, Xtask, detect};
pub use generate::{
    COMMON_TARGETS, Runner, TOOL_REPOSITORY, ToolInstall, WorkflowOptions, release_toml, release_workflow, tag_pattern,
};
pub use permissions::{Level, Requirement, required_permissions};
