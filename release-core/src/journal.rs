//! The run journal: what each step of a run did, so that a run after a failure resumes where
//! the failed one stopped instead of building everything again.
//!
//! The journal is a JSON file written after every step. It holds the run's *fingerprint* (the
//! plan, the config file's bytes and the commit being released, hashed), each step's status,
//! and the artifacts and outputs each step produced (names, paths, sizes, sha256).
//!
//! How the runner uses it ([`crate::runner`]):
//! - only a journal of a run that did *not* finish, with the same fingerprint, is resumed; a
//!   changed config or plan, a finished run, or `--fresh` starts afresh;
//! - a local step that opts in (`StepMeta::resumable`) and finished in the earlier
//!   run is skipped as "done in an earlier run" when every file it recorded still exists
//!   with the recorded size and sha256; its artifacts and outputs are restored for the
//!   steps after it. The first local step that runs again ends the resume: every local
//!   step after it runs too, because its inputs may have changed;
//! - checks, probes and remote steps always run. The journal is never trusted over a
//!   server: remote steps re-check the remote state themselves (the GitHub publish step
//!   keeps the assets whose sha256 matches and uploads the rest).
//!
//! Where it lives: inside the dist directory, as `.release-journal.json`: a directory the tool
//! owns ([`crate::dist`]), so a run leaves nothing in the repository, and a `--dist`
//! elsewhere gets a journal of its own. `build:prepare-dist` removes only the files the
//! directory's marker lists, never the journal, and nothing scans the dist directory for what
//! to publish: published files are the run's artifacts.
//!
//! What it must never hold: a secret value, or anything a later run trusts without checking.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifact::Artifact;
use crate::checksum::hash_file;
use crate::plan::Plan;

/// The journal's format version; a journal of another version is ignored.
pub(crate) const JOURNAL_SCHEMA: u32 = 1;
pub(crate) use crate::dist::JOURNAL_FILE;

/// Where a pipeline keeps its journal, and whether to resume from it.
#[derive(Clone, Debug, Default)]
pub struct JournalSettings {
    /// The journal file.
    pub path: Utf8PathBuf,
    /// What else, beyond the plan, invalidates the journal when it changes: the config
    /// file's sha256 and the commit being released.
    pub context: String,
    /// Ignore an earlier journal (`--fresh`); the run still writes one.
    pub fresh: bool,
}

impl JournalSettings {
    /// The journal of a dist directory: `.release-journal.json` inside it.
    pub fn in_dist(dist: &Utf8Path) -> Utf8PathBuf {
        dist.join(JOURNAL_FILE)
    }
}

/// What a run did, step by step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub schema: u32,
    /// Hex sha256 of the plan and the [`JournalSettings::context`].
    pub fingerprint: String,
    /// True once the run succeeded: a finished run is never resumed.
    pub finished: bool,
    pub steps: Vec<JournalStep>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalStep {
    pub id: String,
    pub status: JournalStatus,
    /// The artifacts this step added or replaced, in order.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// The run outputs this step set.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum JournalStatus {
    /// The step finished (in this run, or in an earlier one it was resumed from).
    Done,
    Failed,
}

/// Why a recorded step cannot be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stale {
    /// The earlier run did not finish this step.
    NotDone,
    /// A recorded file is gone or differs.
    Changed { path: Utf8PathBuf, why: String },
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::NotDone => f.write_str("the earlier run did not finish it"),
            Stale::Changed { path, why } => write!(f, "{path} {why} since the earlier run"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error("cannot write the run journal {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("cannot write the run journal {path}: {source}")]
    Directory { path: Utf8PathBuf, source: crate::dist::DistError },
}

/// The fingerprint of a plan in a context: any change to the steps, their commands, the
/// version, tag, dist directory, mode or context gives another one.
pub(crate) fn fingerprint(plan: &Plan, context: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(JOURNAL_SCHEMA.to_le_bytes());
    hasher.update(serde_json::to_vec(plan).expect("a plan serialises"));
    hasher.update([0]);
    hasher.update(context.as_bytes());
    hex::encode(hasher.finalize())
}

impl Journal {
    pub(crate) fn new(fingerprint: String) -> Self {
        Journal { schema: JOURNAL_SCHEMA, fingerprint, finished: false, steps: Vec::new() }
    }

    /// The journal at `path` if it is one this run may resume from: same schema and
    /// fingerprint, and not finished. Anything else (no file, unreadable, another plan) is
    /// `None`: the run starts afresh.
    pub(crate) fn resumable(path: &Utf8Path, fingerprint: &str) -> Option<Journal> {
        let text = std::fs::read(path).ok()?;
        let journal: Journal = serde_json::from_slice(&text).ok()?;
        (journal.schema == JOURNAL_SCHEMA && journal.fingerprint == fingerprint && !journal.finished).then_some(journal)
    }

    pub(crate) fn step(&self, id: &str) -> Option<&JournalStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Records a step's outcome, replacing an earlier record of the same step.
    pub(crate) fn record(&mut self, step: JournalStep) {
        match self.steps.iter_mut().find(|s| s.id == step.id) {
            Some(existing) => *existing = step,
            None => self.steps.push(step),
        }
    }

    /// Writes the journal atomically: a temporary file renamed over the old one, so that a
    /// run killed while writing leaves the previous journal, never half of one.
    pub(crate) fn save(&self, path: &Utf8Path) -> Result<(), JournalError> {
        let err = |source| JournalError::Write { path: path.to_owned(), source };
        // A directory made for the journal is made as the tool's own, with its marker.
        if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty()) {
            crate::dist::ensure(parent).map_err(|source| JournalError::Directory { path: path.to_owned(), source })?;
        }
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(self).expect("a journal serialises");
        std::fs::write(&temporary, text).map_err(err)?;
        std::fs::rename(&temporary, path).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            err(source)
        })
    }
}

