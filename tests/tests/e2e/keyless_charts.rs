//! Keyless charts (issue 13, item 3): the chart's signature and the run's build provenance as
//! OCI 1.1 referrers in cosign v3's layout, in the real registry (distribution, which has no
//! referrers API, so the `sha256-<hex>` index lists them), each bundle checked by
//! sigstore-python against the chart manifest the registry serves; the chart is a subject of
//! the provenance by its manifest digest; a re-run adds no referrer, attestation or asset.

use camino::Utf8PathBuf;
use release_tests::registry::{Auth, Registry};
use release_tests::sigstore::{self, SigstoreServers, Workflow};
use release_tests::{Finished, oci_digest as sha256, step_summary as summary};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN: &str = "https://sigstore.dev/cosign/sign/v1";
const SLSA: &str = "https://slsa.dev/provenance/v1";

/// The GitHub test project with a chart pushed to `registry` and keyless signing with
/// provenance against the test Sigstore.
fn project(servers: &SigstoreServers, registry: &Registry, provenance: bool) -> release_tests::Project {
    let project = crate::github::project("");
    let config = project.read("release.toml");
    let host = &registry.host;
    project
        .config(&format!(
            "{config}\n[[chart]]\npath = \"charts/web\"\npush = \"oci://{host}/charts\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n\n\
             [signing]\nmode = \"keyless\"\nprovenance = {provenance}\n\
             signing-config = \"sigstore/signing_config.json\"\ntrusted-root = \"sigstore/trusted_root.json\"\n"
        ))
        .file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.4.0\ndescription: The web tier\n")
        .file("charts/web/values.yaml", "replicaCount: 1\n")
        .file("charts/web/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n");
    servers.write_trust_files(&project.join("sigstore"));
    project
}

async fn run(
    project: &release_tests::Project,
    github: &release_tests::github_server::GithubServer,
    servers: &SigstoreServers,
) -> release_tests::Finished {
    run_with(project, github, servers, &[]).await
}

async fn run_with(
    project: &release_tests::Project,
    github: &release_tests::github_server::GithubServer,
    servers: &SigstoreServers,
    extra: &[(&str, &str)],
) -> release_tests::Finished {
    let mut command = project.release(["--json", "run"]);
    for (name, value) in extra {
        command = command.env(name, *value);
    }
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "7001")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_TOKEN", crate::github::TOKEN)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", servers.token_request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", servers.token_request_token())
        .run_async()
        .await
}

/// One referrer as the registry serves it: its manifest and its bundle.
struct Served {
    digest: String,
    manifest: serde_json::Value,
    bundle: Vec<u8>,
}

