//! The workspace's packages as `cargo metadata` describes them: which ones are published,
//! in which order, and what the registry will refuse in their manifests.
//!
//! Pure, given the metadata JSON: the steps run `cargo metadata` through [`crate::shell`] and
//! hand its output here.

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8PathBuf;
use serde::Deserialize;

use crate::config::CratesConfig;

/// What `cargo metadata --format-version 1 --no-deps` says, the parts used here.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Metadata {
    pub packages: Vec<Package>,
    pub workspace_members: Vec<String>,
    pub target_directory: Utf8PathBuf,
    pub workspace_root: Utf8PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Package {
    pub name: String,
    pub version: semver::Version,
    pub id: String,
    pub manifest_path: Utf8PathBuf,
    /// `None`: any registry; `Some([])`: none; else the registries allowed.
    pub publish: Option<Vec<String>>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<Utf8PathBuf>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub homepage: Option<String>,
    pub documentation: Option<String>,
    pub repository: Option<String>,
    pub readme: Option<Utf8PathBuf>,
    pub links: Option<String>,
    pub rust_version: Option<String>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Dependency {
    /// The package name (not the alias).
    pub name: String,
    pub req: String,
    /// `None` for normal, `dev`, `build`.
    pub kind: Option<String>,
    pub rename: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub uses_default_features: bool,
    #[serde(default)]
    pub features: Vec<String>,
    pub target: Option<String>,
    /// The index URL of a dependency from another registry than crates.io.
    pub registry: Option<String>,
    /// Set for a path dependency.
    pub path: Option<Utf8PathBuf>,
}

fn yes() -> bool {
    true
}

impl Dependency {
    /// Normal and build dependencies: what the published crate needs at build time, and
    /// what orders the uploads.
    pub(crate) fn is_build_time(&self) -> bool {
        self.kind.as_deref() != Some("dev")
    }
}

impl Package {
    /// The directory of its `Cargo.toml`.
    pub(crate) fn dir(&self) -> Utf8PathBuf {
        self.manifest_path.parent().map(Into::into).unwrap_or_default()
    }
}

/// One crate to publish.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub package: Package,
}

impl Planned {
    pub(crate) fn name(&self) -> &str {
        &self.package.name
    }
    pub(crate) fn version(&self) -> String {
        self.package.version.to_string()
    }
}

/// Why the workspace cannot be published as configured.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkspaceError {
    #[error("`cargo metadata` printed something that is not its JSON: {0}")]
    Metadata(String),
    #[error("`crates.packages` names `{name}`, which is not a package of the workspace {manifest}")]
    NotMember { name: String, manifest: Utf8PathBuf },
    #[error(
        "`{name}` is listed in `crates.packages` but its Cargo.toml ({manifest}) does not allow publishing to {registry}: `publish = {publish}`"
    )]
    NotPublishable { name: String, manifest: Utf8PathBuf, registry: String, publish: String },
    #[error(
        "no package of the workspace {manifest} may be published to {registry} (every `publish` field excludes it)"
    )]
    Nothing { manifest: Utf8PathBuf, registry: String },
    #[error("the packages {names} depend on each other in a cycle, so none can be published first")]
    Cycle { names: String },
}

impl crate::error::Diagnose for WorkspaceError {
    fn help(&self) -> Option<String> {
        Some(match self {
            WorkspaceError::Metadata(_) => {
                "run `cargo metadata --format-version 1 --no-deps` yourself to see what it says".into()
            }
            WorkspaceError::NotMember { .. } => "list workspace members only, by their package name".into(),
            WorkspaceError::NotPublishable { registry, .. } => format!(
                "remove it from `crates.packages`, or allow it in its Cargo.toml: remove `publish`, or add \"{registry}\" to it"
            ),
            WorkspaceError::Nothing { .. } => {
                "allow a package's `publish`, or remove [crates] if this release publishes no crate".into()
            }
            WorkspaceError::Cycle { .. } => {
                "break the cycle: a dev-dependency needs no version (it is then left out of the published manifest)"
                    .into()
            }
        })
    }
}

/// The `publish` name of the crate registry.
pub(crate) const CRATES_IO: &str = "crates-io";

