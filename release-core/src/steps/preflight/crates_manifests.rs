//! `preflight:crates-manifests`: what the registry would refuse in the manifests, found
//! before the build. Cargo only warns about a missing description or licence (and
//! `--dry-run` exits 0); the registry refuses the upload (A2 13-14). The size limit is read
//! from `cargo package --list` (and, only when the files add up to more than the limit, from
//! the packed `.crate` itself).

use crate::crates::workspace::{MetadataProblem, metadata_problems};
use crate::crates::{CratesSettings, Planned};
use crate::error::{SourceLocation, StepError};
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PreflightCratesManifests {
    pub settings: CratesSettings,
}

#[async_trait::async_trait]
impl Step for PreflightCratesManifests {
    fn meta(&self) -> StepMeta {
        let description: String = {
            format!(
                "check the crates' manifests for what {} refuses (description, licence, keywords, URLs, versions of dependencies) and the {} byte upload limit",
                self.settings.registry(),
                self.settings.config.max_upload_bytes
            )
        };
        StepMeta::new(StepId::new(Stage::Preflight, "crates-manifests"), Effect::Check, description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let (metadata, planned) = self.settings.planned(cx).await?;
        let order: Vec<String> = planned.iter().map(|p| format!("{} {}", p.name(), p.version())).collect();
        cx.progress(format!("crates in publish order: {}", order.join(", ")));
        let release = cx.release().version.to_string();
        let off_version: Vec<String> = planned
            .iter()
            .filter(|p| p.version() != release)
            .map(|p| format!("{} {}", p.name(), p.version()))
            .collect();
        if !off_version.is_empty() && !self.settings.config.own_versions {
            let files: Vec<String> = planned
                .iter()
                .filter(|p| p.version() != release)
                .map(|p| {
                    format!("{}: `package.version` of crate {} is {}", p.package.manifest_path, p.name(), p.version())
                })
                .collect();
            return Err(StepError::new(format!(
                "{}, but the release is {release}: the crates would be published at other versions than the release's",
                files.join("; ")
            ))
            .with_help(format!(
                "set their version to {release}, or list only the crates of this release in `crates.packages`; a workspace whose crates keep versions of their own sets `crates.own-versions = true`"
            )));
        }
        if !off_version.is_empty() {
            cx.warn(format!(
                "the crates {} are not at the release version {release}: they are published at their own versions",
                off_version.join(", ")
            ));
        }
        // A dist directory inside a package is packaged with it (and, untracked, makes cargo
        // refuse the package as uncommitted).
        let dist = &cx.release().dist;
        for krate in planned.iter().filter(|p| dist.starts_with(p.package.dir())) {
            cx.warn(format!(
                "the dist directory {dist} is inside the package {} ({}): add it to .gitignore or to `exclude` in its Cargo.toml, or `cargo package` takes it in",
                krate.name(),
                krate.package.dir()
            ));
        }
        let problems: Vec<MetadataProblem> =
            planned.iter().flat_map(|p| metadata_problems(&p.package, self.settings.to_crates_io())).collect();
        if !problems.is_empty() {
            // One location per problem: the manifest, at the section the field belongs in.
            let locations = problems.iter().map(|p| {
                let file = p.manifest.strip_prefix(&metadata.workspace_root).unwrap_or(&p.manifest).to_owned();
                let line = section_line(&p.manifest, &p.field);
                SourceLocation::new(
                    Some(&metadata.workspace_root),
                    file,
                    line,
                    format!("{}: `{}` {}", p.krate, p.field, p.problem),
                )
            });
            let crates: std::collections::BTreeSet<&str> = problems.iter().map(|p| p.krate.as_str()).collect();
            return Err(StepError::new(format!(
                "{} would refuse {} at upload ({} problem(s) in the manifests):",
                self.settings.registry(),
                crates.into_iter().collect::<Vec<_>>().join(", "),
                problems.len()
            ))
            .with_help(
                "fill in the fields in each Cargo.toml (`description = \"…\"`, `license = \"MIT OR Apache-2.0\"` or `license-file`); give path dependencies a `version`",
            )
            .with_locations(locations));
        }
        let limit = self.settings.config.max_upload_bytes;
        for krate in &planned {
            let size = self.packaged_size(cx, krate, &metadata, limit).await?;
            if size > limit {
                return Err(StepError::new(format!(
                    "the package of {} {} is {size} bytes, more than the {limit} bytes {} accepts",
                    krate.name(),
                    krate.version(),
                    self.settings.registry()
                ))
                .with_help(format!(
                    "leave large files out of the package (`exclude = [...]` or `include = [...]` in {}; `cargo package --list -p {}` shows what goes in)",
                    krate.package.manifest_path,
                    krate.name()
                )));
            }
        }
        Ok(Some(format!("{} crate(s) ready for {}: {}", planned.len(), self.settings.registry(), order.join(", "))))
    }
}

/// The line of the manifest a field belongs at: the dependency's own line, else its table's
/// header (`[package]`, `[dependencies]`), else 1.
fn section_line(manifest: &camino::Utf8Path, field: &str) -> usize {
    let Ok(text) = std::fs::read_to_string(manifest) else { return 1 };
    let (table, key) = field.split_once('.').unwrap_or((field, ""));
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.trim() == format!("[{table}]"));
    if table == "dependencies"
        && let Some(start) = header
        && let Some(offset) = lines[start + 1..].iter().position(|l| l.trim_start().starts_with(key))
    {
        return start + 2 + offset;
    }
    header.map_or(1, |i| i + 1)
}

impl PreflightCratesManifests {
    /// The files `cargo package --list` names, added up; when that is over the limit, the
    /// packed `.crate` (compression usually halves it).
    async fn packaged_size(
        &self,
        cx: &StepContext<'_>,
        krate: &Planned,
        metadata: &crate::crates::Metadata,
        limit: u64,
    ) -> Result<u64, StepError> {
        let mut argv: Vec<String> =
            ["cargo", "package", "--list", "--allow-dirty", "-p", krate.name()].map(String::from).to_vec();
        argv.extend(["--manifest-path".into(), self.settings.manifest().to_string()]);
        argv.extend(self.settings.registry_args());
        let listed = crate::shell::capture(cx, &argv, &self.settings.root, &self.settings.cargo_env()).await?;
        let dir = krate.package.dir();
        let mut total = 0u64;
        for file in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let path = dir.join(file);
            let path = if path.exists() { path } else { metadata.workspace_root.join(file) };
            total += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        }
        if total <= limit {
            return Ok(total);
        }
        cx.progress(format!("{} lists {total} bytes of files: packing it to measure the .crate", krate.name()));
        let mut argv: Vec<String> =
            ["cargo", "package", "--no-verify", "--allow-dirty", "-p", krate.name()].map(String::from).to_vec();
        argv.extend(["--manifest-path".into(), self.settings.manifest().to_string()]);
        argv.extend(self.settings.registry_args());
        crate::shell::run_streamed(cx, &argv, &self.settings.root, &self.settings.cargo_env()).await?;
        let packed =
            metadata.target_directory.join("package").join(format!("{}-{}.crate", krate.name(), krate.version()));
        Ok(std::fs::metadata(&packed).map(|m| m.len()).unwrap_or(total))
    }
}
