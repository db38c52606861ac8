//! The pipeline through the binary: snapshot of the bundled example, plans, exit codes.

use release_tests::Project;

const MINIMAL: &str = r#"
[project]
version = "1.2.3"

[[build]]
name = "app"
command = ["cp", "src/app.txt", "out/app"]
artifacts = ["out/app"]
"#;

fn minimal() -> Project {
    let project = Project::new();
    project.config(MINIMAL).file("src/app.txt", "the app\n").file("out/.keep", "");
    project
}

#[test]
fn snapshot_of_the_bundled_example_checks_out_with_sha256sum() {
    let project = Project::from_example("hello");
    let run = project.release(["run", "--snapshot"]).run();
    run.success();
    let dist = project.join("dist");
    assert_eq!(run.stdout.trim(), dist.as_str(), "the dist path is the last thing printed");
    let check =
        std::process::Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&dist).output().unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&check.stdout));
    let sums = project.read("dist/SHA256SUMS");
    // The binary ships in its archive (see rust.rs for what is inside).
    assert!(sums.contains("  hello-") && sums.contains("-v0.3.1.tar.gz\n"), "{sums}");
}

#[test]
fn plan_json_lists_steps_in_stage_order() {
    let project = minimal();
    let run = project.release(["plan", "--json"]).run();
    run.success();
    let plan = run.json();
    let steps = plan["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "preflight:identity",
            "preflight:build-tools",
            "preflight:dist",
            "build:prepare-dist",
            "build:app",
            "package:checksums"
        ]
    );
    let stages: Vec<&str> = steps.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["preflight", "preflight", "preflight", "build", "build", "package"]);
    assert_eq!(plan["version"], "1.2.3");
    assert_eq!(plan["tag"], "v1.2.3");
    assert!(!project.exists("out/app") && !project.exists("dist"), "planning ran nothing");
}

#[test]
fn unknown_config_field_is_a_usage_error_naming_file_line_and_field() {
    let project = minimal();
    project.config("[project]\nversion = \"1.0.0\"\n\n[[build]]\nname = \"a\"\ncommand = [\"true\"]\nartefacts = []\n");
    let run = project.release(["run", "--snapshot"]).run();
    run.code(2).stderr_has("release.toml:7:1: unknown field `artefacts`");
}

#[test]
fn missing_artifact_fails_the_step_naming_path_and_command() {
    let project = minimal();
    project.config(&MINIMAL.replace("artifacts = [\"out/app\"]", "artifacts = [\"out/app\", \"out/never\"]"));
    let run = project.release(["run", "--snapshot"]).run();
    run.code(1).stderr_has("out/never was not produced by `cp src/app.txt out/app`");
    assert!(!project.exists("dist/SHA256SUMS"), "later steps did not run");
}

#[test]
fn failing_build_command_stops_the_run() {
    let project = minimal();
    project.config(&MINIMAL.replace("src/app.txt", "src/missing.txt"));
    let run = project.release(["run", "--snapshot"]).run();
    run.code(1).stderr_has("error: build:app: `cp src/missing.txt out/app` failed").stderr_has("cannot stat");
    assert!(!project.exists("dist/SHA256SUMS"), "later steps did not run");
}

#[test]
fn missing_build_program_fails_preflight_before_anything_is_built() {
    let project = minimal();
    project.config(&MINIMAL.replace("[\"cp\"", "[\"no-such-compiler\""));
    let run = project.release(["run", "--snapshot"]).run();
    run.code(3)
        .stderr_has("the program `no-such-compiler` is not on PATH")
        .stderr_has("nothing was built or published");
    assert!(!project.exists("dist"), "the build stage never started");
}

#[test]
fn artifact_that_is_a_directory_is_an_error() {
    let project = minimal();
    project.config(&MINIMAL.replace("artifacts = [\"out/app\"]", "artifacts = [\"out\"]"));
    project.release(["run", "--snapshot"]).run().code(1).stderr_has("is a directory, not a file");
}

#[test]
fn json_report_of_a_snapshot_run() {
    let project = minimal();
    let run = project.release(["--json", "run", "--snapshot"]).run();
    run.success();
    let report = run.json();
    assert_eq!(report["success"], true);
    assert_eq!(report["mode"], "snapshot");
    let artifacts = report["artifacts"].as_array().unwrap();
    let app = artifacts.iter().find(|a| a["name"] == "app").expect("app artifact");
    assert_eq!(app["sha256"], release_core::sha256_hex(b"the app\n"));
}

#[test]
fn inside_github_actions_steps_are_grouped_and_summarised() {
    let project = minimal();
    let summary = project.join("summary.md");
    let outputs = project.join("outputs.txt");
    let run = project
        .release(["run", "--snapshot"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.as_str())
        .env("GITHUB_OUTPUT", outputs.as_str())
        .run();
    run.success().stdout_has("::group::build:app: run `cp src/app.txt out/app`").stdout_has("::endgroup::");
    let table = project.read("summary.md");
    assert!(table.contains("| `build:app` | build | ✅ ok |"), "{table}");
    assert!(project.read("outputs.txt").contains("tag=v1.2.3\n"));

    project.config(&MINIMAL.replace("src/app.txt", "src/missing.txt"));
    let run = project.release(["run", "--snapshot"]).env("GITHUB_ACTIONS", "true").run();
    run.code(1).stdout_has("::error title=release%3A build%3Aapp::`cp src/missing.txt out/app` failed");
}

#[test]
fn sigterm_during_the_build_stops_cleanly_and_nothing_later_runs() {
    use std::io::{BufRead, BufReader, Read};
    let project = Project::new();
    project.config(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"slow\"\ncommand = [\"sleep\", \"600\"]\nartifacts = [\"never\"]\n",
    );
    let mut child = project.release(["run", "--snapshot"]).spawn();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Wait until the build step has started, then interrupt.
    while !seen.contains("==> build:slow") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "release exited early:\n{seen}");
        seen.push_str(&line);
    }
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    stderr.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("`sleep 600` was stopped: the run was interrupted"), "{seen}");
    assert!(seen.contains("run the same command again to resume"), "{seen}");
    assert!(!project.exists("dist/SHA256SUMS"), "no step after the interrupted one ran");
}
