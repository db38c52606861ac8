//! The signing steps: prove the key in preflight, sign every artifact, and verify every
//! signature before anything is published (the gate).
//!
//! - [`SigningKeyCheck`] (preflight, check): the key exists, opens with the password, and
//!   matches `signing.public-key` when one is configured; a missing password variable is
//!   named. Runs before the build, so a bad key costs a second, not a build.
//! - [`SignArtifacts`] (sign, local): writes `<file>.sig` for every artifact (binaries, chart
//!   packages, `SHA256SUMS`), ships the public key, and leaves the signer in the step context
//!   ([`ActiveSigner`]) for later steps that sign registry objects.
//! - [`VerifySignatures`] (verify, local): every signature is checked against the shipped
//!   public key, every file against the digest recorded when it was collected. Any failure
//!   stops the run before the publish stage.
//!
//! In snapshot runs with `signing.ephemeral-in-snapshot = true` and no key file, a key pair is
//! generated for the run: its public key is written as `cosign.ephemeral.pub` and every
//! report line says it is ephemeral. Never in any other mode.

use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use crate::checksum::sha256_hex;
use crate::config::{Config, SigningConfig};
use crate::env::Environment;
use crate::error::StepError;
use crate::plan::{Effect, Mode, Stage};
use crate::signing::BlobSignature;
use crate::signing::bundle::{bundle_name, key_bundle_json, verify_key_bundle};
use crate::signing::key::PasswordSource;
use crate::signing::verify::{FileVerdict, VerifyFailure, verify_file};
use crate::signing::{
    ActiveSigner, CosignKeyPair, DEFAULT_KEY_FILE, EPHEMERAL_PUBLIC_KEY_NAME, PUBLIC_KEY_NAME, PublicKey, Signer,
    SigningError, signature_name,
};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepResult};

/// The signing settings of one run, resolved against the config's directory.
#[derive(Clone, Debug)]
pub struct SigningSettings {
    pub key: Utf8PathBuf,
    pub public_key: Option<Utf8PathBuf>,
    pub password_env: String,
    pub snapshot: bool,
    pub ephemeral_in_snapshot: bool,
}

impl SigningSettings {
    /// Pure: copies paths out of the config.
    pub fn new(config: &Config, signing: &SigningConfig, mode: Mode) -> Self {
        SigningSettings {
            key: config.root.join(signing.key.as_deref().unwrap_or(Utf8Path::new(DEFAULT_KEY_FILE))),
            public_key: signing.public_key.as_ref().map(|p| config.root.join(p)),
            password_env: signing.password_env.clone(),
            snapshot: mode == Mode::Snapshot,
            ephemeral_in_snapshot: signing.ephemeral_in_snapshot,
        }
    }

    /// Whether this run signs with a throwaway key: only a snapshot run, only when the config
    /// allows it, only when the key file is absent.
    fn ephemeral(&self) -> bool {
        self.snapshot && self.ephemeral_in_snapshot && self.key.symlink_metadata().is_err()
    }

    /// Opens the configured key with its password, naming the key in every error.
    fn open_key(&self, env: &Environment) -> Result<(CosignKeyPair, PasswordSource), SigningError> {
        CosignKeyPair::load_with_password_from(&self.key, env, &self.password_env).map_err(|err| match err {
            SigningError::KeyMissing { path, .. } => {
                SigningError::KeyMissing { path, ephemeral_possible: self.snapshot && !self.ephemeral_in_snapshot }
            }
            other => other,
        })
    }

    /// The signer for this run and whether it is ephemeral.
    fn signer(&self, env: &Environment) -> Result<(CosignKeyPair, bool), SigningError> {
        if self.ephemeral() { Ok((CosignKeyPair::ephemeral()?, true)) } else { Ok((self.open_key(env)?.0, false)) }
    }
}

/// Files that are signed: everything published except signatures and the public key.
fn signed(kind: ArtifactKind) -> bool {
    !matches!(kind, ArtifactKind::Signature | ArtifactKind::PublicKey)
}

async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> Result<T, StepError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StepError::new(format!("{what} stopped: {e}")))?
}

