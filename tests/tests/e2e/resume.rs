//! Journal and resume: a run after a failure skips the local steps the failed run finished
//! (their files unchanged), re-checks the remote state, and completes. A build command
//! appends to `count` each time it really runs, so the tests see what was redone.

use release_tests::github_server::{Fault, FaultAction, GithubServer, Level, Route, TokenSpec, Visibility};
use release_tests::{Finished, Project};

const REPO: &str = "acme/hello";
const TOKEN: &str = "ghs_resume0123456789";

/// `app` counts its runs; `second` fails until the file `ok` exists.
fn project(github: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
version = "1.2.3"

[[build]]
name = "app"
command = ["sh", "-c", "echo run >> count; cp src/app.txt out/app"]
artifacts = ["out/app"]

[[build]]
name = "second"
command = ["sh", "-c", "test -f ok && cp src/app.txt out/second"]
artifacts = ["out/second"]

[network]
github-mutation-interval-ms = 0
{github}
"#
        ))
        .file("src/app.txt", "the app\n")
        .file("out/.keep", "");
    project
}

fn runs(project: &Project) -> usize {
    project.read("count").lines().count()
}

#[track_caller]
fn statuses(run: &Finished) -> Vec<(String, String)> {
    run.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["status"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_rerun_after_a_failed_build_reuses_the_finished_one() {
    let project = project("");
    project
        .release(["run", "--snapshot"])
        .run()
        .code(1)
        .stderr_has("once the cause above is fixed, the same command resumes from the failed step");
    assert_eq!(runs(&project), 1);
    assert!(project.exists("dist/.release-journal.json"), "the journal lives inside dist");
    assert!(!project.exists(".release-journal.json"), "nothing beside dist");

    project.file("ok", "");
    let rerun = project.release(["--json", "run", "--snapshot"]).run();
    rerun
        .success()
        .stderr_has("resuming the failed run recorded in")
        .stderr_has("skip build:app: done in an earlier run");
    assert_eq!(runs(&project), 1, "the finished build did not run again");
    let statuses = statuses(&rerun);
    assert!(statuses.contains(&("build:app".into(), "done-earlier".into())), "{statuses:?}");
    assert!(statuses.contains(&("build:second".into(), "ok".into())), "{statuses:?}");
    // The reused artifact is published like a fresh one: listed in SHA256SUMS.
    let sums = project.read("dist/SHA256SUMS");
    assert!(sums.contains(" app\n") && sums.contains(" second\n"), "{sums}");

    // A finished run is not resumed: the next run builds afresh.
    project.release(["run", "--snapshot"]).run().success();
    assert_eq!(runs(&project), 2);
}

#[test]
fn changed_outputs_a_changed_config_or_fresh_build_again() {
    let project = project("");
    project.release(["run", "--snapshot"]).run().code(1);
    assert_eq!(runs(&project), 1);

    // A recorded artifact changed in dist: its step runs again.
    std::fs::write(project.join("dist/app"), "tampered\n").unwrap();
    project.release(["run", "--snapshot"]).run().code(1);
    assert_eq!(runs(&project), 2, "a changed artifact is rebuilt");
    assert_eq!(project.read("dist/app"), "the app\n");

    // --fresh ignores the journal.
    project.release(["run", "--snapshot", "--fresh"]).run().code(1);
    assert_eq!(runs(&project), 3);

    // Another config is another plan: the journal does not apply.
    project.config(&project.read("release.toml").replace("version = \"1.2.3\"", "version = \"1.2.4\""));
    project.release(["run", "--snapshot"]).run().code(1);
    assert_eq!(runs(&project), 4);
    // ...but the same config again resumes.
    project.file("ok", "");
    project.release(["run", "--snapshot"]).run().success();
    assert_eq!(runs(&project), 4);
}

#[test]
fn a_failed_publish_resumes_without_rebuilding_and_rechecks_github() {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    // The second upload fails for good in the first run: on every attempt, since the network
    // policy retries a 502.
    server.inject(
        Fault::new(Route::UploadAsset, 2, FaultAction::FailUploadAfter { bytes: 1, status: 502, leave_starter: true })
            .always(),
    );
    let project = project(&format!("[github]\nrepository = \"{REPO}\"\n"));
    project.file("ok", "");
    let release = |project: &Project| {
        project.release(["run", "--verbose"]).env("GITHUB_API_URL", server.api_url()).env("GH_TOKEN", TOKEN).run()
    };
    release(&project).code(1).stderr_has("publish:github-release");
    assert_eq!(runs(&project), 1);
    assert!(server.releases(REPO)[0].draft, "nothing was published");

    server.clear_faults();
    let rerun = release(&project);
    rerun.success().stderr_has("skip build:app: done in an earlier run").stderr_has("continuing the draft release");
    assert_eq!(runs(&project), 1, "the build was not redone");
    let releases = server.releases(REPO);
    assert_eq!(releases.len(), 1);
    assert!(!releases[0].draft);
    let mut names: Vec<&str> = releases[0].assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["SHA256SUMS", "app", "second"]);
    for asset in &releases[0].assets {
        assert_eq!(asset.bytes, std::fs::read(project.join("dist").join(&asset.name)).unwrap(), "{}", asset.name);
    }
}
