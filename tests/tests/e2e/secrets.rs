//! Secrets never leak: every scenario runs with recognisable values in every secret variable,
//! and everything the binary printed (stdout, stderr, `--json`) and every file it wrote (dist,
//! journal, job summary, job outputs) is scanned for them. In GitHub Actions the one allowed
//! appearance is the `::add-mask::VALUE` line that registers a value with the runner, which
//! must come before any other output.

use release_tests::github_server::{Fault, FaultAction, GithubServer, Level, Route, TokenSpec, Visibility};
use release_tests::registry::{Auth, Registry, User};
use release_tests::{Finished, Project, ReleaseCommand};

const REPO: &str = "acme/hello";
const RELEASE_TOKEN: &str = "ghp_SECRETSCANreleasetoken0123";

/// Every secret variable, standard and configured, with a value nobody could print by
/// accident. RELEASE_TOKEN (`github.token-env`) is the one the GitHub server accepts.
const SECRETS: [(&str, &str); 8] = [
    ("GH_TOKEN", "ghs_SECRETSCANghtoken0123456789"),
    ("GITHUB_TOKEN", "ghs_SECRETSCANgithubtoken0123456"),
    ("GITHUB_PAT", "github_pat_SECRETSCANpat0123456789"),
    ("HELM_REGISTRY_PASSWORD", "SECRETSCANhelmregistrypassword"),
    ("HELM_API_KEY_SECRET", "SECRETSCANhelmapikey0123"),
    ("COSIGN_PASSWORD", "SECRETSCAN cosign \"pass\\word\""),
    // Named by the config: `github.token-env`, `registries.*.password-env`.
    ("RELEASE_TOKEN", RELEASE_TOKEN),
    ("REGISTRY_PASSWORD", "SECRETSCANregistrypassword"),
];

/// A project whose build command prints every secret variable it was given, as a careless
/// build script might. Its config names RELEASE_TOKEN and REGISTRY_PASSWORD as secrets.
fn project(api_url: &str) -> Project {
    project_with(api_url, "127.0.0.1:5999", false)
}

/// [`project`], its registry `registry`, and with `chart` a Helm chart pushed there.
fn project_with(api_url: &str, registry: &str, chart: bool) -> Project {
    let chart_section = if chart {
        format!("[[chart]]\npath = \"charts/hello\"\npush = \"oci://{registry}/charts\"\n")
    } else {
        String::new()
    };
    let github = format!(
        "[github]\nrepository = \"{REPO}\"\napi-url = \"{api_url}\"\ntoken-env = \"RELEASE_TOKEN\"\n\n\
         [network]\ngithub-mutation-interval-ms = 0\n"
    );
    let echo_all: String = SECRETS.iter().map(|(name, _)| format!("echo {name}=${name}; ")).collect();
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
name = "hello"
version = "1.2.3"

[[build]]
name = "app"
command = ["sh", "-c", "{echo_all}cp src/app.txt out/app"]
artifacts = ["out/app"]

[registries."{registry}"]
plain-http = true
username-env = "REGISTRY_USER"
password-env = "REGISTRY_PASSWORD"

{chart_section}
{github}
"#
        ))
        .file("src/app.txt", "the app\n")
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file("charts/hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n")
        .file("out/.keep", "");
    project
}

fn with_secrets(mut command: ReleaseCommand) -> ReleaseCommand {
    for (name, value) in SECRETS {
        command = command.env(name, value);
    }
    command.env("REGISTRY_USER", "writer")
}

fn in_actions(project: &Project, command: ReleaseCommand) -> ReleaseCommand {
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", project.join("summary.md").as_str())
        .env("GITHUB_OUTPUT", project.join("outputs.txt").as_str())
}

