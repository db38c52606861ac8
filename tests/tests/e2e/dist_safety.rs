//! The tool removes only what it made: every `dist` that would empty the repository, a
//! directory git tracks or a directory the tool does not own is refused before anything runs,
//! and the repository is byte for byte what it was. A real-looking repository each time: a
//! two-crate workspace, a chart, a README and a committed history.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use release_tests::{Finished, Project};
use sha2::{Digest, Sha256};

fn git(dir: &Utf8Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=Maintainer", "-c", "user.email=maintainer@example.com", "--no-optional-locks"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The repository: a workspace of two crates, a chart, sources outside the crates, a README,
/// two commits. `dist` goes into `[project]` as written (a TOML basic string).
fn repository(dist: &str) -> Project {
    let project = Project::new();
    project
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"1.0.0\"\n",
        )
        .file("crates/app/Cargo.toml", "[package]\nname = \"app\"\nversion.workspace = true\nedition = \"2021\"\n")
        .file("crates/app/src/main.rs", "fn main() { println!(\"app\"); }\n")
        .file("crates/core/Cargo.toml", "[package]\nname = \"core\"\nversion.workspace = true\nedition = \"2021\"\n")
        .file("crates/core/src/lib.rs", "pub fn answer() -> u32 { 42 }\n")
        .file("src/app.txt", "the app\n")
        .file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: \"1.0.0\"\n")
        .file("charts/web/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")
        .file("README.md", "# acme\n")
        .file("LICENSE", "MIT\n")
        .file(".gitignore", "/target/\n/out/\n/dist/\n")
        .config(&config(dist));
    let root = project.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "the workspace"]);
    project.file("CHANGELOG.md", "## 1.0.0\n\n- first\n");
    git(root, &["add", "CHANGELOG.md"]);
    git(root, &["commit", "-q", "-m", "a changelog"]);
    project
}

fn config(dist: &str) -> String {
    format!(
        r#"[project]
name = "acme"
version = "1.0.0"
dist = "{dist}"

[[build]]
name = "app"
command = ["sh", "-c", "mkdir -p out && cp src/app.txt out/app"]
artifacts = ["out/app"]

[[chart]]
path = "charts/web"
"#
    )
}

/// Everything that could change: git's index and status, and every file under `dir` (`.git`
/// included) with its mode, size and SHA-256, every link with its target, every directory.
fn state(dir: &Utf8Path) -> (String, BTreeMap<String, String>) {
    let mut listing = BTreeMap::new();
    walk(dir, dir, &mut listing);
    let git_view = if dir.join(".git").exists() {
        git(dir, &["ls-files", "-s"]) + &git(dir, &["status", "--porcelain", "--ignored"])
    } else {
        String::new()
    };
    (git_view, listing)
}

fn walk(root: &Utf8Path, dir: &Utf8Path, out: &mut BTreeMap<String, String>) {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in dir.read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string();
        let meta = path.symlink_metadata().unwrap();
        let mode = meta.permissions().mode();
        if meta.file_type().is_symlink() {
            out.insert(rel, format!("link -> {}", std::fs::read_link(path).unwrap().display()));
        } else if meta.is_dir() {
            out.insert(rel.clone() + "/", format!("dir {mode:o}"));
            walk(root, path, out);
        } else {
            let digest = hex::encode(Sha256::digest(std::fs::read(path).unwrap()));
            out.insert(rel, format!("file {mode:o} {} {digest}", meta.len()));
        }
    }
}

/// Runs `release ARGS` and checks it exits with `code`, having changed nothing in the
/// repository (nor in `also`, a directory outside it).
#[track_caller]
fn refused_untouched(project: &Project, args: &[&str], code: i32, also: Option<&Utf8Path>) -> Finished {
    let before = state(project.path());
    let also_before = also.map(state);
    let run = project.release(args.iter().copied()).run();
    run.code(code);
    assert_eq!(state(project.path()), before, "the repository changed:\n{}", run.stderr);
    assert_eq!(also.map(state), also_before, "the directory outside changed");
    run
}

fn once(stderr: &str, needle: &str) {
    assert_eq!(stderr.matches(needle).count(), 1, "`{needle}` once in:\n{stderr}");
}

