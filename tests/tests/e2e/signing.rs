//! Signing through the binary: `release keygen`, signed snapshot runs, the preflight key
//! check, and `release verify` for people who downloaded a release (the `.sig` files and the
//! key pair's Sigstore bundles). Every signature is also checked with the machine's
//! `openssl`, not only with the code that made it.

use camino::{Utf8Path, Utf8PathBuf};
use release_tests::{Project, workspace_root};

const PASSWORD: &str = "e2e password";

/// A project with one build artifact and a `[signing]` section; `extra` is appended to it.
fn signed_project(extra: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            "[project]\nversion = \"1.2.3\"\n\n[[build]]\nname = \"app\"\ncommand = [\"cp\", \"src/app.txt\", \"out/app\"]\nartifacts = [\"out/app\"]\n\n[signing]\nkey = \"keys/cosign.key\"\n{extra}"
        ))
        .file("src/app.txt", "the app\n")
        .file("out/.keep", "");
    project
}

fn keygen(project: &Project) {
    std::fs::create_dir_all(project.join("keys")).unwrap();
    project
        .release(["keygen", "--output-key", "keys/cosign.key", "--output-pub", "keys/cosign.pub"])
        .env("COSIGN_PASSWORD", PASSWORD)
        .run()
        .success();
}

fn fixture(name: &str) -> Utf8PathBuf {
    workspace_root().join("release-core/tests/fixtures/cosign").join(name)
}

/// `openssl dgst -sha256 -verify KEY -signature SIG.der FILE` on a cosign (base64) signature.
fn openssl_verifies(public_key: &Utf8Path, signature: &Utf8Path, file: &Utf8Path) -> bool {
    use base64::Engine as _;
    let text = std::fs::read_to_string(signature).unwrap();
    let der = base64::engine::general_purpose::STANDARD.decode(text.trim()).expect("a .sig file is base64");
    let dir = tempfile::tempdir().unwrap();
    let der_path = dir.path().join("sig.der");
    std::fs::write(&der_path, der).unwrap();
    let output = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", public_key.as_str(), "-signature"])
        .arg(&der_path)
        .arg(file.as_str())
        .output()
        .expect("the tests verify signatures with the machine's `openssl`: install it");
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains("Verified OK")
}

/// Runs `openssl ARGS` and returns its stdout; a failure to run it fails the test.
fn openssl(args: &[&str]) -> std::process::Output {
    std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("the tests verify signatures with the machine's `openssl`: install it")
}

