//! The release's identity: what the run claims to release (version, tag, commit) against what
//! the trigger, git and every version written in the tree say. Read before anything is built
//! (`preflight:identity`) and shown at the top of `release plan`.
//!
//! - **The trigger.** In GitHub Actions on a tag push the release's tag must be
//!   `GITHUB_REF_NAME`; any other event releases a tag that publishing creates at the commit.
//! - **The commit.** `GITHUB_SHA` in Actions (a shallow clone without tags is enough), else
//!   git's `HEAD`. A tag that exists in the repository must point at it; the tag on GitHub is
//!   compared by `preflight:github-tag-rules`, which reads it anyway.
//! - **The versions written in the tree.** The version cargo resolves for every package a
//!   `cargo` build builds (workspace inheritance included, and named at the file that states
//!   it), and each chart's `version` and `appVersion` under the chart policy (see
//!   `docs/helm.md`): `stamp-version` / `stamp-app-version` write the release version at
//!   packaging; otherwise a chart keeps its own `version`, and an `appVersion` it states must
//!   be the release version (`0.4.1` or `v0.4.1`).
//! - **The tree.** Tracked changes refuse a release (`--allow-dirty` releases anyway and says
//!   so); a snapshot warns. Outside a git repository a release is refused and a snapshot says
//!   what it could not check.
//! - **The release notes.** With `[github]` and a `CHANGELOG.md`, the notes are its section
//!   for the version unless `notes-file` or `generate-notes` say otherwise, and a missing
//!   section is refused.
//!
//! Reads only: git and `cargo metadata` through [`crate::shell`], files under the root.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::changelog;
use crate::config::{ChartConfig, Config};
use crate::env::Environment;
use crate::plan::Mode;
use crate::shell::capture_blocking;

/// What identity checks need of the config and the command line, copied at assembly.
#[derive(Clone, Debug)]
pub(crate) struct IdentitySettings {
    pub root: Utf8PathBuf,
    pub project: Option<String>,
    pub tag_template: String,
    /// Where the version came from (`--release-version`, `project.version in …`, the
    /// `Cargo.toml`).
    pub version_source: String,
    /// Each directory a `cargo` build runs in, with the packages it builds there.
    pub cargo_packages: Vec<(Utf8PathBuf, Vec<String>)>,
    pub charts: Vec<ChartConfig>,
    /// The changelog the release notes come from, when they do.
    pub changelog: Option<Utf8PathBuf>,
    /// `--allow-dirty`: release a tree with tracked changes, or outside a repository.
    pub allow_dirty: bool,
}

impl IdentitySettings {
    pub(crate) fn new(config: &Config, from_flag: bool, allow_dirty: bool) -> Self {
        let mut cargo_packages: Vec<(Utf8PathBuf, Vec<String>)> = Vec::new();
        for build in &config.build {
            let Some(cargo) = &build.cargo else { continue };
            let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
            match cargo_packages.iter_mut().find(|(d, _)| *d == dir) {
                Some((_, packages)) if !packages.contains(&cargo.package) => packages.push(cargo.package.clone()),
                Some(_) => {}
                None => cargo_packages.push((dir, vec![cargo.package.clone()])),
            }
        }
        let version_source = if from_flag {
            "--release-version".to_owned()
        } else {
            config.version_source.clone().unwrap_or_else(|| "the config".to_owned())
        };
        IdentitySettings {
            root: config.root.clone(),
            project: config.project.name.clone(),
            tag_template: config.project.tag.clone(),
            version_source,
            cargo_packages,
            charts: config.charts.clone(),
            changelog: config.github.as_ref().and_then(|github| changelog::notes_file(github, &config.root)),
            allow_dirty,
        }
    }
}

/// What started the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// A tag push in GitHub Actions (`GITHUB_REF_TYPE=tag`).
    TagPush { tag: String },
    /// Any other event in GitHub Actions: a branch push, `workflow_dispatch`, a schedule.
    Event { event: String, git_ref: String },
    /// Outside GitHub Actions.
    Local,
}

