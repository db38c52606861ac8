//! What GitHub enforces beyond permissions, through the binary: tag rulesets, immutable
//! releases, burned tags (refused in preflight, before the build), the one point of no return
//! (nothing visible until the finalize stage: the undraft first, then the chart version tags)
//! and GitHub's release attestation checked against `SHA256SUMS`. GitHub is our test server
//! (`release_tests::github_rules`), the registry the real CNCF one.

use release_tests::github_rules::{Bypass, RulesetSpec};
use release_tests::github_server::{Fault, FaultAction, GithubServer, Route};
use release_tests::registry::{Auth, Registry};
use release_tests::{Finished, Project, step_summary};

use crate::github::{
    REPO, TOKEN, assert_matches_dist, project, run_in_actions, said, server_with, the_release, writer,
};

const CHART_REPOSITORY: &str = "charts/hello";
const CHART_TAG: &str = "0.1.0";

/// The GitHub project of `github.rs` plus a chart pushed to `registry`, and a build marker.
fn with_chart(extra_github: &str, registry: &Registry) -> Project {
    let project = project(extra_github);
    let host = &registry.host;
    let config = project.read("release.toml");
    project
        .config(&format!(
            "{config}\n[[chart]]\npath = \"charts/hello\"\npush = \"oci://{host}/charts\"\n\n[registries.\"{host}\"]\nplain-http = true\n\n[[build]]\nname = \"marker\"\ncommand = [\"touch\", \"built\"]\n"
        ))
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\ntype: application\n")
        .file("charts/hello/values.yaml", "greeting: hello\n");
    project
}

fn server() -> GithubServer {
    server_with(TOKEN, writer(), release_tests::github_server::Visibility::Public)
}

async fn registry_tags(registry: &Registry) -> Vec<String> {
    let response = reqwest::get(format!("{}/v2/{CHART_REPOSITORY}/tags/list", registry.url())).await.unwrap();
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Vec::new();
    }
    let tags: serde_json::Value = response.error_for_status().unwrap().json().await.unwrap();
    tags["tags"].as_array().into_iter().flatten().map(|t| t.as_str().unwrap().to_owned()).collect()
}

/// Nothing anywhere: no build, no release (the probes' drafts are gone), no write besides the
/// probes' own, nothing in the registry.
async fn assert_nothing_written(project: &Project, server: &GithubServer, registry: &Registry) {
    assert!(!project.exists("built"), "the build must not run after a failed preflight");
    assert!(server.releases(REPO).is_empty(), "no release is left: {:#?}", server.releases(REPO));
    let writes: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| matches!(r.route, Route::UploadAsset | Route::UpdateRelease))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "no upload, no undraft: {writes:?}");
    assert!(server.tags(REPO).is_empty(), "no git tag");
    assert!(registry_tags(registry).await.is_empty(), "nothing in the registry");
    assert!(registry.manifest(CHART_REPOSITORY, CHART_TAG, None).await.is_err());
}

