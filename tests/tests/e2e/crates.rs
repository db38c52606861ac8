//! Crates through the binary: preflight refusals before the build (metadata, a dead token,
//! a trusted-publishing mismatch, a new crate with trusted publishing, a rate limit that
//! cannot fit), a three-crate chain published in order, a failed upload finished by a
//! re-run, a burned version, trusted publishing end to end. The registry is
//! `release_tests::crates_server`; the cargo ↔ registry round trip runs against the real
//! `ferro-cargo-registry-server`.

use release_tests::crates_server::{
    Bucket, Claims, CratesServer, Fault, OIDC_REQUEST_TOKEN, Route, TokenSpec, TrustConfig, make_crate,
};
use release_tests::ferro::Ferro;
use release_tests::{Finished, Project};

const TOKEN: &str = "cioLiveToken0123456789abcdefghijkl";
const TOKEN_VAR: &str = "CARGO_REGISTRIES_TEST_TOKEN";
const NAMES: [&str; 3] = ["chain-a", "chain-b", "chain-c"];

/// A workspace of three crates, c → b → a (path dependencies with versions, from the
/// registry `test`), and a build that leaves a marker: its absence proves nothing was built.
fn workspace(index: &str, crates_extra: &str) -> Project {
    let project = Project::new();
    project.config(&format!(
        r#"
[project]
name = "chain"
version = "0.1.0"

[[build]]
name = "marker"
command = ["touch", "built"]

[crates]
registry = "test"
index = "{index}"
verify = false
index-timeout-secs = 30
{crates_extra}

[network]
attempts = 3
backoff-ms = 20
"#
    ));
    project.file(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"a\", \"b\", \"c\"]\n\n[workspace.package]\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n",
    );
    for (dir, name, dep) in [("a", NAMES[0], None), ("b", NAMES[1], Some(NAMES[0])), ("c", NAMES[2], Some(NAMES[1]))] {
        let dependency = dep
            .map(|d| {
                format!(
                    "\n[dependencies]\n{d} = {{ path = \"../{}\", version = \"0.1.0\", registry = \"test\" }}\n",
                    &d[6..]
                )
            })
            .unwrap_or_default();
        project.file(
            &format!("{dir}/Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\ndescription = \"{name}, a link of the chain\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n{dependency}"
            ),
        );
        project.file(
            &format!("{dir}/src/lib.rs"),
            format!("//! {name}\npub fn link() -> &'static str {{ \"{name}\" }}\n"),
        );
    }
    project
}

fn server() -> CratesServer {
    let server = CratesServer::start();
    server.add_token(TOKEN, TokenSpec::of("alice"));
    server
}

fn run(project: &Project, token: Option<&str>) -> Finished {
    let mut command = project.release(["run"]);
    if let Some(token) = token {
        command = command.env(TOKEN_VAR, token);
    }
    command.run()
}

fn uploads(server: &CratesServer) -> Vec<String> {
    server.published().into_iter().map(|(name, vers)| format!("{name} {vers}")).collect()
}

fn publish_requests(server: &CratesServer) -> usize {
    server.requests().iter().filter(|r| r.route == Route::Publish).count()
}

#[test]
fn a_missing_description_is_refused_before_the_build() {
    let server = server();
    let project = workspace(&server.index_url(), "");
    project.file(
        "b/Cargo.toml",
        "[package]\nname = \"chain-b\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\n[dependencies]\nchain-a = { path = \"../a\", version = \"0.1.0\", registry = \"test\" }\n",
    );
    let run = run(&project, Some(TOKEN));
    run.code(3)
        .stderr_has("test would refuse chain-b at upload (1 problem(s) in the manifests):")
        .stderr_has(
            "b/Cargo.toml:1: chain-b: `package.description` is missing: the registry refuses crates without one",
        )
        .stderr_has("help: fill in the fields in each Cargo.toml");
    assert!(!project.exists("built"), "nothing is built after a failed preflight");
    assert_eq!(publish_requests(&server), 0);
}

