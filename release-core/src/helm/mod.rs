//! Helm charts: validate `Chart.yaml`, package a chart directory into a deterministic
//! `<name>-<version>.tgz`, natively (no `helm` binary).
//!
//! Code map: [`chart`] reads, validates and stamps `Chart.yaml`, with [`metadata`] checking
//! it as Helm types it (each field's type, Helm's loader and lint rules, with lines) and
//! [`subcharts`] checking `dependencies` against `charts/`; [`ignore`] answers
//! `.helmignore` questions; [`files`] walks a chart directory safely (no `..`, no absolute
//! paths, no symbolic links out of the chart); [`package`] writes the archive; [`identity`]
//! is the one [`ChartId`] of each `[[chart]]`. [`prepare`] ties the first three together and
//! is what both chart steps (`steps/preflight/charts.rs`, `steps/package/chart.rs`) call, so
//! that preflight checks exactly what packaging will use. [`chart`] is the only reader of
//! Chart.yaml in the crate.
//!
//! This module never talks to a network: pushing a [`PackagedChart`] is the OCI module's job.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::config::ChartConfig;
use crate::error::{Diagnose, SourceLocation, StepError};

pub(crate) mod chart;
pub(crate) mod files;
pub(crate) mod identity;
pub(crate) mod ignore;
mod metadata;
pub(crate) mod package;
pub(crate) mod subcharts;

pub(crate) use identity::ChartId;

/// A chart packaged by the package stage; the OCI push reads these from the step context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct PackagedChart {
    /// `name` from Chart.yaml.
    pub name: String,
    /// The chart version actually packaged (after stamping).
    pub version: String,
    /// The `.tgz` in the dist directory.
    pub path: Utf8PathBuf,
    pub size: u64,
    /// Lowercase hex SHA-256 of the `.tgz`.
    pub sha256: String,
    /// The Chart.yaml metadata as JSON: the OCI config blob.
    pub config_json: String,
    /// Where to push it (`oci://REGISTRY/PATH`), from the `[[chart]]` config.
    pub push: Option<String>,
    /// Whether different content may replace an existing version tag.
    pub allow_overwrite: bool,
}

/// A chart directory read, validated and stamped, ready to be packaged.
#[derive(Clone, Debug)]
pub(crate) struct PreparedChart {
    /// The chart directory.
    pub dir: Utf8PathBuf,
    /// `Chart.yaml` as it will be packaged (stamped).
    pub chart: chart::ChartYaml,
    /// Every file to package except `Chart.yaml`, sorted by archive path.
    pub files: Vec<files::ChartFile>,
    /// Symbolic links inside the chart that were followed, for a warning.
    pub followed_links: Vec<String>,
}

impl PreparedChart {
    /// What `helm lint` would warn about, each line naming the file: fields Helm does not
    /// know (packaged as written, ignored by Helm).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.chart.warnings().iter().map(|w| format!("{}: {w}", self.chart.path())).collect()
    }
}

impl PreparedChart {
    /// `<name>-<version>.tgz`.
    pub(crate) fn file_name(&self) -> String {
        format!("{}-{}.tgz", self.chart.name(), self.chart.version())
    }
}

/// Reads and checks one configured chart: its path, `Chart.yaml` (stamped with
/// `release_version` as configured), `values.yaml`, `.helmignore` and every file that will
/// be packaged. Returns every problem found, not just the first.
pub(crate) fn prepare(
    root: &Utf8Path,
    config: &ChartConfig,
    release_version: &semver::Version,
) -> Result<PreparedChart, Vec<ChartError>> {
    let dir = files::chart_dir(root, &config.path).map_err(|e| vec![e])?;
    if !dir.is_dir() {
        return Err(vec![ChartError::NoDirectory { dir }]);
    }
    let mut problems = Vec::new();
    let chart = match files::check_inside(&dir, chart::CHART_YAML).and_then(|()| chart::ChartYaml::load(&dir)) {
        Ok(mut chart) => {
            chart.stamp(release_version, config.stamp_version, config.stamp_app_version);
            problems.extend(chart.validate());
            Some(chart)
        }
        Err(err) => {
            problems.push(err);
            None
        }
    };
    if let Err(err) = files::check_inside(&dir, chart::VALUES_YAML).and_then(|()| chart::check_values(&dir)) {
        problems.push(err);
    }
    let walk = files::collect(&dir);
    // The walk finds the same escaping `Chart.yaml` or `values.yaml` link again: say it once.
    for problem in walk.problems {
        if !problems.iter().any(|p| p.to_string() == problem.to_string()) {
            problems.push(problem);
        }
    }
    if let Some(chart) = &chart {
        problems.extend(subcharts::check(&dir, chart, &walk.files));
    }
    match chart {
        Some(chart) if problems.is_empty() => {
            Ok(PreparedChart { dir, chart, files: walk.files, followed_links: walk.followed_links })
        }
        _ => Err(problems),
    }
}

/// Chart.yaml's path, `version` and `appVersion`, each value with its line.
pub(crate) type ChartVersions = (Utf8PathBuf, (String, Option<usize>), Option<(String, Option<usize>)>);

/// A chart's Chart.yaml path, its `version` and its `appVersion` (when it states one), each
/// with its line: what `crate::identity` compares with the release. The chart check reports
/// a Chart.yaml that cannot be read; this says only that it could not.
pub(crate) fn versions(root: &Utf8Path, configured: &Utf8Path) -> Result<ChartVersions, String> {
    let dir = files::chart_dir(root, configured).map_err(|e| e.to_string())?;
    let chart = chart::ChartYaml::load(&dir).map_err(|e| e.to_string())?;
    let line = |key: &str| chart.field_line(key).map(|l| l as usize);
    let app = chart.get_str("appVersion").map(|v| (v.to_owned(), line("appVersion")));
    Ok((chart.path().to_owned(), (chart.version().to_owned(), line("version")), app))
}

