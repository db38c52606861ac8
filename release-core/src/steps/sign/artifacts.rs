//! `sign:artifacts`: a signature for every artifact, and the public key beside them.

use std::sync::Arc;

use crate::checksum::sha256_hex;
use crate::error::StepError;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::signing::ActiveSigner;
use crate::signing::BlobSignature;
use crate::signing::EPHEMERAL_PUBLIC_KEY_NAME;
use crate::signing::PUBLIC_KEY_NAME;
use crate::signing::Signer;
use crate::signing::bundle::{bundle_name, key_bundle_json};
use crate::signing::settings::{SigningSettings, signed};
use crate::signing::signature_name;
use crate::step::Artifact;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::signer_handoff;
use crate::steps::{blocking, stop_if_interrupted};

/// Sign stage: a `.sig` for every artifact, and the public key.
#[derive(Debug)]
pub(crate) struct SignArtifacts {
    settings: SigningSettings,
}

impl SignArtifacts {
    pub(crate) fn new(settings: SigningSettings) -> Self {
        SignArtifacts { settings }
    }
}

#[async_trait::async_trait]
impl Step for SignArtifacts {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let key = &self.settings.key;
            if self.settings.snapshot && self.settings.ephemeral_in_snapshot {
                format!("sign every artifact and SHA256SUMS with {key}, or an EPHEMERAL key pair if it is absent")
            } else {
                format!("sign every artifact and SHA256SUMS with {key} (cosign sign-blob format)")
            }
        };
        StepMeta::new(StepId::new(Stage::Sign, "artifacts"), Effect::Local, description).produces(&signer_handoff())
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
            let path = crate::dist::write_file(&dist, &sig_name, text.as_bytes())?;
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
                let path = crate::dist::write_file(&dist, &name, json.as_bytes())?;
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
            let path = crate::dist::write_file(&dist, name, pem.as_bytes())?;
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
        cx.hand_off(&signer_handoff(), ActiveSigner(signer))?;
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