/// A safe point between two files: an interrupted run stops here; nothing half-written stays
/// behind (each `.sig` is written whole).
fn stop_if_interrupted(cx: &StepContext<'_>, what: &str) -> Result<(), StepError> {
    if cx.is_cancelled() {
        return Err(StepError::new(format!("{what} was stopped: the run was interrupted"))
            .with_help("nothing was published; run the release again"));
    }
    Ok(())
}

/// Preflight: the key opens and matches its public key.
#[derive(Debug)]
pub struct SigningKeyCheck {
    settings: SigningSettings,
}

impl SigningKeyCheck {
    pub fn new(settings: SigningSettings) -> Self {
        SigningKeyCheck { settings }
    }
}

#[async_trait::async_trait]
impl Step for SigningKeyCheck {
    fn id(&self) -> String {
        "preflight:signing-key".into()
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Check
    }
    fn description(&self) -> String {
        format!("check that {} opens with the password in {}", self.settings.key, self.settings.password_env)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = self.settings.clone();
        if settings.ephemeral() {
            // The sign step warns when it generates the pair; here the summary says it.
            return Ok(Some(format!(
                "no key at {}: this snapshot run signs with an EPHEMERAL key pair ({EPHEMERAL_PUBLIC_KEY_NAME})",
                settings.key
            )));
        }
        let env = cx.env().clone();
        blocking("checking the signing key", move || {
            let (pair, password) = settings.open_key(&env)?;
            let password = match password {
                PasswordSource::Variable(source) => format!("the password from {source}"),
                PasswordSource::Empty => "the empty password".into(),
            };
            let mut summary = format!("{} opens with {password}", settings.key);
            if let Some(public_key) = &settings.public_key {
                if PublicKey::load(public_key)? != *pair.public_key() {
                    return Err(SigningError::KeyMismatch {
                        key: settings.key.clone(),
                        public_key: public_key.clone(),
                    }
                    .into());
                }
                summary.push_str(&format!(", matches {public_key}"));
            }
            Ok(Some(summary))
        })
        .await
    }
}

/// Sign stage: a `.sig` for every artifact, and the public key.
#[derive(Debug)]
pub struct SignArtifacts {
    settings: SigningSettings,
}

impl SignArtifacts {
    pub fn new(settings: SigningSettings) -> Self {
        SignArtifacts { settings }
    }
}