#[test]
fn a_dead_token_is_refused_before_the_build_naming_its_source() {
    let server = server();
    server.add_token("cioRevokedToken000000000000000000", TokenSpec::of("alice").dead());
    let project = workspace(&server.index_url(), "");
    let run = run(&project, Some("cioRevokedToken000000000000000000"));
    run.code(3)
        .stderr_has(
            "test refused the token from environment variable CARGO_REGISTRIES_TEST_TOKEN: 403 \"authentication failed\"",
        )
        .stderr_has("is unknown, revoked or expired");
    assert!(!run.stderr.contains("cioRevokedToken"), "the token's value never shows");
    assert!(!project.exists("built"));
    assert_eq!(publish_requests(&server), 0);
    // Liveness was read from GET /api/v1/me, with the bare token.
    let me = server.requests().into_iter().find(|r| r.route == Route::Me).expect("GET /api/v1/me");
    assert_eq!(me.authorization.as_deref(), Some("cioRevokedToken000000000000000000"));
}

/// Every crate exists at 0.0.1 with a trusted-publishing config for `acme/chain`'s
/// `release.yml`; the job's claims are set by the test.
fn trusted(server: &CratesServer, workflow: &str, only: &[&str]) {
    for name in only {
        server.add_version(name, "0.0.1", make_crate(name, "0.0.1", "first"), "alice");
        server.add_trust_config(
            name,
            TrustConfig {
                repository: "acme/chain".into(),
                owner_id: 4242,
                workflow: "release.yml".into(),
                environment: None,
            },
        );
    }
    server.set_claims(Claims {
        repository: "acme/chain".into(),
        repository_owner_id: "4242".into(),
        workflow_ref: format!("acme/chain/.github/workflows/{workflow}@refs/tags/v0.1.0"),
        environment: None,
    });
}

fn run_trusted(project: &Project, server: &CratesServer) -> Finished {
    project
        .release(["run"])
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", server.oidc_request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST_TOKEN)
        .run()
}

#[test]
fn a_trusted_publishing_mismatch_is_refused_quoting_the_registry() {
    let server = server();
    trusted(&server, "ci.yml", &NAMES);
    let project = workspace(&server.index_url(), "trusted-publishing = true");
    let run = run_trusted(&project, &server);
    run.code(3).stderr_has(
        "test refused the trusted publishing exchange: 400 \"The Trusted Publishing config for repository `acme/chain` does not match the workflow filename `ci.yml` in the JWT. Expected workflow filenames: `release.yml`",
    );
    assert!(!project.exists("built"));
    assert_eq!(publish_requests(&server), 0);
}

#[test]
fn a_new_crate_with_trusted_publishing_is_refused_before_the_build() {
    let server = server();
    trusted(&server, "release.yml", &NAMES[..2]);
    let project = workspace(&server.index_url(), "trusted-publishing = true");
    let run = run_trusted(&project, &server);
    run.code(3)
        .stderr_has("chain-c 0.1.0 is a new crate, and test refuses to create one with a trusted publishing token")
        .stderr_has("Trusted Publishing tokens do not support creating new crates")
        .stderr_has("publish the first version of `chain-c` once with a token that has the publish-new scope");
    assert!(!project.exists("built"));
    assert_eq!(server.tp_counts().0, 0, "refused from public data, before any exchange");
}

#[test]
fn trusted_publishing_mints_its_own_token_for_the_uploads_and_revokes_both() {
    let server = server();
    trusted(&server, "release.yml", &NAMES);
    let project = workspace(&server.index_url(), "trusted-publishing = true");
    run_trusted(&project, &server).success();
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0", "chain-c 0.1.0"]);
    let (minted, revoked, alive) = server.tp_counts();
    assert_eq!((minted, revoked, alive), (2, 2, 0), "one token for preflight, one for the uploads, both revoked");
    // The probes (re-sending 0.0.1) used the preflight's token; the uploads another one.
    let publishes: Vec<_> = server.requests().into_iter().filter(|r| r.route == Route::Publish).collect();
    assert_eq!(publishes.len(), 6, "three probes, three uploads");
    for probe in &publishes[..3] {
        assert_eq!(probe.detail.as_deref(), Some("crate version `0.0.1` is already uploaded"));
    }
    assert_ne!(publishes[0].authorization, publishes[3].authorization, "the uploads never use the preflight's token");
    assert!(publishes.iter().all(|r| r.authorization.as_deref().unwrap_or("").starts_with("cio_tp_")));
}

