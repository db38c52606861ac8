//! `sign:provenance`: with `signing.provenance = true`, one in-toto statement whose subjects
//! are every signed file (artifacts, chart packages, `SHA256SUMS`) and every chart pushed to a
//! registry, by the digest of the manifest this run pushes (named `REGISTRY/PATH/NAME`, as
//! GitHub names an image), with the SLSA provenance
//! v1 predicate built from the run's token claims, signed as DSSE with the run's certificate,
//! logged in Rekor and written as the release asset `provenance.intoto.jsonl`.

use crate::checksum::sha256_hex;
use crate::error::StepError;
use crate::net::RetryNotice;
use crate::oci::ChartPush;
use crate::oci::manifest::PlannedManifest;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::Provenance;
use crate::signing::provenance::{PROVENANCE_ASSET, Subject, predicate, statement};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::signed_provenance;
use crate::steps::handoffs::{keyless_session, packaged_chart};

#[derive(Debug)]
pub(crate) struct SignProvenance {
    /// The charts pushed to registries: subjects by manifest digest.
    pub charts: Vec<ChartPush>,
}

#[async_trait::async_trait]
impl Step for SignProvenance {
    fn meta(&self) -> StepMeta {
        let meta = StepMeta::new(
            StepId::new(Stage::Sign, "provenance"),
            Effect::Local,
            if self.charts.is_empty() {
                format!("sign SLSA build provenance for every signed file ({PROVENANCE_ASSET})")
            } else {
                format!("sign SLSA build provenance for every signed file and pushed chart ({PROVENANCE_ASSET})")
            },
        )
        .consumes(&keyless_session())
        .produces(&signed_provenance());
        self.charts.iter().fold(meta, |meta, push| meta.consumes(&packaged_chart(&push.chart)))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let mut subjects: Vec<Subject> = cx
            .artifacts()
            .into_iter()
            .filter(|a| !matches!(a.kind, ArtifactKind::Signature | ArtifactKind::PublicKey))
            .map(|a| Subject { name: a.name, sha256: a.sha256 })
            .collect();
        for push in &self.charts {
            let planned = PlannedManifest::new(&cx.handed(&packaged_chart(&push.chart))?, &push.push, cx.env())?;
            subjects.push(Subject { name: planned.subject_name(), sha256: planned.sha256_hex().to_owned() });
        }
        let server = cx.env().get("GITHUB_SERVER_URL").unwrap_or("https://github.com").to_owned();
        let body = statement(&subjects, predicate(&session.claims, &server));
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let bundle = session.sign_statement(&body, &announce).await?;
        let json = bundle.to_json().map_err(|e| StepError::new(format!("cannot write the provenance bundle: {e}")))?;
        let line = format!("{json}\n");
        let path = crate::dist::write_file(&cx.release().dist, PROVENANCE_ASSET, line.as_bytes())?;
        cx.add_artifact(Artifact {
            name: PROVENANCE_ASSET.into(),
            path,
            kind: ArtifactKind::Signature,
            size: line.len() as u64,
            sha256: sha256_hex(line.as_bytes()),
        });
        cx.hand_off(&signed_provenance(), Provenance { bundle_json: json })?;
        Ok(Some(format!(
            "SLSA provenance for {} subject(s) signed as {} and logged in Rekor: {PROVENANCE_ASSET}",
            subjects.len(),
            session.identity
        )))
    }
}