#[async_trait::async_trait]
impl Step for SignArtifacts {
    fn id(&self) -> String {
        "sign:artifacts".into()
    }
    fn stage(&self) -> Stage {
        Stage::Sign
    }
    fn effect(&self) -> Effect {
        Effect::Local
    }
    fn description(&self) -> String {
        let key = &self.settings.key;
        if self.settings.snapshot && self.settings.ephemeral_in_snapshot {
            format!("sign every artifact and SHA256SUMS with {key}, or an EPHEMERAL key pair if it is absent")
        } else {
            format!("sign every artifact and SHA256SUMS with {key} (cosign sign-blob format)")
        }
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = self.settings.clone();
        let env = cx.env().clone();
        let (pair, ephemeral) = blocking("opening the signing key", move || Ok(settings.signer(&env)?)).await?;
        let signer: Arc<dyn Signer> = Arc::new(pair);
        if ephemeral {
            cx.warn(format!(
                "signing with an EPHEMERAL key pair generated for this snapshot run: its signatures verify only against {EPHEMERAL_PUBLIC_KEY_NAME} and vouch for nothing beyond this run"
            ));
        }
        let dist = cx.release().dist.clone();
        let artifacts = cx.artifacts();
        let to_sign: Vec<Artifact> = artifacts.iter().filter(|a| signed(a.kind)).cloned().collect();

        for artifact in &to_sign {
            let sig_name = signature_name(&artifact.name);
            if let Some(clash) = artifacts.iter().find(|a| a.name == sig_name && a.kind != ArtifactKind::Signature) {
                return Err(StepError::new(format!(
                    "the artifact {} has the name its signature would take, the signature of {}",
                    clash.name, artifact.name
                ))
                .with_help(
                    "rename the artifact (`name` in its [[build]] artifacts) so that it does not end in `.sig`",
                ));
            }
            stop_if_interrupted(cx, "signing")?;
            cx.progress(format!("signing {}", artifact.name));
            let (item, worker) = (artifact.clone(), signer.clone());
            let (signature, digest) = blocking("signing", move || sign_artifact(&*worker, &item)).await?;
            let text = signature.to_base64();
            let path = dist.join(&sig_name);
            std::fs::write(&path, &text).map_err(|source| SigningError::Write { path: path.clone(), source })?;
            cx.add_artifact(Artifact {
                name: sig_name,
                path,
                kind: ArtifactKind::Signature,
                size: text.len() as u64,
                sha256: sha256_hex(text.as_bytes()),
            });
            // The same signature as a Sigstore bundle v0.3 (public-key hint, no log entry),
            // the format cosign v3 reads and writes by default.
            if let Some(public_key) = signer.public_key() {
                let name = bundle_name(&artifact.name);
                let json = key_bundle_json(public_key.spki_der(), signature.der(), &digest)
                    .map_err(|e| StepError::new(format!("cannot make the bundle of {}: {e}", artifact.name)))?;
                let path = dist.join(&name);
                std::fs::write(&path, &json).map_err(|source| SigningError::Write { path: path.clone(), source })?;
                cx.add_artifact(Artifact {
                    name,
                    path,
                    kind: ArtifactKind::Signature,
                    size: json.len() as u64,
                    sha256: sha256_hex(json.as_bytes()),
                });
            }
        }

        let mut shipped = String::new();
        if let Some(public_key) = signer.public_key() {
            let name = if ephemeral { EPHEMERAL_PUBLIC_KEY_NAME } else { PUBLIC_KEY_NAME };
            let pem = public_key.to_pem();
            let path = dist.join(name);
            std::fs::write(&path, &pem).map_err(|source| SigningError::Write { path: path.clone(), source })?;
            cx.add_artifact(Artifact {
                name: name.into(),
                path,
                kind: ArtifactKind::PublicKey,
                size: pem.len() as u64,
                sha256: sha256_hex(pem.as_bytes()),
            });
            shipped = format!(", public key {name} ({})", public_key.fingerprint());
        }
        let summary = format!("signed {} file(s) with {}{shipped}", to_sign.len(), signer.describe());
        cx.insert(ActiveSigner(signer));
        Ok(Some(summary))
    }
}

/// Streams an artifact once through SHA-256, checks it is still the file whose digest was
/// recorded (and listed in `SHA256SUMS`), and signs that digest: memory stays bounded
/// whatever the file's size.
fn sign_artifact(signer: &dyn Signer, artifact: &Artifact) -> Result<(BlobSignature, [u8; 32]), StepError> {
    let (digest, _) = crate::checksum::hash_file_raw(&artifact.path)?;
    let actual = hex::encode(digest);
    if actual != artifact.sha256 {
        return Err(changed_after_collection(artifact, &actual));
    }
    Ok((signer.sign_sha256(&digest)?, digest))
}

fn changed_after_collection(artifact: &Artifact, actual: &str) -> StepError {
    StepError::new(format!(
        "{} changed after it was collected: its SHA-256 is {actual}, {} was recorded",
        artifact.path, artifact.sha256
    ))
    .with_help("something rewrote the file in the dist directory during the run; find what (a build command writing into dist?) and run the release again")
}

/// Verify stage: the gate. Nothing is published unless every signature verifies.
#[derive(Debug)]
pub struct VerifySignatures {
    settings: SigningSettings,
}

impl VerifySignatures {
    pub fn new(settings: SigningSettings) -> Self {
        VerifySignatures { settings }
    }
}

