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
            let message = format!(
                "no key at {}: this snapshot run signs with an EPHEMERAL key pair ({EPHEMERAL_PUBLIC_KEY_NAME})",
                settings.key
            );
            cx.warn(message.clone());
            return Ok(Some(message));
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
        format!("sign every artifact and SHA256SUMS with {} (cosign sign-blob format)", self.settings.key)
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
            cx.progress(format!("signing {}", artifact.name));
            let (item, worker) = (artifact.clone(), signer.clone());
            let text = blocking("signing", move || sign_artifact(&*worker, &item)).await?;
            let path = dist.join(&sig_name);
            std::fs::write(&path, &text).map_err(|source| SigningError::Write { path: path.clone(), source })?;
            cx.add_artifact(Artifact {
                name: sig_name,
                path,
                kind: ArtifactKind::Signature,
                size: text.len() as u64,
                sha256: sha256_hex(text.as_bytes()),
            });
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

/// Reads an artifact once, checks it is still the file whose digest was recorded (and listed
/// in `SHA256SUMS`), and signs those bytes.
fn sign_artifact(signer: &dyn Signer, artifact: &Artifact) -> Result<String, StepError> {
    let blob =
        std::fs::read(&artifact.path).map_err(|source| SigningError::Read { path: artifact.path.clone(), source })?;
    let actual = sha256_hex(&blob);
    if actual != artifact.sha256 {
        return Err(changed_after_collection(artifact, &actual));
    }
    Ok(signer.sign_base64(&blob)?)
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
