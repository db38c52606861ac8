//! `build:<name>[:<target>]` for a `cargo = {...}` build: `cargo build --release --locked
//! --message-format=json-render-diagnostics`, with each binary's path taken from cargo's
//! `compiler-artifact` messages, so that `CARGO_TARGET_DIR`, `build.target-dir`, profiles
//! and `--target` all just work.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use super::build_meta;
use crate::archive::{BINARY_MODE, Entry, exe_suffix, raw_binary_name};
use crate::cargo::{CargoError, Message, build_args, parse_message};
use crate::config::{BuildCommand, CargoBuild, Config, expand_for};
use crate::shell::{display_command, run_reading_stdout};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::build::command::collect_into_dist;
use crate::steps::handoffs::{BuiltFiles, built_files};
use crate::steps::host_triple;

#[derive(Debug)]
pub(crate) struct BuildCargo {
    pub(crate) build: BuildCommand,
    pub(crate) cargo: CargoBuild,
    pub(crate) dir: Utf8PathBuf,
    pub(crate) target: Option<String>,
}

impl BuildCargo {
    pub(crate) fn new(config: &Config, build: &BuildCommand, cargo: &CargoBuild, target: Option<&str>) -> Self {
        let dir = build.dir.as_ref().map_or_else(|| config.root.clone(), |d| config.root.join(d));
        BuildCargo { build: build.clone(), cargo: cargo.clone(), dir, target: target.map(str::to_owned) }
    }
}

#[async_trait::async_trait]
impl Step for BuildCargo {
    fn meta(&self) -> StepMeta {
        let command = display_command(&build_args(&self.cargo, self.target.as_deref()));
        let bins = self.cargo.bins.join(", ");
        let description = format!("run `{command}` in {}, take {bins} from cargo's messages", self.dir);
        build_meta(&self.build, self.target.as_deref(), description)
    }

    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let release = cx.release();
        let version = release.version.to_string();
        let target = self.target.as_deref();
        let argv = build_args(&self.cargo, target);
        let mut env: BTreeMap<String, String> = self
            .build
            .env
            .iter()
            .map(|(k, v)| (k.clone(), expand_for(v, &version, &release.tag, release.dist.as_str(), target)))
            .collect();
        if let Some(target) = target {
            env.entry("RELEASE_TARGET".into()).or_insert_with(|| target.to_owned());
        }
        // Each binary's path as cargo reports it; other lines are shown.
        let mut executables: BTreeMap<String, Utf8PathBuf> = BTreeMap::new();
        let bins = &self.cargo.bins;
        // Cargo's own progress is on its stderr; the progress line counts what it compiled.
        let mut compiled = 0usize;
        run_reading_stdout(cx, &argv, &self.dir, &env, &mut |line| {
            if line.starts_with("{\"reason\":\"compiler-artifact\"") {
                compiled += 1;
                let name = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|m| m.pointer("/target/name").and_then(|n| n.as_str()).map(str::to_owned));
                cx.progress(format!("cargo: {compiled} crate(s) built, last {}", name.as_deref().unwrap_or("?")));
            }
            match parse_message(line) {
                Message::Executable { name, path, .. } if bins.contains(&name) => {
                    executables.insert(name, path);
                }
                Message::Executable { .. } | Message::Other => {}
                Message::Text => cx.output_line(line),
            }
        })
        .await?;
        for bin in bins {
            if !executables.contains_key(bin) {
                return Err(CargoError::NoArtifact { package: self.cargo.package.clone(), bin: bin.clone() }.into());
            }
        }
        let triple = match target {
            Some(target) => target.to_owned(),
            None => host_triple(cx, &self.dir).await?,
        };
        if self.build.archives() {
            let files = bins
                .iter()
                .map(|bin| Entry {
                    source: executables[bin].clone(),
                    name: format!("{bin}{}", exe_suffix(&triple)),
                    mode: BINARY_MODE,
                })
                .collect();
            cx.hand_off(&built_files(&self.build.name, target), BuiltFiles { triple, files })?;
            let shown: Vec<String> = bins.iter().map(|b| executables[b].to_string()).collect();
            return Ok(Some(shown.join(", ")));
        }
        let files =
            bins.iter().map(|bin| (executables[bin].clone(), raw_binary_name(bin, &triple, &version))).collect();
        let collected = collect_into_dist(cx, files, |_, _, _| Ok(())).await?;
        Ok(Some(collected.join(", ")))
    }
}
