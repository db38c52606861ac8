//! Keyless signing (issue 13): the test Sigstore checked by sigstore-python, then the
//! `release` binary signing in a simulated GitHub Actions job against it.

use camino::Utf8PathBuf;
use release_tests::sigstore::{self, SigstoreServers, Workflow, fulcio::Shape};

fn servers() -> (SigstoreServers, tempfile::TempDir, sigstore::TrustFiles) {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let dir = tempfile::tempdir().expect("temp dir");
    let trust = servers.write_trust_files(&Utf8PathBuf::from_path_buf(dir.path().join("trust")).expect("UTF-8"));
    (servers, dir, trust)
}

/// The servers are faithful enough for an independent client: sigstore-python signs against
/// them (CSR + bearer token, SCT checked at signing) and verifies its bundle offline; a
/// tampered file, another identity and another repository fail.
#[test]
fn sigstore_python_signs_and_verifies_against_the_test_servers() {
    let (servers, dir, trust) = servers();
    let file = Utf8PathBuf::from_path_buf(dir.path().join("hello.txt")).expect("UTF-8");
    std::fs::write(&file, b"hello keyless\n").expect("write");
    let bundle = Utf8PathBuf::from(format!("{file}.sigstore.json"));
    let token = servers.mint_token("sigstore");
    let (ok, out) = sigstore::run_sigstore_python(&[
        "--trust-config",
        trust.trust_config.as_str(),
        "sign",
        "--rekor-version",
        "1",
        "--identity-token",
        &token,
        "--bundle",
        bundle.as_str(),
        file.as_str(),
    ]);
    assert!(ok, "sigstore-python sign failed:\n{out}");
    let requests = servers.fulcio_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].shape, Shape::Csr);
    // Two seed entries and this one.
    assert_eq!(servers.rekor_entries().len(), 3);

    let san = servers.workflow().san();
    let (ok, out) = sigstore::python_verify_identity(&trust, &bundle, &san, &file);
    assert!(ok, "verify identity failed:\n{out}");
    let (ok, out) = sigstore::python_verify_github(&trust, &bundle, &san, "acme/hello", &file);
    assert!(ok, "verify github failed:\n{out}");

    let (ok, _) = sigstore::python_verify_github(&trust, &bundle, &san, "acme/other", &file);
    assert!(!ok, "another repository must fail");
    let (ok, _) = sigstore::python_verify_identity(
        &trust,
        &bundle,
        "https://github.com/acme/hello/.github/workflows/other.yml@refs/tags/v1.2.3",
        &file,
    );
    assert!(!ok, "another identity must fail");
    std::fs::write(&file, b"hello tampered\n").expect("write");
    let (ok, out) = sigstore::python_verify_identity(&trust, &bundle, &san, &file);
    assert!(!ok, "a tampered file must fail");
    assert!(out.to_lowercase().contains("digest") || out.contains("mismatch") || out.contains("FAIL"), "{out}");
}

/// A project with one build artifact and keyless signing against the test servers; the
/// trust files are copied into the project.
pub(crate) fn keyless_project(servers: &SigstoreServers) -> release_tests::Project {
    let project = release_tests::Project::new();
    project
        .config(
            "[project]\nversion = \"1.2.3\"\n\n[[build]]\nname = \"app\"\ncommand = [\"cp\", \"src/app.txt\", \"out/app\"]\nartifacts = [\"out/app\"]\n\n[signing]\nmode = \"keyless\"\nsigning-config = \"sigstore/signing_config.json\"\ntrusted-root = \"sigstore/trusted_root.json\"\n",
        )
        .file("src/app.txt", "the app\n")
        .file("out/.keep", "");
    servers.write_trust_files(&project.join("sigstore"));
    project
}

/// The environment of a GitHub Actions job with `permissions: id-token: write`.
pub(crate) fn in_actions(
    command: release_tests::ReleaseCommand,
    servers: &SigstoreServers,
) -> release_tests::ReleaseCommand {
    command
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", servers.token_request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", servers.token_request_token())
}

