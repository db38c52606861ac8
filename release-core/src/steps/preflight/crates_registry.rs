//! `preflight:crates-registry`: everything about the registry that can be proven before the
//! build (`docs/crates.md`, facts in `shared/protocols-crates.md` A4, A5, A9):
//!
//! - per crate, from public data: is it on the index (a new crate cannot be published with a
//!   trusted-publishing token), is it `trustpub_only` (a stored token will be refused), which
//!   versions the index has; when it has the one being released, the workspace is packaged
//!   (without building) and its `cksum` compared with our `.crate`: ours is skipped at
//!   publish time, other bytes mean the version is burned and the release stops here;
//! - the stored token's liveness, by the body of `GET /api/v1/me`'s 403;
//! - with trusted publishing, the exchange (proving repository, owner, workflow and
//!   environment, or quoting the registry's mismatch) and the token revoked at once;
//! - the publish right itself (`crates.probe`): the newest indexed version's exact `.crate`
//!   re-sent, which the registry refuses with "already uploaded" only after every permission
//!   check passed. It costs one token of the update rate limit per crate with a stored token,
//!   none with trusted publishing;
//! - the rate-limit budget: new crates and new versions against the registry's limits; a
//!   release that needs longer than `crates.max-publish-minutes` is refused with the time.

use sha2::{Digest, Sha256};

use crate::crates::client::{self, IndexEntry, is_already_uploaded, publish_body};
use crate::crates::{Budget, CratesSettings, Liveness, RegistryClient, TokenChoice, help_for, minutes};
use crate::error::StepError;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage, StepId};
use crate::secret::Secret;
use crate::step::{Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PreflightCratesRegistry {
    pub settings: CratesSettings,
}

/// What the index says about one crate.
#[derive(Debug)]
struct CrateState {
    name: String,
    version: String,
    /// `None`: the crate is not on the index.
    entries: Option<Vec<IndexEntry>>,
    trustpub_only: bool,
}

impl CrateState {
    fn released(&self) -> Option<&IndexEntry> {
        self.entries.as_ref()?.iter().find(|e| e.is_version(&self.version))
    }

    /// The newest version on the index, yanked or not (a yanked one still refuses).
    fn newest(&self) -> Option<&IndexEntry> {
        self.entries
            .as_ref()?
            .iter()
            .filter_map(|e| semver::Version::parse(&e.vers).ok().map(|v| (v, e)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, e)| e)
    }
}

#[async_trait::async_trait]
impl Step for PreflightCratesRegistry {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let probe = if self.settings.config.probe {
                ", prove the publish right by re-sending a version the index has"
            } else {
                ""
            };
            format!(
                "check the crates on {} (new? trustpub_only? versions), the token (or the trusted publishing exchange){probe}, and the rate-limit budget",
                self.settings.registry()
            )
        };
        StepMeta::new(StepId::new(Stage::Preflight, "crates-registry"), Effect::Probe, description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let registry = self.settings.registry().to_owned();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let (metadata, planned) = self.settings.planned(cx).await?;
        let session = cx.crates(&self.settings).await?;
        let (choice, client, index) = (&session.choice, &session.client, &session.index);
        cx.progress(format!("publishing to {registry} with the {}", choice.describe()));

        let mut states = Vec::new();
        for krate in &planned {
            let entries = client.index_entries(krate.name(), &announce).await.map_err(|e| registry_error(&e))?;
            let trustpub_only = match &entries {
                Some(_) => client
                    .crate_record(krate.name(), &announce)
                    .await
                    .map_err(|e| registry_error(&e))?
                    .is_some_and(|r| r.trustpub_only),
                None => false,
            };
            let state = CrateState { name: krate.name().into(), version: krate.version(), entries, trustpub_only };
            cx.progress(match (&state.entries, state.released()) {
                (None, _) => format!("{} is not on {registry} yet: a new crate", state.name),
                (_, Some(line)) => {
                    format!("{} {} is already on the index (cksum {})", state.name, state.version, line.cksum)
                }
                (Some(entries), None) => {
                    format!("{} has {} version(s) on the index; {} is new", state.name, entries.len(), state.version)
                }
            });
            states.push(state);
        }

        // A version the index already has: ours (skipped at publish time), or burned. Only
        // then is the workspace packaged here (without building), to compare the bytes now
        // rather than after the build.
        if states.iter().any(|s| s.released().is_some()) {
            let packaged = self.settings.package(cx, &metadata, &planned, false).await?;
            for ((krate, state), (_, sha256)) in planned.iter().zip(&states).zip(&packaged) {
                match state.released() {
                    Some(line) if &line.cksum == sha256 => cx.progress(format!(
                        "{} {} is on {registry} with our bytes: the publish stage skips it",
                        state.name, state.version
                    )),
                    Some(line) => {
                        return Err(crate::crates::burned(
                            krate,
                            &registry,
                            &line.cksum,
                            sha256,
                            "nothing was built or uploaded",
                        ));
                    }
                    None => {}
                }
            }
        }

        // Refusals that public data predicts.
        let to_upload: Vec<&CrateState> = states.iter().filter(|s| s.released().is_none()).collect();
        let mut problems = predicted_refusals(choice, &registry, &to_upload);

        // The stored token's liveness: a read without side effects, so that a dead token is
        // reported together with everything else that is wrong.
        if let TokenChoice::Stored { token, source } = &choice {
            match client.me(token, &announce).await.map_err(|e| registry_error(&e))? {
                Liveness::Live => cx.progress(format!("the token from {source} is live")),
                Liveness::Dead { status, detail } => problems.push((
                    format!("{registry} refused the token from {source}: {status} \"{detail}\""),
                    help_for(&detail, choice, &registry, &to_upload_names(&to_upload)),
                )),
                Liveness::Unknown { status, .. } => cx.progress(format!(
                    "{registry} answers GET /api/v1/me with {status}, not the crate registry's 403: the token's liveness cannot be read there, the probe below is the proof"
                )),
            }
        }

        let summary = self.budget(choice, &registry, &to_upload, &mut problems);
        // Every problem found so far, at once; the steps with effects below run only when
        // there is none.
        fail_with(problems)?;

        // What has effects: the publish probes, or the trusted publishing exchange.
        match &choice {
            TokenChoice::Stored { token, .. } => {
                if self.settings.config.probe {
                    self.probe_all(cx, client, index, token, choice, &to_upload).await?;
                }
            }
            TokenChoice::Trusted { request_url, request_token } => {
                let token = crate::crates::trusted::exchange(cx, client, request_url, request_token, &registry).await?;
                let probed = if self.settings.config.probe {
                    self.probe_all(cx, client, index, &token, choice, &to_upload).await
                } else {
                    Ok(0)
                };
                // Revoked at once, whatever the probes said: the publish stage mints its own.
                if let Err(err) = client.revoke(&token, &announce).await {
                    cx.warn(format!(
                        "the preflight's trusted publishing token was not revoked ({err}); it expires within 30 minutes"
                    ));
                }
                probed?;
            }
        }
        cx.progress(summary.clone());
        Ok(Some(format!("{} crate(s) on {registry}, {}; {summary}", planned.len(), choice.describe())))
    }
}

