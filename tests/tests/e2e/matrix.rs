//! Builds across runners, run locally the way the generated workflow runs them: the plan job
//! writes the manifest and the matrix, two runners (two checkouts) each build one target,
//! their directories are gathered as `actions/download-artifact` lays them out, and the final
//! job publishes to our GitHub server and the real registry.

use camino::Utf8Path;
use release_tests::Project;
use release_tests::github_server::{GithubServer, Level, TokenSpec, Visibility};
use release_tests::registry::{Auth, Registry, User};

const REPO: &str = "acme/hello";
const TOKEN: &str = "ghs_matrix0123456789abcdef";
const COMMIT: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const LINUX: &str = "x86_64-unknown-linux-gnu";
const MAC: &str = "aarch64-apple-darwin";

fn writer() -> User {
    User::new("writer", "writer-password", &["pull", "push"])
}

fn reader() -> User {
    User::new("reader", "reader-password", &["pull"])
}

/// A checkout: one build across two targets (its script writes which target it built and
/// leaves a marker per target), one build without targets (built by the final job), a chart.
fn checkout(registry_host: &str) -> Project {
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
name = "hello"
version = "1.2.3"

[[build]]
name = "app"
command = ["sh", "build.sh", "{{target}}"]
targets = ["{LINUX}", "{MAC}"]
artifacts = [{{ path = "out/{{target}}/app", name = "app-{{version}}-{{arch}}-{{os}}" }}]

[[build]]
name = "notes"
command = ["sh", "-c", "mkdir -p out && echo 'release notes' > out/NOTES.txt"]
artifacts = ["out/NOTES.txt"]

[runners]
"{MAC}" = "macos-14"

[github]
repository = "{REPO}"

[[chart]]
path = "charts/hello"
push = "oci://{registry_host}/charts"

[registries."{registry_host}"]
plain-http = true

[network]
github-mutation-interval-ms = 0
"#
        ))
        .file(
            "build.sh",
            "set -e\nmkdir -p out/$1 built\ntouch built/$1\nprintf 'app for %s (RELEASE_TARGET=%s)\\n' \"$1\" \"$RELEASE_TARGET\" > out/$1/app\n",
        )
        .file("charts/hello/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
        .file("charts/hello/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n");
    project
}

fn github() -> GithubServer {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    server
}

