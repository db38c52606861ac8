//! `release audit`: does every workflow job that runs the release get the token permissions
//! the configured targets need?
//!
//! A job "runs the release" when a `run:` line invokes `release run`, `release preflight`,
//! `cargo xtask release` or `release-cli`; lines that only install the tool
//! (`cargo install`), only plan (`release plan`) or make a snapshot (`--snapshot`) have no
//! remote effect and need nothing. Each such job's effective permissions are computed as
//! GitHub computes them ([`super::permissions`]) and every missing one is a [`Finding`]
//! with the file and the line to change. A job without any `permissions:` block gets a
//! warning: it relies on the repository default, which can be read-only.
//!
//! A job that calls a reusable workflow of the same repository (`uses:
//! ./.github/workflows/x.yml`) is followed into it: the called workflow's jobs get at most
//! the calling job's permissions (its block, else its workflow's, else the default), and
//! their own blocks can only lower that. Every block on the way that refuses a needed
//! permission is a finding at its own line, so the message says which one limits. A
//! workflow whose only trigger is `workflow_call` is, on its own, judged only by what its
//! blocks take away: its callers decide the rest. Another repository's workflow
//! (`owner/repo/.github/workflows/x.yml@ref`) is not in the checkout; such calls are listed
//! in [`Audit::external_calls`], not judged.
//!
//! `preflight:workflow-permissions` runs the same audit as a preflight check inside GitHub
//! Actions, so that a release whose publish job would be refused fails before the build.
//! This module reads files and never prints.

use std::collections::BTreeMap;
use std::rc::Rc;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::env::Environment;
use crate::error::Diagnose;

use super::permissions::{Grant, Requirement, least_privilege_block};
use super::yaml::{self, Node, Positioned};

/// The directory workflows live in, relative to the repository root.
pub const WORKFLOWS_DIR: &str = ".github/workflows";

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The job will not be able to do what the release needs: `release audit` exits 1.
    Error,
    /// The outcome depends on a setting the file does not show.
    Warning,
}

/// One problem, at the line to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Relative to the repository root, as GitHub's annotations want it.
    pub file: Utf8PathBuf,
    pub line: usize,
    /// The job's id; absent for problems with the file as a whole.
    pub job: Option<String>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// What an audit of a repository found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Audit {
    /// The workflow files read, relative to the repository root.
    pub files: Vec<Utf8PathBuf>,
    /// `file:job` of every job found running the release; for a job in a called workflow,
    /// the calling jobs first: `release.yml:release → release-reusable.yml:publish`.
    pub release_jobs: Vec<String>,
    pub findings: Vec<Finding>,
    /// `file:job → owner/repo/.github/workflows/x.yml@ref` of every job that calls a
    /// workflow of another repository, which the audit cannot read.
    pub external_calls: Vec<String>,
}

impl Audit {
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity == Severity::Warning)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("no {WORKFLOWS_DIR} directory in {start} or the directories above it (up to the repository root)")]
    NoWorkflows { start: Utf8PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
}

impl Diagnose for AuditError {
    fn help(&self) -> Option<String> {
        match self {
            AuditError::NoWorkflows { .. } => {
                Some("run `release init` to write .github/workflows/release.yml, or run from the repository".into())
            }
            AuditError::Read { .. } => None,
        }
    }
}

/// The repository root holding `.github/workflows`: `start` or the nearest directory above
/// it that has one, not leaving the git repository `start` is in.
pub(crate) fn find_repository_root(start: &Utf8Path) -> Option<Utf8PathBuf> {
    let mut dir = Some(start);
    while let Some(candidate) = dir {
        if candidate.join(WORKFLOWS_DIR).is_dir() {
            return Some(candidate.to_owned());
        }
        if candidate.join(".git").exists() {
            return None;
        }
        dir = candidate.parent();
    }
    None
}

/// Audits every `*.yml` and `*.yaml` file in the repository's `.github/workflows`.
pub fn audit_repository(start: &Utf8Path, needed: &[Requirement]) -> Result<Audit, AuditError> {
    let root = find_repository_root(start).ok_or_else(|| AuditError::NoWorkflows { start: start.to_owned() })?;
    let dir = root.join(WORKFLOWS_DIR);
    let read_err = |path: &Utf8Path| {
        let path = path.to_owned();
        move |source| AuditError::Read { path, source }
    };
    let mut files = Vec::new();
    for entry in dir.read_dir_utf8().map_err(read_err(&dir))? {
        let entry = entry.map_err(read_err(&dir))?;
        let is_yaml = matches!(entry.path().extension(), Some("yml" | "yaml"));
        if is_yaml && entry.path().is_file() {
            files.push(Utf8PathBuf::from(WORKFLOWS_DIR).join(entry.file_name()));
        }
    }
    files.sort();
    audit_files(&root, &files, needed)
}

/// Audits the given workflow files (relative to `root`) and the workflows of the same
/// repository that their jobs call.
pub(crate) fn audit_files(root: &Utf8Path, files: &[Utf8PathBuf], needed: &[Requirement]) -> Result<Audit, AuditError> {
    let mut auditor = Auditor::new(WorkflowSource::Disk(root), needed);
    for file in files {
        auditor.audit_file(file)?;
    }
    Ok(auditor.finish())
}

