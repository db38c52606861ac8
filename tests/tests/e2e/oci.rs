//! Helm charts to OCI registries, against the real CNCF registry (no auth, htpasswd, token
//! auth with our token server) and a GHCR-shaped responder.
//!
//! The probe tests run the `release` binary. The push tests drive the library pipeline
//! with a test package step that provides the packaged chart, so that the push itself is
//! exercised against the real registry whatever the package stage does.

use std::io::Write;

use camino::Utf8Path;
use release_core::event::{Event, Recorder};
use release_core::helm::{PackagedChart, PackagedCharts};
use release_core::{Config, Effect, Environment, Mode, Overrides, Stage, Step, StepContext, StepResult};
use release_tests::Project;
use release_tests::registry::{Auth, GhcrLike, RecordingProxy, Registry, User};
use sha2::Digest;

const CHART_YAML: &str = "apiVersion: v2\nname: hello\nversion: 0.1.0\ndescription: Says hello\ntype: application\n";

fn writer() -> User {
    User::new("writer", "writer-password", &["pull", "push"])
}

fn reader() -> User {
    User::new("reader", "reader-password", &["pull"])
}

/// A project with one chart pushed to `oci://HOST/charts` and a build step that leaves a
/// marker file, to prove whether the build ran.
fn project(host: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            "[project]\nversion = \"1.2.3\"\n\n[[build]]\nname = \"marker\"\ncommand = [\"touch\", \"built\"]\n\n\
             [[chart]]\npath = \"charts/hello\"\npush = \"oci://{host}/charts\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n"
        ))
        .file("charts/hello/Chart.yaml", CHART_YAML)
        .file("charts/hello/values.yaml", "greeting: hello\n")
        .file("charts/hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n");
    project
}

