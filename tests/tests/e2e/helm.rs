//! Helm chart packaging through the binary: the chart package in a snapshot run, its line in
//! SHA256SUMS, and chart problems stopping the run in preflight. Every package written is
//! loaded by the real Helm (`release_tests::helm`).

use release_tests::Project;
use release_tests::helm::{helm_show_chart, shown_field};

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
    let line = format!("{}  hello-0.1.0.tgz\n", release_core::checksum::sha256_hex(&bytes));
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
            "preflight:build-tools",
            "preflight:charts",
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
        .stderr_has("charts/web/Chart.yaml: `version`: `1.0` is not a SemVer 2 version")
        .stderr_has("stamp-version = true")
        .stderr_has("nothing was built or published");
    assert!(!project.exists("dist"), "the build stage never started");
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