/// Audits workflow texts as if they were a repository's `.github/workflows`: every one of
/// them, with the calls between them followed.
pub fn audit_texts(files: &[(Utf8PathBuf, String)], needed: &[Requirement]) -> Audit {
    let mut auditor = Auditor::new(WorkflowSource::Memory(files), needed);
    for (file, _) in files {
        // Reading from memory fails only for a file that is not there, and every file
        // named here is.
        let _ = auditor.audit_file(file);
    }
    auditor.finish()
}

/// Audits one workflow's text; `file` is how findings name it. A workflow it calls cannot
/// be read, and is reported as missing.
pub fn audit_workflow(file: &Utf8Path, text: &str, needed: &[Requirement]) -> Audit {
    audit_texts(&[(file.to_owned(), text.to_owned())], needed)
}

/// Where workflow files are read from: a repository on disk, or texts in memory.
enum WorkflowSource<'a> {
    Disk(&'a Utf8Path),
    Memory(&'a [(Utf8PathBuf, String)]),
}

impl WorkflowSource<'_> {
    /// The file's text; `None` when there is no such file.
    fn read(&self, file: &Utf8Path) -> Result<Option<String>, AuditError> {
        match self {
            WorkflowSource::Disk(root) => {
                let path = root.join(file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(Some(text)),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(AuditError::Read { path, source }),
                }
            }
            WorkflowSource::Memory(files) => {
                Ok(files.iter().find(|(name, _)| name == file).map(|(_, text)| text.clone()))
            }
        }
    }

    fn path(&self, file: &Utf8Path) -> Utf8PathBuf {
        match self {
            WorkflowSource::Disk(root) => root.join(file),
            WorkflowSource::Memory(_) => file.to_owned(),
        }
    }
}

/// A workflow file, read and parsed once however many jobs call it.
enum Loaded {
    Missing,
    Broken(yaml::YamlError),
    Workflow(Positioned),
}

/// One job on the way from a workflow that is triggered to the job that runs the release:
/// a job calling a reusable workflow (`uses: ./.github/workflows/….yml`), or the release
/// job itself, always last.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    file: Utf8PathBuf,
    job_id: String,
    job_line: usize,
    grant: Grant,
}

/// GitHub nests reusable workflows at most ten deep; a longer chain is not followed.
pub(crate) const MAX_CALL_DEPTH: usize = 10;

/// `release.yml:release → release-reusable.yml:publish`.
pub(crate) fn describe(chain: &[Link]) -> String {
    chain.iter().map(|link| format!("{}:{}", link.file, link.job_id)).collect::<Vec<_>>().join(" → ")
}

pub(crate) struct Auditor<'a> {
    source: WorkflowSource<'a>,
    needed: &'a [Requirement],
    loaded: BTreeMap<Utf8PathBuf, Rc<Loaded>>,
    audit: Audit,
    /// Release jobs of workflows that only run when called, seen on their own: listed only
    /// when no caller in the audit reaches them.
    called_only_jobs: Vec<String>,
}

impl<'a> Auditor<'a> {
    fn new(source: WorkflowSource<'a>, needed: &'a [Requirement]) -> Self {
        Auditor { source, needed, loaded: BTreeMap::new(), audit: Audit::default(), called_only_jobs: Vec::new() }
    }

    fn finish(mut self) -> Audit {
        for job in std::mem::take(&mut self.called_only_jobs) {
            let reached = self.audit.release_jobs.iter().any(|chain| chain.ends_with(&format!(" → {job}")));
            if !reached {
                self.audit.release_jobs.push(job);
            }
        }
        self.audit.files.sort();
        self.audit.findings.sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
        self.audit
    }

    fn load(&mut self, file: &Utf8Path) -> Result<Rc<Loaded>, AuditError> {
        if let Some(loaded) = self.loaded.get(file) {
            return Ok(Rc::clone(loaded));
        }
        let loaded = Rc::new(match self.source.read(file)? {
            None => Loaded::Missing,
            Some(text) => {
                self.audit.files.push(file.to_owned());
                match yaml::parse(&text) {
                    Ok(doc) => Loaded::Workflow(doc),
                    Err(err) => Loaded::Broken(err),
                }
            }
        });
        self.loaded.insert(file.to_owned(), Rc::clone(&loaded));
        Ok(loaded)
    }

    /// A finding once, however many ways lead to it (a called workflow is audited from each
    /// of its callers and on its own).
    fn report(&mut self, finding: Finding) {
        if !self.audit.findings.contains(&finding) {
            self.audit.findings.push(finding);
        }
    }

    fn audit_file(&mut self, file: &Utf8Path) -> Result<(), AuditError> {
        let loaded = self.load(file)?;
        match &*loaded {
            Loaded::Missing => {
                Err(AuditError::Read { path: self.source.path(file), source: std::io::ErrorKind::NotFound.into() })
            }
            Loaded::Broken(err) => {
                self.broken(file, err);
                Ok(())
            }
            // A workflow that only other workflows call gets its permissions from the job
            // that calls it: on its own, only what its blocks take away is a finding.
            Loaded::Workflow(doc) => self.audit_jobs(file, doc, &[], is_called_only(doc)),
        }
    }

    fn broken(&mut self, file: &Utf8Path, err: &yaml::YamlError) {
        self.report(Finding {
            severity: Severity::Error,
            file: file.to_owned(),
            line: err.line,
            job: None,
            message: format!("cannot read the workflow: {}", err.message),
            help: "fix the YAML syntax; `actionlint` points at the exact column".into(),
        });
    }

