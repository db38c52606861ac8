//! From config to pipeline: which built-in steps a release has, in which stages.
//!
//! Pure but for one read-only check: every constructor here only copies data out of the
//! config, and nothing touches the network or writes until the runner runs a step. The one
//! read is [`crate::dist::guard`]: a dist directory that must never be emptied (the project
//! root, a repository, a directory holding tracked files, …) is refused here, with the
//! config, before any plan is shown or run. This is the one place where step ids'
//! subjects and chart identities ([`ChartId`]) are made, and where the order of the built-in
//! steps within a stage is written down (commented, below); the hand-offs between them are
//! declared by the steps and checked by [`Pipeline::check`].

use camino::{Utf8Path, Utf8PathBuf};

use crate::actions::required_permissions;
use crate::config::{Config, ConfigError, expand};
use crate::env::Environment;
use crate::helm::ChartId;
use crate::identity::IdentitySettings;
use crate::journal::JournalSettings;
use crate::matrix::PlanManifest;
use crate::oci;
use crate::plan::Mode;
use crate::runner::Pipeline;
use crate::signing::settings::SigningSettings;
use crate::step::{Release, Step};
use crate::steps::build::command::BuildCommand;
use crate::steps::build::gather::BuildGather;
use crate::steps::build::prepare_dist::BuildPrepareDist;
use crate::steps::finalize::github_release::FinalizeGithubRelease;
use crate::steps::finalize::github_release_attestation::FinalizeGithubReleaseAttestation;
use crate::steps::finalize::oci_tag::FinalizeOciTag;
use crate::steps::package::chart::PackageChart;
use crate::steps::package::checksums::PackageChecksums;
use crate::steps::package::manifest::PackageManifest;
use crate::steps::preflight::build_tools::PreflightBuildTools;
use crate::steps::preflight::charts::PreflightCharts;
use crate::steps::preflight::dist::PreflightDist;
use crate::steps::preflight::gathered_builds::PreflightGatheredBuilds;
use crate::steps::preflight::github_release_write::PreflightGithubReleaseWrite;
use crate::steps::preflight::github_tag_rules::PreflightGithubTagRules;
use crate::steps::preflight::identity::PreflightIdentity;
use crate::steps::preflight::oci_check::PreflightOciCheck;
use crate::steps::preflight::oci_push::PreflightOciPush;
use crate::steps::preflight::signing_key::PreflightSigningKey;
use crate::steps::preflight::workflow_permissions::PreflightWorkflowPermissions;
use crate::steps::publish::github_release::PublishGithubRelease;
use crate::steps::publish::oci_push::PublishOciPush;
use crate::steps::publish::oci_signature::PublishOciSignature;
use crate::steps::sign::artifacts::SignArtifacts;
use crate::steps::verify::signatures::VerifySignatures;

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
    /// Release a work tree with tracked changes, or a directory outside git (`--allow-dirty`).
    pub allow_dirty: bool,
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
pub(crate) fn release(config: &Config, overrides: &Overrides) -> Result<Release, ConfigError> {
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

/// What the release claims to be against what the trigger, git and the tree say (what
/// `preflight:identity` checks and `release plan` shows at its top). Reads git and runs
/// `cargo metadata`.
pub fn identity(config: &Config, env: &Environment, overrides: &Overrides) -> Result<crate::Identity, ConfigError> {
    let release = release(config, overrides)?;
    let settings = IdentitySettings::new(config, overrides.version.is_some(), overrides.allow_dirty);
    Ok(crate::identity::read(&settings, &release.version, &release.tag, env))
}

/// Refuses, with the config, a dist directory that must never be emptied, and a gather
/// directory that overlaps it (`build:prepare-dist` would empty what is to be gathered).
fn guard_paths(config: &Config, env: &Environment, overrides: &Overrides, dist: &Utf8Path) -> Result<(), ConfigError> {
    let protected = crate::dist::Protected { root: &config.root, config_file: &config.file, env };
    let as_config_error = |err: crate::dist::DistError| {
        let help = crate::error::Diagnose::help(&err);
        match &overrides.dist {
            Some(_) => ConfigError::Flag { flag: "--dist".into(), message: err.to_string(), help },
            None => ConfigError::Invalid {
                path: config.file.clone(),
                field: "project.dist".into(),
                message: err.to_string(),
                help,
            },
        }
    };
    let shown = overrides.dist.as_ref().map_or_else(|| config.project.dist.to_string(), |d| d.to_string());
    crate::dist::guard(dist, &shown, protected).map_err(as_config_error)?;
    if let Scope::Gather { dir, .. } = &overrides.scope {
        let (gather, dist) = (crate::dist::resolve(dir), crate::dist::resolve(dist));
        if gather.starts_with(&dist) || dist.starts_with(&gather) {
            return Err(ConfigError::Flag {
                flag: "--gather".into(),
                message: format!("the gather directory {dir} overlaps the dist directory {dist}"),
                help: Some("download the runners' builds into a directory of their own (such as `builds/`): the dist directory is emptied before they are gathered into it".into()),
            });
        }
    }
    Ok(())
}

/// The pipeline for a config: every built-in step, filed by stage.
pub fn pipeline(
    config: &Config,
    env: &Environment,
    mode: Mode,
    overrides: &Overrides,
) -> Result<Pipeline, ConfigError> {
    let release = release(config, overrides)?;
    guard_paths(config, env, overrides, &release.dist)?;
    // The journal inside the dist directory. Its fingerprint covers, besides the plan, the
    // config's exact text and the commit being released (when the CI says which).
    let journal = JournalSettings {
        path: JournalSettings::in_dist(&release.dist),
        context: format!("config {}\ncommit {}", config.text_sha256, env.get("GITHUB_SHA").unwrap_or("")),
        fresh: overrides.fresh,
    };
    let mut pipeline = Pipeline::new(release, env.clone(), mode);
    pipeline.set_journal(journal);
    let host = snapshot_host(config, env, mode, &overrides.scope);
    let planned = RustBuilds::new(config, &build_pairs(config, &overrides.scope, host.as_deref()));
    // One call per feature, in this order. The runner files steps by stage and keeps this
    // order within each stage, so it decides, for instance, that charts are packaged before
    // SHA256SUMS lists them and that crates are the last uploads of the publish stage.
    let mut steps = Steps::default();
    steps.add(identity_check(config, overrides, mode));
    if let Scope::Target { target, plan_id } = &overrides.scope {
        runner_share(&mut steps, planned, target, plan_id);
    } else {
        builds(&mut steps, config, env, mode, &overrides.scope, planned);
        let charts = ChartId::all(&config.charts);
        let pushes = oci::chart_pushes(config, &charts);
        let chart_tags = chart_pushes(&mut steps, config, &pushes);
        let keyless = keyless(config) && !keyless_stand_in(config, env, mode, &pushes);
        signing(&mut steps, config, env, mode, &pushes);
        github(&mut steps, config, keyless);
        // The chart version tags follow the undraft, and GitHub's attestation of an immutable
        // release is checked last, about a release that is otherwise complete.
        for step in chart_tags {
            steps.add(step);
        }
        if let Some(github) = &config.github {
            steps.add(FinalizeGithubReleaseAttestation::new(github, &config.network));
        }
        crates(&mut steps, config);
    }
    for step in steps.0 {
        pipeline.add_boxed(step).expect("built-in steps have distinct ids, valid effects and no resumable producers");
    }
    Ok(pipeline)
}

/// The built-in steps of a run, in the order they are added.
#[derive(Default)]
struct Steps(Vec<Box<dyn Step>>);

impl Steps {
    fn add(&mut self, step: impl Step + 'static) {
        self.0.push(Box::new(step));
    }
    fn extend(&mut self, steps: Vec<Box<dyn Step>>) {
        self.0.extend(steps);
    }
}

fn keyless(config: &Config) -> bool {
    config.signing.as_ref().is_some_and(|s| s.mode == crate::config::SigningMode::Keyless)
}

/// A snapshot of a release with targets builds what this machine builds natively, as a
/// local cargo-dist build does: the host's target, when the builds list it (the others build
/// on their own runners in the release workflow). The host is what `rustc -vV` says, read
/// here: the one other read-only look this module takes.
fn snapshot_host(config: &Config, env: &Environment, mode: Mode, scope: &Scope) -> Option<String> {
    if mode != Mode::Snapshot || !matches!(scope, Scope::Whole) || config.targets().len() < 2 {
        return None;
    }
    let argv = ["rustc".to_owned(), "-vV".to_owned()];
    let text = crate::shell::capture_blocking(&argv, &config.root, env, &std::collections::BTreeMap::new()).ok()?;
    let host = crate::cargo::host_triple(&text).ok()?;
    config.targets().contains(&host).then_some(host)
}

/// The (build, target) pairs a run of `scope` builds; with `host`, a build that lists it
/// builds for it alone.
fn build_pairs(config: &Config, scope: &Scope, host: Option<&str>) -> Vec<(usize, Option<String>)> {
    let builds = config.build.iter().enumerate();
    match scope {
        Scope::Whole => builds
            .flat_map(|(i, b)| {
                let mut targets = b.target_list();
                if let Some(host) = host.filter(|h| b.targets.iter().any(|t| t == h)) {
                    targets.retain(|t| *t == Some(host));
                }
                targets.into_iter().map(move |t| (i, t.map(str::to_owned)))
            })
            .collect(),
        Scope::Target { target, .. } => {
            builds.filter(|(_, b)| b.targets.contains(target)).map(|(i, _)| (i, Some(target.clone()))).collect()
        }
        Scope::Gather { .. } => builds.filter(|(_, b)| b.targets.is_empty()).map(|(i, _)| (i, None)).collect(),
    }
}

/// One runner's share of a matrix release: the target's builds, their archives and SBOMs,
/// and the manifest that hands them on; nothing is signed or published.
fn runner_share(steps: &mut Steps, planned: RustBuilds, target: &str, plan_id: &str) {
    steps.add(PreflightBuildTools::for_commands(&planned.command_builds));
    steps.extend(planned.checks);
    steps.add(PreflightDist);
    steps.add(BuildPrepareDist);
    steps.extend(planned.builds);
    steps.extend(planned.packages);
    steps.add(PackageManifest { target: target.to_owned(), plan_id: plan_id.to_owned() });
}

/// Everything up to `SHA256SUMS`: the checks of the builds, charts and workflow, the dist
/// directory, the builds (or the gathered ones), the archives, SBOMs, chart packages and
/// installers.
fn builds(steps: &mut Steps, config: &Config, env: &Environment, mode: Mode, scope: &Scope, planned: RustBuilds) {
    if let Scope::Gather { plan, dir } = scope {
        steps.add(PreflightGatheredBuilds { plan: plan.clone(), dir: dir.clone() });
    }
    if !planned.command_builds.is_empty() {
        steps.add(PreflightBuildTools::for_commands(&planned.command_builds));
    }
    let RustBuilds { checks, builds, packages, .. } = planned;
    steps.extend(checks);
    if !config.charts.is_empty() {
        steps.add(PreflightCharts::new(config));
    }
    // Inside GitHub Actions, a job of this workflow that would be refused at publish time
    // fails the release now. Outside Actions there is no token whose grant a file decides,
    // and a snapshot publishes nothing, so neither runs the check.
    let needed = required_permissions(config);
    if env.in_github_actions() && mode != Mode::Snapshot && !needed.is_empty() {
        steps.add(PreflightWorkflowPermissions::new(config.root.clone(), needed));
    }
    steps.add(PreflightDist);
    steps.add(BuildPrepareDist);
    if let Scope::Gather { plan, dir } = scope {
        steps.add(BuildGather { plan: plan.clone(), dir: dir.clone() });
    }
    steps.extend(builds);
    // Archives, SBOMs and charts are packaged before SHA256SUMS is written, so that it lists
    // them.
    steps.extend(packages);
    for (id, chart) in ChartId::all(&config.charts).iter().zip(&config.charts) {
        steps.add(PackageChart::new(config, id.clone(), chart));
    }
    // The installers hold the archives' digests, and are listed in SHA256SUMS themselves.
    if let Some(installers) = &config.installers {
        use crate::steps::package::installers::{InstallerSettings, PackageInstallers};
        steps.add(PackageInstallers { settings: InstallerSettings::new(config, installers, mode == Mode::Snapshot) });
    }
    steps.add(PackageChecksums);
}

/// Helm charts to OCI registries: checks without network (every mode), a push probe per
/// chart in preflight, the push by digest in the publish stage (with `[signing]` then the
/// chart's signature). The version tags, returned, are added after the GitHub release's
/// undraft. The signature and the tag go to the chart's repository with the same credentials
/// and push scope, so the chart's probe vouches for them too.
fn chart_pushes(steps: &mut Steps, config: &Config, pushes: &[oci::ChartPush]) -> Vec<FinalizeOciTag> {
    let mut chart_tags = Vec::new();
    if pushes.is_empty() {
        return chart_tags;
    }
    let keyless = keyless(config);
    let provenance = keyless && config.signing.as_ref().is_some_and(|s| s.provenance);
    let settings = oci::OciSettings::from_config(config);
    steps.add(PreflightOciCheck { pushes: pushes.to_vec(), settings: settings.clone() });
    for push in pushes.iter().cloned() {
        steps.add(PreflightOciPush { push: push.clone(), settings: settings.clone() });
        // A key signs in cosign's legacy `.sig` layout; keyless runs attach cosign v3
        // bundles as OCI referrers (signed in the sign stage, see `signing`).
        let signed = config.signing.is_some();
        steps.add(PublishOciPush { push: push.clone(), settings: settings.clone(), pinned: keyless });
        if keyless {
            use crate::steps::publish::oci_referrers::PublishOciReferrers;
            steps.add(PublishOciReferrers { push: push.clone(), settings: settings.clone(), provenance });
        } else if signed {
            steps.add(PublishOciSignature { push: push.clone(), settings: settings.clone() });
        }
        chart_tags.push(FinalizeOciTag { push, settings: settings.clone(), signed, keyless });
    }
    chart_tags
}

/// A keyless snapshot outside GitHub Actions (inside, a missing token is the job's missing
/// `id-token: write`, refused in preflight) has no OIDC token to trade for a certificate: it
/// signs and verifies with a throwaway key pair instead (its public key in the dist
/// directory), so that a local rehearsal still makes and checks every signature. Not with
/// charts, whose keyless signatures are OCI referrers a key cannot stand in for.
fn keyless_stand_in(config: &Config, env: &Environment, mode: Mode, pushes: &[oci::ChartPush]) -> bool {
    keyless(config)
        && mode == Mode::Snapshot
        && pushes.is_empty()
        && !env.in_github_actions()
        && env.get(crate::signing::keyless::token::REQUEST_URL_VAR).is_none_or(str::is_empty)
}

/// `[signing]`: keyless (the OIDC token, the run's signing session and bundles, the charts'
/// signatures, the provenance and its attestation) or with a key (the key's check, the
/// signatures, their verification).
fn signing(steps: &mut Steps, config: &Config, env: &Environment, mode: Mode, pushes: &[oci::ChartPush]) {
    let Some(signing) = &config.signing else { return };
    let stand_in = keyless_stand_in(config, env, mode, pushes);
    if signing.mode != crate::config::SigningMode::Keyless || stand_in {
        let mut settings = SigningSettings::new(config, signing, mode);
        settings.always_ephemeral = stand_in;
        steps.add(PreflightSigningKey::new(settings.clone()));
        steps.add(SignArtifacts::new(settings.clone()));
        steps.add(VerifySignatures::new(settings));
        return;
    }
    use crate::steps::{preflight::id_token, sign::keyless, verify::bundles};
    let settings = crate::signing::keyless::settings::KeylessSettings::new(config, signing);
    steps.add(id_token::PreflightIdToken { settings: settings.clone() });
    steps.add(keyless::SignKeyless { settings });
    steps.add(bundles::VerifyBundles);
    for push in pushes {
        use crate::steps::{sign::oci_signature::SignOciSignature, verify::oci_signature::VerifyOciSignature};
        steps.add(SignOciSignature { push: push.clone() });
        steps.add(VerifyOciSignature { push: push.clone() });
    }
    if signing.provenance {
        steps.add(crate::steps::sign::provenance::SignProvenance { charts: pushes.to_vec() });
        steps.add(crate::steps::verify::provenance::VerifyProvenance { charts: pushes.to_vec() });
        if let Some(github) = &config.github {
            use crate::steps::{preflight::attestations, publish::attestation};
            let (github, network) = (github.clone(), config.network.clone());
            steps.add(attestations::PreflightAttestations { github: github.clone(), network: network.clone() });
            steps.add(attestation::PublishAttestation { github, network });
        }
    }
}

/// `[github]`: the write probe and the tag rules in preflight, the draft with every asset in
/// the publish stage, and the one point of no return, the undraft, first in the finalize stage
/// (the step GitHub may still refuse). The publish stage made nothing visible before it: charts
/// by digest, the release a draft. See docs/reliability.md.
fn github(steps: &mut Steps, config: &Config, keyless: bool) {
    let Some(github) = &config.github else { return };
    steps.add(PreflightGithubReleaseWrite::new(github, &config.network, &config.root));
    // It reads the network: `probe = false` (preflight without the network) leaves it out.
    if github.probe {
        steps.add(PreflightGithubTagRules::new(github, &config.network, &config.root));
    }
    steps.add(
        PublishGithubRelease::new(github, &config.network, &config.root, config.project.name.as_deref())
            .keyless(keyless),
    );
    steps.add(FinalizeGithubRelease::new(github, &config.network));
}

/// Crates: proven in preflight; published last in the publish stage, after every other upload
/// was read back (the draft release, the charts) and before the finalize stage makes the
/// release visible: a crate version is public and permanent once uploaded.
fn crates(steps: &mut Steps, config: &Config) {
    let Some(settings) = crate::crates::CratesSettings::from_config(config) else { return };
    use crate::steps::{preflight, publish};
    steps.add(preflight::crates_manifests::PreflightCratesManifests { settings: settings.clone() });
    steps.add(preflight::crates_registry::PreflightCratesRegistry { settings: settings.clone() });
    steps.add(publish::crates::PublishCrates { settings });
}

/// `preflight:identity`, first of every run: the tag, the commit, the versions in the tree.
fn identity_check(config: &Config, overrides: &Overrides, mode: Mode) -> PreflightIdentity {
    PreflightIdentity {
        settings: IdentitySettings::new(config, overrides.version.is_some(), overrides.allow_dirty),
        mode,
    }
}

/// The build steps of a run in config order (`command` builds and `cargo` builds), the
/// archive and SBOM steps of the archived ones, and their preflight checks.
struct RustBuilds {
    /// The `command` builds, for the build tools check.
    command_builds: Vec<(String, String, Utf8PathBuf)>,
    checks: Vec<Box<dyn crate::step::Step>>,
    builds: Vec<Box<dyn crate::step::Step>>,
    packages: Vec<Box<dyn crate::step::Step>>,
}

impl RustBuilds {
    fn new(config: &Config, pairs: &[(usize, Option<String>)]) -> Self {
        use crate::steps::build::cargo::BuildCargo;
        use crate::steps::package::{archive::PackageArchive, sbom::PackageSbom};
        use crate::steps::preflight::{archives::PreflightArchives, cargo::PreflightCargo};
        let mut planned =
            RustBuilds { command_builds: Vec::new(), checks: Vec::new(), builds: Vec::new(), packages: Vec::new() };
        for (i, target) in pairs {
            let b = &config.build[*i];
            let target = target.as_deref();
            match &b.cargo {
                Some(cargo) => planned.builds.push(Box::new(BuildCargo::new(config, b, cargo, target))),
                None => {
                    let step = BuildCommand::new(config, b, target);
                    planned.command_builds.push((b.name.clone(), b.program().to_owned(), step.dir.clone()));
                    planned.builds.push(Box::new(step));
                }
            }
            if b.archives() {
                planned.packages.push(Box::new(PackageArchive::new(config, b, target)));
            }
            if let (true, Some(cargo)) = (b.sboms(), &b.cargo) {
                planned.packages.push(Box::new(PackageSbom::new(config, b, cargo, target)));
            }
        }
        let mut targets_of: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, target) in pairs {
            match targets_of.iter_mut().find(|(j, _)| j == i) {
                Some((_, targets)) => targets.extend(target.clone()),
                None => targets_of.push((*i, target.iter().cloned().collect())),
            }
        }
        if let Some(check) = PreflightCargo::new(config, &targets_of) {
            planned.checks.push(Box::new(check));
        }
        let indexes: Vec<usize> = targets_of.iter().map(|(i, _)| *i).collect();
        if let Some(check) = PreflightArchives::new(config, &indexes) {
            planned.checks.push(Box::new(check));
        }
        planned
    }
}

/// This job's plan: the shared manifest at `path`, checked against the manifest this job
/// computes from its own checkout, or without a shared one, that computed manifest. A shared
/// manifest also gives the version when `overrides` does not.
pub fn job_plan(
    config: &Config,
    env: &Environment,
    overrides: &mut Overrides,
    path: Option<&Utf8Path>,
) -> Result<PlanManifest, crate::error::StepError> {
    let shared = path.map(PlanManifest::load).transpose()?;
    if let (Some(shared), None) = (&shared, &overrides.version) {
        let version = semver::Version::parse(&shared.version).map_err(|err| crate::matrix::MatrixError::Parse {
            path: path.expect("a shared plan has a path").to_owned(),
            expected: crate::matrix::PLAN_KIND,
            message: format!("its version `{}` is not SemVer: {err}", shared.version),
        })?;
        overrides.version = Some(version);
    }
    let release = release(config, overrides)?;
    let current = PlanManifest::new(config, &release, env)?;
    match (shared, path) {
        (Some(shared), Some(path)) => {
            shared.agrees_with(&current, path)?;
            Ok(shared)
        }
        _ => Ok(current),
    }
}