impl Trigger {
    pub fn of(env: &Environment) -> Trigger {
        if !env.in_github_actions() {
            return Trigger::Local;
        }
        let name = env.get("GITHUB_REF_NAME").unwrap_or("").to_owned();
        let full = env.get("GITHUB_REF").unwrap_or("");
        if env.get("GITHUB_REF_TYPE") == Some("tag") || full.starts_with("refs/tags/") {
            let tag = if name.is_empty() { full.trim_start_matches("refs/tags/").to_owned() } else { name };
            return Trigger::TagPush { tag };
        }
        let event = env.get("GITHUB_EVENT_NAME").filter(|e| !e.is_empty()).unwrap_or("an event").to_owned();
        Trigger::Event { event, git_ref: if name.is_empty() { full.to_owned() } else { name } }
    }
}

/// The commit being released and where it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub sha: String,
    /// `GITHUB_SHA` or `HEAD`.
    pub source: String,
}

/// The commit being released: `GITHUB_SHA` in GitHub Actions, else git's `HEAD` in `root`.
pub(crate) fn commit(env: &Environment, root: &Utf8Path) -> Option<Commit> {
    if env.in_github_actions()
        && let Some(sha) = env.get("GITHUB_SHA").filter(|s| !s.is_empty())
    {
        return Some(Commit { sha: sha.to_owned(), source: "GITHUB_SHA".into() });
    }
    git(root, env, &["rev-parse", "--verify", "-q", "HEAD^{commit}"])
        .map(|sha| Commit { sha: sha.trim().to_owned(), source: "HEAD".into() })
}

fn git(root: &Utf8Path, env: &Environment, args: &[&str]) -> Option<String> {
    let argv: Vec<String> = std::iter::once("git").chain(args.iter().copied()).map(String::from).collect();
    capture_blocking(&argv, root, env, &BTreeMap::new()).ok()
}

/// What git says of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Tree {
    /// Not inside a git work tree (or git is missing).
    NotARepository,
    /// A work tree; `changed` lists tracked files with changes (`git status --porcelain`).
    Repository { changed: Vec<String> },
}

/// How a version written in the tree must relate to the release's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// It must be the release version.
    Release,
    /// It is replaced by the release version when packaged (`stamp-version`, …).
    Stamped,
    /// It is the file's own (a chart's `version` without `stamp-version`).
    Own,
}

/// One version written in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Written {
    /// `package acme`, `chart web`.
    pub what: String,
    pub file: Utf8PathBuf,
    pub line: Option<usize>,
    /// `package.version`, `workspace.package.version (inherited)`, `version`, `appVersion`.
    pub field: String,
    pub value: String,
    pub rule: Rule,
}

impl Written {
    /// Whether it breaks its rule for `version`.
    pub fn breaks(&self, version: &semver::Version) -> bool {
        let wanted = version.to_string();
        self.rule == Rule::Release && self.value != wanted && self.value.strip_prefix('v') != Some(wanted.as_str())
    }

    fn at(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.to_string(),
        }
    }
}

/// The changelog section the release notes come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notes {
    pub file: Utf8PathBuf,
    /// The section, or `None` when the changelog has none for the version.
    pub section: Option<NotesSection>,
    /// The versions it has sections for (when it has none for this one).
    pub listed: Vec<String>,
    /// Why the file could not be read, when it could not.
    pub unreadable: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotesSection {
    pub line: usize,
    pub heading: String,
    pub body: String,
}

/// Everything read.
#[derive(Clone, Debug, Serialize)]
pub struct Identity {
    pub project: Option<String>,
    pub version: String,
    pub version_source: String,
    pub tag: String,
    pub tag_template: String,
    pub trigger: Trigger,
    pub commit: Option<Commit>,
    pub tree: Tree,
    /// The commit the release's tag points at in the local repository, when it exists there.
    pub local_tag: Option<String>,
    pub versions: Vec<Written>,
    pub notes: Option<Notes>,
    /// What could not be read (a workspace `cargo metadata` refused, a chart without
    /// Chart.yaml): reported, the owning check says why.
    pub unread: Vec<String>,
}

/// One refusal: what differs, with both values, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

