//! The release is what it claims to be (`preflight:identity`, and the tag on GitHub in
//! `preflight:github-tag-rules`): the pushed tag, the commit, every version written in the
//! tree, the tree and the changelog agree before anything is built, in a simulated GitHub
//! Actions job and outside one. Every refused run has a deliberately slow build first in
//! line, which must never start.

use release_tests::fixtures::Fixture;
use release_tests::github_server::{GithubServer, Visibility};
use release_tests::{Finished, Project, ReleaseCommand};

use crate::github::{REPO, TOKEN, server_with, writer};

/// A workspace at 0.4.0 (`[workspace.package]`, inherited by `app`); `tool` states 0.3.9 of
/// its own. The slow build runs first and leaves `started` behind if it ever starts.
fn workspace(release_toml: &str) -> Project {
    let project = Project::new();
    project
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"tool\"]\nresolver = \"2\"\n\n[workspace.package]\nedition = \"2021\"\nversion = \"0.4.0\"\n",
        )
        .file(
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\npublish = false\n",
        )
        .file("app/src/main.rs", "fn main() { println!(\"app {}\", env!(\"CARGO_PKG_VERSION\")); }\n")
        .file(
            "tool/Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"0.3.9\"\nedition = \"2021\"\ndescription = \"a tool\"\nlicense = \"MIT\"\n",
        )
        .file("tool/src/lib.rs", "pub fn tool() {}\n")
        .file(".gitignore", "/target/\n/dist/\n")
        .config(&format!(
            "[project]\nname = \"acme\"\nversion-from = \"Cargo.toml\"\n\n{SLOW_BUILD}\n[[build]]\nname = \"app\"\ncargo = {{ package = \"app\", bins = [\"app\"] }}\n{release_toml}"
        ));
    project
}

const SLOW_BUILD: &str = "[[build]]\nname = \"slow\"\ncommand = [\"sh\", \"-c\", \"touch started; sleep 60\"]\n";

/// The environment of a GitHub Actions job for a push of `tag`.
fn tag_push(command: ReleaseCommand, tag: &str) -> ReleaseCommand {
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", format!("refs/tags/{tag}"))
        .env("GITHUB_REF_NAME", tag)
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_EVENT_NAME", "push")
}

#[track_caller]
fn refused_before_the_build(project: &Project, run: &Finished) {
    run.code(3).stderr_has("preflight failed: nothing was built or published");
    assert!(!project.exists("started"), "the slow build started:\n{}", run.stderr);
}

#[test]
fn a_pushed_tag_that_is_not_the_version_in_cargo_toml_stops_plan_snapshot_and_preflight() {
    let project = workspace("");
    let message = "the workflow runs for the pushed tag v0.4.1 (GITHUB_REF_NAME), but this release is v0.4.0: version 0.4.0 from version in";
    let snapshot = tag_push(project.release(["run", "--snapshot"]), "v0.4.1").run();
    refused_before_the_build(&project, &snapshot);
    snapshot.stderr_has(message).stderr_has("set the version to 0.4.1");
    let preflight = tag_push(project.release(["preflight"]), "v0.4.1").run();
    refused_before_the_build(&project, &preflight);
    preflight.stderr_has(message);
    // The plan shows the identity and what preflight will refuse.
    let plan = tag_push(project.release(["plan"]), "v0.4.1").run();
    plan.success()
        .stdout_has("  project   acme\n")
        .stdout_has("  tag       v0.4.0 (template `v{version}`)\n")
        .stdout_has("  trigger   tag push v0.4.1 (GITHUB_REF_NAME)\n")
        .stdout_has("  versions  package app workspace.package.version (inherited) = 0.4.0 in Cargo.toml:7")
        .stdout_has(&format!("  refused   {message}"));
    let json = tag_push(project.release(["--json", "plan"]), "v0.4.1").run();
    json.success();
    let identity = &json.json()["identity"];
    assert_eq!(identity["trigger"], serde_json::json!({"kind": "tag-push", "tag": "v0.4.1"}));
    assert_eq!(identity["commit"]["source"], "HEAD");
    assert_eq!(identity["commit"]["sha"], project.git(&["rev-parse", "HEAD"]));
    // The tag the push names passes.
    tag_push(project.release(["plan"]), "v0.4.0").run().success().stdout_has("trigger   tag push v0.4.0");
}

