//! `verify:signatures`: the gate; nothing is published unless every signature verifies.

use crate::error::StepError;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::signing::EPHEMERAL_PUBLIC_KEY_NAME;
use crate::signing::bundle::bundle_name;
use crate::signing::public_key::PublicKey;
use crate::signing::settings::{SigningSettings, signed};
use crate::signing::signature_name;
use crate::signing::verify::FileVerdict;
use crate::signing::verify::VerifyFailure;
use crate::signing::verify::verify_file;
use crate::signing::verify::{SignatureFile, Signatures};
use crate::step::Artifact;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::{blocking, stop_if_interrupted};

/// Verify stage: the gate. Nothing is published unless every signature verifies.
#[derive(Debug)]
pub(crate) struct VerifySignatures {
    settings: SigningSettings,
}

impl VerifySignatures {
    pub(crate) fn new(settings: SigningSettings) -> Self {
        VerifySignatures { settings }
    }
}

#[async_trait::async_trait]
impl Step for VerifySignatures {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Verify, "signatures"),
            Effect::Local,
            "verify every signature against the shipped public key before anything is published",
        )
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
                    signatures: Vec::new(),
                    failures: vec![VerifyFailure::SignatureMissing { signature: cx.release().dist.join(&sig_name) }],
                },
                Some(signature) => {
                    // The `.sig` always; the bundle of the same signature when the sign step
                    // wrote one. One read of the file serves both.
                    let bundle = bundle_name(&artifact.name);
                    let mut checked = vec![SignatureFile::Legacy(signature.path.clone())];
                    if let Some(bundle) =
                        artifacts.iter().find(|a| a.name == bundle && a.kind == ArtifactKind::Signature)
                    {
                        checked.push(SignatureFile::Bundle(bundle.path.clone()));
                    }
                    let (key, item) = (key.clone(), artifact.clone());
                    blocking("verifying", move || {
                        Ok(verify_file(&key, &item.path, &Signatures::Given(checked), Some(&item.sha256)))
                    })
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