/// A whole keyless snapshot run: preflight fetches one token (and no certificate), the sign
/// step a fresh one and one certificate for every file, each signature logged in Rekor; the
/// gate verifies every bundle; sigstore-python verifies them too, and refuses a tampered
/// file, another identity and another repository.
#[test]
fn a_keyless_run_signs_every_file_with_one_certificate_and_sigstore_python_agrees() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let run = in_actions(project.release(["run", "--snapshot"]), &servers).run();
    run.success()
        .stdout_has("preflight:id-token")
        .stdout_has(
            "signed 2 file(s) keyless as https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3",
        )
        .stdout_has("2 bundle(s) verified");

    assert_eq!(servers.token_audiences(), ["sigstore", "sigstore"], "one token in preflight, a fresh one to sign");
    let requests = servers.fulcio_requests();
    assert_eq!(requests.len(), 1, "one certificate for the run");
    assert_eq!(requests[0].shape, Shape::PublicKeyBodyToken);
    let entries = servers.rekor_entries();
    assert_eq!(entries.len(), 4, "two seed entries and one per signed file");
    assert!(entries[2..].iter().all(|e| e.body_json()["kind"] == "hashedrekord"));

    let trust = servers.write_trust_files(&project.join("trust-check"));
    let san = servers.workflow().san();
    for name in ["app", "SHA256SUMS"] {
        let file = project.join(&format!("dist/{name}"));
        let bundle = project.join(&format!("dist/{name}.sigstore.json"));
        let text = std::fs::read_to_string(&bundle).unwrap();
        assert!(text.contains("application/vnd.dev.sigstore.bundle.v0.3+json"), "{text}");
        let (ok, out) = sigstore::python_verify_identity(&trust, &bundle, &san, &file);
        assert!(ok, "{name}: sigstore-python verify identity failed:\n{out}");
        let (ok, out) = sigstore::python_verify_github(&trust, &bundle, &san, "acme/hello", &file);
        assert!(ok, "{name}: sigstore-python verify github failed:\n{out}");
        let (ok, _) = sigstore::python_verify_github(&trust, &bundle, &san, "acme/other", &file);
        assert!(!ok, "{name}: another repository must fail");
        let other = "https://github.com/acme/hello/.github/workflows/other.yml@refs/tags/v1.2.3";
        let (ok, _) = sigstore::python_verify_identity(&trust, &bundle, other, &file);
        assert!(!ok, "{name}: another identity must fail");
    }

    // `release verify` for users, offline against the instance's trusted root.
    let root = trust.trusted_root.as_str();
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", root, "dist/app", "dist/SHA256SUMS"])
        .run()
        .success()
        .stdout_has(&format!("ok      dist/app (signed by {san})"))
        .stdout_has("all 2 file(s) verified against their Sigstore bundles");
    project
        .release([
            "verify",
            "--certificate-identity",
            &san,
            "--trusted-root",
            root,
            "--bundle",
            "dist/app.sigstore.json",
            "dist/app",
        ])
        .run()
        .success();
    project
        .release([
            "verify",
            "--certificate-identity-regexp",
            "^https://github.com/acme/hello/.*@refs/tags/v",
            "--trusted-root",
            root,
            "dist/app",
        ])
        .run()
        .success();
    // A real regular expression (RE2, as cosign's): classes and repetition, anchored.
    let strict =
        r"^https://github\.com/acme/hello/\.github/workflows/(release|publish)\.yml@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$";
    project
        .release(["verify", "--certificate-identity-regexp", strict, "--trusted-root", root, "dist/app"])
        .run()
        .success();
    let rc_only = r"@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+-rc\.[0-9]+$";
    project
        .release(["verify", "--certificate-identity-regexp", rc_only, "--trusted-root", root, "dist/app"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app");
    project
        .release(["verify", "--certificate-identity-regexp", "(unclosed", "--trusted-root", root, "dist/app"])
        .run()
        .code(2)
        .stderr_has("--certificate-identity-regexp: `(unclosed` is not a regular expression");
    project
        .release(["verify", "--repo", "acme/other", "--trusted-root", root, "dist/app"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app");
    project
        .release([
            "verify",
            "--certificate-identity",
            &san,
            "--certificate-oidc-issuer",
            "https://accounts.example.com",
            "--trusted-root",
            root,
            "dist/app",
        ])
        .run()
        .code(1);
    project.release(["verify", "--trusted-root", root, "dist/app"]).run().code(2).stderr_has("--repo OWNER/REPO");
    // Public-good Sigstore does not vouch for the test instance's certificates.
    project.release(["verify", "--repo", "acme/hello", "dist/app"]).run().code(1);

    let app = project.join("dist/app");
    std::fs::write(&app, "the app, tampered\n").unwrap();
    let (ok, _) = sigstore::python_verify_identity(&trust, &project.join("dist/app.sigstore.json"), &san, &app);
    assert!(!ok, "a tampered file must fail");
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", root, "dist/app", "dist/SHA256SUMS"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app")
        .stdout_has("ok      dist/SHA256SUMS");
}

/// Outside GitHub Actions keyless signing is refused before the build, with the reason and
/// what to use instead; a snapshot there signs and verifies with a throwaway key instead.
#[test]
fn keyless_outside_actions_is_refused_in_preflight() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    project
        .release(["run", "--snapshot"])
        .run()
        .success()
        .stderr_has("signing with an EPHEMERAL key pair generated for this snapshot run");
    assert!(project.exists("dist/app.sig") && project.exists("dist/cosign.ephemeral.pub"));
    assert!(servers.token_audiences().is_empty(), "no token was asked for");
    std::fs::remove_dir_all(project.join("dist")).unwrap();
    project
        .release(["run", "--dry-run"])
        .run()
        .code(3)
        .stderr_has("keyless signing needs a GitHub Actions OIDC token, and this is not a GitHub Actions job")
        .stderr_has("mode = \"key\"");
    assert!(!project.exists("dist/app"), "the build must not have run");
    assert!(servers.token_audiences().is_empty());
}

/// A job without `permissions: id-token: write` has no token request variables: exit 3
/// before the build, naming the permission and the fork rule.
#[test]
fn a_job_without_id_token_write_fails_in_preflight() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    project
        .release(["run", "--snapshot"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .code(3)
        .stderr_has("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set")
        .stderr_has("permissions: id-token: write")
        .stderr_has("fork");
    assert!(!project.exists("dist/app"), "the build must not have run");
}

/// A token without a claim Fulcio requires fails in preflight, naming the claim; no
/// certificate is requested.
#[test]
fn a_token_fulcio_would_refuse_fails_in_preflight() {
    let mut workflow = Workflow::new("acme/hello", "refs/tags/v1.2.3");
    workflow.omit = vec!["job_workflow_sha".into()];
    let servers = SigstoreServers::start(workflow);
    let project = keyless_project(&servers);
    in_actions(project.release(["run", "--snapshot"]), &servers)
        .run()
        .code(3)
        .stderr_has("Fulcio needs the claims job_workflow_sha");
    assert!(servers.fulcio_requests().is_empty());
    assert!(!project.exists("dist/app"));
}

/// Fulcio and Rekor 5xx answers are ridden out by the network policy: the run succeeds with
/// one certificate and no duplicate log entries.
#[test]
fn fulcio_and_rekor_outages_are_retried() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let config = project.read("release.toml");
    project.config(&format!("{config}\n[network]\nattempts = 4\nbackoff-ms = 1\n"));
    servers.fail(sigstore::Service::Fulcio, 503, 2);
    servers.fail(sigstore::Service::Rekor, 502, 2);
    in_actions(project.release(["run", "--snapshot"]), &servers).run().success().stdout_has("2 bundle(s) verified");
    assert_eq!(servers.fulcio_requests().len(), 1);
    assert_eq!(servers.rekor_entries().len(), 4);
}

/// With `provenance = true`, one SLSA provenance statement over every signed file, DSSE
/// signed with the run's certificate (no second certificate), logged in Rekor as dsse, is
/// written as `provenance.intoto.jsonl`; the gate checks it and sigstore-python verifies it
/// for each subject; a tampered subject and another repository fail.
#[test]
fn provenance_is_one_statement_over_every_file_verified_by_sigstore_python() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let config = project.read("release.toml");
    // A chart too: its package is a subject and gets its own bundle.
    project
        .config(&format!("{config}provenance = true\n\n[[chart]]\npath = \"charts/web\"\n"))
        .file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.4.0\n")
        .file("charts/web/values.yaml", "replicaCount: 1\n")
        .file("charts/web/templates/deployment.yaml", "kind: Deployment\n");
    in_actions(project.release(["run", "--snapshot"]), &servers)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .run()
        .success()
        .stdout_has("SLSA provenance for 3 subject(s)")
        .stdout_has("provenance verified: 3 subject(s)");
    assert_eq!(servers.fulcio_requests().len(), 1, "the provenance is signed with the run's certificate");
    let entries = servers.rekor_entries();
    assert_eq!(entries.len(), 6, "two seed entries, three bundles, the provenance");
    assert_eq!(entries[5].body_json()["kind"], "dsse");

    let line = project.read("dist/provenance.intoto.jsonl");
    assert_eq!(line.lines().count(), 1, "JSON Lines, one bundle");
    let bundle: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    use base64::Engine as _;
    let payload =
        base64::engine::general_purpose::STANDARD.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["predicate"]["buildDefinition"]["buildType"],
        "https://actions.github.io/buildtypes/workflow/v1"
    );
    let names: Vec<&str> =
        statement["subject"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["app", "web-0.4.0.tgz", "SHA256SUMS"]);

    let trust = servers.write_trust_files(&project.join("trust-check"));
    let san = servers.workflow().san();
    let asset = project.join("dist/provenance.intoto.jsonl");
    for name in ["app", "web-0.4.0.tgz", "SHA256SUMS"] {
        let file = project.join(&format!("dist/{name}"));
        let (ok, out) = sigstore::python_verify_github(&trust, &asset, &san, "acme/hello", &file);
        assert!(ok, "{name}: sigstore-python verify github of the provenance failed:\n{out}");
    }
    // `release verify` checks a file against the attestation too.
    let root = trust.trusted_root.as_str();
    for name in ["app", "web-0.4.0.tgz"] {
        project
            .release([
                "verify",
                "--repo",
                "acme/hello",
                "--trusted-root",
                root,
                "--bundle",
                "dist/provenance.intoto.jsonl",
            ])
            .arg(format!("dist/{name}"))
            .run()
            .success();
    }
    // The chart package's own bundle.
    let chart = project.join("dist/web-0.4.0.tgz");
    let (ok, out) =
        sigstore::python_verify_identity(&trust, &project.join("dist/web-0.4.0.tgz.sigstore.json"), &san, &chart);
    assert!(ok, "the chart package's bundle:\n{out}");
    let (ok, _) = sigstore::python_verify_github(&trust, &asset, &san, "acme/other", &project.join("dist/app"));
    assert!(!ok, "another repository must fail");
    std::fs::write(project.join("dist/app"), "tampered\n").unwrap();
    let (ok, _) = sigstore::python_verify_github(&trust, &asset, &san, "acme/hello", &project.join("dist/app"));
    assert!(!ok, "a tampered subject must fail");
    project
        .release([
            "verify",
            "--repo",
            "acme/hello",
            "--trusted-root",
            root,
            "--bundle",
            "dist/provenance.intoto.jsonl",
            "dist/app",
        ])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app");
}