/// The referrers the `sha256-<hex>` index of `chart_digest` lists, each read back.
async fn referrers(registry: &Registry, chart_digest: &str) -> Vec<Served> {
    let tag = chart_digest.replace(':', "-");
    let (content_type, bytes) = registry.manifest_as("charts/web", &tag, INDEX, None).await.unwrap();
    assert_eq!(content_type, INDEX, "the fallback tag holds an image index");
    let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut served = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        assert_eq!(entry["artifactType"], BUNDLE, "{entry}");
        let digest = entry["digest"].as_str().unwrap().to_owned();
        let (_, bytes) = registry.manifest("charts/web", &digest, None).await.unwrap();
        assert_eq!(sha256(&bytes), digest);
        assert_eq!(entry["size"], bytes.len());
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(manifest["artifactType"], BUNDLE);
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
        assert_eq!(
            registry.blob("charts/web", manifest["config"]["digest"].as_str().unwrap(), None).await.unwrap(),
            b"{}"
        );
        assert_eq!(manifest["subject"]["digest"], chart_digest, "a referrer of the chart manifest");
        assert_eq!(manifest["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
        assert_eq!(entry["annotations"], manifest["annotations"], "the index entry carries the annotations");
        assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
        assert_eq!(manifest["layers"][0]["mediaType"], BUNDLE);
        let bundle =
            registry.blob("charts/web", manifest["layers"][0]["digest"].as_str().unwrap(), None).await.unwrap();
        served.push(Served { digest, manifest, bundle });
    }
    served
}

/// `release verify --repo acme/hello … oci://HOST/charts/web:0.4.0`, as a user checks a chart.
fn verify_chart(project: &release_tests::Project, host: &str, repo: &str) -> release_tests::Finished {
    let root = project.join("sigstore/trusted_root.json");
    project
        .release(["verify", "--plain-http", "--repo", repo, "--trusted-root", root.as_str()])
        .arg(format!("oci://{host}/charts/web:0.4.0"))
        .run()
}

fn predicate(served: &Served) -> &str {
    served.manifest["annotations"]["dev.sigstore.bundle.predicateType"].as_str().unwrap_or_default()
}

/// A whole keyless release with a chart: bundles and the provenance on the GitHub release, the
/// attestation on GitHub, the chart with its signature and provenance referrers in the real
/// registry, each verified by sigstore-python against the manifest the registry serves; Helm
/// pulls the chart; a re-run converges.
#[tokio::test(flavor = "multi_thread")]
async fn a_keyless_chart_gets_its_signature_and_provenance_as_referrers_and_a_rerun_adds_none() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let (servers, github) = crate::keyless::attesting();
    let project = project(&servers, &registry, true);
    // The first run fails at the undraft, after everything was published (not visible yet).
    use release_tests::github_server::{Fault, FaultAction, Route};
    github.inject(Fault::new(Route::UpdateRelease, 1, FaultAction::status(502)).always());
    let failed = run(&project, &github, &servers).await;
    failed.code(1);
    crate::github::said(&failed, "error: finalize:github-release: cannot publish the release in acme/hello");
    assert!(registry.manifest("charts/web", "0.4.0", None).await.is_err(), "the chart version is not tagged");
    let attached = summary(&Finished::json(&failed), "publish:oci-referrers:web");
    assert!(attached.contains("as 2 new referrer(s)"), "{attached}");
    github.clear_faults();

    // The re-run finishes it: new signatures are made (for the draft's assets), but what the
    // registry holds already is found and kept.
    let first = run(&project, &github, &servers).await;
    first.success();
    let report = Finished::json(&first);

    // The chart under its tag, and what the run says it signed.
    let (_, chart_manifest) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    let chart_digest = sha256(&chart_manifest);
    let at = format!("{}/charts/web@{chart_digest}", registry.host);
    assert!(summary(&report, "sign:oci-signature:web").starts_with(&format!("signed {at} keyless as ")));
    assert!(
        summary(&report, "verify:oci-signature:web").starts_with(&format!("the registry signature of {at} verified"))
    );
    assert!(
        attached.starts_with(&format!("attached the signature and provenance of {at} as 2 new referrer(s)")),
        "{attached}"
    );
    assert!(attached.contains(&format!("listed in {}/charts/web:sha256-", registry.host)), "{attached}");
    assert_eq!(
        summary(&report, "publish:oci-referrers:web"),
        format!(
            "{at} already has its signature and provenance attached (unchanged; listed in {}/charts/web:{})",
            registry.host,
            chart_digest.replace(':', "-")
        )
    );

    // The referrers, as distribution serves them through the tag schema.
    let served = referrers(&registry, &chart_digest).await;
    let mut kinds: Vec<&str> = served.iter().map(predicate).collect();
    kinds.sort();
    assert_eq!(kinds, [SIGN, SLSA]);
    assert_eq!(report["outputs"]["chart.web.signature"], format!("{}/charts/web@{}", registry.host, served[0].digest));

    // sigstore-python checks each bundle against the manifest bytes the registry serves.
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    let trust = servers.write_trust_files(&dir.join("trust"));
    let manifest_file = dir.join("chart-manifest.json");
    std::fs::write(&manifest_file, &chart_manifest).unwrap();
    let tampered = dir.join("tampered-manifest.json");
    std::fs::write(&tampered, String::from_utf8_lossy(&chart_manifest).replace("The web tier", "The web tieR"))
        .unwrap();
    let san = servers.workflow().san();
    for referrer in &served {
        let bundle = dir.join(format!("{}.sigstore.json", referrer.digest.replace(':', "-")));
        std::fs::write(&bundle, &referrer.bundle).unwrap();
        let (ok, out) = sigstore::python_verify_github(&trust, &bundle, &san, crate::github::REPO, &manifest_file);
        assert!(ok, "{}: sigstore-python refuses the referrer's bundle:\n{out}", predicate(referrer));
        let (ok, _) = sigstore::python_verify_github(&trust, &bundle, &san, "acme/other", &manifest_file);
        assert!(!ok, "another repository must fail");
        let (ok, _) = sigstore::python_verify_github(&trust, &bundle, &san, crate::github::REPO, &tampered);
        assert!(!ok, "a bundle about the manifest does not vouch for other bytes");
    }

    // The provenance names the chart by its manifest digest, beside the files.
    let line = project.read("dist/provenance.intoto.jsonl");
    let bundle: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    use base64::Engine as _;
    let payload =
        base64::engine::general_purpose::STANDARD.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let chart_subject = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == format!("{}/charts/web", registry.host))
        .expect("the chart is a subject");
    assert_eq!(chart_subject["digest"]["sha256"], chart_digest.trim_start_matches("sha256:"));
    assert!(summary(&report, "verify:provenance").contains("or chart manifest"));

    // GitHub: the release and its attestation.
    let release = crate::github::the_release(&github);
    assert!(!release.draft);
    let names: Vec<String> = release.assets.iter().map(|a| a.name.clone()).collect();
    for expected in ["web-0.4.0.tgz", "web-0.4.0.tgz.sigstore.json", "provenance.intoto.jsonl"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }

    // The real Helm pulls the chart: the referrers and their tag do not get in its way.
    let reference = format!("oci://{}/charts/web:0.4.0", registry.host);
    let shown = tokio::task::spawn_blocking(move || {
        release_tests::helm::helm_show_chart_with(
            &reference,
            &release_tests::helm::HelmRegistry { plain_http: true, login: None },
        )
    })
    .await
    .unwrap()
    .expect("Helm pulls and loads the chart");
    assert_eq!(release_tests::helm::shown_field(&shown, "version").as_deref(), Some("0.4.0"));

    // Users check the chart where it is, with `release verify`: the signature and the
    // provenance attached to it, for this repository's workflow; another repository fails.
    let san = servers.workflow().san();
    verify_chart(&project, &registry.host, crate::github::REPO).success().stdout_has(&format!(
        "ok      oci://{}/charts/web:0.4.0 ({chart_digest}, signed by {san}; build provenance by {san})",
        registry.host
    ));
    verify_chart(&project, &registry.host, "acme/other").code(1).stdout_has(&format!(
        "FAILED  oci://{}/charts/web:0.4.0: no signature of {chart_digest} verifies",
        registry.host
    ));

    let mut names: Vec<String> = release.assets.iter().map(|a| a.name.clone()).collect();
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "no duplicate asset: {names:?}");
    assert_eq!(github.attestations(crate::github::REPO).len(), 1, "no duplicate attestation");

    // Once more, after the release succeeded: nothing changes anywhere.
    let third = run(&project, &github, &servers).await;
    third.success();
    let report = Finished::json(&third);
    assert!(summary(&report, "publish:github-release").starts_with("already released: "));
    assert!(
        summary(&report, "publish:oci-referrers:web").contains("already has its signature and provenance attached")
    );
    let again: Vec<String> = referrers(&registry, &chart_digest).await.into_iter().map(|r| r.digest).collect();
    assert_eq!(again, served.iter().map(|r| r.digest.clone()).collect::<Vec<_>>(), "no referrer was added");
    assert_eq!(github.attestations(crate::github::REPO).len(), 1, "no duplicate attestation");
    let assets: Vec<(String, Vec<u8>)> =
        crate::github::the_release(&github).assets.iter().map(|a| (a.name.clone(), a.bytes.clone())).collect();
    let before: Vec<(String, Vec<u8>)> = release.assets.iter().map(|a| (a.name.clone(), a.bytes.clone())).collect();
    assert_eq!(assets, before, "the published release is unchanged");
}

