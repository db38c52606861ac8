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
//! [`WorkflowPermissionsCheck`] runs the same audit as a preflight check inside GitHub
//! Actions, so that a release whose publish job would be refused fails before the build.
//! This module reads files and never prints.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::env::Environment;
use crate::error::{Diagnose, StepError};
use crate::plan::{Effect, Stage};
use crate::step::{Step, StepContext, StepResult};

use super::permissions::{Grant, Requirement, least_privilege_block};
use super::yaml::{self, Positioned};

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
    /// `file:job` of every job found running the release.
    pub release_jobs: Vec<String>,
    pub findings: Vec<Finding>,
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
pub fn find_repository_root(start: &Utf8Path) -> Option<Utf8PathBuf> {
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

/// Audits the given workflow files (relative to `root`).
pub fn audit_files(root: &Utf8Path, files: &[Utf8PathBuf], needed: &[Requirement]) -> Result<Audit, AuditError> {
    let mut audit = Audit::default();
    for file in files {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| AuditError::Read { path, source })?;
        let one = audit_workflow(file, &text, needed);
        audit.files.push(file.clone());
        audit.release_jobs.extend(one.release_jobs);
        audit.findings.extend(one.findings);
    }
    Ok(audit)
}

/// Audits one workflow's text; `file` is how findings name it.
pub fn audit_workflow(file: &Utf8Path, text: &str, needed: &[Requirement]) -> Audit {
    let mut audit = Audit { files: vec![file.to_owned()], ..Audit::default() };
    let doc = match yaml::parse(text) {
        Ok(doc) => doc,
        Err(err) => {
            audit.findings.push(Finding {
                severity: Severity::Error,
                file: file.to_owned(),
                line: err.line,
                job: None,
                message: format!("cannot read the workflow: {}", err.message),
                help: "fix the YAML syntax; `actionlint` points at the exact column".into(),
            });
            return audit;
        }
    };
    let workflow_block = doc.get("permissions").map(|(key, value)| (value, key.line));
    let Some((_, jobs)) = doc.get("jobs") else {
        return audit;
    };
    for (job_key, job) in jobs.entries() {
        if !runs_the_release(job) {
            continue;
        }
        let job_id = &job_key.text;
        audit.release_jobs.push(format!("{file}:{job_id}"));
        if needed.is_empty() {
            continue;
        }
        let job_block = job.get("permissions").map(|(key, value)| (value, key.line));
        let fix_block = least_privilege_block(needed);
        match Grant::effective(job_block, workflow_block) {
            Grant::Job { permissions, line } => {
                for requirement in needed.iter().filter(|r| !permissions.satisfies(r)) {
                    audit.findings.push(Finding {
                        severity: Severity::Error,
                        file: file.to_owned(),
                        line,
                        job: Some(job_id.clone()),
                        message: lacks(job_id, requirement),
                        help: format!(
                            "add `{requirement}` to the `permissions:` block of job `{job_id}`; listing any \
                             permission sets every unlisted one to `none`, so the block must name all of {fix_block}"
                        ),
                    });
                }
            }
            Grant::Workflow { permissions, line: workflow_line } => {
                for requirement in needed.iter().filter(|r| !permissions.satisfies(r)) {
                    audit.findings.push(Finding {
                        severity: Severity::Error,
                        file: file.to_owned(),
                        line: job_key.line,
                        job: Some(job_id.clone()),
                        message: lacks(job_id, requirement),
                        help: format!(
                            "job `{job_id}` has no `permissions:` of its own and gets the workflow's (line \
                             {workflow_line}); give it its own block: `permissions: {fix_block}`"
                        ),
                    });
                }
            }
            Grant::RepositoryDefault => audit.findings.push(Finding {
                severity: Severity::Warning,
                file: file.to_owned(),
                line: job_key.line,
                job: Some(job_id.clone()),
                message: format!(
                    "job `{job_id}` has no `permissions:` block and relies on the repository default, which can \
                     be read-only (it needs {})",
                    needed.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" and ")
                ),
                help: format!(
                    "give job `{job_id}` its own block, `permissions: {fix_block}`; the default is set in \
                     Settings → Actions → General → Workflow permissions"
                ),
            }),
        }
    }
    audit.findings.sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
    audit
}

fn lacks(job_id: &str, requirement: &Requirement) -> String {
    format!("job `{job_id}` lacks `{requirement}` (needed to {})", requirement.purpose)
}

/// Whether any `run:` step of the job invokes the release with remote effects.
fn runs_the_release(job: &Positioned) -> bool {
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
pub fn current_workflow_file(env: &Environment) -> Option<Utf8PathBuf> {
    let reference = env.get("GITHUB_WORKFLOW_REF")?;
    let path = reference.split('@').next()?;
    let start = path.find(WORKFLOWS_DIR)?;
    Some(Utf8PathBuf::from(&path[start..]))
}

/// The audit as a preflight check inside GitHub Actions: a job of the current workflow that
/// will run the release without the permissions it needs fails the release now, not after
/// the build.
#[derive(Debug)]
pub struct WorkflowPermissionsCheck {
    root: Utf8PathBuf,
    needed: Vec<Requirement>,
}

impl WorkflowPermissionsCheck {
    pub fn new(root: Utf8PathBuf, needed: Vec<Requirement>) -> Self {
        WorkflowPermissionsCheck { root, needed }
    }
}

#[async_trait::async_trait]
impl Step for WorkflowPermissionsCheck {
    fn id(&self) -> String {
        "preflight:workflow-permissions".into()
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Check
    }
    fn description(&self) -> String {
        let needed: Vec<String> = self.needed.iter().map(|r| format!("`{r}`")).collect();
        format!("check that the workflow's release jobs are granted {}", needed.join(" and "))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let Some(root) = find_repository_root(&self.root) else {
            return Ok(Some(format!("no {WORKFLOWS_DIR} to check")));
        };
        // Only the workflow this job runs from: another workflow's mistakes are not this
        // release's. Without the variable (or the file), check them all.
        let audit = match current_workflow_file(cx.env()).filter(|file| root.join(file).is_file()) {
            Some(file) => audit_files(&root, &[file], &self.needed)?,
            None => audit_repository(&root, &self.needed)?,
        };
        for warning in audit.warnings() {
            cx.warn(format!("{warning}\nhelp: {}", warning.help));
        }
        let errors: Vec<&Finding> = audit.errors().collect();
        if errors.is_empty() {
            return Ok(Some(format!("{} release job(s) in {} file(s)", audit.release_jobs.len(), audit.files.len())));
        }
        let lines: Vec<String> = errors.iter().map(|f| f.to_string()).collect();
        let help: Vec<&str> = errors.iter().map(|f| f.help.as_str()).collect();
        let mut help = help;
        help.dedup();
        Err(StepError::new(format!(
            "the workflow does not grant what the release needs (later jobs would be refused with 403):\n{}",
            lines.join("\n")
        ))
        .with_help(format!("{}\n(`release audit` shows the same; docs/github-actions.md explains)", help.join("\n"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::permissions::{CONTENTS, Level, PACKAGES};

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

    const JOB: &str =
        "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: release run\n";

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
        pipeline.add_step(WorkflowPermissionsCheck::new(root.to_owned(), needs_both())).unwrap();
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
        let message = failure.failures[0].1.message().to_owned();
        assert!(
            message.contains(".github/workflows/release.yml:4: job `publish` lacks `packages: write`"),
            "{message}"
        );

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
