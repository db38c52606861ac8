//! One identity per `[[chart]]`, from the config to the registry push.
//!
//! A [`ChartId`] is made once per run, in [`crate::assemble`], from the `[[chart]]` list; every
//! chart step (the package step, the push probe, the push, the signature, the tag) carries it,
//! takes its step id's subject from it, and finds its chart's hand-offs by it. Planning is pure,
//! so the chart's own name (in Chart.yaml) is not known: the label comes from the path.

use crate::config::ChartConfig;

/// One configured chart: its position in `[[chart]]` (for messages: `chart[0]`) and its label,
/// unique in the run (for step ids and hand-offs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ChartId {
    index: usize,
    label: String,
}

impl ChartId {
    /// One id per `[[chart]]`, in config order. The label is the chart directory's name, or
    /// its whole path where two charts share a directory name, or (for a list with the same
    /// path twice, which config validation refuses but an embedder's hand-made config may
    /// have) that with `#<position>`.
    pub(crate) fn all(charts: &[ChartConfig]) -> Vec<ChartId> {
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
        for i in 0..labels.len() {
            if labels[..i].contains(&labels[i]) {
                labels[i] = format!("{}#{}", labels[i], i + 1);
            }
        }
        labels.into_iter().enumerate().map(|(index, label)| ChartId { index, label }).collect()
    }

    /// Position in `[[chart]]`.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Unique in the run: the subject of the chart's step ids and hand-offs.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }
}

impl std::fmt::Display for ChartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(path: &str) -> ChartConfig {
        ChartConfig {
            path: path.into(),
            stamp_version: false,
            stamp_app_version: false,
            push: None,
            allow_overwrite: false,
        }
    }

    fn labels(charts: &[ChartConfig]) -> Vec<String> {
        ChartId::all(charts).iter().map(|c| c.label().to_owned()).collect()
    }

    #[test]
    fn labels_are_directory_names_unless_ambiguous() {
        let charts = [chart("charts/a"), chart("charts/b/"), chart("x/a"), chart(".")];
        assert_eq!(labels(&charts), ["charts/a", "b", "x/a", "."]);
        assert_eq!(labels(&[chart("a"), chart("a")]), ["a", "a#2"]);
        assert_eq!(ChartId::all(&charts)[2].index(), 2);
    }
}
