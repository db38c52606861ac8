//! Helpers for the signing tests: the committed fixtures, temporary directories, and an
//! independent verifier (the machine's `openssl`), so that no test trusts the code path
//! that signed.

use camino::{Utf8Path, Utf8PathBuf};

use super::BlobSignature;

/// The password of the fixture keys (see `tests/fixtures/make_cosign_keys.py`).
pub(crate) const FIXTURE_PASSWORD: &str = "fixture-password";

/// A file under `release-core/tests/fixtures/cosign/`.
pub(crate) fn fixture(name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cosign")).join(name)
}

pub(crate) fn temp_dir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("UTF-8 temporary path");
    (dir, path)
}

/// Whether `openssl dgst -sha256 -verify PUBLIC_KEY -signature SIG.der FILE` accepts a
/// base64 signature. A missing `openssl` fails the test instead of skipping it.
pub(crate) fn openssl_verifies(public_key: &Utf8Path, signature_base64: &str, file: &Utf8Path) -> bool {
    let (_dir, tmp) = temp_dir();
    let der = tmp.join("signature.der");
    let signature = BlobSignature::from_base64(signature_base64).expect("signature is base64");
    std::fs::write(&der, signature.der()).unwrap();
    let output = crate::shell::checker("openssl")
        .args(["dgst", "-sha256", "-verify", public_key.as_str(), "-signature", der.as_str(), file.as_str()])
        .output()
        .expect("the tests verify signatures with the machine's `openssl`: install it");
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success() && stdout.contains("Verified OK")
}