/// Parses `cargo metadata` output.
pub(crate) fn parse_metadata(json: &str) -> Result<Metadata, WorkspaceError> {
    serde_json::from_str(json).map_err(|e| WorkspaceError::Metadata(e.to_string()))
}

/// The packages to publish, in dependency order (a crate after every selected crate it
/// needs at build time; otherwise in the workspace's order).
pub(crate) fn publish_order(metadata: &Metadata, config: &CratesConfig) -> Result<Vec<Planned>, WorkspaceError> {
    let registry = config.registry.clone().unwrap_or_else(|| CRATES_IO.to_owned());
    let manifest = metadata.workspace_root.join("Cargo.toml");
    let members: Vec<&Package> =
        metadata.workspace_members.iter().filter_map(|id| metadata.packages.iter().find(|p| &p.id == id)).collect();
    let allows = |p: &Package| p.publish.as_ref().is_none_or(|list| list.iter().any(|r| r == &registry));
    let selected: Vec<&Package> = match &config.packages {
        Some(names) => {
            let mut out = Vec::new();
            for name in names {
                let package = members
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| WorkspaceError::NotMember { name: name.clone(), manifest: manifest.clone() })?;
                if !allows(package) {
                    return Err(WorkspaceError::NotPublishable {
                        name: name.clone(),
                        manifest: package.manifest_path.clone(),
                        registry: registry.clone(),
                        publish: format!("{:?}", package.publish.clone().unwrap_or_default()),
                    });
                }
                out.push(*package);
            }
            out
        }
        None => members.iter().copied().filter(|p| allows(p)).collect(),
    };
    if selected.is_empty() {
        return Err(WorkspaceError::Nothing { manifest, registry });
    }
    let names: BTreeSet<&str> = selected.iter().map(|p| p.name.as_str()).collect();
    let needs = |p: &Package| -> BTreeSet<String> {
        p.dependencies
            .iter()
            .filter(|d| d.is_build_time() && d.path.is_some() && names.contains(d.name.as_str()) && d.name != p.name)
            .map(|d| d.name.clone())
            .collect()
    };
    let mut order: Vec<Planned> = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    while order.len() < selected.len() {
        let ready = selected.iter().find(|p| !done.contains(&p.name) && needs(p).iter().all(|d| done.contains(d)));
        match ready {
            Some(package) => {
                done.insert(package.name.clone());
                order.push(Planned { package: (*package).clone() });
            }
            None => {
                let left: Vec<&str> =
                    selected.iter().filter(|p| !done.contains(&p.name)).map(|p| p.name.as_str()).collect();
                return Err(WorkspaceError::Cycle { names: left.join(", ") });
            }
        }
    }
    Ok(order)
}

/// One thing the registry would refuse in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetadataProblem {
    pub krate: String,
    pub manifest: Utf8PathBuf,
    /// The manifest field, `package.description`.
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for MetadataProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: `{}` {} ({})", self.krate, self.field, self.problem, self.manifest)
    }
}

