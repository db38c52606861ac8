//! Helm charts: validate `Chart.yaml`, package a chart directory into a deterministic
//! `<name>-<version>.tgz`, natively (no `helm` binary).

use camino::Utf8PathBuf;
use serde::Serialize;

/// A chart packaged by the package stage; the OCI push reads these from the step context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackagedChart {
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

/// Every chart packaged in this run, in config order. Stored with `StepContext::insert`.
#[derive(Clone, Debug, Default)]
pub struct PackagedCharts(pub Vec<PackagedChart>);
