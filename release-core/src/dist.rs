//! The dist directory is the tool's own: what a run may remove or overwrite there, and which
//! directories are never emptied whatever they hold.
//!
//! Three rules hold every path the tool empties (docs/reliability.md, "What the tool removes"):
//!
//! 1. **Never a protected directory** ([`guard`]): the filesystem root, the home directory,
//!    the project root or any ancestor of it, the config file's directory or an ancestor, a
//!    directory that holds `.git` or lies inside one, a directory that holds a file git
//!    tracks — judged on the path as it resolves (symbolic links followed, `..` applied to
//!    the real parent), so no spelling of the same directory gets past it.
//! 2. **Ownership by marker** ([`inspect`], [`empty`]): the first time the tool makes its dist
//!    directory, or finds it empty, it writes [`MARKER_FILE`] there; every file the tool
//!    writes into it is listed in the marker *before* it is created ([`claim`]). Emptying
//!    removes the listed files only. Anything else found there is refused before any step
//!    runs; a directory with entries and no marker is not the tool's and is never emptied.
//! 3. **Names stay inside**: a claimed name is one plain file name, so no artifact name (a
//!    build manifest's from another runner included) writes outside the directory.
//!
//! What it must never do: remove a directory, follow a symbolic link it did not make, or
//! remove a file the marker does not list.

use std::collections::BTreeSet;
use std::sync::Mutex;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::error::Diagnose;

/// The marker file in a dist directory the tool owns.
pub const MARKER_FILE: &str = ".release-dist.json";
/// The run journal's file name, in the dist directory (see [`crate::journal`]).
pub const JOURNAL_FILE: &str = ".release-journal.json";
const MARKER_KIND: &str = "release-dist";
const MARKER_SCHEMA: u32 = 1;

/// What the marker records.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    kind: String,
    schema: u32,
    /// Every file name the tool wrote (or was about to write) here since it last emptied it.
    files: BTreeSet<String>,
}

impl Marker {
    fn new() -> Self {
        Marker { kind: MARKER_KIND.into(), schema: MARKER_SCHEMA, files: BTreeSet::new() }
    }
}

/// Why a directory may not be used or emptied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DistError {
    #[error("refusing to use {shown} as the dist directory: {resolved} {why}")]
    Protected { shown: String, resolved: Utf8PathBuf, why: String },
    #[error("the dist directory {dist} holds {}, which release did not write there", list(found))]
    Foreign { dist: Utf8PathBuf, found: Vec<String> },
    #[error(
        "the dist directory {dist} is not empty ({}) and has no {MARKER_FILE}: release did not make it",
        list(found)
    )]
    Unmarked { dist: Utf8PathBuf, found: Vec<String> },
    #[error("{path} is not a marker release writes: {why}")]
    BadMarker { path: Utf8PathBuf, why: String },
    #[error("`{name}` cannot be written into the dist directory {dist}: it is not a plain file name")]
    BadName { dist: Utf8PathBuf, name: String },
    #[error("the dist directory {dist} is not a directory")]
    NotADirectory { dist: Utf8PathBuf },
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: Utf8PathBuf, source: std::io::Error },
}

/// At most five names, then how many more.
fn list(found: &[String]) -> String {
    let shown: Vec<String> = found.iter().take(5).map(|f| format!("`{f}`")).collect();
    match found.len() {
        0..=5 => shown.join(", "),
        n => format!("{} and {} more", shown.join(", "), n - 5),
    }
}