/// The test Sigstore for `acme/hello` at `v1.2.3`, and a public GitHub repository whose
/// token may write releases and attestations: the world of a keyless release.
pub(crate) fn attesting() -> (SigstoreServers, release_tests::github_server::GithubServer) {
    use release_tests::github_server::{Level, Visibility};
    let servers = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let github = crate::github::server_with(
        crate::github::TOKEN,
        crate::github::writer().permission("attestations", Level::Write),
        Visibility::Public,
    );
    (servers, github)
}

/// A project releasing to the GitHub test server with keyless signing and provenance.
fn github_keyless_project(servers: &SigstoreServers) -> release_tests::Project {
    let project = crate::github::project("");
    let config = project.read("release.toml");
    project.config(&format!(
        "{config}\n[signing]\nmode = \"keyless\"\nprovenance = true\nsigning-config = \"sigstore/signing_config.json\"\ntrusted-root = \"sigstore/trusted_root.json\"\n"
    ));
    servers.write_trust_files(&project.join("sigstore"));
    project
}

fn run_release(
    project: &release_tests::Project,
    github: &release_tests::github_server::GithubServer,
    servers: &SigstoreServers,
) -> release_tests::Finished {
    crate::github::run_in_actions_with(
        project,
        github,
        crate::github::TOKEN,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &servers.token_request_url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", servers.token_request_token()),
            ("GITHUB_SERVER_URL", "https://github.com"),
        ],
    )
}