#[test]
fn a_member_that_overrides_the_inherited_version_and_release_version_against_the_binaries() {
    let project = workspace("[[build]]\nname = \"tool\"\ncargo = { package = \"tool\", bins = [\"tool\"] }\n");
    let run = project.release(["run", "--snapshot"]).run();
    refused_before_the_build(&project, &run);
    run.stderr_has(
        "tool/Cargo.toml:3: `package.version` of package tool is 0.3.9, but the release is 0.4.0 (from version in",
    );

    // --release-version against what the binaries say of themselves.
    let project = workspace("");
    let run = project.release(["run", "--snapshot", "--release-version", "0.4.1"]).run();
    refused_before_the_build(&project, &run);
    run.stderr_has(
        "Cargo.toml:7: `workspace.package.version (inherited)` of package app is 0.4.0, but the release is 0.4.1 (from --release-version)",
    )
    .stderr_has("the binaries and packages would say 0.4.0: set the version to 0.4.1 in the file named, or drop --release-version");
}

#[test]
fn a_chart_app_version_that_is_not_the_release_is_refused_unless_stamped() {
    let chart = "[[chart]]\npath = \"charts/web\"\n";
    let project = workspace(chart);
    project.file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.7.0\nappVersion: \"0.3.0\"\n");
    let run = project.release(["run", "--snapshot"]).run();
    refused_before_the_build(&project, &run);
    run.stderr_has("charts/web/Chart.yaml:4: `appVersion` of chart charts/web is 0.3.0, but the release is 0.4.0");
    // The chart's own version is its own; `v0.4.0` is the release's too; stamping decides.
    project.file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.7.0\nappVersion: v0.4.0\n");
    let plan = project.release(["plan"]).run();
    plan.success()
        .stdout_has("versions  chart charts/web version = 1.7.0 in charts/web/Chart.yaml:3 (its own)")
        .stdout_has(
            "versions  chart charts/web appVersion = v0.4.0 in charts/web/Chart.yaml:4 (must be the release version)",
        );
    assert!(!plan.stdout.contains("refused"), "{}", plan.stdout);
    let stamped = workspace(&format!("{chart}stamp-app-version = true\n"));
    stamped.file("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.7.0\nappVersion: \"0.3.0\"\n");
    stamped
        .release(["plan"])
        .run()
        .success()
        .stdout_has("appVersion = 0.3.0 in charts/web/Chart.yaml:4 (stamped with the release version)");
}

#[test]
fn a_crate_to_publish_at_another_version_is_refused() {
    let project = workspace("[crates]\npackages = [\"tool\"]\n");
    let run = project.release(["run", "--snapshot"]).run();
    refused_before_the_build(&project, &run);
    run.stderr_has("tool/Cargo.toml: `package.version` of crate tool is 0.3.9, but the release is 0.4.0")
        .stderr_has("`crates.own-versions = true`");
}

#[test]
fn a_dirty_tree_is_refused_for_a_release_warned_for_a_snapshot_and_allowed_with_allow_dirty() {
    let project = workspace("");
    project.head();
    project.leave_tree_as_is();
    std::fs::write(project.join("app/src/main.rs"), "fn main() { println!(\"changed\"); }\n").unwrap();
    let preflight = project.release(["preflight"]).run();
    refused_before_the_build(&project, &preflight);
    preflight
        .stderr_has("the work tree has uncommitted changes to 1 tracked file(s): app/src/main.rs")
        .stderr_has("commit or stash them (`git stash`)");
    let allowed = project.release(["preflight", "--allow-dirty"]).run();
    allowed.success().stderr_has("app/src/main.rs; released anyway (--allow-dirty)");
    allowed.stderr_has("1 changed file(s) released as they are (--allow-dirty)");
    // A snapshot warns and goes on: the plan says the same.
    project
        .release(["plan", "--snapshot"])
        .run()
        .success()
        .stdout_has("tree      1 tracked file(s) changed")
        .stdout_has("warning   the work tree has uncommitted changes to 1 tracked file(s): app/src/main.rs; a release would be refused");
}