    /// Every job of one workflow, reached through `callers` (empty for the workflow being
    /// audited); `called_only` says whether the first workflow of the chain has no trigger
    /// but `workflow_call`.
    fn audit_jobs(
        &mut self,
        file: &Utf8Path,
        doc: &Positioned,
        callers: &[Link],
        called_only: bool,
    ) -> Result<(), AuditError> {
        let workflow_block = doc.get("permissions").map(|(key, value)| (value, key.line));
        let Some((_, jobs)) = doc.get("jobs") else {
            return Ok(());
        };
        for (job_key, job) in jobs.entries() {
            let job_block = job.get("permissions").map(|(key, value)| (value, key.line));
            let mut chain = callers.to_vec();
            chain.push(Link {
                file: file.to_owned(),
                job_id: job_key.text.clone(),
                job_line: job_key.line,
                grant: Grant::effective(job_block, workflow_block),
            });
            if let Some((uses_key, uses)) = job.get("uses") {
                let target = uses.as_str().unwrap_or_default();
                match target.strip_prefix("./") {
                    Some(callee) => self.follow(Utf8Path::new(callee), uses_key.line, &chain, called_only)?,
                    // `owner/repo/.github/workflows/x.yml@ref`: another repository's file at
                    // some ref, which this checkout does not have.
                    None => {
                        let call = format!("{} → {target}", describe(&chain));
                        if !self.audit.external_calls.contains(&call) {
                            self.audit.external_calls.push(call);
                        }
                    }
                }
            } else if runs_the_release(job) {
                self.check(&chain, called_only);
                for finding in super::hardening::job_findings(file, &job_key.text, job) {
                    self.report(finding);
                }
            }
        }
        Ok(())
    }

    /// The jobs of a workflow of the same repository that the last job of `chain` calls.
    fn follow(
        &mut self,
        callee: &Utf8Path,
        uses_line: usize,
        chain: &[Link],
        called_only: bool,
    ) -> Result<(), AuditError> {
        // GitHub refuses a workflow that calls itself, directly or not, and deeper nesting.
        if chain.len() > MAX_CALL_DEPTH || chain.iter().any(|link| link.file == callee) {
            return Ok(());
        }
        let caller = chain.last().expect("the calling job ends the chain");
        let loaded = self.load(callee)?;
        match &*loaded {
            Loaded::Missing => self.report(Finding {
                severity: Severity::Warning,
                file: caller.file.clone(),
                line: uses_line,
                job: Some(caller.job_id.clone()),
                message: format!(
                    "job `{}` calls {callee}, which does not exist, so whether it runs the release is unknown",
                    caller.job_id
                ),
                help: format!("a workflow of the same repository is called as `uses: ./{WORKFLOWS_DIR}/NAME.yml`"),
            }),
            Loaded::Broken(err) => self.broken(callee, err),
            Loaded::Workflow(doc) => self.audit_jobs(callee, doc, chain, called_only)?,
        }
        Ok(())
    }

    /// The findings for one job that runs the release, reached through `chain[..n-1]`: every
    /// block on the way that refuses a needed permission, since each caps what follows.
    fn check(&mut self, chain: &[Link], called_only: bool) {
        let release = chain.last().expect("the release job ends the chain");
        let described = describe(chain);
        let list =
            if chain.len() == 1 && called_only { &mut self.called_only_jobs } else { &mut self.audit.release_jobs };
        if !list.contains(&described) {
            list.push(described);
        }
        if self.needed.is_empty() {
            return;
        }
        let fix_block = least_privilege_block(self.needed);
        for requirement in self.needed {
            for (i, link) in chain.iter().enumerate() {
                if link.grant.permissions().is_none_or(|permissions| permissions.satisfies(requirement)) {
                    continue;
                }
                let finding = if i + 1 == chain.len() {
                    own_finding(link, requirement, &fix_block)
                } else {
                    caller_finding(link, release, requirement, &fix_block)
                };
                self.report(finding);
            }
        }
        // The first job of the chain has no block and its workflow none either: what it
        // gets, and so what everything it calls gets, is the repository default. A workflow
        // only other workflows call has no default of its own: its callers decide.
        let top = &chain[0];
        if top.grant == Grant::RepositoryDefault && !called_only {
            let needs = self.needed.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" and ");
            let (message, help) = if chain.len() == 1 {
                (
                    format!(
                        "job `{}` has no `permissions:` block and relies on the repository default, which can be \
                         read-only (it needs {needs})",
                        top.job_id
                    ),
                    format!(
                        "give job `{}` its own block, `permissions: {fix_block}`; the default is set in \
                         Settings → Actions → General → Workflow permissions",
                        top.job_id
                    ),
                )
            } else {
                (
                    format!(
                        "job `{}` has no `permissions:` block and relies on the repository default, which can be \
                         read-only (job `{}` of {}, called from it, needs {needs})",
                        top.job_id, release.job_id, release.file
                    ),
                    format!(
                        "give job `{}` its own block, `permissions: {fix_block}`: a called workflow gets at most the \
                         permissions of the job that calls it; the default is set in Settings → Actions → General → \
                         Workflow permissions",
                        top.job_id
                    ),
                )
            };
            self.report(Finding {
                severity: Severity::Warning,
                file: top.file.clone(),
                line: top.job_line,
                job: Some(top.job_id.clone()),
                message,
                help,
            });
        }
    }
}