/// A whole keyless release: bundles and the provenance asset on the GitHub release, the
/// attestation stored with GitHub's attestations API (its certificate names this
/// repository).
#[test]
fn a_keyless_release_publishes_bundles_provenance_and_the_attestation() {
    let (servers, github) = crate::keyless::attesting();
    let project = github_keyless_project(&servers);
    let run = run_release(&project, &github, &servers);
    run.success();
    crate::github::said(&run, "accepts attestations");
    crate::github::said(&run, "build provenance stored as attestation");
    let release = crate::github::the_release(&github);
    assert!(!release.draft);
    let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    for expected in
        ["app.sigstore.json", "data.bin.sigstore.json", "SHA256SUMS.sigstore.json", "provenance.intoto.jsonl"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let attestations = github.attestations(crate::github::REPO);
    assert_eq!(attestations.len(), 1, "one attestation");
    assert!(attestations[0].1.get("dsseEnvelope").is_some());
}

/// Without `attestations: write` the preflight probe's 403 stops the run before the build,
/// naming the permission; nothing is stored.
#[test]
fn a_token_without_attestations_write_fails_in_preflight() {
    use release_tests::github_server::Visibility;
    let servers = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let github = crate::github::server_with(crate::github::TOKEN, crate::github::writer(), Visibility::Public);
    let project = github_keyless_project(&servers);
    let run = run_release(&project, &github, &servers);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    crate::github::said(&run, "preflight:attestations");
    crate::github::said(&run, "Attestations");
    assert!(!project.exists("dist/app"), "the build must not have run");
    assert!(github.attestations(crate::github::REPO).is_empty());
    assert!(servers.fulcio_requests().is_empty());
}

/// GitHub refuses an attestation whose certificate names another repository.
#[test]
fn the_attestations_api_refuses_a_bundle_for_another_repository() {
    use release_tests::github_server::{Level, Visibility};
    let servers = SigstoreServers::start(Workflow::new("acme/other", "refs/tags/v1.2.3"));
    let github = crate::github::server_with(
        crate::github::TOKEN,
        crate::github::writer().permission("attestations", Level::Write),
        Visibility::Public,
    );
    let project = github_keyless_project(&servers);
    let run = run_release(&project, &github, &servers);
    assert_ne!(run.code, 0);
    crate::github::said(&run, "values do not match: https://github.com/acme/other != https://github.com/acme/hello");
    assert!(github.attestations(crate::github::REPO).is_empty());
    assert!(github.releases(crate::github::REPO).iter().all(|r| r.draft), "nothing became visible");
}

/// A log entry whose answer was lost: the retried POST meets Rekor's 409 and the existing
/// entry is fetched from its Location and used; no second entry is made.
#[test]
fn a_rekor_409_after_a_lost_answer_uses_the_existing_entry() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let config = project.read("release.toml");
    project.config(&format!("{config}\n[network]\nattempts = 3\nbackoff-ms = 1\n"));
    servers.lose_rekor_answers(1);
    in_actions(project.release(["run", "--snapshot"]), &servers).run().success().stdout_has("2 bundle(s) verified");
    assert_eq!(servers.rekor_entries().len(), 4, "no duplicate entry");
    let requests = servers.rekor_requests();
    assert_eq!(requests[0].0, "POST");
    assert_eq!(requests[1].0, "POST", "the lost answer is retried");
    assert!(requests[2].0 == "GET" && requests[2].1.starts_with("/api/v1/log/entries/"), "{requests:?}");
    let trust = servers.write_trust_files(&project.join("trust-check"));
    let (ok, out) = sigstore::python_verify_identity(
        &trust,
        &project.join("dist/app.sigstore.json"),
        &servers.workflow().san(),
        &project.join("dist/app"),
    );
    assert!(ok, "the bundle made from the fetched entry verifies:\n{out}");
}