/// Reads the identity of the release of `version` under `tag`. Blocking (git and cargo).
pub(crate) fn read(settings: &IdentitySettings, version: &semver::Version, tag: &str, env: &Environment) -> Identity {
    let root = &settings.root;
    let tree = match git(root, env, &["rev-parse", "--is-inside-work-tree"]) {
        Some(out) if out.trim() == "true" => {
            let status =
                git(root, env, &["status", "--porcelain=v1", "--untracked-files=no", "-z"]).unwrap_or_default();
            Tree::Repository { changed: changed_paths(&status) }
        }
        _ => Tree::NotARepository,
    };
    let local_tag = match tree {
        Tree::Repository { .. } => {
            git(root, env, &["rev-parse", "--verify", "-q", &format!("refs/tags/{tag}^{{commit}}")])
                .map(|s| s.trim().to_owned())
        }
        Tree::NotARepository => None,
    };
    let mut unread = Vec::new();
    let mut versions = Vec::new();
    for (dir, packages) in &settings.cargo_packages {
        match cargo_versions(dir, packages, env) {
            Ok(found) => versions.extend(found),
            Err(problem) => unread.push(problem),
        }
    }
    for chart in &settings.charts {
        match chart_versions(root, chart) {
            Ok(found) => versions.extend(found),
            Err(problem) => unread.push(problem),
        }
    }
    for written in &mut versions {
        if let Ok(rel) = written.file.strip_prefix(root) {
            written.file = rel.to_owned();
        }
    }
    let notes = settings.changelog.as_ref().map(|file| {
        let notes = Notes { file: file.clone(), section: None, listed: Vec::new(), unreadable: None };
        match changelog::read(file, version) {
            Ok(changelog::Found::Section(s)) => {
                Notes { section: Some(NotesSection { line: s.line, heading: s.heading, body: s.body }), ..notes }
            }
            Ok(changelog::Found::Missing(listed)) => Notes { listed, ..notes },
            Err(err) => Notes { unreadable: Some(err.to_string()), ..notes },
        }
    });
    Identity {
        project: settings.project.clone(),
        version: version.to_string(),
        version_source: settings.version_source.clone(),
        tag: tag.to_owned(),
        tag_template: settings.tag_template.clone(),
        trigger: Trigger::of(env),
        commit: commit(env, root),
        tree,
        local_tag,
        versions,
        notes,
        unread,
    }
}

