//! `Chart.yaml`: read, validate, stamp, and write back out (as YAML for the package and as
//! JSON for the OCI config blob).
//!
//! Helm requires `apiVersion: v2` (Helm 3 charts), a `name` that is a plain file name, a
//! SemVer 2 `version`, and a `type` that is empty, `application` or `library`; every field
//! Helm knows must have the type Helm's loader expects ([`super::metadata`] checks those and
//! the rest of Helm's rules, each problem with its line). Every field (`description`,
//! `appVersion`, `maintainers`, `dependencies`, `annotations`, and fields Helm does not
//! know) is kept as written, in the order written, and appears both in the packaged
//! `Chart.yaml` and in the config JSON under its Chart.yaml name.
//!
//! Like `helm package`, the packaged `Chart.yaml` is written from the parsed metadata, not
//! copied: comments and formatting do not survive, values do. Fields Helm reads as strings
//! (`version`, `appVersion`, …) keep the text as written, so `appVersion: 1.10` stays
//! `"1.10"` and does not become the number 1.1.

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ChartError;
use super::metadata::{self, Node};

pub(crate) const CHART_YAML: &str = "Chart.yaml";
pub(crate) const VALUES_YAML: &str = "values.yaml";

/// The `apiVersion` this packager supports.
pub(crate) const API_VERSION: &str = "v2";

/// A chart's `Chart.yaml`: every top-level field in file order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChartYaml {
    path: Utf8PathBuf,
    fields: Vec<(String, Value)>,
    /// Lines, type problems and warnings of the file as written.
    checked: metadata::Checked,
}

/// The top-level mapping, keeping the order of its keys.
struct OrderedFields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = OrderedFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of Chart.yaml fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(OrderedFields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// Serialises fields as a mapping in their order.
struct FieldsOut<'a>(&'a [(String, Value)]);

