//! Bad input: every case of the corpus runs through the binary and must exit non-zero with
//! its documented code, name its cause (file, field or URL) and a fix (`help:`), write
//! nothing remote, and lose nothing (no file outside the dist directory changes or goes).
//!
//! Cases are directories under `tests/corpus/` (a `release.toml`, the files it needs, and a
//! `case.toml` with `code`, the `stderr` lines it must contain, and optionally `args`), plus
//! the cases below that cannot be committed as files: symlinks, non-UTF-8 names, a closed
//! port. `docs/reliability.md` lists them all with their exit codes.
//!
//! A chart case may say what the real Helm makes of its chart as written (`helm`: a piece of
//! Helm's error, or `loads` when only `helm lint` or `helm package` refuses it): the chart
//! directory is packed as it is and loaded with Helm's Go SDK, so the corpus's claims about
//! Helm are Helm's own words.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use camino::Utf8Path;
use release_tests::github_server::{GithubServer, Level, Route, TokenSpec, Visibility};
use release_tests::{Finished, Project, ReleaseCommand, release_bin, workspace_root};

const REPO: &str = "acme/hello";
const TOKEN: &str = "ghs_corpus0123456789";

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default = "run")]
    args: Vec<String>,
    code: i32,
    stderr: Vec<String>,
    /// What the real Helm says loading `charts/hello` as written; `loads` when it takes it.
    #[serde(default)]
    helm: Option<String>,
}

fn run() -> Vec<String> {
    vec!["run".into()]
}

/// A GitHub server that would accept the release: a case fails on its own bad input, never
/// on a missing permission.
fn server() -> GithubServer {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    server
}

fn command(project: &Project, server: &GithubServer, args: &[String]) -> ReleaseCommand {
    project
        .release(args.iter().cloned())
        .env("GITHUB_API_URL", server.api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GH_TOKEN", TOKEN)
        .env("COSIGN_PASSWORD", "corpus-password")
}

/// Every file and symlink under `dir` except the dist directory, with its bytes (a
/// symlink's target).
fn contents(dir: &Utf8Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    fn walk(dir: &std::path::Path, out: &mut BTreeMap<std::path::PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let file_type = entry.file_type().unwrap();
            if file_type.is_symlink() {
                out.insert(path.clone(), std::fs::read_link(&path).unwrap().as_os_str().as_bytes().to_vec());
            } else if file_type.is_dir() {
                if entry.file_name() != "dist" {
                    walk(&path, out);
                }
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir.as_std_path(), &mut out);
    out
}

/// Runs a case and checks everything a bad input must do.
#[track_caller]
fn check(name: &str, project: &Project, case: &Case, run: impl FnOnce(&GithubServer) -> Finished) {
    let server = server();
    let before = contents(project.path());
    let finished = run(&server);
    assert_eq!(
        finished.code, case.code,
        "case {name}: exit code\n--- stdout\n{}\n--- stderr\n{}",
        finished.stdout, finished.stderr
    );
    for needle in case.stderr.iter().map(String::as_str).chain(["help: "]) {
        assert!(finished.stderr.contains(needle), "case {name}: stderr lacks {needle:?}\n{}", finished.stderr);
    }
    let after = contents(project.path());
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "case {name}: {} was changed or deleted", path.display());
    }
    assert!(server.releases(REPO).is_empty(), "case {name}: a release was left on GitHub");
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.route, Route::UploadAsset | Route::UpdateRelease | Route::DeleteAsset))
        .collect();
    assert!(writes.is_empty(), "case {name}: remote writes {writes:?}");
}

#[test]
fn every_corpus_directory_fails_with_its_documented_code_cause_and_fix() {
    let corpus = workspace_root().join("tests/corpus");
    let mut names: Vec<String> = corpus.read_dir_utf8().unwrap().map(|e| e.unwrap().file_name().to_owned()).collect();
    names.sort();
    assert!(names.len() >= 32, "the corpus went missing: {names:?}");
    for name in &names {
        let dir = corpus.join(name);
        let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
            .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
        assert_ne!(case.code, 0, "{name}: a bad input never succeeds");
        let project = Project::copy_of(&dir);
        check(name, &project, &case, |server| command(&project, server, &case.args).run());
        if let Some(expected) = &case.helm {
            helm_agrees(name, &dir, expected);
        }
    }
}

