//! What a user reads, as snapshots: `release plan` (text and JSON), the `--json` reports,
//! the run's progress and the error texts that matter most. Each text passes through
//! [`shown`] first, which replaces what differs between runs and machines (the project's
//! temporary path, commit ids, durations, loopback ports, the host triple) with a
//! placeholder; everything else must stay byte for byte. `cargo insta review` after an
//! intended change.

use release_tests::fixtures::Fixture;
use release_tests::github_server::{Level, TokenSpec, Visibility};
use release_tests::{Finished, Project};

use crate::github::{REPO, TOKEN, server_with, writer};

/// The text with what varies between runs replaced.
fn shown(project: &Project, text: &str) -> String {
    let mut text = text.replace(project.path().as_str(), "[ROOT]");
    let rules: [(&str, &str); 8] = [
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"\(\d+\.\ds\)", "([SECONDS])"),
        (r"(finished|stopped) in \d+\.\ds", "$1 in [SECONDS]"),
        (r#""elapsed_ms": \d+"#, r#""elapsed_ms": "[MS]""#),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu", "[HOST]"),
        (r#""started_at": "[^"]+""#, r#""started_at": "[TIME]""#),
    ];
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern).unwrap().replace_all(&text, replacement).into_owned();
    }
    text
}

/// stdout and stderr of a run, with its exit code, for one snapshot. Preflight steps run
/// concurrently, so the progress lines (`==>`, `ok`, `skip`, Actions groups) are left out
/// and the warnings, whose order is theirs, are sorted; the rest keeps its order.
fn both(project: &Project, run: &Finished) -> String {
    shown(
        project,
        &format!("exit {}\n--- stdout\n{}--- stderr\n{}", run.code, steady(&run.stdout), steady(&run.stderr)),
    )
}

fn steady(text: &str) -> String {
    let progress = |line: &str| {
        ["==> ", "    ok ", "    skip ", "    FAIL ", "ok ", "skip ", "FAIL ", "::group::", "::endgroup::"]
            .iter()
            .any(|p| line.starts_with(p))
    };
    // Blocks: a line and the indented lines after it.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines().filter(|l| !progress(l)) {
        match blocks.last_mut() {
            Some(block) if line.starts_with(' ') => block.push(line),
            _ => blocks.push(vec![line]),
        }
    }
    let warning = |b: &Vec<&str>| b[0].starts_with("warning:") || b[0].starts_with("::warning");
    let mut warnings: Vec<String> = blocks.iter().filter(|b| warning(b)).map(|b| b.join("\n")).collect();
    warnings.sort();
    let rest: Vec<String> = blocks.iter().filter(|b| !warning(b)).map(|b| b.join("\n")).collect();
    warnings.into_iter().chain(rest).map(|b| b + "\n").collect()
}

/// A small project: one command build, a version, a changelog.
fn small(extra: &str) -> Project {
    Fixture::new("1.2.3")
        .name("hello")
        .command_build("app", "the app\n")
        .changelog("## [1.2.3] - 2026-12-01\n\n- First.\n")
        .toml(extra)
        .project()
}

/// Commits the project, then changes a tracked file the harness leaves uncommitted.
fn change_after_commit(project: &Project) {
    project.head();
    project.leave_tree_as_is();
    std::fs::write(project.join("src/app.txt"), "changed\n").unwrap();
}

const GITHUB: &str = "\n[github]\nrepository = \"acme/hello\"\n";

#[test]
fn plan_of_the_bundled_example() {
    let project = Project::from_example("hello");
    let plan = project.release(["plan", "--snapshot"]).run();
    plan.success();
    insta::assert_snapshot!("plan_example_text", shown(&project, &plan.stdout));
    let json = project.release(["--json", "plan", "--snapshot"]).run();
    json.success();
    insta::assert_snapshot!("plan_example_json", shown(&project, &json.stdout));
}