/// Fulcio's 400 is quoted; nothing is signed.
#[test]
fn a_fulcio_refusal_is_quoted() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    servers.sign_tokens_with_an_untrusted_key();
    let run = in_actions(project.release(["run", "--snapshot"]), &servers).run();
    run.code(1)
        .stderr_has("refused the signing certificate: 400: There was an error processing the identity token")
        .stderr_has("signing.signing-config");
    assert!(!project.exists("dist/app.sigstore.json"));
    assert_eq!(servers.rekor_entries().len(), 2, "nothing logged");
}

/// A user-owned private repository: GitHub refuses attestations with its own reason, which
/// the preflight quotes before the build, with the fix.
#[test]
fn a_user_owned_private_repository_is_refused_with_githubs_reason() {
    use release_tests::github_server::{Fault, FaultAction, Level, Route, Visibility};
    let servers = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let github = crate::github::server_with(
        crate::github::TOKEN,
        crate::github::writer().permission("attestations", Level::Write),
        Visibility::Private,
    );
    let reason = "Feature not available for user-owned private repositories. To enable this feature, please make this repository public.";
    github.inject(Fault::new(
        Route::CreateAttestation,
        1,
        FaultAction::Respond {
            status: 403,
            headers: vec![],
            body: serde_json::json!({"message": reason, "documentation_url": "https://docs.github.com/rest/repos/attestations", "status": "403"}),
        },
    ));
    let project = github_keyless_project(&servers);
    let run = run_release(&project, &github, &servers);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    crate::github::said(&run, reason);
    crate::github::said(&run, "signing.provenance = false");
    assert!(!project.exists("dist/app"), "the build must not have run");
}