/// Without provenance the chart still gets its keyless signature, and only that.
#[tokio::test(flavor = "multi_thread")]
async fn without_provenance_a_keyless_chart_gets_its_signature_referrer_only() {
    use release_tests::github_server::Visibility;
    let registry = Registry::start(Auth::None).await.unwrap();
    let servers = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let github = crate::github::server_with(crate::github::TOKEN, crate::github::writer(), Visibility::Public);
    let project = project(&servers, &registry, false);
    let run = run(&project, &github, &servers).await;
    run.success();
    let (_, chart_manifest) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    let served = referrers(&registry, &sha256(&chart_manifest)).await;
    assert_eq!(served.iter().map(predicate).collect::<Vec<_>>(), [SIGN]);
    assert!(!Finished::json(&run)["steps"].to_string().contains("publish:attestation"));
    let verified = verify_chart(&project, &registry.host, crate::github::REPO);
    verified.success().stdout_has(&format!("signed by {})", servers.workflow().san()));
    assert!(!verified.stdout.contains("build provenance"), "{}", verified.stdout);
}

/// A registry with the referrers API (the real registry behind a proxy that adds the API as
/// the OCI distribution spec 1.1 describes it): the referrers are pushed by digest and the
/// registry lists them; no `sha256-<hex>` fallback tag is written; a re-run finds them through
/// the API and adds none.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_with_the_referrers_api_lists_the_referrers_and_gets_no_fallback_tag() {
    use release_tests::registry::RecordingProxy;
    let registry = Registry::start(Auth::None).await.unwrap();
    let proxy = RecordingProxy::start_with_referrers_api(&registry.host).await.unwrap();
    let (servers, github) = crate::keyless::attesting();
    // The project talks to the proxy; the proxy's registry stores everything.
    let project = project(&servers, &registry, true);
    project.config(&project.read("release.toml").replace(&registry.host, &proxy.host()));
    let first = run(&project, &github, &servers).await;
    first.success();
    let report = Finished::json(&first);
    let (_, chart_manifest) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    let chart_digest = sha256(&chart_manifest);
    let attached = summary(&report, "publish:oci-referrers:web");
    assert!(
        attached.contains("as 2 new referrer(s)") && attached.ends_with("the referrers API lists them)"),
        "{attached}"
    );

    let listed = proxy.referrers("charts/web", &chart_digest);
    let mut kinds: Vec<&str> =
        listed.iter().map(|d| d["annotations"]["dev.sigstore.bundle.predicateType"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, [SIGN, SLSA]);
    for descriptor in &listed {
        let (_, bytes) = registry.manifest("charts/web", descriptor["digest"].as_str().unwrap(), None).await.unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(manifest["subject"]["digest"], chart_digest.as_str());
    }
    let fallback = registry.manifest_as("charts/web", &chart_digest.replace(':', "-"), INDEX, None).await;
    assert!(fallback.is_err(), "no fallback tag where the registry has the API: {fallback:?}");
    let asked: Vec<String> = proxy.received.requests().iter().map(|r| r.uri.clone()).collect();
    assert!(asked.iter().any(|u| u.starts_with(&format!("/v2/charts/web/referrers/{chart_digest}"))), "{asked:?}");

    let again = run(&project, &github, &servers).await;
    again.success();
    let unchanged = summary(&Finished::json(&again), "publish:oci-referrers:web");
    assert!(unchanged.contains("already has its signature and provenance attached"), "{unchanged}");
    assert_eq!(proxy.referrers("charts/web", &chart_digest).len(), 2, "no referrer was added");
    // `release verify` finds them through the API too.
    verify_chart(&project, &proxy.host(), crate::github::REPO).success().stdout_has("build provenance by");
}