/// The version a tag names under a template (`v0.4.1` under `v{version}` is `0.4.1`).
fn pushed_version(template: &str, tag: &str) -> Option<String> {
    let (prefix, suffix) = template.split_once("{version}")?;
    let version = tag.strip_prefix(prefix)?.strip_suffix(suffix)?;
    semver::Version::parse(version).ok().map(|v| v.to_string())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

impl Identity {
    /// The refusals and the warnings of this identity for a run in `mode`.
    pub fn verdict(&self, mode: Mode, allow_dirty: bool) -> (Vec<Refusal>, Vec<String>) {
        let snapshot = mode == Mode::Snapshot;
        let mut refusals = Vec::new();
        let mut warnings = Vec::new();
        let version = semver::Version::parse(&self.version).expect("the release version is SemVer");
        let (tag, from) = (&self.tag, &self.version_source);
        if let Trigger::TagPush { tag: pushed } = &self.trigger
            && pushed != tag
        {
            refusals.push(Refusal {
                message: format!(
                    "the workflow runs for the pushed tag {pushed} (GITHUB_REF_NAME), but this release is {tag}: version {} from {from}, tag template `{}`",
                    self.version, self.tag_template
                ),
                help: match pushed_version(&self.tag_template, pushed) {
                    Some(wanted) => format!(
                        "set the version to {wanted} ({from}) and tag that commit, or push the tag {tag} to release {}",
                        self.version
                    ),
                    None => format!(
                        "push a tag the template `{}` makes (here {tag}), or change `project.tag`",
                        self.tag_template
                    ),
                },
            });
        }
        for written in self.versions.iter().filter(|w| w.breaks(&version)) {
            let help = if from == "--release-version" {
                format!(
                    "the binaries and packages would say {}: set the version to {} in the file named, or drop --release-version",
                    written.value, self.version
                )
            } else {
                format!(
                    "set `{}` to {} in {} (or release {} instead)",
                    written.field, self.version, written.file, written.value
                )
            };
            refusals.push(Refusal {
                message: format!(
                    "{}: `{}` of {} is {}, but the release is {} (from {from})",
                    written.at(),
                    written.field,
                    written.what,
                    written.value,
                    self.version
                ),
                help,
            });
        }
        if let (Some(tagged), Some(commit)) = (&self.local_tag, &self.commit)
            && tagged != &commit.sha
        {
            let message = format!(
                "the tag {tag} exists in this repository at commit {}, but the commit being released is {} ({})",
                short(tagged),
                short(&commit.sha),
                commit.source
            );
            let help = format!(
                "release from the tagged commit (`git checkout {tag}`), or bump the version for a new release; a tag that is wrong and was never published can be moved (`git tag -f {tag}`)"
            );
            if snapshot {
                warnings.push(format!("{message} (a release would be refused)"));
            } else {
                refusals.push(Refusal { message, help });
            }
        }
        self.tree_verdict(snapshot, allow_dirty, &mut refusals, &mut warnings);
        self.notes_verdict(snapshot, &mut refusals, &mut warnings);
        (refusals, warnings)
    }

    /// Tracked changes, or no repository: refused for a release unless `--allow-dirty`.
    fn tree_verdict(&self, snapshot: bool, allow_dirty: bool, refusals: &mut Vec<Refusal>, warnings: &mut Vec<String>) {
        match &self.tree {
            Tree::Repository { changed } if !changed.is_empty() => {
                let shown = changed.iter().take(20).cloned().collect::<Vec<_>>().join(", ");
                let more = if changed.len() > 20 { format!(" and {} more", changed.len() - 20) } else { String::new() };
                let message = format!(
                    "the work tree has uncommitted changes to {} tracked file(s): {shown}{more}",
                    changed.len()
                );
                if snapshot {
                    warnings.push(format!("{message}; a release would be refused"));
                } else if allow_dirty {
                    warnings.push(format!("{message}; released anyway (--allow-dirty)"));
                } else {
                    refusals.push(Refusal {
                        message,
                        help: "commit or stash them (`git stash`), so that the release is the commit it names; or pass --allow-dirty to release the tree as it is".into(),
                    });
                }
            }
            Tree::Repository { .. } => {}
            Tree::NotARepository => {
                let message =
                    "the project is not in a git repository: the commit, the tag and the tree cannot be checked"
                        .to_owned();
                if snapshot {
                    warnings.push(message);
                } else if allow_dirty {
                    warnings.push(format!("{message}; released anyway (--allow-dirty)"));
                } else {
                    refusals.push(Refusal {
                        message,
                        help: "release from a clone of the repository (`git clone`), or pass --allow-dirty to release the directory as it is".into(),
                    });
                }
            }
        }
    }

    /// The changelog section the notes come from.
    fn notes_verdict(&self, snapshot: bool, refusals: &mut Vec<Refusal>, warnings: &mut Vec<String>) {
        if let Some(notes) = &self.notes
            && notes.section.is_none()
        {
            let message = match &notes.unreadable {
                Some(err) => format!("the release notes come from {}, which cannot be read: {err}", notes.file),
                None if notes.listed.is_empty() => format!(
                    "the release notes come from {} and it has no section for {}: it has no version sections",
                    notes.file, self.version
                ),
                None => format!(
                    "the release notes come from {} and it has no section for {}: it has sections for {}",
                    notes.file,
                    self.version,
                    notes.listed.join(", ")
                ),
            };
            if snapshot {
                warnings.push(format!("{message} (a release would be refused)"));
            } else {
                refusals.push(Refusal {
                    message,
                    help: format!(
                        "add a section `## [{}] - YYYY-MM-DD` to {}, or set `github.notes-from-changelog = false` (or `notes-file`, `generate-notes`)",
                        self.version, notes.file
                    ),
                });
            }
        }
    }

    /// The lines `release plan` prints at its top.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(project) = &self.project {
            lines.push(format!("project   {project}"));
        }
        lines.push(format!("version   {} (from {})", self.version, self.version_source));
        lines.push(format!("tag       {} (template `{}`)", self.tag, self.tag_template));
        lines.push(match &self.commit {
            Some(c) => format!("commit    {} ({})", c.sha, c.source),
            None => "commit    unknown (not a git repository, no GITHUB_SHA)".to_owned(),
        });
        let at = self.commit.as_ref().map_or("the default branch".to_owned(), |c| format!("commit {}", short(&c.sha)));
        let creates = match &self.local_tag {
            Some(sha) => format!("the tag {} exists at {}", self.tag, short(sha)),
            None => format!("publishing creates the tag {} at {at}", self.tag),
        };
        lines.push(match &self.trigger {
            Trigger::TagPush { tag } => format!("trigger   tag push {tag} (GITHUB_REF_NAME)"),
            Trigger::Event { event, git_ref } => format!("trigger   {event} on {git_ref}: {creates}"),
            Trigger::Local => format!("trigger   a run outside GitHub Actions: {creates}"),
        });
        lines.push(match &self.tree {
            Tree::NotARepository => "tree      not a git repository".to_owned(),
            Tree::Repository { changed } if changed.is_empty() => "tree      clean".to_owned(),
            Tree::Repository { changed } => format!("tree      {} tracked file(s) changed", changed.len()),
        });
        for w in &self.versions {
            let rule = match w.rule {
                Rule::Release => "must be the release version",
                Rule::Stamped => "stamped with the release version",
                Rule::Own => "its own",
            };
            lines.push(format!("versions  {} {} = {} in {} ({rule})", w.what, w.field, w.value, w.at()));
        }
        for problem in &self.unread {
            lines.push(format!("versions  not read: {problem}"));
        }
        if let Some(notes) = &self.notes {
            lines.push(match &notes.section {
                Some(s) => {
                    let first: Vec<&str> = s.body.lines().filter(|l| !l.trim().is_empty()).take(3).collect();
                    format!("notes     {}:{} `## {}`: {}", notes.file, s.line, s.heading, first.join(" / "))
                }
                None => format!("notes     {}: no section for {}", notes.file, self.version),
            });
        }
        lines
    }
}