impl Serialize for FieldsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl ChartYaml {
    /// Reads `Chart.yaml` from a chart directory.
    pub(crate) fn load(dir: &Utf8Path) -> Result<ChartYaml, ChartError> {
        let path = dir.join(CHART_YAML);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(ChartError::NoChartYaml { path }),
            Err(source) => return Err(ChartError::Read { path, source }),
        };
        ChartYaml::parse(&text, &path)
    }

    /// Parses `Chart.yaml` text read from `path`. Checks the YAML and the types of the
    /// string fields; [`ChartYaml::validate`] checks the values.
    pub(crate) fn parse(text: &str, path: &Utf8Path) -> Result<ChartYaml, ChartError> {
        // First the shape, for a clear message when the file is empty or not a mapping.
        let shape: serde_saphyr::Spanned<Node> = serde_saphyr::from_str(text).map_err(|err| yaml_error(path, &err))?;
        let checked = match &shape.value {
            Node::Map(entries) => metadata::check(entries, text),
            Node::Null => {
                return Err(field_error(
                    path,
                    "apiVersion",
                    "the file is empty".into(),
                    "write `apiVersion: v2`, `name` and `version` into Chart.yaml",
                ));
            }
            _ => {
                return Err(ChartError::Yaml {
                    path: path.to_owned(),
                    line: 1,
                    column: 1,
                    message: "Chart.yaml must be a mapping of fields (`name: hello`), not a list or a single value"
                        .into(),
                });
            }
        };
        let OrderedFields(mut fields) = serde_saphyr::from_str(text).map_err(|err| yaml_error(path, &err))?;
        // Fields Helm reads as strings keep a plain scalar's exact text: `appVersion: 1.10`
        // stays "1.10".
        for (key, text) in &checked.texts {
            if let Some((_, value)) = fields.iter_mut().find(|(k, _)| k == key) {
                *value = Value::String(text.clone());
            }
        }
        Ok(ChartYaml { path: path.to_owned(), fields, checked })
    }

    /// What `helm lint` would warn about (fields Helm does not know), one line each.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.checked.warnings
    }

    /// The line a top-level field was written on.
    pub(crate) fn field_line(&self, key: &str) -> Option<u64> {
        self.checked.lines.iter().find(|(k, _)| k == key).map(|(_, line)| *line)
    }

    /// The file this was read from.
    pub(crate) fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// A top-level field.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A top-level string field; `None` when absent, null or not a string.
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// `name`, or `""` when missing (only after [`ChartYaml::validate`] passed is it valid).
    pub(crate) fn name(&self) -> &str {
        self.get_str("name").unwrap_or_default()
    }

    /// `version`, or `""` when missing.
    pub(crate) fn version(&self) -> &str {
        self.get_str("version").unwrap_or_default()
    }

    /// Every top-level field, in file order.
    #[cfg(test)]
    pub(crate) fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    /// Sets a top-level field, in place if present, else at the end.
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, existing)) => *existing = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    /// Sets `version` and/or `appVersion` to the release version.
    /// A stamped field's value as written no longer matters: its problems go.
    pub(crate) fn stamp(&mut self, release_version: &semver::Version, version: bool, app_version: bool) {
        if version {
            self.set("version", Value::String(release_version.to_string()));
            self.checked.problems.retain(|p| p.field != "version");
        }
        if app_version {
            self.set("appVersion", Value::String(release_version.to_string()));
            self.checked.problems.retain(|p| p.field != "appVersion");
        }
    }

    /// Every problem with the required fields; empty when the chart can be packaged.
    pub(crate) fn validate(&self) -> Vec<ChartError> {
        let mut problems = Vec::new();
        let path = &self.path;
        let lines = |field: &str| self.field_line(field);
        let mut problem = |field: &str, message: String, help: &str| {
            problems.push(ChartError::Field {
                path: path.to_owned(),
                line: lines(field),
                field: field.to_owned(),
                message,
                help: help.to_owned(),
            });
        };

        match self.present("apiVersion") {
            None => problem(
                "apiVersion",
                "the field is missing".into(),
                "add `apiVersion: v2` (a Helm 3 chart) to Chart.yaml",
            ),
            Some(API_VERSION) => {}
            Some(other) => problem(
                "apiVersion",
                format!("`{other}` is not supported, only `v2` (Helm 3 charts)"),
                "set `apiVersion: v2`; a v1 chart's requirements.yaml moves into `dependencies` of Chart.yaml",
            ),
        }

        match self.present("name") {
            None => problem(
                "name",
                "the field is missing".into(),
                "add `name: <chart name>` to Chart.yaml: the name the chart is packaged and pushed under",
            ),
            Some(name) => {
                if let Err(reason) = check_name(name) {
                    let suggestion = name.rsplit(['/', '\\']).find(|s| !s.is_empty() && *s != "." && *s != "..");
                    let help = match suggestion {
                        Some(s) => format!("use a plain name such as `{s}`"),
                        None => "use a plain name such as `hello`".to_owned(),
                    };
                    problem("name", format!("`{name}` is not a valid chart name: {reason}"), &help);
                }
            }
        }

        match self.present("version") {
            None => problem(
                "version",
                "the field is missing".into(),
                "add `version: 0.1.0` (SemVer 2), or set `stamp-version = true` on this [[chart]] in release.toml to use the release version",
            ),
            Some("0.0.0-0") => problem(
                "version",
                "`0.0.0-0` is the lowest version there is; `helm lint` wants a version above it".into(),
                "use a version such as 0.1.0",
            ),
            Some(version) => {
                if let Err(err) = semver::Version::parse(version) {
                    let hint = if version.starts_with('v') { " (remove the leading `v`)" } else { "" };
                    problem(
                        "version",
                        format!("`{version}` is not a SemVer 2 version{hint}: {err}"),
                        "use MAJOR.MINOR.PATCH such as 1.2.3 or 1.2.3-rc.1, or set `stamp-version = true` on this [[chart]] in release.toml to use the release version",
                    );
                }
            }
        }

        if let Some(kind) = self.present("type")
            && kind != "application"
            && kind != "library"
        {
            problem(
                "type",
                format!("`{kind}` is not a chart type"),
                "use `application` (the default) or `library`, or remove the field",
            );
        }

        // Fields of the wrong type, and Helm's rules for the other fields, each at its line.
        // A required field of the wrong type is not also "missing".
        problems.retain(|p| {
            !matches!(p, ChartError::Field { field, .. }
                if self.checked.problems.iter().any(|t| t.field == *field))
        });
        for p in &self.checked.problems {
            problems.push(ChartError::Field {
                path: path.to_owned(),
                line: Some(p.line),
                field: p.field.clone(),
                message: p.message.clone(),
                help: p.help.clone(),
            });
        }
        problems
    }

    /// A string field that is present and not empty.
    fn present(&self, key: &str) -> Option<&str> {
        self.get_str(key).filter(|s| !s.is_empty())
    }

    /// The packaged `Chart.yaml`.
    pub(crate) fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&FieldsOut(&self.fields)).expect("JSON values always serialise as YAML")
    }

    /// The Chart.yaml metadata as JSON: Helm's OCI config blob.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&FieldsOut(&self.fields)).expect("JSON values always serialise")
    }
}