/// The version tag holds the same chart under other annotations (pushed earlier with a
/// `created` time, as Helm writes one): a keyless run signs the manifest it pushes, so it
/// pushes its own, attaches the referrers to it and moves the tag to it at the finalize
/// stage, warning once; the chart content is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn a_tag_holding_the_chart_under_other_annotations_moves_to_the_signed_manifest() {
    use release_tests::github_server::{Level, Visibility};
    let registry = Registry::start(Auth::None).await.unwrap();
    let servers = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let project = project(&servers, &registry, false);
    // An earlier, unsigned release of the same chart, its manifest stamped with a time.
    let keyless = project.read("release.toml");
    let signing_at = keyless.find("[signing]").unwrap();
    project.config(&keyless[..signing_at]);
    let earlier = crate::github::server_with(crate::github::TOKEN, crate::github::writer(), Visibility::Public);
    let first = project
        .release(["run"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_API_URL", earlier.api_url())
        .env("GITHUB_TOKEN", crate::github::TOKEN)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run_async()
        .await;
    first.success();
    let (_, stamped) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    assert!(String::from_utf8_lossy(&stamped).contains("org.opencontainers.image.created"));
    project.config(&keyless);
    verify_chart(&project, &registry.host, crate::github::REPO).code(1).stdout_has(&format!(
        "{} has no signature attached (no Sigstore bundle of https://sigstore.dev/cosign/sign/v1 among its referrers)",
        sha256(&stamped)
    ));

    project.config(&keyless);
    let github = crate::github::server_with(
        crate::github::TOKEN,
        crate::github::writer().permission("attestations", Level::Write),
        Visibility::Public,
    );
    let run = run(&project, &github, &servers).await;
    run.success();
    let (_, tagged) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    assert_ne!(tagged, stamped, "the tag names the signed manifest now");
    let digest = sha256(&tagged);
    crate::github::said(
        &run,
        &format!(
            "{}/charts/web:0.4.0 holds the same chart as {} under other annotations; this run signed {digest}",
            registry.host,
            sha256(&stamped)
        ),
    );
    let (old, new): (serde_json::Value, serde_json::Value) =
        (serde_json::from_slice(&stamped).unwrap(), serde_json::from_slice(&tagged).unwrap());
    assert_eq!(old["layers"], new["layers"], "the same chart package");
    let served = referrers(&registry, &digest).await;
    assert_eq!(served.iter().map(predicate).collect::<Vec<_>>(), [SIGN]);
}

/// The registry keeps failing the referrers index (503 on every `PUT` of the `sha256-<hex>`
/// tag): retried, then exit 1 at `publish:oci-referrers`, the chart untagged and nothing
/// published on GitHub, with the fix; the re-run attaches the referrers, lists each once and
/// tags the chart. One 503 alone is ridden out.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_failing_the_referrers_index_leaves_the_chart_untagged_and_a_rerun_finishes() {
    use release_tests::fault_proxy::{FaultProxy, ProxyAction, ProxyFault};
    let registry = Registry::start(Auth::None).await.unwrap();
    let proxy = FaultProxy::start(&registry.host);
    let (servers, github) = crate::keyless::attesting();
    let project = project(&servers, &registry, true);
    project.config(&project.read("release.toml").replace(&registry.host, &proxy.host()));
    let index_put = ProxyFault::new("PUT", "/manifests/sha256-", 1, ProxyAction::status(503));
    proxy.inject(index_put.clone().always());
    let failed = run(&project, &github, &servers).await;
    failed.code(1);
    crate::github::said(&failed, "error: publish:oci-referrers:web: the referrers of chart `web`: ");
    crate::github::said(&failed, "(gave up after 3 attempts)");
    crate::github::said(&failed, "but not tagged `0.4.0`, so nobody pulls it unsigned");
    crate::github::said(&failed, "Run the release again: what is attached already is found and kept");
    assert!(registry.manifest("charts/web", "0.4.0", None).await.is_err(), "the chart is not tagged");
    let releases = github.releases(crate::github::REPO);
    assert!(releases.iter().all(|r| r.draft), "nothing published on GitHub: {releases:#?}");

    proxy.clear_faults();
    proxy.inject(index_put);
    let rerun = run(&project, &github, &servers).await;
    rerun.success();
    crate::github::said(&rerun, "after 503");
    let (_, manifest) = registry.manifest("charts/web", "0.4.0", None).await.unwrap();
    let served = referrers(&registry, &sha256(&manifest)).await;
    let mut kinds: Vec<&str> = served.iter().map(predicate).collect();
    kinds.sort();
    assert_eq!(kinds, [SIGN, SLSA], "each listed once");
    assert!(!crate::github::the_release(&github).draft);
}

