//! What cargo says, read as data: `cargo metadata` (the workspace, and the resolved graph for
//! a target), the JSON messages of `cargo build --message-format=json-render-diagnostics`,
//! `Cargo.lock` checksums and `rustc -vV`. Pure: the steps run the commands (through
//! [`crate::shell`]) and hand the text here.

pub(crate) mod binstall;

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8PathBuf;
use serde::Deserialize;

use crate::config::CargoBuild;

/// `cargo metadata --format-version 1` (with or without `--no-deps`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Metadata {
    pub packages: Vec<Package>,
    pub workspace_members: Vec<String>,
    #[serde(default)]
    pub resolve: Option<Resolve>,
    pub workspace_root: Utf8PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Package {
    pub name: String,
    pub version: String,
    pub id: String,
    #[serde(default)]
    pub license: Option<String>,
    pub manifest_path: Utf8PathBuf,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Target {
    pub name: String,
    pub kind: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Resolve {
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Node {
    pub id: String,
    #[serde(default)]
    pub deps: Vec<NodeDep>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct NodeDep {
    pub pkg: String,
    #[serde(default)]
    pub dep_kinds: Vec<DepKind>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct DepKind {
    /// `null` for a normal dependency, `"build"`, `"dev"`.
    pub kind: Option<String>,
}

impl Package {
    /// Names of its binary targets.
    pub(crate) fn bins(&self) -> Vec<&str> {
        self.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")).map(|t| t.name.as_str()).collect()
    }

    /// Whether it is a proc-macro crate: it runs inside the compiler, nothing of it is linked.
    pub(crate) fn is_proc_macro(&self) -> bool {
        self.targets.iter().any(|t| t.kind.iter().any(|k| k == "proc-macro"))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CargoError {
    #[error("`cargo metadata` printed something that is not its JSON: {message}")]
    Metadata { message: String },
    #[error("{field}: the workspace at {root} has no package `{package}` (its packages: {known})")]
    NoPackage { field: String, root: Utf8PathBuf, package: String, known: String },
    #[error("{field}: the package `{package}` has no binary `{bin}` (its binaries: {known})")]
    NoBin { field: String, package: String, bin: String, known: String },
    #[error("{field}: the package `{package}` has no feature `{feature}` (its features: {known})")]
    NoFeature { field: String, package: String, feature: String, known: String },
    #[error("cargo built no `{bin}` binary of `{package}`: no compiler-artifact message named it")]
    NoArtifact { package: String, bin: String },
    #[error("`rustc -vV` did not name the host triple")]
    NoHost,
}

impl crate::error::Diagnose for CargoError {
    fn help(&self) -> Option<String> {
        Some(
            match self {
                CargoError::Metadata { .. } => "run `cargo metadata --format-version 1` in the build's `dir` to see what fails",
                CargoError::NoPackage { .. } => "set `cargo.package` of that [[build]] in release.toml to one of the workspace's packages",
                CargoError::NoBin { .. } => "list the package's binaries in `cargo.bins` (its `[[bin]]` targets, or the package name for src/main.rs)",
                CargoError::NoFeature { .. } => "fix `cargo.features` of that [[build]], or add the feature to the package's Cargo.toml",
                CargoError::NoArtifact { .. } => "check that the binary is built by `cargo build --bin NAME` in that directory",
                CargoError::NoHost => "check that `rustc` is on PATH, or list the build's `targets` explicitly",
            }
            .into(),
        )
    }
}

/// Parses `cargo metadata` output.
pub(crate) fn parse_metadata(text: &str) -> Result<Metadata, CargoError> {
    serde_json::from_str(text).map_err(|e| CargoError::Metadata { message: e.to_string() })
}

impl Metadata {
    /// The workspace member named `name`.
    pub(crate) fn member(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name && self.workspace_members.contains(&p.id))
    }

    /// Checks a `cargo = {...}` against the workspace: the package, its binaries and features
    /// exist. `field` is the build's field prefix (`build[0].cargo`).
    pub(crate) fn check_build(&self, cargo: &CargoBuild, field: &str) -> Result<&Package, CargoError> {
        let package = self.member(&cargo.package).ok_or_else(|| {
            let mut known: Vec<&str> = self
                .packages
                .iter()
                .filter(|p| self.workspace_members.contains(&p.id))
                .map(|p| p.name.as_str())
                .collect();
            known.sort();
            CargoError::NoPackage {
                field: format!("{field}.package"),
                root: self.workspace_root.clone(),
                package: cargo.package.clone(),
                known: list(&known),
            }
        })?;
        let bins = package.bins();
        for (i, bin) in cargo.bins.iter().enumerate() {
            if !bins.contains(&bin.as_str()) {
                return Err(CargoError::NoBin {
                    field: format!("{field}.bins[{i}]"),
                    package: package.name.clone(),
                    bin: bin.clone(),
                    known: list(&bins),
                });
            }
        }
        for (i, feature) in cargo.features.iter().enumerate() {
            // `dep/feature` and `dep:name` name a dependency's feature; cargo checks those.
            if !feature.contains('/') && !feature.contains(':') && !package.features.contains_key(feature) {
                let known: Vec<&str> = package.features.keys().map(String::as_str).collect();
                return Err(CargoError::NoFeature {
                    field: format!("{field}.features[{i}]"),
                    package: package.name.clone(),
                    feature: feature.clone(),
                    known: list(&known),
                });
            }
        }
        Ok(package)
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// The arguments of `cargo build` for a build and target.
pub(crate) fn build_args(cargo: &CargoBuild, target: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = vec!["cargo".into(), "build".into()];
    match &cargo.profile {
        Some(profile) => args.extend(["--profile".into(), profile.clone()]),
        None => args.push("--release".into()),
    }
    args.extend(["--locked".into(), "--message-format=json-render-diagnostics".into()]);
    if let Some(target) = target {
        args.extend(["--target".into(), target.to_owned()]);
    }
    args.extend(["-p".into(), cargo.package.clone()]);
    for bin in &cargo.bins {
        args.extend(["--bin".into(), bin.clone()]);
    }
    if cargo.no_default_features {
        args.push("--no-default-features".into());
    }
    if !cargo.features.is_empty() {
        args.extend(["--features".into(), cargo.features.join(",")]);
    }
    args
}

/// One line of cargo's JSON messages, as far as a release needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A binary was built: its target name and where cargo put it.
    Executable { name: String, manifest_path: Utf8PathBuf, path: Utf8PathBuf },
    /// A message the release ignores (other artifacts, build scripts, `build-finished`).
    Other,
    /// A line that is not a JSON message: shown as output.
    Text,
}

/// Reads one stdout line of `cargo build --message-format=json-render-diagnostics`.
pub(crate) fn parse_message(line: &str) -> Message {
    #[derive(Deserialize)]
    struct Raw {
        reason: String,
        #[serde(default)]
        target: Option<Target>,
        #[serde(default)]
        executable: Option<Utf8PathBuf>,
        #[serde(default)]
        manifest_path: Option<Utf8PathBuf>,
    }
    let Ok(raw) = serde_json::from_str::<Raw>(line) else { return Message::Text };
    match (raw.reason.as_str(), raw.target, raw.executable, raw.manifest_path) {
        ("compiler-artifact", Some(target), Some(path), Some(manifest_path))
            if target.kind.iter().any(|k| k == "bin") =>
        {
            Message::Executable { name: target.name, manifest_path, path }
        }
        _ => Message::Other,
    }
}

/// The host triple in `rustc -vV` output.
pub(crate) fn host_triple(rustc_vv: &str) -> Result<String, CargoError> {
    rustc_vv.lines().find_map(|l| l.strip_prefix("host: ")).map(|h| h.trim().to_owned()).ok_or(CargoError::NoHost)
}

/// `Cargo.lock`'s `checksum` per `(name, version)` (registry packages only).
pub(crate) fn lock_checksums(lockfile: &str) -> BTreeMap<(String, String), String> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Locked>,
    }
    #[derive(Deserialize)]
    struct Locked {
        name: String,
        version: String,
        checksum: Option<String>,
    }
    let lock: Lock = toml::from_str(lockfile).unwrap_or(Lock { package: Vec::new() });
    lock.package.into_iter().filter_map(|p| Some(((p.name, p.version), p.checksum?))).collect()
}

/// Every package linked into `root`'s binaries: `root` and what its normal dependencies
/// reach, transitively. Build and dev dependencies are not followed (they run at build time
/// or in tests), nor proc-macro crates and what only they use (they run inside the
/// compiler). With `--filter-platform`, dependencies of other platforms are already gone.
pub(crate) fn linked_packages<'m>(metadata: &'m Metadata, root: &str) -> Vec<&'m Package> {
    let Some(resolve) = &metadata.resolve else { return Vec::new() };
    let nodes: BTreeMap<&str, &Node> = resolve.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let packages: BTreeMap<&str, &Package> = metadata.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let normal = dep.dep_kinds.is_empty() || dep.dep_kinds.iter().any(|k| k.kind.is_none());
            let linked = packages.get(dep.pkg.as_str()).is_some_and(|p| !p.is_proc_macro());
            if normal && linked {
                stack.push(dep.pkg.as_str());
            }
        }
    }
    let mut found: Vec<&Package> = seen.into_iter().filter_map(|id| packages.get(id).copied()).collect();
    found.sort_by(|a, b| (&a.name, &a.version, &a.id).cmp(&(&b.name, &b.version, &b.id)));
    found
}

#[cfg(test)]
mod tests;