/// Why a chart name is invalid: Helm uses it as a directory and file name.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("it is empty")
    } else if name == "." || name == ".." {
        Err("`.` and `..` name directories")
    } else if name.contains('/') || name.contains('\\') {
        Err("it contains a path separator")
    } else if name.chars().any(char::is_control) {
        Err("it contains a control character")
    } else {
        Ok(())
    }
}

/// `values.yaml`, when present, must be a YAML mapping: Helm refuses to package otherwise.
pub(crate) fn check_values(dir: &Utf8Path) -> Result<(), ChartError> {
    let path = dir.join(VALUES_YAML);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ChartError::Read { path, source }),
    };
    match serde_saphyr::from_str::<Value>(&text).map_err(|err| yaml_error(&path, &err))? {
        Value::Null | Value::Object(_) => Ok(()),
        _ => Err(ChartError::Yaml {
            path,
            line: 1,
            column: 1,
            message: "values.yaml must be a mapping of values (`replicaCount: 1`), not a list or a single value".into(),
        }),
    }
}

fn field_error(path: &Utf8Path, field: &str, message: String, help: &str) -> ChartError {
    ChartError::Field { path: path.to_owned(), line: None, field: field.to_owned(), message, help: help.to_owned() }
}

/// A YAML error as one line with its location.
fn yaml_error(path: &Utf8Path, err: &serde_saphyr::Error) -> ChartError {
    let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    if let Some(message) = budget_words(err) {
        return ChartError::TooLarge { path: path.to_owned(), line, message };
    }
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // Drop the location prefix the parser adds: it is in our own prefix already.
    let message = match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") && prefix.contains(" column ") => rest,
        _ => first,
    };
    ChartError::Yaml { path: path.to_owned(), line, column, message: message.to_owned() }
}

/// `name` and `version` of a chart's Chart.yaml: what the preflight steps need to know the
/// repository before the chart is packaged. Full validation is the package stage's.
pub(crate) fn head(dir: &Utf8Path) -> Result<(String, String), String> {
    let path = dir.join(CHART_YAML);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    head_from(&text, &path)
}

