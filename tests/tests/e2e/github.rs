//! GitHub releases through the binary: the write probe and its diagnoses, draft-first
//! publishing, and re-runs that converge. The server is `release_tests::github_server`.

use release_tests::github_server::{
    Fault, FaultAction, GithubServer, Level, RecordedRequest, Route, StoredRelease, TokenSpec, Visibility,
};
use release_tests::{Finished, Project};

pub(crate) const REPO: &str = "acme/hello";
pub(crate) const TOKEN: &str = "ghs_test0123456789abcdef";

/// Two build commands: a small file and one large enough that an upload can fail half-way.
/// The network settings keep retries quick and turn GitHub's pacing of writes off (see
/// `docs/reliability.md`).
pub(crate) fn project(extra_github: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
name = "hello"
version = "1.2.3"

[[build]]
name = "app"
command = ["cp", "src/app.txt", "out/app"]
artifacts = ["out/app"]

[[build]]
name = "data"
command = ["cp", "src/data.bin", "out/data.bin"]
artifacts = ["out/data.bin"]

[github]
repository = "{REPO}"
{extra_github}

[network]
upload-concurrency = 1
attempts = 3
backoff-ms = 20
stall-timeout-secs = 2
github-mutation-interval-ms = 0
"#
        ))
        .file("src/app.txt", "the app\n")
        .file("src/data.bin", (0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
        .file("out/.keep", "");
    project
}

pub(crate) fn server_with(token: &str, spec: TokenSpec, visibility: Visibility) -> GithubServer {
    let server = GithubServer::start();
    server.add_repository(REPO, visibility).add_token(token, spec);
    server
}

pub(crate) fn writer() -> TokenSpec {
    TokenSpec::integration().repository(REPO).permission("contents", Level::Write)
}

/// `release run` as a GitHub Actions job would run it, with the token in GITHUB_TOKEN.
pub(crate) fn run_in_actions(project: &Project, server: &GithubServer, token: &str) -> Finished {
    run_in_actions_with(project, server, token, &[])
}

pub(crate) fn run_in_actions_with(
    project: &Project,
    server: &GithubServer,
    token: &str,
    extra: &[(&str, &str)],
) -> Finished {
    let mut command = project
        .release(["run", "--verbose"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "7001")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_API_URL", server.api_url())
        .env("GITHUB_TOKEN", token);
    for (key, value) in extra {
        command = command.env(key, *value);
    }
    command.run()
}

/// Asserts that the run said `needle` anywhere: in GitHub Actions progress goes to stdout as
/// workflow commands, errors to stderr.
#[track_caller]
pub(crate) fn said(run: &Finished, needle: &str) {
    assert!(
        run.stdout.contains(needle) || run.stderr.contains(needle),
        "the run never said {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout,
        run.stderr
    );
}

/// The token is nowhere in the output but in the leading `::add-mask::` lines that register
/// it with the Actions runner (see `secrets.rs` for the full scan).
#[track_caller]
pub(crate) fn assert_no_token_shown(run: &Finished, token: &str) {
    let stdout: Vec<&str> = run.stdout.lines().skip_while(|l| l.starts_with("::add-mask::")).collect();
    assert!(!run.stderr.contains(token) && !stdout.join("\n").contains(token), "the token leaked:\n{}", run.stderr);
}

pub(crate) fn the_release(server: &GithubServer) -> StoredRelease {
    let releases = server.releases(REPO);
    assert_eq!(releases.len(), 1, "exactly one release: {releases:#?}");
    releases.into_iter().next().unwrap()
}

/// The published release holds exactly the dist directory, byte for byte.
#[track_caller]
pub(crate) fn assert_matches_dist(project: &Project, release: &StoredRelease) {
    assert!(!release.draft, "the release is published");
    assert_eq!(release.tag_name, "v1.2.3");
    let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["SHA256SUMS", "app", "data.bin"], "one asset per artifact, no duplicates");
    for asset in &release.assets {
        let local = std::fs::read(project.path().join("dist").join(&asset.name)).unwrap();
        assert_eq!(asset.state, "uploaded");
        assert!(asset.bytes == local, "{} differs from dist/{}", asset.name, asset.name);
    }
}

pub(crate) fn uploads(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests.iter().filter(|r| r.route == Route::UploadAsset).collect()
}

#[test]
fn read_only_integration_token_fails_preflight_before_the_build() {
    let server = server_with(
        TOKEN,
        TokenSpec::integration().repository(REPO).permission("contents", Level::Read),
        Visibility::Public,
    );
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.code(3)
        .stderr_has("preflight:github-release-write")
        .stderr_has("Resource not accessible by integration")
        .stderr_has("lacks the permission `contents=write` (X-Accepted-GitHub-Permissions)")
        .stderr_has("contents: write")
        .stderr_has("Settings → Actions → General → Workflow permissions")
        .stderr_has("environment variable GITHUB_TOKEN");
    assert_no_token_shown(&run, TOKEN);
    assert!(!project.exists("out/app") && !project.exists("dist"), "the build never ran");
    assert!(server.releases(REPO).is_empty(), "no draft left behind");
    let requests = server.requests();
    let create = requests.iter().find(|r| r.route == Route::CreateRelease).expect("the probe tried to write");
    assert_eq!(create.status, 403);
    assert_eq!(create.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert!(uploads(&requests).is_empty());
}

#[test]
fn good_token_publishes_a_release_that_matches_dist_byte_for_byte() {
    let server = server_with(TOKEN, writer(), Visibility::Private);
    let project = project("");
    let outputs = project.path().join("github-output");
    let run = run_in_actions_with(&project, &server, TOKEN, &[("GITHUB_OUTPUT", outputs.as_str())]);
    run.success();
    said(&run, "token from environment variable GITHUB_TOKEN");
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let url = format!("github-release-url={}/{REPO}/releases/tag/v1.2.3", server.base_url());
    assert!(outputs.lines().any(|l| l == url), "{outputs}");
    assert_no_token_shown(&run, TOKEN);
    let release = the_release(&server);
    assert_matches_dist(&project, &release);
    assert_eq!(release.name.as_deref(), Some("hello 1.2.3"));
    assert_eq!(server.tags(REPO), ["v1.2.3"], "only the release's tag exists: the probe made none");

    let requests = server.requests();
    // The probe: a draft under the run's throwaway tag, deleted at once.
    assert!(requests.iter().any(|r| r.route == Route::DeleteRelease && r.status == 204));
    // Uploads went to the upload path the release JSON named, streamed with a length.
    let uploads = uploads(&requests);
    assert_eq!(uploads.len(), 3);
    for upload in &uploads {
        assert!(upload.path.starts_with(&format!("/api/uploads/repos/{REPO}/releases/")), "{}", upload.path);
        assert_eq!(upload.status, 201);
        assert!(upload.header("content-length").is_some());
    }
    let big = uploads.iter().find(|u| u.query.as_deref() == Some("name=data.bin")).expect("data.bin uploaded");
    assert_eq!(big.body_len, 300_000);
    // Publishing (undraft) is the very last request.
    let last = requests.last().unwrap();
    assert_eq!((last.route, last.method.as_str()), (Route::UpdateRelease, "PATCH"));
}

#[test]
fn an_upload_failing_half_way_converges_on_rerun() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    // The second upload (data.bin: artifacts upload in order with concurrency 1) dies after
    // 64 KiB with a 502 and leaves an empty `starter` asset, as GitHub can.
    // Every attempt fails the same way, so the network policy's retries give up.
    server.inject(
        Fault::new(
            Route::UploadAsset,
            2,
            FaultAction::FailUploadAfter { bytes: 64 * 1024, status: 502, leave_starter: true },
        )
        .always(),
    );
    let project = project("");
    let first = run_in_actions(&project, &server, TOKEN);
    first.code(1).stderr_has("publish:github-release").stderr_has("run the release again");
    let draft = the_release(&server);
    assert!(draft.draft, "nothing was published: {draft:#?}");
    assert!(server.tags(REPO).is_empty());
    let first_uploads: Vec<String> =
        uploads(&server.requests()).iter().filter(|u| u.status == 201).filter_map(|u| u.query.clone()).collect();
    let before = server.requests().len();

    server.clear_faults();
    let second = run_in_actions(&project, &server, TOKEN);
    second.success();
    said(&second, "continuing the draft release");
    let release = the_release(&server);
    assert_eq!(release.id, draft.id, "the draft of the first run was continued");
    assert_matches_dist(&project, &release);
    let requests = server.requests();
    let second_uploads = uploads(&requests[before..]);
    for upload in &second_uploads {
        assert!(
            !first_uploads.contains(upload.query.as_ref().unwrap()),
            "re-uploaded an asset that matched: {upload:?}"
        );
    }
    assert!(
        requests[before..].iter().any(|r| r.route == Route::DeleteAsset),
        "the unfinished `starter` asset was deleted"
    );
}

#[test]
fn a_rerun_of_a_published_release_with_identical_assets_is_already_released() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = project("");
    run_in_actions(&project, &server, TOKEN).success();
    let before = server.requests().len();
    let again = run_in_actions(&project, &server, TOKEN);
    again.success();
    said(&again, "already has a published release");
    said(&again, "already released");
    assert_matches_dist(&project, &the_release(&server));
    assert!(uploads(&server.requests()[before..]).is_empty(), "nothing uploaded again");
}

