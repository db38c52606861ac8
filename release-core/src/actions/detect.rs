//! What `release init` finds in a repository: crates with binaries, Helm charts, the
//! GitHub remote, and whether an xtask embeds `release-core`.
//!
//! Reads files only (`Cargo.toml`s, every `Chart.yaml` outside build and hidden directories,
//! `.git/config`); never runs cargo or git, so that it works the same in any checkout. The result is plain data that
//! [`super::generate`] turns into files.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Diagnose;

/// Everything `release init` bases its files on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detected {
    /// The project's name: the first binary's package, else the root package, else the
    /// directory's name.
    pub name: String,
    /// The manifest that states the version, relative to the root.
    pub version_from: Option<Utf8PathBuf>,
    /// Binaries, in manifest order.
    pub binaries: Vec<Binary>,
    /// Whether `Cargo.lock` exists (builds then use `--locked`).
    pub lockfile: bool,
    /// Charts anywhere in the tree (not subcharts, not in build or hidden directories), by path.
    pub charts: Vec<Chart>,
    /// The `origin` remote, when it is on github.com.
    pub github: Option<GithubRemote>,
    /// How this repository's xtask can run the release, when it embeds `release-core`.
    pub xtask: Option<Xtask>,
    /// The workspace holds `release-core` itself: this is the tool's own repository, whose
    /// xtask runs the tool from source.
    pub tool_source: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    /// The binary's name (`target/release/NAME`).
    pub name: String,
    /// The package it belongs to.
    pub package: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    pub name: String,
    /// Relative to the root, e.g. `charts/app`.
    pub path: Utf8PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubRemote {
    pub owner: String,
    pub repo: String,
}

impl std::fmt::Display for GithubRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// How to invoke an xtask that embeds `release-core`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Xtask {
    /// `.cargo/config.toml` defines the `xtask` alias: `cargo xtask release …`.
    Alias,
    /// No alias: `cargo run --package xtask -- release …`.
    Package,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: Utf8PathBuf, message: String },
}

impl Diagnose for DetectError {}

/// Looks at the repository whose root is `root`.
pub fn detect(root: &Utf8Path) -> Result<Detected, DetectError> {
    let mut detected = Detected {
        name: root.file_name().unwrap_or("project").to_owned(),
        lockfile: root.join("Cargo.lock").is_file(),
        ..Detected::default()
    };
    let root_manifest = root.join("Cargo.toml");
    let mut root_package_name = None;
    if root_manifest.is_file() {
        let manifest = read_toml(&root_manifest)?;
        if string_at(&manifest, &["package", "version"]).is_some()
            || string_at(&manifest, &["workspace", "package", "version"]).is_some()
        {
            detected.version_from = Some("Cargo.toml".into());
        }
        root_package_name = string_at(&manifest, &["package", "name"]).map(str::to_owned);
        let mut package_dirs = Vec::new();
        if manifest.get("package").is_some() {
            package_dirs.push(Utf8PathBuf::new());
        }
        for member in workspace_members(&manifest) {
            package_dirs.extend(expand_member(root, &member));
        }
        for dir in package_dirs {
            let path = root.join(&dir).join("Cargo.toml");
            let manifest = if dir.as_str().is_empty() { manifest.clone() } else { read_toml(&path)? };
            let Some(package) = string_at(&manifest, &["package", "name"]).map(str::to_owned) else {
                continue;
            };
            if package == "release-core" {
                detected.tool_source = true;
            }
            if package == "xtask" {
                detected.xtask = xtask_kind(root, &manifest);
                continue;
            }
            let binaries = binaries(&root.join(&dir), &manifest, &package);
            if !binaries.is_empty()
                && detected.version_from.is_none()
                && string_at(&manifest, &["package", "version"]).is_some()
            {
                detected.version_from = Some(dir.join("Cargo.toml"));
            }
            for binary in binaries {
                if !detected.binaries.iter().any(|b| b.name == binary.name) {
                    detected.binaries.push(binary);
                }
            }
        }
    }
    if let Some(first) = detected.binaries.first() {
        detected.name = first.package.clone();
    } else if let Some(name) = root_package_name {
        detected.name = name;
    }
    detected.charts = charts(root)?;
    detected.github = origin_remote(root).as_deref().and_then(github_remote);
    Ok(detected)
}

