//! `release.toml`: the configuration file, its schema and its defaults.
//!
//! Loading reads the file (and the `Cargo.toml` a version is taken from) and validates
//! everything that can be checked without the network. Every field is documented in
//! `docs/config.md`; defaults are stated here, once. Unknown fields are errors that name the
//! file, line and field.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::error::Diagnose;

/// The default tag template.
pub const DEFAULT_TAG: &str = "v{version}";
/// The default dist directory, relative to the config's directory.
pub const DEFAULT_DIST: &str = "dist";
/// The default variable holding the signing key's password.
pub const DEFAULT_PASSWORD_ENV: &str = "COSIGN_PASSWORD";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub project: Project,
    #[serde(default)]
    pub build: Vec<BuildCommand>,
    #[serde(default)]
    pub github: Option<GithubConfig>,
    #[serde(default)]
    pub signing: Option<SigningConfig>,
    #[serde(default, rename = "chart")]
    pub charts: Vec<ChartConfig>,
    /// Per-registry settings, keyed by host (`ghcr.io`, `127.0.0.1:5000`).
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryConfig>,
    #[serde(default)]
    pub network: NetworkConfig,
    /// The GitHub Actions runner label per build target, for `release plan --matrix`; a
    /// target not listed gets [`default_runner`].
    #[serde(default)]
    pub runners: BTreeMap<String, String>,
    /// Crates to publish to a crate registry (see `docs/crates.md`).
    #[serde(default)]
    pub crates: Option<CratesConfig>,

    /// The file this was read from.
    #[serde(skip)]
    pub file: Utf8PathBuf,
    /// The directory relative paths start from: the config file's directory.
    #[serde(skip)]
    pub root: Utf8PathBuf,
    /// The version, resolved from `project.version` or `project.version-from`.
    #[serde(skip)]
    pub version: Option<semver::Version>,
    /// Hex sha256 of the config file's text: part of the run journal's fingerprint, so that
    /// any edit to the config starts the next run afresh.
    #[serde(skip)]
    pub text_sha256: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Project {
    /// Used in release titles; defaults to the crate's name when `version-from` is given.
    pub name: Option<String>,
    /// The version, SemVer 2.
    pub version: Option<String>,
    /// A `Cargo.toml` to read the version from (`package.version`, or
    /// `workspace.package.version`).
    pub version_from: Option<Utf8PathBuf>,
    /// Tag template; must contain `{version}`.
    #[serde(default = "default_tag")]
    pub tag: String,
    #[serde(default = "default_dist")]
    pub dist: Utf8PathBuf,
}

fn default_tag() -> String {
    DEFAULT_TAG.to_owned()
}

fn default_dist() -> Utf8PathBuf {
    DEFAULT_DIST.into()
}

/// One build command and the artifacts it produces.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildCommand {
    pub name: String,
    /// Program and arguments; run without a shell. `{version}`, `{tag}`, `{dist}`, `{os}`,
    /// `{arch}`, `{exe}` and `{target}` are replaced in each argument. Either this or
    /// `cargo`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Working directory, relative to the config's directory.
    pub dir: Option<Utf8PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub artifacts: Vec<ArtifactSpec>,
    /// Targets this command builds for (`x86_64-unknown-linux-gnu`): one build per target,
    /// each on its own runner with `release plan --matrix`. With targets, `{os}` and `{arch}`
    /// come from the target, not from the machine running the build.
    #[serde(default)]
    pub targets: Vec<String>,

    // Rust binaries as users download them (see `crate::cargo`, `crate::archive`, `crate::sbom`).
    /// Build with cargo instead of `command`: the binaries' paths come from cargo itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cargo: Option<CargoBuild>,
    /// Publish one archive per target (`.tar.gz`, `.zip` for Windows targets) holding the
    /// binaries and `include`d files, instead of the raw files. Default: true for `cargo`
    /// builds, false for `command` builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<bool>,
    /// Files packed beside the binaries in each archive: patterns relative to the build's
    /// `dir`, `*` and `?` in the file name. Default [`DEFAULT_INCLUDE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// A CycloneDX 1.6 SBOM beside each archive (`cargo` builds only). Default: true when the
    /// build is archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<bool>,
}

/// The files an archive includes when `include` is not given.
pub const DEFAULT_INCLUDE: [&str; 3] = ["README*", "LICENSE*", "CHANGELOG*"];

