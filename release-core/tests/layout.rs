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
