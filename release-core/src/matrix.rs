//! Builds across runners, with GitHub Actions as the engine.
//!
//! A release whose `[[build]]`s list `targets` can be built on one runner per target:
//!
//! 1. `release plan --matrix --manifest release-plan.json` writes the [`PlanManifest`] (what
//!    is being released: version, tag, config, commit, targets and the artifacts each must
//!    produce, under one `id`) and prints the build matrix for `strategy.matrix`;
//! 2. each runner runs `release build --target T --plan release-plan.json`, which builds
//!    that target's artifacts into its dist directory beside a [`BuildManifest`]
//!    (`release-build-T.json`: the plan's id, and each artifact's size and SHA-256);
//! 3. the final job downloads every runner's directory and runs `release run --plan
//!    release-plan.json --gather DIR`: `preflight:gathered-builds` proves in preflight that every
//!    planned target was built once, from this plan; `build:gather` copies each artifact into the
//!    dist directory, checking its digest as it is read, and then sign, package and publish
//!    run as in any release.
//!
//! Every job recomputes the manifest from its own checkout and refuses to go on when it
//! differs from the shared one ([`PlanManifest::agrees_with`]): the jobs release one thing
//! or nothing.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::artifact::{ArtifactKind, Release};
use crate::checksum::sha256_hex;
use crate::config::Config;
use crate::env::Environment;
use crate::error::Diagnose;

/// The manifests' format version. A job refuses a manifest of another version.
pub(crate) const MANIFEST_SCHEMA: u32 = 1;
/// `kind` of a [`PlanManifest`].
pub(crate) const PLAN_KIND: &str = "release-plan";
/// `kind` of a [`BuildManifest`].
pub(crate) const BUILD_KIND: &str = "release-build";
/// The plan manifest's file name in the generated workflow.
pub(crate) const PLAN_FILE: &str = "release-plan.json";

/// What every job of a matrix release agrees on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanManifest {
    /// Always [`PLAN_KIND`].
    pub kind: String,
    /// [`MANIFEST_SCHEMA`] of the tool that wrote it.
    pub schema: u32,
    /// SHA-256 over every other field: the identity the jobs compare.
    pub id: String,
    /// The release tool's version: every job must run the same one.
    pub tool: String,
    pub name: Option<String>,
    pub version: String,
    pub tag: String,
    /// SHA-256 of `release.toml`'s text.
    pub config_sha256: String,
    /// The commit being released (`GITHUB_SHA`), when known.
    pub commit: Option<String>,
    /// One entry per target, in the order the config lists them.
    pub targets: Vec<PlannedTarget>,
}

/// One runner's share of the release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTarget {
    pub target: String,
    /// The runner label (`runs-on`).
    pub runner: String,
    /// The `[[build]]`s that build this target.
    pub builds: Vec<String>,
    /// The published names of the artifacts this target must produce.
    pub artifacts: Vec<String>,
}

/// One entry of `strategy.matrix.include`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixEntry {
    pub target: String,
    pub runner: String,
}

/// The build matrix for `strategy.matrix`: `{"include": [{"target": …, "runner": …}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    pub include: Vec<MatrixEntry>,
}

