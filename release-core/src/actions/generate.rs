//! The files `release init` writes, as pure functions of data: a commented `release.toml`
//! from what [`super::detect`](mod@super::detect) found, and `.github/workflows/release.yml` from a loaded
//! [`Config`].
//!
//! The workflow's permissions come from [`required_permissions`], the function
//! `release audit` checks against, so a generated workflow passes its own audit by
//! construction. Every job lists exactly what it needs under a workflow-level
//! `permissions: {}`; preflight runs first with the same permissions as the release job,
//! because it exercises the same write paths.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::config::Config;

use super::detect::{Detected, Xtask};
use super::permissions::{CONTENTS, Level, Requirement, required_permissions};
use super::pins;

/// Where the release tool is released: this workspace's `repository` URL.
pub const TOOL_REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// The `release` binary a workflow installs: an exact version from the tool's own GitHub
/// releases, by its shell installer (PowerShell on Windows runners), whose attestation is
/// checked against the tool's release workflow before it runs; the installer then checks the
/// archive's SHA-256 (written into it) and its attestation too. Nothing is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolInstall {
    /// `owner/name` of the tool's repository.
    pub repository: String,
    /// The exact version, without `v`.
    pub version: String,
}

impl ToolInstall {
    /// This tool, at the version that is writing the workflow: `release init --workflow`
    /// moves the pin to the running version.
    pub fn this_tool() -> ToolInstall {
        let repository = TOOL_REPOSITORY.trim_start_matches("https://github.com/").trim_end_matches('/').to_owned();
        ToolInstall { repository, version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// The targets `release init` proposes for a repository with binaries, as cargo-dist's init
/// does: Linux x86_64 and aarch64 (glibc), macOS x86_64 and aarch64, Windows x86_64.
pub const COMMON_TARGETS: [&str; 5] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

/// How the workflow runs the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runner {
    /// The verified `release` binary (see [`ToolInstall`]), then `release …`.
    Install(ToolInstall),
    /// The repository's own xtask, which embeds `release-core`.
    Xtask(Xtask),
}

impl Runner {
    /// The xtask when the repository has one, else the verified binary of this version.
    pub fn for_repository(detected: &Detected) -> Runner {
        match detected.xtask {
            Some(xtask) => Runner::Xtask(xtask),
            None => Runner::Install(ToolInstall::this_tool()),
        }
    }

    /// The command line for `release SUBCOMMAND`.
    fn command(&self, subcommand: &str, config_path: Option<&str>) -> String {
        match self {
            Runner::Install(_) => match config_path {
                Some(path) => format!("release --config {path} {subcommand}"),
                None => format!("release {subcommand}"),
            },
            Runner::Xtask(Xtask::Alias) => format!("cargo xtask release {subcommand}"),
            Runner::Xtask(Xtask::Package) => format!("cargo run --locked --package xtask -- release {subcommand}"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Runner::Install(tool) => format!(
                "installs release {} from {}'s releases (installer and archive verified by attestation and digest)",
                tool.version, tool.repository
            ),
            Runner::Xtask(_) => "runs the release through the repository's xtask".into(),
        }
    }
}

/// What shapes the workflow besides the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowOptions {
    pub runner: Runner,
    /// The config file relative to the repository root, when it is not `release.toml`.
    pub config_path: Option<String>,
    /// With an xtask: the verified `release` binary that runs the built-in probes first, in
    /// seconds, before the xtask is compiled (the xtask's own preflight, with its own steps,
    /// runs again before anything is built). `None` runs everything through the xtask.
    pub first_probe: Option<ToolInstall>,
}

impl WorkflowOptions {
    /// What `release init` writes for a repository: the xtask, probed first by the verified
    /// binary, unless the repository is this tool's own (its xtask is the tool, from source).
    pub fn for_repository(detected: &Detected, config_path: Option<String>) -> WorkflowOptions {
        let runner = Runner::for_repository(detected);
        let first_probe = match runner {
            Runner::Xtask(_) if !detected.tool_source => Some(ToolInstall::this_tool()),
            _ => None,
        };
        WorkflowOptions { runner, config_path, first_probe }
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A commented `release.toml` for what was detected; with `targets`, every binary is built
/// once per target, each target on its own runner (see [`crate::matrix`]).
pub fn release_toml(detected: &Detected, targets: &[String]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# How this repository is released. Written by `release init`; every field is documented");
    let _ = writeln!(w, "# in docs/config.md. `release plan` shows the steps, `release run --snapshot` rehearses");
    let _ = writeln!(w, "# everything without a remote effect, `release audit` checks the workflow against this.");
    let _ = writeln!(w);
    let _ = writeln!(w, "[project]");
    let _ = writeln!(w, "name = {}", toml_string(&detected.name));
    match &detected.version_from {
        Some(manifest) => {
            let _ = writeln!(w, "# The version is read from this manifest; bump it there.");
            let _ = writeln!(w, "version-from = {}", toml_string(manifest.as_str()));
        }
        None => {
            let _ = writeln!(w, "# No Cargo.toml states a version: keep it here (or pass --release-version).");
            let _ = writeln!(w, "version = \"0.1.0\"");
        }
    }
    let _ = writeln!(w, "# Pushing a tag made from this template runs .github/workflows/release.yml.");
    let _ = writeln!(w, "tag = \"v{{version}}\"");
    let _ = writeln!(w, "dist = \"dist\"");

    if detected.binaries.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "# No binary crate was found. Add one [[build]] per command that produces an artifact:");
        let _ = writeln!(w, "# [[build]]");
        let _ = writeln!(w, "# name = \"app\"");
        let _ = writeln!(w, "# command = [\"make\", \"app\"]");
        let _ = writeln!(w, "# artifacts = [{{ path = \"out/app\", name = \"app-{{version}}-{{arch}}-{{os}}\" }}]");
    }
    // One build per package, with all of its binaries: its archives are named after it.
    let mut packages: Vec<(&str, Vec<&str>)> = Vec::new();
    for binary in &detected.binaries {
        match packages.iter_mut().find(|(p, _)| *p == binary.package) {
            Some((_, bins)) => bins.push(&binary.name),
            None => packages.push((&binary.package, vec![&binary.name])),
        }
    }
    for (i, (package, bins)) in packages.iter().enumerate() {
        let _ = writeln!(w);
        if i == 0 {
            let _ = writeln!(w, "# One build per package, with `cargo build --release --locked`: the binaries' paths");
            let _ = writeln!(w, "# come from cargo itself (CARGO_TARGET_DIR and build.target-dir just work). Each is");
            let _ =
                writeln!(w, "# published as PACKAGE-TARGET-vVERSION.tar.gz (.zip for Windows) with README*, LICENSE*");
            let _ =
                writeln!(w, "# and CHANGELOG* beside the binaries, as cargo-binstall finds it, and a CycloneDX SBOM.");
            if !targets.is_empty() {
                let _ = writeln!(w, "# Each target builds on its own runner (`release plan --matrix`; [runners] picks");
                let _ = writeln!(w, "# other runner labels).");
            }
            if !detected.lockfile {
                let _ = writeln!(w, "# No Cargo.lock was found: builds use --locked, so run `cargo generate-lockfile`");
                let _ = writeln!(w, "# and commit it.");
            }
        }
        let bins: Vec<String> = bins.iter().map(|b| toml_string(b)).collect();
        let _ = writeln!(w, "[[build]]");
        let _ = writeln!(w, "name = {}", toml_string(package));
        let _ = writeln!(w, "cargo = {{ package = {}, bins = [{}] }}", toml_string(package), bins.join(", "));
        if !targets.is_empty() {
            let list: Vec<String> = targets.iter().map(|t| toml_string(t)).collect();
            let _ = writeln!(w, "targets = [{}]", list.join(", "));
        }
    }

    let _ = writeln!(w);
    match &detected.github {
        Some(remote) => {
            let _ = writeln!(w, "# The GitHub release: created as a draft, every asset uploaded and read back, then");
            let _ = writeln!(w, "# published as the last step. In GitHub Actions the job needs `contents: write`.");
            let _ = writeln!(w, "[github]");
            let _ = writeln!(w, "repository = {}", toml_string(&remote.to_string()));
            let _ = writeln!(w, "generate-notes = true");
            if !detected.binaries.is_empty() {
                let _ = writeln!(w);
                let _ =
                    writeln!(w, "# Installers with every release: NAME-installer.sh (and .ps1 with a Windows target),");
                let _ =
                    writeln!(w, "# each holding the SHA-256 of the archives it installs; the release notes get the");
                let _ = writeln!(w, "# one-line install commands (docs/installers.md).");
                let _ = writeln!(w, "[installers]");
            }
        }
        None => {
            let _ = writeln!(w, "# No GitHub remote named `origin` was found. Uncomment to publish a GitHub release");
            let _ = writeln!(w, "# (in GitHub Actions the job then needs `contents: write`):");
            let _ = writeln!(w, "# [github]");
            let _ = writeln!(w, "# repository = \"OWNER/REPO\"");
            let _ = writeln!(w, "# generate-notes = true");
        }
    }

    write_charts(w, detected);

    let _ = writeln!(w);
    let _ = writeln!(w, "# Uncomment to sign every published file with a cosign key pair. Its password is read");
    let _ =
        writeln!(w, "# from COSIGN_PASSWORD: add `COSIGN_PASSWORD: ${{{{ secrets.COSIGN_PASSWORD }}}}` to the `env:`");
    let _ = writeln!(w, "# of both release steps in .github/workflows/release.yml (`release audit` checks the rest).");
    let _ = writeln!(w, "# [signing]");
    let _ = writeln!(w, "# key = \"cosign.key\"");
    let _ = writeln!(w, "# public-key = \"cosign.pub\"");
    let _ = writeln!(w, "# Or sign keyless in GitHub Actions (Sigstore; no key to keep). The jobs then need");
    let _ = writeln!(w, "# `id-token: write`, and `attestations: write` for build provenance: after changing this");
    let _ = writeln!(w, "# section, `release audit` names what the workflow lacks.");
    let _ = writeln!(w, "# [signing]");
    let _ = writeln!(w, "# mode = \"keyless\"");
    let _ = writeln!(w, "# provenance = true");
    out
}

/// One `[[chart]]` per chart found, stamped with the release version, pushed to GHCR when the
/// remote is on GitHub.
fn write_charts(w: &mut String, detected: &Detected) {
    for (i, chart) in detected.charts.iter().enumerate() {
        let _ = writeln!(w);
        if i == 0 {
            let _ = writeln!(w, "# Helm charts, packaged with the release version. Pushing to ghcr.io with the");
            let _ = writeln!(w, "# job's GITHUB_TOKEN needs `packages: write` in GitHub Actions.");
        }
        let _ = writeln!(w, "[[chart]]");
        let _ = writeln!(w, "path = {}", toml_string(chart.path.as_str()));
        let _ = writeln!(w, "stamp-version = true");
        // An `appVersion` the chart keeps must be the release version (docs/config.md).
        let _ = writeln!(w, "stamp-app-version = true");
        match &detected.github {
            // GHCR names are lowercase, whatever the owner's spelling.
            Some(remote) => {
                let _ = writeln!(
                    w,
                    "push = {}",
                    toml_string(&format!("oci://ghcr.io/{}/charts", remote.owner.to_lowercase()))
                );
            }
            None => {
                let _ = writeln!(w, "# push = \"oci://ghcr.io/OWNER/charts\"");
            }
        }
    }
}

/// The `on.push.tags` pattern for a tag template: `v{version}` → `v*`.
pub fn tag_pattern(template: &str) -> String {
    template.replace("{version}", "*")
}

/// The secrets the release steps need, as environment variable names, sorted.
fn secret_variables(config: &Config) -> Vec<String> {
    let mut names = BTreeSet::new();
    names.insert("GITHUB_TOKEN".to_owned());
    if let Some(name) = config.github.as_ref().and_then(|g| g.token_env.clone()) {
        names.insert(name);
    }
    for registry in config.registries.values() {
        names.extend(registry.username_env.clone());
        names.extend(registry.password_env.clone());
    }
    // A key pair's password; keyless signing has no key and needs no secret.
    if let Some(signing) = config.signing.as_ref().filter(|s| s.mode == crate::config::SigningMode::Key) {
        names.insert(signing.password_env.clone());
    }
    // Crates with a stored token: its variable. Trusted publishing needs no secret.
    if let Some(crates) = config.crates.as_ref().filter(|c| !c.trusted_publishing) {
        names.insert(crates.token_env.clone().unwrap_or_else(|| crates.standard_token_env()));
    }
    names.into_iter().collect()
}

/// `.github/workflows/release.yml` for a config.
///
/// Hardened by construction: every `uses:` pinned to a commit SHA with its version in a
/// comment ([`super::pins`]); every checkout with `persist-credentials: false`; no cache; no
/// `${{ }}` inside a `run:` (values reach scripts through `env:`); every job and step named;
/// the tool installed as a verified binary of an exact version, never compiled from a branch.
pub fn release_workflow(config: &Config, options: &WorkflowOptions) -> String {
    let needed = required_permissions(config);
    let config_path = options.config_path.as_deref();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# The release workflow, written by `release init` from release.toml.");
    let _ = writeln!(w, "#");
    let _ = writeln!(w, "# Least privilege: the workflow grants nothing and each job lists exactly the token");
    let _ = writeln!(w, "# permissions it needs. Listing any permission sets every unlisted one to `none`, so a");
    let _ = writeln!(w, "# job's block must name all it uses. `release audit` checks this file against release.toml.");
    let _ = writeln!(w, "# Every action is pinned to a commit (its version in the comment); no job restores a cache;");
    let _ = writeln!(w, "# values reach scripts through `env:`, never as `${{{{ }}}}` inside `run:`.");
    let _ = writeln!(w, "name: release");
    let _ = writeln!(w);
    let _ = writeln!(w, "on:");
    let _ = writeln!(w, "  push:");
    let _ = writeln!(w, "    tags:");
    let _ = writeln!(w, "      - \"{}\"", tag_pattern(&config.project.tag));
    let _ = writeln!(w, "  workflow_dispatch:");
    let _ = writeln!(w);
    let _ = writeln!(w, "permissions: {{}}");
    let _ = writeln!(w);
    let _ = writeln!(w, "# One release per ref at a time; a release in progress is never cancelled.");
    let _ = writeln!(w, "concurrency:");
    let _ = writeln!(w, "  group: release-${{{{ github.ref }}}}");
    let _ = writeln!(w, "  cancel-in-progress: false");
    let _ = writeln!(w);
    let _ = writeln!(w, "jobs:");
    let _ = writeln!(w, "  # Proves every permission and credential before anything is built, by exercising the");
    let _ = writeln!(w, "  # exact write paths and undoing them (a draft release created and deleted, a registry");
    let _ = writeln!(w, "  # upload started and cancelled). It needs the release job's permissions for that reason.");
    if config.targets().is_empty() {
        let _ = writeln!(w, "  preflight:");
        job_head(w, "preflight", "ubuntu-latest", &needed, "prove it can ");
        job_start(w, options, false, true);
        preflight_steps(w, config, options, config_path);
        let _ = writeln!(w);
        let _ = writeln!(w, "  # Build, package, sign, verify, publish (the GitHub release stays a draft until every");
        let _ =
            writeln!(w, "  # asset is uploaded and read back), then make the release visible, the very last thing.");
        let _ = writeln!(w, "  release:");
        let _ = writeln!(w, "    needs: preflight");
        job_head(w, "release", "ubuntu-latest", &needed, "");
        job_start(w, options, false, false);
        release_step(w, config, options, "release", "run", config_path);
        return out;
    }

    // Across runners: preflight also plans, one build job per target, the release job last.
    let plan_file = crate::matrix::PLAN_FILE;
    let _ = writeln!(w, "  # It then writes the plan every later job follows, and the build matrix made from it.");
    let _ = writeln!(w, "  preflight:");
    job_head(w, "preflight and plan", "ubuntu-latest", &needed, "prove it can ");
    let _ = writeln!(w, "    outputs:");
    let _ = writeln!(w, "      matrix: ${{{{ steps.plan.outputs.matrix }}}}");
    job_start(w, options, false, true);
    preflight_steps(w, config, options, config_path);
    let _ = writeln!(w, "      - name: plan");
    let _ = writeln!(w, "        id: plan");
    let _ = writeln!(
        w,
        "        run: {}",
        options.runner.command(&format!("plan --matrix --manifest {plan_file}"), config_path)
    );
    let _ = writeln!(w, "      - name: share the plan");
    let _ = writeln!(w, "        uses: {}", pins::UPLOAD_ARTIFACT.uses());
    let _ = writeln!(w, "        with:");
    let _ = writeln!(w, "          name: release-plan");
    let _ = writeln!(w, "          path: {plan_file}");
    let _ = writeln!(w, "          if-no-files-found: error");
    let _ = writeln!(w);
    build_job(w, config, options, config_path);
    let _ = writeln!(w, "  # Gathers every runner's build (each checked against the digest its runner recorded),");
    let _ = writeln!(w, "  # builds what has no target, then package, sign, verify, publish (the GitHub release");
    let _ = writeln!(w, "  # stays a draft until every asset is uploaded and read back) and make it visible, last.");
    let _ = writeln!(w, "  release:");
    let _ = writeln!(w, "    needs: [preflight, build]");
    job_head(w, "release", "ubuntu-latest", &needed, "");
    job_start(w, options, false, false);
    download_plan(w);
    let _ = writeln!(w, "      - name: download the builds");
    let _ = writeln!(w, "        uses: {}", pins::DOWNLOAD_ARTIFACT.uses());
    let _ = writeln!(w, "        with:");
    let _ = writeln!(w, "          pattern: release-build-*");
    let _ = writeln!(w, "          path: gathered");
    release_step(w, config, options, "release", &format!("run --plan {plan_file} --gather gathered"), config_path);
    out
}

/// The matrix's build job: one runner per target builds that target's artifacts.
fn build_job(w: &mut String, config: &Config, options: &WorkflowOptions, config_path: Option<&str>) {
    let plan_file = crate::matrix::PLAN_FILE;
    let _ = writeln!(w, "  # One runner per target builds that target's artifacts; nothing here is signed or");
    let _ = writeln!(w, "  # published, so it needs no secret and reads the repository only.");
    let _ = writeln!(w, "  build:");
    let _ = writeln!(w, "    needs: preflight");
    let _ = writeln!(w, "    strategy:");
    let _ = writeln!(w, "      fail-fast: true");
    let _ = writeln!(w, "      matrix: ${{{{ fromJSON(needs.preflight.outputs.matrix) }}}}");
    job_head(w, "build ${{ matrix.target }}", "${{ matrix.runner }}", &[], "");
    let windows = config.targets().iter().any(|t| crate::config::target_os(t) == "windows");
    job_start(w, options, windows, false);
    let cargo_builds = config.build.iter().any(|b| !b.targets.is_empty() && b.program() == "cargo");
    if cargo_builds {
        let _ = writeln!(w, "      - name: add the Rust target");
        let _ = writeln!(w, "        shell: bash");
        let _ = writeln!(w, "        run: rustup target add \"$TARGET\"");
        let _ = writeln!(w, "        env:");
        let _ = writeln!(w, "          TARGET: ${{{{ matrix.target }}}}");
    }
    download_plan(w);
    let _ = writeln!(w, "      - name: build");
    let _ = writeln!(w, "        shell: bash");
    let _ = writeln!(
        w,
        "        run: {}",
        options.runner.command(&format!("build --target \"$TARGET\" --plan {plan_file} --dist dist"), config_path)
    );
    let _ = writeln!(w, "        env:");
    let _ = writeln!(w, "          TARGET: ${{{{ matrix.target }}}}");
    let _ = writeln!(w, "      - name: hand the build to the release job");
    let _ = writeln!(w, "        uses: {}", pins::UPLOAD_ARTIFACT.uses());
    let _ = writeln!(w, "        with:");
    let _ = writeln!(w, "          name: release-build-${{{{ matrix.target }}}}");
    let _ = writeln!(w, "          path: dist/");
    let _ = writeln!(w, "          if-no-files-found: error");
    let _ = writeln!(w);
}

fn download_plan(w: &mut String) {
    let _ = writeln!(w, "      - name: download the plan");
    let _ = writeln!(w, "        uses: {}", pins::DOWNLOAD_ARTIFACT.uses());
    let _ = writeln!(w, "        with:");
    let _ = writeln!(w, "          name: release-plan");
}

/// The preflight job's probes: with an xtask probed first, the verified binary's built-in
/// probes, then the xtask's own preflight (which compiles it).
fn preflight_steps(w: &mut String, config: &Config, options: &WorkflowOptions, config_path: Option<&str>) {
    if let (Runner::Xtask(_), Some(tool)) = (&options.runner, &options.first_probe) {
        let binary = WorkflowOptions { runner: Runner::Install(tool.clone()), ..options.clone() };
        release_step(w, config, &binary, "preflight (built-in probes, before compiling)", "preflight", config_path);
    }
    release_step(w, config, options, "preflight", "preflight", config_path);
}

/// `name`, `runs-on` and the job's `permissions:` block: exactly `needed`, and
/// `contents: read` to check out when that is not among them.
fn job_head(w: &mut String, name: &str, runs_on: &str, needed: &[Requirement], verb: &str) {
    let _ = writeln!(w, "    name: {name}");
    let _ = writeln!(w, "    runs-on: {runs_on}");
    let _ = writeln!(w, "    permissions:");
    if !needed.iter().any(|r| r.scope == CONTENTS) {
        let _ = writeln!(w, "      contents: read # check out the repository");
    }
    for requirement in needed {
        let _ =
            writeln!(w, "      {}: {} # {verb}{}", requirement.scope, requirement.level.name(), requirement.purpose);
        debug_assert_eq!(requirement.level, Level::Write);
    }
}

/// The checkout and, when the job runs the installed tool, its verified installation (with
/// an xtask, only the preflight job's first probe does); `windows`: the job may run on a
/// Windows runner of the matrix too.
fn job_start(w: &mut String, options: &WorkflowOptions, windows: bool, preflight: bool) {
    let _ = writeln!(w, "    steps:");
    let _ = writeln!(w, "      - name: check out");
    let _ = writeln!(w, "        uses: {}", pins::CHECKOUT.uses());
    let _ = writeln!(w, "        with:");
    let _ = writeln!(w, "          persist-credentials: false");
    let tool = match &options.runner {
        Runner::Install(tool) => Some(tool),
        Runner::Xtask(_) if preflight => options.first_probe.as_ref(),
        Runner::Xtask(_) => None,
    };
    if let Some(tool) = tool {
        install_steps(w, tool, windows);
    }
}

/// Downloads the tool's installer of the exact version from its release, checks the
/// installer's attestation against the tool's release workflow and tag, and runs it (it
/// checks the archive's SHA-256 and attestation in turn). `gh` is on every GitHub-hosted
/// runner; `GH_TOKEN` lets it read the release and the attestations.
fn install_steps(w: &mut String, tool: &ToolInstall, windows: bool) {
    let env = |w: &mut String| {
        let _ = writeln!(w, "        env:");
        let _ = writeln!(w, "          GH_TOKEN: ${{{{ github.token }}}}");
        let _ = writeln!(w, "          TOOL_REPOSITORY: {}", tool.repository);
        let _ = writeln!(w, "          TOOL_VERSION: \"{}\"", tool.version);
    };
    let verify = "--repo \"$TOOL_REPOSITORY\" --signer-workflow \"$TOOL_REPOSITORY/.github/workflows/release.yml\" --source-ref \"refs/tags/v$TOOL_VERSION\"";
    let _ = writeln!(w, "      - name: install release {} (verified, not compiled)", tool.version);
    if windows {
        let _ = writeln!(w, "        if: runner.os != 'Windows'");
    }
    let _ = writeln!(w, "        shell: bash");
    env(w);
    let _ = writeln!(w, "        run: |");
    let _ = writeln!(
        w,
        "          gh release download \"v$TOOL_VERSION\" --repo \"$TOOL_REPOSITORY\" --pattern release-installer.sh --dir \"$RUNNER_TEMP\""
    );
    let _ = writeln!(w, "          gh attestation verify \"$RUNNER_TEMP/release-installer.sh\" {verify}");
    let _ = writeln!(
        w,
        "          RELEASE_INSTALL_DIR=\"$RUNNER_TEMP/release-bin\" sh \"$RUNNER_TEMP/release-installer.sh\""
    );
    if !windows {
        return;
    }
    let _ = writeln!(w, "      - name: install release {} on Windows (verified, not compiled)", tool.version);
    let _ = writeln!(w, "        if: runner.os == 'Windows'");
    let _ = writeln!(w, "        shell: pwsh");
    env(w);
    let _ = writeln!(w, "        run: |");
    let _ = writeln!(
        w,
        "          gh release download \"v$env:TOOL_VERSION\" --repo \"$env:TOOL_REPOSITORY\" --pattern release-installer.ps1 --dir \"$env:RUNNER_TEMP\""
    );
    let _ = writeln!(
        w,
        "          gh attestation verify \"$env:RUNNER_TEMP/release-installer.ps1\" --repo \"$env:TOOL_REPOSITORY\" --signer-workflow \"$env:TOOL_REPOSITORY/.github/workflows/release.yml\" --source-ref \"refs/tags/v$env:TOOL_VERSION\""
    );
    let _ = writeln!(w, "          if ($LASTEXITCODE -ne 0) {{ exit $LASTEXITCODE }}");
    let _ = writeln!(w, "          $env:RELEASE_INSTALL_DIR = \"$env:RUNNER_TEMP\\release-bin\"");
    let _ = writeln!(w, "          & \"$env:RUNNER_TEMP\\release-installer.ps1\"");
}

/// A step running `release SUBCOMMAND` with the release's secrets.
fn release_step(
    w: &mut String,
    config: &Config,
    options: &WorkflowOptions,
    name: &str,
    subcommand: &str,
    config_path: Option<&str>,
) {
    let _ = writeln!(w, "      - name: {name}");
    let _ = writeln!(w, "        run: {}", options.runner.command(subcommand, config_path));
    let _ = writeln!(w, "        env:");
    for name in secret_variables(config) {
        let _ = writeln!(w, "          {name}: ${{{{ secrets.{name} }}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::detect::{Binary, Chart, GithubRemote};
    use camino::Utf8Path;

    fn parse(toml: &str) -> Config {
        Config::parse(toml, Utf8Path::new("/repo/release.toml")).unwrap()
    }

    #[test]
    fn tag_patterns() {
        assert_eq!(tag_pattern("v{version}"), "v*");
        assert_eq!(tag_pattern("mytool-v{version}"), "mytool-v*");
    }

    #[test]
    fn generated_toml_is_a_valid_config_with_every_target() {
        let detected = Detected {
            name: "acme".into(),
            version_from: None,
            binaries: vec![Binary { name: "acme".into(), package: "acme-cli".into() }],
            lockfile: true,
            charts: vec![Chart { name: "web".into(), path: "charts/web".into() }],
            github: Some(GithubRemote { owner: "Acme".into(), repo: "app".into() }),
            xtask: None,
            tool_source: false,
        };
        let config = parse(&release_toml(&detected, &[]));
        let cargo = config.build[0].cargo.as_ref().unwrap();
        assert_eq!((cargo.package.as_str(), cargo.bins.as_slice()), ("acme-cli", ["acme".to_owned()].as_slice()));
        assert!(config.build[0].archives() && config.build[0].sboms());
        assert_eq!(config.github.as_ref().unwrap().repository.as_deref(), Some("Acme/app"));
        assert_eq!(config.charts[0].push.as_deref(), Some("oci://ghcr.io/acme/charts"));
        assert!(config.signing.is_none());
    }

    #[test]
    fn generated_toml_without_anything_detected_is_valid() {
        let config = parse(&release_toml(&Detected { name: "x".into(), ..Detected::default() }, &[]));
        assert!(config.build.is_empty() && config.github.is_none() && config.charts.is_empty());
    }

    #[test]
    fn secrets_follow_the_config() {
        let config = parse(
            "[project]\nversion = \"1.0.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n[signing]\nkey = \"k\"\npassword-env = \"KEY_PASSWORD\"\n[registries.\"registry.example.com\"]\nusername-env = \"REG_USER\"\npassword-env = \"REG_PASSWORD\"\n",
        );
        assert_eq!(
            secret_variables(&config),
            ["GITHUB_TOKEN", "KEY_PASSWORD", "REG_PASSWORD", "REG_USER", "RELEASE_TOKEN"]
        );
    }

    #[test]
    fn generated_workflows_pass_their_own_audit() {
        use crate::actions::audit::audit_workflow;
        let configs = [
            "",
            "[github]\n",
            "[[chart]]\npath = \"c\"\npush = \"oci://ghcr.io/a/c\"\n",
            "[github]\n[[chart]]\npath = \"c\"\npush = \"oci://ghcr.io/a/c\"\n[signing]\nkey = \"k\"\n",
            "[github]\n[signing]\nmode = \"keyless\"\n",
            "[github]\n[signing]\nmode = \"keyless\"\nprovenance = true\n",
            MATRIX,
            "[github]\n[crates]\ntrusted-publishing = true\n",
            "[crates]\ntoken-env = \"CRATES_TOKEN\"\n",
        ];
        let runners =
            [Runner::Install(ToolInstall::this_tool()), Runner::Xtask(Xtask::Alias), Runner::Xtask(Xtask::Package)];
        for extra in configs {
            let config = parse(&format!("[project]\nversion = \"1.0.0\"\n{extra}"));
            let needed = required_permissions(&config);
            for runner in &runners {
                let options = WorkflowOptions { runner: runner.clone(), config_path: None, first_probe: None };
                let workflow = release_workflow(&config, &options);
                let audit = audit_workflow(Utf8Path::new("release.yml"), &workflow, &needed);
                // The matrix's build job builds only: it is not a release job.
                assert_eq!(audit.release_jobs, ["release.yml:preflight", "release.yml:release"], "{workflow}");
                assert!(audit.findings.is_empty(), "{:?}\n{workflow}", audit.findings);
                if extra.contains("trusted-publishing") {
                    assert!(workflow.contains("id-token: write # "), "{workflow}");
                    assert!(!workflow.contains("CARGO_REGISTRY_TOKEN"), "trusted publishing needs no secret");
                }
                if extra.contains("CRATES_TOKEN") {
                    assert!(workflow.contains("CRATES_TOKEN: ${{ secrets.CRATES_TOKEN }}"), "{workflow}");
                    assert!(!workflow.contains("id-token"), "{workflow}");
                }
            }
        }
    }

    const MATRIX: &str = "[github]\n[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\", \"--target\", \"{target}\"]\ntargets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\nartifacts = [{ path = \"target/{target}/release/app\", name = \"app-{target}\" }]\n[signing]\nkey = \"k\"\n";

    #[test]
    fn with_targets_the_workflow_plans_builds_per_runner_and_publishes_last() {
        let config = parse(&format!("[project]\nversion = \"1.0.0\"\n{MATRIX}"));
        let options = WorkflowOptions { runner: Runner::Xtask(Xtask::Alias), config_path: None, first_probe: None };
        let workflow = release_workflow(&config, &options);
        let after_jobs = &workflow[workflow.find("\njobs:\n").unwrap()..];
        let jobs: Vec<&str> =
            after_jobs.lines().filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':')).collect();
        assert_eq!(jobs, ["  preflight:", "  build:", "  release:"], "{workflow}");
        for expected in [
            "      matrix: ${{ steps.plan.outputs.matrix }}",
            "        run: cargo xtask release plan --matrix --manifest release-plan.json",
            "      matrix: ${{ fromJSON(needs.preflight.outputs.matrix) }}",
            "    runs-on: ${{ matrix.runner }}",
            "        run: cargo xtask release build --target \"$TARGET\" --plan release-plan.json --dist dist",
            "          name: release-build-${{ matrix.target }}",
            "    needs: [preflight, build]",
            "          pattern: release-build-*",
            "        run: cargo xtask release run --plan release-plan.json --gather gathered",
        ] {
            assert!(workflow.contains(expected), "{expected:?} missing from\n{workflow}");
        }
        // The build job gets no secret and no write permission.
        let build = &workflow[workflow.find("  build:").unwrap()..workflow.find("  release:").unwrap()];
        assert!(!build.contains("secrets.") && !build.contains("write"), "{build}");
        assert!(build.contains("rustup target add"), "{build}");
    }

    #[test]
    fn init_with_targets_writes_a_cross_build_per_binary() {
        let detected = Detected {
            name: "acme".into(),
            binaries: vec![Binary { name: "acme".into(), package: "acme-cli".into() }],
            lockfile: true,
            ..Detected::default()
        };
        let targets = ["x86_64-unknown-linux-gnu".to_owned(), "x86_64-pc-windows-msvc".to_owned()];
        let config = parse(&release_toml(&detected, &targets));
        assert_eq!(config.build[0].cargo.as_ref().unwrap().package, "acme-cli");
        assert_eq!(config.targets(), targets);
        let names = config.build[0].published_names(config.version.as_ref(), Some("x86_64-pc-windows-msvc"), "");
        assert_eq!(
            names,
            ["acme-cli-x86_64-pc-windows-msvc-v0.1.0.zip", "acme-cli-x86_64-pc-windows-msvc-v0.1.0.zip.cdx.json"]
        );
    }

    #[test]
    fn init_builds_every_binary_of_a_package_in_one_build() {
        let detected = Detected {
            name: "acme".into(),
            binaries: vec![
                Binary { name: "acme".into(), package: "acme-cli".into() },
                Binary { name: "acmectl".into(), package: "acme-cli".into() },
                Binary { name: "tool".into(), package: "acme-tool".into() },
            ],
            lockfile: false,
            ..Detected::default()
        };
        let text = release_toml(&detected, &[]);
        assert!(text.contains("run `cargo generate-lockfile`"), "{text}");
        let config = parse(&text);
        assert_eq!(config.build.len(), 2);
        assert_eq!(config.build[0].cargo.as_ref().unwrap().bins, ["acme", "acmectl"]);
    }

    #[test]
    fn signing_passes_the_password_secret_to_both_jobs() {
        let config = parse("[project]\nversion = \"1.0.0\"\n[signing]\nkey = \"cosign.key\"\n");
        let options = WorkflowOptions {
            runner: Runner::Install(ToolInstall::this_tool()),
            config_path: Some("ci/release.toml".into()),
            first_probe: None,
        };
        let workflow = release_workflow(&config, &options);
        assert_eq!(workflow.matches("COSIGN_PASSWORD: ${{ secrets.COSIGN_PASSWORD }}").count(), 2, "{workflow}");
        assert!(workflow.contains("run: release --config ci/release.toml preflight"), "{workflow}");
        assert!(!workflow.contains("id-token"), "key signing needs no OIDC token");
    }

    #[test]
    fn keyless_signing_asks_for_id_token_and_provenance_for_attestations() {
        let options =
            WorkflowOptions { runner: Runner::Install(ToolInstall::this_tool()), config_path: None, first_probe: None };
        let keyless = release_workflow(
            &parse("[project]\nversion = \"1.0.0\"\n[github]\n[signing]\nmode = \"keyless\"\n"),
            &options,
        );
        assert!(keyless.contains("id-token: write"), "{keyless}");
        assert!(!keyless.contains("attestations"), "{keyless}");
        let provenance = release_workflow(
            &parse("[project]\nversion = \"1.0.0\"\n[github]\n[signing]\nmode = \"keyless\"\nprovenance = true\n"),
            &options,
        );
        assert!(provenance.contains("id-token: write") && provenance.contains("attestations: write"), "{provenance}");
        assert!(!keyless.contains("COSIGN_PASSWORD") && !provenance.contains("COSIGN_PASSWORD"), "no key, no password");
    }
}
