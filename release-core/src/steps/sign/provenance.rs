//! `sign:provenance`: with `signing.provenance = true`, one in-toto statement whose subjects
//! are every signed file (artifacts, chart packages, `SHA256SUMS`), with the SLSA provenance
//! v1 predicate built from the run's token claims, signed as DSSE with the run's certificate,
//! logged in Rekor and written as the release asset `provenance.intoto.jsonl`.

use crate::checksum::sha256_hex;
use crate::error::StepError;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage};
use crate::signing::provenance::{PROVENANCE_ASSET, Subject, predicate, statement};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepResult};
use crate::steps::sign::keyless::ActiveKeyless;

/// The signed provenance of the run, for the steps that publish it: `cx.get::<Provenance>()`.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// The bundle, as JSON.
    pub bundle_json: String,
}

#[derive(Debug)]
pub struct SignProvenance;

#[async_trait::async_trait]
impl Step for SignProvenance {
    fn id(&self) -> String {
        "sign:provenance".into()
    }
    fn stage(&self) -> Stage {
        Stage::Sign
    }
    fn effect(&self) -> Effect {
        Effect::Local
    }
    fn description(&self) -> String {
        format!("sign SLSA build provenance for every signed file ({PROVENANCE_ASSET})")
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.get::<ActiveKeyless>().ok_or_else(|| {
            StepError::new("no keyless signing session: provenance cannot be signed")
                .with_help("the sign:keyless step must run before this one")
        })?;
        let subjects: Vec<Subject> = cx
            .artifacts()
            .into_iter()
            .filter(|a| !matches!(a.kind, ArtifactKind::Signature | ArtifactKind::PublicKey))
            .map(|a| Subject { name: a.name, sha256: a.sha256 })
            .collect();
        let server = cx.env().get("GITHUB_SERVER_URL").unwrap_or("https://github.com").to_owned();
        let body = statement(&subjects, predicate(&session.claims, &server));
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let bundle = session.sign_statement(&body, &announce).await?;
        let json = bundle.to_json().map_err(|e| StepError::new(format!("cannot write the provenance bundle: {e}")))?;
        let line = format!("{json}\n");
        let path = cx.release().dist.join(PROVENANCE_ASSET);
        std::fs::write(&path, &line).map_err(|e| StepError::new(format!("cannot write {path}: {e}")))?;
        cx.add_artifact(Artifact {
            name: PROVENANCE_ASSET.into(),
            path,
            kind: ArtifactKind::Signature,
            size: line.len() as u64,
            sha256: sha256_hex(line.as_bytes()),
        });
        cx.insert(Provenance { bundle_json: json });
        Ok(Some(format!(
            "SLSA provenance for {} subject(s) signed as {} and logged in Rekor: {PROVENANCE_ASSET}",
            subjects.len(),
            session.identity
        )))
    }
}