/// Packs `charts/hello` of a case as written (plain `tar`, no checks of ours) and loads it
/// with the real Helm.
fn helm_agrees(name: &str, case: &Utf8Path, expected: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let tgz = camino::Utf8Path::from_path(tmp.path()).unwrap().join("hello.tgz");
    let status = std::process::Command::new("tar")
        .args(["-czf", tgz.as_str(), "-C", case.join("charts").as_str(), "hello"])
        .status()
        .unwrap();
    assert!(status.success(), "case {name}: tar failed");
    match (release_tests::helm::helm_show_chart(tgz.as_str()), expected) {
        (Ok(_), "loads") => {}
        (Ok(shown), _) => panic!("case {name}: Helm loads the chart, expected {expected:?}\n{shown}"),
        (Err(err), "loads") => panic!("case {name}: Helm refuses the chart: {err}"),
        (Err(err), _) => assert!(err.contains(expected), "case {name}: Helm says {err:?}, expected {expected:?}"),
    }
}

const CHART_CONFIG: &str = "[project]\nversion = \"1.0.0\"\n\n[[chart]]\npath = \"charts/hello\"\n";

fn chart_project() -> Project {
    let project = Project::new();
    project
        .config(CHART_CONFIG)
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file("charts/hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\n");
    project
}

fn case(code: i32, stderr: &[&str]) -> Case {
    Case { args: run(), code, stderr: stderr.iter().map(|s| (*s).to_owned()).collect(), helm: None }
}

#[test]
fn a_chart_with_a_symlink_out_of_it_fails_preflight() {
    let project = chart_project();
    project.file("secret.txt", "outside the chart\n");
    std::os::unix::fs::symlink("../../../secret.txt", project.join("charts/hello/templates/leak.yaml")).unwrap();
    let expected = case(3, &["templates/leak.yaml", "outside the chart", "nothing was built or published"]);
    check("chart-symlink", &project, &expected, |server| command(&project, server, &expected.args).run());
}

#[test]
fn a_chart_file_with_a_non_utf8_name_fails_preflight() {
    let project = chart_project();
    std::fs::write(project.path().as_std_path().join(OsStr::from_bytes(b"charts/hello/templates/bad\xff.yaml")), "")
        .unwrap();
    let expected = case(3, &["bad\u{FFFD}.yaml: the file name is not valid UTF-8", "help: rename the file"]);
    check("chart-non-utf8-file", &project, &expected, |server| command(&project, server, &expected.args).run());
}

#[test]
fn a_non_utf8_config_argument_names_the_argument_and_the_fix() {
    let project = chart_project();
    let expected = case(2, &["'--config <PATH>'", "the path \"\\xFF.toml\" is not valid UTF-8", "help: rename"]);
    check("config-argument-non-utf8", &project, &expected, |_| {
        let output = std::process::Command::new(release_bin())
            .current_dir(project.path())
            .env_clear()
            .arg("run")
            .arg("--config")
            .arg(OsStr::from_bytes(b"\xff.toml"))
            .output()
            .unwrap();
        Finished {
            args: vec!["run".into(), "--config".into(), "<non-UTF-8>".into()],
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    });
}

#[test]
fn a_project_in_a_non_utf8_directory_is_a_usage_error() {
    let parent = Project::new();
    let dir = parent.path().as_std_path().join(OsStr::from_bytes(b"proj\xff"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("release.toml"), CHART_CONFIG).unwrap();
    let expected = case(2, &["proj\\xFF/release.toml\" is in a directory whose path is not valid UTF-8", "help: move"]);
    check("project-dir-non-utf8", &parent, &expected, |_| {
        let output =
            std::process::Command::new(release_bin()).current_dir(&dir).env_clear().arg("run").output().unwrap();
        Finished {
            args: vec!["run".into()],
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    });
    assert!(!dir.join("dist").exists(), "nothing ran");
}

#[test]
fn an_unreachable_github_host_fails_preflight_naming_the_url() {
    let project = Project::new();
    project
        .config("[project]\nversion = \"1.0.0\"\n\n[[build]]\nname = \"app\"\ncommand = [\"touch\", \"built\"]\n\n[github]\nrepository = \"acme/hello\"\n");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", closed.local_addr().unwrap());
    drop(closed);
    let expected = case(
        3,
        &[
            &format!("{url}/repos/acme/hello"),
            "help: the connection to GitHub failed: check the network and the API URL",
        ],
    );
    check("unreachable-host", &project, &expected, |_| {
        project.release(["run"]).env("GITHUB_API_URL", url.as_str()).env("GH_TOKEN", TOKEN).run()
    });
    assert!(!project.exists("built"), "the build never started");
}