/// A key pair's Sigstore bundle checked field by field with the machine's `openssl`, not
/// with the code that made it: v0.3, no log entry, the hint is base64(SHA-256(DER public
/// key)) of `public_key`, the message digest is the file's SHA-256, and the message
/// signature verifies over the file (`openssl dgst -sha256 -verify`).
fn openssl_verifies_bundle(public_key: &Utf8Path, bundle: &Utf8Path, file: &Utf8Path) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bundle).unwrap()).unwrap();
    assert_eq!(value["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json", "{value}");
    assert!(value["verificationMaterial"].get("tlogEntries").is_none_or(|e| e == &serde_json::json!([])), "{value}");
    assert_eq!(value["messageSignature"]["messageDigest"]["algorithm"], "SHA2_256", "{value}");

    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    let der = dir.join("key.der");
    assert!(
        openssl(&["pkey", "-pubin", "-in", public_key.as_str(), "-outform", "DER", "-out", der.as_str()])
            .status
            .success()
    );
    let key_digest = openssl(&["dgst", "-sha256", "-binary", der.as_str()]).stdout;
    let file_digest = openssl(&["dgst", "-sha256", "-binary", file.as_str()]).stdout;
    let hint = value["verificationMaterial"]["publicKey"]["hint"].as_str().unwrap_or_default();
    let signed_digest = b64.decode(value["messageSignature"]["messageDigest"]["digest"].as_str().unwrap()).unwrap();
    let signature = dir.join("sig.der");
    std::fs::write(&signature, b64.decode(value["messageSignature"]["signature"].as_str().unwrap()).unwrap()).unwrap();
    let verified =
        openssl(&["dgst", "-sha256", "-verify", public_key.as_str(), "-signature", signature.as_str(), file.as_str()]);
    hint == b64.encode(&key_digest)
        && signed_digest == file_digest
        && verified.status.success()
        && String::from_utf8_lossy(&verified.stdout).contains("Verified OK")
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads_and_never_replaces_one() {
    let project = Project::new();
    let first = project.release(["keygen"]).env("COSIGN_PASSWORD", PASSWORD).run();
    first.success().stdout_has("wrote cosign.key").stdout_has("wrote cosign.pub");
    let key = project.read("cosign.key");
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), "{key}");
    assert!(project.read("cosign.pub").starts_with("-----BEGIN PUBLIC KEY-----\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(project.join("cosign.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let again = project.release(["keygen"]).env("COSIGN_PASSWORD", PASSWORD).run();
    again.code(2).stderr_has("cosign.key already exists").stderr_has("--force");
    assert_eq!(project.read("cosign.key"), key, "the existing key is untouched");

    let public = project.read("cosign.pub");
    project.release(["keygen", "--force"]).env("COSIGN_PASSWORD", PASSWORD).run().success();
    assert_ne!(project.read("cosign.pub"), public, "--force wrote a new pair");

    project
        .release(["keygen", "--output-key", "other.key", "--output-pub", "other.pub"])
        .run()
        .code(2)
        .stderr_has("COSIGN_PASSWORD is not set");
    assert!(!project.exists("other.key"));
}

#[test]
fn a_snapshot_signs_everything_and_release_verify_checks_it_and_catches_tampering() {
    let project = signed_project("public-key = \"keys/cosign.pub\"\n");
    keygen(&project);
    let run = project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", PASSWORD).run();
    run.success().stderr_has("sign:artifacts").stderr_has("verify:signatures");

    let dist = project.join("dist");
    assert_eq!(project.read("dist/cosign.pub"), project.read("keys/cosign.pub"));
    for name in ["app", "SHA256SUMS"] {
        assert!(
            openssl_verifies(&dist.join("cosign.pub"), &dist.join(format!("{name}.sig")), &dist.join(name)),
            "openssl rejects the signature of {name}"
        );
    }

    let verify = project.release(["verify", "--key", "dist/cosign.pub", "--checksums", "dist/SHA256SUMS"]).run();
    verify.success().stdout_has("ok      dist/SHA256SUMS").stdout_has("ok      dist/app").stdout_has("all 2 file(s)");
    project.release(["verify", "--key", "keys/cosign.pub", "dist/app", "dist/SHA256SUMS"]).run().success();

    // A tampered download: the checksum and the signature both say so, per file.
    project.file("dist/app", "the app, with a backdoor\n");
    assert!(!openssl_verifies(&dist.join("cosign.pub"), &dist.join("app.sig"), &dist.join("app")));
    let verify = project.release(["verify", "--key", "dist/cosign.pub", "--checksums", "dist/SHA256SUMS"]).run();
    verify
        .code(1)
        .stdout_has("ok      dist/SHA256SUMS")
        .stdout_has("FAILED  dist/app: the SHA-256 is")
        .stdout_has("the signature app.sig does not match")
        .stdout_has("1 of 2 file(s) FAILED");
    let verify = project.release(["verify", "--key", "dist/cosign.pub", "dist/app", "dist/SHA256SUMS"]).run();
    verify.code(1).stdout_has("FAILED  dist/app").stdout_has("ok      dist/SHA256SUMS");

    // Another key verifies nothing; --json says the same for machines.
    project
        .release(["keygen", "--output-key", "other.key", "--output-pub", "other.pub"])
        .env("COSIGN_PASSWORD", "x")
        .run();
    let verify = project.release(["--json", "verify", "--key", "other.pub", "dist/SHA256SUMS"]).run();
    verify.code(1);
    assert_eq!(verify.json()[0]["passed"], false);
}

#[test]
fn release_verify_usage_errors_exit_2() {
    let project = Project::new();
    project.file("f", "x");
    project.release(["verify", "--key", "missing.pub", "f"]).run().code(2).stderr_has("cannot read missing.pub");
    project.release(["verify", "--key", "f", "f"]).run().code(2).stderr_has("f is not a public key");
    project.release(["verify", "--key", "f"]).run().code(2);
    let pubkey = fixture("sigstore.pub");
    project
        .release(["verify", "--key", pubkey.as_str(), "--signature", "f.sig", "f", "f"])
        .run()
        .code(2)
        .stderr_has("--signature names the signature of one file");
    project.release(["verify", "--key", pubkey.as_str(), "--checksums", "SHA256SUMS"]).run().code(2);
    project
        .release(["verify", "--key", pubkey.as_str(), "--bundle", "f.sigstore.json", "f", "f"])
        .run()
        .code(2)
        .stderr_has("--bundle names the bundle of one file, but 2 were given");
}

#[test]
fn release_verify_checks_the_key_pairs_bundles_and_says_why_one_fails() {
    let project = signed_project("public-key = \"keys/cosign.pub\"\n");
    keygen(&project);
    project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", PASSWORD).run().success();
    let public = project.join("keys/cosign.pub");
    for name in ["app", "SHA256SUMS"] {
        let dist = project.join("dist");
        let bundle = dist.join(format!("{name}.sigstore.json"));
        assert!(openssl_verifies_bundle(&public, &bundle, &dist.join(name)), "openssl rejects the bundle of {name}");
    }

    // Beside the file, both signatures are checked and named.
    let verify = project.release(["verify", "--key", "keys/cosign.pub", "dist/app"]).run();
    verify.success().stdout_has("ok      dist/app (signature app.sig, bundle app.sigstore.json)\n");

    // A download with the bundles only (what cosign v3 users publish): the bundle alone.
    std::fs::create_dir_all(project.join("download")).unwrap();
    for name in ["app", "app.sigstore.json", "SHA256SUMS", "SHA256SUMS.sigstore.json"] {
        std::fs::copy(project.join("dist").join(name), project.join("download").join(name)).unwrap();
    }
    let verify = project.release(["verify", "--key", "keys/cosign.pub", "download/app", "download/SHA256SUMS"]).run();
    verify
        .success()
        .stdout_has("ok      download/app (bundle app.sigstore.json)\n")
        .stdout_has("ok      download/SHA256SUMS (bundle SHA256SUMS.sigstore.json)\n")
        .stdout_has("all 2 file(s) verified against public key");
    let verify = project.release(["verify", "--key", "keys/cosign.pub", "--checksums", "download/SHA256SUMS"]).run();
    verify.success().stdout_has("all 2 file(s)");
    let verify = project.release(["--json", "verify", "--key", "keys/cosign.pub", "download/app"]).run();
    verify.success();
    assert_eq!(verify.json()[0]["signatures"], serde_json::json!(["download/app.sigstore.json"]));

    // Given with --bundle; without it, nothing beside the file is a failure that says so.
    std::fs::rename(project.join("download/app.sigstore.json"), project.join("app.bundle.json")).unwrap();
    project
        .release(["verify", "--key", "keys/cosign.pub", "--bundle", "app.bundle.json", "download/app"])
        .run()
        .success()
        .stdout_has("ok      download/app (bundle app.bundle.json)");
    project.release(["verify", "--key", "keys/cosign.pub", "download/app"]).run().code(1).stdout_has(
        "FAILED  download/app: no signature: neither download/app.sig nor download/app.sigstore.json exists",
    );

    // A bundle whose hint names another key: the hint is named, not a bad signature.
    project
        .release(["keygen", "--output-key", "other.key", "--output-pub", "other.pub"])
        .env("COSIGN_PASSWORD", "x")
        .run()
        .success();
    let verify = project.release(["verify", "--key", "other.pub", "download/SHA256SUMS"]).run();
    verify
        .code(1)
        .stdout_has("FAILED  download/SHA256SUMS: the bundle SHA256SUMS.sigstore.json names another key: its public-key hint is ")
        .stdout_has("1 of 1 file(s) FAILED");
    assert!(!openssl_verifies_bundle(
        &project.join("other.pub"),
        &project.join("app.bundle.json"),
        &project.join("download/app")
    ));

    // The bundle of another file.
    let verify = project
        .release([
            "verify",
            "--key",
            "keys/cosign.pub",
            "--bundle",
            "download/SHA256SUMS.sigstore.json",
            "download/app",
        ])
        .run();
    verify
        .code(1)
        .stdout_has("FAILED  download/app: the bundle SHA256SUMS.sigstore.json is for other bytes: it signs SHA-256 ");

    // A tampered file: the digests in the message are the bundle's and the file's.
    let signed = project.read("download/app");
    project.file("download/app", "the app, with a backdoor\n");
    assert!(!openssl_verifies_bundle(&public, &project.join("app.bundle.json"), &project.join("download/app")));
    let verify =
        project.release(["verify", "--key", "keys/cosign.pub", "--bundle", "app.bundle.json", "download/app"]).run();
    let sha256 = |text: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    verify.code(1).stdout_has(&format!(
        "FAILED  download/app: the bundle app.bundle.json is for other bytes: it signs SHA-256 {}, the file's is {} \
         (the file changed after it was signed, or the bundle is for another file)",
        sha256(&signed),
        sha256("the app, with a backdoor\n")
    ));

    // A key pair's bundle given to the keyless verifier says which flag it needs.
    let verify = project.release(["verify", "--repo", "acme/hello", "dist/app"]).run();
    verify.code(1).stdout_has(
        "FAILED  dist/app: dist/app.sigstore.json is a key pair's bundle (public-key hint), not a keyless one: verify it with --key",
    );
}

#[test]
fn keys_written_by_an_independent_tool_sign_a_release_in_both_labels() {
    for stem in ["sigstore", "legacy"] {
        let project = signed_project("");
        std::fs::create_dir_all(project.join("keys")).unwrap();
        std::fs::copy(fixture(&format!("{stem}.key")), project.join("keys/cosign.key")).unwrap();
        project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", "fixture-password").run().success();
        let dist = project.join("dist");
        let public = fixture(&format!("{stem}.pub"));
        assert!(openssl_verifies(&public, &dist.join("app.sig"), &dist.join("app")), "{stem}");
        assert!(openssl_verifies(&public, &dist.join("SHA256SUMS.sig"), &dist.join("SHA256SUMS")), "{stem}");
    }
}

#[test]
fn key_problems_stop_the_run_in_preflight_before_the_build() {
    let project = signed_project("");
    keygen(&project);

    let run = project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", "not it").run();
    run.code(3).stderr_has("wrong password for").stderr_has("keys/cosign.key");
    assert!(!project.exists("out/app") && !project.exists("dist"), "nothing was built");

    let run = project.release(["run", "--snapshot"]).run();
    run.code(3).stderr_has("the environment variable COSIGN_PASSWORD is empty or unset");

    let run = project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", "").run();
    run.code(3).stderr_has("COSIGN_PASSWORD is empty or unset");

    std::fs::remove_file(project.join("keys/cosign.key")).unwrap();
    let run = project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", PASSWORD).run();
    run.code(3).stderr_has("keys/cosign.key does not exist").stderr_has("release keygen");
    assert!(!project.exists("out/app") && !project.exists("dist"), "nothing was built");
}

#[test]
fn a_public_key_that_is_not_the_private_keys_half_fails_preflight() {
    let project = signed_project("public-key = \"other.pub\"\n");
    keygen(&project);
    project
        .release(["keygen", "--output-key", "other.key", "--output-pub", "other.pub"])
        .env("COSIGN_PASSWORD", "x")
        .run();
    let run = project.release(["run", "--snapshot"]).env("COSIGN_PASSWORD", PASSWORD).run();
    run.code(3).stderr_has("does not match the public key").stderr_has("other.pub");
}

#[test]
fn an_ephemeral_key_signs_snapshots_only_and_says_so() {
    let project = signed_project("ephemeral-in-snapshot = true\n");
    let run = project.release(["run", "--snapshot"]).run();
    run.success().stderr_has("EPHEMERAL");
    assert!(project.exists("dist/cosign.ephemeral.pub") && !project.exists("dist/cosign.pub"));
    let dist = project.join("dist");
    assert!(openssl_verifies(&dist.join("cosign.ephemeral.pub"), &dist.join("app.sig"), &dist.join("app")));
    project.release(["verify", "--key", "dist/cosign.ephemeral.pub", "--checksums", "dist/SHA256SUMS"]).run().success();

    // A real release never signs with a throwaway key: the missing key stops it in preflight.
    let run = project.release(["run"]).env("COSIGN_PASSWORD", PASSWORD).run();
    run.code(3).stderr_has("keys/cosign.key does not exist");
}

#[test]
fn the_bundled_example_snapshot_is_signed_with_a_labelled_ephemeral_key() {
    let project = Project::from_example("hello");
    let run = project.release(["run", "--snapshot"]).run();
    run.success().stderr_has("EPHEMERAL");
    let dist = project.join("dist");
    assert!(project.exists("dist/cosign.ephemeral.pub"));
    let verify =
        project.release(["verify", "--key", "dist/cosign.ephemeral.pub", "--checksums", "dist/SHA256SUMS"]).run();
    verify.success();
    assert!(!verify.stdout.contains("FAILED"), "{}", verify.stdout);
    assert!(openssl_verifies(
        &dist.join("cosign.ephemeral.pub"),
        &dist.join("SHA256SUMS.sig"),
        &dist.join("SHA256SUMS")
    ));
}

mod published {
    use release_tests::github_server::{GithubServer, Level, TokenSpec, Visibility};

    use super::*;

    const REPO: &str = "acme/hello";
    const TOKEN: &str = "ghs_signing0123456789";

    fn server() -> GithubServer {
        let server = GithubServer::start();
        server
            .add_repository(REPO, Visibility::Public)
            .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
        server
    }

    fn github_project() -> Project {
        signed_project(&format!(
            "public-key = \"keys/cosign.pub\"\n\n[github]\nrepository = \"{REPO}\"\n\n\
             [network]\ngithub-mutation-interval-ms = 0\n"
        ))
    }

    #[test]
    fn a_signed_release_publishes_every_signature_and_the_public_key() {
        let server = server();
        let project = github_project();
        keygen(&project);
        let run = project
            .release(["run"])
            .env("GITHUB_API_URL", server.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("COSIGN_PASSWORD", PASSWORD)
            .run();
        run.success();

        let releases = server.releases(REPO);
        assert_eq!(releases.len(), 1, "{releases:#?}");
        let release = &releases[0];
        assert!(!release.draft);
        let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "SHA256SUMS",
                "SHA256SUMS.sig",
                "SHA256SUMS.sigstore.json",
                "app",
                "app.sig",
                "app.sigstore.json",
                "cosign.pub"
            ]
        );

        // What a user downloads verifies, with openssl, against the key in the repository.
        let download = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(download.path()).unwrap();
        for asset in &release.assets {
            std::fs::write(dir.join(&asset.name), &asset.bytes).unwrap();
        }
        assert_eq!(std::fs::read_to_string(dir.join("cosign.pub")).unwrap(), project.read("keys/cosign.pub"));
        for name in ["app", "SHA256SUMS"] {
            let public = project.join("keys/cosign.pub");
            assert!(openssl_verifies(&public, &dir.join(format!("{name}.sig")), &dir.join(name)), "{name}");
        }
        let sums = dir.join("SHA256SUMS");
        project.release(["verify", "--key", "keys/cosign.pub", "--checksums", sums.as_str()]).run().success();
    }

    #[test]
    fn a_wrong_password_publishes_nothing() {
        let server = server();
        let project = github_project();
        keygen(&project);
        let run = project
            .release(["run"])
            .env("GITHUB_API_URL", server.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("COSIGN_PASSWORD", "not the password")
            .run();
        run.code(3).stderr_has("wrong password for");
        assert!(server.releases(REPO).is_empty(), "no release, not even a draft");
        assert!(!project.exists("dist"), "nothing was built");
    }
}
