//! Test support for the end-to-end tests: temporary projects, the `release` binary, and the
//! servers the binary talks to (a GitHub server, a real registry and its token server).
//!
//! Every end-to-end test runs the real `release` binary as a user would, with a clean
//! environment (only `PATH` and a private `HOME` are passed through), and then checks what
//! the servers received.

// A test harness, outside the library's rules (clippy.toml): it starts the `release` binary,
// the registry and independent checkers (openssl, tar, kill) itself, and passes `PATH` and
// `HOME` of the test process on to them.
#![allow(clippy::disallowed_methods)]

pub mod crates_server;
pub mod downloads;
pub mod fault_proxy;
pub mod ferro;
pub mod fixtures;
pub mod github_rules;
pub mod github_server;
pub mod helm;
pub mod registry;
pub mod sigstore;

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use camino::{Utf8Path, Utf8PathBuf};

/// The `release` binary, built once per test process.
///
/// Integration tests of one crate cannot depend on another crate's binary, so the harness
/// asks cargo (the one running the tests) to build it; when it is up to date that is a
/// no-op.
pub fn release_bin() -> &'static Utf8Path {
    static BIN: OnceLock<Utf8PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").join("Cargo.toml");
        let status = std::process::Command::new(cargo)
            // The same target selection as `cargo test --workspace`, so that dependency
            // features resolve the same way (dev-dependencies included) and nothing is
            // compiled a second time with other features: after a test build this only
            // links the `release` binary.
            .args(["build", "--quiet", "--workspace", "--all-targets", "--manifest-path"])
            .arg(manifest.as_str())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the release binary failed");
        let exe = std::env::current_exe().expect("test binary path");
        // target/debug/deps/e2e-HASH → target/debug/release
        let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
        let bin = dir.join(format!("release{}", std::env::consts::EXE_SUFFIX));
        Utf8PathBuf::from_path_buf(bin).expect("UTF-8 target path")
    })
}

/// This machine's Rust target triple, as `rustc -vV` names it (what a cargo build without
/// `--target` builds for).
pub fn host_triple() -> String {
    let out = std::process::Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8(out.stdout).expect("rustc -vV prints UTF-8");
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").trim().to_owned()
}

/// The workspace root, for bundled examples and fixtures.
pub fn workspace_root() -> &'static Utf8Path {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root")
}

/// A project in a temporary directory: files, a `release.toml`, and a way to run `release`
/// in it.
#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
    root: Utf8PathBuf,
    /// Whether the harness keeps the project a git repository with everything committed
    /// (see [`Project::release`]): undecided until the first run, then managed or not.
    git: std::sync::atomic::AtomicU8,
    /// Files written with [`Project::file`] since the harness last committed.
    written: std::sync::Mutex<Vec<String>>,
}

