//! The architecture invariants a test can hold (ARCHITECTURE.md, "Architecture invariants"),
//! checked on the source text: cheap, and each one fails the moment the code drifts.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

/// Every `.rs` file under `src/`, relative to it, with its text up to its unit tests.
fn sources() -> BTreeMap<Utf8PathBuf, String> {
    fn walk(dir: &Utf8Path, root: &Utf8Path, out: &mut BTreeMap<Utf8PathBuf, String>) {
        for entry in dir.read_dir_utf8().unwrap() {
            let path = entry.unwrap().into_path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension() == Some("rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = match text.find("#[cfg(test)]\nmod tests") {
                    Some(at) => text[..at].to_owned(),
                    None => text,
                };
                out.insert(path.strip_prefix(root).unwrap().to_owned(), code);
            }
        }
    }
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 40, "the sources were found: {}", out.len());
    out
}

fn files_containing<'a>(sources: &'a BTreeMap<Utf8PathBuf, String>, needle: &str) -> Vec<&'a str> {
    sources.iter().filter(|(_, text)| text.contains(needle)).map(|(path, _)| path.as_str()).collect()
}

const STAGES: [(&str, &str); 7] = [
    ("preflight", "Preflight"),
    ("build", "Build"),
    ("package", "Package"),
    ("sign", "Sign"),
    ("verify", "Verify"),
    ("publish", "Publish"),
    ("finalize", "Finalize"),
];

/// A listing of `steps/<stage>/` answers "what runs in stage X": every built-in step is in
/// the folder of the stage its id names, and nowhere else. A step's id is made in its own
/// file, or by a helper of its stage folder's `mod.rs` (the build steps share one); no file of
/// a stage folder makes an id of another stage.
#[test]
fn every_built_in_step_lives_in_the_folder_of_its_stage() {
    let sources = sources();
    let mut steps = 0;
    for (path, text) in &sources {
        let parts: Vec<&str> = path.as_str().split('/').collect();
        if parts.len() == 3 && parts[0] == "steps" {
            let (folder, variant) = STAGES.iter().find(|(f, _)| *f == parts[1]).expect("a stage folder");
            let ids = text.matches("StepId::new(Stage::").count();
            let own = text.matches(&format!("StepId::new(Stage::{variant},")).count();
            assert_eq!(ids, own, "{path}: a file in steps/{folder}/ makes an id of another stage");
        }
        let impls = text.matches("impl Step for ").count();
        if impls == 0 {
            continue;
        }
        steps += impls;
        assert!(parts.len() == 3 && parts[0] == "steps", "{path} implements Step outside steps/<stage>/");
        let (folder, variant) = STAGES.iter().find(|(f, _)| *f == parts[1]).expect("a stage folder");
        let own_ids = text.contains(&format!("StepId::new(Stage::{variant},"));
        let stage_mod = &sources[Utf8Path::new(&format!("steps/{folder}/mod.rs"))];
        let helper = stage_mod
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("pub(crate) fn "))
            .filter(|l| l.contains("-> StepMeta"))
            .filter_map(|l| l.split('(').next())
            .any(|name| text.contains(&format!("{name}(")));
        assert!(own_ids || helper, "{path}: a step in steps/{folder}/ must have an id of stage {folder}");
    }
    assert!(steps >= 21, "every built-in step was found ({steps})");
}

/// The public surface is the crate root plus two front-end modules; everything else is
/// private, so the engine can change without breaking embedders.
#[test]
fn only_the_curated_modules_are_public() {
    let sources = sources();
    let lib = &sources[Utf8Path::new("lib.rs")];
    let public: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).collect();
    assert_eq!(public, ["actions;", "signing;"]);
    for module in ["actions/mod.rs", "signing/mod.rs"] {
        let text = &sources[Utf8Path::new(module)];
        assert!(!text.lines().any(|l| l.starts_with("pub mod ")), "{module} exposes a whole submodule");
    }
}

