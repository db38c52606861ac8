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
    /// hands them to the final job. Nothing is signed, packaged or published.
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

    let builds = match &overrides.scope {
        Scope::Whole => build::BuildStep::all(config),
        Scope::Target { target, plan_id } => {
            // One runner's share: the target's builds and their manifest, nothing else.
            let steps: Vec<_> = config
                .build
                .iter()
                .filter(|b| b.targets.contains(target))
                .map(|b| build::BuildStep::new(config, b, Some(target)))
                .collect();
            add(Box::new(build::BuildToolsCheck::for_steps(&steps)));
            add(Box::new(build::PrepareDist));
            for step in steps {
                add(Box::new(step));
            }
            add(Box::new(matrix::WriteBuildManifest { target: target.clone(), plan_id: plan_id.clone() }));
            return Ok(pipeline);
        }
        Scope::Gather { plan, dir } => {
            add(Box::new(matrix::GatheredCheck { plan: plan.clone(), dir: dir.clone() }));
            config
                .build
                .iter()
                .filter(|b| b.targets.is_empty())
                .map(|b| build::BuildStep::new(config, b, None))
                .collect()
        }
    };
    if !builds.is_empty() {
        add(Box::new(build::BuildToolsCheck::for_steps(&builds)));
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
        add(Box::new(step));
    }
    // Charts are packaged before SHA256SUMS is written, so that it lists them.
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
            // Keyless runs sign the chart package (its bundle); the registry signature in
            // cosign's legacy layout needs a key of its own.
            let signed = config.signing.as_ref().is_some_and(|s| s.mode == crate::config::SigningMode::Key);
            add(Box::new(oci::steps::ChartPushStep { push: push.clone(), settings: settings.clone(), signed }));
            if signed {
                add(Box::new(oci::signature::ChartSignatureStep { push: push.clone(), settings: settings.clone() }));
                add(Box::new(oci::steps::ChartTagStep { push, settings: settings.clone() }));
            }
        }
    }
    if let Some(signing) = &config.signing
        && signing.mode == crate::config::SigningMode::Keyless
    {
        use crate::steps::{preflight::id_token, sign::keyless, verify::bundles};
        let settings = id_token::KeylessSettings::new(config, signing);
        add(Box::new(id_token::IdTokenCheck { settings: settings.clone() }));
        add(Box::new(keyless::SignKeyless { settings }));
        add(Box::new(bundles::VerifyBundles));
        if signing.provenance {
            add(Box::new(crate::steps::sign::provenance::SignProvenance));
            add(Box::new(crate::steps::verify::provenance::VerifyProvenance));
            if let Some(github) = &config.github {
                use crate::steps::{preflight::attestations, publish::attestation};
                let (github, network) = (github.clone(), config.network.clone());
                add(Box::new(attestations::AttestationsCheck { github: github.clone(), network: network.clone() }));
                add(Box::new(attestation::PublishAttestation { github, network }));
            }
        }
    } else if let Some(signing) = &config.signing {
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
