//! `package:chart:<chart>`: one chart into `<name>-<version>.tgz` in the dist directory.

use camino::Utf8PathBuf;

use crate::config::ChartConfig;
use crate::config::Config;
use crate::error::StepError;
use crate::helm::PackagedChart;
use crate::helm::prepare;
use crate::helm::{ChartId, package, step_error_in};
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Artifact;
use crate::step::ArtifactKind;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::packaged_chart;

/// Packages one chart into `<name>-<version>.tgz` in the dist directory.
#[derive(Debug)]
pub(crate) struct PackageChart {
    root: Utf8PathBuf,
    chart: ChartConfig,
    id: ChartId,
}

impl PackageChart {
    /// The package step of the `[[chart]]` `id` names.
    pub(crate) fn new(config: &Config, id: ChartId, chart: &ChartConfig) -> Self {
        PackageChart { root: config.root.clone(), chart: chart.clone(), id }
    }
}

#[async_trait::async_trait]
impl Step for PackageChart {
    fn meta(&self) -> StepMeta {
        let description: String = {
            let mut stamped = Vec::new();
            if self.chart.stamp_version {
                stamped.push("version");
            }
            if self.chart.stamp_app_version {
                stamped.push("appVersion");
            }
            let stamp = if stamped.is_empty() {
                String::new()
            } else {
                format!(" ({} := release version)", stamped.join(", "))
            };
            format!("package the Helm chart {} into <name>-<version>.tgz{stamp}", self.chart.path)
        };
        StepMeta::new(StepId::new(Stage::Package, "chart").with_subject(self.id.label()), Effect::Local, description)
            .produces(&packaged_chart(&self.id))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let root = self.root.clone();
        let chart = self.chart.clone();
        let version = cx.release().version.clone();
        let dist = cx.release().dist.clone();
        let done = tokio::task::spawn_blocking(move || {
            let prepared = prepare(&root, &chart, &version).map_err(|problems| step_error_in(&root, problems))?;
            let written = package::write(&prepared, &dist)?;
            Ok::<_, StepError>((prepared, written))
        })
        .await
        .map_err(|e| StepError::new(format!("packaging the chart stopped: {e}")))?;
        let (prepared, written) = done?;
        for link in &prepared.followed_links {
            cx.warn(format!("{}: followed the symbolic link {link} and packaged its target", prepared.dir));
        }
        let file_name = prepared.file_name();
        cx.add_artifact(Artifact {
            name: file_name.clone(),
            path: written.path.clone(),
            kind: ArtifactKind::Chart,
            size: written.size,
            sha256: written.sha256.clone(),
        });
        let packaged = PackagedChart {
            name: prepared.chart.name().to_owned(),
            version: prepared.chart.version().to_owned(),
            path: written.path.clone(),
            size: written.size,
            sha256: written.sha256.clone(),
            config_json: prepared.chart.to_json(),
            push: self.chart.push.clone(),
            allow_overwrite: self.chart.allow_overwrite,
        };
        cx.hand_off(&packaged_chart(&self.id), packaged)?;
        Ok(Some(format!("{file_name} ({} bytes, sha256 {})", written.size, &written.sha256[..12])))
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;
    use crate::env::Environment;
    use crate::step::RunState;

    fn write_file(path: &Utf8Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn chart_config(path: &str) -> ChartConfig {
        ChartConfig {
            path: path.into(),
            stamp_version: false,
            stamp_app_version: false,
            push: None,
            allow_overwrite: false,
        }
    }

    use crate::event::Silent;
    use crate::steps::preflight::charts::PreflightCharts;

    #[tokio::test]
    async fn package_step_adds_the_artifact_and_the_packaged_chart() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        write_file(&root.join("charts/hello/Chart.yaml"), "apiVersion: v2\nname: hello\nversion: 0.1.0\n");
        write_file(&root.join("charts/hello/templates/cm.yaml"), "kind: ConfigMap\n");
        let mut chart = chart_config("charts/hello");
        chart.stamp_version = true;
        chart.push = Some("oci://127.0.0.1:5000/charts".into());
        let id = ChartId::all(std::slice::from_ref(&chart))[0].clone();
        let step = PackageChart { root: root.clone(), chart, id: id.clone() };
        let release = crate::step::Release {
            version: semver::Version::parse("1.2.3+build.7").unwrap(),
            tag: "v1.2.3".into(),
            root: root.clone(),
            dist: root.join("dist"),
        };
        let state = RunState::new(release, Environment::empty(), crate::cancel::Cancellation::new());
        let cx = StepContext::detached(&state, "package:chart:hello", &Silent);
        let summary = step.run(&cx).await.unwrap().unwrap();
        assert!(summary.starts_with("hello-1.2.3+build.7.tgz ("), "{summary}");
        let artifacts = cx.artifacts();
        assert_eq!(artifacts.len(), 1);
        assert_eq!(artifacts[0].kind, ArtifactKind::Chart);
        assert_eq!(artifacts[0].path, root.join("dist/hello-1.2.3+build.7.tgz"));
        let charts = [cx.handed(&packaged_chart(&id)).unwrap()];
        assert_eq!((charts[0].name.as_str(), charts[0].version.as_str()), ("hello", "1.2.3+build.7"));
        assert_eq!(charts[0].sha256, artifacts[0].sha256);
        assert_eq!(charts[0].push.as_deref(), Some("oci://127.0.0.1:5000/charts"));
        assert_eq!(charts[0].config_json, r#"{"apiVersion":"v2","name":"hello","version":"1.2.3+build.7"}"#);

        // A re-run replaces the entry instead of adding a second one.
        step.run(&cx).await.unwrap();
        assert_eq!(cx.handed(&packaged_chart(&id)).unwrap().sha256, charts[0].sha256);
        assert_eq!(cx.artifacts().len(), 1);
    }

    #[tokio::test]
    async fn preflight_reports_every_chart_problem() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        write_file(&root.join("charts/a/Chart.yaml"), "apiVersion: v2\nname: a\nversion: 1.0\n");
        write_file(&root.join("charts/b/Chart.yaml"), "apiVersion: v2\nname: b\nversion: 1.0.0\n");
        write_file(&root.join("charts/b2/Chart.yaml"), "apiVersion: v2\nname: b\nversion: 1.0.0\n");
        let step = PreflightCharts {
            root: root.clone(),
            charts: vec![
                chart_config("charts/a"),
                chart_config("charts/missing"),
                chart_config("charts/b"),
                chart_config("charts/b2"),
            ],
        };
        let release = crate::step::Release {
            version: semver::Version::parse("1.0.0").unwrap(),
            tag: "v1.0.0".into(),
            root: root.clone(),
            dist: root.join("dist"),
        };
        let state = RunState::new(release, Environment::empty(), crate::cancel::Cancellation::new());
        let cx = StepContext::detached(&state, "preflight:charts", &Silent);
        let err = step.run(&cx).await.unwrap_err();
        let lines: Vec<&str> = err.message().lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert!(lines[0].contains("charts/a/Chart.yaml:3: `version`: `1.0` is not a SemVer 2 version"), "{err}");
        assert!(lines[1].contains("charts/missing does not exist"), "{err}");
        assert!(lines[2].contains("both package to b-1.0.0.tgz"), "{err}");
        assert!(err.help().unwrap().contains("stamp-version = true"), "{err}");
        let locations: Vec<String> = err.locations().iter().map(ToString::to_string).collect();
        assert_eq!(
            locations,
            [
                "charts/a/Chart.yaml:3: `version`: `1.0` is not a SemVer 2 version: unexpected end of input while parsing minor version number"
            ]
        );
        assert!(!root.join("dist").exists(), "preflight writes nothing");
    }
}