/// A runner: a fresh checkout of the same commit, building one target into `dist/`.
fn build_on_runner(registry_host: &str, plan: &Utf8Path, target: &str, github: &GithubServer) -> Project {
    let runner = checkout(registry_host);
    runner
        .release(["build", "--target", target, "--plan", plan.as_str(), "--dist", "dist"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SHA", COMMIT)
        .env("GITHUB_API_URL", github.api_url())
        .run()
        .success()
        .stdout_has(&format!("build:app:{target}"));
    runner
}

/// Copies a runner's `dist/` to `DIR/release-build-TARGET/`, as download-artifact does.
fn download(from: &Project, to: &Project, target: &str) {
    let dest = to.join(&format!("gathered/release-build-{target}"));
    std::fs::create_dir_all(&dest).unwrap();
    for entry in std::fs::read_dir(from.join("dist")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dest.join(entry.file_name().to_str().unwrap())).unwrap();
    }
}

struct Planned {
    final_job: Project,
    linux: Project,
    mac: Project,
}

/// The plan job and both runners.
fn plan_and_build(registry: &Registry, github: &GithubServer) -> Planned {
    let final_job = checkout(&registry.host);
    let outputs = final_job.join("github-output");
    let planned = final_job
        .release(["plan", "--matrix", "--manifest", "release-plan.json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SHA", COMMIT)
        .env("GITHUB_OUTPUT", outputs.as_str())
        .run();
    planned.success();
    let matrix: serde_json::Value = serde_json::from_str(planned.stdout.trim()).expect("one line of JSON");
    assert_eq!(
        matrix,
        serde_json::json!({"include": [
            {"target": LINUX, "runner": "ubuntu-latest"},
            {"target": MAC, "runner": "macos-14"},
        ]})
    );
    assert_eq!(final_job.read("github-output"), format!("matrix={}\n", planned.stdout.trim()));
    let manifest: serde_json::Value = serde_json::from_str(&final_job.read("release-plan.json")).unwrap();
    assert_eq!(manifest["kind"], "release-plan");
    assert_eq!(manifest["schema"], 1);
    assert_eq!(manifest["commit"], COMMIT);
    assert_eq!(manifest["targets"][1]["artifacts"], serde_json::json!(["app-1.2.3-aarch64-macos"]));

    let plan = final_job.join("release-plan.json");
    let linux = build_on_runner(&registry.host, &plan, LINUX, github);
    let mac = build_on_runner(&registry.host, &plan, MAC, github);
    Planned { final_job, linux, mac }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_two_runners_gather_and_publish() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let github = github();
    let Planned { final_job, linux, mac } = tokio::task::block_in_place(|| plan_and_build(&registry, &github));

    // Each runner built its own target only, and wrote nothing but its artifacts and manifest.
    assert!(linux.exists(&format!("built/{LINUX}")) && !linux.exists(&format!("built/{MAC}")));
    assert!(mac.exists(&format!("built/{MAC}")) && !mac.exists(&format!("built/{LINUX}")));
    let mut listed: Vec<String> =
        std::fs::read_dir(mac.join("dist")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    listed.sort();
    // Besides them, only the tool's bookkeeping: hidden files, which actions/upload-artifact
    // leaves out of the uploaded artifact by default.
    assert_eq!(
        listed,
        [
            ".release-dist.json",
            ".release-journal.json",
            "app-1.2.3-aarch64-macos",
            format!("release-build-{MAC}.json").as_str()
        ]
    );
    assert!(!mac.exists("out/NOTES.txt"), "builds without targets are the final job's");
    assert!(github.requests().is_empty(), "a build job talks to no server: {:?}", github.requests());

    download(&linux, &final_job, LINUX);
    download(&mac, &final_job, MAC);
    let run = final_job
        .release(["run", "--plan", "release-plan.json", "--gather", "gathered"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SHA", COMMIT)
        .env("GITHUB_RUN_ID", "9001")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("HELM_REGISTRY_USERNAME", &writer().name)
        .env("HELM_REGISTRY_PASSWORD", &writer().password)
        .run_async()
        .await;
    run.success().stdout_has("preflight:gathered-builds").stdout_has("build:gather");
    assert!(!final_job.exists("built"), "the final job gathers the targets' builds instead of building them");

    let releases = github.releases(REPO);
    assert_eq!(releases.len(), 1, "the probe's draft is gone, one release is left");
    let release = &releases[0];
    assert!(!release.draft, "published");
    assert_eq!(release.tag_name, "v1.2.3");
    let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["NOTES.txt", "SHA256SUMS", "app-1.2.3-aarch64-macos", "app-1.2.3-x86_64-linux", "hello-0.1.0.tgz"]
    );
    let asset = |name: &str| release.assets.iter().find(|a| a.name == name).unwrap();
    assert_eq!(
        asset("app-1.2.3-aarch64-macos").bytes,
        std::fs::read(mac.join("dist/app-1.2.3-aarch64-macos")).unwrap(),
        "the mac runner's bytes are published"
    );
    assert_eq!(
        String::from_utf8(asset("app-1.2.3-x86_64-linux").bytes.clone()).unwrap(),
        format!("app for {LINUX} (RELEASE_TARGET={LINUX})\n")
    );
    let sums = String::from_utf8(asset("SHA256SUMS").bytes.clone()).unwrap();
    for name in ["NOTES.txt", "app-1.2.3-aarch64-macos", "app-1.2.3-x86_64-linux", "hello-0.1.0.tgz"] {
        assert!(sums.contains(&format!("{}  {name}\n", asset(name).sha256())), "{name} in\n{sums}");
    }
    let (_, manifest) = registry.manifest("charts/hello", "0.1.0", Some(&reader())).await.unwrap();
    assert!(!manifest.is_empty(), "the chart was pushed by the final job");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_target_fails_the_final_job_in_preflight() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let github = github();
    let Planned { final_job, linux, .. } = tokio::task::block_in_place(|| plan_and_build(&registry, &github));
    download(&linux, &final_job, LINUX);
    let run = final_job
        .release(["run", "--plan", "release-plan.json", "--gather", "gathered"])
        .env("GITHUB_SHA", COMMIT)
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("HELM_REGISTRY_USERNAME", &writer().name)
        .env("HELM_REGISTRY_PASSWORD", &writer().password)
        .run_async()
        .await;
    run.code(3)
        .stderr_has(&format!("error: preflight:gathered-builds: no build of {MAC} was found under gathered"))
        .stderr_has("uploaded its directory (release-build-TARGET)")
        .stderr_has("preflight failed: nothing was built or published");
    assert!(github.releases(REPO).is_empty(), "nothing is left on GitHub");
    assert!(!final_job.exists("out/NOTES.txt"), "nothing was built");
}

#[tokio::test(flavor = "multi_thread")]
async fn builds_from_another_plan_or_changed_files_are_refused() {
    let registry = Registry::start(Auth::Token(vec![writer(), reader()])).await.unwrap();
    let github = github();
    let Planned { final_job, linux, mac } = tokio::task::block_in_place(|| plan_and_build(&registry, &github));
    download(&linux, &final_job, LINUX);
    download(&mac, &final_job, MAC);
    let final_run = || {
        final_job
            .release(["run", "--plan", "release-plan.json", "--gather", "gathered"])
            .env("GITHUB_SHA", COMMIT)
            .env("GITHUB_API_URL", github.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("HELM_REGISTRY_USERNAME", &writer().name)
            .env("HELM_REGISTRY_PASSWORD", &writer().password)
    };

    // A file changed after its build, same size: found when it is copied, before anything
    // is published.
    let gathered = final_job.join(&format!("gathered/release-build-{MAC}/app-1.2.3-aarch64-macos"));
    let original = std::fs::read(&gathered).unwrap();
    let mut changed = original.clone();
    changed[0] ^= 0x20;
    std::fs::write(&gathered, &changed).unwrap();
    final_run()
        .run_async()
        .await
        .code(1)
        .stderr_has("error: build:gather: ")
        .stderr_has(&format!("release-build-{MAC}/app-1.2.3-aarch64-macos does not match"))
        .stderr_has("re-run the build job of its target");
    assert!(github.releases(REPO).is_empty(), "nothing was published");
    std::fs::write(&gathered, &original).unwrap();

    // A build made for another plan (an earlier run of another commit) is refused in
    // preflight.
    let stale = checkout(&registry.host);
    stale.release(["plan", "--manifest", "old-plan.json"]).env("GITHUB_SHA", "0000000").run().success();
    stale
        .release(["build", "--target", MAC, "--plan", "old-plan.json", "--dist", "dist"])
        .env("GITHUB_SHA", "0000000")
        .run()
        .success();
    std::fs::remove_dir_all(final_job.join(&format!("gathered/release-build-{MAC}"))).unwrap();
    download(&stale, &final_job, MAC);
    final_run()
        .run_async()
        .await
        .code(3)
        .stderr_has(&format!("release-build-{MAC}.json was built for plan "))
        .stderr_has("not for this plan")
        .stderr_has("re-run the whole workflow");
    assert!(github.releases(REPO).is_empty(), "nothing was published");
}

#[test]
fn a_job_whose_checkout_plans_something_else_refuses_to_build() {
    let project = checkout("127.0.0.1:5000");
    project.release(["plan", "--manifest", "release-plan.json"]).env("GITHUB_SHA", COMMIT).run().success();

    // Another commit.
    project
        .release(["build", "--target", LINUX, "--plan", "release-plan.json"])
        .env("GITHUB_SHA", "f00d")
        .run()
        .code(2)
        .stderr_has(&format!("error: release-plan.json was planned for commit {COMMIT}, but this job has f00d"))
        .stderr_has("every job must check out the same commit");
    // Another release.toml.
    project.config(&project.read("release.toml").replace("version = \"1.2.3\"", "version = \"1.2.4\""));
    project
        .release(["build", "--target", LINUX, "--plan", "release-plan.json"])
        .env("GITHUB_SHA", COMMIT)
        .run()
        .code(2)
        .stderr_has("release-plan.json was planned from a release.toml with SHA-256");
    // A target that is not planned.
    project
        .release(["build", "--target", "riscv64gc-unknown-linux-gnu"])
        .run()
        .code(2)
        .stderr_has(&format!("the target `riscv64gc-unknown-linux-gnu` is not in the plan (planned: {LINUX}, {MAC})"));
    // A manifest edited by hand.
    project.release(["plan", "--manifest", "release-plan.json"]).run().success();
    let edited = project.read("release-plan.json").replace("macos-14", "macos-15");
    project.file("release-plan.json", edited);
    project
        .release(["build", "--target", LINUX, "--plan", "release-plan.json"])
        .run()
        .code(2)
        .stderr_has("its id does not match its contents");
    assert!(!project.exists("built"), "no build ran");
}
