//! `preflight:cargo`: every `cargo = {...}` build is checked against the workspace before
//! anything is built (`cargo metadata --no-deps`): its package, binaries and features exist,
//! and a `[package.metadata.binstall]` in the crate agrees with the archives the release
//! will publish.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use crate::archive::archive_name;
use crate::cargo::binstall::{Published, check};
use crate::cargo::{Metadata, parse_metadata};
use crate::config::{BuildCommand, CargoBuild, Config};
use crate::error::{Diagnose, StepError};
use crate::plan::{Effect, Stage, StepId};
use crate::shell::run_captured;
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::host_triple;

#[derive(Debug)]
struct Checked {
    index: usize,
    build: BuildCommand,
    cargo: CargoBuild,
    dir: Utf8PathBuf,
    /// The targets to check (empty: the host's).
    targets: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct PreflightCargo {
    file: Utf8PathBuf,
    builds: Vec<Checked>,
}

impl PreflightCargo {
    /// The check for `builds` (indexes into `config.build`, each with the targets this run
    /// builds); `None` when none of them is a cargo build.
    pub(crate) fn new(config: &Config, builds: &[(usize, Vec<String>)]) -> Option<Self> {
        let mut checked: Vec<Checked> = Vec::new();
        for (index, targets) in builds {
            let build = &config.build[*index];
            let Some(cargo) = &build.cargo else { continue };
            if checked.iter().any(|c| c.index == *index) {
                continue;
            }
            let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
            checked.push(Checked {
                index: *index,
                build: build.clone(),
                cargo: cargo.clone(),
                dir,
                targets: targets.clone(),
            });
        }
        (!checked.is_empty()).then(|| PreflightCargo { file: config.file.clone(), builds: checked })
    }
}

#[async_trait::async_trait]
impl Step for PreflightCargo {
    fn meta(&self) -> StepMeta {
        let description: String = {
            "check every cargo build's package, binaries and features, and its binstall metadata, with `cargo metadata`"
                .into()
        };
        StepMeta::new(StepId::new(Stage::Preflight, "cargo"), Effect::Check, description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let mut workspaces: BTreeMap<Utf8PathBuf, Metadata> = BTreeMap::new();
        let mut problems: Vec<String> = Vec::new();
        let mut help: Option<String> = None;
        let release = cx.release();
        let version = release.version.to_string();
        for checked in &self.builds {
            if !workspaces.contains_key(&checked.dir) {
                let argv: Vec<String> = ["cargo", "metadata", "--no-deps", "--format-version", "1"]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                let text = run_captured(cx, &argv, &checked.dir, &BTreeMap::new()).await?;
                workspaces.insert(checked.dir.clone(), parse_metadata(&text)?);
            }
            let metadata = &workspaces[&checked.dir];
            let field = format!("build[{}].cargo", checked.index);
            let package = match metadata.check_build(&checked.cargo, &field) {
                Ok(package) => package,
                Err(err) => {
                    problems.push(format!("{}: {err}", self.file));
                    help = help.or_else(|| err.help());
                    continue;
                }
            };
            let binstall = package.metadata.as_ref().and_then(|m| m.get("binstall"));
            let (Some(binstall), true) = (binstall, checked.build.archives()) else { continue };
            let targets = if checked.targets.is_empty() {
                vec![host_triple(cx, &checked.dir).await?]
            } else {
                checked.targets.clone()
            };
            for target in &targets {
                let archive = archive_name(&package.name, target, &version);
                let published = Published {
                    name: &package.name,
                    version: &version,
                    target,
                    archive: &archive,
                    bins: &checked.cargo.bins,
                    tag: &release.tag,
                    repo: package.repository.as_deref(),
                };
                if let Err(problem) = check(binstall, &published) {
                    problems.push(format!(
                        "{}: [package.metadata.binstall]: {problem} (build `{}`)",
                        package.manifest_path, checked.build.name
                    ));
                    help = help.or_else(|| {
                        Some(format!(
                            "remove the disagreeing key (the archives follow cargo-binstall's defaults, so it finds them without metadata), or make it match `{}` with the binaries under `{}/`",
                            archive.file_name(),
                            archive.dir()
                        ))
                    });
                    break;
                }
            }
        }
        if !problems.is_empty() {
            let mut err = StepError::new(problems.join("; "));
            if let Some(help) = help {
                err = err.with_help(help);
            }
            return Err(err);
        }
        Ok(Some(format!("{} cargo build(s) match their workspace", self.builds.len())))
    }
}