/// A re-run converges on one attestation. The first run stores the provenance, then its
/// undraft fails (the release stays a draft); the re-run signs anew, continues the draft,
/// finds the first run's attestation by the provenance's first subject (its bundle read from
/// the pre-signed `bundle_url`, snappy compressed, fetched without the token), verifies it
/// for this run's identity, and stores nothing. The release ends with one asset per name.
#[test]
fn a_rerun_after_a_failed_undraft_stores_the_provenance_once() {
    use release_tests::github_server::{Fault, FaultAction, Route};
    let (servers, github) = crate::keyless::attesting();
    github.inject(Fault::new(Route::UpdateRelease, 1, FaultAction::status(502)).always());
    let project = github_keyless_project(&servers);
    let first = run_release(&project, &github, &servers);
    first.code(1);
    crate::github::said(&first, "error: finalize:github-release");
    crate::github::said(&first, "build provenance stored as attestation");
    let stored = github.attestations(crate::github::REPO);
    assert_eq!(stored.len(), 1, "the first run stored one attestation");
    let first_provenance = project.read("dist/provenance.intoto.jsonl");

    github.clear_faults();
    let before = github.requests().len();
    let rerun = run_release(&project, &github, &servers);
    rerun.success();
    crate::github::said(&rerun, "continuing the draft release");
    crate::github::said(&rerun, &format!("build provenance already stored as attestation {}", stored[0].0));
    crate::github::assert_no_token_shown(&rerun, crate::github::TOKEN);
    assert_ne!(project.read("dist/provenance.intoto.jsonl"), first_provenance, "the re-run signed anew");
    assert_eq!(github.attestations(crate::github::REPO), stored, "no second attestation");

    let release = crate::github::the_release(&github);
    assert!(!release.draft, "published by the re-run");
    let names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "no duplicate asset names: {names:?}");
    assert!(unique.contains("provenance.intoto.jsonl"), "{names:?}");
    for asset in &release.assets {
        let local = std::fs::read(project.join("dist").join(&asset.name)).expect("the asset is in dist");
        assert!(asset.bytes == local, "{} is the re-run's", asset.name);
    }

    let requests = github.requests()[before..].to_vec();
    let listed: Vec<_> = requests.iter().filter(|r| r.route == Route::ListAttestations).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].path.contains("/attestations/sha256:"), "{:?}", listed[0].path);
    assert_eq!(listed[0].status, 200);
    assert!(
        listed[0].query.as_deref().unwrap_or_default().contains("predicate_type=https://slsa.dev/provenance/v1"),
        "{:?}",
        listed[0].query
    );
    let blobs: Vec<_> = requests.iter().filter(|r| r.route == Route::GetAttestationBlob).collect();
    assert_eq!(blobs.len(), 1, "the bundle was read from its bundle_url");
    assert_eq!(blobs[0].status, 200);
    assert!(blobs[0].header("authorization").is_none(), "no token to the blob URL: {:?}", blobs[0].headers);
}

