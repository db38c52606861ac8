//! Publishing crates: proven before the build, published per crate in dependency order,
//! converging on re-run (`docs/crates.md`; facts in `shared/protocols-crates.md`).
//!
//! - [`workspace`]: the packages `cargo metadata` lists, which are published, their order,
//!   and what the registry would refuse in their manifests;
//! - [`client`]: the registry protocol (index, publish, `/api/v1/me`, trusted publishing);
//! - here: the settings, the token (one precedence, reported by source), the rate-limit
//!   budget, what the registry's refusals mean for the user, and the cargo calls.
//!
//! The steps are in `steps/preflight/crates*.rs` and `steps/publish/crates.rs`.

pub(crate) mod client;
pub(crate) mod session;
pub(crate) mod trusted;
pub(crate) mod workspace;

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;
use serde_json::{Value, json};

use crate::config::{Config, CratesConfig, NetworkConfig};
use crate::env::Environment;
use crate::error::StepError;
use crate::io::Io;
use crate::secret::{Secret, Source};

pub(crate) use client::{Liveness, RegistryClient};
pub(crate) use workspace::{Metadata, Planned};

/// A trusted-publishing token lives 30 minutes (A9.4); one older than this is minted again
/// before the next upload.
pub(crate) const TP_REMINT_AFTER: Duration = Duration::from_secs(25 * 60);

/// What the crate steps need from the config.
#[derive(Clone, Debug)]
pub(crate) struct CratesSettings {
    pub config: CratesConfig,
    pub network: NetworkConfig,
    /// The config's directory.
    pub root: Utf8PathBuf,
}

impl CratesSettings {
    pub(crate) fn from_config(config: &Config) -> Option<Self> {
        Some(CratesSettings {
            config: config.crates.clone()?,
            network: config.network.clone(),
            root: config.root.clone(),
        })
    }

    pub(crate) fn manifest(&self) -> Utf8PathBuf {
        self.root.join(&self.config.manifest)
    }

    pub(crate) fn registry(&self) -> &str {
        self.config.registry_name()
    }

    pub(crate) fn to_crates_io(&self) -> bool {
        self.config.registry.is_none()
    }

    /// The environment cargo needs to know an alternative registry by name.
    pub(crate) fn cargo_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if let (Some(name), Some(index)) = (&self.config.registry, &self.config.index) {
            env.insert(format!("CARGO_REGISTRIES_{}_INDEX", name.to_uppercase().replace('-', "_")), index.clone());
        }
        env
    }

    /// `--registry NAME` for cargo, for an alternative registry.
    pub(crate) fn registry_args(&self) -> Vec<String> {
        match &self.config.registry {
            Some(name) => vec!["--registry".into(), name.clone()],
            None => Vec::new(),
        }
    }

    pub(crate) fn client(&self) -> RegistryClient {
        RegistryClient::new(self.config.index_url(), crate::net::NetworkPolicy::from(&self.network))
    }

    /// The client with its API base: `crates.api`, else the index's `config.json`; with the
    /// index config (for download URLs).
    pub(crate) async fn connect(
        &self,
        announce: client::Announce<'_>,
    ) -> Result<(RegistryClient, client::IndexConfig), StepError> {
        let client = self.client();
        let index = client.config(announce).await.map_err(|e| {
            StepError::new(format!("cannot read the index of {}: {e}", self.registry())).with_help(format!(
                "check `crates.index` ({}) and that the registry is reachable from here",
                self.config.index_url()
            ))
        })?;
        let api = match (&self.config.api, &index.api) {
            (Some(api), _) | (None, Some(api)) => api.clone(),
            (None, None) => {
                return Err(StepError::new(format!(
                    "the index {} names no `api` in its config.json, so crates cannot be published to it",
                    self.config.index_url()
                ))
                .with_help("set `crates.api` to the registry's API base"));
            }
        };
        Ok((client.with_api(&api), index))
    }

    /// Reads the workspace with `cargo metadata`.
    pub(crate) async fn metadata(&self, cx: &dyn Io) -> Result<Metadata, StepError> {
        let json = crate::shell::capture(cx, &self.metadata_argv(), &self.root, &self.cargo_env()).await?;
        Ok(workspace::parse_metadata(&json)?)
    }

    fn metadata_argv(&self) -> Vec<String> {
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--manifest-path", self.manifest().as_str()]
            .map(String::from)
            .to_vec()
    }

    /// The crates this release publishes, in order.
    pub(crate) async fn planned(&self, cx: &dyn Io) -> Result<(Metadata, Vec<Planned>), StepError> {
        let metadata = self.metadata(cx).await?;
        let planned = workspace::publish_order(&metadata, &self.config)?;
        Ok((metadata, planned))
    }
}

