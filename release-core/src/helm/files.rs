//! Which files a chart consists of, found safely.
//!
//! Owns the path rules: a configured chart path is relative to release.toml's directory and
//! has no `..`; an archive path is a relative path of normal components. The walk honours
//! `.helmignore` ([`super::ignore`]), follows symbolic links that stay inside the chart (as
//! `helm package` does: the link's target is packaged under the link's name) and refuses
//! links that leave the chart directory, dangling links, link loops and special files.
//!
//! It must never read a file outside the chart directory: every link target is resolved
//! and compared with the chart directory's resolved path before it is followed.

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};

use super::ChartError;
use super::chart::CHART_YAML;
use super::ignore::{HELMIGNORE, Rules};

/// One file to package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChartFile {
    /// The path inside the chart, `/`-separated (`templates/deployment.yaml`).
    pub archive_path: String,
    /// Where its bytes are read from (a link's target for a followed link).
    pub source: Utf8PathBuf,
}

/// What a walk found: the files, the links it followed, and every problem.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Sorted by archive path; `Chart.yaml` of the chart directory is not among them.
    pub files: Vec<ChartFile>,
    pub followed_links: Vec<String>,
    pub problems: Vec<ChartError>,
}

/// The chart directory for a configured `path`: relative to `root`, without `..`.
pub(crate) fn chart_dir(root: &Utf8Path, configured: &Utf8Path) -> Result<Utf8PathBuf, ChartError> {
    let reject = |reason| Err(ChartError::ChartPath { path: configured.to_owned(), reason });
    if configured.as_str().is_empty() {
        return reject("is empty");
    }
    let mut relative = Utf8PathBuf::new();
    for component in configured.components() {
        match component {
            Utf8Component::Normal(part) => relative.push(part),
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => return reject("contains `..`: a chart must be inside the project"),
            Utf8Component::RootDir | Utf8Component::Prefix(_) => {
                return reject("is absolute: give it relative to release.toml's directory");
            }
        }
    }
    Ok(if relative.as_str().is_empty() { root.to_owned() } else { root.join(relative) })
}

