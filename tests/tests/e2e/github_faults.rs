//! A flaky network between the release tool and GitHub, through the binary.
//!
//! Every scenario gets the same three rows (the table in `docs/reliability.md`):
//! - the fault once: the release completes, one published release, every asset once, bytes
//!   equal to dist;
//! - the fault on every attempt: exit 1, nothing published (at most a draft), a message that
//!   says what failed, that it gave up after the configured attempts, and how to resume;
//! - a re-run without the fault: the same single release, complete.
//!
//! The project's `[network]` settings (3 attempts, 20 ms backoff, 2 s stall timeout) keep
//! this quick; nothing here asserts on time.

use release_tests::Finished;
use release_tests::github_server::{Fault, FaultAction, GithubServer, Level, Route, TokenSpec, Visibility};

use super::github::{
    REPO, TOKEN, assert_matches_dist, assert_no_token_shown, project, run_in_actions, said, server_with, the_release,
    uploads, writer,
};

/// Bytes of `data.bin` (300 000 in all) a cut-off upload gets through.
const PART: u64 = 64 * 1024;

fn server() -> GithubServer {
    server_with(TOKEN, writer(), Visibility::Public)
}

/// The fault once: the release completes as if nothing happened. Returns the run.
#[track_caller]
fn completes_despite(fault: Fault) -> (Finished, GithubServer) {
    let server = server();
    server.inject(fault);
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.success();
    assert_matches_dist(&project, &the_release(&server));
    assert_eq!(server.tags(REPO), ["v1.2.3"]);
    assert_no_token_shown(&run, TOKEN);
    (run, server)
}

/// The fault on every attempt: a clean failure that publishes nothing and says what happened
/// and how to resume; then a re-run without the fault converges to one complete release.
/// Returns the failed run and the re-run.
#[track_caller]
fn fails_cleanly_then_converges(fault: Fault, says: &[&str]) -> (Finished, Finished, GithubServer) {
    let server = server();
    server.inject(fault.always());
    let project = project("");
    let failed = run_in_actions(&project, &server, TOKEN);
    failed.code(1);
    for needle in says {
        said(&failed, needle);
    }
    assert_no_token_shown(&failed, TOKEN);
    let releases = server.releases(REPO);
    assert!(releases.len() <= 1 && releases.iter().all(|r| r.draft), "nothing published: {releases:#?}");
    assert!(server.tags(REPO).is_empty(), "no tag: the release was never published");

    server.clear_faults();
    let rerun = run_in_actions(&project, &server, TOKEN);
    rerun.success();
    let release = the_release(&server);
    assert_matches_dist(&project, &release);
    if let Some(draft) = releases.first() {
        assert_eq!(release.id, draft.id, "the re-run continued the draft");
    }
    (failed, rerun, server)
}

#[test]
fn a_502_on_creating_the_draft() {
    // Occurrence 1 is the probe's throwaway draft; 2 is the release's draft.
    let fault = Fault::new(Route::CreateRelease, 2, FaultAction::status(502));
    let (run, _) = completes_despite(fault.clone());
    said(&run, "retrying POST ");
    said(&run, "after 502 Bad Gateway (attempt 2/3)");

    let (_, rerun, _) = fails_cleanly_then_converges(
        fault,
        &[
            "cannot create a draft release in acme/hello",
            "answered 502 Bad Gateway (gave up after 3 attempts)",
            "run the release again",
        ],
    );
    said(&rerun, "created the draft release");
}

#[test]
fn a_created_draft_whose_answer_was_lost_is_adopted_not_duplicated() {
    let fault = Fault::new(Route::CreateRelease, 2, FaultAction::LoseAnswer { status: 502 });
    let (run, server) = completes_despite(fault);
    said(&run, "after 502 Bad Gateway (attempt 2/3)");
    let creates = server.requests().iter().filter(|r| r.route == Route::CreateRelease).count();
    assert_eq!(creates, 2, "the probe's draft and the release's: the retry found the draft instead of making one");
}

#[test]
fn a_503_on_an_upload() {
    // Uploads run one at a time in artifact order: 1 is `app`, 2 is `data.bin`.
    let fault = Fault::new(Route::UploadAsset, 2, FaultAction::status(503));
    let (run, _) = completes_despite(fault.clone());
    said(&run, "retrying the upload of data.bin after 503 Service Unavailable (attempt 2/3)");

    let (_, _, server) = fails_cleanly_then_converges(
        fault,
        &[
            "cannot upload an asset in acme/hello",
            "name=data.bin answered 503 Service Unavailable (gave up after 3 attempts)",
            "the release stays a draft",
            "run the release again",
        ],
    );
    let stored_app = uploads(&server.requests()).iter().filter(|u| u.query.as_deref() == Some("name=app")).count();
    assert_eq!(stored_app, 1, "the re-run kept `app`, uploaded before the failure");
}

#[test]
fn an_upload_whose_answer_was_lost_is_kept_not_duplicated() {
    let fault = Fault::new(Route::UploadAsset, 2, FaultAction::LoseAnswer { status: 502 });
    let (run, server) = completes_despite(fault);
    said(&run, "retrying the upload of data.bin after 502 Bad Gateway");
    let requests = server.requests();
    let data_uploads: Vec<_> =
        uploads(&requests).into_iter().filter(|u| u.query.as_deref() == Some("name=data.bin")).collect();
    assert_eq!(data_uploads.len(), 1, "the complete asset was found by its digest, not sent again: {data_uploads:#?}");
    assert!(requests.iter().all(|r| r.route != Route::DeleteAsset), "nothing deleted");
}