/// The release job's own block (or its workflow's) refuses `requirement`. The same whether
/// the workflow was triggered or called, so that both ways report it once.
pub(crate) fn own_finding(link: &Link, requirement: &Requirement, fix_block: &str) -> Finding {
    let job_id = &link.job_id;
    let (line, help) = match &link.grant {
        Grant::Job { line, .. } => (
            *line,
            format!(
                "add `{requirement}` to the `permissions:` block of job `{job_id}`; listing any permission sets \
                 every unlisted one to `none`, so the block must name all of {fix_block}"
            ),
        ),
        Grant::Workflow { line, .. } => (
            link.job_line,
            format!(
                "job `{job_id}` has no `permissions:` of its own and gets the workflow's (line {line}); give it its \
                 own block: `permissions: {fix_block}`"
            ),
        ),
        // Not reached: a job without a block in its file refuses nothing, it passes on.
        Grant::RepositoryDefault => (link.job_line, String::new()),
    };
    Finding {
        severity: Severity::Error,
        file: link.file.clone(),
        line,
        job: Some(job_id.clone()),
        message: lacks(job_id, requirement),
        help,
    }
}

/// A job calling a reusable workflow refuses `requirement` to the release job inside it:
/// a called workflow's jobs get at most the permissions of the job that calls it.
pub(crate) fn caller_finding(link: &Link, release: &Link, requirement: &Requirement, fix_block: &str) -> Finding {
    let job_id = &link.job_id;
    let (line, help) = match &link.grant {
        Grant::Job { line, .. } => (
            *line,
            format!(
                "a called workflow gets at most the permissions of the job that calls it: add `{requirement}` to \
                 the `permissions:` block of job `{job_id}`; listing any permission sets every unlisted one to \
                 `none`, so the block must name all of {fix_block}"
            ),
        ),
        Grant::Workflow { line, .. } => (
            link.job_line,
            format!(
                "job `{job_id}` has no `permissions:` of its own and gets the workflow's (line {line}), which caps \
                 the workflow it calls; give it its own block: `permissions: {fix_block}`"
            ),
        ),
        // Not reached: a job without a block in its file refuses nothing, it passes on.
        Grant::RepositoryDefault => (link.job_line, String::new()),
    };
    Finding {
        severity: Severity::Error,
        file: link.file.clone(),
        line,
        job: Some(job_id.clone()),
        message: format!(
            "job `{job_id}` lacks `{requirement}`, which job `{}` of {} (called from it) needs to {}",
            release.job_id, release.file, requirement.purpose
        ),
        help,
    }
}

/// The events a workflow is triggered by: `on: push`, `on: [push, workflow_call]` or a
/// mapping of event to settings.
pub(crate) fn triggers(doc: &Positioned) -> Vec<&str> {
    let Some((_, on)) = doc.get("on") else {
        return Vec::new();
    };
    match &on.node {
        Node::Scalar(event) => vec![event.as_str()],
        Node::Sequence(items) => items.iter().filter_map(Positioned::as_str).collect(),
        Node::Mapping(entries) => entries.iter().map(|(key, _)| key.text.as_str()).collect(),
        Node::Null => Vec::new(),
    }
}

/// Whether a workflow runs only when another workflow calls it.
pub(crate) fn is_called_only(doc: &Positioned) -> bool {
    let triggers = triggers(doc);
    !triggers.is_empty() && triggers.iter().all(|event| *event == "workflow_call")
}

pub(crate) fn lacks(job_id: &str, requirement: &Requirement) -> String {
    format!("job `{job_id}` lacks `{requirement}` (needed to {})", requirement.purpose)
}

/// Whether any `run:` step of the job invokes the release with remote effects.
pub(crate) fn runs_the_release(job: &Positioned) -> bool {
    let Some((_, steps)) = job.get("steps") else {
        return false;
    };
    steps.items().iter().filter_map(|step| step.get("run")).filter_map(|(_, run)| run.as_str()).any(|script| {
        script.lines().any(|line| {
            let invokes = ["release run", "release preflight", "cargo xtask release", "release-cli"]
                .iter()
                .any(|marker| line.contains(marker));
            // `release build` (one runner of a matrix release) builds and uploads nothing.
            let harmless = ["cargo install", "release plan", "release build", "--snapshot"]
                .iter()
                .any(|marker| line.contains(marker));
            invokes && !harmless
        })
    })
}