#[test]
fn a_dist_that_would_empty_the_repository_is_refused_at_load_and_nothing_changes() {
    for (dist, says) in [
        (".", "is the project root"),
        ("", "is the project root"),
        ("./", "is the project root"),
        ("..", "holds the project root"),
        ("crates/..", "is the project root"),
        ("/", "is the filesystem root"),
        ("~", "starts with `~`"),
        ("~/releases", "starts with `~`"),
        ("crates", "holds files git tracks, such as crates/app/Cargo.toml"),
        ("src", "holds files git tracks, such as src/app.txt"),
        ("charts/web", "holds files git tracks"),
        (".git", "is inside a .git directory"),
        (".git/objects", "is inside a .git directory"),
    ] {
        let project = repository(dist);
        let run = refused_untouched(&project, &["run", "--snapshot"], 2, None);
        run.stderr_has("project.dist").stderr_has(says);
        assert!(!run.stderr.contains("resume"), "no resume help for a config error:\n{}", run.stderr);
        once(&run.stderr, says);
        // The plan is refused the same way: loading the config is where it stops.
        refused_untouched(&project, &["plan"], 2, None).stderr_has(says);
    }
}

#[test]
fn the_home_directory_and_its_ancestors_are_refused() {
    let project = repository("dist");
    let home = project.join(".home");
    std::fs::create_dir(&home).unwrap();
    let before = state(project.path());
    for dist in [home.as_str(), project.path().parent().unwrap().as_str()] {
        let run = project.release(["run", "--snapshot", "--dist", dist]).env("HOME", home.as_str()).run();
        run.code(2).stderr_has("--dist");
        assert_eq!(state(project.path()), before);
    }
}

#[test]
fn a_symlink_to_the_root_and_a_nested_repository_are_refused() {
    let project = repository("root-link");
    std::os::unix::fs::symlink(".", project.join("root-link")).unwrap();
    refused_untouched(&project, &["run", "--snapshot"], 2, None).stderr_has("is the project root");

    let project = repository("vendor/other");
    git(&project.join("vendor/other").tap_mkdir(), &["init", "-q"]);
    refused_untouched(&project, &["run", "--snapshot"], 2, None).stderr_has("holds .git: it is a repository");
}

#[test]
fn dist_flag_dot_dot_is_refused_and_names_the_flag() {
    let project = repository("dist");
    let run = refused_untouched(&project, &["run", "--snapshot", "--dist", ".."], 2, None);
    run.stderr_has("--dist: ").stderr_has("holds the project root");
    let run = refused_untouched(&project, &["run", "--snapshot", "--dist", "crates/app"], 2, None);
    run.stderr_has("--dist: ").stderr_has("holds files git tracks");
}

#[test]
fn a_dist_that_is_a_file_fails_in_preflight_with_the_real_cause() {
    let project = repository("VERSION");
    project.file("VERSION", "1.0.0\n");
    let run = refused_untouched(&project, &["run", "--snapshot"], 3, None);
    run.stderr_has("preflight:dist").stderr_has("is a file (6 bytes), not a directory");
    assert!(!run.stderr.contains("permissions"), "no wrong help:\n{}", run.stderr);
    assert!(!run.stderr.contains("resume"), "{}", run.stderr);
    assert!(!project.exists("out/app"), "nothing was built");

    let project = repository("VERSION/dist");
    project.file("VERSION", "1.0.0\n");
    let run = refused_untouched(&project, &["run", "--snapshot"], 3, None);
    run.stderr_has("preflight:dist").stderr_has("VERSION is a file, not a directory");
}

#[test]
fn a_directory_with_files_the_tool_did_not_write_is_refused_and_kept() {
    let project = repository("build-output");
    project.file("build-output/old.bin", "the user's\n");
    let run = refused_untouched(&project, &["run", "--snapshot"], 2, None);
    run.stderr_has("build-output").stderr_has("old.bin");
    assert_eq!(project.read("build-output/old.bin"), "the user's\n");
}

