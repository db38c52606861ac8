//! `verify:bundles`: the gate for keyless signing. Every signed file's bundle is verified
//! against the instance's trusted root before anything is published: the chain to its CA,
//! the embedded SCT, the Rekor inclusion proof, checkpoint and SET, the signature over the
//! file's digest, and the identity — the SAN `https://github.com/<job_workflow_ref>` and the
//! issuer of this run's token.

use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, bundle_name, trusted_root, verify_file};
use crate::signing::keyless::ActiveKeyless;
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::keyless_session;

#[derive(Debug)]
pub(crate) struct VerifyBundles;

#[async_trait::async_trait]
impl Step for VerifyBundles {
    fn meta(&self) -> StepMeta {
        let description: String = {
            "verify every Sigstore bundle (chain, SCT, Rekor proof and SET, identity, digest) before anything is published"
                .into()
        };
        StepMeta::new(StepId::new(Stage::Verify, "bundles"), Effect::Local, description).consumes(&keyless_session())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let expected = Expected {
            identity: Some(session.identity.clone()),
            issuer: Some(session.issuer.clone()),
            ..Expected::default()
        };
        let artifacts = cx.artifacts();
        let to_verify: Vec<Artifact> = artifacts
            .iter()
            .filter(|a| !matches!(a.kind, ArtifactKind::Signature | ArtifactKind::PublicKey))
            .cloned()
            .collect();
        let root_json = session.services().trusted_root_json.clone();
        let mut failures = Vec::new();
        for artifact in &to_verify {
            cx.progress(format!("verifying {}", artifact.name));
            let name = bundle_name(&artifact.name);
            let Some(bundle) = artifacts.iter().find(|a| a.name == name && a.kind == ArtifactKind::Signature) else {
                failures.push(format!("{}: no bundle {name}", artifact.name));
                continue;
            };
            let (file, bundle_path, expected, root_json) =
                (artifact.path.clone(), bundle.path.clone(), expected.clone(), root_json.clone());
            let verdict = tokio::task::spawn_blocking(move || {
                let root = trusted_root(&root_json, "of the signing instance")?;
                verify_file(&root, &file, &bundle_path, &expected)
            })
            .await
            .map_err(|e| StepError::new(format!("verification stopped: {e}")))?;
            if let Err(err) = verdict {
                failures.push(err.to_string());
            }
        }
        if !failures.is_empty() {
            return Err(StepError::new(format!(
                "{} of {} file(s) failed bundle verification: {}",
                failures.len(),
                to_verify.len(),
                failures.join("; ")
            ))
            .with_help("nothing was published. A file changed after it was signed, or a bundle is not this run's; find what rewrote it and run the release again"));
        }
        Ok(Some(format!(
            "{} bundle(s) verified: signed by {} (issuer {}), logged in Rekor, certificate chained to the trusted root with its SCT",
            to_verify.len(),
            session.identity,
            session.issuer
        )))
    }
}