#[test]
fn trustpub_only_with_a_stored_token_is_refused_before_the_build() {
    let server = server();
    server.add_version("chain-a", "0.0.1", make_crate("chain-a", "0.0.1", ""), "alice");
    server.set_trustpub_only("chain-a", true);
    let project = workspace(&server.index_url(), "");
    run(&project, Some(TOKEN))
        .code(3)
        .stderr_has("chain-a is set to trusted publishing only (`trustpub_only`)")
        .stderr_has("New versions of this crate can only be published using Trusted Publishing");
    assert!(!project.exists("built"));
}

#[test]
fn a_probe_refused_for_missing_scope_is_a_preflight_failure_in_the_registrys_words() {
    let server = server();
    server.add_token(
        "cioScopedToken0000000000000000000",
        TokenSpec::of("alice").scopes(&["publish-update"]).crates(&["chain-a"]),
    );
    for name in NAMES {
        server.add_version(name, "0.0.1", make_crate(name, "0.0.1", ""), "alice");
    }
    let project = workspace(&server.index_url(), "");
    run(&project, Some("cioScopedToken0000000000000000000"))
        .code(3)
        .stderr_has(
            "test will refuse to publish chain-b with the token from environment variable CARGO_REGISTRIES_TEST_TOKEN",
        )
        .stderr_has("403 \"this token does not have the required permissions to perform this action\"");
    assert!(server.published().is_empty());
}

#[test]
fn a_rate_limit_that_cannot_fit_is_refused_with_the_time_it_needs() {
    let server = server();
    let project = workspace(
        &server.index_url(),
        "max-publish-minutes = 15\n\n[crates.rate-limit]\nnew-crates = 1\nnew-crates-every-secs = 600",
    );
    run(&project, Some(TOKEN))
        .code(3)
        .stderr_has("publishing 3 new crate(s) and 0 new version(s) (plus 0 probe(s)) to test needs about 20 minutes of rate-limit waits")
        .stderr_has("more than `crates.max-publish-minutes` (15)")
        .stderr_has("set `crates.max-publish-minutes` to at least 20");
    assert!(!project.exists("built"));
}

#[test]
fn a_chain_of_three_crates_is_published_in_dependency_order() {
    let server = server();
    // Each new version shows on the index only after two more reads: the poll must wait.
    server.set_index_lag(2);
    let project = workspace(&server.index_url(), "");
    project.file("release.toml", project.read("release.toml").replace("verify = false\n", ""));
    run(&project, Some(TOKEN)).success().stderr_has("published to test: chain-a 0.1.0, chain-b 0.1.0, chain-c 0.1.0");
    assert!(project.exists("built"));
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0", "chain-c 0.1.0"]);
    // Each upload waited for the one before it on the index.
    let requests = server.requests();
    let position = |route: Route, krate: Option<&str>, status: u16| {
        requests.iter().position(|r| r.route == route && r.krate.as_deref() == krate && r.status == status).unwrap()
    };
    let uploads: Vec<usize> =
        requests.iter().enumerate().filter(|(_, r)| r.route == Route::Publish).map(|(i, _)| i).collect();
    assert_eq!(uploads.len(), 3);
    assert!(position(Route::Index, Some("chain-a"), 200) < uploads[1], "chain-b waits for chain-a's index line");
    assert!(position(Route::Index, Some("chain-b"), 200) < uploads[2], "chain-c waits for chain-b's index line");
    // The registry stored our exact .crate, and cargo's user agent was not borrowed.
    for name in NAMES {
        let ours = std::fs::read(project.join(&format!("target/package/{name}-0.1.0.crate"))).unwrap();
        assert_eq!(server.version(name, "0.1.0").unwrap().bytes, ours);
    }
    assert!(
        requests.iter().filter(|r| r.route == Route::Publish).all(|r| r
            .user_agent
            .as_deref()
            .unwrap_or("")
            .starts_with("release-orchestrator/"))
    );
}