#[test]
fn outside_a_git_repository_a_release_is_refused_and_a_snapshot_says_what_it_did_not_check() {
    let project = Project::new().without_git();
    project.config("[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && echo app > out/app\"]\nartifacts = [\"out/app\"]\n");
    let preflight = project.release(["preflight"]).run();
    preflight
        .code(3)
        .stderr_has("the project is not in a git repository: the commit, the tag and the tree cannot be checked")
        .stderr_has("release from a clone of the repository (`git clone`), or pass --allow-dirty");
    project
        .release(["run", "--snapshot"])
        .run()
        .success()
        .stderr_has("warning: preflight:identity: the project is not in a git repository: the commit, the tag and the tree cannot be checked");
    assert!(!project.exists(".git"), "nothing made a repository");
}

#[test]
fn a_local_tag_at_another_commit_is_refused_for_a_release_and_warned_for_a_snapshot() {
    let project = workspace("");
    project.head();
    project.git(&["tag", "v0.4.0"]);
    let tagged = project.git(&["rev-parse", "HEAD"]);
    project.file("README.md", "a later commit\n");
    let head = project.head();
    let preflight = project.release(["preflight"]).run();
    refused_before_the_build(&project, &preflight);
    preflight.stderr_has(&format!(
        "the tag v0.4.0 exists in this repository at commit {}, but the commit being released is {} (HEAD)",
        &tagged[..12],
        &head[..12]
    ));
    project
        .release(["plan", "--snapshot"])
        .run()
        .success()
        .stdout_has(&format!("warning   the tag v0.4.0 exists in this repository at commit {}", &tagged[..12]));
    // At the tagged commit the release goes ahead.
    project.git(&["checkout", "-q", "v0.4.0"]);
    let plan = project.release(["plan"]).run();
    plan.success().stdout_has(&format!("the tag v0.4.0 exists at {}", &tagged[..12]));
    assert!(!plan.stdout.contains("refused"), "{}", plan.stdout);
}

/// A project released to the GitHub test server, with notes from its changelog.
fn github_project(changelog: &str) -> Project {
    Fixture::new("0.4.0")
        .name("acme")
        .command_build("app", "app\n")
        .github(REPO)
        .file("CHANGELOG.md", changelog)
        .project()
}

/// [`github_project`] with the slow build first in line: for the runs that must be refused
/// before it starts.
fn slow_github_project(changelog: &str) -> Project {
    let project = github_project(changelog);
    project.file("release.toml", format!("{SLOW_BUILD}\n{}", project.read("release.toml")));
    project
}

const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n## [0.4.0] - 2026-12-01\n\n### Added\n\n- The tag is checked against the version.\n\n## [0.3.9] - 2026-11-02\n\n- Older.\n\n[0.4.0]: https://example.test/compare/v0.3.9...v0.4.0\n";

fn in_actions(project: &Project, server: &GithubServer, args: &[&str], sha: &str) -> Finished {
    tag_push(project.release(args.iter().copied()), "v0.4.0")
        .env("GITHUB_SHA", sha)
        .env("GITHUB_API_URL", server.api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_TOKEN", TOKEN)
        .run()
}

#[test]
fn the_passing_release_publishes_the_changelog_section_as_its_notes_at_the_commit() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = github_project(CHANGELOG);
    let sha = project.head();
    project
        .release(["plan"])
        .run()
        .success()
        .stdout_has("notes     ")
        .stdout_has("CHANGELOG.md:5 `## [0.4.0] - 2026-12-01`: ### Added / - The tag is checked against the version.");
    in_actions(&project, &server, &["run"], &sha).success();
    assert_eq!(
        server.release_body(REPO, "v0.4.0").as_deref(),
        Some("### Added\n\n- The tag is checked against the version.")
    );
    assert_eq!(server.tag_commit(REPO, "v0.4.0"), sha, "the tag was created at the released commit");
    // The same run again converges: the tag is at this commit.
    in_actions(&project, &server, &["run"], &sha).success();
}

