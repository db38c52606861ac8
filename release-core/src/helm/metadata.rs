//! Chart.yaml as Helm types it: every field of Helm's chart metadata checked for the type
//! Helm's loader expects, and Helm's own validation rules, each problem with its line.
//!
//! Helm (4.x, `helm.sh/helm/v4/pkg/chart/v2`) reads Chart.yaml with `sigs.k8s.io/yaml`: the
//! YAML becomes JSON, then `encoding/json` fills the `Metadata` struct. So a scalar of any
//! kind fills a string field (a number is printed back: `appVersion: 1.10` becomes `"1.1"`),
//! while a list where a string is expected, a string where a bool or a list is expected, or
//! a string where a maintainer mapping is expected stops the load (`cannot load Chart.yaml:
//! … cannot unmarshal …`). Fields Helm does not know are ignored by its loader; here they
//! are kept and named in a warning, as `helm lint` does.
//!
//! The rules, from Helm's source:
//! - the loader's `Metadata.Validate` (`pkg/chart/v2/metadata.go`, `dependency.go`), which
//!   `helm package`, `helm show chart`, `helm install` and `helm pull` all run: `name`,
//!   `version` (SemVer) required, `name` a plain file name, `type` empty, `application` or
//!   `library`, no null maintainer or dependency, an `alias` of `[a-zA-Z0-9_-]+`, no two
//!   dependencies with the same name or alias;
//! - the findings `helm lint` reports as errors (`pkg/chart/v2/lint/rules/chartfile.go`,
//!   checked against Helm 4.3.0's lint): `apiVersion` required, `version` and `appVersion`
//!   written as strings (not YAML numbers), a version above `0.0.0-0`, every maintainer with
//!   a `name`, a valid `email` and `url`, every source and the icon a URL with a scheme.
//!   Lint's warnings (fields it does not know) are warnings here too; so is a chart name
//!   outside `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, which Helm's main branch lints as an error
//!   but Helm 4.3.0 does not check. The version must be strict SemVer 2 (a lint warning) for
//!   the OCI tag, checked in [`super::chart`].

use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One YAML node with where it was written.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number,
    String(String),
    List(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Number)
            }
            fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Number)
            }
            fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Number)
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Spanned<Node>, Spanned<Node>>()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A problem with one field: where, what, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// `appVersion`, `maintainers[0].email`, `dependencies[1]`.
    pub field: String,
    pub line: u64,
    pub message: String,
    pub help: String,
}

/// What the type check found in a Chart.yaml.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The line of each top-level field.
    pub lines: Vec<(String, u64)>,
    /// Problems Helm refuses (its loader, `helm package`, or an error of `helm lint`).
    pub problems: Vec<Problem>,
    /// What `helm lint` warns about: fields it does not know.
    pub warnings: Vec<String>,
    /// Top-level fields Helm reads as strings, written as a scalar: their text as written.
    pub texts: Vec<(String, String)>,
}

/// The top-level fields Helm's `Metadata` holds as strings.
const STRING_FIELDS: [&str; 11] = [
    "name",
    "home",
    "version",
    "description",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "kubeVersion",
    "type",
];