fn read_toml(path: &Utf8Path) -> Result<toml::Table, DetectError> {
    let text = std::fs::read_to_string(path).map_err(|source| DetectError::Read { path: path.to_owned(), source })?;
    text.parse::<toml::Table>()
        .map_err(|err| DetectError::Toml { path: path.to_owned(), message: err.message().into() })
}

fn string_at<'a>(table: &'a toml::Table, keys: &[&str]) -> Option<&'a str> {
    let (last, parents) = keys.split_last()?;
    let mut current = table;
    for key in parents {
        current = current.get(*key)?.as_table()?;
    }
    current.get(*last)?.as_str()
}

fn workspace_members(manifest: &toml::Table) -> Vec<String> {
    manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|members| members.iter().filter_map(|m| m.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A member path, or every directory with a `Cargo.toml` matching a `dir/*` pattern (the
/// only glob workspaces commonly use).
fn expand_member(root: &Utf8Path, member: &str) -> Vec<Utf8PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => {
            let mut dirs: Vec<Utf8PathBuf> = root
                .join(parent)
                .read_dir_utf8()
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| entry.path().join("Cargo.toml").is_file())
                .map(|entry| Utf8PathBuf::from(parent).join(entry.file_name()))
                .collect();
            dirs.sort();
            dirs
        }
        None if root.join(member).join("Cargo.toml").is_file() => vec![member.into()],
        None => Vec::new(),
    }
}

/// `[[bin]]` targets, and the implicit one from `src/main.rs`.
fn binaries(dir: &Utf8Path, manifest: &toml::Table, package: &str) -> Vec<Binary> {
    let mut found: Vec<Binary> = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|bin| bin.get("name")?.as_str())
        .map(|name| Binary { name: name.to_owned(), package: package.to_owned() })
        .collect();
    let autobins = manifest.get("package").and_then(|p| p.get("autobins")).and_then(|a| a.as_bool()).unwrap_or(true);
    let implicit_main_is_declared = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .any(|bin| bin.get("path").and_then(|p| p.as_str()) == Some("src/main.rs"));
    if autobins
        && !implicit_main_is_declared
        && dir.join("src/main.rs").is_file()
        && !found.iter().any(|b| b.name == package)
    {
        found.insert(0, Binary { name: package.to_owned(), package: package.to_owned() });
    }
    found
}

fn xtask_kind(root: &Utf8Path, manifest: &toml::Table) -> Option<Xtask> {
    let embeds_release_core = manifest.get("dependencies").and_then(|d| d.as_table())?.contains_key("release-core");
    if !embeds_release_core {
        return None;
    }
    let alias = [".cargo/config.toml", ".cargo/config"].iter().any(|file| {
        std::fs::read_to_string(root.join(file))
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
            .is_some_and(|config| config.get("alias").and_then(|a| a.get("xtask")).is_some())
    });
    Some(if alias { Xtask::Alias } else { Xtask::Package })
}

/// Directories never searched for charts: version control, build output, dependencies.
const NOT_SEARCHED: [&str; 8] = ["target", "node_modules", "vendor", "dist", "build", "out", "tmp", "third_party"];

/// How deep the search for charts goes below the root.
const CHART_DEPTH: usize = 6;

/// Every chart in the tree: a directory with a `Chart.yaml`, not below another chart (its
/// `charts/` holds subcharts, which `helm package` bundles), not in a hidden directory or one
/// of [`NOT_SEARCHED`].
fn charts(root: &Utf8Path) -> Result<Vec<Chart>, DetectError> {
    let mut charts = Vec::new();
    let mut pending = vec![(Utf8PathBuf::new(), 0)];
    while let Some((rel, depth)) = pending.pop() {
        let dir = root.join(&rel);
        let chart_yaml = dir.join("Chart.yaml");
        if !rel.as_str().is_empty() && chart_yaml.is_file() {
            let text = std::fs::read_to_string(&chart_yaml)
                .map_err(|source| DetectError::Read { path: chart_yaml.clone(), source })?;
            // Helm's module is the one reader of Chart.yaml; a chart without a usable name is
            // still offered, under its directory's name.
            let name = crate::helm::chart::head_from(&text, &chart_yaml)
                .map(|(name, _)| name)
                .unwrap_or_else(|_| rel.file_name().unwrap_or("chart").to_owned());
            charts.push(Chart { name, path: rel });
            continue;
        }
        if depth >= CHART_DEPTH {
            continue;
        }
        let Ok(entries) = dir.read_dir_utf8() else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            // Links are not followed: a chart is where it is.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && !name.starts_with('.') && !NOT_SEARCHED.contains(&name) {
                pending.push((rel.join(name), depth + 1));
            }
        }
    }
    charts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(charts)
}