impl PreflightCratesRegistry {
    /// The rate-limit budget of the uploads, with the probes this check will send (one per
    /// crate that has a version to re-send, stored token only: they spend from the update
    /// bucket); a budget over `crates.max-publish-minutes` is a problem. Returns the summary.
    fn budget(
        &self,
        choice: &TokenChoice,
        registry: &str,
        to_upload: &[&CrateState],
        problems: &mut Vec<(String, String)>,
    ) -> String {
        // The rate-limit budget, with the probes this check will send (one per crate that
        // has a version to re-send, stored token only: they spend from the update bucket).
        let new_crates = to_upload.iter().filter(|s| s.entries.is_none()).count() as u32;
        let updates = to_upload.len() as u32 - new_crates;
        let probes = match choice {
            TokenChoice::Stored { .. } if self.settings.config.probe => {
                to_upload.iter().filter(|s| s.newest().is_some()).count() as u32
            }
            _ => 0,
        };
        if choice.is_trusted() {
            format!(
                "{} upload(s) with trusted publishing: no per-user rate limit; the token is minted after packaging and again if the uploads outlast {} minutes",
                to_upload.len(),
                crate::crates::TP_REMINT_AFTER.as_secs() / 60
            )
        } else {
            let limits = &self.settings.config.rate_limit;
            let budget = Budget::compute(new_crates, updates + probes, limits);
            let allowed = std::time::Duration::from_secs(self.settings.config.max_publish_minutes * 60);
            if budget.total() > allowed {
                problems.push((
                    format!(
                        "publishing {new_crates} new crate(s) and {updates} new version(s) (plus {probes} probe(s)) to {registry} needs about {} minutes of rate-limit waits ({} new crates at once, then one every {} s; {} new versions, then one every {} s), more than `crates.max-publish-minutes` ({})",
                        minutes(budget.total()),
                        limits.new_crates,
                        limits.new_crates_every_secs,
                        limits.updates,
                        limits.updates_every_secs,
                        self.settings.config.max_publish_minutes
                    ),
                    format!(
                        "set `crates.max-publish-minutes` to at least {} to wait it out, publish fewer crates in this release, or ask the registry for a higher limit",
                        minutes(budget.total())
                    ),
                ));
            }
            format!(
                "{new_crates} new crate(s), {updates} new version(s): about {} minute(s) of rate-limit waits",
                minutes(budget.total())
            )
        }
    }
}