impl CratesSettings {
    /// `cargo package` of every planned crate in one call (so that each is packaged against
    /// its siblings' new versions), then each `.crate`'s bytes and SHA-256, in order.
    pub(crate) async fn package(
        &self,
        cx: &dyn Io,
        metadata: &Metadata,
        planned: &[Planned],
        verify: bool,
    ) -> Result<Vec<(Vec<u8>, String)>, StepError> {
        use sha2::{Digest, Sha256};
        let mut argv: Vec<String> = vec!["cargo".into(), "package".into()];
        if !verify {
            argv.push("--no-verify".into());
        }
        argv.extend(["--manifest-path".into(), self.manifest().to_string()]);
        argv.extend(self.registry_args());
        for krate in planned {
            argv.extend(["-p".into(), krate.name().to_owned()]);
        }
        crate::shell::run_streamed(cx, &argv, &self.root, &self.cargo_env()).await?;
        let mut packaged = Vec::new();
        for krate in planned {
            let path =
                metadata.target_directory.join("package").join(format!("{}-{}.crate", krate.name(), krate.version()));
            let bytes = std::fs::read(&path).map_err(|e| {
                StepError::new(format!("cannot read the packaged crate {path}: {e}"))
                    .with_help("`cargo package` should have written it; run it yourself to see why not")
            })?;
            let sha256 = hex::encode(Sha256::digest(&bytes));
            packaged.push((bytes, sha256));
        }
        Ok(packaged)
    }
}

/// The message and help of a version the index has with other bytes.
pub(crate) fn burned(krate: &Planned, registry: &str, theirs: &str, ours: &str, when: &str) -> StepError {
    StepError::new(format!(
        "{} {} is already on {registry} with other bytes (index cksum {theirs}, our .crate {ours}): that version is burned, it can never be published again; {when}",
        krate.name(),
        krate.version()
    ))
    .with_help(format!(
        "bump the version of {} (and of the crates that depend on it) and release again; a published version cannot be replaced, only yanked",
        krate.name()
    ))
}

/// The crates of a config in publish order, for `release plan`: `name version` each. Runs
/// `cargo metadata` (blocking); outside a run.
pub fn plan_lines(config: &Config, env: &crate::env::Environment) -> Option<Result<Vec<String>, String>> {
    let settings = CratesSettings::from_config(config)?;
    let result = crate::shell::capture_blocking(&settings.metadata_argv(), &settings.root, env, &settings.cargo_env())
        .map_err(|e| e.to_string())
        .and_then(|json| workspace::parse_metadata(&json).map_err(|e| e.to_string()))
        .and_then(|m| workspace::publish_order(&m, &settings.config).map_err(|e| e.to_string()))
        .map(|planned| planned.iter().map(|p| format!("{} {}", p.name(), p.version())).collect());
    Some(result)
}

/// The token the uploads use, by the one precedence: `crates.token-env` → the registry's
/// standard variable → trusted publishing in GitHub Actions.
#[derive(Clone, Debug)]
pub(crate) enum TokenChoice {
    Stored {
        token: Secret,
        source: Source,
    },
    /// Trusted publishing: the job's OIDC request URL and token.
    Trusted {
        request_url: String,
        request_token: Secret,
    },
}

impl TokenChoice {
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenChoice::Stored { source, .. } => format!("token from {source}"),
            TokenChoice::Trusted { .. } => "trusted publishing (GitHub Actions OIDC)".into(),
        }
    }

    pub(crate) fn is_trusted(&self) -> bool {
        matches!(self, TokenChoice::Trusted { .. })
    }
}

