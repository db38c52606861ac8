//! The file layer: `release.toml` exactly as written (serde, `deny_unknown_fields`), with its
//! defaults stated once. What is resolved from it (paths, the version, the text's digest) is
//! [`super::Config`]'s.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use super::{ConfigError, artifact_name};

/// The default tag template.
pub(crate) const DEFAULT_TAG: &str = "v{version}";
/// The default dist directory, relative to the config's directory.
pub(crate) const DEFAULT_DIST: &str = "dist";
/// The default variable holding the signing key's password.
pub const DEFAULT_PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// `release.toml` as written: the file layer. [`super::Config`] is this plus what was
/// resolved from it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
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
    /// target not listed gets [`default_runner`](super::triple::default_runner).
    #[serde(default)]
    pub runners: BTreeMap<String, String>,
    /// Crates to publish to a crate registry (see `docs/crates.md`).
    #[serde(default)]
    pub crates: Option<CratesConfig>,
    /// Installers shipped with every release (see `docs/installers.md`).
    #[serde(default)]
    pub installers: Option<InstallersConfig>,
}

/// `[installers]`: `NAME-installer.sh` and, with a Windows target, `NAME-installer.ps1`, each
/// holding the digests of the archives it may download.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InstallersConfig {
    /// Write `NAME-installer.sh` (Linux, macOS, Git Bash). Default true.
    #[serde(default = "yes")]
    pub shell: bool,
    /// Write `NAME-installer.ps1` when a build targets Windows. Default true.
    #[serde(default = "yes")]
    pub powershell: bool,
    /// Where the installers download the archives from, `{tag}` and `{version}` replaced.
    /// Default: the GitHub release's download URL,
    /// `https://github.com/OWNER/REPO/releases/download/{tag}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
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
pub(crate) const DEFAULT_INCLUDE: [&str; 3] = ["README*", "LICENSE*", "CHANGELOG*"];

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
    /// Without `notes-file` and `generate-notes`, the release notes are the version's section
    /// of `CHANGELOG.md` beside the config, when there is one (default true); a release
    /// whose changelog has no section for its version is refused in preflight.
    #[serde(default = "yes")]
    pub notes_from_changelog: bool,
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
    pub(crate) fn validate(&self, file: &Utf8Path) -> Result<(), ConfigError> {
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
pub(crate) const CRATES_IO_INDEX: &str = "sparse+https://index.crates.io/";
/// The variable cargo reads the crate registry's token from.
pub(crate) const CARGO_REGISTRY_TOKEN: &str = "CARGO_REGISTRY_TOKEN";

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
    /// The crates keep versions of their own (a workspace of libraries released apart): a
    /// crate whose version is not the release's is published at its own with a warning. By
    /// default such a crate is refused in preflight.
    #[serde(default)]
    pub own_versions: bool,
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

    pub(crate) fn validate(&self, file: &Utf8Path) -> Result<(), ConfigError> {
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

impl BuildCommand {
    /// The targets this build runs for: its `targets`, or once without a target.
    pub fn target_list(&self) -> Vec<Option<&str>> {
        if self.targets.is_empty() { vec![None] } else { self.targets.iter().map(|t| Some(t.as_str())).collect() }
    }
}
