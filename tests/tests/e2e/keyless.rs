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
