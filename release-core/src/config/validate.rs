//! Every check of a config that needs no network; each problem names the file and field, and
//! a config with several problems reports them all.

use std::collections::BTreeMap;

use super::*;

impl Config {
    /// Every problem of the file, not just the first: one run shows them all, as preflight does.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let file = &self.file;
        let mut problems = Vec::new();
        if !self.project.tag.contains("{version}") {
            problems.push(ConfigError::invalid(
                file,
                "project.tag",
                format!("the tag template `{}` does not contain `{{version}}`", self.project.tag),
                Some("use a template such as `v{version}` or `mytool-v{version}`"),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, build) in self.build.iter().enumerate() {
            if let Err(problem) = self.validate_cargo_and_archive(i, build) {
                problems.push(problem);
            }
            if build.command.is_empty() && build.cargo.is_none() {
                problems.push(ConfigError::invalid(
                    file,
                    &format!("build[{i}].command"),
                    "the command is empty",
                    Some(
                        "give the program and its arguments, e.g. [\"make\", \"dist\"], or build a Rust binary with `cargo = { package = \"NAME\", bins = [\"NAME\"] }`",
                    ),
                ));
            }
            if !names.insert(build.name.clone()) {
                problems.push(ConfigError::invalid(
                    file,
                    &format!("build[{i}].name"),
                    format!("two build commands are named `{}`", build.name),
                    Some("give each [[build]] a distinct name"),
                ));
            }
        }
        problems.extend(self.validate_targets());
        problems.extend(self.validate_installers());
        let mut artifact_names = BTreeMap::new();
        for (i, build) in self.build.iter().enumerate() {
            for target in build.target_list() {
                if build.archives() || build.cargo.is_some() {
                    for name in build.published_names(self.version.as_ref(), target, "HOST") {
                        let origin = match target {
                            Some(target) => format!("build[{i}] for {target}"),
                            None => format!("build[{i}]"),
                        };
                        if let Some(other) = artifact_names.insert(name.clone(), origin) {
                            return Err(ConfigError::invalid(
                                file,
                                &format!("build[{i}]"),
                                format!(
                                    "the published name `{}` is also produced by {other}",
                                    name.replace("HOST", "<host>")
                                ),
                                Some(
                                    "archives are named after the package and the target: build every binary of one package in one [[build]] (`bins = [...]`)",
                                ),
                            ));
                        }
                    }
                    continue;
                }
                for (j, artifact) in build.artifacts.iter().enumerate() {
                    let name = artifact_name(artifact, self.version.as_ref(), target);
                    let origin = match target {
                        Some(target) => format!("build[{i}].artifacts[{j}] for {target}"),
                        None => format!("build[{i}].artifacts[{j}]"),
                    };
                    if let Some(other) = artifact_names.insert(name.clone(), origin.clone()) {
                        let help = if build.targets.is_empty() {
                            "give each artifact a distinct `name`, e.g. with `{os}` and `{arch}` in it"
                        } else {
                            "give each artifact a distinct `name`, e.g. with `{target}` in it"
                        };
                        problems.push(ConfigError::invalid(
                            file,
                            &format!("build[{i}].artifacts[{j}]"),
                            match target {
                                Some(target) => {
                                    format!("the artifact name `{name}` for {target} is also produced by {other}")
                                }
                                None => format!("the artifact name `{name}` is also produced by {other}"),
                            },
                            Some(help),
                        ));
                    }
                }
            }
        }
        problems.extend(self.validate_charts());
        if let Some(crates) = &self.crates
            && let Err(problem) = crates.validate(file)
        {
            problems.push(problem);
        }
        if let Some(signing) = &self.signing
            && let Err(problem) = signing.validate(file)
        {
            problems.push(problem);
        }
        ConfigError::all(problems)
    }
    /// Each `[[chart]]`'s directory: inside the project, listed once.
    fn validate_charts(&self) -> Vec<ConfigError> {
        let file = &self.file;
        let mut problems = Vec::new();
        let mut chart_dirs = BTreeMap::new();
        for (i, chart) in self.charts.iter().enumerate() {
            let field = format!("chart[{i}].path");
            let dir = match crate::helm::files::chart_dir(&self.root, &chart.path) {
                Ok(dir) => dir,
                Err(err) => {
                    let message = match &err {
                        crate::helm::ChartError::ChartPath { path, reason } => format!("`{path}` {reason}"),
                        other => other.to_string(),
                    };
                    problems.push(ConfigError::invalid(
                        file,
                        &field,
                        message,
                        Some("give the chart directory relative to release.toml's directory, e.g. `charts/hello`"),
                    ));
                    continue;
                }
            };
            if let Some(other) = chart_dirs.insert(dir, i) {
                problems.push(ConfigError::invalid(
                    file,
                    &field,
                    format!("chart[{other}] has the same directory `{}`", chart.path),
                    Some("list each chart directory once"),
                ));
            }
        }
        problems
    }
    /// The `cargo`, `archive`, `include` and `sbom` fields of one `[[build]]`.
    fn validate_cargo_and_archive(&self, i: usize, build: &BuildCommand) -> Result<(), ConfigError> {
        let file = &self.file;
        let field = |name: &str| format!("build[{i}].{name}");
        if let Some(cargo) = &build.cargo {
            if !build.command.is_empty() {
                return Err(ConfigError::invalid(
                    file,
                    &field("cargo"),
                    "both `command` and `cargo` are given",
                    Some(
                        "keep `cargo` to build a Rust binary (the command is made from it), or `command` for any other build",
                    ),
                ));
            }
            if !build.artifacts.is_empty() {
                return Err(ConfigError::invalid(
                    file,
                    &field("artifacts"),
                    "a cargo build takes its binaries from cargo's own messages, not from `artifacts`",
                    Some("remove `artifacts`; list the binaries in `cargo.bins`"),
                ));
            }
            if cargo.package.trim().is_empty() {
                return Err(ConfigError::invalid(
                    file,
                    &field("cargo.package"),
                    "the package name is empty",
                    Some("give the workspace package that has the binaries, e.g. `package = \"hello\"`"),
                ));
            }
            if cargo.bins.is_empty() || cargo.bins.iter().any(|b| b.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    file,
                    &field("cargo.bins"),
                    "no binary is named",
                    Some("list the package's binaries to publish, e.g. `bins = [\"hello\"]`"),
                ));
            }
        } else if build.sbom == Some(true) {
            return Err(ConfigError::invalid(
                file,
                &field("sbom"),
                "an SBOM is made from cargo's dependency graph: only a `cargo` build has one",
                Some("build with `cargo = { package = ..., bins = [...] }`, or remove `sbom`"),
            ));
        }
        if build.sbom == Some(true) && !build.archives() {
            return Err(ConfigError::invalid(
                file,
                &field("sbom"),
                "an SBOM describes an archive, and `archive = false`",
                Some("remove `archive = false`, or `sbom = true`"),
            ));
        }
        if let Some(include) = &build.include {
            if !build.archives() {
                return Err(ConfigError::invalid(
                    file,
                    &field("include"),
                    "`include` lists files for the archive, but this build publishes raw files",
                    Some("set `archive = true`, or remove `include`"),
                ));
            }
            for (j, pattern) in include.iter().enumerate() {
                if let Err(reason) = crate::archive::check_pattern(pattern) {
                    return Err(ConfigError::invalid(
                        file,
                        &format!("build[{i}].include[{j}]"),
                        format!("`{pattern}` {reason}"),
                        Some(
                            "give a path relative to the build's `dir`, with `*` and `?` in the file name only, e.g. `LICENSE*` or `docs/*.md`",
                        ),
                    ));
                }
            }
        }
        if build.archives() && build.cargo.is_none() && build.artifacts.is_empty() {
            return Err(ConfigError::invalid(
                file,
                &field("archive"),
                "the build archives its artifacts but lists none",
                Some("list the files to archive in `artifacts`"),
            ));
        }
        Ok(())
    }

    /// Every build target, in the order the builds list them, each once.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = Vec::new();
        for target in self.build.iter().flat_map(|b| &b.targets) {
            if !targets.contains(target) {
                targets.push(target.clone());
            }
        }
        targets
    }

    /// The runner label a target builds on: `[runners]`, else [`default_runner`].
    pub fn runner_for(&self, target: &str) -> String {
        self.runners.get(target).cloned().unwrap_or_else(|| default_runner(target).to_owned())
    }

    fn validate_targets(&self) -> Vec<ConfigError> {
        let file = &self.file;
        let mut problems = Vec::new();
        for (i, build) in self.build.iter().enumerate() {
            let mut seen = std::collections::BTreeSet::new();
            for (j, target) in build.targets.iter().enumerate() {
                let field = format!("build[{i}].targets[{j}]");
                let well_formed = !target.is_empty()
                    && target.split('-').count() >= 2
                    && target.split('-').all(|part| !part.is_empty())
                    && target.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !well_formed {
                    problems.push(ConfigError::invalid(
                        file,
                        &field,
                        format!("`{target}` is not a target triple"),
                        Some(
                            "write targets as ARCH-VENDOR-OS[-ENV], e.g. x86_64-unknown-linux-gnu or aarch64-apple-darwin",
                        ),
                    ));
                    continue;
                }
                if !seen.insert(target) {
                    problems.push(ConfigError::invalid(
                        file,
                        &field,
                        format!("the target `{target}` is listed twice"),
                        Some("list each target once"),
                    ));
                }
            }
            if build.targets.is_empty() {
                let templates = build
                    .command
                    .iter()
                    .map(String::as_str)
                    .chain(build.env.values().map(String::as_str))
                    .chain(build.artifacts.iter().filter_map(ArtifactSpec::name_template))
                    .chain(build.artifacts.iter().map(|a| a.path().as_str()));
                if templates.into_iter().any(|t| t.contains("{target}")) {
                    problems.push(ConfigError::invalid(
                        file,
                        &format!("build[{i}]"),
                        format!("build `{}` uses `{{target}}` but lists no `targets`", build.name),
                        Some(
                            "add `targets = [\"x86_64-unknown-linux-gnu\", ...]` to this [[build]], or remove `{target}`",
                        ),
                    ));
                }
            }
        }
        let targets = self.targets();
        for (target, runner) in &self.runners {
            if !targets.contains(target) {
                problems.push(ConfigError::invalid(
                    file,
                    &format!("runners.{target}"),
                    format!("no [[build]] lists the target `{target}`"),
                    Some("add the target to a build's `targets`, or remove it from [runners]"),
                ));
            }
            if runner.trim().is_empty() {
                problems.push(ConfigError::invalid(
                    file,
                    &format!("runners.{target}"),
                    "the runner label is empty",
                    Some("give a GitHub Actions runner label, e.g. `macos-14` or `ubuntu-24.04-arm`"),
                ));
            }
        }
        problems
    }
}

impl Config {
    /// `[installers]`: something to install, and somewhere to download it from.
    fn validate_installers(&self) -> Vec<ConfigError> {
        let Some(installers) = &self.installers else { return Vec::new() };
        let mut problems = Vec::new();
        if !self.build.iter().any(|b| b.archives()) {
            problems.push(ConfigError::invalid(
                &self.file,
                "installers",
                "no build publishes an archive for the installers to install",
                Some("installers install archives: add a [[build]] with `cargo = { package = \"NAME\", bins = [\"NAME\"] }` (archived by default), or `archive = true` on a command build"),
            ));
        }
        if installers.download_url.is_none() && self.github.is_none() {
            problems.push(ConfigError::invalid(
                &self.file,
                "installers.download-url",
                "the installers need the URL they download the archives from",
                Some("add [github] (the release's download URL is used), or set `installers.download-url = \"https://example.com/releases/{tag}\"`"),
            ));
        }
        if !installers.shell && !installers.powershell {
            problems.push(ConfigError::invalid(
                &self.file,
                "installers",
                "both `shell` and `powershell` are false: no installer would be written",
                Some("remove [installers], or set one of them to true"),
            ));
        }
        problems
    }
}