/// Checks the top-level mapping of a Chart.yaml (`text` is the file, for quoting numbers as
/// written).
pub(crate) fn check(root: &[(Spanned<Node>, Spanned<Node>)], text: &str) -> Checked {
    let mut out = Checked::default();
    let mut cx = Cx { text, problems: Vec::new() };
    for (key, value) in root {
        let Node::String(name) = &key.value else {
            cx.problem(
                raw(text, key).unwrap_or("?"),
                key,
                "a field name that is not a string".into(),
                "Chart.yaml field names are plain words such as `name`; quote the key or remove the field",
            );
            continue;
        };
        out.lines.push((name.clone(), key.referenced.line()));
        if STRING_FIELDS.contains(&name.as_str()) {
            let text = match &value.value {
                Node::String(s) => Some(s.clone()),
                Node::Number | Node::Bool(_) => raw(text, value).map(str::to_owned),
                _ => None,
            };
            if let Some(text) = text {
                out.texts.push((name.clone(), text));
            }
        }
        match name.as_str() {
            "name" => {
                cx.string(name, value);
                if let Node::String(chart) = &value.value
                    && !chart.is_empty()
                    && !chart.contains(['/', '\\'])
                    && !is_lint_name(chart)
                {
                    out.warnings.push(format!(
                        "line {}: `name`: `{}` is not a chart name Helm recommends (lowercase letters, digits and `-`, starting and ending with a letter or digit); Helm 4.3 takes it, newer `helm lint` refuses it",
                        value.referenced.line(),
                        short(chart)
                    ));
                }
            }
            "home" | "description" | "apiVersion" | "condition" | "tags" | "kubeVersion" | "type" => {
                cx.string(name, value)
            }
            // A number is never a SemVer version: `version` is refused as one in validate.
            "version" => cx.string(name, value),
            "appVersion" => cx.string_not_number(name, value),
            "deprecated" => cx.boolean(name, value),
            "sources" => {
                cx.strings(name, value);
                cx.urls(name, value);
            }
            "keywords" => cx.strings(name, value),
            "icon" => {
                cx.string(name, value);
                cx.urls(name, value);
            }
            "annotations" => cx.annotations(name, value),
            "maintainers" => cx.maintainers(value),
            "dependencies" => cx.dependencies(value),
            other => out.warnings.push(format!(
                "line {}: `{other}` is not a Chart.yaml field Helm knows; it is packaged as written and Helm ignores it",
                key.referenced.line()
            )),
        }
    }
    out.problems = cx.problems;
    out
}

struct Cx<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

/// The source text of a node, when its span is known.
fn raw<'t, T>(text: &'t str, node: &Spanned<T>) -> Option<&'t str> {
    let span = node.referenced.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    text.get(start..start + len).filter(|s| !s.is_empty())
}

/// What a node is, in words: `the string "yes"`, `a list`.
fn found(node: &Spanned<Node>, text: &str) -> String {
    match &node.value {
        Node::Null => "null".into(),
        Node::Bool(b) => format!("the bool `{b}`"),
        Node::Number => format!("the number `{}`", raw(text, node).unwrap_or("?")),
        Node::String(s) => format!("the string `{}`", short(s)),
        Node::List(_) => "a list".into(),
        Node::Map(_) => "a mapping".into(),
    }
}

fn short(s: &str) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

fn is_scalar(node: &Node) -> bool {
    !matches!(node, Node::List(_) | Node::Map(_))
}

