//! Helm charts to OCI registries, against the real CNCF registry (no auth, htpasswd, token
//! auth with our token server) and a GHCR-shaped responder.
//!
//! Every test runs the `release` binary: the probe in preflight, then the chart the package
//! stage wrote pushed to the real registry and fetched back, and with `[signing]` the chart's
//! cosign signature under its `sha256-<hex>.sig` tag, checked with the machine's `openssl`.

use base64::Engine as _;
use release_tests::Project;
use release_tests::helm::{HelmRegistry, helm_show_chart_with, shown_field};
use release_tests::registry::{Auth, GhcrLike, RecordingProxy, Registry, User};
use release_tests::{oci_digest as sha256, step_summary as summary};

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

/// Pulls `oci://HOST/charts/NAME:VERSION` with the real Helm (as `helm show chart` does, over
/// plain HTTP, as `user`) and checks that Helm loads it with the pushed name and version.
async fn helm_pulls(host: &str, user: Option<&User>, name: &str, version: &str) -> String {
    let reference = format!("oci://{host}/charts/{name}:{version}");
    let registry = HelmRegistry { plain_http: true, login: user.map(|u| (u.name.clone(), u.password.clone())) };
    let shown = tokio::task::spawn_blocking({
        let reference = reference.clone();
        move || helm_show_chart_with(&reference, &registry)
    })
    .await
    .unwrap()
    .unwrap_or_else(|err| panic!("Helm cannot pull and load {reference}: {err}"));
    assert_eq!(shown_field(&shown, "name").as_deref(), Some(name), "{shown}");
    assert_eq!(shown_field(&shown, "version").as_deref(), Some(version), "{shown}");
    shown
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

    // The push with the right credentials, pulled back by Helm with the same ones.
    with_user(project.release(["run"]), &writer()).run_async().await.success();
    helm_pulls(&registry.host, Some(&writer()), "hello", "0.1.0").await;
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

    // The push itself, pulled back by Helm anonymously.
    project.release(["run"]).run_async().await.success();
    helm_pulls(&registry.host, None, "hello", "0.1.0").await;
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

/// A release.toml pair whose variable is merely named like a GitHub token is not taken for
/// the workflow's `GITHUB_TOKEN`: the advice also covers a personal access token's scope.
#[tokio::test(flavor = "multi_thread")]
async fn a_password_env_named_my_github_token_is_not_the_workflow_token() {
    let ghcr = GhcrLike::start("permission_denied: write_package").await.unwrap();
    let project = project(&ghcr.host());
    project.config(&project.read("release.toml").replace(
        "plain-http = true\n",
        "plain-http = true\nusername-env = \"MY_GITHUB_USER\"\npassword-env = \"MY_GITHUB_TOKEN\"\n",
    ));
    let run = project
        .release(["run"])
        .env("MY_GITHUB_USER", "octocat")
        .env("MY_GITHUB_TOKEN", "ghp_configured0123456789")
        .run_async()
        .await;
    run.code(3)
        .stderr_has("username-env=MY_GITHUB_USER password-env=MY_GITHUB_TOKEN")
        .stderr_has("this is GHCR's write_package denial")
        .stderr_has("`write:packages` scope")
        .stderr_has("`permissions: packages: write`");
    assert!(!run.stderr.contains("ghp_configured0123456789"), "no value is printed");
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

// ---- the push itself, through the binary ----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn writer_pushes_the_packaged_chart_and_a_rerun_is_a_no_op() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let project = project(&registry.host);
    let run = with_user(project.release(["--json", "run"]), &writer()).run_async().await;
    run.success();
    let report = run.json();
    assert!(project.exists("built"), "the build ran");

    // The manifest as the registry has it: Helm's media types, the packaged .tgz as the layer.
    let (content_type, bytes) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    let tgz = std::fs::read(project.join("dist/hello-0.1.0.tgz")).unwrap();
    assert_eq!(manifest["layers"][0]["digest"], sha256(&tgz).as_str());
    assert_eq!(manifest["layers"][0]["size"], tgz.len());
    assert_eq!(manifest["annotations"]["org.opencontainers.image.title"], "hello");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.version"], "0.1.0");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.description"], "Says hello");
    // The config blob is the Chart.yaml metadata as JSON.
    let layer = registry.blob("charts/hello", &sha256(&tgz), Some(&reader())).await.unwrap();
    assert_eq!(layer, tgz, "the registry serves the packaged chart byte for byte");
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = registry.blob("charts/hello", config_digest, Some(&reader())).await.unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"apiVersion": "v2", "name": "hello", "version": "0.1.0", "description": "Says hello", "type": "application"})
    );

    let manifest_digest = sha256(&bytes);
    let reference = format!("{}/charts/hello:0.1.0", registry.host);
    assert_eq!(report["outputs"]["chart.hello.reference"], reference.as_str());
    assert_eq!(report["outputs"]["chart.hello.digest"], manifest_digest.as_str());
    let repository = format!("{}/charts/hello", registry.host);
    let pushed = summary(&report, "publish:oci-push:hello");
    assert!(
        pushed.starts_with(&format!("pushed {repository}@{manifest_digest} with environment variables")),
        "by digest, the publish stage makes nothing visible: {pushed}"
    );
    let tagged = summary(&report, "finalize:oci-tag:hello");
    assert!(tagged.starts_with(&format!("tagged {reference} as {manifest_digest} with ")), "{tagged}");
    let steps = report["steps"].to_string();
    assert!(!steps.contains("oci-signature"), "no [signing], no chart signature: {steps}");
    let shown = helm_pulls(&registry.host, Some(&reader()), "hello", "0.1.0").await;
    assert_eq!(shown_field(&shown, "description").as_deref(), Some("Says hello"), "{shown}");

    // The same project again: nothing changes in the registry.
    let again = with_user(project.release(["--json", "run"]), &writer()).run_async().await;
    again.success();
    assert_eq!(
        summary(&again.json(), "publish:oci-push:hello"),
        format!("{reference}@{manifest_digest} unchanged (already in the registry)")
    );
    assert_eq!(
        summary(&again.json(), "finalize:oci-tag:hello"),
        format!("{reference} already resolves to {manifest_digest} (unchanged)")
    );
    let (_, unchanged) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(unchanged, bytes);

    // Different content under the same version: refused, unless overwriting is allowed.
    project.file("charts/hello/values.yaml", "greeting: changed\n");
    let changed = with_user(project.release(["run"]), &writer()).run_async().await;
    changed
        .code(1)
        .stderr_has(&format!(
            "error: publish:oci-push:hello: chart `hello`: {reference} already exists with different content"
        ))
        .stderr_has("allow-overwrite = true");
    let (_, still) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(still, bytes, "the refused push changed nothing");

    project.config(&project.read("release.toml").replace("push = ", "allow-overwrite = true\npush = "));
    let overwritten = with_user(project.release(["run"]), &writer()).run_async().await;
    overwritten.success().stderr_has("exists with different content");
    let (_, replaced) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    let replaced: serde_json::Value = serde_json::from_slice(&replaced).unwrap();
    let tgz = std::fs::read(project.join("dist/hello-0.1.0.tgz")).unwrap();
    assert_eq!(replaced["layers"][0]["digest"], sha256(&tgz).as_str(), "the new package replaced the old one");
    helm_pulls(&registry.host, Some(&reader()), "hello", "0.1.0").await;
}

