//! A flaky network between the release tool and the real CNCF registry, through the binary:
//! `release run` packages a chart and pushes it to `oci://PROXY/charts`, where PROXY is
//! `release_tests::fault_proxy` in front of `docker-registry`.
//!
//! The same three rows as for GitHub (`docs/reliability.md`): the fault once → the chart is
//! in the registry, byte for byte the packaged one; the fault every time → exit 1, no tag in
//! the registry, a message that says what failed and how to resume; a re-run without the
//! fault → the chart is there. What the registry holds is read from it directly, not through
//! the proxy.

use release_tests::fault_proxy::{FaultProxy, ProxyAction, ProxyFault};
use release_tests::registry::{Auth, Registry};
use release_tests::{Finished, Project};

const REPOSITORY: &str = "charts/hello";
const TAG: &str = "0.1.0";

/// A chart whose package is large enough (well over 64 KiB) to be cut mid-blob.
fn project(host: &str) -> Project {
    let project = Project::new();
    // Letters from a fixed pseudo-random sequence: gzip cannot shrink them much.
    let mut seed = 0x2545_f491_u32;
    let filler: String = (0..200_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            char::from(b'a' + (seed % 26) as u8)
        })
        .collect();
    project
        .config(&format!(
            "[project]\nversion = \"1.2.3\"\n\n[[chart]]\npath = \"charts/hello\"\npush = \"oci://{host}/charts\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n\n\
             [network]\nattempts = 3\nbackoff-ms = 20\nstall-timeout-secs = 2\n"
        ))
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\ntype: application\n")
        .file("charts/hello/values.yaml", "greeting: hello\n")
        .file("charts/hello/files/filler.txt", filler);
    project
}

async fn run(project: &Project) -> Finished {
    project.release(["run", "--verbose"]).run_async().await
}

#[track_caller]
fn said(run: &Finished, needle: &str) {
    assert!(
        run.stdout.contains(needle) || run.stderr.contains(needle),
        "the run never said {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout,
        run.stderr
    );
}

/// The chart as the registry holds it: the manifest's layer is the packaged file, byte for
/// byte.
async fn assert_chart_in_registry(registry: &Registry, project: &Project) {
    let (_, manifest) = registry.manifest(REPOSITORY, TAG, None).await.expect("the tag exists in the registry");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let digest = layers[0]["digest"].as_str().unwrap();
    let blob = reqwest::get(format!("{}/v2/{REPOSITORY}/blobs/{digest}", registry.url()))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let local = std::fs::read(project.join("dist/hello-0.1.0.tgz")).expect("the packaged chart");
    assert!(local.len() > 64 * 1024, "the chart is big enough to be cut: {} bytes", local.len());
    assert!(blob.as_ref() == local.as_slice(), "the registry's layer differs from dist/hello-0.1.0.tgz");
}

/// The fault once: the push completes. Returns the run and the proxy.
async fn completes_despite(fault: ProxyFault) -> (Finished, FaultProxy) {
    let registry = Registry::start(Auth::None).await.unwrap();
    let proxy = FaultProxy::start(&registry.host);
    proxy.inject(fault);
    let project = project(&proxy.host());
    let run = run(&project).await;
    run.success();
    assert_chart_in_registry(&registry, &project).await;
    (run, proxy)
}