/// What `release build --target T` leaves beside its artifacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BuildManifest {
    /// Always [`BUILD_KIND`].
    pub kind: String,
    pub schema: u32,
    /// The [`PlanManifest::id`] this was built for.
    pub plan_id: String,
    pub target: String,
    pub artifacts: Vec<BuiltArtifact>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BuiltArtifact {
    /// The file's name, in the manifest's directory, and its published name.
    pub name: String,
    /// A binary, or an archive and its SBOM; binary when absent.
    #[serde(default = "binary")]
    pub kind: ArtifactKind,
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

fn binary() -> ArtifactKind {
    ArtifactKind::Binary
}

/// The build manifest's file name for a target.
pub(crate) fn build_manifest_name(target: &str) -> String {
    format!("{BUILD_KIND}-{target}.json")
}

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("no [[build]] in {config} lists `targets`: there is nothing to build across runners")]
    NoTargets { config: Utf8PathBuf },
    #[error("the target `{target}` is not in the plan (planned: {planned})")]
    UnknownTarget { target: String, planned: String },
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("refusing to write the plan manifest to {path}: it {found}")]
    Occupied { path: Utf8PathBuf, found: String },
    #[error("{path} is not a {expected} manifest: {message}")]
    Parse { path: Utf8PathBuf, expected: &'static str, message: String },
    #[error("{path} has manifest schema {found}; this release tool reads schema {MANIFEST_SCHEMA}")]
    Schema { path: Utf8PathBuf, found: u32 },
    #[error("{path} was planned {what} {planned}, but this job has {current}")]
    Disagrees { path: Utf8PathBuf, what: &'static str, planned: String, current: String },
    #[error("the directory {dir} with the builds to gather does not exist")]
    NoGatherDir { dir: Utf8PathBuf },
    #[error("no build of {missing} was found under {dir}")]
    Missing { dir: Utf8PathBuf, missing: String },
    #[error("{target} was built twice: {first} and {second}")]
    Duplicate { target: String, first: Utf8PathBuf, second: Utf8PathBuf },
    #[error("{path} is a build of {target}, which this plan does not list (planned: {planned})")]
    UnplannedBuild { path: Utf8PathBuf, target: String, planned: String },
    #[error("{path} was built for plan {found}, not for this plan ({expected})")]
    ForeignBuild { path: Utf8PathBuf, found: String, expected: String },
    #[error("{path} lists the artifacts {found} for {target}; the plan expects {expected}")]
    WrongArtifacts { path: Utf8PathBuf, target: String, found: String, expected: String },
    #[error("{path} lists `{name}` ({size} bytes), but {file} {problem}")]
    ArtifactFile { path: Utf8PathBuf, name: String, size: u64, file: Utf8PathBuf, problem: String },
    #[error("{file} does not match {path}: its SHA-256 is {actual}, the build recorded {expected}")]
    Digest { path: Utf8PathBuf, file: Utf8PathBuf, expected: String, actual: String },
}

impl Diagnose for MatrixError {
    fn help(&self) -> Option<String> {
        let text = match self {
            MatrixError::NoTargets { .. } => {
                "add `targets = [\"x86_64-unknown-linux-gnu\", ...]` to a [[build]]; a release without targets builds in one job (`release run`)"
            }
            MatrixError::UnknownTarget { .. } => {
                "pass one of the planned targets (`release plan --matrix` lists them), or add the target to a [[build]] and plan again"
            }
            MatrixError::Read { .. } => {
                "download the plan manifest the plan job wrote (`release plan --matrix --manifest FILE`) before this step"
            }
            MatrixError::Write { .. } => "check that the directory exists and is writable",
            MatrixError::Occupied { .. } => {
                "name a new file for --manifest (such as release-plan.json); an existing file is replaced only when it is a plan manifest"
            }
            MatrixError::Parse { .. } => "pass the file `release plan --manifest` or `release build` wrote, unchanged",
            MatrixError::Schema { .. } => {
                "run every job of the release with the same version of the release tool, and make the plan again"
            }
            MatrixError::Disagrees { .. } => {
                "every job must check out the same commit, read the same release.toml and run the same release tool version; re-run the whole workflow rather than one job"
            }
            MatrixError::NoGatherDir { .. } => {
                "download every build's artifacts first (actions/download-artifact with `pattern: release-build-*`) into that directory"
            }
            MatrixError::Missing { .. } => {
                "check that the build job of each missing target succeeded and uploaded its directory (release-build-TARGET), then download them all into the gather directory"
            }
            MatrixError::Duplicate { .. } => "download each target's build once; remove the stale copy",
            MatrixError::UnplannedBuild { .. } => {
                "remove it from the gather directory: it does not belong to this release (its manifest was changed or comes from elsewhere)"
            }
            MatrixError::ForeignBuild { .. } => {
                "this build comes from another plan (an earlier run or another commit): re-run the whole workflow so that every build follows one plan"
            }
            MatrixError::WrongArtifacts { .. } => {
                "the build job ran with a different release.toml; re-run the whole workflow from one commit"
            }
            MatrixError::ArtifactFile { .. } | MatrixError::Digest { .. } => {
                "the file changed or was truncated after its build; re-run the build job of its target"
            }
        };
        Some(text.to_owned())
    }
}

impl PlanManifest {
    /// The manifest of a release: pure, from the config, the release and the environment.
    pub fn new(config: &Config, release: &Release, env: &Environment) -> Result<PlanManifest, MatrixError> {
        let targets = config.targets();
        if targets.is_empty() {
            return Err(MatrixError::NoTargets { config: config.file.clone() });
        }
        let targets = targets
            .into_iter()
            .map(|target| {
                let builds: Vec<_> = config.build.iter().filter(|b| b.targets.contains(&target)).collect();
                PlannedTarget {
                    runner: config.runner_for(&target),
                    artifacts: builds
                        .iter()
                        .flat_map(|b| b.published_names(Some(&release.version), Some(&target), ""))
                        .collect(),
                    builds: builds.iter().map(|b| b.name.clone()).collect(),
                    target,
                }
            })
            .collect();
        let mut manifest = PlanManifest {
            kind: PLAN_KIND.to_owned(),
            schema: MANIFEST_SCHEMA,
            id: String::new(),
            tool: format!("release {}", env!("CARGO_PKG_VERSION")),
            name: config.project.name.clone(),
            version: release.version.to_string(),
            tag: release.tag.clone(),
            config_sha256: config.text_sha256.clone(),
            commit: env.get("GITHUB_SHA").filter(|s| !s.is_empty()).map(str::to_owned),
            targets,
        };
        manifest.id = manifest.compute_id();
        Ok(manifest)
    }

    fn compute_id(&self) -> String {
        let mut copy = self.clone();
        copy.id = String::new();
        let text = serde_json::to_string(&copy).expect("a manifest serialises");
        sha256_hex(text.as_bytes())
    }

    /// The first 12 characters of the id, for messages.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// The build matrix for `strategy.matrix`.
    pub fn matrix(&self) -> Matrix {
        Matrix {
            include: self
                .targets
                .iter()
                .map(|t| MatrixEntry { target: t.target.clone(), runner: t.runner.clone() })
                .collect(),
        }
    }

    pub fn target(&self, target: &str) -> Result<&PlannedTarget, MatrixError> {
        self.targets.iter().find(|t| t.target == target).ok_or_else(|| MatrixError::UnknownTarget {
            target: target.to_owned(),
            planned: self.targets.iter().map(|t| t.target.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Reads and checks a manifest file: its kind, schema and id.
    pub fn load(path: &Utf8Path) -> Result<PlanManifest, MatrixError> {
        let manifest: PlanManifest = read_manifest(path, PLAN_KIND)?;
        if manifest.compute_id() != manifest.id {
            return Err(MatrixError::Parse {
                path: path.to_owned(),
                expected: PLAN_KIND,
                message: "its id does not match its contents (it was edited)".into(),
            });
        }
        Ok(manifest)
    }

    /// Writes the manifest to `path`. An existing file there is replaced only when it is a
    /// plan manifest (an earlier plan's); a directory, a symbolic link or any other file is
    /// refused, untouched.
    pub fn write(&self, path: &Utf8Path) -> Result<(), MatrixError> {
        if let Ok(meta) = path.symlink_metadata() {
            let occupied = |found: String| MatrixError::Occupied { path: path.to_owned(), found };
            if meta.file_type().is_symlink() {
                return Err(occupied("is a symbolic link".into()));
            }
            if meta.is_dir() {
                return Err(occupied("is a directory".into()));
            }
            let kind = std::fs::read(path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned));
            if kind.as_deref() != Some(PLAN_KIND) {
                return Err(occupied(format!("already exists and is not a plan manifest ({} bytes)", meta.len())));
            }
        }
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises") + "\n";
        std::fs::write(path, text).map_err(|source| MatrixError::Write { path: path.to_owned(), source })
    }

    /// Whether `current` (this job's own manifest, computed from its checkout) is the same
    /// plan as this one, read from `path`; when not, the first difference that explains it.
    pub fn agrees_with(&self, current: &PlanManifest, path: &Utf8Path) -> Result<(), MatrixError> {
        if self.id == current.id {
            return Ok(());
        }
        let differ = |what: &'static str, planned: String, current: String| {
            (planned != current).then(|| MatrixError::Disagrees { path: path.to_owned(), what, planned, current })
        };
        let or_none = |s: &Option<String>| s.clone().unwrap_or_else(|| "no commit".into());
        let names = |m: &PlanManifest| {
            m.targets.iter().map(|t| format!("{} {:?}", t.target, t.artifacts)).collect::<Vec<_>>().join(", ")
        };
        let reason = differ("with", self.tool.clone(), current.tool.clone())
            .or_else(|| differ("for commit", or_none(&self.commit), or_none(&current.commit)))
            .or_else(|| {
                differ("from a release.toml with SHA-256", self.config_sha256.clone(), current.config_sha256.clone())
            })
            .or_else(|| differ("for version", self.version.clone(), current.version.clone()))
            .or_else(|| differ("with tag", self.tag.clone(), current.tag.clone()))
            .or_else(|| differ("with targets", names(self), names(current)))
            .unwrap_or_else(|| MatrixError::Disagrees {
                path: path.to_owned(),
                what: "as plan",
                planned: self.short_id().to_owned(),
                current: current.short_id().to_owned(),
            });
        Err(reason)
    }
}

impl BuildManifest {
    pub(crate) fn load(path: &Utf8Path) -> Result<BuildManifest, MatrixError> {
        read_manifest(path, BUILD_KIND)
    }
}

pub(crate) fn read_manifest<T: serde::de::DeserializeOwned>(
    path: &Utf8Path,
    kind: &'static str,
) -> Result<T, MatrixError> {
    let text = std::fs::read_to_string(path).map_err(|source| MatrixError::Read { path: path.to_owned(), source })?;
    let parse_err = |message: String| MatrixError::Parse { path: path.to_owned(), expected: kind, message };
    // Kind and schema first, so that a newer format is reported as such rather than as a
    // missing field.
    #[derive(Deserialize)]
    struct Header {
        kind: String,
        schema: u32,
    }
    let header: Header = serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
    if header.kind != kind {
        return Err(parse_err(format!("its kind is `{}`", header.kind)));
    }
    if header.schema != MANIFEST_SCHEMA {
        return Err(MatrixError::Schema { path: path.to_owned(), found: header.schema });
    }
    serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))
}

/// A build found in the gather directory.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) path: Utf8PathBuf,
    pub(crate) manifest: BuildManifest,
}

