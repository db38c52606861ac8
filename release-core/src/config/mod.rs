//! `release.toml`: the configuration file, its schema and its defaults.
//!
//! Loading reads the file (and the `Cargo.toml` a version is taken from) and validates
//! everything that can be checked without the network. Every field is documented in
//! `docs/config.md`; defaults are stated here, once. Unknown fields are errors that name the
//! file, line and field.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::error::Diagnose;

mod schema;
mod template;
#[cfg(test)]
mod tests;
mod triple;
mod validate;

pub use schema::*;
pub(crate) use template::*;
pub(crate) use triple::*;

/// The resolved configuration: the file layer ([`ConfigFile`], what `release.toml` says, with
/// its defaults) plus what was resolved from it when it was loaded: where it lives, the
/// directory paths start from, the version (from `project.version` or a `Cargo.toml`) and the
/// digest of its text. Command-line overrides are a third layer, applied when a pipeline is
/// assembled (`Overrides`); credentials are resolved from the environment by the steps that
/// use them, each by its one documented precedence. Reads of the file layer go through
/// `Deref` (`config.build`, `config.charts`).
#[derive(Clone, Debug)]
pub struct Config {
    /// What the file says.
    pub layer: ConfigFile,
    /// The file this was read from.
    pub file: Utf8PathBuf,
    /// The directory relative paths start from: the config file's directory.
    pub root: Utf8PathBuf,
    /// The version, resolved from `project.version` or `project.version-from`.
    pub version: Option<semver::Version>,
    /// Where [`Config::version`] was read, for reports: `project.version in release.toml`, or
    /// the `Cargo.toml` and its field.
    pub version_source: Option<String>,
    /// Hex sha256 of the config file's text: part of the run journal's fingerprint, so that
    /// any edit to the config starts the next run afresh.
    pub text_sha256: String,
}

impl std::ops::Deref for Config {
    type Target = ConfigFile;
    fn deref(&self) -> &ConfigFile {
        &self.layer
    }
}

impl std::ops::DerefMut for Config {
    fn deref_mut(&mut self) -> &mut ConfigFile {
        &mut self.layer
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
    /// A command-line value the run cannot use.
    #[error("{flag}: {message}")]
    Flag { flag: String, message: String, help: Option<String> },
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
            ConfigError::Invalid { help, .. } | ConfigError::Flag { help, .. } => help.clone(),
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
        let layer: ConfigFile = toml::from_str(text).map_err(|err| {
            let (line, column) = err.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
            ConfigError::Parse { path: path.to_owned(), line, column, message: err.message().trim_end().to_owned() }
        })?;
        let root = match path.parent() {
            Some(parent) if !parent.as_str().is_empty() => parent.to_owned(),
            _ => Utf8PathBuf::from("."),
        };
        let mut config = Config {
            layer,
            file: path.to_owned(),
            root,
            version: None,
            version_source: None,
            text_sha256: crate::checksum::sha256_hex(text.as_bytes()),
        };
        if let Some((version, source)) = config.resolve_version()? {
            config.version = Some(version);
            config.version_source = Some(source);
        }
        config.validate()?;
        Ok(config)
    }

    /// Every variable whose value is a secret for this config: the standard ones
    /// ([`crate::secret::STANDARD_SECRET_VARIABLES`]) and those the config names. See
    /// [`secret_variables_in`], the one list front ends mask.
    pub fn secret_variables(&self) -> Vec<String> {
        let table = toml::Table::try_from(&self.layer).unwrap_or_default();
        secret_variables_in(&table)
    }

    fn resolve_version(&self) -> Result<Option<(semver::Version, String)>, ConfigError> {
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
        let source = match &project.version_from {
            Some(_) => field.clone(),
            None => format!("project.version in {}", self.file),
        };
        semver::Version::parse(text.trim_start_matches('v')).map(|v| Some((v, source))).map_err(|err| {
            ConfigError::invalid(
                &self.file,
                &field,
                format!("`{text}` is not a SemVer version: {err}"),
                Some("use MAJOR.MINOR.PATCH, e.g. 1.2.3 or 1.2.3-rc.1"),
            )
        })
    }
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
pub(crate) fn secret_variables_of_text(text: &str) -> Vec<String> {
    secret_variables_in(&text.parse::<toml::Table>().unwrap_or_default())
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