#[async_trait::async_trait]
impl Step for VerifySignatures {
    fn id(&self) -> String {
        "verify:signatures".into()
    }
    fn stage(&self) -> Stage {
        Stage::Verify
    }
    fn effect(&self) -> Effect {
        Effect::Local
    }
    fn description(&self) -> String {
        "verify every signature against the shipped public key before anything is published".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let artifacts = cx.artifacts();
        let shipped = artifacts.iter().find(|a| a.kind == ArtifactKind::PublicKey).ok_or_else(|| {
            StepError::new("no public key among the artifacts: nothing can be verified")
                .with_help("the sign step must run before this one; an embedder that replaces it must ship the public key as `ArtifactKind::PublicKey`")
        })?;
        let key = PublicKey::load(&shipped.path)?;
        if let Some(configured) = &self.settings.public_key
            && shipped.name != EPHEMERAL_PUBLIC_KEY_NAME
            && PublicKey::load(configured)? != key
        {
            return Err(StepError::new(format!(
                "the shipped public key {} is not the configured `signing.public-key` {configured}",
                shipped.name
            ))
            .with_help("nothing was published; the key that signed this run is not the one users are told to trust: check `signing.key` and `signing.public-key`"));
        }

        let to_verify: Vec<Artifact> = artifacts.iter().filter(|a| signed(a.kind)).cloned().collect();
        let mut failed: Vec<FileVerdict> = Vec::new();
        for artifact in &to_verify {
            stop_if_interrupted(cx, "verification")?;
            cx.progress(format!("verifying {}", artifact.name));
            let sig_name = signature_name(&artifact.name);
            let verdict = match artifacts.iter().find(|a| a.name == sig_name && a.kind == ArtifactKind::Signature) {
                None => FileVerdict {
                    file: artifact.path.clone(),
                    failures: vec![VerifyFailure::SignatureMissing { signature: cx.release().dist.join(&sig_name) }],
                },
                Some(signature) => {
                    let (key, item, sig_path) = (key.clone(), artifact.clone(), signature.path.clone());
                    blocking("verifying", move || Ok(verify_file(&key, &item.path, &sig_path, Some(&item.sha256))))
                        .await?
                }
            };
            let mut verdict = verdict;
            let bundle = bundle_name(&artifact.name);
            if verdict.passed()
                && let Some(bundle) = artifacts.iter().find(|a| a.name == bundle && a.kind == ArtifactKind::Signature)
            {
                let (key, item, bundle_path) = (key.clone(), artifact.clone(), bundle.path.clone());
                let checked = blocking("verifying", move || {
                    let (digest, _) = crate::checksum::hash_file_raw(&item.path)?;
                    Ok(verify_key_bundle(&key, &bundle_path, &digest))
                })
                .await?;
                if let Err(reason) = checked {
                    verdict.failures.push(VerifyFailure::Bundle { reason });
                }
            }
            if !verdict.passed() {
                failed.push(verdict);
            }
        }
        if !failed.is_empty() {
            let details: Vec<String> = failed
                .iter()
                .map(|v| {
                    let reasons: Vec<String> = v.failures.iter().map(ToString::to_string).collect();
                    format!("{}: {}", v.file.file_name().unwrap_or(v.file.as_str()), reasons.join("; "))
                })
                .collect();
            return Err(StepError::new(format!(
                "{} of {} file(s) failed signature verification: {}",
                failed.len(),
                to_verify.len(),
                details.join(", ")
            ))
            .with_help("nothing was published. A file in the dist directory changed after it was signed, or was signed by another key; find what rewrote it and run the release again"));
        }
        let label = if shipped.name == EPHEMERAL_PUBLIC_KEY_NAME { " (EPHEMERAL)" } else { "" };
        Ok(Some(format!(
            "{} signature(s) verified against {}{label} ({})",
            to_verify.len(),
            shipped.name,
            key.fingerprint()
        )))
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;
    use crate::event::{Event, Recorder};
    use crate::signing::test_support::{FIXTURE_PASSWORD, fixture, openssl_verifies, temp_dir};
    use crate::stages::checksums::WriteChecksums;
    use crate::step::{Release, RunState};

    fn settings(key: Utf8PathBuf, public_key: Option<Utf8PathBuf>, snapshot: bool, ephemeral: bool) -> SigningSettings {
        SigningSettings {
            key,
            public_key,
            password_env: "COSIGN_PASSWORD".into(),
            snapshot,
            ephemeral_in_snapshot: ephemeral,
        }
    }

    fn fixture_settings() -> SigningSettings {
        settings(fixture("sigstore.key"), Some(fixture("sigstore.pub")), false, false)
    }

    fn state(dir: &Utf8Path, env: Environment) -> RunState {
        let dist = dir.join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        let release =
            Release { version: semver::Version::new(1, 2, 3), tag: "v1.2.3".into(), root: dir.to_owned(), dist };
        RunState::new(release, env, crate::cancel::Cancellation::new())
    }

    fn with_password() -> Environment {
        Environment::empty().with("COSIGN_PASSWORD", FIXTURE_PASSWORD)
    }

    /// A dist directory with two binaries and their SHA256SUMS, as the build and package
    /// stages leave it.
    async fn built(cx: &StepContext<'_>) {
        for (name, bytes) in [("hello-linux.tar.gz", &b"linux bytes"[..]), ("hello-macos.tar.gz", &b"macos bytes"[..])]
        {
            let path = cx.release().dist.join(name);
            std::fs::write(&path, bytes).unwrap();
            cx.add_artifact(Artifact {
                name: name.into(),
                path,
                kind: ArtifactKind::Binary,
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            });
        }
        WriteChecksums.run(cx).await.unwrap();
    }

    fn names(cx: &StepContext<'_>, kind: ArtifactKind) -> Vec<String> {
        cx.artifacts().into_iter().filter(|a| a.kind == kind).map(|a| a.name).collect()
    }

    #[tokio::test]
    async fn every_artifact_is_signed_and_an_independent_verifier_agrees() {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
        built(&cx).await;

        let summary = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap().unwrap();
        assert!(summary.starts_with("signed 3 file(s) with key "), "{summary}");
        assert_eq!(
            names(&cx, ArtifactKind::Signature),
            [
                "hello-linux.tar.gz.sig",
                "hello-linux.tar.gz.sigstore.json",
                "hello-macos.tar.gz.sig",
                "hello-macos.tar.gz.sigstore.json",
                "SHA256SUMS.sig",
                "SHA256SUMS.sigstore.json"
            ]
        );
        assert_eq!(names(&cx, ArtifactKind::PublicKey), ["cosign.pub"]);
        let dist = &cx.release().dist;
        // The shipped public key is the configured one, byte for byte as cosign writes it.
        assert_eq!(
            std::fs::read_to_string(dist.join("cosign.pub")).unwrap(),
            std::fs::read_to_string(fixture("sigstore.pub")).unwrap()
        );
        for name in ["hello-linux.tar.gz", "hello-macos.tar.gz", "SHA256SUMS"] {
            let sig = std::fs::read_to_string(dist.join(format!("{name}.sig"))).unwrap();
            assert!(openssl_verifies(&fixture("sigstore.pub"), &sig, &dist.join(name)), "{name}");
            // The bundle: v0.3, the key's hint, the same kind of signature (openssl checks it).
            let bundle: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dist.join(format!("{name}.sigstore.json"))).unwrap())
                    .unwrap();
            assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
            let hint =
                crate::signing::bundle::public_key_hint(PublicKey::load(&fixture("sigstore.pub")).unwrap().spki_der());
            assert_eq!(bundle["verificationMaterial"]["publicKey"]["hint"], hint.as_str());
            let bundled = bundle["messageSignature"]["signature"].as_str().unwrap();
            assert!(openssl_verifies(&fixture("sigstore.pub"), bundled, &dist.join(name)), "{name} bundle");
        }
        assert!(cx.get::<ActiveSigner>().is_some());