impl Diagnose for DistError {
    fn help(&self) -> Option<String> {
        Some(match self {
            DistError::Protected { .. } => "set `project.dist` (or --dist) to a directory of its own that holds nothing else, such as `dist` or `target/dist`: release empties its dist directory before every build".into(),
            DistError::Foreign { dist, .. } => format!("move those out of {dist} (release removes only the files it wrote there), or set `project.dist` to another directory"),
            DistError::Unmarked { dist, .. } => format!("empty {dist} yourself if nothing in it is needed, or set `project.dist` (or --dist) to a new directory: release only empties a directory it made"),
            DistError::BadMarker { path, .. } => format!("remove {path} and the directory's contents yourself if nothing in it is needed, or set `project.dist` to a new directory"),
            DistError::BadName { .. } => "artifact names are plain file names: rename the artifact in release.toml (or the build manifest that lists it)".into(),
            DistError::NotADirectory { .. } => "set `project.dist` (or --dist) to a directory, or move the file away".into(),
            DistError::Io { .. } => "check that the directory is writable by the user running release, or set `project.dist` to another path".into(),
        })
    }
}

fn io<'a>(action: &'static str, path: &'a Utf8Path) -> impl FnOnce(std::io::Error) -> DistError + 'a {
    move |source| DistError::Io { action, path: path.to_owned(), source }
}

/// `path` as it resolves on this machine: absolute (relative to the current directory),
/// every symbolic link of an existing prefix followed, `..` applied to the real parent. The
/// part below the deepest existing directory is taken as written.
pub(crate) fn resolve(path: &Utf8Path) -> Utf8PathBuf {
    let mut resolved = if path.is_absolute() {
        Utf8PathBuf::from("/")
    } else {
        std::env::current_dir()
            .ok()
            .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
            .map(|d| resolve_existing(&d))
            .unwrap_or_else(|| Utf8PathBuf::from("/"))
    };
    for component in path.components() {
        match component {
            Utf8Component::Prefix(_) | Utf8Component::RootDir | Utf8Component::CurDir => {}
            Utf8Component::ParentDir => {
                resolved.pop();
            }
            Utf8Component::Normal(name) => {
                resolved.push(name);
                resolved = resolve_existing(&resolved);
            }
        }
    }
    resolved
}

fn resolve_existing(path: &Utf8Path) -> Utf8PathBuf {
    path.canonicalize_utf8().unwrap_or_else(|_| path.to_owned())
}

/// What [`guard`] compares a dist directory with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Protected<'a> {
    /// The project root: the config file's directory.
    pub root: &'a Utf8Path,
    pub config_file: &'a Utf8Path,
    pub env: &'a Environment,
}

/// Refuses a directory that must never be emptied (rule 1). `shown` is the path as the
/// user wrote it. A path that is an existing file passes here: preflight reports it.
pub(crate) fn guard(dir: &Utf8Path, shown: &str, protected: Protected<'_>) -> Result<(), DistError> {
    let refuse = |resolved: &Utf8Path, why: String| {
        Err(DistError::Protected { shown: shown.to_owned(), resolved: resolved.to_owned(), why })
    };
    if shown.split(['/', '\\']).next() == Some("~") {
        return refuse(
            dir,
            "starts with `~`, which release does not expand (no shell reads release.toml): write the path out".into(),
        );
    }
    let resolved = resolve(dir);
    if resolved.parent().is_none() {
        return refuse(&resolved, "is the filesystem root".into());
    }
    if resolved.components().any(|c| c.as_str() == ".git") {
        return refuse(&resolved, "is inside a .git directory".into());
    }
    let ancestors = [
        (resolve(protected.root), "the project root"),
        (resolve(protected.config_file.parent().unwrap_or(protected.root)), "the directory of the config file"),
    ];
    for (protected_dir, what) in &ancestors {
        if *protected_dir == resolved {
            return refuse(&resolved, format!("is {what}"));
        }
        if protected_dir.starts_with(&resolved) {
            return refuse(&resolved, format!("holds {what} ({protected_dir})"));
        }
    }
    if let Some(home) = protected.env.get("HOME").filter(|h| !h.is_empty()) {
        let home = resolve(Utf8Path::new(home));
        if home == resolved {
            return refuse(&resolved, "is the home directory".into());
        }
        if home.starts_with(&resolved) {
            return refuse(&resolved, format!("holds the home directory ({home})"));
        }
    }
    if !resolved.is_dir() {
        return Ok(());
    }
    if resolved.join(".git").symlink_metadata().is_ok() {
        return refuse(&resolved, "holds .git: it is a repository".into());
    }
    if let Some(tracked) = tracked_files(&resolved, protected.env) {
        return refuse(&resolved, format!("holds files git tracks, such as {tracked}"));
    }
    Ok(())
}