/// Resolves the token. Never shows a value.
pub(crate) fn resolve_token(config: &CratesConfig, env: &Environment) -> Result<TokenChoice, StepError> {
    let standard = config.standard_token_env();
    for name in config.token_env.iter().chain(std::iter::once(&standard)) {
        if let Some((token, source)) = env.secret(name) {
            return Ok(TokenChoice::Stored { token, source });
        }
    }
    if let (Some(url), Some((request_token, _))) =
        (env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.secret("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    {
        return Ok(TokenChoice::Trusted { request_url: url.to_owned(), request_token });
    }
    let tried = match &config.token_env {
        Some(name) => format!("{name} (`crates.token-env`) and {standard}"),
        None => standard.clone(),
    };
    let actions = if env.in_github_actions() {
        "this GitHub Actions job has no OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is unset: the job lacks `permissions: id-token: write`)"
    } else {
        "and this is not a GitHub Actions job, where trusted publishing would be used"
    };
    Err(StepError::new(format!(
        "no token to publish crates to {}: {tried} unset, {actions}",
        config.registry_name()
    ))
    .with_help(format!(
        "set {standard} to a token with the publish-update scope (and publish-new for new crates), or publish from GitHub Actions with trusted publishing: grant `id-token: write` to the job and set `crates.trusted-publishing = true`"
    )))
}

/// The rate-limit budget of a release (A5): the time the uploads must wait for the registry's
/// buckets, assuming they are full when the release starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub new_crates: u32,
    pub updates: u32,
    /// Wait for the new-crate bucket.
    pub new_wait: Duration,
    /// Wait for the update bucket.
    pub update_wait: Duration,
}

impl Budget {
    pub(crate) fn compute(new_crates: u32, updates: u32, limits: &crate::config::RateLimitConfig) -> Budget {
        let over = |n: u32, burst: u32, every: u64| Duration::from_secs(u64::from(n.saturating_sub(burst)) * every);
        Budget {
            new_crates,
            updates,
            new_wait: over(new_crates, limits.new_crates, limits.new_crates_every_secs),
            update_wait: over(updates, limits.updates, limits.updates_every_secs),
        }
    }

    /// Both buckets' waits, one after the other (the uploads are sequential).
    pub(crate) fn total(&self) -> Duration {
        self.new_wait + self.update_wait
    }
}

/// Minutes, rounded up, for messages.
pub(crate) fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

/// What to do about a refusal of the registry, by its own words (A2).
pub(crate) fn help_for(detail: &str, choice: &TokenChoice, registry: &str, krate: &str) -> String {
    let variable = match choice {
        TokenChoice::Stored { source, .. } => source.to_string(),
        TokenChoice::Trusted { .. } => "the trusted publishing config".into(),
    };
    if detail.contains("authentication failed") || detail.contains("does not match the format") {
        format!(
            "the token ({variable}) is unknown, revoked or expired: create a new API token in your {registry} account settings with the publish-update scope (and publish-new for new crates) and put it in {variable}"
        )
    } else if detail.contains("does not have the required permissions") {
        format!(
            "the token ({variable}) lacks the endpoint scope (publish-update for an existing crate, publish-new for a new one) or its crate scopes do not match `{krate}`: create a token whose scopes cover it"
        )
    } else if detail.contains("can only be published using Trusted Publishing") {
        format!(
            "`{krate}` is set to trusted publishing only: publish from GitHub Actions with `id-token: write` and no token variable set, or turn off \"require trusted publishing\" in the crate's settings"
        )
    } else if detail.contains("do not support creating new crates") {
        format!(
            "publish the first version of `{krate}` once with a token that has the publish-new scope (set the token variable for one run), then add its trusted publishing config"
        )
    } else if detail.contains("not valid for crate") {
        format!(
            "add a trusted publishing config for `{krate}` (this repository, workflow and environment) in the crate's settings on {registry}"
        )
    } else if detail.contains("don't seem to be an owner") {
        format!("ask an owner of `{krate}` to invite the token's user (`cargo owner --add`), and accept the invitation")
    } else if detail.contains("verified email") {
        format!("verify the e-mail address of the token's account on {registry}")
    } else if detail.contains("too many") {
        "wait until the time the registry names, or ask its team for a higher limit; `crates.max-publish-minutes` bounds how long a release waits".into()
    } else if detail.contains("Invalid authentication token") {
        "the trusted publishing token expired (30 minutes) or was revoked: run the release again".into()
    } else {
        format!(
            "the registry's words above say what to change; see docs/troubleshooting.md (crates) for {registry}'s refusals"
        )
    }
}