        let summary = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap().unwrap();
        assert!(summary.starts_with("3 signature(s) verified against cosign.pub"), "{summary}");
    }

    #[tokio::test]
    async fn the_gate_stops_a_tampered_artifact() {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "verify:signatures", &recorder);
        built(&cx).await;
        SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();

        std::fs::write(cx.release().dist.join("hello-macos.tar.gz"), b"macos bytes, backdoored").unwrap();
        let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
        let message = err.message();
        assert!(message.starts_with("1 of 3 file(s) failed signature verification: hello-macos.tar.gz: "), "{message}");
        assert!(message.contains("the signature hello-macos.tar.gz.sig does not match"), "{message}");
        assert!(err.help().unwrap().starts_with("nothing was published"), "{err}");
    }

    #[tokio::test]
    async fn the_gate_stops_a_bundle_of_another_file() {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "verify:signatures", &recorder);
        built(&cx).await;
        SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();
        let dist = cx.release().dist.clone();
        std::fs::copy(dist.join("hello-linux.tar.gz.sigstore.json"), dist.join("hello-macos.tar.gz.sigstore.json"))
            .unwrap();
        let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
        assert!(err.message().contains("hello-macos.tar.gz.sigstore.json is for another file"), "{err}");
    }

    #[tokio::test]
    async fn the_gate_stops_a_missing_or_foreign_signature() {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "verify:signatures", &recorder);
        built(&cx).await;
        SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();
        let dist = cx.release().dist.clone();

        std::fs::remove_file(dist.join("SHA256SUMS.sig")).unwrap();
        let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
        assert!(err.message().contains("SHA256SUMS: no signature"), "{err}");

        // A signature by another key over the same bytes.
        let other = CosignKeyPair::generate().unwrap();
        std::fs::write(
            dist.join("SHA256SUMS.sig"),
            other.sign_base64(&std::fs::read(dist.join("SHA256SUMS")).unwrap()).unwrap(),
        )
        .unwrap();
        let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
        assert!(err.message().contains("the signature SHA256SUMS.sig does not match"), "{err}");
    }

    #[tokio::test]
    async fn signing_refuses_a_file_that_changed_after_it_was_checksummed() {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
        built(&cx).await;
        std::fs::write(cx.release().dist.join("hello-linux.tar.gz"), b"rewritten").unwrap();
        let err = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap_err();
        assert!(err.message().contains("hello-linux.tar.gz changed after it was collected"), "{err}");
    }

    #[tokio::test]
    async fn an_interrupted_run_stops_signing_between_files() {
        let (_dir, tmp) = temp_dir();
        let dist = tmp.join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        let release = Release { version: semver::Version::new(1, 2, 3), tag: "v1.2.3".into(), root: tmp.clone(), dist };
        let cancel = crate::cancel::Cancellation::new();
        let state = RunState::new(release, with_password(), cancel.clone());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
        built(&cx).await;
        cancel.cancel();
        let err = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap_err();
        assert!(err.message().contains("interrupted"), "{err}");
        assert!(names(&cx, ArtifactKind::Signature).is_empty());
    }

    async fn preflight(settings: SigningSettings, env: Environment) -> StepResult {
        let (_dir, tmp) = temp_dir();
        let state = state(&tmp, env);
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "preflight:signing-key", &recorder);
        SigningKeyCheck::new(settings).run(&cx).await
    }

    #[tokio::test]
    async fn preflight_proves_the_key_and_its_public_half() {
        let summary = preflight(fixture_settings(), with_password()).await.unwrap().unwrap();
        assert!(summary.contains("opens with the password from environment variable COSIGN_PASSWORD"), "{summary}");
        assert!(summary.ends_with(&format!("matches {}", fixture("sigstore.pub"))), "{summary}");
    }

    #[tokio::test]
    async fn preflight_names_a_wrong_password_a_missing_variable_a_missing_key_and_a_mismatch() {
        let key = fixture("sigstore.key");
        let wrong = Environment::empty().with("COSIGN_PASSWORD", "guess");
        let err = preflight(fixture_settings(), wrong).await.unwrap_err();
        assert!(err.message().starts_with(&format!("wrong password for {key}")), "{err}");

        let err = preflight(fixture_settings(), Environment::empty()).await.unwrap_err();
        assert!(err.message().contains("the environment variable COSIGN_PASSWORD is empty or unset"), "{err}");
        assert!(err.help().unwrap().contains("secrets.COSIGN_PASSWORD"), "{err}");

        let (_dir, tmp) = temp_dir();
        let err = preflight(settings(tmp.join("cosign.key"), None, false, false), with_password()).await.unwrap_err();
        assert!(err.message().ends_with("cosign.key does not exist"), "{err}");
        assert!(err.help().unwrap().contains("release keygen"), "{err}");

        let mismatched = settings(key.clone(), Some(fixture("legacy.pub")), false, false);
        let err = preflight(mismatched, with_password()).await.unwrap_err();
        assert!(err.message().contains("does not match the public key"), "{err}");
    }

    #[tokio::test]
    async fn a_snapshot_without_a_key_signs_with_a_labelled_ephemeral_pair() {
        let (_dir, tmp) = temp_dir();
        let absent = tmp.join("cosign.key");
        let snapshot = settings(absent.clone(), Some(fixture("sigstore.pub")), true, true);
        let summary = preflight(snapshot.clone(), Environment::empty()).await.unwrap().unwrap();
        assert!(summary.contains("EPHEMERAL"), "{summary}");

        let state = state(&tmp, Environment::empty());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
        built(&cx).await;
        let summary = SignArtifacts::new(snapshot.clone()).run(&cx).await.unwrap().unwrap();
        assert!(summary.contains("EPHEMERAL"), "{summary}");
        assert!(summary.contains("public key cosign.ephemeral.pub"), "{summary}");
        assert_eq!(names(&cx, ArtifactKind::PublicKey), ["cosign.ephemeral.pub"]);
        assert!(
            recorder
                .events()
                .iter()
                .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("EPHEMERAL"))),
            "a warning says the key is ephemeral"
        );
        let dist = &cx.release().dist;
        let sig = std::fs::read_to_string(dist.join("SHA256SUMS.sig")).unwrap();
        assert!(openssl_verifies(&dist.join("cosign.ephemeral.pub"), &sig, &dist.join("SHA256SUMS")));
        let summary = VerifySignatures::new(snapshot).run(&cx).await.unwrap().unwrap();
        assert!(summary.contains("cosign.ephemeral.pub (EPHEMERAL)"), "{summary}");
    }

    #[tokio::test]
    async fn outside_snapshots_a_missing_key_is_never_replaced_by_an_ephemeral_one() {
        let (_dir, tmp) = temp_dir();
        let release_mode = settings(tmp.join("cosign.key"), None, false, true);
        let err = preflight(release_mode.clone(), with_password()).await.unwrap_err();
        assert!(err.message().ends_with("cosign.key does not exist"), "{err}");

        let state = state(&tmp, with_password());
        let recorder = Recorder::default();
        let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
        built(&cx).await;
        let err = SignArtifacts::new(release_mode).run(&cx).await.unwrap_err();
        assert!(err.message().ends_with("cosign.key does not exist"), "{err}");
        assert!(names(&cx, ArtifactKind::Signature).is_empty());
    }

    #[tokio::test]
    async fn a_wrong_password_stops_the_pipeline_in_preflight_before_the_build() {
        let (_dir, tmp) = temp_dir();
        std::fs::copy(fixture("sigstore.key"), tmp.join("cosign.key")).unwrap();
        let text = "[project]\nversion = \"1.2.3\"\n[[build]]\nname = \"touch\"\ncommand = [\"touch\", \"built\"]\n[signing]\nkey = \"cosign.key\"\n";
        let config = Config::parse(text, &tmp.join("release.toml")).unwrap();
        let env = Environment::from_process().with("COSIGN_PASSWORD", "guess");
        let pipeline = crate::assemble::pipeline(&config, &env, Mode::Snapshot, &Default::default()).unwrap();
        let stages: Vec<(String, Stage)> = pipeline.plan().steps.into_iter().map(|s| (s.id, s.stage)).collect();
        for (id, stage) in [
            ("preflight:signing-key", Stage::Preflight),
            ("sign:artifacts", Stage::Sign),
            ("verify:signatures", Stage::Verify),
        ] {
            assert!(stages.contains(&(id.to_owned(), stage)), "{stages:?}");
        }
        let failure = pipeline.run(&Recorder::default()).await.unwrap_err();
        assert_eq!(failure.kind.exit_code(), 3);
        assert!(failure.to_string().contains("wrong password for"), "{failure}");
        assert!(!tmp.join("built").exists(), "the build must not have run");
    }
}
