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
    let fault = ProxyFault::new("HEAD", "/blobs/sha256:", 1, ProxyAction::too_many_requests(1));
    let (run, _) = completes_despite(fault.clone()).await;
    said(&run, "retrying HEAD the blob sha256:");
    said(&run, "after 429 Too Many Requests");
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
