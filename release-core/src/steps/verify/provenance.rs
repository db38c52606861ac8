//! `verify:provenance`: the provenance bundle verifies (chain, SCT, Rekor entry, identity of
//! this run) and every subject is a file of this release with the digest it has on disk.

use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, trusted_root, verify_attestation};
use crate::signing::provenance::PROVENANCE_ASSET;
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{keyless_session, signed_provenance};
use crate::steps::sign::keyless::ActiveKeyless;

#[derive(Debug)]
pub struct VerifyProvenance;

#[async_trait::async_trait]
impl Step for VerifyProvenance {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Verify, "provenance"),
            Effect::Local,
            "verify the provenance bundle and the digest of every subject before anything is published",
        )
        .consumes(&keyless_session())
        .consumes(&signed_provenance())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        // The provenance this run signed; its asset is what is checked below.
        cx.handed(&signed_provenance())?;
        let artifacts = cx.artifacts();
        let asset = artifacts.iter().find(|a| a.name == PROVENANCE_ASSET).ok_or_else(|| {
            StepError::new(format!("no {PROVENANCE_ASSET} among the artifacts"))
                .with_help("the sign:provenance step must run before this one")
        })?;
        let expected = Expected {
            identity: Some(session.identity.clone()),
            issuer: Some(session.issuer.clone()),
            ..Expected::default()
        };
        let (root_json, path) = (session.services().trusted_root_json.clone(), asset.path.clone());
        let (_, subjects) = tokio::task::spawn_blocking(move || {
            let root = trusted_root(&root_json, "of the signing instance")?;
            verify_attestation(&root, &path, &expected)
        })
        .await
        .map_err(|e| StepError::new(format!("verification stopped: {e}")))??;
        for subject in &subjects {
            let artifact = artifacts.iter().find(|a| a.name == subject.name).ok_or_else(|| {
                StepError::new(format!("the provenance names {}, which is not a file of this release", subject.name))
                    .with_help("nothing was published; run the release again")
            })?;
            let path = artifact.path.clone();
            let (digest, _) = tokio::task::spawn_blocking(move || crate::checksum::hash_file_raw(&path))
                .await
                .map_err(|e| StepError::new(format!("hashing stopped: {e}")))??;
            if hex::encode(digest) != subject.sha256 {
                return Err(StepError::new(format!(
                    "{}: its SHA-256 is {}, the provenance says {}",
                    artifact.path,
                    hex::encode(digest),
                    subject.sha256
                ))
                .with_help("nothing was published. The file changed after the provenance was signed; find what rewrote it and run the release again"));
            }
        }
        Ok(Some(format!(
            "provenance verified: {} subject(s), each matching its file, signed by {}",
            subjects.len(),
            session.identity
        )))
    }
}