/// Several problems as one step error: one line each, their fixes in the help, and the
/// file and line of each one that has a line (for annotations), relative to `root`.
pub(crate) fn step_error_in(root: &Utf8Path, problems: Vec<ChartError>) -> StepError {
    let locations: Vec<SourceLocation> = problems
        .iter()
        .filter_map(|p| {
            let (path, line, message) = match p {
                ChartError::Field { path, line: Some(line), field, message, .. } => {
                    (path, *line, format!("`{field}`: {message}"))
                }
                ChartError::Yaml { path, line, message, .. } => (path, *line, message.clone()),
                ChartError::TooLarge { path, line, message } => (path, *line, format!("the YAML {message}")),
                _ => return None,
            };
            let file = path.strip_prefix(root).unwrap_or(path);
            Some(SourceLocation::new(Some(root), file, usize::try_from(line).ok()?, message))
        })
        .collect();
    step_error(problems).with_locations(locations)
}

/// Several problems as one step error: one line each, their fixes in the help.
pub(crate) fn step_error(problems: Vec<ChartError>) -> StepError {
    let message = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    let mut helps: Vec<String> = Vec::new();
    for help in problems.iter().filter_map(Diagnose::help) {
        if !helps.contains(&help) {
            helps.push(help);
        }
    }
    let error = StepError::new(message);
    if helps.is_empty() { error } else { error.with_help(helps.join("\n")) }
}

/// Everything that can be wrong with a chart. Each message names the file (and field or
/// line); each help says what to change.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChartError {
    #[error("chart path `{path}` {reason}")]
    ChartPath { path: Utf8PathBuf, reason: &'static str },
    #[error("the chart directory {dir} does not exist")]
    NoDirectory { dir: Utf8PathBuf },
    #[error("{path}: no such file")]
    NoChartYaml { path: Utf8PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Yaml { path: Utf8PathBuf, line: u64, column: u64, message: String },
    #[error("{path}:{line}: the YAML {message}")]
    TooLarge { path: Utf8PathBuf, line: u64, message: String },
    #[error("{path}{}: `{field}`: {message}", at_line(*.line))]
    Field { path: Utf8PathBuf, line: Option<u64>, field: String, message: String, help: String },
    #[error("{path}:{line}: invalid pattern `{pattern}`: {reason}")]
    Pattern { path: Utf8PathBuf, line: usize, pattern: String, reason: &'static str },
    #[error("{link}: the symbolic link points to {target}, outside the chart directory {chart}")]
    SymlinkEscape { link: Utf8PathBuf, target: String, chart: Utf8PathBuf },
    #[error("{link}: the symbolic link points to a file that does not exist")]
    DanglingSymlink { link: Utf8PathBuf },
    #[error("{link}: the symbolic link points to {target}, a directory that contains the link (a loop)")]
    SymlinkLoop { link: Utf8PathBuf, target: String },
    #[error("{path}: not a regular file or directory (a socket, pipe or device)")]
    SpecialFile { path: Utf8PathBuf },
    #[error("{path}: the file name is not valid UTF-8")]
    NonUtf8Name { path: String },
    #[error("cannot write {path}: {source}")]
    Write { path: Utf8PathBuf, source: std::io::Error },
    #[error("{message}")]
    Dist { dist: Utf8PathBuf, message: String },
    #[error("the charts {first} and {second} both package to {file}")]
    DuplicatePackage { first: Utf8PathBuf, second: Utf8PathBuf, file: String },
}

/// `:LINE` when the line is known.
fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl Diagnose for ChartError {
    fn help(&self) -> Option<String> {
        Some(match self {
            ChartError::ChartPath { .. } => {
                "set `path` of the [[chart]] in release.toml to a directory relative to release.toml's directory, without `..`".into()
            }
            ChartError::NoDirectory { .. } => {
                "set `path` of the [[chart]] in release.toml to the directory that holds Chart.yaml".into()
            }
            ChartError::NoChartYaml { .. } => {
                "a chart directory needs a Chart.yaml with `apiVersion: v2`, `name` and `version` (`helm create` writes one)".into()
            }
            ChartError::Read { .. } => "check that the file exists and is readable".into(),
            ChartError::Yaml { .. } => "fix the YAML syntax at that line".into(),
            ChartError::TooLarge { .. } => {
                "write the values out instead of nesting anchors and aliases (`&name`, `*name`) inside each other; Helm charts rarely need more than a few aliases".into()
            }
            ChartError::Field { help, .. } => help.clone(),
            ChartError::Pattern { .. } => {
                "fix or remove that line of .helmignore; patterns follow .gitignore syntax (see docs/troubleshooting.md#helm-charts)".into()
            }
            ChartError::SymlinkEscape { .. } => {
                "copy the file into the chart directory, or point the link at a file inside it; a chart package cannot refer to files outside the chart".into()
            }
            ChartError::DanglingSymlink { .. } | ChartError::SymlinkLoop { .. } | ChartError::SpecialFile { .. } => {
                "remove it, or add it to the chart's .helmignore".into()
            }
            ChartError::NonUtf8Name { .. } => "rename the file, or add it to the chart's .helmignore".into(),
            ChartError::Write { .. } => "check that the dist directory is writable and the disk is not full".into(),
            ChartError::Dist { dist, .. } => format!("release writes only into a dist directory it owns: move what it did not write out of {dist}, or set `project.dist` to a new directory"),
            ChartError::DuplicatePackage { .. } => {
                "give the charts distinct `name`s or versions in their Chart.yaml, or remove one [[chart]] from release.toml".into()
            }
        })
    }
}