/// The fault every time: a clean failure with nothing tagged; then a re-run converges.
async fn fails_cleanly_then_converges(fault: ProxyFault, says: &[&str]) {
    let registry = Registry::start(Auth::None).await.unwrap();
    let proxy = FaultProxy::start(&registry.host);
    proxy.inject(fault.always());
    let project = project(&proxy.host());
    let failed = run(&project).await;
    failed.code(1);
    for needle in says {
        said(&failed, needle);
    }
    said(&failed, "(gave up after 3 attempts)");
    said(&failed, "run the release again");
    assert!(registry.manifest(REPOSITORY, TAG, None).await.is_err(), "nothing was tagged");

    proxy.clear_faults();
    run(&project).await.success();
    assert_chart_in_registry(&registry, &project).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_502_on_the_blob_upload() {
    // The layer is the first blob uploaded, in one PUT (monolithic push).
    let fault = ProxyFault::new("PUT", "/blobs/uploads/", 1, ProxyAction::status(502));
    let (run, _) = completes_despite(fault.clone()).await;
    said(&run, "retrying the upload of hello-0.1.0.tgz after 502 ");
    fails_cleanly_then_converges(fault, &["publish:oci-push:hello"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_on_the_manifest() {
    let fault = ProxyFault::new("PUT", "/manifests/", 1, ProxyAction::status(503));
    let (run, _) = completes_despite(fault.clone()).await;
    said(&run, "retrying PUT the manifest of ");
    fails_cleanly_then_converges(fault, &["publish:oci-push:hello"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_retry_after_on_a_blob_check() {
    // Twice: oci-client's `HEAD`, whose answer's headers it drops, and ours of the same URL,
    // which reads the `Retry-After` (a rate-limited registry limits both).
    let fault = ProxyFault::new("HEAD", "/blobs/sha256:", 1, ProxyAction::too_many_requests(1)).times(2);
    let (run, _) = completes_despite(fault.clone()).await;
    said(&run, "retrying HEAD the blob sha256:");
    said(&run, "after 429 Too Many Requests (attempt 2/3) in 1.0s, as the server asked");
    fails_cleanly_then_converges(fault, &["publish:oci-push:hello"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_502_on_the_probes_upload_session() {
    // The probe's own request (reqwest, not oci-client) sees the answer's headers.
    let fault = ProxyFault::new("POST", "/blobs/uploads/", 1, ProxyAction::status(502));
    let (run, _) = completes_despite(fault).await;
    said(&run, "retrying POST http://");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_mid_blob() {
    let fault = ProxyFault::new("PUT", "/blobs/uploads/", 1, ProxyAction::ResetAfter { bytes: 16 * 1024 });
    let (run, proxy) = completes_despite(fault.clone()).await;
    said(&run, "retrying the upload of hello-0.1.0.tgz after ");
    let cut = proxy.requests().iter().filter(|r| matches!(r.fault, Some(ProxyAction::ResetAfter { .. }))).count();
    assert_eq!(cut, 1);
    fails_cleanly_then_converges(fault, &["publish:oci-push:hello"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_blob_upload() {
    let fault = ProxyFault::new("PUT", "/blobs/uploads/", 1, ProxyAction::Stall { after_bytes: 16 * 1024 });
    let (run, _) = completes_despite(fault.clone()).await;
    said(&run, "retrying the upload of hello-0.1.0.tgz after ");
    fails_cleanly_then_converges(fault, &["publish:oci-push:hello"]).await;
}

/// The chart's cosign signature (`publish:oci-signature:hello`) under the same faults: its
/// blobs and its manifest go through the proxy like the chart's. The chart is pushed first
/// (its layer and config are the first two blob `PUT`s), then the signature: its payload is
/// the third blob `PUT`, its config the fourth, its manifest the `PUT` under `sha256-….sig`.
mod signature {
    use super::*;

    const PASSWORD: &str = "signature fault password";
    /// The signature's manifest, and only it: the chart's manifest goes by digest
    /// (`/manifests/sha256:…`), then under `0.1.0`.
    const SIG_MANIFEST: &str = "/manifests/sha256-";
    /// The chart's version tag, and only it.
    const TAG_MANIFEST: &str = "/manifests/0.1.0";
    /// Blob uploads: the chart's two come first.
    const BLOB_UPLOAD: &str = "/blobs/uploads/";
    const SIG_PAYLOAD_UPLOAD: usize = 3;

    /// The registry project, signed with a key made for it.
    fn signed_project(host: &str) -> Project {
        let project = project(host);
        project.config(&format!(
            "{}\n[signing]\nkey = \"keys/cosign.key\"\npublic-key = \"keys/cosign.pub\"\n",
            project.read("release.toml")
        ));
        std::fs::create_dir_all(project.join("keys")).unwrap();
        project
            .release(["keygen", "--output-key", "keys/cosign.key", "--output-pub", "keys/cosign.pub"])
            .env("COSIGN_PASSWORD", PASSWORD)
            .run()
            .success();
        project
    }

    async fn run_signed(project: &Project) -> Finished {
        project.release(["run", "--verbose"]).env("COSIGN_PASSWORD", PASSWORD).run_async().await
    }

    /// The `.sig` tag of the chart's manifest digest, as the registry itself answers.
    async fn signature_tag(registry: &Registry) -> String {
        let (_, chart_manifest) = registry.manifest(REPOSITORY, TAG, None).await.expect("the chart is tagged");
        format!("sha256-{}.sig", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&chart_manifest)))
    }

    /// Exactly one signature, by the project's key, over a payload naming the chart's digest;
    /// the repository holds the chart's tag and the `.sig` tag and nothing else.
    async fn assert_signed_once(registry: &Registry, project: &Project) {
        assert_chart_in_registry(registry, project).await;
        let tag = signature_tag(registry).await;
        let chart_digest = tag.trim_end_matches(".sig").replacen('-', ":", 1);
        let (content_type, bytes) = registry.manifest(REPOSITORY, &tag, None).await.expect("the .sig tag exists");
        assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "exactly one signature: {manifest}");
        let payload = registry.blob(REPOSITORY, layers[0]["digest"].as_str().unwrap(), None).await.unwrap();
        let payload_json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(payload_json["critical"]["image"]["docker-manifest-digest"], chart_digest.as_str());
        let signature = layers[0]["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap();
        assert!(
            crate::oci::openssl_verifies(&project.join("keys/cosign.pub"), signature, &payload),
            "openssl rejects the signature"
        );
        let tags: serde_json::Value =
            reqwest::get(format!("{}/v2/{REPOSITORY}/tags/list", registry.url())).await.unwrap().json().await.unwrap();
        let mut tags: Vec<&str> = tags["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        tags.sort();
        assert_eq!(tags, [TAG, tag.as_str()]);
    }

    /// The fault once: the run completes, the chart signed once.
    async fn signed_despite(faults: &[ProxyFault]) -> Finished {
        let registry = Registry::start(Auth::None).await.unwrap();
        let proxy = FaultProxy::start(&registry.host);
        for fault in faults {
            proxy.inject(fault.clone());
        }
        let project = signed_project(&proxy.host());
        let run = run_signed(&project).await;
        run.success();
        assert_signed_once(&registry, &project).await;
        run
    }

    /// The tags of the chart's repository, as the registry lists them (none: a 404, or null).
    async fn tags(registry: &Registry) -> Vec<String> {
        let response = reqwest::get(format!("{}/v2/{REPOSITORY}/tags/list", registry.url())).await.unwrap();
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Vec::new();
        }
        let tags: serde_json::Value = response.error_for_status().unwrap().json().await.unwrap();
        let mut tags: Vec<String> =
            tags["tags"].as_array().into_iter().flatten().map(|t| t.as_str().unwrap().to_owned()).collect();
        tags.sort();
        tags
    }

    /// The version tag is absent: `GET /v2/<name>/manifests/0.1.0` → 404 `MANIFEST_UNKNOWN`.
    async fn assert_not_tagged(registry: &Registry) {
        match registry.manifest(REPOSITORY, TAG, None).await {
            Ok(_) => panic!("{REPOSITORY}:{TAG} is in the registry without its signature"),
            Err(err) => {
                let err = err.to_string();
                assert!(err.contains("404") && err.contains("MANIFEST_UNKNOWN"), "{err}");
            }
        }
    }

    /// The chart manifest digest the push step reported (`…/charts/hello@sha256:<hex>`).
    fn pushed_digest(run: &Finished) -> String {
        let at = run.stderr.find("/charts/hello@sha256:").expect("the push step names the digest");
        let start = at + "/charts/hello@".len();
        run.stderr[start..start + "sha256:".len() + 64].to_owned()
    }

    /// The fault every time: exit 1 at the signature step, the chart in the registry by digest
    /// only (no version tag, no `.sig` tag), a message naming the registry and the fix; then a
    /// re-run without the fault signs it once and tags it, without tripping over what the
    /// failed run left.
    async fn signature_fails_cleanly_then_converges(fault: ProxyFault, says: &[&str]) {
        let registry = Registry::start(Auth::None).await.unwrap();
        let proxy = FaultProxy::start(&registry.host);
        proxy.inject(fault.always());
        let project = signed_project(&proxy.host());
        let failed = run_signed(&project).await;
        failed.code(1);
        said(&failed, "error: publish:oci-signature:hello: the signature of chart `hello`: ");
        said(&failed, &format!("{} kept failing: ", proxy.host()));
        said(&failed, "(gave up after 3 attempts)");
        said(&failed, "but not tagged `0.1.0`, so nobody pulls it unsigned");
        said(&failed, "Run the release again: the chart is found by digest, and only its signature and then its tag");
        for needle in says {
            said(&failed, needle);
        }
        assert!(!failed.stderr.contains("==> finalize:oci-tag:hello"), "the tag step never starts: {}", failed.stderr);
        assert_not_tagged(&registry).await;
        assert!(tags(&registry).await.is_empty(), "neither the version nor a .sig tag: {:?}", tags(&registry).await);
        let digest = pushed_digest(&failed);
        registry.manifest(REPOSITORY, &digest, None).await.expect("the chart is in the registry by digest");

        proxy.clear_faults();
        let rerun = run_signed(&project).await;
        rerun.success();
        assert!(!rerun.stderr.contains("already exists"), "{}", rerun.stderr);
        said(&rerun, &format!("{REPOSITORY}@{digest} unchanged (already in the registry by digest"));
        said(&rerun, &format!("tagged {}/{REPOSITORY}:{TAG} as {digest}", proxy.host()));
        assert_signed_once(&registry, &project).await;
        assert_eq!(signature_tag(&registry).await, format!("{}.sig", digest.replace(':', "-")));
    }

    /// The order, as the registry saw it: the chart's manifest by digest, then its signature,
    /// then its version tag; and a signature that cannot be pushed leaves no version tag.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_version_tag_appears_only_after_the_signature() {
        // The manifest PUTs through the proxy, by what they name: a digest, a `.sig` tag, a tag.
        let registry_order = |proxy: &FaultProxy| -> Vec<String> {
            proxy
                .requests()
                .into_iter()
                .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
                .map(|r| r.path.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned())
                .collect()
        };
        let registry = Registry::start(Auth::None).await.unwrap();
        let proxy = FaultProxy::start(&registry.host);
        let project = signed_project(&proxy.host());
        run_signed(&project).await.success();
        let puts = registry_order(&proxy);
        assert_eq!(puts.len(), 3, "{puts:?}");
        assert!(puts[0].starts_with("sha256:"), "the chart by digest first: {puts:?}");
        assert_eq!(puts[1], format!("{}.sig", puts[0].replace(':', "-")), "then its signature: {puts:?}");
        assert_eq!(puts[2], TAG, "then its version tag: {puts:?}");

        // The signature never gets in: the version never shows.
        let registry = Registry::start(Auth::None).await.unwrap();
        let proxy = FaultProxy::start(&registry.host);
        proxy.inject(ProxyFault::new("PUT", SIG_MANIFEST, 1, ProxyAction::status(503)).always());
        let project = signed_project(&proxy.host());
        run_signed(&project).await.code(1);
        assert_not_tagged(&registry).await;
        assert!(!registry_order(&proxy).iter().any(|path| path == TAG), "{:?}", registry_order(&proxy));
        proxy.clear_faults();
        run_signed(&project).await.success();
        assert_signed_once(&registry, &project).await;
    }

    /// The tag `PUT` fails every time: exit 1 at the tag step, the chart signed and untagged;
    /// a re-run finds chart and signature unchanged and sends only the tag.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_503_on_the_version_tag() {
        let fault = ProxyFault::new("PUT", TAG_MANIFEST, 1, ProxyAction::status(503));
        let run = signed_despite(std::slice::from_ref(&fault)).await;
        said(&run, "retrying PUT the manifest of 127.0.0.1:");
        said(&run, ":0.1.0 after 503 UNAVAILABLE injected 503 (attempt 2/3)");

        let registry = Registry::start(Auth::None).await.unwrap();
        let proxy = FaultProxy::start(&registry.host);
        proxy.inject(fault.always());
        let project = signed_project(&proxy.host());
        let failed = run_signed(&project).await;
        failed.code(1);
        said(&failed, "error: finalize:oci-tag:hello: the tag of chart `hello`: ");
        said(&failed, "(gave up after 3 attempts)");
        said(&failed, "Run the release again: the release and the chart are found unchanged and only the tag is sent");
        assert_not_tagged(&registry).await;
        let digest = pushed_digest(&failed);
        let sig = format!("{}.sig", digest.replace(':', "-"));
        assert_eq!(tags(&registry).await, [sig], "only the signature is tagged");

        proxy.clear_faults();
        let rerun = run_signed(&project).await;
        rerun.success();
        assert!(!rerun.stderr.contains("already exists"), "{}", rerun.stderr);
        said(&rerun, "unchanged (already in the registry by digest");
        said(&rerun, "(unchanged)");
        said(&rerun, &format!("tagged {}/{REPOSITORY}:{TAG} as {digest}", proxy.host()));
        assert_signed_once(&registry, &project).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_503_on_the_signature_manifest() {
        let fault = ProxyFault::new("PUT", SIG_MANIFEST, 1, ProxyAction::status(503));
        let run = signed_despite(std::slice::from_ref(&fault)).await;
        said(&run, "retrying PUT the manifest of ");
        said(&run, ".sig after 503 UNAVAILABLE injected 503 (attempt 2/3)");
        signature_fails_cleanly_then_converges(fault, &["503 UNAVAILABLE injected 503"]).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_429_with_retry_after_on_the_signature_blob() {
        // A rate-limited registry limits every request for a while: the upload and the
        // `HEAD` of the same URL that reads its `Retry-After` (oci-client drops headers).
        let upload = ProxyFault::new("PUT", BLOB_UPLOAD, SIG_PAYLOAD_UPLOAD, ProxyAction::too_many_requests(1));
        let asked = ProxyFault::new("HEAD", BLOB_UPLOAD, 1, ProxyAction::too_many_requests(1));
        let run = signed_despite(&[upload.clone(), asked]).await;
        said(&run, "retrying the upload of the blob sha256:");
        said(&run, "(attempt 2/3) in 1.0s, as the server asked");
        signature_fails_cleanly_then_converges(upload, &["TOOMANYREQUESTS"]).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_connection_reset_on_the_signature_manifest() {
        let fault = ProxyFault::new("PUT", SIG_MANIFEST, 1, ProxyAction::ResetAfter { bytes: 100 });
        let run = signed_despite(std::slice::from_ref(&fault)).await;
        said(&run, "retrying PUT the manifest of ");
        signature_fails_cleanly_then_converges(fault, &[]).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_stalled_signature_blob_upload() {
        let fault = ProxyFault::new("PUT", BLOB_UPLOAD, SIG_PAYLOAD_UPLOAD, ProxyAction::Stall { after_bytes: 10 });
        let run = signed_despite(std::slice::from_ref(&fault)).await;
        said(&run, "retrying the upload of the blob sha256:");
        signature_fails_cleanly_then_converges(fault, &["operation timed out"]).await;
    }
}
