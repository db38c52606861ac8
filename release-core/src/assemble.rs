//! From config to pipeline: which built-in steps a release has, in which stages.
//!
//! Pure: every constructor here only copies data out of the config; nothing touches the
//! disk or the network until the runner runs a step.

use camino::Utf8PathBuf;

use crate::actions::{WorkflowPermissionsCheck, required_permissions};
use crate::config::{Config, ConfigError, expand};
use crate::env::Environment;
use crate::helm;
use crate::journal::JournalSettings;
use crate::matrix::{self, PlanManifest};
use crate::oci;
use crate::plan::Mode;
use crate::runner::Pipeline;
use crate::stages::{build, checksums, sign};
use crate::step::Release;

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// A version instead of the config's.
    pub version: Option<semver::Version>,
    /// A dist directory instead of the config's.
    pub dist: Option<Utf8PathBuf>,
    /// Ignore the journal of an earlier run that failed: build everything again.
    pub fresh: bool,
    /// How much of the release this run makes (see [`crate::matrix`]).
    pub scope: Scope,
}

/// How much of a release one run makes.
#[derive(Clone, Debug, Default)]
pub enum Scope {
    /// Everything on this machine: every build for every target.
    #[default]
    Whole,
    /// One runner of a matrix release: the builds of one target, and the manifest that
    /// hands them to the final job, archived (with their SBOMs) when the build says so.
    /// Nothing is signed or published.
    Target { target: String, plan_id: String },
    /// The final job of a matrix release: the targets' builds are gathered from `dir`
    /// instead of built; builds without targets run here; then everything else.
    Gather { plan: PlanManifest, dir: Utf8PathBuf },
}

/// The release a config describes: version, tag, directories.
pub fn release(config: &Config, overrides: &Overrides) -> Result<Release, ConfigError> {
    let version = overrides.version.clone().or_else(|| config.version.clone()).ok_or_else(|| ConfigError::Invalid {
        path: config.file.clone(),
        field: "project.version".into(),
        message: "no version given".into(),
        help: Some(
            "set `project.version`, or `project.version-from` to a Cargo.toml, or pass --release-version".into(),
        ),
    })?;
    let tag = expand(&config.project.tag, &version.to_string(), "", "");
    let dist = overrides.dist.clone().unwrap_or_else(|| config.root.join(&config.project.dist));
    Ok(Release { version, tag, root: config.root.clone(), dist })
}