/// Something other than a referrers index under the chart's `sha256-<hex>` tag (another
/// tool's manifest) is reported and left alone, as the distribution spec asks: exit 1 before
/// the chart is tagged, naming the tag and the fix.
#[tokio::test(flavor = "multi_thread")]
async fn a_fallback_tag_holding_something_else_is_reported_and_left_alone() {
    use release_tests::fault_proxy::{FaultProxy, ProxyAction, ProxyFault};
    let registry = Registry::start(Auth::None).await.unwrap();
    let proxy = FaultProxy::start(&registry.host);
    let (servers, github) = crate::keyless::attesting();
    let project = project(&servers, &registry, false);
    project.config(&project.read("release.toml").replace(&registry.host, &proxy.host()));
    // A first run stops before the referrers: the chart is in the registry by digest.
    proxy.inject(ProxyFault::new("GET", "/referrers/", 1, ProxyAction::status(400)).always());
    let stopped = run(&project, &github, &servers).await;
    stopped.code(1);
    let digest = Finished::json(&stopped)["outputs"]["chart.web.digest"].as_str().unwrap().to_owned();
    proxy.clear_faults();
    // Another tool's manifest under the fallback tag: the chart manifest itself.
    let (_, manifest) = registry.manifest("charts/web", &digest, None).await.unwrap();
    let tag = digest.replace(':', "-");
    let put = reqwest::Client::new()
        .put(format!("{}/v2/charts/web/manifests/{tag}", registry.url()))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let refused = run(&project, &github, &servers).await;
    refused.code(1);
    crate::github::said(&refused, &format!("{}/charts/web:{tag} ({digest}) is not a referrers index", proxy.host()));
    crate::github::said(&refused, "Delete that tag in the registry");
    let (_, still) = registry.manifest("charts/web", &tag, None).await.unwrap();
    assert_eq!(still, manifest, "the tag is left as it was");
    assert!(registry.manifest("charts/web", "0.4.0", None).await.is_err(), "the chart is not tagged");
}