/// One session per remote per run: GitHub clients and registry credentials are made in one
/// place each, so every step shares them (and one pacer per API and token).
#[test]
fn remotes_are_reached_through_the_run_sessions_only() {
    let sources = sources();
    assert_eq!(files_containing(&sources, "GithubClient::new("), ["session.rs"]);
    assert_eq!(files_containing(&sources, "credentials::resolve("), ["oci/session.rs"]);
    assert_eq!(files_containing(&sources, ".oci_client("), ["oci/session.rs"]);
    assert!(files_containing(&sources, "fn paced_by").is_empty(), "an unpaced client cannot be made");
    // Each remote's protocol is in its session: a step gets failures already classified and
    // a push-scoped registry handle, and never opens a session of its own.
    assert_eq!(files_containing(&sources, "GithubError::classify("), ["github/session.rs", "step.rs"]);
    assert_eq!(files_containing(&sources, "push_token("), ["oci/registry.rs", "oci/retry.rs"]);
    let steps_resolving: Vec<&str> =
        files_containing(&sources, "resolve_token(").into_iter().filter(|f| f.starts_with("steps/")).collect();
    assert!(steps_resolving.is_empty(), "steps get their token from the session: {steps_resolving:?}");
    assert_eq!(files_containing(&sources, "CratesSession::open("), ["session.rs"]);
}

/// Imports run one way: domain modules never import a step (only the assembly and the step
/// folders do), and the hand-off table imports no step either (the values it carries are
/// domain types), so a new step depends on the table and the domain and nothing depends on it.
#[test]
fn imports_run_from_steps_to_the_domain_only() {
    let sources = sources();
    let importers: Vec<&str> = files_containing(&sources, "crate::steps::")
        .into_iter()
        .filter(|path| !path.starts_with("steps/") || *path == "steps/handoffs.rs")
        .collect();
    assert_eq!(importers, ["assemble.rs"], "only the assembly names steps outside steps/");
}

/// Steps pass values only through declared hand-offs, and a chart has one identity, made in
/// one place, read from Chart.yaml by the helm module only.
#[test]
fn hand_offs_are_typed_and_charts_have_one_identity() {
    let sources = sources();
    assert_eq!(files_containing(&sources, "TypeId"), ["step.rs"]);
    assert_eq!(files_containing(&sources, "ChartId::all("), ["assemble.rs"]);
    let yaml_readers: Vec<&str> = files_containing(&sources, "serde_saphyr::")
        .into_iter()
        .filter(|path| !path.starts_with("helm/") && *path != "actions/yaml.rs")
        .collect();
    assert!(yaml_readers.is_empty(), "YAML parsed outside helm/ and the workflow reader: {yaml_readers:?}");
}

/// The file a `crate::` path names: the longest prefix of it that is a file of `src/`.
fn file_of(path: &[&str], sources: &BTreeMap<Utf8PathBuf, String>) -> Option<Utf8PathBuf> {
    for len in (1..=path.len()).rev() {
        let base = path[..len].join("/");
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if sources.contains_key(Utf8Path::new(&candidate)) {
                return Some(candidate.into());
            }
        }
    }
    None
}

/// Every `crate::…` path in `code` (outside comments), with `crate::a::{b, c::d}` groups
/// spelled out.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    fn expand(prefix: &[String], text: &str, out: &mut Vec<Vec<String>>) {
        // `text` starts right after a `::` or a `{`: a path, maybe ending in a group.
        let mut depth = 0;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in text.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&text[start..]);
        for item in items {
            let item = item.trim();
            let (head, group) = match item.find('{') {
                Some(at) => (&item[..at], Some(&item[at + 1..item.rfind('}').unwrap_or(item.len())])),
                None => (item, None),
            };
            let mut path = prefix.to_vec();
            path.extend(
                head.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "self")
                    .map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_owned()),
            );
            match group {
                Some(group) => expand(&path, group, out),
                None => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let end = if after.starts_with('{') || after.contains("::{") && after.find("::{") < after.find(';') {
                // A group: up to its closing brace (on this line; `use` groups spanning
                // lines are joined below).
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            } else {
                after.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(after.len())
            };
            let text = after[..end].trim_start_matches('{');
            let text = if after.starts_with('{') { text.trim_end_matches('}') } else { text };
            expand(&[], text, &mut out);
            rest = &after[end..];
        }
    }
    out
}

