//! The chart steps: a preflight check of every configured chart, and one package step per
//! chart that writes its `.tgz` into the dist directory.
//!
//! Both only read the chart directories and write into the dist directory: they run in
//! snapshot mode too. The preflight check and the package step call the same
//! [`super::prepare`], so a chart that passed preflight fails packaging only if its files
//! changed in between (a build step generating chart files, say).

use camino::Utf8PathBuf;

use super::{ChartError, PackagedChart, PackagedCharts, package, prepare, step_error_in};
use crate::config::{ChartConfig, Config};
use crate::error::StepError;
use crate::plan::{Effect, Stage};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepResult};

/// Checks, before anything is built, that every configured chart can be packaged.
#[derive(Debug)]
pub struct ChartsCheck {
    root: Utf8PathBuf,
    charts: Vec<ChartConfig>,
}

impl ChartsCheck {
    pub fn new(config: &Config) -> Self {
        ChartsCheck { root: config.root.clone(), charts: config.charts.clone() }
    }
}

#[async_trait::async_trait]
impl Step for ChartsCheck {
    fn id(&self) -> String {
        "preflight:charts".into()
    }
    fn stage(&self) -> Stage {
        Stage::Preflight
    }
    fn effect(&self) -> Effect {
        Effect::Check
    }
    fn description(&self) -> String {
        "check every chart: Chart.yaml, values.yaml, .helmignore and the files it packages".into()
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let root = self.root.clone();
        let charts = self.charts.clone();
        let version = cx.release().version.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let mut problems = Vec::new();
            let mut warnings = Vec::new();
            let mut ready: Vec<(Utf8PathBuf, String)> = Vec::new();
            for chart in &charts {
                match prepare(&root, chart, &version) {
                    Ok(prepared) => {
                        warnings.extend(prepared.warnings());
                        let file = prepared.file_name();
                        if let Some((first, _)) = ready.iter().find(|(_, f)| *f == file) {
                            problems.push(ChartError::DuplicatePackage {
                                first: first.clone(),
                                second: prepared.dir.clone(),
                                file,
                            });
                        } else {
                            ready.push((prepared.dir, file));
                        }
                    }
                    Err(found) => problems.extend(found),
                }
            }
            (ready, problems, warnings)
        })
        .await;
        let (ready, problems, warnings) =
            checked.map_err(|e| StepError::new(format!("the chart check stopped: {e}")))?;
        for warning in warnings {
            cx.warn(warning);
        }
        if !problems.is_empty() {
            return Err(step_error_in(&self.root, problems));
        }
        let files: Vec<_> = ready.into_iter().map(|(_, file)| file).collect();
        Ok(Some(files.join(", ")))
    }
}

/// Packages one chart into `<name>-<version>.tgz` in the dist directory.
#[derive(Debug)]
pub struct PackageChart {
    root: Utf8PathBuf,
    chart: ChartConfig,
    label: String,
}

impl PackageChart {
    /// One step per `[[chart]]`, in config order.
    pub fn all(config: &Config) -> Vec<PackageChart> {
        labels(&config.charts)
            .into_iter()
            .zip(&config.charts)
            .map(|(label, chart)| PackageChart { root: config.root.clone(), chart: chart.clone(), label })
            .collect()
    }
}

/// Step labels: the chart directory's name, or its whole path where two charts share a
/// directory name. Planning is pure, so the chart's own name (in Chart.yaml) is not known.
fn labels(charts: &[ChartConfig]) -> Vec<String> {
    let base = |c: &ChartConfig| {
        let path = c.path.as_str().trim_end_matches('/');
        path.rsplit('/').next().filter(|s| !s.is_empty() && *s != ".").unwrap_or(path).to_owned()
    };
    let mut labels: Vec<String> = charts
        .iter()
        .map(|c| {
            let name = base(c);
            if charts.iter().filter(|other| base(other) == name).count() > 1 {
                c.path.as_str().trim_start_matches("./").trim_end_matches('/').to_owned()
            } else {
                name
            }
        })
        .collect();
    // Config validation rejects duplicate paths; an embedder's hand-made config may not.
    for i in 0..labels.len() {
        if labels[..i].contains(&labels[i]) {
            labels[i] = format!("{}#{}", labels[i], i + 1);
        }
    }
    labels
}

#[async_trait::async_trait]
impl Step for PackageChart {
    fn id(&self) -> String {
        format!("package:chart:{}", self.label)
    }
    fn stage(&self) -> Stage {
        Stage::Package
    }
    fn effect(&self) -> Effect {
        Effect::Local
    }
    fn description(&self) -> String {
        let mut stamped = Vec::new();
        if self.chart.stamp_version {
            stamped.push("version");
        }
        if self.chart.stamp_app_version {
            stamped.push("appVersion");
        }
        let stamp =
            if stamped.is_empty() { String::new() } else { format!(" ({} := release version)", stamped.join(", ")) };
        format!("package the Helm chart {} into <name>-<version>.tgz{stamp}", self.chart.path)
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
        let mut charts = cx.get::<PackagedCharts>().unwrap_or_default();
        match charts.0.iter_mut().find(|c| c.path == packaged.path) {
            Some(existing) => *existing = packaged,
            None => charts.0.push(packaged),
        }
        cx.insert(charts);
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

    #[test]
    fn labels_are_directory_names_unless_ambiguous() {
        let charts = [chart_config("charts/a"), chart_config("charts/b/"), chart_config("x/a"), chart_config(".")];
        assert_eq!(labels(&charts), ["charts/a", "b", "x/a", "."]);
        assert_eq!(labels(&[chart_config("a"), chart_config("a")]), ["a", "a#2"]);
    }

    struct Silent;
    impl crate::event::Reporter for Silent {
        fn report(&self, _: &crate::event::Event) {}
    }

    #[tokio::test]
    async fn package_step_adds_the_artifact_and_the_packaged_chart() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        write_file(&root.join("charts/hello/Chart.yaml"), "apiVersion: v2\nname: hello\nversion: 0.1.0\n");
        write_file(&root.join("charts/hello/templates/cm.yaml"), "kind: ConfigMap\n");
        let mut chart = chart_config("charts/hello");
        chart.stamp_version = true;
        chart.push = Some("oci://127.0.0.1:5000/charts".into());
        let step = PackageChart { root: root.clone(), chart, label: "hello".into() };
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
        let charts = cx.get::<PackagedCharts>().unwrap().0;
        assert_eq!(charts.len(), 1);
        assert_eq!((charts[0].name.as_str(), charts[0].version.as_str()), ("hello", "1.2.3+build.7"));
        assert_eq!(charts[0].sha256, artifacts[0].sha256);
        assert_eq!(charts[0].push.as_deref(), Some("oci://127.0.0.1:5000/charts"));
        assert_eq!(charts[0].config_json, r#"{"apiVersion":"v2","name":"hello","version":"1.2.3+build.7"}"#);

        // A re-run replaces the entry instead of adding a second one.
        step.run(&cx).await.unwrap();
        assert_eq!(cx.get::<PackagedCharts>().unwrap().0.len(), 1);
        assert_eq!(cx.artifacts().len(), 1);
    }

    #[tokio::test]
    async fn preflight_reports_every_chart_problem() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        write_file(&root.join("charts/a/Chart.yaml"), "apiVersion: v2\nname: a\nversion: 1.0\n");
        write_file(&root.join("charts/b/Chart.yaml"), "apiVersion: v2\nname: b\nversion: 1.0.0\n");
        write_file(&root.join("charts/b2/Chart.yaml"), "apiVersion: v2\nname: b\nversion: 1.0.0\n");
        let step = ChartsCheck {
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