/// The refusals public data predicts for the crates to upload: a new crate with a trusted
/// publishing token, a `trustpub_only` crate with a stored token.
fn predicted_refusals(choice: &TokenChoice, registry: &str, to_upload: &[&CrateState]) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    for state in to_upload {
        if choice.is_trusted() && state.entries.is_none() {
            problems.push((
                format!(
                    "{} {} is a new crate, and {registry} refuses to create one with a trusted publishing token: \"Trusted Publishing tokens do not support creating new crates. Publish the crate manually, first\"",
                    state.name, state.version
                ),
                help_for("do not support creating new crates", choice, registry, &state.name),
            ));
        }
        if !choice.is_trusted() && state.trustpub_only {
            problems.push((
                format!(
                    "{} is set to trusted publishing only (`trustpub_only`), and this release would use a {}: {registry} will refuse it with \"New versions of this crate can only be published using Trusted Publishing\"",
                    state.name,
                    choice.describe()
                ),
                help_for("can only be published using Trusted Publishing", choice, registry, &state.name),
            ));
        }
    }
    problems
}

impl PreflightCratesRegistry {
    /// The replay probe of every existing crate that gets a new version; the number sent.
    async fn probe_all(
        &self,
        cx: &StepContext<'_>,
        client: &RegistryClient,
        index: &client::IndexConfig,
        token: &Secret,
        choice: &TokenChoice,
        to_upload: &[&CrateState],
    ) -> Result<u32, StepError> {
        let registry = self.settings.registry();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let mut sent = 0;
        for state in to_upload {
            if cx.is_cancelled() {
                return Err(StepError::new("interrupted before the publish probes"));
            }
            let Some(newest) = state.newest() else {
                cx.progress(format!(
                    "{} is new: the publish-new right cannot be proven without publishing (the token needs the publish-new scope)",
                    state.name
                ));
                continue;
            };
            let url = index.download_url(&newest.name, &newest.vers, &newest.cksum);
            let bytes = client.download(&url, &announce).await.map_err(|e| registry_error(&e))?;
            if hex::encode(Sha256::digest(&bytes)) != newest.cksum {
                cx.warn(format!(
                    "the .crate of {} {} downloaded from {url} does not match the index's cksum: not probing with it",
                    newest.name, newest.vers
                ));
                continue;
            }
            let metadata = serde_json::json!({"name": newest.name, "vers": newest.vers, "deps": [], "features": {},
                "authors": [], "description": null, "readme": null, "readme_file": null, "keywords": [], "categories": [],
                "license": null, "license_file": null, "repository": null, "badges": {}, "links": null});
            let what = format!("the publish probe of {} (re-sending {} {})", state.name, newest.name, newest.vers);
            sent += 1;
            match client.publish(token, publish_body(&metadata, &bytes), &what).await {
                Err(err) if is_already_uploaded(&err) => cx.progress(format!(
                    "{registry} may publish {}: re-sending {} answered \"{}\" after every permission check",
                    state.name,
                    newest.vers,
                    err.detail()
                )),
                Err(err @ client::RegistryError::Refused { status: 401 | 403 | 429, .. }) => {
                    let retry = match &err {
                        client::RegistryError::Refused { retry_at: Some(at), .. } => {
                            format!(" (the registry asks to wait until {})", httpdate::fmt_http_date(*at))
                        }
                        _ => String::new(),
                    };
                    return Err(StepError::new(format!(
                        "{registry} will refuse to publish {} with the {}: re-sending {} {} (already on the index) answered {} \"{}\"{retry}",
                        state.name,
                        choice.describe(),
                        newest.name,
                        newest.vers,
                        err.status().unwrap_or(0),
                        err.detail()
                    ))
                    .with_help(help_for(err.detail(), choice, registry, &state.name)));
                }
                Err(err) => cx.warn(format!(
                    "the publish probe of {} was inconclusive: {err} (an old version may fail today's checks); the upload will tell",
                    state.name
                )),
                Ok(()) => {
                    return Err(StepError::new(format!(
                        "{registry} accepted a re-upload of {} {}, a version its index already listed: this registry does not refuse duplicates",
                        newest.name, newest.vers
                    ))
                    .with_help("set `crates.probe = false` for this registry"));
                }
            }
        }
        Ok(sent)
    }
}

fn to_upload_names(states: &[&CrateState]) -> String {
    states.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn registry_error(err: &client::RegistryError) -> StepError {
    StepError::new(err.to_string())
        .with_help("check that the registry is reachable; the network settings are in [network]")
}

fn fail_with(problems: Vec<(String, String)>) -> Result<(), StepError> {
    if problems.is_empty() {
        return Ok(());
    }
    let message = problems.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join("\n");
    let help = problems.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join("\n");
    Err(StepError::new(message).with_help(help))
}
