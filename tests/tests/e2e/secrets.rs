//! Secrets never leak: every scenario runs with recognisable values in every secret variable,
//! and everything the binary printed (stdout, stderr, `--json`) and every file it wrote (dist,
//! journal, job summary, job outputs) is scanned for them. In GitHub Actions the one allowed
//! appearance is the `::add-mask::VALUE` line that registers a value with the runner, which
//! must come before any other output.

use release_tests::fault_proxy::{FaultProxy, ProxyAction, ProxyFault};
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

// Credentials that no variable holds: a docker `config.json` or a credential helper gives
// them at run time, so only the credential chain can tell the redactor about them. Each run
// is made to show them: a registry error that quotes the request's `Authorization` header
// (through the fault proxy, in front of the real registry with htpasswd), and a build
// command that prints the docker config and asks the helper itself.

const DOCKER_USER: &str = "docker-writer";
const DOCKER_PASSWORD: &str = "DOCKERSCAN-config-password-0123";
const HELPER_USER: &str = "helper-writer";
const HELPER_PASSWORD: &str = "DOCKERSCAN-helper-password-4567";
const IDENTITY_TOKEN: &str = "DOCKERSCAN-identity-token-89ab";
const REGISTRY_TOKEN: &str = "DOCKERSCAN-registry-token-cdef";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A project whose build command runs `print` (as a careless build script might) and whose
/// chart is pushed to `oci://{host}/charts`. No variable holds a credential.
fn docker_project(host: &str, print: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
name = "hello"
version = "1.2.3"

[[build]]
name = "app"
command = ["sh", "-c", "{}; cp src/app.txt out/app"]
artifacts = ["out/app"]

[[chart]]
path = "charts/hello"
push = "oci://{host}/charts"

[registries."{host}"]
plain-http = true
"#,
            print.replace('\\', "\\\\").replace('"', "\\\"")
        ))
        .file("src/app.txt", "the app\n")
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file("charts/hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n")
        .file("out/.keep", "");
    project
}

/// A docker config directory outside the project (the scan reads every file of the
/// project), with `config.json` and the `docker-credential-scan` helper in `bin/`.
fn docker_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-scan");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{HELPER_USER}\",\"Secret\":\"{HELPER_PASSWORD}\"}}\\n' \"$host\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

fn with_docker(command: ReleaseCommand, dir: &tempfile::TempDir) -> ReleaseCommand {
    let dir = dir.path().to_str().unwrap();
    let path = format!("{dir}/bin:{}", std::env::var("PATH").unwrap_or_default());
    command.env("DOCKER_CONFIG", dir).env("PATH", path)
}

/// Asserts that none of `values` appears in what the run printed or in any file under the
/// project (job summary and outputs included), except as `::add-mask::VALUE` in Actions,
/// which must come before the first line that shows a masked value.
#[track_caller]
fn assert_never_shown(project: &Project, run: &Finished, values: &[&str], actions: bool) {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let first_masked = lines.iter().position(|l| l.contains("***")).unwrap_or(lines.len());
    for value in values {
        let mask = lines.iter().position(|l| *l == format!("::add-mask::{value}"));
        if actions {
            let mask = mask.unwrap_or_else(|| panic!("{value} was never masked:\n{}", run.stdout));
            assert!(mask < first_masked, "{value} was masked only after output that needed it:\n{}", run.stdout);
        } else {
            assert!(mask.is_none(), "::add-mask:: outside GitHub Actions:\n{}", run.stdout);
        }
    }
    let stdout: Vec<&str> = lines.into_iter().filter(|l| !l.starts_with("::add-mask::")).collect();
    let mut places = vec![("stdout".to_owned(), stdout.join("\n")), ("stderr".to_owned(), run.stderr.clone())];
    for file in files_under(project.path()) {
        places.push((file.to_string(), String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned()));
    }
    for (place, text) in &places {
        for value in values.iter().copied().chain(["DOCKERSCAN"]) {
            assert!(!text.contains(value), "{value} appears in {place}:\n{text}");
        }
    }
}