/// The paths of `git status --porcelain=v1 -z`: `XY PATH`, each entry ended by NUL; a rename
/// or copy (`R`, `C`) is followed by a second field, the path it came from, which is skipped.
fn changed_paths(status: &str) -> Vec<String> {
    let mut fields = status.split('\0');
    let mut changed = Vec::new();
    while let Some(entry) = fields.next() {
        let Some(path) = entry.get(3..).filter(|p| !p.is_empty()) else { continue };
        if entry[..2].contains(['R', 'C']) {
            fields.next();
        }
        changed.push(path.to_owned());
    }
    changed
}

/// The versions cargo resolves for `packages` in the workspace at `dir`, each named at the
/// manifest that states it.
fn cargo_versions(dir: &Utf8Path, packages: &[String], env: &Environment) -> Result<Vec<Written>, String> {
    let argv: Vec<String> = ["cargo", "metadata", "--no-deps", "--format-version", "1"].map(String::from).to_vec();
    let text = capture_blocking(&argv, dir, env, &BTreeMap::new()).map_err(|e| format!("{dir}: {e}"))?;
    let metadata = crate::cargo::parse_metadata(&text).map_err(|e| format!("{dir}: {e}"))?;
    let mut found = Vec::new();
    for name in packages {
        // An unknown package is `preflight:cargo`'s to report.
        let Some(package) = metadata.packages.iter().find(|p| &p.name == name) else { continue };
        let own = std::fs::read_to_string(&package.manifest_path).unwrap_or_default();
        let inherited = own
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("package")?.get("version")?.get("workspace")?.as_bool())
            .unwrap_or(false);
        let (file, field, line) = if inherited {
            let root_manifest = metadata.workspace_root.join("Cargo.toml");
            let text = std::fs::read_to_string(&root_manifest).unwrap_or_default();
            let line = version_line(&text, "workspace.package");
            (root_manifest, "workspace.package.version (inherited)".to_owned(), line)
        } else {
            (package.manifest_path.clone(), "package.version".to_owned(), version_line(&own, "package"))
        };
        found.push(Written {
            what: format!("package {name}"),
            file,
            line,
            field,
            value: package.version.clone(),
            rule: Rule::Release,
        });
    }
    Ok(found)
}

/// The line of `version = …` in the table `[table]` of a manifest's text.
fn version_line(text: &str, table: &str) -> Option<usize> {
    let header = format!("[{table}]");
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == header;
        } else if inside && trimmed.split('=').next().is_some_and(|key| key.trim() == "version") {
            return Some(i + 1);
        }
    }
    None
}

