//! Helm chart packaging through the binary: the chart package in a snapshot run, its line in
//! SHA256SUMS, and chart problems stopping the run in preflight. Every package written is
//! loaded by the real Helm (`release_tests::helm`).

use release_tests::Project;
use release_tests::helm::{helm_show_chart, helm_verdict, shown_field};

/// Loads a packaged chart with the real Helm and checks its name and version.
#[track_caller]
fn helm_loads(package: &camino::Utf8Path, name: &str, version: &str) -> String {
    let shown = helm_show_chart(package.as_str()).unwrap_or_else(|err| panic!("Helm cannot load {package}: {err}"));
    assert_eq!(shown_field(&shown, "name").as_deref(), Some(name), "{shown}");
    assert_eq!(shown_field(&shown, "version").as_deref(), Some(version), "{shown}");
    shown
}

/// A project with a build that leaves a marker, and a chart.
fn project_with_chart(chart_yaml: &str) -> Project {
    let project = Project::new();
    project
        .config(
            r#"
[project]
version = "2.0.0"

[[build]]
name = "app"
command = ["cp", "src/app.txt", "out/app"]
artifacts = ["out/app"]

[[chart]]
path = "charts/web"
stamp-app-version = true
"#,
        )
        .file("src/app.txt", "the app\n")
        .file("out/.keep", "")
        .file("charts/web/Chart.yaml", chart_yaml)
        .file("charts/web/values.yaml", "replicaCount: 1\n")
        .file("charts/web/templates/deployment.yaml", "kind: Deployment\n")
        .file("charts/web/.helmignore", "*.tmp\n")
        .file("charts/web/notes.tmp", "not packaged\n");
    project
}