/// The first file git tracks under `dir`, when `dir` is inside a work tree and holds one.
/// Without git, or outside a repository, there is nothing to ask (the marker still guards).
pub(crate) fn tracked_files(dir: &Utf8Path, env: &Environment) -> Option<String> {
    let argv = ["git", "ls-files", "-z", "--full-name", "--", "."].map(String::from);
    let listed = crate::shell::capture_blocking(&argv, dir, env, &Default::default()).ok()?;
    listed.split('\0').find(|f| !f.is_empty()).map(str::to_owned)
}

/// What git makes of a path, for the front ends that write a file into a work tree
/// (`release keygen`, `release init`, `release plan --manifest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitPath {
    /// Not inside a git work tree (or git is not installed).
    Outside,
    /// Inside a work tree, and `.gitignore` (or `.git/info/exclude`) ignores it.
    Ignored,
    /// Git tracks it.
    Tracked,
    /// Inside a work tree, neither tracked nor ignored: the next `git add .` takes it.
    Untracked,
}

/// Asks git about `path` (which need not exist), from its nearest existing directory.
pub fn git_path(path: &Utf8Path, env: &Environment) -> GitPath {
    let mut base = path.parent().filter(|p| !p.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    while !base.is_dir() {
        match base.parent().filter(|p| !p.as_str().is_empty()) {
            Some(parent) => base = parent,
            None => {
                base = Utf8Path::new(".");
                break;
            }
        }
    }
    let rel = path.strip_prefix(base).unwrap_or(path);
    let rel = if rel.as_str().is_empty() { Utf8Path::new(".") } else { rel };
    let git = |args: &[&str]| {
        let argv: Vec<String> = std::iter::once("git").chain(args.iter().copied()).map(String::from).collect();
        crate::shell::capture_blocking(&argv, base, env, &Default::default()).is_ok()
    };
    if !git(&["rev-parse", "--is-inside-work-tree"]) {
        GitPath::Outside
    } else if git(&["ls-files", "--error-unmatch", "--", rel.as_str()]) {
        GitPath::Tracked
    } else if git(&["check-ignore", "-q", "--", rel.as_str()]) {
        GitPath::Ignored
    } else {
        GitPath::Untracked
    }
}

/// Whether git tracks `path` and it is unchanged since the last commit (`git diff --quiet
/// HEAD`): then replacing it loses nothing git cannot give back.
pub fn git_committed_unchanged(path: &Utf8Path, env: &Environment) -> bool {
    if git_path(path, env) != GitPath::Tracked {
        return false;
    }
    let dir = path.parent().filter(|p| !p.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    let name = path.file_name().unwrap_or(path.as_str());
    let argv = ["git", "diff", "--quiet", "HEAD", "--", name].map(String::from);
    crate::shell::capture_blocking(&argv, dir, env, &Default::default()).is_ok()
}

/// Whether a name is one of the tool's own bookkeeping files in the directory (the marker,
/// the journal, and their temporary files while they are replaced).
fn is_bookkeeping(name: &str) -> bool {
    [MARKER_FILE, JOURNAL_FILE]
        .iter()
        .any(|own| name == *own || (name.starts_with(&format!("{own}.")) && name.ends_with(".tmp")))
}

/// What [`inspect`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Nothing there yet.
    Absent,
    /// A file (or something else that is not a directory): preflight reports it.
    NotADirectory,
    /// An empty directory without a marker: the tool may take it.
    Empty,
    /// A directory the tool made, holding only what its marker lists.
    Owned { files: usize },
}

/// Reads the dist directory and refuses it when it holds anything the tool did not write
/// (rule 2). Reads only.
pub(crate) fn inspect(dist: &Utf8Path) -> Result<Found, DistError> {
    match dist.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Absent),
        // A file on the way (`VERSION/dist`): preflight names it (`preflight:dist`).
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Found::NotADirectory),
        Err(e) => return Err(io("read", dist)(e)),
        Ok(_) if !dist.is_dir() => return Ok(Found::NotADirectory),
        Ok(_) => {}
    }
    let mut entries = Vec::new();
    for entry in dist.read_dir_utf8().map_err(io("read", dist))? {
        let entry = entry.map_err(io("read", dist))?;
        entries.push((entry.file_name().to_owned(), entry.file_type().map_err(io("read", dist))?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let marker = match read_marker(dist)? {
        Some(marker) => marker,
        None if entries.is_empty() => return Ok(Found::Empty),
        None => {
            let found = entries.iter().map(|(name, kind)| describe(name, kind)).collect();
            return Err(DistError::Unmarked { dist: dist.to_owned(), found });
        }
    };
    let foreign: Vec<String> = entries
        .iter()
        .filter(|(name, kind)| !(is_bookkeeping(name) || (kind.is_file() && marker.files.contains(name))))
        .map(|(name, kind)| describe(name, kind))
        .collect();
    if !foreign.is_empty() {
        return Err(DistError::Foreign { dist: dist.to_owned(), found: foreign });
    }
    Ok(Found::Owned { files: marker.files.len() })
}

fn describe(name: &str, kind: &std::fs::FileType) -> String {
    if kind.is_dir() {
        format!("{name}/ (a directory)")
    } else if kind.is_symlink() {
        format!("{name} (a symbolic link)")
    } else {
        name.to_owned()
    }
}

fn read_marker(dist: &Utf8Path) -> Result<Option<Marker>, DistError> {
    let path = dist.join(MARKER_FILE);
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
        Ok(meta) if !meta.is_file() => {
            return Err(DistError::BadMarker { path, why: "it is not a regular file".into() });
        }
        Ok(_) => {}
    }
    let text = std::fs::read(&path).map_err(io("read", &path))?;
    let marker: Marker =
        serde_json::from_slice(&text).map_err(|e| DistError::BadMarker { path: path.clone(), why: e.to_string() })?;
    if marker.kind != MARKER_KIND || marker.schema != MARKER_SCHEMA {
        let why = format!("kind `{}` schema {}", marker.kind, marker.schema);
        return Err(DistError::BadMarker { path, why });
    }
    if let Some(bad) = marker.files.iter().find(|name| !is_plain_name(name)) {
        return Err(DistError::BadMarker { path, why: format!("it lists `{bad}`, which is not a plain file name") });
    }
    Ok(Some(marker))
}

fn write_marker(dist: &Utf8Path, marker: &Marker) -> Result<(), DistError> {
    let path = dist.join(MARKER_FILE);
    let temporary = dist.join(format!("{MARKER_FILE}.{}.tmp", std::process::id()));
    let text = serde_json::to_vec_pretty(marker).expect("a marker serialises");
    std::fs::write(&temporary, text).map_err(io("write", &temporary))?;
    std::fs::rename(&temporary, &path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io("write", &path)(e)
    })
}

