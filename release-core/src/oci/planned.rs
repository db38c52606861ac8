//! The reference a chart will be pushed as, checked without network.

use crate::error::StepError;
use crate::helm::chart::head as chart_head;
use crate::oci::ChartPush;
use crate::oci::reference::ChartReference;
use crate::oci::reference::PushTarget;

pub(crate) const TROUBLESHOOTING: &str = "docs/troubleshooting.md#oci-registries-and-helm-charts";

/// The reference a chart will be pushed as, from release.toml and the chart's Chart.yaml,
/// with every check that needs no network.
pub(crate) fn planned_reference(
    push: &ChartPush,
    release_version: &semver::Version,
) -> Result<ChartReference, StepError> {
    let field = format!("chart[{}].push", push.chart.index());
    let target = PushTarget::parse(&push.push).map_err(|err| {
        let help = crate::error::Diagnose::help(&err).unwrap_or_default();
        StepError::new(format!("`{field}`: {err}")).with_help(help)
    })?;
    let (name, version) = chart_head(&push.dir).map_err(|why| {
        StepError::new(format!("chart[{}] ({}): {why}", push.chart.index(), push.dir))
            .with_help("the chart's Chart.yaml must name the chart: its name is the last part of the OCI repository")
    })?;
    let version = if push.stamp_version { release_version.to_string() } else { version };
    if version.is_empty() {
        return Err(StepError::new(format!(
            "chart[{}] ({}): Chart.yaml has no `version`",
            push.chart.index(),
            push.dir
        ))
        .with_help("set `version` in Chart.yaml, or `stamp-version = true` on the [[chart]]"));
    }
    target.chart(&name, &version).map_err(|err| {
        let help = crate::error::Diagnose::help(&err).unwrap_or_default();
        StepError::new(format!("chart[{}] ({}): {err}", push.chart.index(), push.dir)).with_help(help)
    })
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let bare =
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(bare, "localhost" | "[::1]") || bare.starts_with("127.")
}