fn tar_listing(path: &camino::Utf8Path) -> Vec<String> {
    let out = std::process::Command::new("tar").args(["--numeric-owner", "-tzvf"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn snapshot_packages_the_bundled_chart_and_lists_it_in_sha256sums() {
    let project = Project::from_example("hello");
    let run = project.release(["run", "--snapshot"]).run();
    run.success();
    let package = project.join("dist/hello-0.1.0.tgz");
    let bytes = std::fs::read(&package).expect("the chart package is in dist");
    let sums = project.read("dist/SHA256SUMS");
    let line = format!("{}  hello-0.1.0.tgz\n", release_core::sha256_hex(&bytes));
    assert!(sums.contains(&line), "{sums}");

    let listing = tar_listing(&package);
    assert!(listing[0].ends_with(" hello/Chart.yaml"), "{listing:?}");
    assert!(listing.iter().all(|l| l.starts_with("-rw-r--r-- 0/0 ")), "{listing:?}");
    assert!(listing.iter().any(|l| l.ends_with(" hello/templates/deployment.yaml")), "{listing:?}");
    helm_loads(&package, "hello", "0.1.0");

    // The same chart again: the same bytes.
    project.release(["run", "--snapshot"]).run().success();
    assert_eq!(std::fs::read(&package).unwrap(), bytes, "a second snapshot writes identical bytes");
}

#[test]
fn snapshot_writes_a_stamped_package_before_the_checksums() {
    let project = project_with_chart("apiVersion: v2\nname: web\nversion: 0.4.0\nappVersion: \"0.0.0\"\n");
    let plan = project.release(["plan", "--json"]).arg("--snapshot").run();
    plan.success();
    let plan = plan.json();
    let ids: Vec<&str> = plan["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "preflight:identity",
            "preflight:build-tools",
            "preflight:charts",
            "preflight:dist",
            "build:prepare-dist",
            "build:app",
            "package:chart:web",
            "package:checksums"
        ]
    );
    assert!(plan["steps"].as_array().unwrap().iter().all(|s| s.get("skipped").is_none()), "{plan}");

    let run = project.release(["run", "--snapshot"]).run();
    run.success();
    let package = project.join("dist/web-0.4.0.tgz");
    let names: Vec<String> = tar_listing(&package).iter().map(|l| l.rsplit(' ').next().unwrap().to_owned()).collect();
    assert_eq!(names, ["web/Chart.yaml", "web/.helmignore", "web/templates/deployment.yaml", "web/values.yaml"]);
    let chart_yaml =
        std::process::Command::new("tar").args(["-xzOf"]).arg(&package).arg("web/Chart.yaml").output().unwrap();
    let chart_yaml = String::from_utf8(chart_yaml.stdout).unwrap();
    assert!(chart_yaml.contains("\nappVersion: \"2.0.0\"\n"), "{chart_yaml}");
    let shown = helm_loads(&package, "web", "0.4.0");
    assert_eq!(shown_field(&shown, "appVersion").as_deref(), Some("2.0.0"), "{shown}");
    let sums = project.read("dist/SHA256SUMS");
    assert!(sums.contains("  web-0.4.0.tgz\n") && sums.contains("  app\n"), "{sums}");
}

#[test]
fn bad_chart_yaml_fails_preflight_before_the_build() {
    let project = project_with_chart("apiVersion: v2\nname: web\nversion: 1.0\n");
    let run = project.release(["run", "--snapshot"]).run();
    run.code(3)
        .stderr_has("charts/web/Chart.yaml:3: `version`: `1.0` is not a SemVer 2 version")
        .stderr_has("stamp-version = true")
        .stderr_has("nothing was built or published");
    assert!(!project.exists("dist"), "the build stage never started");
}

#[test]
fn fields_helm_does_not_know_are_kept_with_a_warning_and_helm_loads_the_chart() {
    let project = project_with_chart(
        "apiVersion: v2\nname: web\nversion: 0.4.0\nx-team: core\ndescription: 1.50\nmaintainers:\n  - name: ann\n",
    );
    let run = project.release(["run", "--snapshot"]).run();
    run.success().stderr_has(
        "charts/web/Chart.yaml: line 4: `x-team` is not a Chart.yaml field Helm knows; it is packaged as written and Helm ignores it",
    );
    let package = project.join("dist/web-0.4.0.tgz");
    let chart_yaml =
        std::process::Command::new("tar").args(["-xzOf"]).arg(&package).arg("web/Chart.yaml").output().unwrap();
    let chart_yaml = String::from_utf8(chart_yaml.stdout).unwrap();
    assert!(chart_yaml.contains("x-team: core\n"), "kept as written: {chart_yaml}");
    assert!(chart_yaml.contains("description: \"1.50\"\n"), "a number in a text field keeps its text: {chart_yaml}");
    let shown = helm_loads(&package, "web", "0.4.0");
    assert_eq!(shown_field(&shown, "description").as_deref(), Some("1.50"), "{shown}");
    assert!(!shown.contains("x-team"), "Helm ignores the field: {shown}");
}

#[test]
fn a_chart_yaml_helm_cannot_load_fails_preflight_with_line_and_field() {
    let project =
        project_with_chart("apiVersion: v2\nname: web\nversion: 0.4.0\nmaintainers: [alice]\ndeprecated: \"yes\"\n");
    let run = project.release(["run", "--snapshot"]).run();
    run.code(3)
        .stderr_has("charts/web/Chart.yaml:4: `maintainers[0]`: the string `alice` where Helm expects a mapping (`name`, `email`, `url`)")
        .stderr_has("charts/web/Chart.yaml:5: `deprecated`: the string `yes` where Helm expects a bool (`true` or `false`)")
        .stderr_has("help: write each maintainer as a mapping")
        .stderr_has("write `deprecated: true` or `deprecated: false`, unquoted");
    assert!(!project.exists("dist"), "the build stage never started");

    // Inside GitHub Actions: one annotation on each line of Chart.yaml to change.
    let annotated = project
        .release(["run", "--snapshot"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", project.path().as_str())
        .run();
    annotated.code(3).stdout_has(
        "\n::error file=charts/web/Chart.yaml,line=4,title=release%3A preflight%3Acharts::`maintainers[0]`: the string `alice` where Helm expects a mapping (`name`, `email`, `url`)\n",
    );
    assert_eq!(annotated.stdout.matches("::error file=charts/web/Chart.yaml,").count(), 2, "{}", annotated.stdout);
}

#[test]
fn link_out_of_the_chart_fails_preflight() {
    let project = project_with_chart("apiVersion: v2\nname: web\nversion: 1.0.0\n");
    project.file("secret.txt", "do not package\n");
    std::os::unix::fs::symlink("../../../secret.txt", project.join("charts/web/templates/secret.txt")).unwrap();
    let run = project.release(["run", "--snapshot"]).run();
    run.code(3).stderr_has(
        "templates/secret.txt: the symbolic link points to ../../../secret.txt, outside the chart directory",
    );
    assert!(!project.exists("dist"));
}

#[test]
fn chart_path_outside_the_project_is_a_usage_error() {
    let project = project_with_chart("apiVersion: v2\nname: web\nversion: 1.0.0\n");
    project.config("[project]\nversion = \"1.0.0\"\n[[chart]]\npath = \"../web\"\n");
    project.release(["run", "--snapshot"]).run().code(2).stderr_has("`chart[0].path`: `../web` contains `..`");
}

/// Chart.yaml variants: every field Helm knows, each with values of the right type (some
/// on the edge: numbers and bools where Helm reads a string, nulls) and, less often, wrong
/// ones; a field Helm does not know; a subchart in charts/ or not.
mod chart_yaml_variants {
    use proptest::prelude::*;
    use proptest::sample::select;

    type Values = &'static [&'static str];

    /// One optional line per field (`""` leaves the field out): mostly a right value,
    /// sometimes a wrong one, so that a good share of the charts pass preflight.
    fn field(name: &'static str, right: Values, wrong: Values) -> impl Strategy<Value = String> {
        prop_oneof![24 => select(right), 1 => select(wrong)]
            .prop_map(move |v| if v.is_empty() { String::new() } else { format!("{name}: {v}\n") })
    }

    pub(super) fn chart_yaml() -> impl Strategy<Value = (String, bool)> {
        let head = (
            field("apiVersion", &["v2"], &["", "v1", "[v2]"]),
            field("name", &["hello", "hello-2", "\"hello\""], &["Hello", "my_chart", "[hello]", "", "\"\"", "a/b"]),
            field(
                "version",
                &["0.1.0", "1.2.3-rc.1+b.5", "\"0.2.0\""],
                &["1.0", "\"1.0\"", "v1.2.3", "[1]", "", "0.0.0-0"],
            ),
            field("appVersion", &["\"1.10\"", "", "v2.0", "\"\"", "1.2.3"], &["1.10", "3", "true", "[a]"]),
            field("description", &["A chart", "1.5", "yes", "", "\"with: colon\"", "~"], &["{a: b}", "[a]"]),
            field("type", &["application", "library", "", "\"\""], &["plugin", "[x]"]),
        );
        let urls = (
            field("home", &["https://example.com", "not a url", "", "42"], &["[https://example.com]", "{a: b}"]),
            field("icon", &["https://example.com/i.png", ""], &["icon.png", "{a: b}"]),
            field(
                "sources",
                &["[https://github.com/a/b]", "", "~", "[]"],
                &["[[https://a]]", "https://a", "{a: b}", "[~]", "[\"\"]"],
            ),
        );
        let lists = (
            field("keywords", &["[a, b]", "[1, true]", "[~]", "", "[]"], &["{a: b}", "a", "[[a]]"]),
            field(
                "maintainers",
                &[
                    "[{name: ann, email: ann@example.com, url: https://ann.example.com}]",
                    "[{name: ann}]",
                    "[{name: 1}]",
                    "",
                ],
                &[
                    "[alice, bob]",
                    "[~]",
                    "[{email: a@example.com}]",
                    "{name: a}",
                    "[{name: a, url: [x]}]",
                    "[{name: a, email: nope}]",
                ],
            ),
            field("deprecated", &["true", "false", "~", ""], &["\"yes\"", "yes", "1"]),
            field("annotations", &["{a: b}", "{a: 1}", "{a: ~}", "{a: true}", ""], &["{a: [1]}", "[a]", "{a: {b: c}}"]),
            field("kubeVersion", &["\">=1.20.0-0\"", "1.2", ""], &["[a]"]),
            field("condition", &["sub.enabled", ""], &["[a]"]),
            field("tags", &["front", "", "1"], &["{a: b}"]),
            field("x-team", &["core", ""], &["[1, {a: b}]"]),
        );
        let deps = prop_oneof![
            6 => select(&[
                "",
                "dependencies: [{name: sub, version: 0.1.0, repository: \"file://charts/sub\"}]\n",
                "dependencies: [{name: sub, tags: [a], enabled: true, import-values: [data], alias: sub_2}]\n",
                "dependencies: [{name: sub, version: 1, condition: ~}]\n",
            ][..]),
            1 => select(&[
                "dependencies: [{name: sub, alias: bad.alias}]\n",
                "dependencies: [{name: sub, alias: sub_2, enabled: \"yes\"}]\n",
                "dependencies: [{name: sub, tags: x}]\n",
                "dependencies: [{name: sub, import-values: x}]\n",
                "dependencies: [{name: sub}, {name: sub}]\n",
                "dependencies: [~]\n",
                "dependencies: {name: sub}\n",
            ][..]),
        ];
        // The subchart is in charts/ when a dependency names it, mostly; sometimes not.
        let mismatch = prop_oneof![7 => Just(false), 1 => Just(true)];
        (head, urls, lists, deps, mismatch).prop_map(|(head, urls, lists, deps, mismatch)| {
            let (a, b, c, d, e, f) = head;
            let (g, h, i) = urls;
            let (j, k, l, m, n, o, p, q) = lists;
            let subchart = deps.contains("name: sub") != mismatch;
            ([a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, deps.to_owned()].concat(), subchart)
        })
    }
}

/// Where preflight is knowingly stricter than Helm 4.3: `deprecated: yes` (Helm's YAML 1.1
/// reader takes it for `true`), a version Helm's loose SemVer takes but that is not strict
/// SemVer 2 (needed for the OCI tag), and Helm 2 (`apiVersion: v1`) charts.
const STRICTER_THAN_HELM: [&str; 4] =
    ["deprecated: yes\n", "version: \"1.0\"\n", "version: v1.2.3\n", "apiVersion: v1\n"];

/// Whatever Chart.yaml our preflight accepts, the package we write is loaded by the real
/// Helm with the same name and version; and whatever it refuses, Helm refuses too (its
/// loader, `helm package`, or an error of `helm lint`), but for the documented places where
/// preflight is stricter. 64 generated charts; at least a few must pass preflight, or the
/// property proved little.
#[test]
fn every_chart_preflight_accepts_helm_loads() {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let accepted = std::cell::Cell::new(0);
    let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&chart_yaml_variants::chart_yaml(), |(chart_yaml, subchart)| {
        let tmp = tempfile::tempdir().unwrap();
        let root = camino::Utf8Path::from_path(tmp.path()).unwrap();
        let dir = root.join("charts/hello");
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("Chart.yaml"), &chart_yaml).unwrap();
        std::fs::write(dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\n").unwrap();
        if subchart {
            std::fs::create_dir_all(dir.join("charts/sub")).unwrap();
            std::fs::write(dir.join("charts/sub/Chart.yaml"), "apiVersion: v2\nname: sub\nversion: 0.1.0\n").unwrap();
        }
        // Through the library's public surface, as an embedder would: a snapshot release of
        // this one chart (preflight:charts, then package:chart).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let run = |stamp: &str| {
            std::fs::write(
                root.join("release.toml"),
                format!("[project]\nversion = \"1.0.0\"\n[[chart]]\npath = \"charts/hello\"\n{stamp}"),
            )
            .unwrap();
            let config = release_core::Config::load(&root.join("release.toml")).unwrap();
            let pipeline = release_core::pipeline(
                &config,
                &release_core::Environment::empty(),
                release_core::Mode::Snapshot,
                &release_core::Overrides::default(),
            )
            .unwrap();
            runtime.block_on(pipeline.run(&release_core::Recorder::default())).map_err(Box::new)
        };
        let mut outcome = run("");
        // An `appVersion` that is not the release's breaks the release policy
        // (`preflight:identity`), which is none of Helm's business: the chart check passed,
        // so the same chart is packaged with its `appVersion` stamped.
        if let Err(failure) = &outcome
            && failure.failures.iter().all(|(id, _)| id == "preflight:identity")
        {
            outcome = run("stamp-app-version = true\n");
        }
        let written = match outcome {
            Ok(report) => report
                .artifacts
                .into_iter()
                .find(|a| a.kind == release_core::ArtifactKind::Chart)
                .expect("a packaged chart"),
            Err(_) if STRICTER_THAN_HELM.iter().any(|s| chart_yaml.contains(s)) => return Ok(()),
            Err(failure) => {
                let verdict = helm_verdict(&dir);
                if !verdict.refuses() {
                    return Err(TestCaseError::fail(format!(
                        "preflight refused, Helm loads, lints and packages it:\n{chart_yaml}\nours: {failure}"
                    )));
                }
                return Ok(());
            }
        };
        accepted.set(accepted.get() + 1);
        let shown = helm_show_chart(written.path.as_str()).map_err(|err| {
            TestCaseError::fail(format!(
                "preflight accepted this Chart.yaml, Helm refuses the package: {err}\n{chart_yaml}"
            ))
        })?;
        // The package is `<name>-<version>.tgz` of the Chart.yaml as packaged.
        let named = match (shown_field(&shown, "name"), shown_field(&shown, "version")) {
            (Some(name), Some(version)) => format!("{name}-{version}.tgz"),
            _ => String::new(),
        };
        let same = named == written.name;
        if !same {
            return Err(TestCaseError::fail(format!(
                "Helm reads another name or version:\n{shown}\nfrom\n{chart_yaml}"
            )));
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    eprintln!("{} of 64 generated charts passed preflight and were loaded by Helm", accepted.get());
    assert!(accepted.get() >= 4, "only {} of 64 generated charts passed preflight", accepted.get());
}