#[test]
fn a_run_a_rerun_and_a_file_dropped_into_dist() {
    let project = repository("dist");
    let before = state(project.path()).1;
    project.release(["run", "--snapshot"]).run().success();
    let marker: serde_json::Value = serde_json::from_str(&project.read("dist/.release-dist.json")).unwrap();
    let listed: Vec<&str> = marker["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    let mut present: Vec<String> = std::fs::read_dir(project.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".release-dist.json" && n != ".release-journal.json")
        .collect();
    present.sort();
    // (It may list more: the `.partial` names a step writes under before its rename, so a
    // crash's leftovers are the tool's to remove.)
    for name in &present {
        assert!(listed.contains(&name.as_str()), "the marker lists {name}, as every file the run wrote: {listed:?}");
    }
    assert!(present.contains(&"SHA256SUMS".to_owned()) && present.contains(&"web-1.0.0.tgz".to_owned()), "{present:?}");
    assert!(!project.exists(".release-journal.json"), "no journal in the repository root");
    // Every file that was there before is unchanged; what is new is dist, out/ (the build
    // command's own output) and nothing else.
    let after = state(project.path()).1;
    for (path, what) in &before {
        assert_eq!(after.get(path), Some(what), "{path} changed");
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        assert!(path.starts_with("dist/") || path.starts_with("out/"), "{path} appeared");
    }

    // A re-run empties what it wrote and writes it again.
    project.release(["run", "--snapshot"]).run().success();
    assert!(project.exists("dist/SHA256SUMS"));

    // A file the user dropped into dist stops the next run before any step, and is kept.
    project.file("dist/notes.txt", "my notes\n");
    let state_before = state(project.path());
    let run = project.release(["run", "--snapshot"]).run();
    run.code(2).stderr_has("notes.txt");
    once(&run.stderr, "notes.txt");
    assert_eq!(state(project.path()), state_before);
    assert_eq!(project.read("dist/notes.txt"), "my notes\n");
}

#[test]
fn an_included_readme_linked_outside_the_project_is_refused_in_preflight() {
    let outside = tempfile::tempdir().unwrap();
    let outside = Utf8PathBuf::from_path_buf(outside.path().canonicalize().unwrap()).unwrap();
    std::fs::write(outside.join("private.txt"), "not for publishing\n").unwrap();
    let project = repository("dist");
    let mut toml = config("dist");
    toml.push_str("\n[[build]]\nname = \"tool\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && cp src/app.txt out/tool\"]\nartifacts = [\"out/tool\"]\narchive = true\ninclude = [\"README.md\", \"LICENSE\"]\n");
    project.config(&toml);
    std::fs::remove_file(project.join("README.md")).unwrap();
    std::os::unix::fs::symlink(outside.join("private.txt"), project.join("README.md")).unwrap();
    let run = project.release(["run", "--snapshot"]).run();
    run.code(3).stderr_has("preflight:archives").stderr_has(&format!(
        "{}/README.md is a symbolic link to {}/private.txt, outside the project",
        project.path(),
        outside
    ));
    assert!(!project.exists("out/tool"), "nothing was built");
    let archived: Vec<String> = std::fs::read_dir(project.join("dist"))
        .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.ends_with(".tar.gz")).collect())
        .unwrap_or_default();
    assert!(archived.is_empty(), "nothing archived: {archived:?}");
}

#[test]
fn keygen_refuses_a_private_key_git_would_commit() {
    let project = repository("dist");
    let run = project.release(["keygen"]).env("COSIGN_PASSWORD", "pw").run();
    run.code(2)
        .stderr_has("cosign.key is inside a git work tree and not ignored")
        .stderr_has("add `cosign.key` to .gitignore");
    assert!(!project.exists("cosign.key") && !project.exists("cosign.pub"));

    project.file(".gitignore", "/target/\n/out/\n/dist/\ncosign.key\n");
    project.release(["keygen"]).env("COSIGN_PASSWORD", "pw").run().success();
    assert!(project.read("cosign.key").starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));

    // --force replaces a key, never another file, never through a link.
    project.release(["keygen", "--force"]).env("COSIGN_PASSWORD", "pw").run().success();
    project.file("notes.pub", "my notes\n");
    let run = project.release(["keygen", "--force", "--output-pub", "notes.pub"]).env("COSIGN_PASSWORD", "pw").run();
    run.code(2).stderr_has("notes.pub already exists and is not a public key");
    assert_eq!(project.read("notes.pub"), "my notes\n");
    std::fs::remove_file(project.join("cosign.pub")).unwrap();
    std::os::unix::fs::symlink("README.md", project.join("cosign.pub")).unwrap();
    let run = project.release(["keygen", "--force"]).env("COSIGN_PASSWORD", "pw").run();
    run.code(2).stderr_has("it is a symbolic link");
    assert_eq!(project.read("README.md"), "# acme\n");

    // A key git already tracks is refused even when ignored afterwards.
    git(project.path(), &["add", "-f", "cosign.key"]);
    let run = project.release(["keygen", "--force"]).env("COSIGN_PASSWORD", "pw").run();
    run.code(2).stderr_has("cosign.key is tracked by git");
}

