//! `verify:provenance`: the provenance bundle verifies (chain, SCT, Rekor entry, identity of
//! this run) and every subject is a file of this release with the digest it has on disk, or a
//! chart pushed to a registry with the digest of the manifest this run pushes.

use crate::error::StepError;
use crate::oci::ChartPush;
use crate::oci::manifest::PlannedManifest;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, trusted_root, verify_attestation};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::PROVENANCE_ASSET;
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{keyless_session, packaged_chart, signed_provenance};

#[derive(Debug)]
pub(crate) struct VerifyProvenance {
    /// The charts pushed to registries: subjects by manifest digest.
    pub charts: Vec<ChartPush>,
}

#[async_trait::async_trait]
impl Step for VerifyProvenance {
    fn meta(&self) -> StepMeta {
        let meta = StepMeta::new(
            StepId::new(Stage::Verify, "provenance"),
            Effect::Local,
            "verify the provenance bundle and the digest of every subject before anything is published",
        )
        .consumes(&keyless_session())
        .consumes(&signed_provenance());
        self.charts.iter().fold(meta, |meta, push| meta.consumes(&packaged_chart(&push.chart)))
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
        let mut charts = Vec::new();
        for push in &self.charts {
            charts.push(PlannedManifest::new(&cx.handed(&packaged_chart(&push.chart))?, &push.push, cx.env())?);
        }
        for planned in &charts {
            let named = subjects.iter().find(|s| s.name == planned.subject_name());
            if named.map(|s| s.sha256.as_str()) != Some(planned.sha256_hex()) {
                return Err(StepError::new(format!(
                    "the provenance does not name {} with the digest this run pushes ({})",
                    planned.subject_name(),
                    planned.digest
                ))
                .with_help("nothing was published; run the release again"));
            }
        }
        for subject in &subjects {
            if charts.iter().any(|c| c.subject_name() == subject.name) {
                continue;
            }
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
            "provenance verified: {} subject(s), each matching its file{}, signed by {}",
            subjects.len(),
            if charts.is_empty() { "" } else { " or chart manifest" },
            session.identity
        )))
    }
}
