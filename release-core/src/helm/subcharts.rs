//! Subcharts against `dependencies`: `helm package` refuses a chart whose Chart.yaml lists a
//! dependency that is not in its `charts/` directory ("found in Chart.yaml, but missing in
//! charts/ directory"), and `helm lint` refuses a subchart in `charts/` that Chart.yaml does
//! not list ("chart metadata is missing these dependencies").
//!
//! As Helm's loader does, a subchart is a directory `charts/<dir>/` with a Chart.yaml or an
//! archive `charts/<file>.tgz`; entries whose name starts with `_` or `.` are skipped, and
//! the subchart's name is the `name` in its own Chart.yaml. Only the files that will be
//! packaged count (`.helmignore` applies).

use std::io::Read;

use camino::Utf8Path;
use serde_json::Value;

use super::ChartError;
use super::chart::{CHART_YAML, ChartYaml};
use super::files::ChartFile;

/// Every problem between `chart`'s `dependencies` and the subcharts among `files`.
pub(crate) fn check(dir: &Utf8Path, chart: &ChartYaml, files: &[ChartFile]) -> Vec<ChartError> {
    let mut problems = Vec::new();
    let mut present: Vec<(String, String)> = Vec::new(); // (subchart name, where)
    let mut seen_dirs: Vec<&str> = Vec::new();
    for file in files {
        let Some(rest) = file.archive_path.strip_prefix("charts/") else { continue };
        let (first, inner) = rest.split_once('/').unwrap_or((rest, ""));
        if first.starts_with(['_', '.']) {
            continue;
        }
        if inner.is_empty() && first.ends_with(".tgz") {
            match archive_chart_name(&file.source) {
                Ok(name) => present.push((name, format!("charts/{first}"))),
                Err(message) => problems.push(ChartError::Field {
                    path: dir.join("charts").join(first),
                    line: None,
                    field: "dependencies".into(),
                    message: format!("Helm cannot load this subchart: {message}"),
                    help: "rebuild charts/ with `helm dependency build`, or remove the file".into(),
                }),
            }
        } else if inner == CHART_YAML && !seen_dirs.contains(&first) {
            seen_dirs.push(first);
            match std::fs::read_to_string(&file.source)
                .map_err(|source| ChartError::Read { path: file.source.clone(), source })
                .and_then(|text| ChartYaml::parse(&text, &dir.join("charts").join(first).join(CHART_YAML)))
            {
                Ok(sub) => present.push((sub.name().to_owned(), format!("charts/{first}/"))),
                Err(err) => problems.push(err),
            }
        }
    }

    let listed: Vec<(usize, String)> = match chart.get("dependencies") {
        Some(Value::Array(items)) => {
            items.iter().enumerate().filter_map(|(i, d)| Some((i, d.get("name")?.as_str()?.to_owned()))).collect()
        }
        _ => Vec::new(),
    };
    let path = chart.path();
    for (i, name) in &listed {
        if !present.iter().any(|(n, _)| n == name) {
            problems.push(ChartError::Field {
                path: path.to_owned(),
                line: chart.field_line("dependencies"),
                field: format!("dependencies[{i}]"),
                message: format!(
                    "`{name}` is not in the chart's charts/ directory (`helm package` refuses: found in Chart.yaml, but missing in charts/ directory)"
                ),
                help: "run `helm dependency build` in the chart directory before the release, so that charts/ holds the subchart, or remove the entry".into(),
            });
        }
    }
    for (name, at) in &present {
        if !listed.iter().any(|(_, n)| n == name) {
            problems.push(ChartError::Field {
                path: path.to_owned(),
                line: chart.field_line("dependencies"),
                field: "dependencies".into(),
                message: format!(
                    "the subchart `{name}` in {at} is not listed (`helm lint`: chart metadata is missing these dependencies)"
                ),
                help: format!(
                    "add `- name: {name}` with its `version` and `repository` to `dependencies` in Chart.yaml, or remove {at}"
                ),
            });
        }
    }
    problems
}

/// The `name` in the Chart.yaml at the top of a chart archive (`<dir>/Chart.yaml`).
fn archive_chart_name(path: &Utf8Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(|e| format!("not a gzipped tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a gzipped tar archive: {e}"))?;
        let name = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        let parts: Vec<&str> = name.trim_start_matches("./").split('/').collect();
        if parts.len() == 2 && parts[1] == CHART_YAML {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| e.to_string())?;
            let chart = ChartYaml::parse(&text, &path.join(&name)).map_err(|e| e.to_string())?;
            return Ok(chart.name().to_owned());
        }
    }
    Err("it holds no Chart.yaml".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Utf8Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn dependencies_must_match_the_subcharts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(tmp.path()).unwrap();
        write(
            &dir.join("Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 1.x\n    repository: oci://r\n  - name: pg\n  - name: packed\n",
        );
        write(&dir.join("charts/redis/Chart.yaml"), "apiVersion: v2\nname: redis\nversion: 1.2.0\n");
        write(&dir.join("charts/extra/Chart.yaml"), "apiVersion: v2\nname: extra\nversion: 1.0.0\n");
        write(&dir.join("charts/_skipped/Chart.yaml"), "apiVersion: v2\nname: skipped\nversion: 1.0.0\n");
        // A packed subchart, as `helm dependency build` leaves it.
        let mut tgz = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let text = b"apiVersion: v2\nname: packed\nversion: 0.1.0\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        tgz.append_data(&mut header, "packed/Chart.yaml", &text[..]).unwrap();
        std::fs::write(dir.join("charts/packed-0.1.0.tgz"), tgz.into_inner().unwrap().finish().unwrap()).unwrap();

        let chart = ChartYaml::load(dir).unwrap();
        let walk = super::super::files::collect(dir);
        let problems: Vec<String> = check(dir, &chart, &walk.files).iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                format!(
                    "{dir}/Chart.yaml:4: `dependencies[1]`: `pg` is not in the chart's charts/ directory (`helm package` refuses: found in Chart.yaml, but missing in charts/ directory)"
                ),
                format!(
                    "{dir}/Chart.yaml:4: `dependencies`: the subchart `extra` in charts/extra/ is not listed (`helm lint`: chart metadata is missing these dependencies)"
                ),
            ]
        );
    }
}