/// What the registry refuses at upload that cargo only warns about or lets through (A2
/// 13-14): missing description or licence, over-long description, too many or malformed
/// keywords and categories, URLs that are not http(s), dependencies without a version, and —
/// for the crate registry — dependencies from another registry.
pub(crate) fn metadata_problems(package: &Package, to_crates_io: bool) -> Vec<MetadataProblem> {
    let mut out = Vec::new();
    let mut push = |field: &str, problem: String| {
        out.push(MetadataProblem {
            krate: package.name.clone(),
            manifest: package.manifest_path.clone(),
            field: field.into(),
            problem,
        })
    };
    match package.description.as_deref().map(str::trim) {
        None | Some("") => push("package.description", "is missing: the registry refuses crates without one".into()),
        Some(d) if d.chars().count() > 1000 => push(
            "package.description",
            format!("has {} characters, the registry takes at most 1000", d.chars().count()),
        ),
        _ => {}
    }
    if package.license.as_deref().is_none_or(|l| l.trim().is_empty()) && package.license_file.is_none() {
        push(
            "package.license",
            "is missing (and so is `license-file`): the registry refuses crates without one".into(),
        );
    }
    if package.keywords.len() > 5 {
        push("package.keywords", format!("lists {}, the registry takes at most 5", package.keywords.len()));
    }
    for keyword in &package.keywords {
        let valid = !keyword.is_empty()
            && keyword.len() <= 20
            && keyword.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && keyword.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '+');
        if !valid {
            push(
                "package.keywords",
                format!(
                    "has `{keyword}`: a keyword is at most 20 ASCII letters, digits, `_`, `-` or `+`, starting with a letter or digit"
                ),
            );
        }
    }
    if package.categories.len() > 5 {
        push("package.categories", format!("lists {}, the registry takes at most 5", package.categories.len()));
    }
    for (field, url) in [
        ("homepage", &package.homepage),
        ("documentation", &package.documentation),
        ("repository", &package.repository),
    ] {
        if let Some(url) = url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            push(&format!("package.{field}"), format!("is `{url}`: the registry takes http:// and https:// URLs only"));
        }
    }
    for dep in package.dependencies.iter().filter(|d| d.is_build_time()) {
        if dep.req.trim() == "*" {
            let what =
                if dep.path.is_some() { "a path dependency without `version`" } else { "a wildcard (`*`) version" };
            push(
                &format!("dependencies.{}", dep.rename.as_deref().unwrap_or(&dep.name)),
                format!("is {what}: the registry refuses wildcard dependencies"),
            );
        }
        if to_crates_io && dep.registry.is_some() {
            push(
                &format!("dependencies.{}", dep.rename.as_deref().unwrap_or(&dep.name)),
                "comes from another registry: crates.io refuses cross-registry dependencies".into(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "name": name, "version": "0.1.0", "id": format!("path+file:///ws/{name}#0.1.0"),
            "manifest_path": format!("/ws/{name}/Cargo.toml"), "publish": null,
            "description": "d", "license": "MIT",
            "dependencies": deps.iter().map(|d| serde_json::json!({
                "name": d, "req": "^0.1.0", "kind": null, "path": format!("/ws/{d}")
            })).collect::<Vec<_>>(),
        })
    }

    fn metadata(packages: Vec<serde_json::Value>) -> Metadata {
        let members: Vec<String> = packages.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
        serde_json::from_value(serde_json::json!({
            "packages": packages, "workspace_members": members,
            "target_directory": "/ws/target", "workspace_root": "/ws",
        }))
        .unwrap()
    }

    fn config(text: &str) -> CratesConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn orders_by_dependencies_and_keeps_the_workspace_order_otherwise() {
        let m = metadata(vec![package("c", &["b"]), package("b", &["a"]), package("z", &[]), package("a", &[])]);
        let order = publish_order(&m, &config("")).unwrap();
        let names: Vec<&str> = order.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["z", "a", "b", "c"]);
    }

    #[test]
    fn publish_fields_and_cycles() {
        let mut private = package("p", &[]);
        private["publish"] = serde_json::json!([]);
        let m = metadata(vec![package("a", &[]), private]);
        let order = publish_order(&m, &config("")).unwrap();
        assert_eq!(order.len(), 1, "publish = [] leaves it out");
        let err = publish_order(&m, &config("packages = [\"p\"]")).unwrap_err();
        assert!(err.to_string().contains("does not allow publishing to crates-io"), "{err}");
        let err = publish_order(&m, &config("packages = [\"q\"]")).unwrap_err();
        assert!(err.to_string().contains("not a package of the workspace /ws/Cargo.toml"), "{err}");
        let cycle = metadata(vec![package("a", &["b"]), package("b", &["a"])]);
        assert!(publish_order(&cycle, &config("")).unwrap_err().to_string().contains("a, b"));
    }

    #[test]
    fn metadata_problems_name_the_crate_the_field_and_the_rule() {
        let mut value = package("a", &[]);
        value["description"] = serde_json::Value::Null;
        value["license"] = serde_json::Value::Null;
        value["keywords"] = serde_json::json!(["way-too-long-keyword-here"]);
        value["repository"] = serde_json::json!("git@github.com:a/b");
        value["dependencies"] = serde_json::json!([{"name": "b", "req": "*", "kind": null, "path": "/ws/b"}]);
        let p: Package = serde_json::from_value(value).unwrap();
        let problems: Vec<String> = metadata_problems(&p, true).iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].starts_with("a: `package.description` is missing"), "{}", problems[0]);
        assert!(problems[4].contains("a path dependency without `version`"), "{}", problems[4]);
    }
}