#[test]
fn init_twice_leaves_one_gitignore_entry_and_force_keeps_uncommitted_work() {
    let project = Project::from_example("hello");
    let root = project.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["remote", "add", "origin", "https://github.com/acme/hello.git"]);
    std::fs::remove_file(root.join("release.toml")).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "the example"]);

    project.release(["init"]).run().success().stderr_has("added `/dist/` to .gitignore");
    assert_eq!(project.read(".gitignore").matches("/dist/").count(), 1);
    // Nothing in git's way: the dist the generated config names is ignored.
    project.file("dist/x", "");
    assert!(git(root, &["status", "--porcelain"]).lines().all(|l| !l.contains("dist")));
    std::fs::remove_dir_all(root.join("dist")).unwrap();

    // Unchanged files are replaced with --force (they say what would be written).
    project.release(["init", "--force"]).run().success().stderr_has(".gitignore already ignores the dist directory");
    assert_eq!(project.read(".gitignore").matches("/dist/").count(), 1, "{}", project.read(".gitignore"));

    // A release.toml with uncommitted edits is not replaced.
    let edited = project.read("release.toml") + "# my edit\n";
    project.file("release.toml", &edited);
    let run = project.release(["init", "--force"]).run();
    run.code(2).stderr_has("refusing to overwrite release.toml with --force: git does not hold a copy of it");
    assert_eq!(project.read("release.toml"), edited);
    // Committed, it is.
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "release config"]);
    project.release(["init", "--force"]).run().success();
    assert!(!project.read("release.toml").contains("# my edit"));
}

#[test]
fn plan_manifest_never_replaces_another_file() {
    let project = repository("dist");
    project.config(
        &config("dist").replace(
            "artifacts = [\"out/app\"]",
            "artifacts = [\"out/app\"]\ntargets = [\"x86_64-unknown-linux-gnu\"]",
        ),
    );
    project.file("notes.json", "{\"mine\": true}\n");
    let run = project.release(["plan", "--matrix", "--manifest", "notes.json"]).run();
    run.code(2)
        .stderr_has("refusing to write the plan manifest to notes.json: it already exists and is not a plan manifest");
    assert_eq!(project.read("notes.json"), "{\"mine\": true}\n");
    refused_untouched(&project, &["plan", "--matrix", "--manifest", "src"], 2, None).stderr_has("is a directory");
    project.release(["plan", "--matrix", "--manifest", "plan.json"]).run().success();
    project.release(["plan", "--matrix", "--manifest", "plan.json"]).run().success();
}

/// Generated `dist` paths: components `.`, `..`, names of tracked and new directories,
/// links into the tree and out of it. Whatever the path, a run changes no file it did not
/// write, inside the repository or in the directory a link leads to.
#[test]
fn no_generated_dist_path_changes_a_file_the_tool_did_not_write() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let component =
        prop::sample::select(vec![".", "..", "crates", "src", "new", "out2", "link-in", "link-out", "link-up"]);
    let paths = prop::collection::vec(component, 1..4).prop_map(|parts| parts.join("/"));
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    let succeeded = std::cell::Cell::new(0);
    let result = runner.run(&paths, |dist| {
        let outside = tempfile::tempdir().unwrap();
        let outside = Utf8PathBuf::from_path_buf(outside.path().canonicalize().unwrap()).unwrap();
        std::fs::write(outside.join("someone-elses.txt"), "keep\n").unwrap();
        let project = repository(&dist);
        std::os::unix::fs::symlink("crates/app", project.join("link-in")).unwrap();
        std::os::unix::fs::symlink(&outside, project.join("link-out")).unwrap();
        std::os::unix::fs::symlink("..", project.join("link-up")).unwrap();
        let before = state(project.path()).1;
        let outside_before = state(&outside).1;
        let run = project.release(["run", "--snapshot"]).run();
        prop_assert!(matches!(run.code, 0 | 2 | 3), "{dist}: {}", run.stderr);
        let after = state(project.path()).1;
        for (path, what) in &before {
            prop_assert_eq!(after.get(path), Some(what), "{}: {} changed", dist, path);
        }
        let outside_after = state(&outside).1;
        for (path, what) in &outside_before {
            prop_assert_eq!(outside_after.get(path), Some(what), "{}: outside {} changed", dist, path);
        }
        if run.code == 0 {
            succeeded.set(succeeded.get() + 1);
        }
        Ok(())
    });
    result.unwrap();
    assert!(succeeded.get() > 0, "some generated paths are fine dist directories");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for Utf8PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