#[test]
fn an_upload_failing_on_the_second_crate_is_finished_by_a_rerun() {
    let server = server();
    server.inject(Fault::new(
        Route::Publish,
        2,
        403,
        "this token does not have the required permissions to perform this action",
    ));
    let project = workspace(&server.index_url(), "");
    run(&project, Some(TOKEN))
        .code(1)
        .stderr_has("test refused the upload of chain-b 0.1.0: 403 \"this token does not have the required permissions to perform this action\"")
        .stderr_has("already on test: chain-a 0.1.0")
        .stderr_has("run the release again: crates already on the index with our bytes are skipped");
    assert_eq!(uploads(&server), ["chain-a 0.1.0"]);
    let before = publish_requests(&server);
    run(&project, Some(TOKEN))
        .success()
        .stderr_has("published to test: chain-b 0.1.0, chain-c 0.1.0 (1 already there)");
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0", "chain-c 0.1.0"]);
    assert_eq!(publish_requests(&server) - before, 2, "the re-run uploads chain-b and chain-c only");
}

#[test]
fn a_version_already_published_with_other_bytes_is_refused_before_the_build() {
    let server = server();
    server.add_version("chain-b", "0.1.0", make_crate("chain-b", "0.1.0", "someone else's"), "alice");
    let project = workspace(&server.index_url(), "");
    run(&project, Some(TOKEN))
        .code(3)
        .stderr_has("chain-b 0.1.0 is already on test with other bytes")
        .stderr_has("that version is burned, it can never be published again; nothing was built or uploaded")
        .stderr_has("bump the version of chain-b");
    assert!(!project.exists("built"));
    assert!(server.published().is_empty(), "chain-a, first in order, was not uploaded either");
}

#[test]
fn a_version_published_with_other_bytes_during_the_build_stops_before_any_upload() {
    let server = server();
    // Someone publishes chain-b 0.1.0 after the preflight read its index: the publish
    // stage's own check finds it.
    server.add_version_unseen("chain-b", "0.1.0", make_crate("chain-b", "0.1.0", "someone else's"), "alice", 1);
    let project = workspace(&server.index_url(), "");
    run(&project, Some(TOKEN))
        .code(1)
        .stderr_has("publish:crates: chain-b 0.1.0 is already on test with other bytes")
        .stderr_has("that version is burned, it can never be published again; nothing was uploaded by this run");
    assert!(project.exists("built"));
    assert!(server.published().is_empty(), "chain-a, first in order, was not uploaded either");
}

#[test]
fn a_rate_limited_upload_waits_until_the_registrys_date() {
    let server = server();
    server.set_rate_limits(
        Bucket { burst: 5, rate: std::time::Duration::from_secs(600) },
        Bucket { burst: 1, rate: std::time::Duration::from_secs(2) },
    );
    for name in &NAMES[..2] {
        server.add_version(name, "0.0.1", make_crate(name, "0.0.1", ""), "alice");
    }
    let project = workspace(&server.index_url(), "probe = false\npackages = [\"chain-a\", \"chain-b\"]");
    let run = run(&project, Some(TOKEN));
    run.success();
    assert!(run.stderr.contains("test rate-limited the upload of chain-b 0.1.0; waiting until"), "{}", run.stderr);
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0"]);
    let refused = server.requests().into_iter().find(|r| r.status == 429).expect("a 429");
    assert!(refused.detail.unwrap().contains("You have published too many updates to existing crates"));
}