/// A registry with token auth (the real registry and our token server): the referrers go
/// with the same push token as the chart, the referrers API probe included, and a re-run
/// reads them back with it.
#[tokio::test(flavor = "multi_thread")]
async fn referrers_go_with_the_charts_push_token_on_a_token_registry() {
    use release_tests::registry::User;
    let writer = User::new("writer", "writer-password", &["pull", "push"]);
    let registry = Registry::start(Auth::Token(vec![writer.clone()])).await.unwrap();
    let (servers, github) = crate::keyless::attesting();
    let project = project(&servers, &registry, true);
    let login =
        [("HELM_REGISTRY_USERNAME", writer.name.as_str()), ("HELM_REGISTRY_PASSWORD", writer.password.as_str())];
    let first = run_with(&project, &github, &servers, &login).await;
    first.success();
    let (_, manifest) = registry.manifest("charts/web", "0.4.0", Some(&writer)).await.unwrap();
    let digest = sha256(&manifest);
    let tag = digest.replace(':', "-");
    let (_, index) = registry.manifest_as("charts/web", &tag, INDEX, Some(&writer)).await.unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
    let again = run_with(&project, &github, &servers, &login).await;
    again.success();
    assert!(
        summary(&Finished::json(&again), "publish:oci-referrers:web")
            .contains("already has its signature and provenance attached")
    );

    // `release verify` reads the private registry with the same credential chain; without
    // credentials the registry refuses, and that is what the line says.
    let root = project.join("sigstore/trusted_root.json");
    let chart = format!("oci://{}/charts/web:0.4.0", registry.host);
    let verify = || {
        project
            .release(["verify", "--plain-http", "--repo", crate::github::REPO, "--trusted-root", root.as_str()])
            .arg(&chart)
    };
    verify()
        .env("HELM_REGISTRY_USERNAME", &writer.name)
        .env("HELM_REGISTRY_PASSWORD", &writer.password)
        .run()
        .success()
        .stdout_has(&format!("ok      {chart} ({digest}, signed by "));
    verify().run().code(1).stdout_has(&format!("FAILED  {chart}: cannot read the manifest of "));
}