#[test]
fn a_429_with_retry_after_on_listing_assets() {
    // The read-back after the uploads is the first asset listing.
    let fault = Fault::new(Route::ListAssets, 1, FaultAction::too_many_requests(1));
    let (run, _) = completes_despite(fault.clone());
    said(&run, "after 429 Too Many Requests (attempt 2/3) in 1.");
    said(&run, "as the server asked");

    fails_cleanly_then_converges(
        fault,
        &[
            "GitHub's rate limit stopped the request",
            "answered 429 Too Many Requests (gave up after 3 attempts)",
            "GitHub asked to wait 1 seconds (Retry-After); run again after that",
        ],
    );
}

#[test]
fn rate_limits_on_listing_releases_are_waited_out() {
    // A secondary limit (403 + Retry-After) on the probe's listing, a primary one (403,
    // remaining 0, reset) on the publish step's.
    let server = server();
    server.inject(Fault::new(Route::ListReleases, 1, FaultAction::secondary_rate_limit(1)));
    server.inject(Fault::new(Route::ListReleases, 3, FaultAction::primary_rate_limit(1)));
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.success();
    said(&run, "after 403 You have exceeded a secondary rate limit");
    said(&run, "after 403 API rate limit exceeded");
    assert_matches_dist(&project, &the_release(&server));
}

#[test]
fn a_connection_reset_mid_upload() {
    let fault = Fault::new(Route::UploadAsset, 2, FaultAction::ResetAfter { bytes: PART });
    let (run, server) = completes_despite(fault.clone());
    // The client sees the reset as ECONNRESET or as a connection closed mid-message,
    // depending on whether it was writing or reading at that moment.
    said(&run, "retrying the upload of data.bin after ");
    let cut = uploads(&server.requests()).iter().filter(|u| u.status == 0).count();
    assert_eq!(cut, 1, "the server cut one upload");

    fails_cleanly_then_converges(
        fault,
        &["cannot upload an asset in acme/hello", "(gave up after 3 attempts)", "run the release again"],
    );
}

#[test]
fn a_stalled_upload() {
    // The server stops reading the body after 64 KiB and never answers.
    let fault = Fault::new(Route::UploadAsset, 2, FaultAction::Stall { after_bytes: PART });
    let (run, _) = completes_despite(fault.clone());
    said(&run, "retrying the upload of data.bin after no data moved for 2s (attempt 2/3)");

    fails_cleanly_then_converges(
        fault,
        &[
            "cannot upload an asset in acme/hello",
            "the transfer stalled: no data moved for 2s (gave up after 3 attempts)",
            "run the release again",
        ],
    );
}

#[test]
fn a_server_that_accepts_and_never_answers() {
    // An upload that is never read at all, and a JSON call that is never answered.
    let server = server();
    server.inject(Fault::new(Route::UploadAsset, 1, FaultAction::Stall { after_bytes: 0 }));
    server.inject(Fault::new(Route::ListReleases, 2, FaultAction::Stall { after_bytes: 0 }));
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.success();
    said(&run, "retrying the upload of app after no data moved for 2s");
    said(&run, "retrying GET ");
    said(&run, "after a timeout (attempt 2/3)");
    assert_matches_dist(&project, &the_release(&server));
}

#[test]
fn a_502_on_publishing() {
    let fault = Fault::new(Route::UpdateRelease, 1, FaultAction::status(502));
    let (run, _) = completes_despite(fault.clone());
    said(&run, "retrying PATCH ");

    let (_, rerun, _) = fails_cleanly_then_converges(
        fault,
        &[
            "finalize:github-release",
            "cannot publish the release in acme/hello",
            "answered 502 Bad Gateway (gave up after 3 attempts)",
            "the release stays a draft and nothing is visible yet",
        ],
    );
    said(&rerun, "continuing the draft release");
}

#[test]
fn a_publish_whose_answer_was_lost() {
    let fault = Fault::new(Route::UpdateRelease, 1, FaultAction::LoseAnswer { status: 502 });
    let (run, _) = completes_despite(fault);
    said(&run, "retrying PATCH ");
}

#[test]
fn after_a_failed_upload_no_new_upload_starts() {
    let server = server();
    server.inject(Fault::new(Route::UploadAsset, 1, FaultAction::status(503)).always());
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.code(1);
    said(&run, "not started: data.bin, SHA256SUMS");
    let requests = server.requests();
    let names: Vec<_> = uploads(&requests).iter().map(|u| u.query.clone().unwrap_or_default()).collect();
    assert_eq!(names, ["name=app"; 3], "only `app` was tried, three times");
    assert!(the_release(&server).draft);
}

#[test]
fn refusals_are_not_retried() {
    let server = server_with(
        TOKEN,
        TokenSpec::integration().repository(REPO).permission("contents", Level::Read),
        Visibility::Public,
    );
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.code(3).stderr_has("Resource not accessible by integration");
    assert!(!run.stdout.contains("retrying") && !run.stderr.contains("retrying"), "{}", run.stderr);
    let creates = server.requests().iter().filter(|r| r.route == Route::CreateRelease).count();
    assert_eq!(creates, 1, "a permission 403 is final at once");
}