impl JournalStep {
    /// Whether this record can stand in for running the step again: it is done, and every
    /// file it recorded still has the recorded size and sha256.
    pub(crate) fn verify(&self) -> Result<(), Stale> {
        if self.status != JournalStatus::Done {
            return Err(Stale::NotDone);
        }
        for artifact in &self.artifacts {
            let changed = |why: &str| Stale::Changed { path: artifact.path.clone(), why: why.to_owned() };
            let meta = std::fs::metadata(&artifact.path).map_err(|_| changed("is gone"))?;
            if !meta.is_file() || meta.len() != artifact.size {
                return Err(changed("changed size"));
            }
            let (sha256, _) = hash_file(&artifact.path).map_err(|_| changed("cannot be read"))?;
            if sha256 != artifact.sha256 {
                return Err(changed("changed content"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::ArtifactKind;
    use crate::plan::{Mode, PLAN_SCHEMA};

    fn plan(version: &str) -> Plan {
        Plan {
            schema: PLAN_SCHEMA,
            mode: Mode::Release,
            version: version.into(),
            tag: format!("v{version}"),
            dist: "/p/dist".into(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn fingerprint_changes_with_plan_and_context() {
        let a = fingerprint(&plan("1.0.0"), "config-a");
        assert_eq!(a, fingerprint(&plan("1.0.0"), "config-a"));
        assert_ne!(a, fingerprint(&plan("1.0.1"), "config-a"));
        assert_ne!(a, fingerprint(&plan("1.0.0"), "config-b"));
    }

    #[test]
    fn only_an_unfinished_journal_of_the_same_plan_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join(JOURNAL_FILE)).unwrap();
        let mut journal = Journal::new("fp".into());
        journal.record(JournalStep {
            id: "build:a".into(),
            status: JournalStatus::Done,
            artifacts: Vec::new(),
            outputs: BTreeMap::new(),
        });
        journal.save(&path).unwrap();
        assert_eq!(Journal::resumable(&path, "fp").as_ref(), Some(&journal));
        assert_eq!(Journal::resumable(&path, "other"), None);
        journal.finished = true;
        journal.save(&path).unwrap();
        assert_eq!(Journal::resumable(&path, "fp"), None);
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Journal::resumable(&path, "fp"), None);
    }

    #[test]
    fn a_record_is_reusable_only_while_its_files_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("app")).unwrap();
        std::fs::write(&path, b"the app\n").unwrap();
        let (sha256, size) = hash_file(&path).unwrap();
        let step = JournalStep {
            id: "build:app".into(),
            status: JournalStatus::Done,
            artifacts: vec![Artifact {
                name: "app".into(),
                path: path.clone(),
                kind: ArtifactKind::Binary,
                size,
                sha256,
            }],
            outputs: BTreeMap::new(),
        };
        assert_eq!(step.verify(), Ok(()));
        std::fs::write(&path, b"the APP\n").unwrap();
        assert!(matches!(step.verify(), Err(Stale::Changed { ref why, .. }) if why == "changed content"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(step.verify().unwrap_err().to_string(), format!("{path} is gone since the earlier run"));
        let failed = JournalStep { status: JournalStatus::Failed, artifacts: Vec::new(), ..step };
        assert_eq!(failed.verify(), Err(Stale::NotDone));
    }
}
