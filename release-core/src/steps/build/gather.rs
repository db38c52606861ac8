//! `build:gather`: the final job of a matrix release copies every runner's artifacts into dist, checking digests.

use camino::Utf8PathBuf;

use crate::matrix::MatrixError;
use crate::matrix::PlanManifest;
use crate::matrix::scan;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::build::command::collect_kinds_into_dist;

/// Build stage of the final job: every runner's artifacts into the dist directory, each
/// checked against the digest its build recorded while it is copied.
#[derive(Debug)]
pub(crate) struct BuildGather {
    pub plan: PlanManifest,
    pub dir: Utf8PathBuf,
}

#[async_trait::async_trait]
impl Step for BuildGather {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let targets: Vec<&str> = self.plan.targets.iter().map(|t| t.target.as_str()).collect();
            format!("gather the builds of {} from {}, checking every digest", targets.join(", "), self.dir)
        };
        StepMeta::new(StepId::new(Stage::Build, "gather"), Effect::Local, description).resumable()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        // Each file with the manifest that recorded it and what it recorded.
        let mut files = Vec::new();
        let mut recorded = Vec::new();
        for build in scan(&self.plan, &self.dir)? {
            let dir = build.path.parent().expect("a file has a directory").to_owned();
            for artifact in build.manifest.artifacts {
                files.push((dir.join(&artifact.name), artifact.name.clone(), artifact.kind));
                recorded.push((build.path.clone(), artifact));
            }
        }
        let mut names = collect_kinds_into_dist(cx, files, move |index, source, copied| {
            let (manifest, artifact) = &recorded[index];
            if copied.sha256 == artifact.sha256 && copied.size == artifact.size {
                return Ok(());
            }
            Err(MatrixError::Digest {
                path: manifest.clone(),
                file: source.to_owned(),
                expected: artifact.sha256.clone(),
                actual: format!("{} ({} bytes)", copied.sha256, copied.size),
            }
            .into())
        })
        .await?;
        names.sort();
        Ok(Some(names.join(", ")))
    }
}