/// One path component that names a file in the directory itself.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']) && !is_bookkeeping(name)
}

/// Serialises every read-modify-write of a marker in this process (steps may write files
/// from several threads).
static MARKER_LOCK: Mutex<()> = Mutex::new(());

/// Makes `dist` ready for a run (`build:prepare-dist`): created with a marker when absent,
/// a marker written into an empty directory, or the files its marker lists removed. Refuses
/// whatever [`inspect`] refuses. The journal is kept (the run rewrites it).
pub(crate) fn empty(dist: &Utf8Path) -> Result<usize, DistError> {
    let _lock = MARKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let removed = match inspect(dist)? {
        Found::NotADirectory => return Err(DistError::NotADirectory { dist: dist.to_owned() }),
        Found::Absent => {
            std::fs::create_dir_all(dist).map_err(io("create", dist))?;
            0
        }
        Found::Empty => 0,
        Found::Owned { .. } => {
            let marker = read_marker(dist)?.expect("an owned directory has a marker");
            let mut removed = 0;
            for name in &marker.files {
                let path = dist.join(name);
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &path)(e)),
                }
            }
            removed
        }
    };
    write_marker(dist, &Marker::new())?;
    Ok(removed)
}

/// Records `names` in the marker of `dist` before they are written there (rule 2), creating
/// the directory (with its marker) when it does not exist yet. Refuses a name that is not a
/// plain file name (rule 3), and a directory the tool does not own.
pub(crate) fn claim(dist: &Utf8Path, names: &[&str]) -> Result<(), DistError> {
    if let Some(bad) = names.iter().find(|name| !is_plain_name(name)) {
        return Err(DistError::BadName { dist: dist.to_owned(), name: (*bad).to_owned() });
    }
    let _lock = MARKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut marker = match read_marker(dist)? {
        Some(marker) => marker,
        None => match inspect(dist)? {
            Found::Absent => {
                std::fs::create_dir_all(dist).map_err(io("create", dist))?;
                Marker::new()
            }
            Found::Empty => Marker::new(),
            Found::NotADirectory => return Err(DistError::NotADirectory { dist: dist.to_owned() }),
            Found::Owned { .. } => unreachable!("a directory without a marker is not owned"),
        },
    };
    let before = marker.files.len();
    marker.files.extend(names.iter().map(|n| (*n).to_owned()));
    if marker.files.len() == before && dist.join(MARKER_FILE).is_file() {
        return Ok(());
    }
    write_marker(dist, &marker)
}