#[test]
fn a_changelog_without_the_versions_section_is_refused_in_preflight() {
    let server = server_with(TOKEN, writer(), Visibility::Public);
    let project = slow_github_project("# Changelog\n\n## [0.3.9] - 2026-11-02\n\n- Older.\n");
    let sha = project.head();
    let run = in_actions(&project, &server, &["run"], &sha);
    refused_before_the_build(&project, &run);
    run.code(3).stderr_has("has no section for 0.4.0: it has sections for 0.3.9").stderr_has("## [0.4.0] - YYYY-MM-DD");
    assert!(server.releases(REPO).is_empty(), "nothing on GitHub");
    // A changelog that is not text is named with the reason, not taken for one without sections.
    std::fs::write(project.join("CHANGELOG.md"), b"## [0.4.0]\n\xff\xfe\n").unwrap();
    let sha = project.head();
    in_actions(&project, &server, &["preflight"], &sha)
        .code(3)
        .stderr_has("CHANGELOG.md, which cannot be read: stream did not contain valid UTF-8");
    // Notes from elsewhere: the changelog is not read.
    let generated = github_project("# Changelog\n");
    generated.file("release.toml", generated.read("release.toml") + "notes-from-changelog = false\n");
    let sha = generated.head();
    in_actions(&generated, &server, &["preflight"], &sha).success();
}

#[test]
fn a_tag_on_github_at_another_commit_is_refused_lightweight_or_annotated() {
    for annotated in [false, true] {
        let server = server_with(TOKEN, writer(), Visibility::Public);
        let project = slow_github_project(CHANGELOG);
        let sha = project.head();
        let other = "0123456789abcdef0123456789abcdef01234567";
        server.seed_tag(REPO, "v0.4.0", other, annotated);
        let run = in_actions(&project, &server, &["run"], &sha);
        run.code(3).stderr_has(&format!(
            "the tag v0.4.0 exists on GitHub ({REPO}) at commit 0123456789ab, but the commit being released is {} (GITHUB_SHA)",
            &sha[..12]
        ));
        assert!(server.releases(REPO).is_empty(), "nothing on GitHub");
        refused_before_the_build(&project, &run);
        // The tag at this commit passes.
        server.seed_tag(REPO, "v0.4.0", &sha, annotated);
        in_actions(&project, &server, &["preflight"], &sha).success();
    }
}

#[test]
fn a_shallow_clone_without_tags_uses_github_sha_and_the_api_for_the_tag() {
    let origin = slow_github_project(CHANGELOG);
    origin.head();
    origin.file("README.md", "second commit\n");
    let sha = origin.head();
    let clone = Project::new();
    let url = format!("file://{}", origin.path());
    release_tests::git_command(clone.path())
        .args(["clone", "-q", "--depth", "1", "--no-tags", &url, "."])
        .status()
        .expect("git clone")
        .success()
        .then_some(())
        .expect("cloned");
    assert_eq!(clone.git(&["rev-parse", "--is-shallow-repository"]), "true");
    assert_eq!(clone.git(&["tag", "--list"]), "", "no tags fetched");
    let server = server_with(TOKEN, writer(), Visibility::Public);
    // On GitHub the tag that triggered the run is at GITHUB_SHA: the release goes ahead.
    server.seed_tag(REPO, "v0.4.0", &sha, true);
    let run = in_actions(&clone, &server, &["preflight"], &sha);
    run.success();
    assert!(run.stdout.contains(&format!("v0.4.0 at commit {}", &sha[..12])), "{}", run.stdout);
    // GITHUB_SHA is not the tag's commit: refused, from the API's answer alone.
    let elsewhere = "fedcba9876543210fedcba9876543210fedcba98";
    let run = in_actions(&clone, &server, &["preflight"], elsewhere);
    refused_before_the_build(&clone, &run);
    run.code(3).stderr_has(&format!("the tag v0.4.0 exists on GitHub ({REPO}) at commit {}", &sha[..12]));
}