/// The file → file import graph of `src/`, from `crate::` paths (unit tests left out).
fn import_graph() -> BTreeMap<Utf8PathBuf, std::collections::BTreeSet<Utf8PathBuf>> {
    let sources = sources();
    let mut graph = BTreeMap::new();
    for (file, code) in &sources {
        // Multi-line `use crate::x::{…};` groups read as one line.
        let joined = join_use_groups(code);
        let mut targets = std::collections::BTreeSet::new();
        for path in crate_paths(&joined) {
            let parts: Vec<&str> = path.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
            if let Some(target) = file_of(&parts, &sources)
                && target != *file
                && target != "lib.rs"
            {
                targets.insert(target);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

fn join_use_groups(code: &str) -> String {
    let mut out = String::new();
    let mut open = 0i32;
    for line in code.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            out.push('\n');
            continue;
        }
        out.push_str(line);
        open += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        let in_use_group = open > 0
            && (trimmed.starts_with("use crate::")
                || trimmed.starts_with("pub use crate::")
                || trimmed.starts_with("pub(crate) use crate::"));
        if in_use_group
            || (!out.ends_with(';')
                && out.rsplit('\n').next().is_some_and(|l| l.trim_start().contains("use crate::") && !l.contains(';')))
        {
            out.push(' ');
        } else {
            out.push('\n');
            open = 0;
        }
    }
    out
}

/// The strongly connected components of the graph with more than one file (Tarjan).
fn import_circles(graph: &BTreeMap<Utf8PathBuf, std::collections::BTreeSet<Utf8PathBuf>>) -> Vec<Vec<Utf8PathBuf>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Utf8PathBuf, std::collections::BTreeSet<Utf8PathBuf>>,
        index: BTreeMap<&'a Utf8PathBuf, (usize, usize)>,
        stack: Vec<&'a Utf8PathBuf>,
        on_stack: std::collections::BTreeSet<&'a Utf8PathBuf>,
        next: usize,
        out: Vec<Vec<Utf8PathBuf>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Utf8PathBuf) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let Some((w, _)) = self.graph.get_key_value(w) else { continue };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.index[w].1.min(self.index[v].1);
                    self.index.get_mut(v).unwrap().1 = low;
                } else if self.on_stack.contains(w) {
                    let low = self.index[w].0.min(self.index[v].1);
                    self.index.get_mut(v).unwrap().1 = low;
                }
            }
            if self.index[v].0 == self.index[v].1 {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: Default::default(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}

/// `cargo test -p release-core --test layout no_two_modules -- --nocapture` prints every
/// import circle among the files of `src/`, and there may be none: the base files, the
/// domain, the steps and the assembly import downwards only.
#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let graph = import_graph();
    let edges: usize = graph.values().map(|t| t.len()).sum();
    assert!(edges > 200, "the imports were read: {edges}");
    let circles = import_circles(&graph);
    for circle in &circles {
        println!(
            "circle of {} files: {}",
            circle.len(),
            circle.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    println!("{} import circle(s), {} imports among {} files", circles.len(), edges, graph.len());
    assert!(circles.is_empty(), "import circles: {circles:?}");
}

/// The step API is imported by the steps, the runner and the assembly only: no domain
/// module imports it. Domain code takes plain data
/// (`artifact.rs`) and reports through `io::Io`.
#[test]
fn only_the_steps_runner_and_assembly_import_the_step_api() {
    let graph = import_graph();
    let importers: Vec<&str> = graph
        .iter()
        .filter(|(file, targets)| !file.starts_with("steps/") && targets.iter().any(|t| t == "step.rs"))
        .map(|(file, _)| file.as_str())
        .collect();
    assert_eq!(importers, ["assemble.rs", "runner.rs"]);
}

/// `Build` + `prepare_dist` → `BuildPrepareDist`.
fn camel(words: &str) -> String {
    words
        .split(['_', '-'])
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The text of a file before its `#[cfg(test)]` part.
fn non_test(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// One naming rule: `steps/<stage>/<kind>.rs` holds `struct <Stage><Kind>` whose id is
/// `<stage>:<kind>[:<subject>]`. The two build steps are the exception the plan already
/// has: their kind is the user's build name (`build:app`), so only their file and struct
/// follow the rule.
#[test]
fn a_step_is_named_by_its_file_its_struct_and_its_id_alike() {
    let sources = sources();
    let mut checked = 0;
    for (path, text) in &sources {
        let parts: Vec<&str> = path.as_str().split('/').collect();
        let (3, Some("steps")) = (parts.len(), parts.first().copied()) else { continue };
        let Some(stem) = parts[2].strip_suffix(".rs") else { continue };
        if ["mod", "tests"].contains(&stem) || !text.contains("impl Step for ") {
            continue;
        }
        let (_, variant) = STAGES.iter().find(|(f, _)| *f == parts[1]).expect("a stage folder");
        let structs: Vec<&str> = text
            .match_indices("impl Step for ")
            .map(|(at, needle)| text[at + needle.len()..].split([' ', '{', '<']).next().unwrap_or(""))
            .collect();
        let wanted = format!("{variant}{}", camel(stem));
        assert_eq!(structs, [wanted.as_str()], "{path}: the step is `struct {wanted}`");
        let kind = stem.replace('_', "-");
        if parts[1] != "build" || !["cargo", "command"].contains(&stem) {
            // `StepId::new(Stage::Preflight, "kind")`, or the kind chosen there by a setting.
            let id = format!("StepId::new(Stage::{variant}, ");
            let named = text.contains(&format!("{id}\"{kind}\")")) || text.contains(&format!("\"{kind}\""));
            assert!(text.contains(&id) && named, "{path}: the id is `{}:{kind}`", parts[1]);
        }
        checked += 1;
    }
    assert!(checked >= 40, "every step file was checked ({checked})");
}

/// A step file imports from its own stage's folder, the hand-off table, the shared step
/// helpers (`steps/mod.rs`) and the domain, never from another stage's folder: what two
/// stages share lives in the domain (settings, helpers) or in `steps/handoffs.rs`.
#[test]
fn no_step_file_imports_another_stages_folder() {
    let sources = sources();
    let mut found = Vec::new();
    for (path, text) in &sources {
        let parts: Vec<&str> = path.as_str().split('/').collect();
        if parts.len() != 3 || parts[0] != "steps" || parts[2] == "tests.rs" {
            continue;
        }
        let code = non_test(text);
        for (folder, _) in STAGES {
            if folder == parts[1] {
                continue;
            }
            for needle in [format!("crate::steps::{folder}"), format!("super::super::{folder}")] {
                if code.contains(&needle) {
                    found.push(format!("{path} uses {needle}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// The longest functions of the files under `dir`, each `(lines, file, line, name)`, counted
/// from the `fn` line to its closing brace (string and character literals left out of the
/// brace count).
fn function_lengths(dir: &Utf8Path) -> Vec<(usize, String, usize, String)> {
    let start = regex::Regex::new(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)").unwrap();
    let literal = regex::Regex::new(r#""(\\.|[^"\\])*"|'(\\.|[^'\\])'"#).unwrap();
    let mut found = Vec::new();
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in at.read_dir_utf8().unwrap() {
            let path = entry.unwrap().path().to_owned();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension() == Some("rs") {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = start.captures(line).and_then(|c| c.get(6)) else { continue };
            let (mut depth, mut opened) = (0i64, false);
            let mut end = None;
            'scan: for (j, line) in lines.iter().enumerate().skip(i) {
                let code = literal.replace_all(line, "\"\"");
                let code = code.split("//").next().unwrap_or("");
                for c in code.chars() {
                    match c {
                        '{' => (depth, opened) = (depth + 1, true),
                        '}' => {
                            depth -= 1;
                            if opened && depth == 0 {
                                end = Some(j);
                                break 'scan;
                            }
                        }
                        ';' if !opened => break 'scan,
                        _ => {}
                    }
                }
            }
            if let Some(end) = end {
                found.push((end - i + 1, file.to_string(), i + 1, name.as_str().to_owned()));
            }
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    found
}

/// No function of the library or of the test servers is over 120 lines: a long one is split
/// into the named parts it already has (`cargo test -p release-core --test layout
/// no_function -- --nocapture` prints the five longest).
#[test]
fn no_function_is_over_120_lines() {
    let manifest = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut lengths = function_lengths(&manifest.join("src"));
    lengths.extend(function_lengths(&manifest.join("../tests/src")));
    lengths.sort_by(|a, b| b.cmp(a));
    assert!(lengths.len() > 500, "the functions were read: {}", lengths.len());
    for (lines, file, line, name) in lengths.iter().take(5) {
        println!("{lines} lines: {name} ({file}:{line})");
    }
    let long: Vec<_> = lengths.iter().filter(|(lines, ..)| *lines > 120).collect();
    assert!(long.is_empty(), "functions over 120 lines: {long:#?}");
}
