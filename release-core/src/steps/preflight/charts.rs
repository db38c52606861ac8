//! `preflight:charts`: every configured chart can be packaged, checked before anything is built.

use camino::Utf8PathBuf;

use crate::config::ChartConfig;
use crate::config::Config;
use crate::error::StepError;
use crate::helm::ChartError;
use crate::helm::prepare;
use crate::helm::step_error_in;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;

/// Checks, before anything is built, that every configured chart can be packaged.
#[derive(Debug)]
pub(crate) struct PreflightCharts {
    pub(crate) root: Utf8PathBuf,
    pub(crate) charts: Vec<ChartConfig>,
}

impl PreflightCharts {
    pub(crate) fn new(config: &Config) -> Self {
        PreflightCharts { root: config.root.clone(), charts: config.charts.clone() }
    }
}

#[async_trait::async_trait]
impl Step for PreflightCharts {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "charts"),
            Effect::Check,
            "check every chart: Chart.yaml, values.yaml, .helmignore and the files it packages",
        )
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