/// Runs the same release three times against the real registry (htpasswd) behind the fault
/// proxy: refused with an error quoting the `Authorization` header (in Actions, and with
/// `--json`), then for real, the build printing the credentials.
/// `config` and `print` are given the registry host the chart is pushed to.
async fn credentials_from_docker_never_show(
    config: impl Fn(&str) -> String,
    (user, password): (&str, &str),
    print: impl Fn(&str) -> String,
    values: &[&str],
) {
    let registry = Registry::start(Auth::Htpasswd(vec![User::new(user, password, &["pull", "push"])])).await.unwrap();
    let proxy = FaultProxy::start(&registry.host);
    proxy.inject(ProxyFault::new("POST", "/blobs/uploads/", 1, ProxyAction::echo_authorization(400)).always());
    let docker = docker_dir(&config(&proxy.host()));
    let project = docker_project(&proxy.host(), &print(&proxy.host()));

    let run = in_actions(&project, with_docker(project.release(["run", "--verbose"]), &docker)).run_async().await;
    run.code(3).stderr_has("request with authorization Basic *** denied");
    assert_never_shown(&project, &run, values, true);
    assert!(project.read("summary.md").contains("Basic ***"), "{}", project.read("summary.md"));

    let run = with_docker(project.release(["--json", "run"]), &docker).run_async().await;
    run.code(3).stderr_has("request with authorization Basic *** denied");
    assert_never_shown(&project, &run, values, false);

    proxy.clear_faults();
    let run = in_actions(&project, with_docker(project.release(["run", "--verbose"]), &docker)).run_async().await;
    run.success();
    assert!(project.read("outputs.txt").contains(&format!("{}/charts/hello", proxy.host())), "the chart was pushed");
    assert_never_shown(&project, &run, values, true);
    // The build did print them; they were masked on the way.
    assert!(run.stdout.lines().filter(|l| !l.starts_with("::")).any(|l| l.contains("***")), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_from_a_docker_config_file_never_show() {
    let auth = basic(DOCKER_USER, DOCKER_PASSWORD);
    // The pushing host's `auth`, and tokens of other hosts the file holds as well.
    let config = |host: &str| {
        format!(
            r#"{{"auths":{{"{host}":{{"auth":"{auth}"}},"id.example":{{"identitytoken":"{IDENTITY_TOKEN}"}},"reg.example":{{"registrytoken":"{REGISTRY_TOKEN}"}}}}}}"#
        )
    };
    let pair = format!("{DOCKER_USER}:{DOCKER_PASSWORD}");
    // A build step debugging the login: the file, and its `auth` decoded.
    let print = |_: &str| {
        r#"cat "$DOCKER_CONFIG/config.json"; echo; grep -o '"auth":"[^"]*"' "$DOCKER_CONFIG/config.json" | cut -d'"' -f4 | base64 -d; echo"#
            .to_owned()
    };
    credentials_from_docker_never_show(
        config,
        (DOCKER_USER, DOCKER_PASSWORD),
        print,
        &[DOCKER_PASSWORD, &pair, &auth, IDENTITY_TOKEN, REGISTRY_TOKEN],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_from_a_credential_helper_never_show() {
    let config = |host: &str| format!(r#"{{"credHelpers":{{"{host}":"scan"}}}}"#);
    let pair = format!("{HELPER_USER}:{HELPER_PASSWORD}");
    let header = basic(HELPER_USER, HELPER_PASSWORD);
    // A build step debugging the helper: its answer holds the password.
    let print = |host: &str| format!("printf %s {host} | docker-credential-scan get");
    credentials_from_docker_never_show(
        config,
        (HELPER_USER, HELPER_PASSWORD),
        print,
        &[HELPER_PASSWORD, &pair, &header],
    )
    .await;
}