async fn run(project: &Project, server: &GithubServer) -> Finished {
    // Not as an Actions job: `--json` keeps stdout for the report.
    project
        .release(["--json", "run", "--verbose"])
        .env("GITHUB_API_URL", server.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .run_async()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_ruleset_restricting_tag_creation_fails_preflight_and_writes_nothing() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let server = server();
    server.add_organisation_ruleset("acme", RulesetSpec::tags(4242, "release tags", &["refs/tags/v*"], &["creation"]));
    let project = with_chart("", &registry);
    let failed = run(&project, &server).await;
    failed.code(3);
    said(
        &failed,
        "error: preflight:github-tag-rules: publishing the release creates the tag v1.2.3, and GitHub would refuse it",
    );
    said(
        &failed,
        "the organisation acme ruleset \"release tags\" (id 4242) refuses creating refs/tags/v1.2.3 with `creation` (restrict creations)",
    );
    said(&failed, "current_user_can_bypass: never");
    said(&failed, &format!("change it at {}/organizations/acme/settings/rules/4242", server.base_url()));
    said(&failed, "add the GitHub Actions app");
    said(&failed, "`project.tag` in release.toml");
    said(&failed, "preflight failed: nothing was built or published");
    assert_nothing_written(&project, &server, &registry).await;
    let rulesets: Vec<_> = server.requests().into_iter().filter(|r| r.route == Route::ListRulesets).collect();
    assert!(rulesets.iter().all(|r| r.query.as_deref().unwrap_or("").contains("includes_parents=true")));

    // A ruleset this token may bypass, or one over other tags, lets the release through.
    let server = crate::github::server_with(TOKEN, writer(), release_tests::github_server::Visibility::Public);
    server.add_ruleset(REPO, RulesetSpec::tags(7, "bypassed", &["~ALL"], &["creation"]).bypass(Bypass::Always));
    server.add_ruleset(REPO, RulesetSpec::tags(8, "charts only", &["refs/tags/charts/*"], &["creation"]));
    server.add_ruleset(REPO, RulesetSpec::tags(9, "excluded", &["~ALL"], &["creation"]).exclude(&["refs/tags/v1.*"]));
    let registry = Registry::start(Auth::None).await.unwrap();
    let project = with_chart("", &registry);
    let passed = run(&project, &server).await;
    passed.success();
    said(&passed, "the repository acme/hello ruleset \"bypassed\" (id 7) restricts refs/tags/v1.2.3");
    said(&passed, "3 ruleset(s) read, none refuses creating v1.2.3");
    assert_published_with_chart(&project, &server);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_rulesets_are_a_warning_naming_what_was_not_checked() {
    let server = server();
    server.hide_rulesets(REPO);
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.success();
    said(&run, "could not read the rulesets of acme/hello");
    said(&run, "answered 403 Resource not accessible by integration");
    said(&run, "tag rulesets that would refuse creating v1.2.3 when the release is published were not checked");
    assert_matches_dist(&project, &the_release(&server));
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_on_an_immutable_release_fails_preflight_and_the_already_released_path_says_immutable() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let server = server();
    let id = server.seed_release(REPO, "v1.2.3", false, &[("app", b"an older app\n")]);
    server.make_immutable(id);
    let project = with_chart("replace = true", &registry);
    // The earlier release was made from the commit being released.
    server.seed_tag(REPO, "v1.2.3", &project.head(), false);
    let failed = run(&project, &server).await;
    failed.code(3);
    said(&failed, "error: preflight:github-tag-rules: the tag v1.2.3 already has an immutable release");
    said(&failed, "`github.replace = true` cannot change it");
    said(&failed, "release a new version (change `project.version` in release.toml, or pass --release-version)");
    assert!(!project.exists("built"), "the build must not run");
    let release = the_release(&server);
    assert_eq!(release.assets.len(), 1, "the immutable release is untouched");
    assert!(registry_tags(&registry).await.is_empty(), "nothing in the registry");

    // Without `replace`: the build runs, the differing immutable release is refused at publish,
    // and the help does not suggest `replace`.
    let project = with_chart("", &registry);
    server.seed_tag(REPO, "v1.2.3", &project.head(), false);
    let differs = run(&project, &server).await;
    differs.code(1);
    said(&differs, "already has an immutable published release");
    said(&differs, "whose assets differ from this build");
    said(&differs, "is an immutable release: GitHub locks its tag and assets");
    assert!(!differs.stderr.contains("set `replace = true`"), "{}", differs.stderr);
    assert!(registry_tags(&registry).await.is_empty(), "the chart version is not tagged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burned_tag_fails_preflight_before_the_build() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let server = server();
    server.burn_tag(REPO, "v1.2.3");
    let project = with_chart("", &registry);
    let failed = run(&project, &server).await;
    failed.code(3);
    said(
        &failed,
        "error: preflight:github-release-write: the tag v1.2.3 belonged to an immutable release that was deleted",
    );
    said(&failed, "tag_name was used by an immutable release");
    said(&failed, "a burned tag can never be released again");
    assert_nothing_written(&project, &server, &registry).await;
}

/// When GitHub lets the draft of a burned tag be made, the undraft finds out: first in the
/// finalize stage, with nothing visible (no chart version tag).
#[tokio::test(flavor = "multi_thread")]
async fn a_burned_tag_missed_by_preflight_is_refused_at_the_undraft_with_nothing_visible() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let server = server();
    server.burn_tag(REPO, "v1.2.3").allow_drafts_of_burned_tags();
    let project = with_chart("", &registry);
    let failed = run(&project, &server).await;
    failed.code(1);
    said(&failed, "error: finalize:github-release: cannot publish the release in acme/hello");
    said(&failed, "tag_name was used by an immutable release");
    said(&failed, "nothing is visible: the release stays the draft");
    assert!(the_release(&server).draft);
    assert!(registry_tags(&registry).await.is_empty(), "no chart version tag: {:?}", registry_tags(&registry).await);
}

/// The undraft fails (every attempt): the charts were pushed by digest in the publish stage and
/// nothing is tagged; a re-run finishes the release, and one more run changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_undraft_that_fails_leaves_nothing_visible_and_a_rerun_finishes_the_release() {
    let registry = Registry::start(Auth::None).await.unwrap();
    let server = server();
    server.inject(Fault::new(Route::UpdateRelease, 1, FaultAction::status(502)).always());
    let project = with_chart("", &registry);
    let failed = run(&project, &server).await;
    failed.code(1);
    said(&failed, "error: finalize:github-release: cannot publish the release in acme/hello");
    said(&failed, "no chart version is tagged either");
    let report = failed.json();
    let pushed = step_summary(&report, "publish:oci-push:hello");
    assert!(pushed.contains("(by digest; tagged `0.1.0` in the finalize stage)"), "{pushed}");
    let digest = report["outputs"]["chart.hello.digest"].as_str().unwrap().to_owned();
    assert!(registry_tags(&registry).await.is_empty(), "no chart version tag: {:?}", registry_tags(&registry).await);
    assert!(registry.manifest(CHART_REPOSITORY, &digest, None).await.is_ok(), "the chart is there by digest");
    assert!(the_release(&server).draft, "the release stays a draft");
    assert!(server.tags(REPO).is_empty(), "no git tag");

    server.clear_faults();
    let rerun = run(&project, &server).await;
    rerun.success();
    said(&rerun, "continuing the draft release");
    assert_published_with_chart(&project, &server);
    assert_eq!(registry_tags(&registry).await, vec![CHART_TAG.to_owned()]);
    let (_, manifest) = registry.manifest(CHART_REPOSITORY, CHART_TAG, None).await.unwrap();
    assert_eq!(release_tests::oci_digest(&manifest), digest);
    // The undraft came before the tag.
    let order: Vec<String> =
        rerun.json()["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    let at = |id: &str| order.iter().position(|s| s == id).unwrap_or_else(|| panic!("{id} in {order:?}"));
    assert!(at("finalize:github-release") < at("finalize:oci-tag:hello"), "{order:?}");

    let again = run(&project, &server).await;
    again.success();
    let report = again.json();
    assert!(step_summary(&report, "finalize:github-release").starts_with("already released"));
    assert!(step_summary(&report, "finalize:oci-tag:hello").ends_with("(unchanged)"));
}

/// The release is published and holds the dist directory, the chart package included.
#[track_caller]
fn assert_published_with_chart(project: &Project, server: &GithubServer) {
    let release = the_release(server);
    assert!(!release.draft, "the release is published");
    let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["SHA256SUMS", "app", "data.bin", "hello-0.1.0.tgz"]);
    for asset in &release.assets {
        let local = std::fs::read(project.path().join("dist").join(&asset.name)).unwrap();
        assert!(asset.bytes == local, "{} differs from dist/{}", asset.name, asset.name);
    }
    assert_eq!(server.tags(REPO), vec!["v1.2.3".to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_release_is_checked_against_githubs_attestation() {
    let server = server();
    server.enable_immutable_releases(REPO);
    let project = project("");
    let good = run(&project, &server).await;
    good.success();
    let release = the_release(&server);
    assert!(release.immutable);
    let summary = step_summary(&good.json(), "finalize:github-release-attestation");
    assert!(
        summary.starts_with("GitHub's release attestation of v1.2.3 lists the 3 file(s) of SHA256SUMS"),
        "{summary}"
    );
    assert_eq!(server.release_attestations(REPO).len(), 1);
    let asked: Vec<_> = server.requests().into_iter().filter(|r| r.route == Route::ListAttestations).collect();
    assert!(asked[0].path.contains("/attestations/sha1:"), "{:?}", asked[0].path);
    assert!(asked[0].query.as_deref().unwrap_or("").contains("predicate_type=release"));
    // GitHub answers `"bundle": null` and a `bundle_url` (since 2026-07-16): the bundle was
    // downloaded from there, snappy compressed, and without the token.
    let blobs: Vec<_> = server.requests().into_iter().filter(|r| r.route == Route::GetAttestationBlob).collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert_eq!(blobs[0].status, 200);
    assert!(blobs[0].path.ends_with(".json.sn"), "{:?}", blobs[0].path);
    assert!(blobs[0].header("authorization").is_none(), "the token went to the blob URL: {:?}", blobs[0].headers);
}

/// A `bundle_url` the storage host refuses (an expired pre-signed URL) is the storage host's
/// answer, quoted without the URL's signature, not a diagnosis of the token or repository.
#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_url_that_fails_is_quoted_without_its_signature() {
    let server = server();
    server.enable_immutable_releases(REPO);
    server.inject(
        Fault::new(
            Route::GetAttestationBlob,
            1,
            FaultAction::Respond {
                status: 403,
                headers: vec![],
                body: serde_json::json!({"message": "AuthenticationFailed: Signed expiry time has to be after signed start time"}),
            },
        )
        .always(),
    );
    let project = project("");
    let failed = run(&project, &server).await;
    failed.code(1);
    said(&failed, "error: finalize:github-release-attestation: cannot download an attestation bundle in acme/hello");
    said(&failed, ".json.sn answered 403 AuthenticationFailed: Signed expiry time");
    said(&failed, "pre-signed `bundle_url`");
    assert!(!failed.stderr.contains("sig=") && !failed.stdout.contains("sig="), "{}", failed.stderr);
    assert!(!failed.stderr.contains("not visible to the token"), "{}", failed.stderr);
}

/// A listing with the bundle inline (GitHub before 2026-07-16, or a GitHub Enterprise Server)
/// is read as it is: the same check passes and no blob is fetched.
#[tokio::test(flavor = "multi_thread")]
async fn an_inline_release_attestation_is_read_as_well() {
    let server = server();
    server.enable_immutable_releases(REPO).serve_inline_attestation_bundles();
    let project = project("");
    let good = run(&project, &server).await;
    good.success();
    let summary = step_summary(&good.json(), "finalize:github-release-attestation");
    assert!(
        summary.starts_with("GitHub's release attestation of v1.2.3 lists the 3 file(s) of SHA256SUMS"),
        "{summary}"
    );
    assert!(server.requests().iter().all(|r| r.route != Route::GetAttestationBlob), "no blob was fetched");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attestation_that_does_not_match_sha256sums_is_a_failure() {
    let server = server();
    server.enable_immutable_releases(REPO).tamper_attestation(REPO, "app");
    let project = project("");
    let failed = run(&project, &server).await;
    failed.code(1);
    said(
        &failed,
        "error: finalize:github-release-attestation: GitHub's release attestation of v1.2.3 does not match the SHA256SUMS this run shipped: app is attested with sha256 0000",
    );
    said(&failed, "is published and immutable: it cannot be changed");
    said(&failed, "gh release verify v1.2.3");
    let release = the_release(&server);
    assert!(!release.draft && release.immutable);
}

/// A probe's draft left under the release's tag (an interrupted run) is deleted by the
/// publish step, never continued as the release.
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_draft_left_under_the_tag_is_deleted_not_continued() {
    let server = server();
    let leftover = server.seed_release(REPO, "v1.2.3", true, &[]);
    server.rename_release(leftover, "release preflight probe (safe to delete)");
    let project = project("");
    let run = run(&project, &server).await;
    run.success();
    said(&run, "a preflight probe left behind");
    let release = the_release(&server);
    assert_ne!(release.id, leftover);
    assert_eq!(release.name.as_deref(), Some("hello 1.2.3"));
    assert_matches_dist(&project, &release);
}