#[test]
fn a_published_release_with_different_assets_is_an_error_unless_replace() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    server.seed_release(REPO, "v1.2.3", false, &[("app", b"an older app\n")]);
    let project = project("");
    // The earlier release was made from the commit being released.
    server.seed_tag(REPO, "v1.2.3", &project.head(), false);
    let run = run_in_actions(&project, &server, TOKEN);
    run.code(1)
        .stderr_has("the tag v1.2.3 already has a published release")
        .stderr_has("app differs in size")
        .stderr_has("data.bin is missing on GitHub")
        .stderr_has("`replace = true`");
    assert_eq!(the_release(&server).assets[0].bytes, b"an older app\n", "nothing was changed");

    let project = self::project("replace = true");
    server.seed_tag(REPO, "v1.2.3", &project.head(), false);
    run_in_actions(&project, &server, TOKEN).success();
    assert_matches_dist(&project, &the_release(&server));
}

#[test]
fn fine_grained_token_without_contents_write_names_permission_and_repository() {
    let token = "github_pat_11AAAAfinegrained";
    let spec = TokenSpec::fine_grained().repository(REPO).permission("contents", Level::Read);
    let server = server_with(token, spec, Visibility::Private);
    let project = project("");
    let run = project
        .release(["run"])
        .env("GITHUB_API_URL", server.api_url())
        .env("GH_TOKEN", token)
        .env("GITHUB_TOKEN", "ghs_not_this_one")
        .run();
    run.code(3)
        .stderr_has("the fine-grained personal access token from environment variable GH_TOKEN")
        .stderr_has("Resource not accessible by personal access token")
        .stderr_has("include acme/hello")
        .stderr_has("set \"Contents\" to \"Read and write\"");
    assert_no_token_shown(&run, token);
    assert!(!project.exists("out/app"));
    assert!(server.releases(REPO).is_empty());
}