impl Cx<'_> {
    fn problem(&mut self, field: &str, at: &Spanned<Node>, message: String, help: &str) {
        self.problems.push(Problem {
            field: field.to_owned(),
            line: at.referenced.line(),
            message,
            help: help.to_owned(),
        });
    }

    fn wrong_type(&mut self, field: &str, at: &Spanned<Node>, expected: &str, help: &str) {
        let message = format!("{} where Helm expects {expected}", found(at, self.text));
        self.problem(field, at, message, help);
    }

    /// A string field: any scalar fills it (Helm prints numbers and bools back as text).
    fn string(&mut self, field: &str, value: &Spanned<Node>) {
        if !is_scalar(&value.value) {
            let help = format!("write one value: `{field}: <text>`; quote it when it starts with `[` or `{{`");
            self.wrong_type(field, value, "a string", &help);
        }
    }

    /// `appVersion` (and `version`): `helm lint` refuses a YAML number, which Helm reads back
    /// through a float (`1.10` is `1.1`).
    fn string_not_number(&mut self, field: &str, value: &Spanned<Node>) {
        match &value.value {
            Node::Number | Node::Bool(_) => {
                let written = raw(self.text, value).unwrap_or("?").to_owned();
                let read = helm_reads_number(&written);
                let trap = match &read {
                    Some(read) if *read != written => format!(", and Helm reads it as `{read}`"),
                    _ => String::new(),
                };
                self.problem(
                    field,
                    value,
                    format!("`{written}` is a YAML number, not a string{trap} (`helm lint`: {field} should be of type string)"),
                    &format!("quote it: `{field}: \"{written}\"`"),
                );
            }
            _ => self.string(field, value),
        }
    }

    fn boolean(&mut self, field: &str, value: &Spanned<Node>) {
        if !matches!(value.value, Node::Bool(_) | Node::Null) {
            let help = format!("write `{field}: true` or `{field}: false`, unquoted");
            self.wrong_type(field, value, "a bool (`true` or `false`)", &help);
        }
    }

    fn strings(&mut self, field: &str, value: &Spanned<Node>) {
        let help = format!("write a list of strings: `{field}: [a, b]`, or one `- item` per line");
        match &value.value {
            Node::Null => {}
            Node::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !is_scalar(&item.value) {
                        self.wrong_type(&format!("{field}[{i}]"), item, "a string", &help);
                    }
                }
            }
            _ => self.wrong_type(field, value, "a list of strings", &help),
        }
    }

    /// `helm lint`: every source and the icon must be a URL with a scheme.
    fn urls(&mut self, field: &str, value: &Spanned<Node>) {
        let check = |text: &str| text.is_empty() || is_request_url(text);
        match &value.value {
            Node::String(text) if !check(text) => self.problem(
                field,
                value,
                format!("`{}` is not a URL with a scheme (`helm lint` refuses it)", short(text)),
                "write a full URL such as `https://example.com/icon.png`, or remove the field",
            ),
            Node::List(items) if field == "sources" => {
                for (i, item) in items.iter().enumerate() {
                    let bad = match &item.value {
                        Node::String(text) => !is_request_url(text),
                        Node::Null => true,
                        _ => false,
                    };
                    if bad {
                        let text = if let Node::String(t) = &item.value { short(t) } else { String::new() };
                        self.problem(
                            &format!("{field}[{i}]"),
                            item,
                            format!("`{text}` is not a URL with a scheme (`helm lint` refuses it)"),
                            "write each source as a full URL such as `https://github.com/acme/hello`",
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn annotations(&mut self, field: &str, value: &Spanned<Node>) {
        let help = "write annotations as `key: value` lines whose values are strings; quote a value that is a list or mapping as text";
        match &value.value {
            Node::Null => {}
            Node::Map(entries) => {
                for (key, item) in entries {
                    if !is_scalar(&item.value) {
                        let name = match &key.value {
                            Node::String(s) => s.clone(),
                            _ => raw(self.text, key).unwrap_or("?").to_owned(),
                        };
                        self.wrong_type(&format!("{field}.{name}"), item, "a string", help);
                    }
                }
            }
            _ => self.wrong_type(field, value, "a mapping of strings (`key: value`)", help),
        }
    }

    fn maintainers(&mut self, value: &Spanned<Node>) {
        let help = "write each maintainer as a mapping: `- name: alice` with optional `email:` and `url:` lines";
        let items = match &value.value {
            Node::Null => return,
            Node::List(items) => items,
            _ => return self.wrong_type("maintainers", value, "a list of maintainers", help),
        };
        for (i, item) in items.iter().enumerate() {
            let field = format!("maintainers[{i}]");
            let Node::Map(entries) = &item.value else {
                if matches!(item.value, Node::Null) {
                    self.problem(&field, item, "an empty entry: Helm refuses null maintainers".into(), help);
                } else {
                    self.wrong_type(&field, item, "a mapping (`name`, `email`, `url`)", help);
                }
                continue;
            };
            let mut name = None;
            for (key, v) in entries {
                let Node::String(key) = &key.value else { continue };
                if !matches!(key.as_str(), "name" | "email" | "url") {
                    continue;
                }
                let sub = format!("{field}.{key}");
                if !is_scalar(&v.value) {
                    self.wrong_type(&sub, v, "a string", help);
                    continue;
                }
                let Node::String(text) = &v.value else {
                    // Helm reads `name: 1` as the text "1".
                    if key == "name" && !matches!(v.value, Node::Null) {
                        name = Some(raw(self.text, v).unwrap_or("?").to_owned());
                    }
                    continue;
                };
                match key.as_str() {
                    "name" => name = Some(text.clone()),
                    "email" if !text.is_empty() && !is_email(text) => self.problem(
                        &sub,
                        v,
                        format!("`{}` is not an email address (`helm lint` refuses it)", short(text)),
                        "write an address such as `alice@example.com`, or remove the line",
                    ),
                    "url" if !text.is_empty() && !is_url(text) => self.problem(
                        &sub,
                        v,
                        format!("`{}` is not a URL (`helm lint` refuses it)", short(text)),
                        "write a URL such as `https://example.com/alice`, or remove the line",
                    ),
                    _ => {}
                }
            }
            if name.as_deref().is_none_or(str::is_empty) {
                self.problem(
                    &field,
                    item,
                    "the maintainer has no `name` (`helm lint` refuses it)".into(),
                    "add `name: <person or organisation>` to the entry",
                );
            }
        }
    }

    fn dependencies(&mut self, value: &Spanned<Node>) {
        let help = "write each dependency as a mapping: `- name: redis`, `version: 1.2.3`, `repository: oci://…` (see `helm dependency`)";
        let items = match &value.value {
            Node::Null => return,
            Node::List(items) => items,
            _ => return self.wrong_type("dependencies", value, "a list of dependencies", help),
        };
        let mut seen: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("dependencies[{i}]");
            let Node::Map(entries) = &item.value else {
                if matches!(item.value, Node::Null) {
                    self.problem(&field, item, "an empty entry: Helm refuses null dependencies".into(), help);
                } else {
                    self.wrong_type(&field, item, "a mapping (`name`, `version`, `repository`, …)", help);
                }
                continue;
            };
            let mut name = String::new();
            let mut alias = String::new();
            for (key, v) in entries {
                let Node::String(key) = &key.value else { continue };
                let sub = format!("{field}.{key}");
                match key.as_str() {
                    "name" | "version" | "repository" | "condition" | "alias" => {
                        if !is_scalar(&v.value) {
                            self.wrong_type(&sub, v, "a string", help);
                            continue;
                        }
                        let text = match &v.value {
                            Node::String(s) => s.clone(),
                            Node::Null => String::new(),
                            _ => raw(self.text, v).unwrap_or_default().to_owned(),
                        };
                        if key == "name" {
                            name = text;
                        } else if key == "alias" {
                            if !text.is_empty() && !is_alias(&text) {
                                self.problem(
                                    &sub,
                                    v,
                                    format!(
                                        "`{}` is not a valid alias: Helm allows letters, digits, `_` and `-`",
                                        short(&text)
                                    ),
                                    "rename the alias using only letters, digits, `_` and `-`",
                                );
                            }
                            alias = text;
                        }
                    }
                    "tags" | "depends-on" => self.strings(&sub, v),
                    "enabled" => self.boolean(&sub, v),
                    "import-values" if !matches!(v.value, Node::List(_) | Node::Null) => self.wrong_type(
                        &sub,
                        v,
                        "a list",
                        "write `import-values:` as a list: `- child.key`, or `- child: a` with `parent: b`",
                    ),
                    _ => {}
                }
            }
            let key = if alias.is_empty() { name } else { alias };
            if seen.contains(&key) {
                self.problem(
                    &field,
                    item,
                    format!("more than one dependency with name or alias `{key}`"),
                    "give one of them a distinct `alias:`",
                );
            } else {
                seen.push(key);
            }
        }
    }
}

/// What Helm reads for a YAML number written in a string field: `sigs.k8s.io/yaml` turns an
/// integer into its decimal digits and a float into Go's shortest `%g`-style text.
pub(crate) fn helm_reads_number(written: &str) -> Option<String> {
    let plain = written.replace('_', "");
    if let Ok(n) = plain.parse::<i64>() {
        return Some(n.to_string());
    }
    let f: f64 = plain.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    // Go prints 1.0 as "1" and 1.10 as "1.1"; Rust's shortest round-trip form agrees for
    // the values people write as versions.
    let mut text = format!("{f}");
    if text.ends_with(".0") {
        text.truncate(text.len() - 2);
    }
    Some(text)
}

/// `helm lint`'s chart name rule: lowercase letters, digits and dashes, starting and ending
/// with a letter or digit.
pub(crate) fn is_lint_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

/// Helm's alias rule: `^[a-zA-Z0-9_-]+$`.
fn is_alias(alias: &str) -> bool {
    !alias.is_empty() && alias.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// An approximation of govalidator's `IsEmail`: one `@`, a local part, a dotted domain, no
/// spaces.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// govalidator's `IsRequestURL`: Go's `url.ParseRequestURI` accepts it and it has a scheme.
pub(crate) fn is_request_url(s: &str) -> bool {
    !s.chars().any(|c| c.is_whitespace() || c.is_control()) && reqwest::Url::parse(s).is_ok()
}

/// An approximation of govalidator's `IsURL`, which also takes a URL without a scheme
/// (`example.com/alice`).
fn is_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let with_scheme = if s.contains("://") { s.to_owned() } else { format!("http://{s}") };
    reqwest::Url::parse(&with_scheme).is_ok_and(|u| u.host_str().is_some_and(|h| h.contains('.') || h == "localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str) -> Checked {
        let root: Spanned<Node> = serde_saphyr::from_str(text).unwrap();
        let Node::Map(entries) = root.value else { panic!("not a mapping") };
        check(&entries, text)
    }

    fn problems(text: &str) -> Vec<String> {
        checked(text).problems.iter().map(|p| format!("{}:{}: {}", p.line, p.field, p.message)).collect()
    }

    const GOOD: &str = "apiVersion: v2\nname: hello\nversion: 0.1.0\n";

    #[test]
    fn a_full_chart_is_fine() {
        let text = format!(
            "{GOOD}appVersion: \"1.10\"\ndescription: 1\nhome: https://example.com\nsources: [https://github.com/a/b]\n\
             keywords: [a, 1]\nmaintainers:\n  - name: Ann\n    email: ann@example.com\n    url: https://ann.example.com\n\
             icon: https://example.com/i.png\ndeprecated: false\nannotations:\n  a: b\n  n: 1\nkubeVersion: \">=1.20\"\n\
             dependencies:\n  - name: redis\n    version: 1.x\n    repository: oci://r\n    tags: [a]\n    enabled: true\n    \
             import-values: [data]\n  - name: redis\n    alias: cache_2\ntype: application\n"
        );
        let c = checked(&text);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.lines[0], ("apiVersion".into(), 1));
        assert_eq!(c.lines[3], ("appVersion".into(), 4));
    }

    #[test]
    fn the_issue_table() {
        assert_eq!(
            problems(&format!("{GOOD}maintainers: [alice, bob]\n")),
            [
                "4:maintainers[0]: the string `alice` where Helm expects a mapping (`name`, `email`, `url`)",
                "4:maintainers[1]: the string `bob` where Helm expects a mapping (`name`, `email`, `url`)"
            ]
        );
        assert_eq!(
            problems(&format!("{GOOD}deprecated: \"yes\"\n")),
            ["4:deprecated: the string `yes` where Helm expects a bool (`true` or `false`)"]
        );
        assert_eq!(
            problems(&format!("{GOOD}keywords: {{a: b}}\n")),
            ["4:keywords: a mapping where Helm expects a list of strings"]
        );
        assert_eq!(
            problems(&format!("{GOOD}sources:\n  - [a]\n")),
            ["5:sources[0]: a list where Helm expects a string"]
        );
        assert_eq!(problems(&format!("{GOOD}home: [a]\n")), ["4:home: a list where Helm expects a string"]);
    }

    #[test]
    fn numbers_in_version_fields_are_the_float_trap() {
        let p = problems("apiVersion: v2\nname: hello\nversion: 0.1.0\nappVersion: 1.10\n");
        assert_eq!(
            p,
            [
                "4:appVersion: `1.10` is a YAML number, not a string, and Helm reads it as `1.1` (`helm lint`: appVersion should be of type string)"
            ]
        );
        let p = problems("apiVersion: v2\nname: hello\nversion: 0.1.0\nappVersion: 3\n");
        assert_eq!(
            p,
            ["4:appVersion: `3` is a YAML number, not a string (`helm lint`: appVersion should be of type string)"]
        );
        let c = checked("apiVersion: v2\nname: hello\nversion: 0.1.0\nappVersion: 1.10\n");
        assert_eq!(c.problems[0].help, "quote it: `appVersion: \"1.10\"`");
        assert_eq!(helm_reads_number("1.0").as_deref(), Some("1"));
        assert_eq!(helm_reads_number("2.50").as_deref(), Some("2.5"));
        assert_eq!(helm_reads_number("10").as_deref(), Some("10"));
    }

    #[test]
    fn entries_and_rules() {
        let p = problems(&format!(
            "{GOOD}maintainers:\n  - ~\n  - email: a@b.c\n  - name: x\n    email: nope\n    url: \"not a url\"\n  - name: 1\n"
        ));
        assert_eq!(
            p,
            [
                "5:maintainers[0]: an empty entry: Helm refuses null maintainers",
                "6:maintainers[1]: the maintainer has no `name` (`helm lint` refuses it)",
                "8:maintainers[2].email: `nope` is not an email address (`helm lint` refuses it)",
                "9:maintainers[2].url: `not a url` is not a URL (`helm lint` refuses it)",
            ]
        );
        let p = problems(&format!(
            "{GOOD}dependencies:\n  - name: a\n    alias: b.c\n  - name: a\n  - name: a\n    tags: x\n    enabled: \"yes\"\n  - ~\n  - x\n"
        ));
        assert_eq!(
            p,
            [
                "6:dependencies[0].alias: `b.c` is not a valid alias: Helm allows letters, digits, `_` and `-`",
                "9:dependencies[2].tags: the string `x` where Helm expects a list of strings",
                "10:dependencies[2].enabled: the string `yes` where Helm expects a bool (`true` or `false`)",
                "8:dependencies[2]: more than one dependency with name or alias `a`",
                "11:dependencies[3]: an empty entry: Helm refuses null dependencies",
                "12:dependencies[4]: the string `x` where Helm expects a mapping (`name`, `version`, `repository`, …)",
            ]
        );
        assert_eq!(
            problems(&format!("{GOOD}annotations:\n  a: [1]\n")),
            ["5:annotations.a: a list where Helm expects a string"]
        );
        assert_eq!(
            problems(&format!("{GOOD}annotations: x\n")),
            ["4:annotations: the string `x` where Helm expects a mapping of strings (`key: value`)"]
        );
    }

    #[test]
    fn unknown_fields_are_warnings() {
        let c = checked(&format!("{GOOD}x-team: core\n"));
        assert!(c.problems.is_empty());
        assert_eq!(
            c.warnings,
            ["line 4: `x-team` is not a Chart.yaml field Helm knows; it is packaged as written and Helm ignores it"]
        );
    }

    #[test]
    fn a_name_helm_does_not_recommend_is_a_warning() {
        let c = checked("apiVersion: v2\nname: Hello_World\nversion: 0.1.0\n");
        assert!(c.problems.is_empty());
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].starts_with("line 2: `name`: `Hello_World` is not a chart name Helm recommends"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn lint_names_and_urls() {
        for good in ["a", "hello", "my-chart2", "0x"] {
            assert!(is_lint_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "Hello", "my_chart", "a.b"] {
            assert!(!is_lint_name(bad), "{bad}");
        }
        assert!(is_request_url("https://github.com/a/b"));
        assert!(!is_request_url("github.com/a/b"));
        assert!(!is_request_url(""));
        assert!(is_url("example.com/alice") && is_url("https://example.com"));
        assert!(!is_url("not a url"));
        assert!(is_email("a@example.com") && !is_email("a@b") && !is_email("nope"));
    }
}