/// The workflow file a job runs from, from `GITHUB_WORKFLOW_REF`
/// (`owner/repo/.github/workflows/release.yml@refs/tags/v1.0.0`), relative to the
/// repository root.
pub(crate) fn current_workflow_file(env: &Environment) -> Option<Utf8PathBuf> {
    let reference = env.get("GITHUB_WORKFLOW_REF")?;
    let path = reference.split('@').next()?;
    let start = path.find(WORKFLOWS_DIR)?;
    Some(Utf8PathBuf::from(&path[start..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::permissions::{CONTENTS, Level, PACKAGES};
    use crate::steps::preflight::workflow_permissions::PreflightWorkflowPermissions;

    fn needs_both() -> Vec<Requirement> {
        vec![
            Requirement {
                scope: CONTENTS,
                level: Level::Write,
                purpose: "create the GitHub release and upload its assets".into(),
            },
            Requirement { scope: PACKAGES, level: Level::Write, purpose: "push charts to ghcr.io".into() },
        ]
    }

    fn audit(text: &str) -> Audit {
        audit_workflow(Utf8Path::new(".github/workflows/release.yml"), text, &needs_both())
    }

    fn lines(audit: &Audit) -> Vec<String> {
        audit.findings.iter().map(|f| format!("{:?} {f}", f.severity)).collect()
    }

    // Hardened (pinned, no persisted credentials): these tests are about permissions.
    const JOB: &str = "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n        with: { persist-credentials: false }\n      - run: release run\n";

    #[test]
    fn missing_contents_write_points_at_the_jobs_permissions_key() {
        let text = format!("on: push\njobs:\n  publish:\n    permissions:\n      packages: write\n{JOB}");
        assert_eq!(
            lines(&audit(&text)),
            ["Error .github/workflows/release.yml:4: job `publish` lacks `contents: write` (needed to create the \
                 GitHub release and upload its assets)"]
        );
    }

    #[test]
    fn missing_packages_write_is_reported_with_a_fix() {
        let text = format!("on: push\njobs:\n  publish:\n    permissions:\n      contents: write\n{JOB}");
        let audit = audit(&text);
        assert_eq!(
            lines(&audit),
            ["Error .github/workflows/release.yml:4: job `publish` lacks `packages: write` (needed to push charts \
                 to ghcr.io)"]
        );
        assert!(audit.findings[0].help.contains("{ contents: write, packages: write }"), "{}", audit.findings[0].help);
    }

    #[test]
    fn listing_one_permission_at_workflow_level_loses_the_others() {
        // The classic: `packages: write` added at the top "to make GHCR work" silently drops
        // `contents` to none for every job, the release job included.
        let text = format!("on: push\npermissions:\n  packages: write\njobs:\n  publish:\n{JOB}");
        let audit = audit(&text);
        assert_eq!(
            lines(&audit),
            ["Error .github/workflows/release.yml:5: job `publish` lacks `contents: write` (needed to create the \
                 GitHub release and upload its assets)"]
        );
        assert!(audit.findings[0].help.contains("workflow's (line 2)"), "{}", audit.findings[0].help);
    }

    #[test]
    fn job_block_replaces_the_workflow_block() {
        let text = format!("on: push\npermissions: write-all\njobs:\n  publish:\n    permissions: {{}}\n{JOB}");
        assert_eq!(audit(&text).errors().count(), 2, "{:?}", lines(&audit(&text)));
        let text = format!("on: push\npermissions: {{}}\njobs:\n  publish:\n    permissions: write-all\n{JOB}");
        assert!(audit(&text).findings.is_empty());
    }

    #[test]
    fn no_block_anywhere_is_a_warning_about_the_repository_default() {
        let text = format!("on: push\njobs:\n  publish:\n{JOB}");
        let audit = audit(&text);
        assert_eq!(audit.errors().count(), 0);
        let warning = audit.warnings().next().expect("a warning");
        assert_eq!(warning.line, 3);
        assert!(warning.message.contains("relies on the repository default, which can be read-only"), "{warning}");
    }

    #[test]
    fn read_all_lacks_both_writes() {
        let text = format!("on: push\njobs:\n  publish:\n    permissions: read-all\n{JOB}");
        assert_eq!(audit(&text).errors().count(), 2);
    }

    /// One release job, `publish`, under a workflow-level block `top` and a job-level block
    /// `job` (`None`: no such key): the number of errors, and of warnings.
    fn counts(top: Option<&str>, job: Option<&str>) -> (usize, usize) {
        let top = top.map(|block| format!("permissions: {block}\n")).unwrap_or_default();
        let job = job.map(|block| format!("    permissions: {block}\n")).unwrap_or_default();
        let audit = audit(&format!("on: push\n{top}jobs:\n  publish:\n{job}{JOB}"));
        (audit.errors().count(), audit.warnings().count())
    }

    #[test]
    fn shorthands_and_empty_blocks_at_either_level() {
        let both = Some("{ contents: write, packages: write }");
        // Workflow level only: the job inherits it.
        assert_eq!(counts(Some("read-all"), None), (2, 0), "read-all grants read, not write");
        assert_eq!(counts(Some("write-all"), None), (0, 0));
        assert_eq!(counts(Some("{}"), None), (2, 0), "`{{}}` grants nothing");
        assert_eq!(counts(both, None), (0, 0));
        // Job level only.
        assert_eq!(counts(None, Some("read-all")), (2, 0));
        assert_eq!(counts(None, Some("write-all")), (0, 0));
        assert_eq!(counts(None, Some("{}")), (2, 0));
        assert_eq!(counts(None, Some("{ contents: write, packages: none }")), (1, 0));
        // Both: the job's block replaces the workflow's, whichever is wider; never merged.
        assert_eq!(counts(Some("write-all"), Some("{ contents: read }")), (2, 0));
        assert_eq!(counts(Some("write-all"), Some("read-all")), (2, 0));
        assert_eq!(counts(Some("{ packages: write }"), Some("{ contents: write }")), (1, 0));
        assert_eq!(counts(both, Some("{}")), (2, 0));
        assert_eq!(counts(Some("{}"), both), (0, 0));
        assert_eq!(counts(Some("read-all"), Some("write-all")), (0, 0));
        // Neither: the repository default, a warning.
        assert_eq!(counts(None, None), (0, 1));
    }

    #[test]
    fn an_inherited_workflow_block_is_reported_at_the_job_with_the_blocks_line() {
        let text = format!("on: push\npermissions: read-all\njobs:\n  publish:\n{JOB}");
        let audit = audit(&text);
        assert!(audit.findings.iter().all(|f| f.line == 4), "{:?}", lines(&audit));
        assert!(audit.findings[0].help.contains("gets the workflow's (line 2)"), "{}", audit.findings[0].help);
    }

    #[test]
    fn the_xtask_runs_the_release_in_every_spelling() {
        for run in [
            "cargo xtask release",
            "cargo xtask release run",
            "cargo xtask release preflight",
            "cargo xtask release run --config ci/release.toml",
            "cargo run --locked --package xtask -- release run",
            "cargo run --locked --package xtask -- release preflight",
        ] {
            let text = format!("on: push\njobs:\n  ship:\n    permissions: {{}}\n    steps:\n      - run: {run}\n");
            let audit = audit(&text);
            assert_eq!(audit.release_jobs, [".github/workflows/release.yml:ship"], "`{run}` runs the release");
            assert_eq!(audit.errors().count(), 2, "`{run}`: {:?}", lines(&audit));
        }
        for run in ["cargo xtask release plan", "cargo xtask release run --snapshot", "cargo xtask bench"] {
            let text = format!("on: push\njobs:\n  ship:\n    permissions: {{}}\n    steps:\n      - run: {run}\n");
            assert!(audit(&text).release_jobs.is_empty(), "`{run}` publishes nothing");
        }
    }

    const CALLER: &str = ".github/workflows/release.yml";
    const CALLEE: &str = ".github/workflows/release-reusable.yml";

    /// A repository of two workflows: `release.yml`, whose job `release` calls
    /// `release-reusable.yml`, whose job `publish` runs the release.
    fn audit_call(caller: &str, callee: &str) -> Audit {
        audit_texts(&[(CALLER.into(), caller.to_owned()), (CALLEE.into(), callee.to_owned())], &needs_both())
    }

    /// The caller workflow with `top` at workflow level and `job` in the calling job.
    fn caller(top: &str, job: &str) -> String {
        format!(
            "on:\n  push:\n    tags: [\"v*\"]\n{top}jobs:\n  release:\n{job}    uses: ./{CALLEE}\n    secrets: inherit\n"
        )
    }

    fn callee(top: &str, job: &str) -> String {
        format!("on:\n  workflow_call:\n{top}jobs:\n  publish:\n{job}{JOB}")
    }

    #[test]
    fn a_calling_job_caps_the_called_workflow() {
        // The caller lists `contents: write` only; the called workflow asks for nothing and
        // so gets exactly that: no `packages: write`.
        let audit = audit_call(&caller("", "    permissions:\n      contents: write\n"), &callee("", ""));
        assert_eq!(audit.release_jobs, [format!("{CALLER}:release → {CALLEE}:publish")]);
        assert_eq!(
            lines(&audit),
            [format!(
                "Error {CALLER}:6: job `release` lacks `packages: write`, which job `publish` of {CALLEE} (called \
                 from it) needs to push charts to ghcr.io"
            )]
        );
        let finding = &audit.findings[0];
        assert_eq!(finding.job.as_deref(), Some("release"));
        assert!(finding.help.starts_with("a called workflow gets at most the permissions of the job that calls it: add `packages: write` to the `permissions:` block of job `release`"), "{}", finding.help);
        assert_eq!(audit.files, [CALLEE, CALLER]);
    }

    #[test]
    fn a_calling_job_without_a_block_is_capped_by_its_workflow() {
        let audit = audit_call(&caller("permissions:\n  contents: write\n", ""), &callee("", ""));
        assert_eq!(
            lines(&audit),
            [format!(
                "Error {CALLER}:7: job `release` lacks `packages: write`, which job `publish` of {CALLEE} (called \
                 from it) needs to push charts to ghcr.io"
            )]
        );
        assert!(audit.findings[0].help.contains("gets the workflow's (line 4), which caps the workflow it calls"));
    }

    #[test]
    fn a_called_workflows_own_block_limits_too_and_is_reported_once() {
        // The caller grants everything; the called job lists `contents: write` only. The
        // finding is the called file's, found from the caller and from the file on its own.
        let caller = caller("", "    permissions: write-all\n");
        let audit = audit_call(&caller, &callee("", "    permissions:\n      contents: write\n"));
        assert_eq!(
            lines(&audit),
            [format!("Error {CALLEE}:5: job `publish` lacks `packages: write` (needed to push charts to ghcr.io)")]
        );
    }

    #[test]
    fn both_the_caller_and_the_called_workflow_may_have_to_change() {
        let caller = caller("", "    permissions:\n      contents: write\n");
        let callee = callee("permissions:\n  contents: read\n", "");
        let audit = audit_call(&caller, &callee);
        assert_eq!(
            lines(&audit),
            [
                format!(
                    "Error {CALLEE}:6: job `publish` lacks `contents: write` (needed to create the GitHub release and \
                     upload its assets)"
                ),
                format!("Error {CALLEE}:6: job `publish` lacks `packages: write` (needed to push charts to ghcr.io)"),
                format!(
                    "Error {CALLER}:6: job `release` lacks `packages: write`, which job `publish` of {CALLEE} \
                     (called from it) needs to push charts to ghcr.io"
                ),
            ]
        );
    }

    #[test]
    fn a_caller_granting_enough_passes_the_called_workflow() {
        let grants = "    permissions:\n      contents: write\n      packages: write\n";
        let audit = audit_call(&caller("permissions: {}\n", grants), &callee("", ""));
        assert!(audit.findings.is_empty(), "{:?}", lines(&audit));
        // A called job may ask for less than the caller grants, not more.
        let audit = audit_call(
            &caller("", grants),
            &callee("", "    permissions:\n      contents: write\n      packages: write\n"),
        );
        assert!(audit.findings.is_empty(), "{:?}", lines(&audit));
    }

    #[test]
    fn a_caller_on_the_repository_default_is_a_warning_at_the_caller() {
        let audit = audit_call(&caller("", ""), &callee("", ""));
        assert_eq!(audit.errors().count(), 0, "{:?}", lines(&audit));
        let warnings: Vec<&Finding> = audit.warnings().collect();
        assert_eq!(warnings.len(), 1, "the called workflow on its own has no default: its caller decides");
        assert_eq!((warnings[0].file.as_str(), warnings[0].line), (CALLER, 5));
        assert!(
            warnings[0].message.contains(&format!("relies on the repository default, which can be read-only (job `publish` of {CALLEE}, called from it, needs `contents: write` and `packages: write`)")),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn a_called_workflow_without_callers_is_listed_and_left_to_its_callers() {
        let audit = audit_texts(&[(CALLEE.into(), callee("", ""))], &needs_both());
        assert_eq!(audit.release_jobs, [format!("{CALLEE}:publish")]);
        assert!(audit.findings.is_empty(), "no repository default applies to it: {:?}", lines(&audit));
    }

    #[test]
    fn a_workflow_with_other_triggers_too_is_also_audited_as_triggered() {
        let callee = format!("on: [workflow_dispatch, workflow_call]\njobs:\n  publish:\n{JOB}");
        let audit = audit_call(&caller("", "    permissions: write-all\n"), &callee);
        let warnings: Vec<String> = audit.warnings().map(|f| format!("{}:{}", f.file, f.line)).collect();
        assert_eq!(warnings, [format!("{CALLEE}:3")], "dispatched by hand, it runs on the repository default");
        assert_eq!(audit.release_jobs, [format!("{CALLER}:release → {CALLEE}:publish"), format!("{CALLEE}:publish")]);
    }

    #[test]
    fn calls_through_a_middle_workflow_are_capped_at_every_level() {
        let middle = ".github/workflows/middle.yml";
        let top = caller("", "    permissions: write-all\n").replace(CALLEE, middle);
        let middle_text = format!(
            "on: workflow_call\njobs:\n  relay:\n    permissions:\n      contents: write\n    uses: ./{CALLEE}\n"
        );
        let audit = audit_texts(
            &[(CALLER.into(), top), (middle.into(), middle_text), (CALLEE.into(), callee("", ""))],
            &needs_both(),
        );
        assert!(audit.release_jobs.contains(&format!("{CALLER}:release → {middle}:relay → {CALLEE}:publish")));
        assert_eq!(
            lines(&audit),
            [format!(
                "Error {middle}:4: job `relay` lacks `packages: write`, which job `publish` of {CALLEE} (called \
                 from it) needs to push charts to ghcr.io"
            )]
        );
    }

    #[test]
    fn a_workflow_calling_itself_ends() {
        let text = format!(
            "on: push\njobs:\n  again:\n    permissions: {{}}\n    uses: ./{CALLER}\n  publish:\n    permissions: write-all\n{JOB}"
        );
        let audit = audit_texts(&[(CALLER.into(), text)], &needs_both());
        assert!(audit.findings.is_empty(), "{:?}", lines(&audit));
        assert_eq!(audit.release_jobs, [format!("{CALLER}:publish")]);
    }

    #[test]
    fn other_repositories_workflows_are_listed_not_audited() {
        let text =
            "on: push\npermissions: {}\njobs:\n  shared:\n    uses: acme/workflows/.github/workflows/release.yml@v1\n";
        let audit = audit(text);
        assert!(audit.findings.is_empty() && audit.release_jobs.is_empty(), "{:?}", lines(&audit));
        assert_eq!(
            audit.external_calls,
            [".github/workflows/release.yml:shared → acme/workflows/.github/workflows/release.yml@v1"]
        );
    }

    #[test]
    fn a_call_to_a_missing_workflow_is_a_warning_at_its_uses_line() {
        let audit = audit(&caller("", "    permissions: write-all\n"));
        assert_eq!(audit.errors().count(), 0);
        let warning = audit.warnings().next().expect("a warning");
        assert_eq!(warning.line, 7);
        assert!(warning.message.contains(&format!("calls {CALLEE}, which does not exist")), "{warning}");
    }

    #[test]
    fn a_broken_called_workflow_is_reported_once() {
        let audit = audit_call(&caller("", "    permissions: write-all\n"), "on: workflow_call\njobs: [\n");
        let broken: Vec<&Finding> = audit.findings.iter().filter(|f| f.file == CALLEE).collect();
        assert_eq!(broken.len(), 1, "{:?}", lines(&audit));
        assert!(broken[0].message.starts_with("cannot read the workflow"));
    }

    #[test]
    fn only_jobs_that_run_the_release_are_audited() {
        let text = "on: push\npermissions: {}\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          cargo install --locked release-cli\n          release run --snapshot\n          release plan\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo clippy\n  ship:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo xtask release run\n";
        let audit = audit(text);
        assert_eq!(audit.release_jobs, [".github/workflows/release.yml:ship"]);
        assert!(audit.findings.iter().all(|f| f.job.as_deref() == Some("ship")), "{:?}", lines(&audit));
    }

    #[test]
    fn nothing_needed_means_nothing_to_report() {
        let text = format!("on: push\njobs:\n  publish:\n{JOB}");
        let audit = audit_workflow(Utf8Path::new("w.yml"), &text, &[]);
        assert_eq!(audit.release_jobs.len(), 1);
        assert!(audit.findings.is_empty());
    }

    #[test]
    fn broken_yaml_is_an_error_finding() {
        let audit = audit("on: push\njobs:\n  a: [\n");
        assert_eq!(audit.errors().count(), 1);
        assert!(audit.findings[0].message.starts_with("cannot read the workflow"), "{:?}", audit.findings);
    }

    #[test]
    fn workflow_ref_names_the_file() {
        let env =
            Environment::empty().with("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3");
        assert_eq!(current_workflow_file(&env).unwrap(), ".github/workflows/release.yml");
        assert_eq!(current_workflow_file(&Environment::empty()), None);
    }

    fn pipeline_with_check(root: &Utf8Path, env: Environment) -> crate::runner::Pipeline {
        let release = crate::step::Release {
            version: semver::Version::new(1, 0, 0),
            tag: "v1.0.0".into(),
            root: root.to_owned(),
            dist: root.join("dist"),
        };
        let mut pipeline = crate::runner::Pipeline::new(release, env, crate::plan::Mode::DryRun);
        pipeline.add_step(PreflightWorkflowPermissions::new(root.to_owned(), needs_both())).unwrap();
        pipeline
    }

    #[tokio::test]
    async fn preflight_check_fails_on_the_current_workflow_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join(WORKFLOWS_DIR)).unwrap();
        let broken = format!("on: push\njobs:\n  publish:\n    permissions:\n      contents: write\n{JOB}");
        let fine = format!("on: push\njobs:\n  publish:\n    permissions: write-all\n{JOB}");
        std::fs::write(root.join(".github/workflows/release.yml"), &broken).unwrap();
        std::fs::write(root.join(".github/workflows/other.yml"), &fine).unwrap();

        let in_release = Environment::empty()
            .with("GITHUB_ACTIONS", "true")
            .with("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.0.0");
        let failure = pipeline_with_check(root, in_release).run(&crate::event::Silent).await.unwrap_err();
        assert_eq!(failure.kind, crate::error::FailureKind::Preflight);
        let error = &failure.failures[0].1;
        let message = error.full_message();
        assert!(
            message.contains("\n.github/workflows/release.yml:4: job `publish` lacks `packages: write`"),
            "{message}"
        );
        // The same finding as a location, for annotations on the line.
        let locations = error.locations();
        assert_eq!(locations.len(), 1, "{locations:?}");
        assert_eq!(locations[0].root.as_deref(), Some(root));
        assert_eq!((locations[0].file.as_str(), locations[0].line), (".github/workflows/release.yml", 4));
        assert!(locations[0].message.starts_with("job `publish` lacks `packages: write`"), "{locations:?}");

        // The same repository seen from the other workflow: its own jobs are fine.
        let in_other = Environment::empty()
            .with("GITHUB_ACTIONS", "true")
            .with("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/other.yml@refs/heads/main");
        pipeline_with_check(root, in_other).run(&crate::event::Silent).await.expect("other.yml grants everything");
    }

    #[tokio::test]
    async fn preflight_check_passes_without_a_workflow_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        let env = Environment::empty().with("GITHUB_ACTIONS", "true");
        let report = pipeline_with_check(root, env).run(&crate::event::Silent).await.unwrap();
        assert_eq!(report.steps[0].summary.as_deref(), Some("no .github/workflows to check"));
    }

    #[test]
    fn the_check_is_assembled_only_inside_actions_and_not_for_snapshots() {
        use crate::plan::Mode;
        let config = crate::Config::parse(
            "[project]\nversion = \"1.0.0\"\n[github]\nprobe = false\n",
            Utf8Path::new("/repo/release.toml"),
        )
        .unwrap();
        let has_check = |env: &Environment, mode: Mode| {
            let pipeline = crate::assemble::pipeline(&config, env, mode, &Default::default()).unwrap();
            pipeline.plan().steps.iter().any(|s| s.id == "preflight:workflow-permissions")
        };
        let actions = Environment::empty().with("GITHUB_ACTIONS", "true");
        assert!(has_check(&actions, Mode::Release));
        assert!(has_check(&actions, Mode::DryRun));
        assert!(!has_check(&actions, Mode::Snapshot));
        assert!(!has_check(&Environment::empty(), Mode::Release));
    }
}