/// [`head`] of a Chart.yaml already read from `path`.
pub(crate) fn head_from(text: &str, path: &Utf8Path) -> Result<(String, String), String> {
    #[derive(serde::Deserialize)]
    struct Head {
        name: Option<String>,
        version: Option<serde_json::Value>,
    }
    let head: Head = serde_saphyr::from_str(text).map_err(|e| format!("{path} is not valid YAML: {e}"))?;
    let name = head.name.filter(|n| !n.is_empty()).ok_or_else(|| format!("{path} has no `name`"))?;
    let version = match head.version {
        Some(serde_json::Value::String(v)) => v,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok((name, version))
}

/// A breach of the parser's budget (the limits that stop a YAML alias bomb) in words:
/// what the file expands to and the limit, not the parser's `budget breached: Nodes {…}`.
fn budget_words(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = err;
    while let serde_saphyr::Error::AliasError { error, .. } | serde_saphyr::Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    let serde_saphyr::Error::Budget { breach, .. } = inner else { return None };
    let limits = serde_saphyr::Budget::default();
    const BOMB: &str = "(a YAML alias bomb?)";
    Some(match breach {
        BudgetBreach::Nodes { .. } => format!("expands to more than {} nodes {BOMB}", limits.max_nodes),
        BudgetBreach::Events { .. } => format!("expands to more than {} YAML events {BOMB}", limits.max_events),
        BudgetBreach::Aliases { .. } => format!("uses more than {} aliases {BOMB}", limits.max_aliases),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
            "uses {aliases} aliases for {anchors} anchors, more than {} per anchor {BOMB}",
            limits.alias_anchor_ratio_multiplier
        ),
        BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
            format!("expands its anchors to more than {} YAML events {BOMB}", limits.max_recorded_anchor_events)
        }
        BudgetBreach::Anchors { .. } => format!("defines more than {} anchors", limits.max_anchors),
        BudgetBreach::Depth { .. } => format!("nests lists and mappings more than {} levels deep", limits.max_depth),
        BudgetBreach::Documents { .. } => format!("holds more than {} YAML documents", limits.max_documents),
        BudgetBreach::MergeKeys { .. } => format!("uses more than {} merge keys (`<<`)", limits.max_merge_keys),
        other => format!("is larger than the YAML parser allows ({other:?})"),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PATH: &str = "/repo/charts/hello/Chart.yaml";

    fn parse(text: &str) -> Result<ChartYaml, ChartError> {
        ChartYaml::parse(text, Utf8Path::new(PATH))
    }

    fn problems(text: &str) -> Vec<String> {
        parse(text).unwrap().validate().iter().map(ToString::to_string).collect()
    }

    fn help_of(err: &ChartError) -> String {
        crate::error::Diagnose::help(err).unwrap()
    }

    const GOOD: &str = "apiVersion: v2\nname: hello\nversion: 0.1.0\n";

    #[test]
    fn a_minimal_chart_is_valid() {
        assert!(problems(GOOD).is_empty());
        assert!(problems(&format!("{GOOD}type: application\n")).is_empty());
        assert!(problems(&format!("{GOOD}type: library\n")).is_empty());
        assert!(problems(&format!("{GOOD}type: \"\"\n")).is_empty());
    }

    #[test]
    fn api_version_must_be_v2() {
        let p = problems("name: hello\nversion: 0.1.0\n");
        assert_eq!(p, [format!("{PATH}: `apiVersion`: the field is missing")]);
        let p = problems("apiVersion: v1\nname: hello\nversion: 0.1.0\n");
        assert_eq!(p, [format!("{PATH}:1: `apiVersion`: `v1` is not supported, only `v2` (Helm 3 charts)")]);
    }

    #[test]
    fn name_is_required_and_plain() {
        assert_eq!(problems("apiVersion: v2\nversion: 0.1.0\n"), [format!("{PATH}: `name`: the field is missing")]);
        for bad in [".", "..", "a/b", "\"\""] {
            let p = problems(&format!("apiVersion: v2\nname: {bad}\nversion: 0.1.0\n"));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(p[0].contains("`name`"), "{p:?}");
        }
        let chart = parse("apiVersion: v2\nname: charts/hello\nversion: 0.1.0\n").unwrap();
        let err = chart.validate().remove(0);
        assert_eq!(
            err.to_string(),
            format!("{PATH}:2: `name`: `charts/hello` is not a valid chart name: it contains a path separator")
        );
        assert_eq!(help_of(&err), "use a plain name such as `hello`");
    }

    #[test]
    fn version_is_required_and_semver() {
        let err = parse("apiVersion: v2\nname: hello\n").unwrap().validate().remove(0);
        assert_eq!(err.to_string(), format!("{PATH}: `version`: the field is missing"));
        assert!(help_of(&err).contains("stamp-version = true"), "{}", help_of(&err));
        for bad in ["1.0", "1", "v1.2.3", "1.2.3.4", "01.2.3"] {
            let p = problems(&format!("apiVersion: v2\nname: hello\nversion: {bad}\n"));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(p[0].starts_with(&format!("{PATH}:3: `version`: `{bad}` is not a SemVer 2 version")), "{p:?}");
        }
        assert!(problems("apiVersion: v2\nname: hello\nversion: v1.2.3\n")[0].contains("remove the leading `v`"));
        assert!(problems("apiVersion: v2\nname: hello\nversion: 1.2.3-rc.1+build.5\n").is_empty());
    }

    #[test]
    fn type_must_be_known() {
        let p = problems(&format!("{GOOD}type: app\n"));
        assert_eq!(p, [format!("{PATH}:4: `type`: `app` is not a chart type")]);
        let p = problems(&format!("{GOOD}type: plugin\n"));
        assert_eq!(p, [format!("{PATH}:4: `type`: `plugin` is not a chart type")]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems("apiVersion: v1\nname: a/b\nversion: one\ntype: x\n");
        let fields: Vec<_> = p.iter().map(|m| m.split('`').nth(1).unwrap().to_owned()).collect();
        assert_eq!(fields, ["apiVersion", "name", "version", "type"]);
    }

    #[test]
    fn yaml_errors_name_the_file_and_line() {
        let err = parse("apiVersion: v2\nname: [hello\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("{PATH}:2:")), "{text}");
        assert!(!text.contains('\n'), "{text}");
        let err = parse("").unwrap_err();
        assert_eq!(err.to_string(), format!("{PATH}: `apiVersion`: the file is empty"));
        let err = parse("- a\n- b\n").unwrap_err();
        assert!(err.to_string().contains("must be a mapping"), "{err}");
        let p = problems("apiVersion: v2\nname:\n  - a\nversion: 0.1.0\n");
        assert_eq!(p, [format!("{PATH}:3: `name`: a list where Helm expects a string")]);
        let err = parse("apiVersion: v2\nname: a\nname: b\n").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }

    #[test]
    fn unknown_and_optional_fields_survive_in_order() {
        let text = "apiVersion: v2\nname: hello\ndescription: A chart\nversion: 0.1.0\nappVersion: 1.10\nkeywords: [a, b]\nmaintainers:\n  - name: Ann\n    email: ann@example.com\nannotations:\n  example.com/x: \"1\"\ndeprecated: false\nx-custom:\n  nested: [1, 2]\n";
        let chart = parse(text).unwrap();
        let keys: Vec<_> = chart.fields().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "apiVersion",
                "name",
                "description",
                "version",
                "appVersion",
                "keywords",
                "maintainers",
                "annotations",
                "deprecated",
                "x-custom"
            ]
        );
        assert_eq!(chart.get_str("appVersion"), Some("1.10"), "string fields keep their text");
        let json: Value = serde_json::from_str(&chart.to_json()).unwrap();
        assert_eq!(json["appVersion"], "1.10");
        assert_eq!(json["maintainers"][0]["email"], "ann@example.com");
        assert_eq!(json["x-custom"]["nested"][1], 2);
        assert_eq!(json["deprecated"], false);
        assert!(chart.to_json().starts_with("{\"apiVersion\":\"v2\",\"name\":\"hello\",\"description\""));
        let again = parse(&chart.to_yaml()).unwrap();
        assert_eq!(again.fields(), chart.fields(), "{}", chart.to_yaml());
    }

    #[test]
    fn stamping_sets_version_and_app_version() {
        let release = semver::Version::parse("2.3.4-rc.1").unwrap();
        let mut chart = parse("apiVersion: v2\nname: hello\nversion: 0.1.0\nappVersion: \"0.0.1\"\n").unwrap();
        chart.stamp(&release, true, false);
        assert_eq!((chart.version(), chart.get_str("appVersion")), ("2.3.4-rc.1", Some("0.0.1")));
        chart.stamp(&release, false, true);
        assert_eq!(chart.get_str("appVersion"), Some("2.3.4-rc.1"));
        assert!(chart.validate().is_empty());

        // A chart whose own version is missing or invalid packages fine when stamped.
        let mut chart = parse("apiVersion: v2\nname: hello\nversion: TBD\n").unwrap();
        chart.stamp(&release, true, true);
        assert!(chart.validate().is_empty());
        let mut chart = parse("apiVersion: v2\nname: hello\n").unwrap();
        chart.stamp(&release, true, false);
        assert_eq!(chart.version(), "2.3.4-rc.1");
        let yaml = chart.to_yaml();
        assert!(yaml.contains("version: 2.3.4-rc.1"), "{yaml}");
    }

    #[test]
    fn values_yaml_must_be_a_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        assert!(check_values(dir).is_ok(), "values.yaml is optional");
        std::fs::write(dir.join(VALUES_YAML), "replicaCount: 1\n").unwrap();
        assert!(check_values(dir).is_ok());
        std::fs::write(dir.join(VALUES_YAML), "").unwrap();
        assert!(check_values(dir).is_ok());
        std::fs::write(dir.join(VALUES_YAML), "a: b\n  c: d: e\n").unwrap();
        let err = check_values(dir).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{dir}/values.yaml:2:")), "{err}");
    }

    /// A billion laughs: nine levels of ten aliases each.
    fn alias_bomb(first_line: &str) -> String {
        let mut text = format!("{first_line}a0: &a0 [lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_refused_in_words() {
        let err = parse(&alias_bomb("apiVersion: v2\nname: hello\nversion: 0.1.0\n")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("{PATH}:")), "{text}");
        assert!(text.contains("expands to more than") && text.ends_with("(a YAML alias bomb?)"), "{text}");
        assert!(!text.contains("budget breached"), "{text}");
        assert!(help_of(&err).contains("anchors"), "{}", help_of(&err));

        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(dir.join(VALUES_YAML), alias_bomb("replicaCount: 1\n")).unwrap();
        let text = check_values(dir).unwrap_err().to_string();
        assert!(text.starts_with(&format!("{dir}/values.yaml:")), "{text}");
        assert!(text.ends_with("(a YAML alias bomb?)"), "{text}");
    }

    proptest! {
        /// Whatever the scalars, the packaged Chart.yaml reads back to the same fields.
        #[test]
        fn yaml_round_trips(
            description in ".{0,30}",
            app in "[0-9a-z.:#'\" -]{0,12}",
            keywords in prop::collection::vec("[a-z0-9 :#-]{0,8}", 0..4),
        ) {
            let mut chart = parse(GOOD).unwrap();
            chart.set("description", Value::String(description));
            chart.set("appVersion", Value::String(app));
            chart.set("keywords", Value::Array(keywords.into_iter().map(Value::String).collect()));
            let again = parse(&chart.to_yaml()).unwrap();
            prop_assert_eq!(again.fields(), chart.fields());
        }

        #[test]
        fn plain_names_are_valid(name in "[a-z0-9][a-z0-9._-]{0,20}") {
            prop_assume!(name != "." && name != "..");
            prop_assert!(check_name(&name).is_ok());
        }
    }
}
