//! `SHA256SUMS`: one line per published file, in the format `sha256sum -c` reads.

use crate::checksum::sha256_hex;
use crate::checksum::sha256sums;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Artifact;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// The name of the checksums file in the dist directory and on the release.
use crate::checksum::CHECKSUMS_FILE;

#[derive(Debug)]
pub(crate) struct PackageChecksums;

#[async_trait::async_trait]
impl Step for PackageChecksums {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Package, "checksums"),
            Effect::Local,
            format!("write {CHECKSUMS_FILE} for every artifact and chart package"),
        )
        .resumable()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let listed: Vec<Artifact> = cx
            .artifacts()
            .into_iter()
            .filter(|a| {
                matches!(
                    a.kind,
                    ArtifactKind::Binary
                        | ArtifactKind::Chart
                        | ArtifactKind::Archive
                        | ArtifactKind::Sbom
                        | ArtifactKind::Installer
                )
            })
            .collect();
        let text = sha256sums(&listed);
        let path = crate::dist::write_file(&cx.release().dist, CHECKSUMS_FILE, text.as_bytes())?;
        cx.add_artifact(Artifact {
            name: CHECKSUMS_FILE.into(),
            path,
            kind: ArtifactKind::Checksums,
            size: text.len() as u64,
            sha256: sha256_hex(text.as_bytes()),
        });
        Ok(Some(format!("{} file(s)", listed.len())))
    }
}