/// A chart's `version` and `appVersion` with the rule each is under.
fn chart_versions(root: &Utf8Path, chart: &ChartConfig) -> Result<Vec<Written>, String> {
    let (file, version, app_version) = crate::helm::versions(root, &chart.path)?;
    let what = format!("chart {}", chart.path);
    let mut found = vec![Written {
        what: what.clone(),
        file: file.clone(),
        line: version.1,
        field: "version".into(),
        value: version.0,
        rule: if chart.stamp_version { Rule::Stamped } else { Rule::Own },
    }];
    if let Some((value, line)) = app_version {
        found.push(Written {
            what,
            file,
            line,
            field: "appVersion".into(),
            value,
            rule: if chart.stamp_app_version { Rule::Stamped } else { Rule::Release },
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            project: Some("acme".into()),
            version: "0.4.0".into(),
            version_source: "version in Cargo.toml".into(),
            tag: "v0.4.0".into(),
            tag_template: "v{version}".into(),
            trigger: Trigger::Local,
            commit: Some(Commit { sha: "a".repeat(40), source: "HEAD".into() }),
            tree: Tree::Repository { changed: vec![] },
            local_tag: None,
            versions: vec![],
            notes: None,
            unread: vec![],
        }
    }

    #[test]
    fn a_clean_identity_passes_in_every_mode() {
        for mode in [Mode::Release, Mode::Snapshot, Mode::DryRun] {
            assert_eq!(identity().verdict(mode, false), (vec![], vec![]));
        }
    }

    #[test]
    fn the_pushed_tag_must_be_the_release_tag_even_for_a_snapshot() {
        let id = Identity { trigger: Trigger::TagPush { tag: "v0.4.1".into() }, ..identity() };
        let (refusals, _) = id.verdict(Mode::Snapshot, false);
        assert_eq!(refusals.len(), 1);
        assert!(refusals[0].message.contains("pushed tag v0.4.1 (GITHUB_REF_NAME), but this release is v0.4.0"));
    }

    #[test]
    fn a_dirty_tree_refuses_a_release_warns_a_snapshot_and_allow_dirty_records_it() {
        let id = Identity { tree: Tree::Repository { changed: vec!["src/main.rs".into()] }, ..identity() };
        assert_eq!(id.verdict(Mode::Release, false).0.len(), 1);
        let (refusals, warnings) = id.verdict(Mode::Snapshot, false);
        assert!(refusals.is_empty() && warnings[0].contains("src/main.rs"));
        let (refusals, warnings) = id.verdict(Mode::Release, true);
        assert!(refusals.is_empty() && warnings[0].ends_with("released anyway (--allow-dirty)"));
        let outside = Identity { tree: Tree::NotARepository, commit: None, ..identity() };
        assert_eq!(outside.verdict(Mode::DryRun, false).0.len(), 1);
    }

    #[test]
    fn versions_follow_their_rule_and_app_versions_may_carry_a_v() {
        let w = |value: &str, rule| Written {
            what: "chart web".into(),
            file: "Chart.yaml".into(),
            line: Some(3),
            field: "appVersion".into(),
            value: value.into(),
            rule,
        };
        let v = semver::Version::parse("0.4.0").unwrap();
        assert!(!w("0.4.0", Rule::Release).breaks(&v));
        assert!(!w("v0.4.0", Rule::Release).breaks(&v));
        assert!(w("0.3.9", Rule::Release).breaks(&v));
        assert!(!w("0.3.9", Rule::Stamped).breaks(&v) && !w("0.1.0", Rule::Own).breaks(&v));
        let id = Identity { versions: vec![w("0.3.9", Rule::Release)], ..identity() };
        let (refusals, _) = id.verdict(Mode::Snapshot, false);
        assert_eq!(
            refusals[0].message,
            "Chart.yaml:3: `appVersion` of chart web is 0.3.9, but the release is 0.4.0 (from version in Cargo.toml)"
        );
    }

    #[test]
    fn git_status_paths_skip_the_origin_of_a_rename() {
        let status = " M src/main.rs\0R  new name.rs\0old name.rs\0A  added.rs\0";
        assert_eq!(changed_paths(status), ["src/main.rs", "new name.rs", "added.rs"]);
        assert!(changed_paths("").is_empty());
    }

    #[test]
    fn the_version_line_is_found_in_its_table() {
        let text = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2024\"\nversion = \"0.4.0\"\n";
        assert_eq!(version_line(text, "workspace.package"), Some(6));
        assert_eq!(version_line(text, "package"), None);
    }
}