/// The JSON metadata of a publish request, from the package as cargo describes it. The
/// crate registry reads `name`, `vers`, `readme` and `readme_file`; other registries read the
/// rest (A1).
pub(crate) fn publish_metadata(package: &workspace::Package, registry_index: Option<&str>) -> Value {
    let readme = package.readme.as_ref().and_then(|path| {
        let path = if path.is_absolute() { path.clone() } else { package.dir().join(path) };
        std::fs::read_to_string(path).ok()
    });
    let deps: Vec<Value> = package
        .dependencies
        .iter()
        // Dev-dependencies without a version are left out of the published manifest.
        .filter(|d| d.is_build_time() || d.req.trim() != "*")
        .map(|d| {
            // A dependency of the registry published to has no `registry`; one of the crate
            // registry, published elsewhere, names its index.
            let registry = match (&d.registry, registry_index) {
                (Some(r), Some(ours)) if r == ours => None,
                (Some(r), _) => Some(r.clone()),
                (None, Some(_)) => Some("https://github.com/rust-lang/crates.io-index".to_owned()),
                (None, None) => None,
            };
            json!({
                "optional": d.optional, "default_features": d.uses_default_features, "name": d.name,
                "features": d.features, "version_req": d.req, "target": d.target,
                "kind": d.kind.clone().unwrap_or_else(|| "normal".into()), "registry": registry,
                "explicit_name_in_toml": d.rename,
            })
        })
        .collect();
    json!({
        "name": package.name, "vers": package.version.to_string(), "deps": deps, "features": package.features,
        "authors": package.authors, "description": package.description, "documentation": package.documentation,
        "homepage": package.homepage, "readme": readme, "readme_file": package.readme, "keywords": package.keywords,
        "categories": package.categories, "license": package.license, "license_file": package.license_file,
        "repository": package.repository, "badges": {}, "links": package.links, "rust_version": package.rust_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crates(text: &str) -> CratesConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn token_precedence_is_configured_standard_then_trusted_publishing() {
        let config = crates("token-env = \"MY_TOKEN\"");
        let env = Environment::empty()
            .with("MY_TOKEN", "cio-a")
            .with("CARGO_REGISTRY_TOKEN", "cio-b")
            .with("ACTIONS_ID_TOKEN_REQUEST_URL", "http://oidc")
            .with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "r");
        assert_eq!(resolve_token(&config, &env).unwrap().describe(), "token from environment variable MY_TOKEN");
        let env = env.with("MY_TOKEN", "");
        assert_eq!(
            resolve_token(&config, &env).unwrap().describe(),
            "token from environment variable CARGO_REGISTRY_TOKEN"
        );
        let env = env.with("CARGO_REGISTRY_TOKEN", "");
        assert!(resolve_token(&config, &env).unwrap().is_trusted());
        // An alternative registry never gets the crate registry's token.
        let alt = crates("registry = \"corp\"\nindex = \"sparse+https://corp/index/\"");
        let err = resolve_token(&alt, &Environment::empty().with("CARGO_REGISTRY_TOKEN", "cio-b")).unwrap_err();
        assert!(err.message().contains("CARGO_REGISTRIES_CORP_TOKEN unset"), "{}", err.message());
    }

    #[test]
    fn publish_metadata_names_registries_as_cargo_does() {
        let package: workspace::Package = serde_json::from_value(json!({
            "name": "b", "version": "1.0.0", "id": "b", "manifest_path": "/ws/b/Cargo.toml", "publish": null,
            "description": "d", "license": "MIT",
            "dependencies": [
                {"name": "a", "req": "^1.0.0", "kind": null, "path": "/ws/a", "registry": "sparse+https://corp/index/"},
                {"name": "serde", "req": "^1", "kind": null, "rename": "serde1"},
                {"name": "helper", "req": "*", "kind": "dev", "path": "/ws/helper"},
            ],
        }))
        .unwrap();
        let to_corp = publish_metadata(&package, Some("sparse+https://corp/index/"));
        let deps = to_corp["deps"].as_array().unwrap();
        assert_eq!(deps.len(), 2, "a dev-dependency without a version is left out");
        assert_eq!(deps[0]["registry"], Value::Null, "the registry published to is implied");
        assert_eq!(deps[1]["registry"], "https://github.com/rust-lang/crates.io-index");
        assert_eq!(deps[1]["explicit_name_in_toml"], "serde1");
        assert_eq!(deps[0]["kind"], "normal");
        let to_crates_io = publish_metadata(&package, None);
        assert_eq!(to_crates_io["deps"][1]["registry"], Value::Null);
        assert_eq!(to_crates_io["vers"], "1.0.0");
    }

    #[test]
    fn the_budget_counts_what_exceeds_each_burst() {
        let limits = crate::config::RateLimitConfig::default();
        let fits = Budget::compute(5, 30, &limits);
        assert_eq!(fits.total(), Duration::ZERO);
        let over = Budget::compute(7, 32, &limits);
        assert_eq!(over.new_wait, Duration::from_secs(20 * 60));
        assert_eq!(over.update_wait, Duration::from_secs(2 * 60));
        assert_eq!(minutes(over.total()), 22);
    }
}