/// Checks a path that will be written into the archive: relative, `/`-separated, every
/// component a normal name (no empty, `.` or `..` component).
pub(crate) fn check_archive_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':') {
        return Err("is absolute");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("has an empty component"),
            "." => return Err("has a `.` component"),
            ".." => return Err("contains `..`"),
            _ if component.contains('\0') => return Err("contains a NUL byte"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that `name` in the chart directory, if it exists, is not a symbolic link out of
/// the chart; the files Helm reads by name (`Chart.yaml`, `values.yaml`) are read only after
/// this passed, even when `.helmignore` hides them from the walk.
pub(crate) fn check_inside(dir: &Utf8Path, name: &str) -> Result<(), ChartError> {
    let path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        _ => return Ok(()),
    }
    let written = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
    let root = dir.canonicalize_utf8().map_err(|source| ChartError::Read { path: dir.to_owned(), source })?;
    match path.canonicalize_utf8() {
        Ok(resolved) if resolved.starts_with(&root) => Ok(()),
        Ok(_) => Err(ChartError::SymlinkEscape { link: path, target: written, chart: dir.to_owned() }),
        Err(_) => Err(ChartError::DanglingSymlink { link: path }),
    }
}

/// Walks a chart directory: every file to package, with `.helmignore` applied.
pub(crate) fn collect(dir: &Utf8Path) -> Walk {
    let mut walk = Walk::default();
    let root = match dir.canonicalize_utf8() {
        Ok(root) => root,
        Err(source) => {
            walk.problems.push(ChartError::Read { path: dir.to_owned(), source });
            return walk;
        }
    };
    let ignore_path = dir.join(HELMIGNORE);
    let rules = match std::fs::read_to_string(&ignore_path) {
        Ok(text) => Rules::parse(&text).unwrap_or_else(|err| {
            walk.problems.push(ChartError::Pattern {
                path: ignore_path.clone(),
                line: err.line,
                pattern: err.pattern,
                reason: err.reason,
            });
            Rules::defaults()
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Rules::defaults(),
        Err(source) => {
            walk.problems.push(ChartError::Read { path: ignore_path.clone(), source });
            Rules::defaults()
        }
    };
    let mut walker = Walker { root: &root, shown_root: dir, rules: &rules, walk: &mut walk, ancestors: vec![] };
    walker.ancestors.push(root.clone());
    walker.dir(&root, dir, "");
    walk.files.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
    walk
}

struct Walker<'a> {
    /// The chart directory, resolved.
    root: &'a Utf8Path,
    /// The chart directory as configured, for messages.
    shown_root: &'a Utf8Path,
    rules: &'a Rules,
    walk: &'a mut Walk,
    /// Resolved directories from the root down to the one being read, to detect loops.
    ancestors: Vec<Utf8PathBuf>,
}

impl Walker<'_> {
    /// Reads the directory `real` (resolved), shown as `shown`, at archive path `rel`.
    fn dir(&mut self, real: &Utf8Path, shown: &Utf8Path, rel: &str) {
        let entries = match std::fs::read_dir(real) {
            Ok(entries) => entries,
            Err(source) => {
                self.walk.problems.push(ChartError::Read { path: shown.to_owned(), source });
                return;
            }
        };
        let mut entries: Vec<_> = match entries.collect::<Result<_, _>>() {
            Ok(entries) => entries,
            Err(source) => {
                self.walk.problems.push(ChartError::Read { path: shown.to_owned(), source });
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                self.walk
                    .problems
                    .push(ChartError::NonUtf8Name { path: format!("{shown}/{}", os_name.to_string_lossy()) });
                continue;
            };
            let rel_child = if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") };
            self.entry(&real.join(name), &shown.join(name), rel_child, entry.file_type());
        }
    }

    fn entry(&mut self, real: &Utf8Path, shown: &Utf8Path, rel: String, file_type: std::io::Result<std::fs::FileType>) {
        let file_type = match file_type {
            Ok(file_type) => file_type,
            Err(source) => {
                self.walk.problems.push(ChartError::Read { path: shown.to_owned(), source });
                return;
            }
        };
        let is_link = file_type.is_symlink();
        // For a link, what it points to decides whether directory-only rules apply.
        let target_meta = if is_link { std::fs::metadata(real).ok() } else { None };
        let is_dir = if is_link { target_meta.as_ref().is_some_and(|m| m.is_dir()) } else { file_type.is_dir() };
        if self.rules.is_ignored(&rel, is_dir) {
            return;
        }
        let resolved = if is_link {
            let written = std::fs::read_link(real).map(|t| t.display().to_string()).unwrap_or_default();
            let Some(meta) = &target_meta else {
                self.walk.problems.push(ChartError::DanglingSymlink { link: shown.to_owned() });
                return;
            };
            let resolved = match real.canonicalize_utf8() {
                Ok(resolved) => resolved,
                Err(source) => {
                    self.walk.problems.push(ChartError::Read { path: shown.to_owned(), source });
                    return;
                }
            };
            if !resolved.starts_with(self.root) {
                self.walk.problems.push(ChartError::SymlinkEscape {
                    link: shown.to_owned(),
                    target: written,
                    chart: self.shown_root.to_owned(),
                });
                return;
            }
            if meta.is_dir() && self.ancestors.contains(&resolved) {
                self.walk.problems.push(ChartError::SymlinkLoop { link: shown.to_owned(), target: written });
                return;
            }
            self.walk.followed_links.push(rel.clone());
            resolved
        } else {
            real.to_owned()
        };
        let is_file = if is_link { target_meta.as_ref().is_some_and(|m| m.is_file()) } else { file_type.is_file() };
        if is_dir {
            self.ancestors.push(resolved.clone());
            self.dir(&resolved, shown, &rel);
            self.ancestors.pop();
        } else if is_file {
            // Chart.yaml is written from its parsed form, first; see `super::package`.
            if rel != CHART_YAML {
                self.walk.files.push(ChartFile { archive_path: rel, source: resolved });
            }
        } else {
            self.walk.problems.push(ChartError::SpecialFile { path: shown.to_owned() });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use proptest::prelude::*;

    use super::*;

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        (dir, path)
    }

    fn write(path: &Utf8Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn names(walk: &Walk) -> Vec<&str> {
        walk.files.iter().map(|f| f.archive_path.as_str()).collect()
    }

    #[test]
    fn chart_paths_must_stay_inside_the_project() {
        let root = Utf8Path::new("/repo");
        assert_eq!(chart_dir(root, "charts/hello".into()).unwrap(), "/repo/charts/hello");
        assert_eq!(chart_dir(root, "./charts/./hello/".into()).unwrap(), "/repo/charts/hello");
        assert_eq!(chart_dir(root, ".".into()).unwrap(), "/repo");
        let err = chart_dir(root, "../elsewhere/hello".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chart path `../elsewhere/hello` contains `..`: a chart must be inside the project"
        );
        let err = chart_dir(root, "/etc/hello".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chart path `/etc/hello` is absolute: give it relative to release.toml's directory"
        );
        assert!(chart_dir(root, "charts/../../x".into()).is_err());
        assert!(chart_dir(root, "".into()).is_err());
    }

    #[test]
    fn walk_honours_helmignore_and_sorts() {
        let (_guard, dir) = temp();
        write(&dir.join("Chart.yaml"), "apiVersion: v2\n");
        write(&dir.join(".helmignore"), "# editor files\n*.swp\nci/\n!keep.swp\n");
        write(&dir.join("values.yaml"), "");
        write(&dir.join("templates/b.yaml"), "");
        write(&dir.join("templates/a.yaml"), "");
        write(&dir.join("templates/.hidden"), "");
        write(&dir.join("templates/x.swp"), "");
        write(&dir.join("keep.swp"), "");
        write(&dir.join("ci/values.yaml"), "");
        write(&dir.join("README.md"), "");
        let walk = collect(&dir);
        assert!(walk.problems.is_empty(), "{:?}", walk.problems);
        assert_eq!(
            names(&walk),
            [".helmignore", "README.md", "keep.swp", "templates/a.yaml", "templates/b.yaml", "values.yaml"]
        );
    }

    #[test]
    fn links_inside_the_chart_are_followed() {
        let (_guard, dir) = temp();
        write(&dir.join("Chart.yaml"), "");
        write(&dir.join("files/real.txt"), "content");
        symlink("files/real.txt", dir.join("alias.txt")).unwrap();
        symlink("files", dir.join("more")).unwrap();
        let walk = collect(&dir);
        assert!(walk.problems.is_empty(), "{:?}", walk.problems);
        assert_eq!(names(&walk), ["alias.txt", "files/real.txt", "more/real.txt"]);
        assert_eq!(walk.files[0].source, dir.canonicalize_utf8().unwrap().join("files/real.txt"));
        assert_eq!(walk.followed_links, ["alias.txt", "more"]);
    }

    #[test]
    fn links_out_of_the_chart_are_refused() {
        let (_guard, outer) = temp();
        let dir = outer.join("chart");
        write(&dir.join("Chart.yaml"), "");
        write(&outer.join("secret.txt"), "secret");
        symlink("../secret.txt", dir.join("escape.txt")).unwrap();
        symlink(&outer, dir.join("parent")).unwrap();
        symlink("missing.txt", dir.join("dangling.txt")).unwrap();
        std::fs::create_dir_all(dir.join("loop")).unwrap();
        symlink("..", dir.join("loop/up")).unwrap();
        let walk = collect(&dir);
        let problems: Vec<String> = walk.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                format!("{dir}/dangling.txt: the symbolic link points to a file that does not exist"),
                format!(
                    "{dir}/escape.txt: the symbolic link points to ../secret.txt, outside the chart directory {dir}"
                ),
                format!("{dir}/loop/up: the symbolic link points to .., a directory that contains the link (a loop)"),
                format!("{dir}/parent: the symbolic link points to {outer}, outside the chart directory {dir}"),
            ]
        );
        assert!(walk.files.iter().all(|f| !f.source.as_str().contains("secret")));
    }

    #[test]
    fn chart_yaml_must_not_leave_the_chart_even_when_ignored() {
        let (_guard, outer) = temp();
        let dir = outer.join("chart");
        write(&outer.join("elsewhere.yaml"), "apiVersion: v2\n");
        write(&dir.join(".helmignore"), "Chart.yaml\n");
        symlink("../elsewhere.yaml", dir.join("Chart.yaml")).unwrap();
        let err = check_inside(&dir, CHART_YAML).unwrap_err();
        assert!(matches!(err, ChartError::SymlinkEscape { .. }), "{err}");
        assert!(check_inside(&dir, "values.yaml").is_ok(), "a missing file is not this check's business");
        write(&dir.join("real.yaml"), "");
        symlink("real.yaml", dir.join("values.yaml")).unwrap();
        assert!(check_inside(&dir, "values.yaml").is_ok());
    }

    #[test]
    fn ignored_links_are_not_checked() {
        let (_guard, outer) = temp();
        let dir = outer.join("chart");
        write(&dir.join("Chart.yaml"), "");
        write(&dir.join(".helmignore"), "venv\n");
        symlink(&outer, dir.join("venv")).unwrap();
        let walk = collect(&dir);
        assert!(walk.problems.is_empty(), "{:?}", walk.problems);
        assert_eq!(names(&walk), [".helmignore"]);
    }

    #[test]
    fn a_bad_helmignore_line_is_reported() {
        let (_guard, dir) = temp();
        write(&dir.join(".helmignore"), "ok\n[broken\n");
        let walk = collect(&dir);
        assert_eq!(walk.problems.len(), 1);
        assert_eq!(
            walk.problems[0].to_string(),
            format!("{dir}/.helmignore:2: invalid pattern `[broken`: a `[` character class is not closed with `]`")
        );
    }

    fn normal_component() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_ .~-]{1,10}".prop_filter("normal", |c| c != "." && c != "..")
    }

    proptest! {
        /// A relative path of normal components is a valid archive path and a valid chart
        /// path that stays under the root.
        #[test]
        fn normal_relative_paths_are_accepted(parts in prop::collection::vec(normal_component(), 1..6)) {
            let path = parts.join("/");
            prop_assert!(check_archive_path(&path).is_ok());
            let dir = chart_dir(Utf8Path::new("/repo"), Utf8Path::new(&path)).unwrap();
            prop_assert!(dir.starts_with("/repo"));
        }

        /// A `..` anywhere, or a leading `/`, is rejected.
        #[test]
        fn dot_dot_and_absolute_paths_are_rejected(
            before in prop::collection::vec(normal_component(), 0..4),
            after in prop::collection::vec(normal_component(), 0..4),
        ) {
            let with_dot_dot = before.iter().map(String::as_str).chain([".."]).chain(after.iter().map(String::as_str)).collect::<Vec<_>>().join("/");
            prop_assert!(check_archive_path(&with_dot_dot).is_err());
            prop_assert!(chart_dir(Utf8Path::new("/repo"), Utf8Path::new(&with_dot_dot)).is_err());
            let absolute = format!("/{}", after.join("/"));
            prop_assert!(check_archive_path(&absolute).is_err());
            prop_assert!(chart_dir(Utf8Path::new("/repo"), Utf8Path::new(&absolute)).is_err());
        }

        /// Whatever the layout and the ignore rules, every file the walk yields is inside the
        /// chart directory and has a valid archive path.
        #[test]
        fn walked_files_stay_inside(
            files in prop::collection::vec(prop::collection::vec("[a-c]{1,2}", 1..4), 1..8),
            ignore in prop::collection::vec("[a-c*!/]{1,4}", 0..4),
        ) {
            let (_guard, outer) = temp();
            let dir = outer.join("chart");
            std::fs::create_dir_all(&dir).unwrap();
            write(&outer.join("outside"), "x");
            symlink("../outside", dir.join("link")).unwrap();
            write(&dir.join(".helmignore"), &ignore.join("\n"));
            for parts in &files {
                let path = dir.join(parts.join("/"));
                // Layouts where a name is both a file and a directory are skipped.
                if std::fs::create_dir_all(path.parent().unwrap()).is_ok() && !path.is_dir() {
                    std::fs::write(&path, "x").unwrap();
                }
            }
            let walk = collect(&dir);
            let root = dir.canonicalize_utf8().unwrap();
            for file in &walk.files {
                prop_assert!(check_archive_path(&file.archive_path).is_ok(), "{}", file.archive_path);
                prop_assert!(file.source.starts_with(&root), "{}", file.source);
            }
        }
    }
}
