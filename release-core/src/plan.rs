//! The plan: the ordered list of steps a run will take, as data.
//!
//! Building a plan does no I/O. It can be printed (`release plan --json`), compared between
//! jobs, and checked before anything happens.

use serde::{Deserialize, Serialize};

/// The stages of a release, in the order they run. A step's stage fixes where it runs;
/// steps of one stage keep the order they were added in.
///
/// Charts are packaged before signing so that their packages are signed too, and every
/// signature is verified (the gate) before anything is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Probes: prove every permission and credential the release needs. Nothing after this
    /// stage starts until every probe has passed.
    Preflight,
    /// Run the build commands, collect artifacts into the dist directory.
    Build,
    /// Package charts, write `SHA256SUMS`.
    Package,
    /// Sign every file that will be published.
    Sign,
    /// Verify every signature: nothing unverified is published.
    Verify,
    /// Push charts, create the draft release and upload its assets, then publish crates.
    Publish,
    /// Make the release visible (undraft), the very last thing.
    Finalize,
}

impl Stage {
    pub const ALL: [Stage; 7] =
        [Stage::Preflight, Stage::Build, Stage::Package, Stage::Sign, Stage::Verify, Stage::Publish, Stage::Finalize];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Build => "build",
            Stage::Package => "package",
            Stage::Sign => "sign",
            Stage::Verify => "verify",
            Stage::Publish => "publish",
            Stage::Finalize => "finalize",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A step's identity: the stage it runs in, the kind of work, and what it works on (a chart,
/// a target). Written `stage:kind` or `stage:kind:subject` (`preflight:charts`,
/// `build:hello:x86_64-unknown-linux-gnu`, `publish:oci-push:hello`): the text is the stable
/// key of the plan JSON, the journal and the Actions summary. The stage is part of the id, so
/// an id cannot disagree with the stage its step is filed under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId {
    stage: Stage,
    kind: String,
    subject: Option<String>,
}

impl StepId {
    /// `stage:kind`. `kind` names the work in lowercase words joined by `-`.
    pub fn new(stage: Stage, kind: impl Into<String>) -> Self {
        StepId { stage, kind: kind.into(), subject: None }
    }

    /// `stage:kind:subject`: one step of its kind per subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.stage, self.kind)?;
        if let Some(subject) = &self.subject {
            write!(f, ":{subject}")?;
        }
        Ok(())
    }
}

impl Serialize for StepId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a step may change. The runner uses it to decide what runs in each mode, and the
/// pipeline uses it to refuse steps that claim to be probes but publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Reads local state only (a config check, a key decrypt).
    Check,
    /// Exercises a remote write path and undoes it (a draft release created and deleted, a
    /// registry upload session started and cancelled).
    Probe,
    /// Writes local files only (build, package, sign).
    Local,
    /// Changes remote state that others can see (push, upload, publish).
    Publish,
}

/// How much of the pipeline a run executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Everything.
    Release,
    /// Everything without a remote effect: local checks, build, package, sign, verify.
    Snapshot,
    /// Plan and preflight (every probe, remote ones included) and nothing else.
    DryRun,
}

impl Mode {
    /// Whether a step with this stage and effect runs in this mode, and if not, why.
    pub fn skip_reason(self, stage: Stage, effect: Effect) -> Option<&'static str> {
        match self {
            Mode::Release => None,
            Mode::Snapshot => match effect {
                Effect::Check | Effect::Local => None,
                Effect::Probe | Effect::Publish => Some("snapshot: no remote effects"),
            },
            Mode::DryRun => (stage != Stage::Preflight).then_some("dry run: preflight only"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Release => "release",
            Mode::Snapshot => "snapshot",
            Mode::DryRun => "dry-run",
        }
    }
}

/// The plan's format version. Jobs that share a plan (a matrix build and its publish job)
/// refuse a plan of another version.
pub(crate) const PLAN_SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: u32,
    pub mode: Mode,
    pub version: String,
    pub tag: String,
    pub dist: String,
    pub steps: Vec<PlannedStep>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub id: String,
    pub stage: Stage,
    pub effect: Effect,
    pub description: String,
    /// Why this step does not run in this mode; absent when it runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub skipped: Option<String>,
}