/// The `url` of `[remote "origin"]` in the repository's git config. A worktree's `.git` is
/// a file pointing at its git directory, whose `commondir` holds the shared config.
fn origin_remote(root: &Utf8Path) -> Option<String> {
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_file() {
        let pointer = std::fs::read_to_string(&dot_git).ok()?;
        let target = Utf8PathBuf::from(pointer.trim().strip_prefix("gitdir:")?.trim());
        let git_dir = if target.is_absolute() { target } else { root.join(target) };
        match std::fs::read_to_string(git_dir.join("commondir")) {
            Ok(common) => git_dir.join(common.trim()),
            Err(_) => git_dir,
        }
    } else {
        dot_git
    };
    let config = std::fs::read_to_string(git_dir.join("config")).ok()?;
    remote_url(&config, "origin")
}

/// A remote's URL from git-config text.
pub(crate) fn remote_url(config: &str, remote: &str) -> Option<String> {
    let wanted = format!("[remote \"{remote}\"]");
    let mut in_section = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == wanted;
        } else if in_section
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "url"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// `owner/repo` from a github.com remote URL in any of git's forms: `https://`,
/// `ssh://git@`, scp-like `git@github.com:owner/repo.git`, `git://`.
pub(crate) fn github_remote(url: &str) -> Option<GithubRemote> {
    let rest = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "git+ssh") {
            return None;
        }
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host_and_path)| host_and_path);
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next()?;
        if !host.eq_ignore_ascii_case("github.com") {
            return None;
        }
        path
    } else {
        // scp-like syntax: [user@]host:path
        let (user_host, path) = url.split_once(':')?;
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, host)| host);
        if !host.eq_ignore_ascii_case("github.com") {
            return None;
        }
        path
    };
    let path = rest.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, repo) = path.split_once('/')?;
    if owner.is_empty() || repo.is_empty() || repo.contains('/') {
        return None;
    }
    Some(GithubRemote { owner: owner.to_owned(), repo: repo.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(url: &str) -> Option<String> {
        github_remote(url).map(|r| r.to_string())
    }

    #[test]
    fn github_remotes_in_every_form() {
        assert_eq!(remote("https://github.com/acme/app.git").as_deref(), Some("acme/app"));
        assert_eq!(remote("https://github.com/acme/app").as_deref(), Some("acme/app"));
        assert_eq!(remote("https://user@github.com/acme/app.git/").as_deref(), Some("acme/app"));
        assert_eq!(remote("git@github.com:acme/app.git").as_deref(), Some("acme/app"));
        assert_eq!(remote("ssh://git@github.com/acme/app.git").as_deref(), Some("acme/app"));
        assert_eq!(remote("ssh://git@github.com:22/acme/app").as_deref(), Some("acme/app"));
        assert_eq!(remote("https://gitlab.com/acme/app.git"), None);
        assert_eq!(remote("/srv/git/app.git"), None);
        assert_eq!(remote("https://github.com/acme"), None);
    }

    #[test]
    fn origin_is_read_from_its_own_section() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://github.com/up/app\n[remote \"origin\"]\n\turl = git@github.com:me/app.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        assert_eq!(remote_url(config, "origin").as_deref(), Some("git@github.com:me/app.git"));
        assert_eq!(remote_url("[core]\n", "origin"), None);
    }

    fn write(root: &Utf8Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn workspace_with_binaries_charts_remote_and_xtask() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"xtask\"]\n[workspace.package]\nversion = \"0.4.0\"\n",
        );
        write(root, "Cargo.lock", "");
        write(
            root,
            "crates/cli/Cargo.toml",
            "[package]\nname = \"acme-cli\"\nversion.workspace = true\n[[bin]]\nname = \"acme\"\npath = \"src/main.rs\"\n",
        );
        write(root, "crates/cli/src/main.rs", "fn main() {}\n");
        write(root, "crates/lib/Cargo.toml", "[package]\nname = \"acme-lib\"\nversion.workspace = true\n");
        write(root, "crates/lib/src/lib.rs", "");
        write(root, "crates/tool/Cargo.toml", "[package]\nname = \"acme-tool\"\nversion = \"0.4.0\"\n");
        write(root, "crates/tool/src/main.rs", "fn main() {}\n");
        write(root, "xtask/Cargo.toml", "[package]\nname = \"xtask\"\n[dependencies]\nrelease-core = \"0.1\"\n");
        write(root, "xtask/src/main.rs", "fn main() {}\n");
        write(root, ".cargo/config.toml", "[alias]\nxtask = \"run --package xtask --\"\n");
        write(root, "charts/web/Chart.yaml", "apiVersion: v2\nname: acme-web\nversion: 0.1.0\n");
        write(root, "charts/notachart/README.md", "");
        // Anywhere in the tree; a chart's own subcharts and charts in build output are not
        // offered.
        write(root, "deploy/helm/acme/Chart.yaml", "apiVersion: v2\nname: acme\nversion: 0.1.0\n");
        write(root, "deploy/helm/acme/charts/redis/Chart.yaml", "apiVersion: v2\nname: redis\nversion: 1.0.0\n");
        write(root, "target/package/x/Chart.yaml", "apiVersion: v2\nname: copy\nversion: 0.1.0\n");
        write(root, ".github/fixtures/c/Chart.yaml", "apiVersion: v2\nname: fixture\nversion: 0.1.0\n");
        write(root, ".git/config", "[remote \"origin\"]\n\turl = https://github.com/Acme/app.git\n");

        let detected = detect(root).unwrap();
        assert_eq!(detected.name, "acme-cli");
        assert_eq!(detected.version_from.as_deref(), Some(Utf8Path::new("Cargo.toml")));
        let binaries: Vec<(&str, &str)> =
            detected.binaries.iter().map(|b| (b.name.as_str(), b.package.as_str())).collect();
        assert_eq!(binaries, [("acme", "acme-cli"), ("acme-tool", "acme-tool")], "xtask is not a release binary");
        assert!(detected.lockfile);
        assert_eq!(
            detected.charts,
            [
                Chart { name: "acme-web".into(), path: "charts/web".into() },
                Chart { name: "acme".into(), path: "deploy/helm/acme".into() },
            ]
        );
        assert_eq!(detected.github, Some(GithubRemote { owner: "Acme".into(), repo: "app".into() }));
        assert_eq!(detected.xtask, Some(Xtask::Alias));
    }

    #[test]
    fn single_crate_without_remote() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        write(root, "Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.3.1\"\n");
        write(root, "src/main.rs", "fn main() {}\n");
        let detected = detect(root).unwrap();
        assert_eq!(detected.binaries, [Binary { name: "hello".into(), package: "hello".into() }]);
        assert_eq!(detected.version_from.as_deref(), Some(Utf8Path::new("Cargo.toml")));
        assert_eq!((detected.github, detected.xtask, detected.lockfile), (None, None, false));
    }

    #[test]
    fn a_worktree_reads_the_shared_git_config() {
        let dir = tempfile::tempdir().unwrap();
        let base = Utf8Path::from_path(dir.path()).unwrap();
        write(base, "main/.git/config", "[remote \"origin\"]\n\turl = https://github.com/acme/app\n");
        write(base, "main/.git/worktrees/wt/commondir", "../..\n");
        write(base, "wt/.git", &format!("gitdir: {base}/main/.git/worktrees/wt\n"));
        let remote = origin_remote(&base.join("wt")).and_then(|url| github_remote(&url));
        assert_eq!(remote, Some(GithubRemote { owner: "acme".into(), repo: "app".into() }));
    }
}