const COSIGN_PASSWORD: &str = "chart signing password";

/// `openssl dgst -sha256 -verify KEY -signature SIG.der` over `payload`, with the signature
/// given as cosign's base64 text.
pub(crate) fn openssl_verifies(public_key: &camino::Utf8Path, signature_base64: &str, payload: &[u8]) -> bool {
    let der = base64::engine::general_purpose::STANDARD.decode(signature_base64).expect("the signature is base64");
    let dir = tempfile::tempdir().unwrap();
    let (der_path, payload_path) = (dir.path().join("sig.der"), dir.path().join("payload.json"));
    std::fs::write(&der_path, der).unwrap();
    std::fs::write(&payload_path, payload).unwrap();
    let output = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", public_key.as_str(), "-signature"])
        .arg(&der_path)
        .arg(&payload_path)
        .output()
        .expect("the tests verify signatures with the machine's `openssl`: install it");
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains("Verified OK")
}

fn keygen(project: &Project, name: &str) {
    std::fs::create_dir_all(project.join("keys")).unwrap();
    let (key, public) = (format!("keys/{name}.key"), format!("keys/{name}.pub"));
    project
        .release(["keygen", "--output-key", key.as_str(), "--output-pub", public.as_str()])
        .env("COSIGN_PASSWORD", COSIGN_PASSWORD)
        .run()
        .success();
}