#[test]
fn classic_token_without_a_repo_scope_is_diagnosed_without_writing() {
    let token = "ghp_classicwithoutrepo";
    let server = server_with(token, TokenSpec::classic(&["read:org", "gist"]), Visibility::Public);
    let project = project("");
    let run = project.release(["run"]).env("GITHUB_API_URL", server.api_url()).env("GH_TOKEN", token).run();
    run.code(3)
        .stderr_has("has the scopes `read:org, gist` (X-OAuth-Scopes)")
        .stderr_has("public repository acme/hello needs the scope `public_repo`")
        .stderr_has("/settings/tokens");
    assert_no_token_shown(&run, token);
    assert!(server.requests().iter().all(|r| r.method == "GET"), "the scopes were read, nothing was written");
}

#[test]
fn bad_token_is_named_by_its_source() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = project("token-env = \"RELEASE_TOKEN\"");
    let bad = "ghp_expiredexpiredexpired";
    let run = project
        .release(["run"])
        .env("GITHUB_API_URL", server.api_url())
        .env("RELEASE_TOKEN", bad)
        .env("GITHUB_TOKEN", TOKEN)
        .run();
    run.code(3)
        .stderr_has("the GitHub token from environment variable RELEASE_TOKEN was rejected as bad credentials")
        .stderr_has("401 Bad credentials")
        .stderr_has("wrong, expired or revoked");
    assert_no_token_shown(&run, bad);
    assert!(!project.exists("out/app"));
}

#[test]
fn repository_not_visible_to_the_token_is_a_404_diagnosis() {
    let server = server_with(
        TOKEN,
        TokenSpec::integration().repository("acme/other").permission("contents", Level::Write),
        Visibility::Private,
    );
    let project = project("");
    let run = run_in_actions(&project, &server, TOKEN);
    run.code(3)
        .stderr_has("the GitHub repository acme/hello was not found or is not visible to the token from environment variable GITHUB_TOKEN")
        .stderr_has("404 Not Found")
        .stderr_has("(from `github.repository`)");
    assert!(!project.exists("out/app"));
}

#[test]
fn missing_token_fails_preflight_with_the_precedence() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = project("");
    let run = project.release(["run"]).env("GITHUB_API_URL", server.api_url()).run();
    run.code(3).stderr_has("no GitHub token: neither GH_TOKEN nor GITHUB_TOKEN is set").stderr_has("export GH_TOKEN");
    assert!(server.requests().is_empty(), "nothing was sent without a token");
}

#[test]
fn generated_notes_and_the_plan() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = project("generate-notes = true\nprerelease = true");
    let plan = project.release(["plan", "--json"]).run();
    plan.success();
    let ids: Vec<String> =
        plan.json()["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids[..2], ["preflight:identity", "preflight:build-tools"]);
    assert!(ids.contains(&"preflight:github-release-write".to_owned()));
    assert_eq!(ids.last().map(String::as_str), Some("finalize:github-release-attestation"), "{ids:?}");
    assert!(ids.contains(&"preflight:github-tag-rules".to_owned()));
    run_in_actions(&project, &server, TOKEN).success();
    let release = the_release(&server);
    assert!(release.prerelease);
    assert!(release.body.unwrap().contains("Generated notes for v1.2.3"));
}