/// Finds and checks every build manifest under `dir` (in it, or one directory down, as
/// `actions/download-artifact` lays them out) without reading the artifacts themselves.
pub(crate) fn scan(plan: &PlanManifest, dir: &Utf8Path) -> Result<Vec<Found>, MatrixError> {
    if !dir.is_dir() {
        return Err(MatrixError::NoGatherDir { dir: dir.to_owned() });
    }
    let read_dir = |d: &Utf8Path| -> Result<Vec<Utf8PathBuf>, MatrixError> {
        let mut entries = Vec::new();
        for entry in d.read_dir_utf8().map_err(|source| MatrixError::Read { path: d.to_owned(), source })? {
            let entry = entry.map_err(|source| MatrixError::Read { path: d.to_owned(), source })?;
            entries.push(entry.into_path());
        }
        entries.sort();
        Ok(entries)
    };
    let is_manifest = |p: &Utf8Path| {
        p.file_name().is_some_and(|n| n.starts_with(&format!("{BUILD_KIND}-")) && n.ends_with(".json")) && p.is_file()
    };
    let mut manifests = Vec::new();
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            manifests.extend(read_dir(&entry)?.into_iter().filter(|p| is_manifest(p)));
        } else if is_manifest(&entry) {
            manifests.push(entry);
        }
    }

    let mut found: Vec<Found> = Vec::new();
    for path in manifests {
        let manifest = BuildManifest::load(&path)?;
        if manifest.plan_id != plan.id {
            return Err(MatrixError::ForeignBuild {
                path,
                found: manifest.plan_id.chars().take(12).collect(),
                expected: plan.short_id().to_owned(),
            });
        }
        let Ok(planned) = plan.target(&manifest.target) else {
            let planned = plan.targets.iter().map(|t| t.target.as_str()).collect::<Vec<_>>().join(", ");
            return Err(MatrixError::UnplannedBuild { path, target: manifest.target, planned });
        };
        if let Some(first) = found.iter().find(|f| f.manifest.target == manifest.target) {
            return Err(MatrixError::Duplicate { target: manifest.target, first: first.path.clone(), second: path });
        }
        let names: BTreeSet<&str> = manifest.artifacts.iter().map(|a| a.name.as_str()).collect();
        let expected: BTreeSet<&str> = planned.artifacts.iter().map(String::as_str).collect();
        if names != expected || names.len() != manifest.artifacts.len() {
            return Err(MatrixError::WrongArtifacts {
                path,
                target: manifest.target,
                found: format!("{names:?}"),
                expected: format!("{expected:?}"),
            });
        }
        let dir = path.parent().expect("a file has a directory").to_owned();
        for artifact in &manifest.artifacts {
            let file = dir.join(&artifact.name);
            let problem = match std::fs::metadata(&file) {
                Ok(meta) if !meta.is_file() => Some("is not a file".to_owned()),
                Ok(meta) if meta.len() != artifact.size => Some(format!("has {} bytes", meta.len())),
                Ok(_) => None,
                Err(err) => Some(format!("cannot be read: {err}")),
            };
            if let Some(problem) = problem {
                return Err(MatrixError::ArtifactFile {
                    path,
                    name: artifact.name.clone(),
                    size: artifact.size,
                    file,
                    problem,
                });
            }
        }
        found.push(Found { path, manifest });
    }
    let missing: Vec<&str> = plan
        .targets
        .iter()
        .map(|t| t.target.as_str())
        .filter(|t| !found.iter().any(|f| f.manifest.target == *t))
        .collect();
    if !missing.is_empty() {
        return Err(MatrixError::Missing { dir: dir.to_owned(), missing: missing.join(", ") });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::{Overrides, release};

    const CONFIG: &str = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"true\"]\ntargets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\nartifacts = [{ path = \"a\", name = \"app-{target}\" }]\n[[build]]\nname = \"docs\"\ncommand = [\"true\"]\nartifacts = [\"docs.txt\"]\n";

    fn manifest_of(text: &str, env: &Environment) -> PlanManifest {
        let config = Config::parse(text, Utf8Path::new("/repo/release.toml")).unwrap();
        let release = release(&config, &Overrides::default()).unwrap();
        PlanManifest::new(&config, &release, env).unwrap()
    }

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        (dir, path)
    }

    #[test]
    fn the_matrix_has_one_entry_per_target_and_builds_without_targets_stay_out() {
        let plan = manifest_of(CONFIG, &Environment::empty());
        let json = serde_json::to_string(&plan.matrix()).unwrap();
        assert_eq!(
            json,
            r#"{"include":[{"target":"x86_64-unknown-linux-gnu","runner":"ubuntu-latest"},{"target":"aarch64-apple-darwin","runner":"macos-latest"}]}"#
        );
        assert_eq!(plan.targets[1].artifacts, ["app-aarch64-apple-darwin"]);
        assert_eq!(plan.targets[1].builds, ["app"]);
        assert_eq!(plan.commit, None);
    }

    #[test]
    fn archived_builds_plan_their_archives_and_sboms_and_old_manifests_read_as_binaries() {
        let text = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncargo = { package = \"app\", bins = [\"app\"] }\ntargets = [\"x86_64-unknown-linux-gnu\", \"x86_64-pc-windows-msvc\"]\n";
        let plan = manifest_of(text, &Environment::empty());
        assert_eq!(
            plan.targets[1].artifacts,
            ["app-x86_64-pc-windows-msvc-v1.0.0.zip", "app-x86_64-pc-windows-msvc-v1.0.0.zip.cdx.json"]
        );
        let manifest: BuildManifest = serde_json::from_str(
            r#"{"kind": "release-build", "schema": 1, "plan_id": "x", "target": "t", "artifacts": [{"name": "a", "size": 1, "sha256": "00"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.artifacts[0].kind, ArtifactKind::Binary);
        let written = serde_json::to_value(BuiltArtifact {
            name: "a.zip".into(),
            kind: ArtifactKind::Archive,
            size: 1,
            sha256: "00".into(),
        })
        .unwrap();
        assert_eq!(written["kind"], "archive");
    }

    #[test]
    fn a_config_without_targets_has_no_matrix() {
        let config = Config::parse("[project]\nversion = \"1.0.0\"\n", Utf8Path::new("/repo/release.toml")).unwrap();
        let release = release(&config, &Overrides::default()).unwrap();
        let err = PlanManifest::new(&config, &release, &Environment::empty()).unwrap_err();
        assert!(err.to_string().contains("no [[build]] in /repo/release.toml lists `targets`"), "{err}");
    }

    #[test]
    fn the_id_covers_commit_config_and_version_and_says_which_differs() {
        let env = Environment::empty().with("GITHUB_SHA", "abc");
        let plan = manifest_of(CONFIG, &env);
        assert_eq!(plan, manifest_of(CONFIG, &env), "planning is deterministic");
        let path = Utf8Path::new("plan.json");
        let other_commit = manifest_of(CONFIG, &Environment::empty().with("GITHUB_SHA", "def"));
        let err = plan.agrees_with(&other_commit, path).unwrap_err().to_string();
        assert_eq!(err, "plan.json was planned for commit abc, but this job has def");
        let edited = manifest_of(&CONFIG.replace("1.0.0", "1.0.1"), &env);
        let err = plan.agrees_with(&edited, path).unwrap_err().to_string();
        assert!(err.starts_with("plan.json was planned from a release.toml with SHA-256 "), "{err}");
        assert!(plan.agrees_with(&plan.clone(), path).is_ok());
    }

    #[test]
    fn loading_checks_kind_schema_and_id() {
        let (_keep, dir) = temp();
        let plan = manifest_of(CONFIG, &Environment::empty());
        let path = dir.join("plan.json");
        plan.write(&path).unwrap();
        assert_eq!(PlanManifest::load(&path).unwrap(), plan);

        std::fs::write(&path, serde_json::to_string(&PlanManifest { tag: "v9".into(), ..plan.clone() }).unwrap())
            .unwrap();
        assert!(PlanManifest::load(&path).unwrap_err().to_string().contains("its id does not match its contents"));
        std::fs::write(&path, r#"{"kind": "release-plan", "schema": 2, "whatever": true}"#).unwrap();
        assert!(matches!(PlanManifest::load(&path), Err(MatrixError::Schema { found: 2, .. })));
        std::fs::write(&path, r#"{"kind": "release-build", "schema": 1}"#).unwrap();
        let err = PlanManifest::load(&path).unwrap_err().to_string();
        assert!(err.ends_with("is not a release-plan manifest: its kind is `release-build`"), "{err}");
    }

    fn write_build(dir: &Utf8Path, plan: &PlanManifest, target: &str, content: &[u8]) {
        std::fs::create_dir_all(dir).unwrap();
        let name = format!("app-{target}");
        std::fs::write(dir.join(&name), content).unwrap();
        let manifest = BuildManifest {
            kind: BUILD_KIND.into(),
            schema: MANIFEST_SCHEMA,
            plan_id: plan.id.clone(),
            target: target.into(),
            artifacts: vec![BuiltArtifact {
                name,
                kind: ArtifactKind::Binary,
                size: content.len() as u64,
                sha256: sha256_hex(content),
            }],
        };
        std::fs::write(dir.join(build_manifest_name(target)), serde_json::to_string(&manifest).unwrap()).unwrap();
    }

    #[test]
    fn scan_finds_builds_flat_or_one_level_down_and_each_problem_by_name() {
        let (_keep, root) = temp();
        let plan = manifest_of(CONFIG, &Environment::empty());
        // download-artifact with merge-multiple: one flat directory; without: one per build.
        write_build(&root, &plan, "x86_64-unknown-linux-gnu", b"linux");
        write_build(&root.join("release-build-aarch64-apple-darwin"), &plan, "aarch64-apple-darwin", b"mac");
        let found = scan(&plan, &root).unwrap();
        assert_eq!(found.len(), 2);

        // A second copy of one target.
        write_build(&root.join("copy"), &plan, "aarch64-apple-darwin", b"mac");
        assert!(matches!(scan(&plan, &root), Err(MatrixError::Duplicate { .. })));
        std::fs::remove_dir_all(root.join("copy")).unwrap();

        // A truncated artifact.
        std::fs::write(root.join("app-x86_64-unknown-linux-gnu"), b"lin").unwrap();
        let err = scan(&plan, &root).unwrap_err().to_string();
        assert!(
            err.contains("lists `app-x86_64-unknown-linux-gnu` (5 bytes), but ") && err.ends_with("has 3 bytes"),
            "{err}"
        );
        std::fs::write(root.join("app-x86_64-unknown-linux-gnu"), b"linux").unwrap();

        // A target that is not in the plan, and a missing directory.
        write_build(&root.join("extra"), &plan, "riscv64gc-unknown-linux-gnu", b"x");
        assert!(matches!(scan(&plan, &root), Err(MatrixError::UnplannedBuild { .. })));
        assert!(matches!(scan(&plan, &root.join("nowhere")), Err(MatrixError::NoGatherDir { .. })));
    }
}