const GIT_UNDECIDED: u8 = 0;
const GIT_MANAGED: u8 = 1;
const GIT_LEFT_ALONE: u8 = 2;

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("release-e2e-").tempdir().expect("temp dir");
        let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().expect("canonical")).expect("UTF-8 temp dir");
        Project {
            dir,
            root,
            git: std::sync::atomic::AtomicU8::new(GIT_UNDECIDED),
            written: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A project the harness does not make a git repository: for what `release` does outside
    /// one.
    pub fn without_git(self) -> Self {
        self.git.store(GIT_LEFT_ALONE, std::sync::atomic::Ordering::SeqCst);
        self
    }

    /// From now on the harness commits nothing before a run: the test changes the work tree
    /// to see what a run does with uncommitted changes.
    pub fn leave_tree_as_is(&self) {
        self.git.store(GIT_LEFT_ALONE, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs git in the project (a test's own commits, tags, changes), panicking on failure;
    /// returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let output = git_command(&self.root).args(args).output().expect("git runs");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The commit a run would release now: everything the test wrote is committed first
    /// (see `Project::commit_for_run`).
    pub fn head(&self) -> String {
        self.commit_for_run();
        self.git(&["rev-parse", "HEAD"])
    }

    /// A release run needs a repository whose work tree is committed (`preflight:identity`),
    /// as a maintainer's is. Unless the test made its own repository before the first run, or
    /// asked for [`Project::without_git`], the harness makes one at the first run and commits
    /// whatever the test wrote before each run. Dist directories (they hold the tool's
    /// marker), `target/` and the private HOME stay out of it.
    fn commit_for_run(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let mut first = false;
        if self.git.load(SeqCst) == GIT_UNDECIDED {
            let state = if self.root.join(".git").exists() { GIT_LEFT_ALONE } else { GIT_MANAGED };
            self.git.store(state, SeqCst);
            if state == GIT_MANAGED {
                self.git(&["init", "-q", "-b", "main"]);
                first = true;
            }
        }
        let written: Vec<String> = std::mem::take(&mut *self.written.lock().unwrap_or_else(|e| e.into_inner()));
        if self.git.load(SeqCst) != GIT_MANAGED {
            return;
        }
        // Private keys the tests make with `release keygen` are ignored, as `release keygen`
        // asks of a maintainer.
        let mut exclude = String::from("/.home/\ntarget/\n*.key\n");
        for dir in dirs_with_marker(&self.root, 3) {
            if let Ok(rel) = dir.strip_prefix(&self.root) {
                exclude.push_str(&format!("/{rel}/\n"));
            }
        }
        std::fs::write(self.root.join(".git/info/exclude"), exclude).expect("write .git/info/exclude");
        if first {
            // Everything the test set up before the first run.
            self.git(&["add", "-A"]);
        } else {
            // Later, what the test changed: tracked files and those written with `file`; what
            // a build wrote into the project stays untracked, as a maintainer's would.
            self.git(&["add", "-u"]);
            let mut add = vec!["add", "--"];
            let ignored = |rel: &str| {
                git_command(&self.root).args(["check-ignore", "-q", "--", rel]).status().is_ok_and(|s| s.success())
            };
            add.extend(written.iter().map(String::as_str).filter(|rel| self.root.join(rel).exists() && !ignored(rel)));
            if add.len() > 2 {
                self.git(&add);
            }
        }
        let staged = git_command(&self.root).args(["diff", "--cached", "--quiet"]).status().expect("git runs");
        if !staged.success() {
            self.git(&["commit", "-q", "-m", "the test's files"]);
        }
    }

    /// A copy of a directory under `examples/`.
    pub fn from_example(name: &str) -> Self {
        let project = Self::new();
        copy_dir(&workspace_root().join("examples").join(name), &project.root);
        project
    }

    /// A copy of any directory (a corpus case).
    pub fn copy_of(dir: &Utf8Path) -> Self {
        let project = Self::new();
        copy_dir(dir, &project.root);
        project
    }

    pub fn path(&self) -> &Utf8Path {
        &self.root
    }

    pub fn join(&self, rel: &str) -> Utf8PathBuf {
        self.root.join(rel)
    }

    /// Writes a file, creating its directories.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self.written.lock().unwrap_or_else(|e| e.into_inner()).push(rel.to_owned());
        self
    }

    /// Writes `release.toml`.
    pub fn config(&self, toml: &str) -> &Self {
        self.file("release.toml", toml)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// `release ARGS` in this project with a clean environment.
    pub fn release<I, S>(&self, args: I) -> ReleaseCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commit_for_run();
        ReleaseCommand {
            cwd: self.root.clone(),
            args: args.into_iter().map(Into::into).collect(),
            env: vec![
                ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
                ("HOME".into(), self.root.join(".home").to_string()),
                // The private HOME hides the toolchain: point rustup and cargo at the real one.
                ("RUSTUP_HOME".into(), toolchain_dir("RUSTUP_HOME", ".rustup")),
                ("CARGO_HOME".into(), toolchain_dir("CARGO_HOME", ".cargo")),
            ],
        }
    }

    /// Keeps the directory after the test, for debugging.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// `git` in `dir` with a fixed identity and no user or system config.
pub fn git_command(dir: &Utf8Path) -> std::process::Command {
    let mut git = std::process::Command::new("git");
    git.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Release Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@release.invalid")
        .env("GIT_COMMITTER_NAME", "Release Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@release.invalid");
    git
}

/// Directories holding the tool's dist marker, `depth` levels down at most.
fn dirs_with_marker(dir: &Utf8Path, depth: usize) -> Vec<Utf8PathBuf> {
    let mut found = Vec::new();
    if dir.join(".release-dist.json").is_file() {
        found.push(dir.to_owned());
        return found;
    }
    if depth == 0 {
        return found;
    }
    let Ok(entries) = dir.read_dir_utf8() else { return found };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == ".git" || name == "target" || name == ".home" {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(dirs_with_marker(entry.path(), depth - 1));
        }
    }
    found
}

fn toolchain_dir(var: &str, under_home: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| format!("{}/{under_home}", std::env::var("HOME").unwrap_or_default()))
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in from.read_dir_utf8().expect("read example dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "dist" {
            continue;
        }
        let target = to.join(name);
        if entry.file_type().expect("type").is_dir() {
            copy_dir(entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// One invocation of the `release` binary.
#[derive(Debug, Clone)]
pub struct ReleaseCommand {
    cwd: Utf8PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ReleaseCommand {
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(release_bin());
        cmd.current_dir(&self.cwd).args(&self.args).env_clear().envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts the binary with stdout and stderr piped, for tests that interact with it while
    /// it runs (signals).
    pub fn spawn(&self) -> std::process::Child {
        let mut cmd = self.command();
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        cmd.spawn().expect("release starts")
    }

    /// Runs to completion, blocking this thread.
    pub fn run(&self) -> Finished {
        let output = self.command().output().expect("release runs");
        Finished::new(&self.args, output)
    }

    /// Runs to completion without blocking the async runtime (for tests that serve HTTP in
    /// the same process).
    pub async fn run_async(&self) -> Finished {
        let output = tokio::process::Command::from(self.command()).output().await.expect("release runs");
        Finished::new(&self.args, output)
    }
}

/// What a finished `release` printed and how it exited.
#[derive(Debug, Clone)]
pub struct Finished {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    fn new(args: &[String], output: Output) -> Self {
        Finished {
            args: args.to_vec(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing everything printed when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "release {:?} exited {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n--- stderr\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n--- stdout\n{}", self.stdout);
        self
    }

    /// Stdout parsed as JSON: the whole of it, or in GitHub Actions (where progress goes to
    /// stdout first, as workflow commands) the report that follows them.
    pub fn json(&self) -> serde_json::Value {
        let report = match serde_json::from_str(&self.stdout) {
            Ok(value) => return value,
            Err(e) => self.stdout.find("\n{\n").map(|at| &self.stdout[at + 1..]).ok_or(e),
        };
        report.and_then(serde_json::from_str).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The summary of step `id` in a `--json` report (`""` when the step has none).
#[track_caller]
pub fn step_summary(report: &serde_json::Value, id: &str) -> String {
    let steps = report["steps"].as_array().expect("steps");
    let step = steps.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id} in {report:#}"));
    step["summary"].as_str().unwrap_or_default().to_owned()
}

/// `sha256:<hex>` of `bytes`, as registries name content.
pub fn oci_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)))
}