/// Writes `bytes` as the file `name` of `dist`, claimed first; returns its path.
pub(crate) fn write_file(dist: &Utf8Path, name: &str, bytes: &[u8]) -> Result<Utf8PathBuf, DistError> {
    claim(dist, &[name])?;
    let path = dist.join(name);
    std::fs::write(&path, bytes).map_err(io("write", &path))?;
    Ok(path)
}

/// Makes `dir` for the tool's own bookkeeping (the journal): created with a marker when
/// absent; an existing directory is left as it is.
pub(crate) fn ensure(dir: &Utf8Path) -> Result<(), DistError> {
    if dir.exists() {
        return Ok(());
    }
    claim(dir, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
        (dir, root)
    }

    #[test]
    fn a_new_directory_is_made_with_its_marker_and_emptied_of_what_it_lists_only() {
        let (_keep, root) = temp();
        let dist = root.join("out/dist");
        assert_eq!(inspect(&dist).unwrap(), Found::Absent);
        assert_eq!(empty(&dist).unwrap(), 0);
        assert!(dist.join(MARKER_FILE).is_file());
        claim(&dist, &["a.tar.gz", ".a.tar.gz.partial"]).unwrap();
        std::fs::write(dist.join("a.tar.gz"), "a").unwrap();
        std::fs::write(dist.join(JOURNAL_FILE), "{}").unwrap();
        assert_eq!(inspect(&dist).unwrap(), Found::Owned { files: 2 });
        assert_eq!(empty(&dist).unwrap(), 1);
        assert!(!dist.join("a.tar.gz").exists());
        assert!(dist.join(JOURNAL_FILE).exists(), "the journal is kept");

        // A file the user dropped in is refused and kept.
        std::fs::write(dist.join("notes.txt"), "mine").unwrap();
        let err = empty(&dist).unwrap_err();
        assert!(matches!(&err, DistError::Foreign { found, .. } if found == &["notes.txt"]), "{err}");
        assert_eq!(std::fs::read_to_string(dist.join("notes.txt")).unwrap(), "mine");
    }

    #[test]
    fn a_listed_name_that_became_a_directory_or_link_is_foreign() {
        let (_keep, root) = temp();
        let dist = root.join("dist");
        empty(&dist).unwrap();
        claim(&dist, &["x", "y"]).unwrap();
        std::fs::create_dir(dist.join("x")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("elsewhere"), dist.join("y")).unwrap();
        let err = inspect(&dist).unwrap_err().to_string();
        assert!(err.contains("`x/ (a directory)`"), "{err}");
        #[cfg(unix)]
        assert!(err.contains("`y (a symbolic link)`"), "{err}");
    }

    #[test]
    fn a_directory_with_entries_and_no_marker_is_never_emptied() {
        let (_keep, root) = temp();
        std::fs::create_dir(root.join("dist")).unwrap();
        std::fs::write(root.join("dist/keep.txt"), "k").unwrap();
        let err = empty(&root.join("dist")).unwrap_err();
        assert!(matches!(err, DistError::Unmarked { .. }), "{err}");
        assert!(claim(&root.join("dist"), &["a"]).is_err());
        assert!(root.join("dist/keep.txt").exists());
        assert!(!root.join("dist").join(MARKER_FILE).exists());
    }

    #[test]
    fn names_are_plain_file_names() {
        let (_keep, root) = temp();
        for bad in ["", ".", "..", "../x", "a/b", MARKER_FILE, JOURNAL_FILE] {
            assert!(matches!(claim(&root, &[bad]), Err(DistError::BadName { .. })), "{bad}");
        }
    }

    #[test]
    fn a_marker_that_lists_a_path_is_refused() {
        let (_keep, root) = temp();
        std::fs::write(root.join(MARKER_FILE), r#"{"kind":"release-dist","schema":1,"files":["../../etc"]}"#).unwrap();
        assert!(matches!(inspect(&root), Err(DistError::BadMarker { .. })));
    }

    #[test]
    fn protected_directories_are_refused_however_they_are_written() {
        let (_keep, base) = temp();
        let root = base.join("repo");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("sub/.git")).unwrap();
        let config_file = root.join("release.toml");
        let home = base.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let env = Environment::empty().with("HOME", home.as_str());
        let protected = Protected { root: &root, config_file: &config_file, env: &env };
        let refused = |path: Utf8PathBuf, shown: &str| {
            let err = guard(&path, shown, protected).expect_err(shown).to_string();
            assert!(err.starts_with(&format!("refusing to use {shown} as the dist directory")), "{err}");
            err
        };
        assert!(refused(root.join(""), "").contains("is the project root"));
        assert!(refused(root.join("."), ".").contains("is the project root"));
        assert!(refused(root.join("src/.."), "src/..").contains("is the project root"));
        assert!(refused(root.join(".."), "..").contains("holds the project root"));
        assert!(refused("/".into(), "/").contains("is the filesystem root"));
        assert!(refused(home.clone(), "~home").contains("is the home directory"));
        assert!(refused(root.join("~"), "~").contains("does not expand"));
        assert!(refused(root.join("sub"), "sub").contains("holds .git"));
        assert!(refused(root.join(".git/x"), ".git/x").contains("inside a .git"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&root, root.join("link")).unwrap();
            assert!(refused(root.join("link"), "link").contains("is the project root"));
            std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
            assert!(refused(root.join("up/repo"), "up/repo").contains("is the project root"));
        }
        guard(&root.join("dist"), "dist", protected).unwrap();
        guard(&root.join("target/dist"), "target/dist", protected).unwrap();
        guard(&base.join("out"), "../out", protected).unwrap();
    }
}
