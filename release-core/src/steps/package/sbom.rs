//! `package:sbom:<build>[:<target>]`: the CycloneDX SBOM beside a cargo build's archive,
//! from `cargo metadata --filter-platform TARGET` (see [`crate::sbom`]).

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use crate::archive::{archive_name, mtime_from};
use crate::cargo::{CargoError, lock_checksums, parse_metadata};
use crate::checksum::sha256_hex;
use crate::config::{BuildCommand, CargoBuild, Config};
use crate::plan::{Effect, Stage, StepId};
use crate::sbom::{sbom, sbom_name};
use crate::shell::run_captured;
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::built_files;

#[derive(Debug)]
pub(crate) struct PackageSbom {
    pub(crate) build: BuildCommand,
    pub(crate) cargo: CargoBuild,
    pub(crate) dir: Utf8PathBuf,
    pub(crate) target: Option<String>,
}

impl PackageSbom {
    pub(crate) fn new(config: &Config, build: &BuildCommand, cargo: &CargoBuild, target: Option<&str>) -> Self {
        let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
        PackageSbom { build: build.clone(), cargo: cargo.clone(), dir, target: target.map(str::to_owned) }
    }
}

#[async_trait::async_trait]
impl Step for PackageSbom {
    fn meta(&self) -> StepMeta {
        let subject = match &self.target {
            Some(target) => format!("{}:{target}", self.build.name),
            None => self.build.name.clone(),
        };
        StepMeta::new(
            StepId::new(Stage::Package, "sbom").with_subject(subject),
            Effect::Local,
            format!("write the CycloneDX SBOM of `{}`'s archive from cargo's resolved graph", self.cargo.package),
        )
        .consumes(&built_files(&self.build.name, self.target.as_deref()))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let built = cx.handed(&built_files(&self.build.name, self.target.as_deref()))?;
        let argv: Vec<String> =
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", &built.triple]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        let text = run_captured(cx, &argv, &self.dir, &BTreeMap::new()).await?;
        let metadata = parse_metadata(&text)?;
        let package = metadata.member(&self.cargo.package).ok_or_else(|| CargoError::NoPackage {
            field: "cargo.package".into(),
            root: metadata.workspace_root.clone(),
            package: self.cargo.package.clone(),
            known: String::new(),
        })?;
        let lockfile = metadata.workspace_root.join("Cargo.lock");
        let checksums = std::fs::read_to_string(&lockfile).map(|t| lock_checksums(&t)).unwrap_or_default();
        let epoch = cx.env().get("SOURCE_DATE_EPOCH").map(|s| mtime_from(Some(s)));
        let bom = sbom(&metadata, &package.id, &checksums, epoch);
        let components = bom["components"].as_array().map_or(0, Vec::len);
        let text = serde_json::to_string_pretty(&bom).expect("JSON serialises") + "\n";
        let version = cx.release().version.to_string();
        let name = sbom_name(&archive_name(self.build.archive_base(), &built.triple, &version).file_name());
        let path = crate::dist::write_file(&cx.release().dist, &name, text.as_bytes())?;
        cx.add_artifact(Artifact {
            name: name.clone(),
            path,
            kind: ArtifactKind::Sbom,
            size: text.len() as u64,
            sha256: sha256_hex(text.as_bytes()),
        });
        Ok(Some(format!("{name}: {components} component(s)")))
    }
}