/// `cargo = { package = "hello", bins = ["hello"] }`: what `cargo build` builds.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CargoBuild {
    /// The workspace package (`-p`).
    pub package: String,
    /// Its binaries to build and publish (`--bin`), at least one.
    pub bins: Vec<String>,
    /// Features to enable (`--features`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_default_features: bool,
    /// A cargo profile instead of `release` (`--profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl BuildCommand {
    /// Whether this build publishes archives rather than raw files.
    pub fn archives(&self) -> bool {
        self.archive.unwrap_or(self.cargo.is_some())
    }

    /// Whether this build publishes an SBOM beside each archive.
    pub fn sboms(&self) -> bool {
        self.cargo.is_some() && self.archives() && self.sbom.unwrap_or(true)
    }

    /// The `include` patterns in effect.
    pub fn include_patterns(&self) -> Vec<String> {
        match &self.include {
            Some(list) => list.clone(),
            None => DEFAULT_INCLUDE.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The program the build runs: `cargo` or the command's first word.
    pub fn program(&self) -> &str {
        if self.cargo.is_some() { "cargo" } else { self.command.first().map_or("", String::as_str) }
    }

    /// The names this build publishes for `target` (`None`: this machine, whose triple is
    /// `host`): its archive and SBOM, or its raw files.
    pub fn published_names(&self, version: Option<&semver::Version>, target: Option<&str>, host: &str) -> Vec<String> {
        let version = version.map(|v| v.to_string()).unwrap_or_else(|| "0.0.0".into());
        let triple = target.unwrap_or(host);
        if self.archives() {
            let archive = crate::archive::archive_name(self.archive_base(), triple, &version);
            let mut names = vec![archive.file_name()];
            if self.sboms() {
                names.push(crate::sbom::sbom_name(&archive.file_name()));
            }
            return names;
        }
        match &self.cargo {
            Some(cargo) => {
                cargo.bins.iter().map(|bin| crate::archive::raw_binary_name(bin, triple, &version)).collect()
            }
            None => {
                let version = semver::Version::parse(&version).ok();
                self.artifacts.iter().map(|spec| artifact_name(spec, version.as_ref(), target)).collect()
            }
        }
    }

    /// The `{ name }` of the archive: the cargo package, or the build's name.
    pub fn archive_base(&self) -> &str {
        self.cargo.as_ref().map_or(self.name.as_str(), |c| c.package.as_str())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ArtifactSpec {
    Path(Utf8PathBuf),
    Detailed {
        path: Utf8PathBuf,
        /// The published file name; `{version}`, `{os}`, `{arch}`, `{exe}`, `{target}` are replaced.
        name: Option<String>,
    },
}

impl ArtifactSpec {
    pub fn path(&self) -> &Utf8Path {
        match self {
            ArtifactSpec::Path(p) | ArtifactSpec::Detailed { path: p, .. } => p,
        }
    }

    pub fn name_template(&self) -> Option<&str> {
        match self {
            ArtifactSpec::Path(_) => None,
            ArtifactSpec::Detailed { name, .. } => name.as_deref(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GithubConfig {
    /// `owner/repo`; default `GITHUB_REPOSITORY`.
    pub repository: Option<String>,
    /// API base; default `GITHUB_API_URL`, then `https://api.github.com`.
    pub api_url: Option<String>,
    /// A variable to take the token from before `GH_TOKEN` and `GITHUB_TOKEN`.
    pub token_env: Option<String>,
    /// Release title template; default `{name} {version}` or the tag.
    pub title: Option<String>,
    /// Release notes from this file (relative to the config's directory).
    pub notes_file: Option<Utf8PathBuf>,
    /// Ask GitHub to generate the release notes.
    #[serde(default)]
    pub generate_notes: bool,
    #[serde(default)]
    pub prerelease: bool,
    /// Replace the assets of an already published release whose assets differ.
    #[serde(default)]
    pub replace: bool,
    /// Run the release-write probe in preflight (default true).
    #[serde(default = "yes")]
    pub probe: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningMode {
    /// A cosign-compatible key pair.
    #[default]
    Key,
    /// GitHub Actions OIDC token → Fulcio certificate → Rekor v1; Sigstore bundles.
    Keyless,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SigningConfig {
    #[serde(default)]
    pub mode: SigningMode,
    /// The encrypted private key (`cosign.key`), relative to the config's directory.
    pub key: Option<Utf8PathBuf>,
    /// The public key; when given, preflight checks that the private key matches it.
    pub public_key: Option<Utf8PathBuf>,
    /// The variable holding the key's password.
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// In snapshot mode, sign with a key pair generated for this run when `key` does not
    /// exist (the output is labelled as such).
    #[serde(default)]
    pub ephemeral_in_snapshot: bool,
    /// Keyless: the Sigstore instance's `signing_config.json` (Fulcio and Rekor URLs);
    /// public-good Sigstore when unset. Given together with `trusted-root`.
    pub signing_config: Option<Utf8PathBuf>,
    /// Keyless: the instance's `trusted_root.json` (what its bundles verify against).
    pub trusted_root: Option<Utf8PathBuf>,
    /// Keyless: sign SLSA build provenance for every published file (an in-toto statement,
    /// published as the release asset `provenance.intoto.jsonl`).
    #[serde(default)]
    pub provenance: bool,
}

impl SigningConfig {
    /// The checks that need no file system: settings of the other mode, half a pair of
    /// trust files.
    fn validate(&self, file: &Utf8Path) -> Result<(), ConfigError> {
        match self.mode {
            SigningMode::Keyless => {
                for (field, set) in [
                    ("key", self.key.is_some()),
                    ("public-key", self.public_key.is_some()),
                    ("ephemeral-in-snapshot", self.ephemeral_in_snapshot),
                ] {
                    if set {
                        return Err(ConfigError::invalid(
                            file,
                            &format!("signing.{field}"),
                            "is a setting of `mode = \"key\"`; keyless signing uses no key of its own",
                            Some("remove it, or set `mode = \"key\"`"),
                        ));
                    }
                }
                if self.signing_config.is_some() != self.trusted_root.is_some() {
                    let (given, missing) = if self.signing_config.is_some() {
                        ("signing-config", "trusted-root")
                    } else {
                        ("trusted-root", "signing-config")
                    };
                    return Err(ConfigError::invalid(
                        file,
                        &format!("signing.{missing}"),
                        format!(
                            "is missing: `signing.{given}` names another Sigstore instance, which needs both files"
                        ),
                        Some(
                            "give both `signing-config` and `trusted-root` (the instance's signing_config.json and trusted_root.json), or neither for public-good Sigstore",
                        ),
                    ));
                }
            }
            SigningMode::Key => {
                for (field, set) in [
                    ("signing-config", self.signing_config.is_some()),
                    ("trusted-root", self.trusted_root.is_some()),
                    ("provenance", self.provenance),
                ] {
                    if set {
                        return Err(ConfigError::invalid(
                            file,
                            &format!("signing.{field}"),
                            "is a setting of `mode = \"keyless\"`",
                            Some("remove it, or set `mode = \"keyless\"`"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn default_password_env() -> String {
    DEFAULT_PASSWORD_ENV.to_owned()
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChartConfig {
    /// The chart directory, relative to the config's directory.
    pub path: Utf8PathBuf,
    /// Set the chart's `version` to the release version.
    #[serde(default)]
    pub stamp_version: bool,
    /// Set the chart's `appVersion` to the release version.
    #[serde(default)]
    pub stamp_app_version: bool,
    /// Where to push: `oci://REGISTRY/PATH`.
    pub push: Option<String>,
    /// Allow replacing different content under an existing version tag.
    #[serde(default)]
    pub allow_overwrite: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryConfig {
    /// Talk plain HTTP to this registry (loopback test registries only).
    #[serde(default)]
    pub plain_http: bool,
    /// Variables holding the username and password, tried before the standard chain.
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

/// Retries, timeouts and concurrency for every remote call.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkConfig {
    /// Attempts per request, the first included.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Abort a transfer when no byte moved for this many seconds.
    #[serde(default = "default_stall_seconds")]
    pub stall_timeout_secs: u64,
    /// Uploads in flight at once.
    #[serde(default = "default_upload_concurrency")]
    pub upload_concurrency: usize,
    /// The first backoff before a retry, in milliseconds; it doubles per attempt (capped at
    /// 30 s) and is jittered. A server's `Retry-After` or rate-limit reset wins when longer.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// The least time between the starts of two mutating GitHub requests (POST, PATCH, PUT,
    /// DELETE, uploads included) with the same token, in milliseconds: GitHub asks for about
    /// a second, against its secondary rate limits. `0` turns pacing off.
    #[serde(default = "default_github_mutation_interval_ms")]
    pub github_mutation_interval_ms: u64,
}

fn default_attempts() -> u32 {
    4
}
fn default_stall_seconds() -> u64 {
    60
}
fn default_upload_concurrency() -> usize {
    4
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_github_mutation_interval_ms() -> u64 {
    1000
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            attempts: default_attempts(),
            stall_timeout_secs: default_stall_seconds(),
            upload_concurrency: default_upload_concurrency(),
            backoff_ms: default_backoff_ms(),
            github_mutation_interval_ms: default_github_mutation_interval_ms(),
        }
    }
}

// ---- [crates] (issue 16) -------------------------------------------------------------------

/// The crate registry's sparse index, the default of `crates.index`.
pub const CRATES_IO_INDEX: &str = "sparse+https://index.crates.io/";
/// The variable cargo reads the crate registry's token from.
pub const CARGO_REGISTRY_TOKEN: &str = "CARGO_REGISTRY_TOKEN";

/// `[crates]`: which workspace packages go to which crate registry, with which token.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CratesConfig {
    /// The workspace's root manifest, relative to the config's directory.
    #[serde(default = "default_crates_manifest")]
    pub manifest: Utf8PathBuf,
    /// The packages to publish; default every workspace package whose `publish` allows the
    /// registry.
    pub packages: Option<Vec<String>>,
    /// An alternative registry, by its cargo name (`[registries.NAME]`); default the crate
    /// registry.
    pub registry: Option<String>,
    /// The alternative registry's index, `sparse+https://…/`; required with `registry`.
    pub index: Option<String>,
    /// The API base; default the `api` of the index's `config.json`.
    pub api: Option<String>,
    /// A variable to take the token from before `CARGO_REGISTRY_TOKEN`
    /// (`CARGO_REGISTRIES_<NAME>_TOKEN` for an alternative registry).
    pub token_env: Option<String>,
    /// This release publishes with trusted publishing in GitHub Actions when no token
    /// variable is set: the workflow must grant `id-token: write`.
    #[serde(default)]
    pub trusted_publishing: bool,
    /// Prove the publish right in preflight by re-sending a version the index already has
    /// (the registry refuses it after every permission check). With a stored token each probe
    /// spends one token of the registry's update rate limit.
    #[serde(default = "yes")]
    pub probe: bool,
    /// Build each packaged crate before uploading it (`cargo package` without `--no-verify`).
    #[serde(default = "yes")]
    pub verify: bool,
    /// The longest the uploads may take, rate-limit waits included; a release that needs
    /// longer is refused in preflight.
    #[serde(default = "default_max_publish_minutes")]
    pub max_publish_minutes: u64,
    /// How long to wait for an uploaded version to show in the index.
    #[serde(default = "default_index_timeout_secs")]
    pub index_timeout_secs: u64,
    /// The registry's largest `.crate`, in bytes.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// The registry's per-user publish rate limits.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
}

/// The registry's token buckets: a burst, then one more every so many seconds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RateLimitConfig {
    #[serde(default = "default_new_crates_burst")]
    pub new_crates: u32,
    #[serde(default = "default_new_crates_every")]
    pub new_crates_every_secs: u64,
    #[serde(default = "default_updates_burst")]
    pub updates: u32,
    #[serde(default = "default_updates_every")]
    pub updates_every_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            new_crates: default_new_crates_burst(),
            new_crates_every_secs: default_new_crates_every(),
            updates: default_updates_burst(),
            updates_every_secs: default_updates_every(),
        }
    }
}

fn default_crates_manifest() -> Utf8PathBuf {
    "Cargo.toml".into()
}
fn default_max_publish_minutes() -> u64 {
    30
}
fn default_index_timeout_secs() -> u64 {
    300
}
fn default_max_upload_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_new_crates_burst() -> u32 {
    5
}
fn default_new_crates_every() -> u64 {
    600
}
fn default_updates_burst() -> u32 {
    30
}
fn default_updates_every() -> u64 {
    60
}

impl CratesConfig {
    /// The index URL: `index`, or the crate registry's.
    pub fn index_url(&self) -> &str {
        self.index.as_deref().unwrap_or(CRATES_IO_INDEX)
    }

    /// The registry's name in messages: its cargo name, or `crates.io`.
    pub fn registry_name(&self) -> &str {
        self.registry.as_deref().unwrap_or("crates.io")
    }

    /// The standard token variable: `CARGO_REGISTRY_TOKEN`, or cargo's
    /// `CARGO_REGISTRIES_<NAME>_TOKEN` for an alternative registry (the crate registry's token
    /// is never sent elsewhere).
    pub fn standard_token_env(&self) -> String {
        match &self.registry {
            Some(name) => format!("CARGO_REGISTRIES_{}_TOKEN", name.to_uppercase().replace('-', "_")),
            None => CARGO_REGISTRY_TOKEN.to_owned(),
        }
    }

    fn validate(&self, file: &Utf8Path) -> Result<(), ConfigError> {
        match (&self.registry, &self.index) {
            (Some(name), _)
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                return Err(ConfigError::invalid(
                    file,
                    "crates.registry",
                    format!("`{name}` is not a cargo registry name"),
                    Some("use the name of a `[registries.NAME]` entry: letters, digits, `-` and `_`"),
                ));
            }
            (Some(name), None) => {
                return Err(ConfigError::invalid(
                    file,
                    "crates.index",
                    format!("the registry `{name}` has no index"),
                    Some("set `crates.index` to its sparse index, e.g. \"sparse+https://registry.example.com/index/\""),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    file,
                    "crates.registry",
                    "`index` is set without `registry`",
                    Some(
                        "name the alternative registry (`crates.registry`) as cargo knows it, or remove `index` to publish to crates.io",
                    ),
                ));
            }
            _ => {}
        }
        let index = self.index_url();
        if !(index.starts_with("sparse+https://") || index.starts_with("sparse+http://")) {
            return Err(ConfigError::invalid(
                file,
                "crates.index",
                format!("`{index}` is not a sparse index URL"),
                Some("write it as cargo does: sparse+https://HOST/PATH/ (git indexes are not supported)"),
            ));
        }
        if let Some(packages) = &self.packages
            && packages.is_empty()
        {
            return Err(ConfigError::invalid(
                file,
                "crates.packages",
                "the list is empty",
                Some("name the packages to publish, or remove `packages` to publish every publishable one"),
            ));
        }
        if self.token_env.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::invalid(
                file,
                "crates.token-env",
                "the variable name is empty",
                Some("name a variable, e.g. CRATES_TOKEN"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: Utf8PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: `{field}`: {message}")]
    Invalid { path: Utf8PathBuf, field: String, message: String, help: Option<String> },
    /// Several problems of one file, each on its own line.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several { problems: Vec<ConfigError> },
    /// The config's absolute location is not UTF-8 (shown with escapes).
    #[error("the config file {path} is in a directory whose path is not valid UTF-8")]
    NotUtf8 { path: String },
}

impl Diagnose for ConfigError {
    fn help(&self) -> Option<String> {
        match self {
            ConfigError::Read { .. } => {
                Some("run from the repository root or pass --config PATH to the release.toml".into())
            }
            ConfigError::Parse { .. } => Some("every field is documented in docs/config.md".into()),
            ConfigError::Invalid { help, .. } => help.clone(),
            ConfigError::Several { problems } => {
                let mut helps: Vec<String> = Vec::new();
                for help in problems.iter().filter_map(Diagnose::help) {
                    if !helps.contains(&help) {
                        helps.push(help);
                    }
                }
                Some(helps.join("\n"))
            }
            ConfigError::NotUtf8 { .. } => Some(
                "move the project to a directory whose path is UTF-8: every path in reports, the journal and `--json` is UTF-8 text"
                    .into(),
            ),
        }
    }
}

impl ConfigError {
    /// No problem, one, or several as one error.
    fn all(mut problems: Vec<ConfigError>) -> Result<(), ConfigError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several { problems }),
        }
    }

    fn invalid(path: &Utf8Path, field: &str, message: impl Into<String>, help: Option<&str>) -> Self {
        ConfigError::Invalid {
            path: path.to_owned(),
            field: field.to_owned(),
            message: message.into(),
            help: help.map(str::to_owned),
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Utf8Path) -> Result<Config, ConfigError> {
        let read_err = |source| ConfigError::Read { path: path.to_owned(), source };
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        // Absolute, so that every path in reports and errors can be used from anywhere.
        let absolute = std::path::absolute(path).map_err(read_err)?;
        // Rather than fall back to relative paths, which would make reports and the journal
        // depend on the working directory, a non-UTF-8 location is an error that says so.
        let absolute =
            Utf8PathBuf::from_path_buf(absolute).map_err(|p| ConfigError::NotUtf8 { path: format!("{p:?}") })?;
        Self::parse(&text, &absolute)
    }

    /// Parses and validates config text as if read from `path`. Reads the `Cargo.toml` a
    /// version is taken from, if any.
    pub fn parse(text: &str, path: &Utf8Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|err| {
            let (line, column) = err.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
            ConfigError::Parse { path: path.to_owned(), line, column, message: err.message().trim_end().to_owned() }
        })?;
        config.file = path.to_owned();
        config.text_sha256 = crate::checksum::sha256_hex(text.as_bytes());
        config.root = match path.parent() {
            Some(parent) if !parent.as_str().is_empty() => parent.to_owned(),
            _ => Utf8PathBuf::from("."),
        };
        config.version = config.resolve_version()?;
        config.validate()?;
        Ok(config)
    }

    /// Every variable whose value is a secret for this config: the standard ones
    /// ([`crate::secret::STANDARD_SECRET_VARIABLES`]) and those the config names. See
    /// [`secret_variables_in`], the one list front ends mask.
    pub fn secret_variables(&self) -> Vec<String> {
        let table = toml::Table::try_from(self).unwrap_or_default();
        secret_variables_in(&table)
    }

    fn resolve_version(&self) -> Result<Option<semver::Version>, ConfigError> {
        let project = &self.project;
        let (text, field) = match (&project.version, &project.version_from) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    &self.file,
                    "project.version",
                    "`version` and `version-from` are both set",
                    Some("keep one of them"),
                ));
            }
            (Some(version), None) => (version.clone(), "project.version".to_owned()),
            (None, Some(manifest)) => {
                let manifest = self.root.join(manifest);
                if !manifest.is_file() {
                    return Err(ConfigError::invalid(
                        &self.file,
                        "project.version-from",
                        format!("{manifest} does not exist or is not a file"),
                        Some(
                            "point `version-from` at a Cargo.toml, relative to release.toml's directory, or set `project.version`",
                        ),
                    ));
                }
                (cargo_version(&manifest)?, format!("version in {manifest}"))
            }
            (None, None) => return Ok(None),
        };
        semver::Version::parse(text.trim_start_matches('v')).map(Some).map_err(|err| {
            ConfigError::invalid(
                &self.file,
                &field,
                format!("`{text}` is not a SemVer version: {err}"),
                Some("use MAJOR.MINOR.PATCH, e.g. 1.2.3 or 1.2.3-rc.1"),
            )
        })
    }

    /// Every problem of the file, not just the first: one run shows them all, as preflight does.
    fn validate(&self) -> Result<(), ConfigError> {
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
}

impl Config {
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

impl BuildCommand {
    /// The targets this build runs for: its `targets`, or once without a target.
    pub fn target_list(&self) -> Vec<Option<&str>> {
        if self.targets.is_empty() { vec![None] } else { self.targets.iter().map(|t| Some(t.as_str())).collect() }
    }
}

/// The runner a target builds on when `[runners]` does not say: GitHub's hosted runner for
/// its operating system and architecture.
pub fn default_runner(target: &str) -> &'static str {
    match (target_os(target), target_arch(target)) {
        ("macos" | "ios", "x86_64") => "macos-13",
        ("macos" | "ios", _) => "macos-latest",
        ("windows", "aarch64") => "windows-11-arm",
        ("windows", _) => "windows-latest",
        ("linux" | "android", "aarch64") => "ubuntu-24.04-arm",
        _ => "ubuntu-latest",
    }
}

/// A target's architecture, as `std::env::consts::ARCH` names it: its first component.
pub fn target_arch(target: &str) -> &str {
    target.split('-').next().unwrap_or(target)
}

/// A target's operating system, as `std::env::consts::OS` names it (`linux`, `macos`,
/// `windows`, ...).
pub fn target_os(target: &str) -> &str {
    let parts: Vec<&str> = target.split('-').collect();
    let known =
        ["android", "linux", "windows", "ios", "freebsd", "netbsd", "openbsd", "dragonfly", "illumos", "solaris"];
    if parts.contains(&"darwin") {
        return "macos";
    }
    for os in known {
        if parts.contains(&os) {
            return os;
        }
    }
    parts.get(2).copied().unwrap_or("unknown")
}

/// The secret variables of a config's TOML: the standard ones and those the config names in
/// `github.token-env`, `registries.*.password-env` and `signing.password-env`. It reads the
/// raw table, so that a config that fails validation still has its secrets masked in the
/// error output. Keep it complete when a new credential setting is added.
pub fn secret_variables_in(table: &toml::Table) -> Vec<String> {
    let mut names: Vec<String> = crate::secret::STANDARD_SECRET_VARIABLES.iter().map(|s| (*s).to_owned()).collect();
    let field = |section: Option<&toml::Value>, key: &str| {
        section.and_then(|s| s.get(key)).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let registries = table.get("registries").and_then(|r| r.as_table());
    let configured = field(table.get("github"), "token-env")
        .into_iter()
        .chain(registries.into_iter().flat_map(|r| r.values()).filter_map(|r| field(Some(r), "password-env")))
        .chain(field(table.get("signing"), "password-env"));
    // [crates]: its token variable, the registry's standard one, and the OIDC request token.
    let crates = table.get("crates");
    let crates_standard = crates.map(|c| match field(Some(c), "registry") {
        Some(name) => format!("CARGO_REGISTRIES_{}_TOKEN", name.to_uppercase().replace('-', "_")),
        None => CARGO_REGISTRY_TOKEN.to_owned(),
    });
    let oidc = crates.map(|_| "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned());
    let configured = configured.chain(field(crates, "token-env")).chain(crates_standard).chain(oidc);
    for name in configured {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// [`secret_variables_in`] of a config file's text; the standard variables when it is not
/// TOML at all.
pub fn secret_variables_of_text(text: &str) -> Vec<String> {
    secret_variables_in(&text.parse::<toml::Table>().unwrap_or_default())
}

/// The published name of an artifact built for `target` (or for this machine): its `name`
/// template, or its file name.
pub fn artifact_name(spec: &ArtifactSpec, version: Option<&semver::Version>, target: Option<&str>) -> String {
    let version = version.map(|v| v.to_string());
    let version = version.as_deref().unwrap_or("0.0.0");
    match spec.name_template() {
        Some(template) => expand_for(template, version, "", "", target),
        None => {
            let path = expand_for(spec.path().as_str(), version, "", "", target);
            Utf8Path::new(&path).file_name().unwrap_or(&path).to_owned()
        }
    }
}

/// Replaces the placeholders of a template: `{version}`, `{tag}`, `{dist}`, and `{os}`,
/// `{arch}`, `{exe}` of this machine.
pub fn expand(template: &str, version: &str, tag: &str, dist: &str) -> String {
    expand_for(template, version, tag, dist, None)
}

/// [`expand`] for a build target: `{target}` is the target, and `{os}`, `{arch}` and `{exe}`
/// (`.exe` for Windows, else empty) are the target's, not this machine's.
pub fn expand_for(template: &str, version: &str, tag: &str, dist: &str, target: Option<&str>) -> String {
    let (os, arch) = match target {
        Some(target) => (target_os(target), target_arch(target)),
        None => (std::env::consts::OS, std::env::consts::ARCH),
    };
    let exe = if os == "windows" { ".exe" } else { "" };
    template
        .replace("{version}", version)
        .replace("{tag}", tag)
        .replace("{dist}", dist)
        .replace("{target}", target.unwrap_or(""))
        .replace("{os}", os)
        .replace("{arch}", arch)
        .replace("{exe}", exe)
}

fn cargo_version(manifest: &Utf8Path) -> Result<String, ConfigError> {
    #[derive(Deserialize)]
    struct Manifest {
        package: Option<Package>,
        workspace: Option<Workspace>,
    }
    #[derive(Deserialize)]
    struct Package {
        version: Option<toml::Value>,
    }
    #[derive(Deserialize)]
    struct Workspace {
        package: Option<Package>,
    }
    let text =
        std::fs::read_to_string(manifest).map_err(|source| ConfigError::Read { path: manifest.to_owned(), source })?;
    let parsed: Manifest = toml::from_str(&text).map_err(|err| {
        let (line, column) = err.span().map(|span| line_column(&text, span.start)).unwrap_or((1, 1));
        ConfigError::Parse { path: manifest.to_owned(), line, column, message: err.message().to_owned() }
    })?;
    let as_string = |p: Option<Package>| p.and_then(|p| p.version).and_then(|v| v.as_str().map(str::to_owned));
    as_string(parsed.package).or_else(|| as_string(parsed.workspace.and_then(|w| w.package))).ok_or_else(|| {
        ConfigError::invalid(
            manifest,
            "package.version",
            "no version found (`version.workspace = true` is read from the workspace root's manifest)",
            Some("point `project.version-from` at the manifest that states the version, or set `project.version`"),
        )
    })
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Utf8Path::new("/repo/release.toml"))
    }

    /// One run shows every problem of the file, as preflight shows every failed probe.
    #[test]
    fn validation_reports_every_problem_at_once() {
        let text = "[project]\nversion = \"1.0.0\"\ntag = \"release\"\n\
                    [[build]]\nname = \"a\"\ncommand = []\n\
                    [[build]]\nname = \"a\"\ncommand = [\"make\"]\ntargets = [\"linux\"]\n\
                    [runners]\n\"aarch64-apple-darwin\" = \"macos-14\"\n";
        let err = parse(text).unwrap_err();
        let message = err.to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 5, "{message}");
        assert!(
            lines[0].ends_with("`project.tag`: the tag template `release` does not contain `{version}`"),
            "{message}"
        );
        assert!(lines[1].ends_with("`build[0].command`: the command is empty"), "{message}");
        assert!(lines[2].ends_with("`build[1].name`: two build commands are named `a`"), "{message}");
        assert!(lines[3].ends_with("`build[1].targets[0]`: `linux` is not a target triple"), "{message}");
        assert!(
            lines[4].ends_with("`runners.aarch64-apple-darwin`: no [[build]] lists the target `aarch64-apple-darwin`"),
            "{message}"
        );
        let help = err.help().unwrap();
        assert!(help.contains("v{version}") && help.contains("give each [[build]] a distinct name"), "{help}");
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let err = parse("[project]\nversion = \"1.0.0\"\ncolour = \"blue\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/repo/release.toml:3:1: unknown field `colour`"), "{text}");
    }

    #[test]
    fn tag_template_needs_version() {
        let err = parse("[project]\nversion = \"1.0.0\"\ntag = \"latest\"\n").unwrap_err();
        assert!(err.to_string().contains("`project.tag`"), "{err}");
    }

    #[test]
    fn version_must_be_semver() {
        let err = parse("[project]\nversion = \"1.0\"\n").unwrap_err();
        assert!(err.to_string().contains("not a SemVer version"), "{err}");
    }

    #[test]
    fn defaults() {
        let config = parse("[project]\nversion = \"1.2.3\"\n").unwrap();
        assert_eq!(config.project.tag, "v{version}");
        assert_eq!(config.project.dist, "dist");
        assert_eq!(config.root, "/repo");
        assert_eq!(config.version.unwrap().to_string(), "1.2.3");
    }

    #[test]
    fn duplicate_artifact_names_are_rejected() {
        let err = parse(
            "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"a\"\ncommand = [\"true\"]\nartifacts = [\"x/out\"]\n[[build]]\nname = \"b\"\ncommand = [\"true\"]\nartifacts = [\"y/out\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`out` is also produced by build[0].artifacts[0]"), "{err}");
    }

    const TWO_TARGETS: &str = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\", \"--target\", \"{target}\"]\ntargets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\n";

    #[test]
    fn targets_name_artifacts_by_their_own_os_and_arch() {
        let config = parse(&format!(
            "{TWO_TARGETS}artifacts = [{{ path = \"target/{{target}}/release/app\", name = \"app-{{version}}-{{arch}}-{{os}}\" }}]\n"
        ))
        .unwrap();
        let spec = &config.build[0].artifacts[0];
        let version = config.version.as_ref();
        assert_eq!(artifact_name(spec, version, Some("aarch64-apple-darwin")), "app-1.0.0-aarch64-macos");
        assert_eq!(artifact_name(spec, version, Some("x86_64-pc-windows-msvc")), "app-1.0.0-x86_64-windows");
        assert_eq!(
            expand_for("target/{target}/release/app", "1.0.0", "", "", Some("x86_64-unknown-linux-musl")),
            "target/x86_64-unknown-linux-musl/release/app"
        );
        assert_eq!(config.targets(), ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin"]);
    }

    #[test]
    fn artifact_names_must_differ_per_target() {
        let err = parse(&format!("{TWO_TARGETS}artifacts = [\"target/release/app\"]\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`build[0].artifacts[0]`: the artifact name `app` for aarch64-apple-darwin is also produced by build[0].artifacts[0] for x86_64-unknown-linux-gnu"),
            "{text}"
        );
        assert_eq!(err.help().as_deref(), Some("give each artifact a distinct `name`, e.g. with `{target}` in it"));
        // gnu and musl share os and arch: only `{target}` tells them apart.
        let both_linux = TWO_TARGETS.replace("aarch64-apple-darwin", "x86_64-unknown-linux-musl");
        assert!(
            parse(&format!("{both_linux}artifacts = [{{ path = \"a\", name = \"app-{{os}}-{{arch}}\" }}]\n")).is_err()
        );
        assert!(parse(&format!("{both_linux}artifacts = [{{ path = \"a\", name = \"app-{{target}}\" }}]\n")).is_ok());
    }

    #[test]
    fn bad_targets_and_runners_are_rejected_with_the_field() {
        let cases = [
            (
                TWO_TARGETS.replace("aarch64-apple-darwin", "linux"),
                "`build[0].targets[1]`: `linux` is not a target triple",
            ),
            (
                TWO_TARGETS.replace("aarch64-apple-darwin", "x86_64-unknown-linux-gnu"),
                "the target `x86_64-unknown-linux-gnu` is listed twice",
            ),
            (
                TWO_TARGETS.replace("targets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\n", ""),
                "build `app` uses `{target}` but lists no `targets`",
            ),
            (
                format!("{TWO_TARGETS}[runners]\n\"riscv64gc-unknown-linux-gnu\" = \"ubuntu-latest\"\n"),
                "`runners.riscv64gc-unknown-linux-gnu`: no [[build]] lists the target",
            ),
            (format!("{TWO_TARGETS}[runners]\n\"aarch64-apple-darwin\" = \" \"\n"), "the runner label is empty"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }

    #[test]
    fn runners_default_to_the_hosted_runner_of_the_targets_platform() {
        let config = parse(&format!("{TWO_TARGETS}[runners]\n\"aarch64-apple-darwin\" = \"macos-14\"\n")).unwrap();
        assert_eq!(config.runner_for("aarch64-apple-darwin"), "macos-14");
        assert_eq!(config.runner_for("x86_64-unknown-linux-gnu"), "ubuntu-latest");
        for (target, runner) in [
            ("aarch64-unknown-linux-gnu", "ubuntu-24.04-arm"),
            ("x86_64-apple-darwin", "macos-13"),
            ("aarch64-apple-darwin", "macos-latest"),
            ("x86_64-pc-windows-msvc", "windows-latest"),
            ("aarch64-pc-windows-msvc", "windows-11-arm"),
            ("x86_64-unknown-linux-musl", "ubuntu-latest"),
            ("wasm32-unknown-unknown", "ubuntu-latest"),
        ] {
            assert_eq!(default_runner(target), runner, "{target}");
        }
    }

    #[test]
    fn secret_variables_are_the_standard_ones_and_every_configured_one() {
        let config = parse(
            "[project]\nversion = \"1.0.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n[signing]\npassword-env = \"KEY_PW\"\n[registries.\"ghcr.io\"]\nusername-env = \"USER\"\npassword-env = \"GHCR_PW\"\n",
        )
        .unwrap();
        let names = config.secret_variables();
        for name in crate::secret::STANDARD_SECRET_VARIABLES.into_iter().chain(["RELEASE_TOKEN", "KEY_PW", "GHCR_PW"]) {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n == "USER"), "a username is not a secret");
        // A config that fails validation still names its secrets.
        let invalid = "[project]\nversion = \"1.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n";
        assert!(parse(invalid).is_err());
        assert!(secret_variables_of_text(invalid).contains(&"RELEASE_TOKEN".to_owned()));
        assert_eq!(secret_variables_of_text("not toml ["), crate::secret::STANDARD_SECRET_VARIABLES);
    }

    #[test]
    fn chart_paths_stay_inside_the_project() {
        let chart = |path: &str| format!("[project]\nversion = \"1.0.0\"\n[[chart]]\npath = \"{path}\"\n");
        assert!(parse(&chart("charts/hello")).is_ok());
        let err = parse(&chart("../charts/hello")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/repo/release.toml: `chart[0].path`: `../charts/hello` contains `..`: a chart must be inside the project"
        );
        let err = parse(&chart("/srv/charts/hello")).unwrap_err();
        assert!(err.to_string().contains("is absolute"), "{err}");
        let twice = format!("{}[[chart]]\npath = \"./charts/hello/\"\n", chart("charts/hello"));
        let err = parse(&twice).unwrap_err();
        assert!(err.to_string().contains("`chart[1].path`: chart[0] has the same directory"), "{err}");
    }

    #[test]
    fn cargo_builds_archive_by_default_and_bad_combinations_name_the_field() {
        let base = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\n";
        let config = parse(&format!("{base}cargo = {{ package = \"app\", bins = [\"app\"] }}\n")).unwrap();
        let build = &config.build[0];
        assert!(build.archives() && build.sboms());
        assert_eq!(build.include_patterns(), ["README*", "LICENSE*", "CHANGELOG*"]);
        assert_eq!(
            build.published_names(config.version.as_ref(), Some("aarch64-apple-darwin"), ""),
            ["app-aarch64-apple-darwin-v1.0.0.tar.gz", "app-aarch64-apple-darwin-v1.0.0.tar.gz.cdx.json"]
        );
        let raw =
            parse(&format!("{base}cargo = {{ package = \"app\", bins = [\"app\"] }}\narchive = false\n")).unwrap();
        assert_eq!(
            raw.build[0].published_names(raw.version.as_ref(), Some("x86_64-pc-windows-msvc"), ""),
            ["app-x86_64-pc-windows-msvc-v1.0.0.exe"]
        );
        let cases = [
            (
                format!("{base}command = [\"make\"]\ncargo = {{ package = \"app\", bins = [\"app\"] }}\n"),
                "`build[0].cargo`: both `command` and `cargo` are given",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [] }}\n"),
                "`build[0].cargo.bins`: no binary is named",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\nartifacts = [\"x\"]\n"),
                "`build[0].artifacts`: a cargo build takes its binaries from cargo's own messages",
            ),
            (
                format!("{base}command = [\"make\"]\nsbom = true\nartifacts = [\"x\"]\n"),
                "`build[0].sbom`: an SBOM is made from cargo's dependency graph",
            ),
            (
                format!("{base}command = [\"make\"]\ninclude = [\"LICENSE\"]\nartifacts = [\"x\"]\n"),
                "`build[0].include`: `include` lists files for the archive",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\ninclude = [\"../LICENSE\"]\n"),
                "`build[0].include[0]`: `../LICENSE` contains `..`",
            ),
            (
                format!(
                    "{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\n[[build]]\nname = \"b\"\ncargo = {{ package = \"app\", bins = [\"b\"] }}\n"
                ),
                "`build[1]`: the published name `app-<host>-v1.0.0.tar.gz` is also produced by build[0]",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }

    #[test]
    fn keyless_takes_both_trust_files_or_neither_and_no_key() {
        let base = "[project]\nversion = \"1.0.0\"\n[signing]\nmode = \"keyless\"\n";
        parse(base).unwrap();
        parse(&format!("{base}signing-config = \"s.json\"\ntrusted-root = \"t.json\"\n")).unwrap();
        let err = parse(&format!("{base}signing-config = \"s.json\"\n")).unwrap_err();
        assert!(err.to_string().contains("signing.trusted-root"), "{err}");
        let err = parse(&format!("{base}key = \"cosign.key\"\n")).unwrap_err();
        assert!(err.to_string().contains("signing.key"), "{err}");
        let err = parse("[project]\nversion = \"1.0.0\"\n[signing]\ntrusted-root = \"t.json\"\n").unwrap_err();
        assert!(err.to_string().contains("is a setting of `mode = \"keyless\"`"), "{err}");
    }
}

/// Property tests: parsing never panics, whatever the text, and every valid config the
/// generator makes survives a write and a re-read unchanged. `cargo fuzz` needs a nightly
/// toolchain; the raw-bytes property below is its stable stand-in, bounded so that it runs
/// with every `cargo test`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Utf8Path::new("/nonexistent/release.toml"))
    }

    /// A config known to be valid, to mutate.
    const SEED: &str = "[project]\nname = \"hello\"\nversion = \"1.2.3\"\ntag = \"v{version}\"\n\n[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\"]\nartifacts = [\"target/app\", { path = \"x/y\", name = \"y-{version}\" }]\n\n[github]\nrepository = \"acme/hello\"\n\n[[chart]]\npath = \"charts/hello\"\npush = \"oci://ghcr.io/acme/charts\"\n\n[network]\nattempts = 3\n";

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{0,8}"
    }

    fn version() -> impl Strategy<Value = String> {
        (0u64..100, 0u64..100, 0u64..100, prop::option::of("[a-z]{1,5}(\\.[1-9][0-9]?)?"))
            .prop_map(|(a, b, c, pre)| format!("{a}.{b}.{c}{}", pre.map(|p| format!("-{p}")).unwrap_or_default()))
    }

    /// A valid config's TOML: distinct build names, distinct artifact names, a tag with
    /// `{version}`.
    fn valid_config() -> impl Strategy<Value = String> {
        (
            version(),
            "[a-z-]{0,6}",
            prop::collection::btree_set(name(), 0..4),
            prop::option::of(("[a-z]{1,6}", "[a-z]{1,6}", any::<bool>(), any::<bool>())),
            (1u32..10, 1u64..600, 1usize..16, 0u64..5000),
        )
            .prop_map(|(version, tag_prefix, builds, github, (attempts, stall, uploads, interval))| {
                let mut text = format!("[project]\nversion = \"{version}\"\ntag = \"{tag_prefix}{{version}}\"\n");
                for build in &builds {
                    // Three artifact names that no other build can produce: build names are
                    // distinct and have no dots.
                    text.push_str(&format!(
                        "\n[[build]]\nname = \"{build}\"\ncommand = [\"make\", \"{build}\"]\nartifacts = [\"out/{build}.tar\", {{ path = \"out/{build}/bin\", name = \"{build}-bin\" }}, {{ path = \"out/{build}/lib\", name = \"{build}-lib-{{version}}\" }}]\n"
                    ));
                }
                if let Some((owner, repo, prerelease, probe)) = github {
                    text.push_str(&format!(
                        "\n[github]\nrepository = \"{owner}/{repo}\"\nprerelease = {prerelease}\nprobe = {probe}\n"
                    ));
                }
                text.push_str(&format!(
                    "\n[network]\nattempts = {attempts}\nstall-timeout-secs = {stall}\nupload-concurrency = {uploads}\n\
                     github-mutation-interval-ms = {interval}\n"
                ));
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,400}") {
            if let Err(err) = parse(&text) {
                // Every error names the file it is about.
                prop_assert!(err.to_string().contains("/nonexistent/"), "{}", err);
            }
        }

        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn a_mutated_valid_config_parses_or_fails_without_panicking(
            at in 0usize..SEED.len(), cut in 0usize..40, insert in "\\PC{0,12}",
        ) {
            let at = (0..=at).rev().find(|i| SEED.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + cut).min(SEED.len());
            let end = (end..=SEED.len()).find(|i| SEED.is_char_boundary(*i)).unwrap_or(SEED.len());
            let text = format!("{}{insert}{}", &SEED[..at], &SEED[end..]);
            let _ = parse(&text);
        }
    }

    proptest! {
        #[test]
        fn valid_configs_round_trip(text in valid_config()) {
            let config = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let written = toml::to_string(&config).unwrap();
            let again = parse(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
            prop_assert_eq!(toml::to_string(&again).unwrap(), written);
            prop_assert_eq!(again.version, config.version);
            prop_assert_eq!(again.build.len(), config.build.len());
        }
    }

    #[test]
    fn the_seed_is_valid() {
        parse(SEED).unwrap();
    }
}