#[test]
fn plan_of_a_github_release_in_actions_on_a_branch() {
    let project = small(GITHUB);
    let plan = project
        .release(["plan"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_REF_TYPE", "branch")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .run();
    plan.success();
    insta::assert_snapshot!("plan_github_dispatch", shown(&project, &plan.stdout));
}

#[test]
fn plan_of_a_matrix_release() {
    let project = small("");
    project.config(
        "[project]\nversion = \"1.2.3\"\n\n[[build]]\nname = \"app\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && cp src/app.txt out/app\"]\nartifacts = [{ path = \"out/app\", name = \"app-{target}\" }]\ntargets = [\"x86_64-unknown-linux-musl\", \"aarch64-apple-darwin\"]\n",
    );
    let plan = project.release(["plan", "--matrix"]).run();
    plan.success();
    insta::assert_snapshot!("plan_matrix", shown(&project, &plan.stdout));
}

#[test]
fn a_snapshot_run_and_its_json_report() {
    let project = small("");
    let run = project.release(["run", "--snapshot"]).run();
    run.success();
    insta::assert_snapshot!("run_snapshot_text", both(&project, &run));
    let json = project.release(["--json", "run", "--snapshot"]).run();
    json.success();
    insta::assert_snapshot!("run_snapshot_json", shown(&project, &json.stdout));
    insta::assert_snapshot!("sha256sums", project.read("dist/SHA256SUMS"));
}

#[test]
fn a_release_published_to_github_and_its_json_report() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = small(GITHUB);
    let sha = project.head();
    let json =
        project.release(["--json", "run"]).env("GITHUB_API_URL", server.api_url()).env("GITHUB_TOKEN", TOKEN).run();
    json.success();
    let text = shown(&project, &json.stdout).replace(&server.api_url(), "[API]");
    insta::assert_snapshot!("run_github_json", text);
    assert_eq!(server.tag_commit(REPO, "v1.2.3"), sha);
    insta::assert_snapshot!("github_release_body", server.release_body(REPO, "v1.2.3").unwrap_or_default());
}

#[test]
fn the_pushed_tag_refusal() {
    let project = small("");
    let run = project
        .release(["preflight"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", "refs/tags/v1.2.4")
        .env("GITHUB_REF_NAME", "v1.2.4")
        .env("GITHUB_REF_TYPE", "tag")
        .run();
    insta::assert_snapshot!("error_pushed_tag", both(&project, &run));
}

#[test]
fn the_dirty_tree_and_no_repository_refusals() {
    let project = small("");
    change_after_commit(&project);
    insta::assert_snapshot!("error_dirty_tree", both(&project, &project.release(["preflight"]).run()));
    let outside = small("").without_git();
    insta::assert_snapshot!("error_no_repository", both(&outside, &outside.release(["preflight"]).run()));
}

#[test]
fn several_identity_refusals_at_once() {
    let project = small("\n[[chart]]\npath = \"charts/web\"\n");
    project.file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.2.2\"\n");
    change_after_commit(&project);
    let run = project
        .release(["preflight"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_REF_NAME", "v9.0.0")
        .run();
    insta::assert_snapshot!("error_identity_several", both(&project, &run));
}

#[test]
fn a_dist_that_is_the_project_root() {
    let project = small("");
    project.file(
        "release.toml",
        project.read("release.toml").replace("version = \"1.2.3\"\n", "version = \"1.2.3\"\ndist = \".\"\n"),
    );
    insta::assert_snapshot!("error_dist_root", both(&project, &project.release(["run", "--snapshot"]).run()));
}

#[test]
fn a_config_with_an_unknown_field_and_a_bad_version() {
    let project = Project::new();
    project.config("[project]\nversion = \"one\"\ncolour = \"blue\"\n");
    insta::assert_snapshot!("error_config_unknown_field", both(&project, &project.release(["plan"]).run()));
    project.config("[project]\nversion = \"one\"\n");
    insta::assert_snapshot!("error_config_bad_version", both(&project, &project.release(["plan"]).run()));
}

#[test]
fn a_read_only_github_token() {
    let reader = TokenSpec::integration().repository(REPO).permission("contents", Level::Read);
    let server = server_with(TOKEN, reader, Visibility::Public);
    let project = small(GITHUB);
    let run = project.release(["preflight"]).env("GITHUB_API_URL", server.api_url()).env("GITHUB_TOKEN", TOKEN).run();
    let text = both(&project, &run).replace(&server.api_url(), "[API]");
    insta::assert_snapshot!("error_github_read_only", text);
}

#[test]
fn a_changelog_without_the_section_and_a_tag_elsewhere_on_github() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = small(GITHUB);
    project.file("CHANGELOG.md", "# Changelog\n\n## [1.2.2] - 2026-11-01\n\n- Older.\n");
    project.head();
    server.seed_tag(REPO, "v1.2.3", "0123456789abcdef0123456789abcdef01234567", true);
    let run = project.release(["preflight"]).env("GITHUB_API_URL", server.api_url()).env("GITHUB_TOKEN", TOKEN).run();
    let text = both(&project, &run).replace(&server.api_url(), "[API]");
    insta::assert_snapshot!("error_changelog_and_remote_tag", text);
}

#[test]
fn a_failed_preflight_as_a_json_report() {
    let project = small("");
    let run = project
        .release(["--json", "preflight"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_REF_NAME", "v2.0.0")
        .run();
    run.code(3);
    insta::assert_snapshot!("preflight_failed_json", shown(&project, &run.stdout));
}

#[test]
fn the_command_line_help() {
    let project = Project::new().without_git();
    insta::assert_snapshot!("help", project.release(["--help"]).run().stdout);
    insta::assert_snapshot!("help_run", project.release(["run", "--help"]).run().stdout);
}

/// `--json` prints exactly one JSON document on stdout, in GitHub Actions too: the workflow
/// commands (the masks first, the log groups, the annotations) go to stderr, which the
/// runner reads them from as well.
#[test]
fn json_is_one_document_on_stdout_inside_github_actions() {
    let project = small("");
    let in_actions = |args: &[&str]| {
        project
            .release(args.iter().copied())
            .env("GITHUB_ACTIONS", "true")
            .env("GH_TOKEN", "ghs_MASKEDVALUE123")
            .env("GITHUB_REF_TYPE", "branch")
            .env("GITHUB_REF_NAME", "main")
            .run()
    };
    for args in [&["--json", "run", "--snapshot"][..], &["--json", "plan"][..], &["--json", "preflight"][..]] {
        let run = in_actions(args);
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&run.stdout);
        assert!(parsed.is_ok(), "{args:?}: stdout is not one JSON document:\n{}", run.stdout);
        assert!(!run.stdout.contains("::"), "{args:?}: a workflow command on stdout:\n{}", run.stdout);
        assert!(run.stderr.starts_with("::add-mask::ghs_MASKEDVALUE123\n"), "{args:?}: {}", run.stderr);
        assert!(!run.stdout.contains("MASKEDVALUE") && !run.stderr[30..].contains("MASKEDVALUE"));
    }
    let run = in_actions(&["--json", "run", "--snapshot"]);
    run.success().stderr_has("::group::build:app: ");
    // A failure: the JSON report on stdout, the annotation on stderr.
    let failed = project
        .release(["--json", "preflight"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_REF_NAME", "v9.9.9")
        .run();
    failed
        .code(3)
        .stderr_has("::error title=release%3A preflight%3Aidentity::the workflow runs for the pushed tag v9.9.9");
    let report: serde_json::Value = serde_json::from_str(&failed.stdout).expect("one JSON document");
    assert_eq!(report["mode"], "dry-run", "{report}");
    // Without --json the commands stay on stdout, where the log groups are.
    in_actions(&["run", "--snapshot"]).success().stdout_has("::group::build:app: ");
}
