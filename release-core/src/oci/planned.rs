//! The reference a chart will be pushed as, checked without network.

use crate::helm::chart::head as chart_head;
use crate::oci::ChartPush;
use crate::oci::error::OciError;
use crate::oci::reference::ChartReference;
use crate::oci::reference::PushTarget;

/// The reference a chart will be pushed as, from release.toml and the chart's Chart.yaml,
/// with every check that needs no network.
pub(crate) fn planned_reference(
    push: &ChartPush,
    release_version: &semver::Version,
) -> Result<ChartReference, OciError> {
    let field = format!("chart[{}].push", push.chart.index());
    let target = PushTarget::parse(&push.push).map_err(|source| OciError::Target { field, source })?;
    let (index, dir) = (push.chart.index(), push.dir.clone());
    let (name, version) = chart_head(&push.dir).map_err(|why| OciError::ChartYaml { index, dir: dir.clone(), why })?;
    let version = if push.stamp_version { release_version.to_string() } else { version };
    if version.is_empty() {
        return Err(OciError::NoVersion { index, dir });
    }
    target.chart(&name, &version).map_err(|source| OciError::Reference { index, dir, source })
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let bare =
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(bare, "localhost" | "[::1]") || bare.starts_with("127.")
}
