//! `package:manifest`: `release build --target T`, last step: the target's manifest beside its artifacts.

use crate::matrix::BUILD_KIND;
use crate::matrix::BuildManifest;
use crate::matrix::BuiltArtifact;
use crate::matrix::MANIFEST_SCHEMA;
use crate::matrix::build_manifest_name;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// `release build --target T`, last step: the target's manifest beside its artifacts.
#[derive(Debug)]
pub(crate) struct PackageManifest {
    pub target: String,
    pub plan_id: String,
}

#[async_trait::async_trait]
impl Step for PackageManifest {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Package, "manifest"),
            Effect::Local,
            format!("write {} for the publish job", build_manifest_name(&self.target)),
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let artifacts = cx
            .artifacts()
            .into_iter()
            .filter(|a| matches!(a.kind, ArtifactKind::Binary | ArtifactKind::Archive | ArtifactKind::Sbom))
            .map(|a| BuiltArtifact { name: a.name, kind: a.kind, size: a.size, sha256: a.sha256 })
            .collect();
        let manifest = BuildManifest {
            kind: BUILD_KIND.to_owned(),
            schema: MANIFEST_SCHEMA,
            plan_id: self.plan_id.clone(),
            target: self.target.clone(),
            artifacts,
        };
        let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises") + "\n";
        let path = crate::dist::write_file(&cx.release().dist, &build_manifest_name(&self.target), text.as_bytes())?;
        Ok(Some(path.to_string()))
    }
}