/// Provenance over the same files signed by another workflow is not this release's: the
/// re-run says why it does not count and stores its own.
#[test]
fn provenance_of_another_workflow_is_not_taken_for_this_runs() {
    use release_tests::github_server::{Fault, FaultAction, Level, Route, Visibility};
    let mut other = Workflow::new(crate::github::REPO, "refs/tags/v1.2.3");
    other.workflow_path = ".github/workflows/other.yml".into();
    let servers = SigstoreServers::start(other);
    let github = crate::github::server_with(
        crate::github::TOKEN,
        crate::github::writer().permission("attestations", Level::Write),
        Visibility::Public,
    );
    github.inject(Fault::new(Route::UpdateRelease, 1, FaultAction::status(502)).always());
    let project = github_keyless_project(&servers);
    run_release(&project, &github, &servers).code(1);
    assert_eq!(github.attestations(crate::github::REPO).len(), 1);

    github.clear_faults();
    servers.set_workflow(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    let rerun = run_release(&project, &github, &servers);
    rerun.success();
    crate::github::said(
        &rerun,
        "GitHub holds provenance over the same files that does not verify for this run's identity https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3",
    );
    crate::github::said(&rerun, "other.yml");
    crate::github::said(&rerun, "build provenance stored as attestation");
    assert_eq!(github.attestations(crate::github::REPO).len(), 2, "this run's provenance is stored too");
}

/// The look for an earlier attestation only saves a duplicate: when the listing fails, the
/// step warns and stores the provenance as before.
#[test]
fn a_listing_that_fails_does_not_stop_the_attestation() {
    use release_tests::github_server::{Fault, FaultAction, Route};
    let (servers, github) = crate::keyless::attesting();
    github.inject(Fault::new(Route::ListAttestations, 1, FaultAction::status(502)).always());
    let project = github_keyless_project(&servers);
    let run = run_release(&project, &github, &servers);
    run.success();
    crate::github::said(&run, "cannot look for an attestation an earlier run stored (");
    crate::github::said(&run, "502");
    crate::github::said(&run, "build provenance stored as attestation");
    assert_eq!(github.attestations(crate::github::REPO).len(), 1);
}

/// A keyless release run again after it succeeded: its new bundles differ in bytes from the
/// published ones (signatures are randomised), but the published ones verify for the same
/// files and this workflow, so the run converges and changes nothing. Bundles another signer
/// made (another Sigstore instance here) are not taken for this build's: that run fails
/// naming the differing assets, and the release is left as it was.
#[test]
fn a_rerun_of_a_published_keyless_release_keeps_its_bundles() {
    let (servers, github) = crate::keyless::attesting();
    let project = github_keyless_project(&servers);
    run_release(&project, &github, &servers).success();
    let published: Vec<(String, Vec<u8>)> =
        crate::github::the_release(&github).assets.iter().map(|a| (a.name.clone(), a.bytes.clone())).collect();

    let again = run_release(&project, &github, &servers);
    again.success();
    crate::github::said(&again, "Sigstore bundle(s) differ in bytes from this run's but verify for the same files");
    let local = project.read("dist/app.sigstore.json");
    let remote = &published.iter().find(|(name, _)| name == "app.sigstore.json").unwrap().1;
    assert_ne!(local.as_bytes(), remote.as_slice(), "the re-run signed anew");
    let after: Vec<(String, Vec<u8>)> =
        crate::github::the_release(&github).assets.iter().map(|a| (a.name.clone(), a.bytes.clone())).collect();
    assert_eq!(after, published, "the published release is unchanged");
    assert_eq!(github.attestations(crate::github::REPO).len(), 1, "no second attestation");

    // Another Sigstore instance signs the next run: the published bundles do not verify
    // against its trusted root.
    let other = SigstoreServers::start(Workflow::new(crate::github::REPO, "refs/tags/v1.2.3"));
    other.write_trust_files(&project.join("sigstore"));
    // The new trust files are a new commit; say the tag was moved to it, so that the run gets
    // as far as comparing the assets (a tag at another commit is refused in preflight).
    github.seed_tag(crate::github::REPO, "v1.2.3", &project.head(), false);
    let refused = run_release(&project, &github, &other);
    refused.code(1);
    crate::github::said(&refused, "already has a published release");
    crate::github::said(&refused, "app.sigstore.json differs");
    let after: Vec<(String, Vec<u8>)> =
        crate::github::the_release(&github).assets.iter().map(|a| (a.name.clone(), a.bytes.clone())).collect();
    assert_eq!(after, published, "the published release is unchanged");
}

/// A trusted root whose certificate authorities have all expired (an old `trusted_root.json`
/// kept in the repository) is refused in preflight, before the build and before any
/// certificate is asked for, naming the file, what expired and the fix.
#[test]
fn an_expired_trusted_root_fails_in_preflight() {
    let servers = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let mut root: serde_json::Value = serde_json::from_str(&project.read("sigstore/trusted_root.json")).unwrap();
    for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
        ca["validFor"]["end"] = "2025-06-30T00:00:00Z".into();
    }
    project.file("sigstore/trusted_root.json", root.to_string());
    in_actions(project.release(["run", "--snapshot"]), &servers)
        .run()
        .code(3)
        .stderr_has("the Sigstore trusted root")
        .stderr_has("sigstore/trusted_root.json cannot vouch for a signature made now: every certificate authority (`certificateAuthorities`) in it expired, the last on 2025-06-30T00:00:00Z")
        .stderr_has("fetch the instance's current trusted_root.json");
    assert!(!project.exists("dist/app"), "the build must not have run");
    assert!(servers.fulcio_requests().is_empty(), "no certificate was asked for");
}