fn with_user(command: release_tests::ReleaseCommand, user: &User) -> release_tests::ReleaseCommand {
    command.env("HELM_REGISTRY_USERNAME", &user.name).env("HELM_REGISTRY_PASSWORD", &user.password)
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_only_user_fails_preflight_with_exit_3_before_the_build() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let project = project(&registry.host);
    let run = with_user(project.release(["run"]), &reader()).run_async().await;
    run.code(3)
        .stderr_has("error: preflight:oci-push:hello: chart `hello`")
        .stderr_has(&format!(
            "{} refused to let environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD push charts/hello",
            registry.host
        ))
        .stderr_has("error=insufficient_scope")
        .stderr_has("granted environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD pull but not push")
        .stderr_has("give that user push rights")
        .stderr_has("2. environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD (used)")
        .stderr_has("preflight failed: nothing was built or published");
    assert!(!project.exists("built"), "the build must not run after a failed probe");
    // It was the real registry that refused: the token server did hand out a (pull-only) token.
    let asked = registry.token_server.as_ref().unwrap().received.requests();
    assert!(asked.iter().any(|r| r.uri.contains("scope=repository%3Acharts%2Fhello%3Apull%2Cpush")), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_passes_the_probe_on_the_token_registry() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let project = project(&registry.host);
    let run = with_user(project.release(["--json", "preflight"]), &writer()).run_async().await;
    run.success();
    let report = run.json();
    let summary = report.to_string();
    // distribution wants the `delete` action to cancel; a push grant does not have it.
    assert!(summary.contains("upload session started; cancelling needs delete rights, it expires"), "{summary}");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(!project.exists("built"), "preflight builds nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn htpasswd_registry_refusals_name_the_source_and_the_fix() {
    let registry = Registry::start(Auth::Htpasswd(vec![writer()])).await.unwrap();
    let project = project(&registry.host);

    let anonymous = project.release(["preflight"]).run_async().await;
    anonymous
        .code(3)
        .stderr_has("refused to let anonymous (no credentials found) push charts/hello")
        .stderr_has("needs credentials and none were found")
        .stderr_has("7. anonymous (used)");

    let wrong = User::new("writer", "not-the-password", &[]);
    let refused = with_user(project.release(["preflight"]), &wrong).run_async().await;
    refused
        .code(3)
        .stderr_has("did not accept the username and password from environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD");

    with_user(project.release(["preflight"]), &writer()).run_async().await.success();
}

#[tokio::test(flavor = "multi_thread")]
async fn no_auth_registry_accepts_the_probe_anonymously() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let project = project(&registry.host);
    let run = project.release(["--json", "preflight"]).run_async().await;
    run.success();
    let summary = run.json().to_string();
    assert!(
        summary.contains("with anonymous (no credentials found); upload session started and cancelled"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn github_token_never_reaches_a_non_ghcr_registry() {
    const TOKEN: &str = "ghs_canaryGITHUBTOKEN0123456789";
    const PAT: &str = "ghp_canaryGITHUBPAT0123456789";
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let proxy = RecordingProxy::start(&registry.host).await.unwrap();
    let project = project(&proxy.host());
    let github = |command: release_tests::ReleaseCommand| {
        command.env("GITHUB_TOKEN", TOKEN).env("GITHUB_PAT", PAT).env("GITHUB_ACTOR", "octocat")
    };

    // With explicit credentials: those are used, and only those.
    with_user(github(project.release(["preflight"])), &writer()).run_async().await.success();
    // Without: the GitHub tokens are not a fallback for this host; the run fails anonymously.
    let anonymous = github(project.release(["preflight"])).run_async().await;
    anonymous.code(3).stderr_has("anonymous (no credentials found)").stderr_has(&format!(
        "environment variable GITHUB_TOKEN (username GITHUB_ACTOR) (not for {} (ghcr.io only))",
        proxy.host()
    ));

    let token_server = &registry.token_server.as_ref().unwrap().received;
    assert!(!proxy.received.requests().is_empty() && !token_server.requests().is_empty(), "both servers were asked");
    for (name, recorder) in [("registry", &proxy.received), ("token server", token_server)] {
        assert!(!recorder.saw_secret(TOKEN), "GITHUB_TOKEN reached the {name}");
        assert!(!recorder.saw_secret(PAT), "GITHUB_PAT reached the {name}");
    }
    assert_eq!(token_server.basic_users().iter().filter(|u| *u != "writer").count(), 0, "only the writer logged in");
    assert!(!anonymous.stderr.contains(TOKEN) && !anonymous.stderr.contains(PAT), "no value is printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn ghcr_shaped_denial_is_diagnosed_as_write_package() {
    for denial in ["permission_denied: write_package", "installation not allowed to Write organization package"] {
        let ghcr = GhcrLike::start(denial).await.unwrap();
        let project = project(&ghcr.host());
        let run = with_user(project.release(["run"]), &writer()).run_async().await;
        run.code(3)
            .stderr_has(&format!("403 DENIED {denial}"))
            .stderr_has("this is GHCR's write_package denial")
            .stderr_has("`permissions: packages: write`")
            .stderr_has("`write:packages` scope")
            .stderr_has("\"Manage Actions access\"")
            .stderr_has("must be lowercase");
        assert!(!project.exists("built"), "the build must not run after a failed probe");
        let uploads: Vec<_> = ghcr.received.requests().into_iter().filter(|r| r.method == "POST").collect();
        assert_eq!(uploads.len(), 1, "one upload session was attempted: {uploads:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn uppercase_reference_is_refused_in_snapshot_mode_too_with_the_fixed_name() {
    let project = project("127.0.0.1:9");
    project.config(&project.read("release.toml").replace("oci://127.0.0.1:9/charts", "oci://127.0.0.1:9/Acme/Charts"));
    let run = project.release(["run", "--snapshot"]).run_async().await;
    run.code(3)
        .stderr_has("error: preflight:oci-check: `chart[0].push`: `oci://127.0.0.1:9/Acme/Charts`: repository names must be lowercase")
        .stderr_has("use `oci://127.0.0.1:9/acme/charts`");
    assert!(!project.exists("built"));
}

// ---- the push itself, through the library pipeline ------------------------------------

/// Writes a small valid chart package, as the package stage would, and records it.
#[derive(Debug)]
struct TestPackage {
    push: String,
    values: &'static str,
    allow_overwrite: bool,
}

#[async_trait::async_trait]
impl Step for TestPackage {
    fn id(&self) -> String {
        "package:test-chart".into()
    }
    fn stage(&self) -> Stage {
        Stage::Package
    }
    fn effect(&self) -> Effect {
        Effect::Local
    }
    fn description(&self) -> String {
        "write hello-0.1.0.tgz".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let path = cx.release().dist.join("hello-0.1.0.tgz");
        write_chart_tgz(&path, self.values);
        let bytes = std::fs::read(&path).unwrap();
        cx.insert(PackagedCharts(vec![PackagedChart {
            name: "hello".into(),
            version: "0.1.0".into(),
            path,
            size: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            config_json: r#"{"apiVersion":"v2","name":"hello","version":"0.1.0","description":"Says hello","type":"application"}"#.into(),
            push: Some(self.push.clone()),
            allow_overwrite: self.allow_overwrite,
        }]));
        Ok(None)
    }
}

fn write_chart_tgz(path: &Utf8Path, values: &str) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, content) in [
        ("hello/Chart.yaml", CHART_YAML),
        ("hello/values.yaml", values),
        ("hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

struct PushRun {
    result: Result<release_core::RunReport, release_core::RunFailure>,
    events: Vec<Event>,
}

impl PushRun {
    fn summary(&self, id: &str) -> String {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::StepFinished { id: i, summary, .. } if i == id => summary.clone(),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} did not finish: {:?}", self.result.as_ref().err().map(|f| &f.failures)))
    }
}

async fn push_run(project: &Project, host: &str, user: &User, values: &'static str, allow_overwrite: bool) -> PushRun {
    let push = format!("oci://{host}/charts");
    let overwrite = if allow_overwrite { "allow-overwrite = true\n" } else { "" };
    let text = format!(
        "[project]\nversion = \"1.2.3\"\n\n[[chart]]\npath = \"charts/hello\"\npush = \"{push}\"\n{overwrite}\n\
         [registries.\"{host}\"]\nplain-http = true\n"
    );
    let path = project.join("release.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Config::load(&path).unwrap();
    let env = Environment::empty()
        .with("HOME", project.join(".home").as_str())
        .with("HELM_REGISTRY_USERNAME", &user.name)
        .with("HELM_REGISTRY_PASSWORD", &user.password);
    let mut pipeline = release_core::pipeline(&config, &env, Mode::Release, &Overrides::default()).unwrap();
    pipeline.add_step(TestPackage { push, values, allow_overwrite }).unwrap();
    let recorder = Recorder::default();
    let result = pipeline.run(&recorder).await;
    PushRun { result, events: recorder.events() }
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_pushes_a_chart_helm_can_pull_and_a_repush_is_a_no_op() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let project = project(&registry.host);

    let first = push_run(&project, &registry.host, &writer(), "greeting: hello\n", false).await;
    let report = first.result.as_ref().map_err(|f| format!("{:?}", f.failures)).unwrap();
    let tgz = std::fs::read(project.join("dist/hello-0.1.0.tgz")).unwrap();
    let tgz_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tgz)));

    let (content_type, bytes) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    assert_eq!(manifest["layers"][0]["digest"], tgz_digest.as_str());
    assert_eq!(manifest["annotations"]["org.opencontainers.image.title"], "hello");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.version"], "0.1.0");
    let manifest_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    let reference = format!("{}/charts/hello:0.1.0", registry.host);
    assert_eq!(report.outputs["chart.hello.reference"], reference);
    assert_eq!(report.outputs["chart.hello.digest"], manifest_digest);
    assert!(first.summary("publish:oci-push:hello").starts_with(&format!("pushed {reference}@{manifest_digest}")));

    let again = push_run(&project, &registry.host, &writer(), "greeting: hello\n", false).await;
    assert!(again.result.is_ok());
    assert_eq!(
        again.summary("publish:oci-push:hello"),
        format!("{reference}@{manifest_digest} unchanged (already in the registry)")
    );

    // Different content under the same version: refused, unless overwriting is allowed.
    let changed = push_run(&project, &registry.host, &writer(), "greeting: changed\n", false).await;
    let failure = changed.result.expect_err("different content under an existing tag is refused");
    let (id, error) = &failure.failures[0];
    assert_eq!(id, "publish:oci-push:hello");
    assert!(error.message().contains("already exists with different content"), "{error}");
    assert!(error.help().unwrap().contains("allow-overwrite = true"), "{error}");
    let (_, still) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(still, bytes, "the refused push changed nothing");

    let overwritten = push_run(&project, &registry.host, &writer(), "greeting: changed\n", true).await;
    assert!(overwritten.result.is_ok());
    let (_, replaced) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_ne!(replaced, bytes);
}