/// The pipeline for a config: every built-in step, filed by stage.
pub fn pipeline(
    config: &Config,
    env: &Environment,
    mode: Mode,
    overrides: &Overrides,
) -> Result<Pipeline, ConfigError> {
    let release = release(config, overrides)?;
    // Journal beside the dist directory. Its fingerprint covers, besides the plan, the
    // config's exact text and the commit being released (when the CI says which).
    let journal = JournalSettings {
        path: JournalSettings::beside(&release.dist),
        context: format!("config {}\ncommit {}", config.text_sha256, env.get("GITHUB_SHA").unwrap_or("")),
        fresh: overrides.fresh,
    };
    let mut pipeline = Pipeline::new(release, env.clone(), mode);
    pipeline.set_journal(journal);
    let mut add = |step: Box<dyn crate::step::Step>| {
        pipeline.add_boxed(step).expect("built-in steps have distinct ids and valid effects")
    };

    // The (build, target) pairs this run builds.
    let pairs: Vec<(usize, Option<String>)> = match &overrides.scope {
        Scope::Whole => config
            .build
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.target_list().into_iter().map(move |t| (i, t.map(str::to_owned))))
            .collect(),
        Scope::Target { target, .. } => config
            .build
            .iter()
            .enumerate()
            .filter(|(_, b)| b.targets.contains(target))
            .map(|(i, _)| (i, Some(target.clone())))
            .collect(),
        Scope::Gather { .. } => {
            config.build.iter().enumerate().filter(|(_, b)| b.targets.is_empty()).map(|(i, _)| (i, None)).collect()
        }
    };
    let planned = RustBuilds::new(config, &pairs);
    if let Scope::Target { target, plan_id } = &overrides.scope {
        // One runner's share: the target's builds, their archives and SBOMs, and the manifest
        // that hands them on; nothing is signed or published.
        add(Box::new(build::BuildToolsCheck::for_steps(&planned.command_builds)));
        for check in planned.checks {
            add(check);
        }
        add(Box::new(build::PrepareDist));
        for step in planned.builds {
            add(step);
        }
        for step in planned.packages {
            add(step);
        }
        add(Box::new(matrix::WriteBuildManifest { target: target.clone(), plan_id: plan_id.clone() }));
        return Ok(pipeline);
    }
    if let Scope::Gather { plan, dir } = &overrides.scope {
        add(Box::new(matrix::GatheredCheck { plan: plan.clone(), dir: dir.clone() }));
    }
    if !planned.command_builds.is_empty() {
        add(Box::new(build::BuildToolsCheck::for_steps(&planned.command_builds)));
    }
    let RustBuilds { checks, builds, packages, .. } = planned;
    for check in checks {
        add(check);
    }
    if !config.charts.is_empty() {
        add(Box::new(helm::steps::ChartsCheck::new(config)));
    }
    // Inside GitHub Actions, a job of this workflow that would be refused at publish time
    // fails the release now. Outside Actions there is no token whose grant a file decides,
    // and a snapshot publishes nothing, so neither runs the check.
    let needed = required_permissions(config);
    if env.in_github_actions() && mode != Mode::Snapshot && !needed.is_empty() {
        add(Box::new(WorkflowPermissionsCheck::new(config.root.clone(), needed)));
    }
    add(Box::new(build::PrepareDist));
    if let Scope::Gather { plan, dir } = &overrides.scope {
        add(Box::new(matrix::Gather { plan: plan.clone(), dir: dir.clone() }));
    }
    for step in builds {
        add(step);
    }
    // Archives, SBOMs and charts are packaged before SHA256SUMS is written, so that it lists
    // them.
    for step in packages {
        add(step);
    }
    for step in helm::steps::PackageChart::all(config) {
        add(Box::new(step));
    }
    add(Box::new(checksums::WriteChecksums));

    // Helm charts to OCI registries: checks without network (every mode), a push probe per
    // chart in preflight, the push itself in the publish stage, and with `[signing]` the push
    // by digest, then the chart's signature, then its version tag: a chart never shows under
    // its version unsigned. The signature and the tag go to the chart's repository with the
    // same credentials and push scope, so the chart's probe vouches for them too.
    let pushes = oci::chart_pushes(config);
    if !pushes.is_empty() {
        let settings = oci::OciSettings::from_config(config);
        add(Box::new(oci::steps::OciCheck { pushes: pushes.clone(), settings: settings.clone() }));
        for push in pushes {
            add(Box::new(oci::steps::PushProbe { push: push.clone(), settings: settings.clone() }));
            let signed = config.signing.is_some();
            add(Box::new(oci::steps::ChartPushStep { push: push.clone(), settings: settings.clone(), signed }));
            if signed {
                add(Box::new(oci::signature::ChartSignatureStep { push: push.clone(), settings: settings.clone() }));
                add(Box::new(oci::steps::ChartTagStep { push, settings: settings.clone() }));
            }
        }
    }
    if let Some(signing) = &config.signing {
        let settings = sign::SigningSettings::new(config, signing, mode);
        add(Box::new(sign::SigningKeyCheck::new(settings.clone())));
        add(Box::new(sign::SignArtifacts::new(settings.clone())));
        add(Box::new(sign::VerifySignatures::new(settings)));
    }
    for step in crate::github::steps(config) {
        add(step);
    }
    Ok(pipeline)
}

/// The build steps of a run in config order (`command` builds and `cargo` builds), the
/// archive and SBOM steps of the archived ones, and their preflight checks.
struct RustBuilds {
    /// The `command` builds, for the build tools check.
    command_builds: Vec<build::BuildStep>,
    checks: Vec<Box<dyn crate::step::Step>>,
    builds: Vec<Box<dyn crate::step::Step>>,
    packages: Vec<Box<dyn crate::step::Step>>,
}

impl RustBuilds {
    fn new(config: &Config, pairs: &[(usize, Option<String>)]) -> Self {
        use crate::steps::{build as cargo_build, package, preflight};
        let mut planned =
            RustBuilds { command_builds: Vec::new(), checks: Vec::new(), builds: Vec::new(), packages: Vec::new() };
        for (i, target) in pairs {
            let b = &config.build[*i];
            let target = target.as_deref();
            match &b.cargo {
                Some(cargo) => {
                    planned.builds.push(Box::new(cargo_build::cargo::CargoBuildStep::new(config, b, cargo, target)))
                }
                None => {
                    let step = build::BuildStep::new(config, b, target);
                    planned.command_builds.push(build::BuildStep::new(config, b, target));
                    planned.builds.push(Box::new(step));
                }
            }
            if b.archives() {
                planned.packages.push(Box::new(package::archive::ArchiveStep::new(config, b, target)));
            }
            if let (true, Some(cargo)) = (b.sboms(), &b.cargo) {
                planned.packages.push(Box::new(package::sbom::SbomStep::new(config, b, cargo, target)));
            }
        }
        let mut targets_of: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, target) in pairs {
            match targets_of.iter_mut().find(|(j, _)| j == i) {
                Some((_, targets)) => targets.extend(target.clone()),
                None => targets_of.push((*i, target.iter().cloned().collect())),
            }
        }
        if let Some(check) = preflight::cargo::CargoCheck::new(config, &targets_of) {
            planned.checks.push(Box::new(check));
        }
        let indexes: Vec<usize> = targets_of.iter().map(|(i, _)| *i).collect();
        if let Some(check) = preflight::archives::IncludeCheck::new(config, &indexes) {
            planned.checks.push(Box::new(check));
        }
        planned
    }
}