/// The `.sig` manifest of a chart digest and its signature layers: `(payload, signature)`.
async fn signatures(registry: &Registry, digest: &str) -> (Vec<u8>, Vec<(Vec<u8>, String)>) {
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let (content_type, bytes) = registry.manifest("charts/hello", &tag, Some(&reader())).await.unwrap();
    assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = registry.blob("charts/hello", config_digest, Some(&reader())).await.unwrap();
    serde_json::from_slice::<serde_json::Value>(&config).expect("the config blob is JSON");
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
        let signature = layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap().to_owned();
        let payload = registry.blob("charts/hello", layer["digest"].as_str().unwrap(), Some(&reader())).await.unwrap();
        layers.push((payload, signature));
    }
    (bytes, layers)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_chart_gets_a_cosign_signature_in_the_registry_that_openssl_verifies() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let project = project(&registry.host);
    project.config(&format!("{}\n[signing]\nkey = \"keys/cosign.key\"\n", project.read("release.toml")));
    keygen(&project, "cosign");
    let run = |project: &Project| {
        with_user(project.release(["--json", "run"]), &writer()).env("COSIGN_PASSWORD", COSIGN_PASSWORD)
    };

    let first = run(&project).run_async().await;
    first.success();
    let report = first.json();
    let digest = report["outputs"]["chart.hello.digest"].as_str().unwrap().to_owned();
    let (_, chart_manifest) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert_eq!(digest, sha256(&chart_manifest));
    let repository = format!("{}/charts/hello", registry.host);
    let signature_ref = format!("{repository}:sha256-{}.sig", digest.trim_start_matches("sha256:"));
    assert_eq!(report["outputs"]["chart.hello.signature"], signature_ref.as_str());
    let signed = summary(&report, "publish:oci-signature:hello");
    assert!(signed.starts_with(&format!("signed {repository}@{digest} as {signature_ref}@sha256:")), "{signed}");
    let pushed = summary(&report, "publish:oci-push:hello");
    assert!(pushed.starts_with(&format!("pushed {repository}@{digest} with ")), "by digest: {pushed}");
    let tagged = summary(&report, "finalize:oci-tag:hello");
    assert!(tagged.starts_with(&format!("tagged {repository}:0.1.0 as {digest}")), "{tagged}");
    assert_eq!(report["outputs"]["chart.hello.reference"], format!("{repository}:0.1.0").as_str());
    helm_pulls(&registry.host, Some(&reader()), "hello", "0.1.0").await;

    let (sig_manifest, layers) = signatures(&registry, &digest).await;
    assert_eq!(layers.len(), 1);
    let (payload, signature) = &layers[0];
    let payload_json: serde_json::Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(
        payload_json,
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": null,
        })
    );
    let public_key = project.join("keys/cosign.pub");
    assert!(openssl_verifies(&public_key, signature, payload), "openssl rejects the chart signature");
    assert!(!openssl_verifies(&public_key, signature, &chart_manifest), "the signature is over the payload only");

    // Again: the signature by this key is found and verified, nothing is pushed.
    let again = run(&project).run_async().await;
    again.success();
    let unchanged = summary(&again.json(), "publish:oci-signature:hello");
    assert!(unchanged.ends_with("(unchanged)"), "{unchanged}");
    assert!(unchanged.contains(&format!("already holds a signature of {repository}@{digest}")), "{unchanged}");
    assert_eq!(signatures(&registry, &digest).await.0, sig_manifest, "the .sig manifest is untouched");

    // Another key: its signature is added next to the first one, which stays.
    keygen(&project, "other");
    project.config(&project.read("release.toml").replace("keys/cosign.key", "keys/other.key"));
    let other = run(&project).run_async().await;
    other.success();
    assert!(summary(&other.json(), "publish:oci-signature:hello").starts_with("signed "));
    let (_, layers) = signatures(&registry, &digest).await;
    assert_eq!(layers.len(), 2, "both signatures are kept");
    assert_eq!(&layers[0].1, signature, "the first signature is kept as it was");
    assert!(openssl_verifies(&project.join("keys/other.pub"), &layers[1].1, &layers[1].0));
    assert!(!openssl_verifies(&public_key, &layers[1].1, &layers[1].0));
}

/// Two charts in directories of the same name (`charts/web`, `legacy/web`) keep one identity
/// each from `[[chart]]` to the registry: the package and push steps are named by the same
/// label, and each push takes its own package (the second chart is not the first one again).
#[tokio::test(flavor = "multi_thread")]
async fn two_charts_that_share_a_directory_name_each_push_their_own_package() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let host = &registry.host;
    let project = Project::new();
    project
        .config(&format!(
            "[project]\nversion = \"1.2.3\"\n\n\
             [[chart]]\npath = \"charts/web\"\npush = \"oci://{host}/charts\"\n\n\
             [[chart]]\npath = \"legacy/web\"\npush = \"oci://{host}/legacy\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n"
        ))
        .file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n")
        .file("charts/web/templates/cm.yaml", "kind: ConfigMap\n")
        .file("legacy/web/Chart.yaml", "apiVersion: v2\nname: old-web\nversion: 0.9.0\n")
        .file("legacy/web/templates/cm.yaml", "kind: Secret\n");

    let plan = project.release(["--json", "plan"]).run_async().await;
    plan.success();
    let ids: Vec<String> =
        plan.json()["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    for label in ["charts/web", "legacy/web"] {
        for kind in ["preflight:oci-push", "package:chart", "publish:oci-push"] {
            assert!(ids.contains(&format!("{kind}:{label}")), "{kind}:{label} in {ids:?}");
        }
    }

    let run = project.release(["run"]).run_async().await;
    run.success();
    let (_, first) = registry.manifest("charts/web", "1.0.0", None).await.unwrap();
    let (_, second) = registry.manifest("legacy/old-web", "0.9.0", None).await.unwrap();
    let layer = |manifest: &[u8]| {
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        manifest["layers"][0]["digest"].as_str().unwrap().to_owned()
    };
    let digest = |file: &str| sha256(&project.read_bytes(file));
    assert_eq!(layer(&first), digest("dist/web-1.0.0.tgz"), "charts/web pushed its own package");
    assert_eq!(layer(&second), digest("dist/old-web-0.9.0.tgz"), "legacy/web pushed its own package");
}