/// The real registry: cargo publishes the first crate itself, our stage skips it by its
/// `cksum` (cargo's upload and our package are the same bytes) and publishes the rest in
/// order; then cargo resolves the chain from the sparse index.
#[test]
fn against_a_real_registry_cargo_and_the_stage_agree() {
    let ferro = Ferro::start();
    let project = workspace(&ferro.index_url(), "");
    let cargo = |args: &[&str]| {
        let output = std::process::Command::new("cargo")
            .args(args)
            .current_dir(project.path())
            .env("CARGO_REGISTRIES_TEST_INDEX", ferro.index_url())
            .env("CARGO_REGISTRIES_TEST_TOKEN", "any-token")
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    // Cargo packages the commit it is in (`.cargo_vcs_info.json`), as the release will.
    project.head();
    cargo(&["publish", "--registry", "test", "--no-verify", "-p", "chain-a"]);
    // An older chain-b, for the publish probe to re-send.
    let b = project.read("b/Cargo.toml");
    project.file("b/Cargo.toml", b.replace("version.workspace = true", "version = \"0.0.9\""));
    cargo(&["publish", "--registry", "test", "--no-verify", "--allow-dirty", "-p", "chain-b"]);
    project.file("b/Cargo.toml", b);
    let run = project.release(["run", "--verbose"]).env(TOKEN_VAR, "any-token").run();
    run.success()
        .stderr_has("published to test: chain-b 0.1.0, chain-c 0.1.0 (1 already there)")
        // This registry has no /api/v1/me; its duplicate refusal proves the probe went
        // through its publish path without publishing.
        .stderr_has("test answers GET /api/v1/me with 404")
        .stderr_has(
            "test may publish chain-b: re-sending 0.0.9 answered \"crate version already exists: chain-b 0.0.9\"",
        );
    // A consumer resolves chain-c (and through it b and a) from the registry's index.
    let consumer = Project::new();
    consumer.file(
        "Cargo.toml",
        "[package]\nname = \"consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nchain-c = { version = \"0.1.0\", registry = \"test\" }\n",
    );
    consumer.file("src/lib.rs", "pub use chain_c::link;\n");
    let output = std::process::Command::new("cargo")
        .args(["generate-lockfile"])
        .current_dir(consumer.path())
        .env("CARGO_REGISTRIES_TEST_INDEX", ferro.index_url())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lock = consumer.read("Cargo.lock");
    for name in NAMES {
        assert!(lock.contains(&format!("name = \"{name}\"\nversion = \"0.1.0\"")), "{name} resolved:\n{lock}");
    }
    // A re-run converges: everything is on the index with our bytes.
    project
        .release(["run"])
        .env(TOKEN_VAR, "any-token")
        .run()
        .success()
        .stderr_has("every crate was already on test: chain-a 0.1.0, chain-b 0.1.0, chain-c 0.1.0");
}

#[test]
fn an_expired_trusted_publishing_token_is_minted_again_between_uploads() {
    let server = server();
    trusted(&server, "release.yml", &NAMES);
    // Each token expires after one upload: the 30 minutes running out mid-release.
    server.expire_tp_after(1);
    let project = workspace(&server.index_url(), "trusted-publishing = true\nprobe = false");
    let run = run_trusted(&project, &server);
    run.success().stderr_has("the trusted publishing token expired before chain-b 0.1.0: minting a new one");
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0", "chain-c 0.1.0"]);
    let (minted, revoked, alive) = server.tp_counts();
    assert_eq!((minted, alive), (4, 0), "preflight, then one per upload");
    assert_eq!(revoked, 4);
    let expired =
        server.requests().into_iter().filter(|r| r.detail.as_deref() == Some("Invalid authentication token")).count();
    assert_eq!(expired, 2, "chain-b and chain-c each met an expired token once");
}

#[test]
fn the_plan_lists_the_crates_in_publish_order_after_every_other_upload() {
    let project = workspace("sparse+http://127.0.0.1:9/index/", "");
    project.file(
        "release.toml",
        project.read("release.toml").replace("[crates]", "[github]\nrepository = \"acme/chain\"\n\n[crates]"),
    );
    let plan = project.release(["plan"]).run();
    plan.success().stdout_has("crates, in publish order: chain-a 0.1.0 -> chain-b 0.1.0 -> chain-c 0.1.0");
    let ids: Vec<&str> = plan.stdout.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    let at = |id: &str| ids.iter().position(|i| *i == id).unwrap_or_else(|| panic!("{id} in {ids:?}"));
    assert!(at("publish:github-release") < at("publish:crates"), "crates after the draft release's uploads");
    assert!(at("publish:crates") < at("finalize:github-release"), "and before the release is made visible");
    assert!(at("preflight:crates-registry") < at("build:marker"));
}

#[test]
fn audit_knows_trusted_publishing_needs_id_token_write() {
    let project = workspace("sparse+http://127.0.0.1:9/index/", "trusted-publishing = true");
    let workflow = |permissions: &str| {
        format!(
            "name: release\non:\n  push:\n    tags: [\"v*\"]\npermissions: {{}}\njobs:\n  release:\n    runs-on: ubuntu-latest\n    permissions:\n{permissions}    steps:\n      - uses: actions/checkout@v4\n      - run: release run\n"
        )
    };
    project.file(".github/workflows/release.yml", workflow("      contents: read\n"));
    project.release(["audit"]).run().code(1).stdout_has(
        ".github/workflows/release.yml:9: job `release` lacks `id-token: write` (needed to publish crates to test with trusted publishing (OIDC))",
    );
    project.file(".github/workflows/release.yml", workflow("      contents: read\n      id-token: write\n"));
    project.release(["audit"]).run().success();
}

#[test]
fn an_upload_whose_answer_was_lost_is_sent_again_and_checked_on_the_index() {
    let server = server();
    // chain-b is stored, but the answer is a 502 (a proxy lost it).
    server.inject(Fault::new(Route::Publish, 2, 502, "Bad Gateway").after_work());
    let project = workspace(&server.index_url(), "");
    run(&project, Some(TOKEN)).success().stderr_has("retrying the upload of chain-b 0.1.0 after Bad Gateway");
    assert_eq!(uploads(&server), ["chain-a 0.1.0", "chain-b 0.1.0", "chain-c 0.1.0"]);
    let answers: Vec<(u16, Option<String>)> =
        server.requests().into_iter().filter(|r| r.route == Route::Publish).map(|r| (r.status, r.detail)).collect();
    assert_eq!(answers[1], (502, Some("Bad Gateway".into())));
    assert_eq!(answers[2], (400, Some("crate version `0.1.0` is already uploaded".into())), "the retry finds it there");
    assert_eq!(answers.len(), 4);
}

/// Everything preflight can read without side effects is reported at once: a crate set to
/// trusted publishing only, a dead token and a rate limit that cannot fit, in one failure
/// before the build; no probe is sent while something is wrong.
#[test]
fn every_problem_preflight_can_read_is_reported_at_once() {
    let server = server();
    server.add_token("cioRevokedToken000000000000000000", TokenSpec::of("alice").dead());
    server.add_version("chain-a", "0.0.1", make_crate("chain-a", "0.0.1", ""), "alice");
    server.set_trustpub_only("chain-a", true);
    let project = workspace(
        &server.index_url(),
        "max-publish-minutes = 5\n\n[crates.rate-limit]\nnew-crates = 1\nnew-crates-every-secs = 600",
    );
    let run = run(&project, Some("cioRevokedToken000000000000000000"));
    run.code(3)
        .stderr_has("chain-a is set to trusted publishing only (`trustpub_only`)")
        .stderr_has("test refused the token from environment variable CARGO_REGISTRIES_TEST_TOKEN: 403 \"authentication failed\"")
        .stderr_has("more than `crates.max-publish-minutes` (5)")
        .stderr_has("is unknown, revoked or expired")
        .stderr_has("set `crates.max-publish-minutes` to at least");
    assert!(!project.exists("built"));
    assert_eq!(publish_requests(&server), 0, "no probe while something is wrong");
}