/// Asserts that no secret value appears in what the run printed or in any file under the
/// project, except, in Actions mode, as the leading `::add-mask::` lines.
#[track_caller]
fn assert_no_secret_anywhere(project: &Project, run: &Finished, actions: bool) {
    let masks: Vec<String> =
        run.stdout.lines().take_while(|l| l.starts_with("::add-mask::")).map(str::to_owned).collect();
    if actions {
        for (name, value) in SECRETS {
            let escaped = value.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
            assert!(
                masks.contains(&format!("::add-mask::{escaped}")),
                "{name} was not masked before any other output:\n{}",
                run.stdout
            );
        }
    } else {
        assert!(masks.is_empty(), "::add-mask:: outside GitHub Actions:\n{}", run.stdout);
    }
    let stdout_after_masks: String = run.stdout.lines().skip(masks.len()).collect::<Vec<_>>().join("\n");
    let mut places = vec![("stdout".to_owned(), stdout_after_masks), ("stderr".to_owned(), run.stderr.clone())];
    for file in files_under(project.path()) {
        let bytes = std::fs::read(&file).unwrap();
        places.push((file.to_string(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (place, text) in &places {
        for (name, value) in SECRETS {
            for needle in [value, "SECRETSCAN"] {
                assert!(!text.contains(needle), "the value of {name} appears in {place}:\n{text}");
            }
        }
    }
}

fn files_under(dir: &camino::Utf8Path) -> Vec<camino::Utf8PathBuf> {
    let mut files = Vec::new();
    for entry in dir.read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            files.extend(files_under(entry.path()));
        } else if file_type.is_file() {
            files.push(entry.path().to_owned());
        }
    }
    files
}

fn writer_server(token: &str) -> GithubServer {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(token, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    server
}

#[test]
fn snapshot_runs_print_and_write_no_secret() {
    for actions in [false, true] {
        // Snapshot runs contact no server: the API URL is never used.
        let project = project("http://127.0.0.1:9/api/v3");
        let mut command = with_secrets(project.release(["run", "--snapshot", "--verbose"]));
        if actions {
            command = in_actions(&project, command);
        }
        let run = command.run();
        run.success();
        // The build did print its environment; the values were masked on the way.
        assert!(run.stdout.contains("GH_TOKEN=***") || run.stderr.contains("GH_TOKEN=***"), "{}", run.stderr);
        assert_no_secret_anywhere(&project, &run, actions);

        let json = with_secrets(project.release(["--json", "run", "--snapshot", "--fresh"])).run();
        json.success();
        assert_eq!(json.json()["success"], true);
        assert_no_secret_anywhere(&project, &json, false);
    }
}

#[test]
fn a_github_release_prints_and_writes_no_secret() {
    let server = writer_server(RELEASE_TOKEN);
    let project = project(&server.api_url());
    let run = in_actions(&project, with_secrets(project.release(["run", "--verbose"]))).run();
    run.success();
    assert_eq!(server.releases(REPO).len(), 1);
    assert!(project.read("outputs.txt").contains("github-release-url="));
    assert_no_secret_anywhere(&project, &run, true);

    // The same release again, outside Actions, with the JSON report: already released.
    let again = with_secrets(project.release(["--json", "run"])).run();
    again.success();
    assert_no_secret_anywhere(&project, &again, false);
}

#[test]
fn failed_github_releases_print_and_write_no_secret() {
    // A token the server rejects (401), named by `github.token-env`.
    let server = writer_server("ghs_anothertoken");
    let project = project(&server.api_url());
    let run = with_secrets(project.release(["--json", "run"])).run();
    run.code(3).stderr_has("environment variable RELEASE_TOKEN was rejected as bad credentials");
    assert_no_secret_anywhere(&project, &run, false);
    let run = in_actions(&project, with_secrets(project.release(["run"]))).run();
    run.code(3);
    assert_no_secret_anywhere(&project, &run, true);

    // An upload that fails half-way: the release stays a draft; the re-run converges.
    let server = writer_server(RELEASE_TOKEN);
    // On every attempt: the network policy retries a 502.
    server.inject(
        Fault::new(Route::UploadAsset, 1, FaultAction::FailUploadAfter { bytes: 2, status: 502, leave_starter: true })
            .always(),
    );
    let project = self::project(&server.api_url());
    let run = in_actions(&project, with_secrets(project.release(["run", "--verbose"]))).run();
    run.code(1).stderr_has("publish:github-release");
    assert_no_secret_anywhere(&project, &run, true);
    server.clear_faults();
    let rerun = with_secrets(project.release(["--json", "run", "--verbose"])).run();
    rerun.success();
    assert_no_secret_anywhere(&project, &rerun, false);

    // Nothing listens here: the transport error quotes the URL, never a credential.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let project = self::project(&format!("http://127.0.0.1:{port}/api/v3"));
    let run = in_actions(&project, with_secrets(project.release(["run"]))).run();
    run.code(3).stderr_has(&format!("127.0.0.1:{port}"));
    assert_no_secret_anywhere(&project, &run, true);
}

#[test]
fn a_config_error_in_actions_masks_first_and_prints_no_secret() {
    let project = project("http://127.0.0.1:9/api/v3");
    project.config(
        "[project]\nversion = \"1.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n[registries.\"r.example\"]\npassword-env = \"REGISTRY_PASSWORD\"\n",
    );
    let run = in_actions(&project, with_secrets(project.release(["run"]))).run();
    run.code(2).stderr_has("not a SemVer version");
    assert_no_secret_anywhere(&project, &run, true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_push_and_its_refusal_print_and_write_no_secret() {
    let (_, password) = SECRETS.iter().find(|(name, _)| *name == "REGISTRY_PASSWORD").copied().unwrap();
    let registry =
        Registry::start(Auth::Htpasswd(vec![User::new("writer", password, &["pull", "push"])])).await.unwrap();
    let server = writer_server(RELEASE_TOKEN);
    let project = project_with(&server.api_url(), &registry.host, true);
    let run = in_actions(&project, with_secrets(project.release(["run", "--verbose"]))).run_async().await;
    run.success();
    assert_eq!(server.releases(REPO).len(), 1);
    let outputs = project.read("outputs.txt");
    assert!(outputs.contains(&format!("{}/charts/hello", registry.host)), "the chart was pushed: {outputs}");
    assert_no_secret_anywhere(&project, &run, true);

    // The same registry refusing the password (a user it does not know).
    let registry =
        Registry::start(Auth::Htpasswd(vec![User::new("someone", "else", &["pull", "push"])])).await.unwrap();
    let project = project_with(&server.api_url(), &registry.host, true);
    let run = with_secrets(project.release(["--json", "run"])).run_async().await;
    run.code(3).stderr_has("REGISTRY_PASSWORD");
    assert_no_secret_anywhere(&project, &run, false);
}
