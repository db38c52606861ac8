//! Rust binaries as users download them, through the binary: cargo builds whose binaries
//! come from cargo's own messages (with `CARGO_TARGET_DIR` elsewhere), one archive per
//! target in the layout cargo-binstall finds (checked with `tar` and `unzip`), byte for byte
//! the same on a second run, and a CycloneDX SBOM beside each archive, validated by
//! cyclonedx-python-lib and compared with `cargo tree`.

use std::collections::BTreeSet;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use release_tests::{Project, host_triple, workspace_root};

fn run_tool(program: &str, args: &[&str], dir: &Utf8Path) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `tar --numeric-owner -tvzf`: (mode, owner, date, name) per entry.
fn tar_listing(archive: &Utf8Path) -> Vec<(String, String, String, String)> {
    let text = run_tool("tar", &["--numeric-owner", "-tvzf", archive.as_str()], Utf8Path::new("/"));
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f[0].to_owned(), f[1].to_owned(), f[3].to_owned(), f[5..].join(" "))
        })
        .collect()
}

/// `unzip -Z` (zipinfo): (mode, host system, name) per entry.
fn zip_listing(archive: &Utf8Path) -> Vec<(String, String, String)> {
    let text = run_tool("unzip", &["-Z", archive.as_str()], Utf8Path::new("/"));
    text.lines()
        .filter(|l| l.starts_with('-') || l.starts_with('d'))
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f[0].to_owned(), f[2].to_owned(), f[8..].join(" "))
        })
        .collect()
}

/// No absolute path, no `..`, everything under the one directory.
#[track_caller]
fn assert_safe(names: &[&str], dir: &str) {
    for name in names {
        assert!(!name.starts_with('/') && !name.split('/').any(|p| p == ".."), "unsafe path {name}");
        assert!(name.starts_with(&format!("{dir}/")), "{name} outside {dir}/");
    }
}

fn validate_sbom(files: &[Utf8PathBuf]) {
    let script = workspace_root().join("tests/validate_cyclonedx.py");
    let out = Command::new("python3").arg(script.as_str()).args(files.iter().map(|f| f.as_str())).output().unwrap();
    assert!(
        out.status.success(),
        "the CycloneDX 1.6 schema validator refused it (exit {:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name@version` of the SBOM's application and components.
fn sbom_packages(path: &Utf8Path) -> BTreeSet<String> {
    let bom: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut set = BTreeSet::new();
    let component = &bom["metadata"]["component"];
    set.insert(format!("{}@{}", component["name"].as_str().unwrap(), component["version"].as_str().unwrap()));
    for c in bom["components"].as_array().unwrap() {
        assert_eq!(c["purl"], format!("pkg:cargo/{}@{}", c["name"].as_str().unwrap(), c["version"].as_str().unwrap()));
        set.insert(format!("{}@{}", c["name"].as_str().unwrap(), c["version"].as_str().unwrap()));
    }
    set
}

fn extract(archive: &Utf8Path) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    run_tool("tar", &["-xzf", archive.as_str()], &path);
    (dir, path)
}

#[test]
fn the_bundled_example_with_cargo_target_dir_elsewhere_ships_archive_and_sbom() {
    let project = Project::from_example("hello");
    let target_dir = tempfile::tempdir().unwrap();
    let target_dir = target_dir.path().to_str().unwrap().to_owned();
    let snapshot = || {
        project
            .release(["run", "--snapshot"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .run()
    };
    let run = snapshot();
    run.success().stderr_has(&format!("{target_dir}/release/hello"));
    assert!(!project.exists("target"), "cargo built in CARGO_TARGET_DIR, and the binary was found there");

    let host = host_triple();
    let dist = project.join("dist");
    let stem = format!("hello-{host}-v0.3.1");
    let archive = dist.join(format!("{stem}.tar.gz"));
    let sbom = dist.join(format!("{stem}.tar.gz.cdx.json"));
    let listing = tar_listing(&archive);
    let names: Vec<&str> = listing.iter().map(|l| l.3.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{stem}/"),
            format!("{stem}/CHANGELOG.md"),
            format!("{stem}/LICENSE"),
            format!("{stem}/README.md"),
            format!("{stem}/hello")
        ]
    );
    assert_safe(&names, &stem);
    let modes: Vec<&str> = listing.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(modes, ["drwxr-xr-x", "-rw-r--r--", "-rw-r--r--", "-rw-r--r--", "-rwxr-xr-x"]);
    assert!(listing.iter().all(|l| l.1 == "0/0" && l.2 == "2023-11-14"), "owner 0/0, SOURCE_DATE_EPOCH: {listing:?}");

    // What is listed, signed and published is the archive and its SBOM, not the raw binary.
    let sums = project.read("dist/SHA256SUMS");
    let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert_eq!(listed, ["hello-0.1.0.tgz", &format!("{stem}.tar.gz"), &format!("{stem}.tar.gz.cdx.json")]);
    run_tool("sha256sum", &["-c", "SHA256SUMS"], &dist);
    assert!(
        dist.join(format!("{stem}.tar.gz.sig")).is_file() && dist.join(format!("{stem}.tar.gz.cdx.json.sig")).is_file()
    );
    project.release(["verify", "--key", "dist/cosign.ephemeral.pub", "--checksums", "dist/SHA256SUMS"]).run().success();

    // The binary a user extracts runs.
    let (_keep, extracted) = extract(&archive);
    let out = Command::new(extracted.join(&stem).join("hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from hello 0.3.1 (2026)\n");

    // The SBOM: valid CycloneDX 1.6, and every crate of the binary's normal dependency graph
    // (as `cargo tree` walks it for the host) is in it.
    validate_sbom(std::slice::from_ref(&sbom));
    let tree = run_tool(
        "cargo",
        &["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "--target", &host, "-f", "{p}"],
        project.path(),
    );
    let expected: BTreeSet<String> = tree
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some(format!("{}@{}", words.next()?, words.next()?.trim_start_matches('v')))
        })
        .collect();
    assert!(expected.contains("itoa@1.0.18"), "{expected:?}");
    assert_eq!(sbom_packages(&sbom), expected);
    let bom: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sbom).unwrap()).unwrap();
    let lock = project.read("Cargo.lock");
    let itoa = &bom["components"][0];
    assert!(lock.contains(&format!("checksum = \"{}\"", itoa["hashes"][0]["content"].as_str().unwrap())));
    assert_eq!(itoa["licenses"][0]["expression"], "MIT OR Apache-2.0");

    // A second run: the same bytes.
    let (archive_bytes, sbom_bytes) = (std::fs::read(&archive).unwrap(), std::fs::read(&sbom).unwrap());
    snapshot().success();
    assert_eq!(std::fs::read(&archive).unwrap(), archive_bytes, "a second run writes an identical archive");
    assert_eq!(std::fs::read(&sbom).unwrap(), sbom_bytes, "and an identical SBOM");
}

/// A workspace of two packages with one binary each.
fn workspace() -> Project {
    let project = Project::new();
    project
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/app\", \"crates/tool\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"2.0.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n",
        )
        .file(
            "crates/app/Cargo.toml",
            "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\nrepository = \"https://github.com/acme/ws\"\n\n[package.metadata.binstall]\npkg-url = \"{ repo }/releases/download/v{ version }/{ name }-{ target }-v{ version }{ archive-suffix }\"\nbin-dir = \"{ name }-{ target }-v{ version }/{ bin }{ binary-ext }\"\npkg-fmt = \"tgz\"\n",
        )
        .file("crates/app/src/main.rs", "fn main() {\n    println!(\"app\");\n}\n")
        .file(
            "crates/tool/Cargo.toml",
            "[package]\nname = \"tool\"\nversion.workspace = true\nedition.workspace = true\n\n[features]\nloud = []\n",
        )
        .file(
            "crates/tool/src/main.rs",
            "fn main() {\n    if cfg!(feature = \"loud\") {\n        println!(\"TOOL\");\n    } else {\n        println!(\"tool\");\n    }\n}\n",
        )
        .file("crates/tool/NOTES.md", "notes\n")
        .file("LICENSE", "MIT\n")
        .config(CONFIG);
    run_tool("cargo", &["generate-lockfile", "--offline"], project.path());
    project
}

const CONFIG: &str = r#"
[project]
name = "ws"
version-from = "Cargo.toml"

[[build]]
name = "app"
cargo = { package = "app", bins = ["app"] }

[[build]]
name = "tool"
cargo = { package = "tool", bins = ["tool"], features = ["loud"] }
include = ["LICENSE", "crates/tool/NOTES.md"]
"#;

#[test]
fn a_workspace_with_two_binaries_in_two_packages() {
    let project = workspace();

    // What the workspace does not have is refused before anything is built, naming the field
    // and what exists.
    let refused = |config: &str| {
        project.config(config);
        let run = project.release(["run", "--snapshot"]).run();
        run.code(3);
        assert!(!project.exists("target") && !project.exists("dist"), "nothing was built");
        run
    };
    let file = project.join("release.toml");
    refused(&CONFIG.replace("package = \"app\"", "package = \"ap\"")).stderr_has(&format!(
        "{file}: build[0].cargo.package: the workspace at {} has no package `ap` (its packages: app, tool)",
        project.path()
    ));
    refused(&CONFIG.replace("bins = [\"app\"]", "bins = [\"app\", \"nope\"]"))
        .stderr_has("build[0].cargo.bins[1]: the package `app` has no binary `nope` (its binaries: app)");
    refused(&CONFIG.replace("[\"loud\"]", "[\"quiet\"]"))
        .stderr_has("build[1].cargo.features[0]: the package `tool` has no feature `quiet` (its features: loud)");
    let manifest = project.read("crates/app/Cargo.toml");
    project.file("crates/app/Cargo.toml", manifest.replace("pkg-fmt = \"tgz\"", "pkg-fmt = \"zip\""));
    refused(CONFIG)
        .stderr_has("crates/app/Cargo.toml: [package.metadata.binstall]: `pkg-fmt` is `zip`, but the release publishes a tar.gz archive")
        .stderr_has("remove the disagreeing key");
    project.file("crates/app/Cargo.toml", manifest);

    project.config(CONFIG);
    let run = project.release(["run", "--snapshot"]).run();
    run.success()
        .stderr_has("build `app`: the `include` pattern `README*` matches no file")
        .stderr_has("build `app`: the `include` pattern `CHANGELOG*` matches no file");
    let host = host_triple();
    let dist = project.join("dist");
    for (name, files, output) in
        [("app", vec!["LICENSE", "app"], "app\n"), ("tool", vec!["LICENSE", "NOTES.md", "tool"], "TOOL\n")]
    {
        let stem = format!("{name}-{host}-v2.0.0");
        let archive = dist.join(format!("{stem}.tar.gz"));
        let listing = tar_listing(&archive);
        let names: Vec<&str> = listing.iter().map(|l| l.3.as_str()).collect();
        let mut expected = vec![format!("{stem}/")];
        expected.extend(files.iter().map(|f| format!("{stem}/{f}")));
        assert_eq!(names, expected);
        assert_safe(&names, &stem);
        assert_eq!(listing.last().unwrap().0, "-rwxr-xr-x");
        assert!(listing.iter().all(|l| l.1 == "0/0" && l.2 == "1970-01-01"), "{listing:?}");
        let (_keep, extracted) = extract(&archive);
        let out = Command::new(extracted.join(&stem).join(name)).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), output, "the features were built in");
        let sbom = dist.join(format!("{stem}.tar.gz.cdx.json"));
        validate_sbom(std::slice::from_ref(&sbom));
        assert_eq!(sbom_packages(&sbom), BTreeSet::from([format!("{name}@2.0.0")]));
    }
    let sums = project.read("dist/SHA256SUMS");
    assert_eq!(sums.lines().count(), 4, "two archives and two SBOMs: {sums}");
}

const LINUX: &str = "x86_64-unknown-linux-gnu";
const WINDOWS: &str = "x86_64-pc-windows-msvc";

/// A checkout whose build fakes a cross build: a script per target, archived as a cargo
/// build would be (`archive = true`).
fn cross_checkout() -> Project {
    let project = Project::new();
    project
        .config(&format!(
            r#"
[project]
name = "app"
version = "1.2.3"

[[build]]
name = "app"
command = ["sh", "build.sh", "{{target}}", "{{exe}}"]
targets = ["{LINUX}", "{WINDOWS}"]
archive = true
include = ["LICENSE"]
artifacts = [{{ path = "out/{{target}}/app{{exe}}", name = "app{{exe}}" }}]
"#
        ))
        .file("build.sh", "set -e\nmkdir -p out/$1\nprintf 'app for %s\\n' \"$1\" > out/$1/app$2\n")
        .file("LICENSE", "MIT\n");
    project
}

#[test]
fn a_zip_for_windows_and_a_tar_gz_for_linux_through_the_matrix_flow() {
    let final_job = cross_checkout();
    final_job.release(["plan", "--matrix", "--manifest", "release-plan.json"]).run().success();
    let manifest: serde_json::Value = serde_json::from_str(&final_job.read("release-plan.json")).unwrap();
    assert_eq!(manifest["targets"][0]["artifacts"], serde_json::json!([format!("app-{LINUX}-v1.2.3.tar.gz")]));
    assert_eq!(manifest["targets"][1]["artifacts"], serde_json::json!([format!("app-{WINDOWS}-v1.2.3.zip")]));
    let plan = final_job.join("release-plan.json");

    for target in [LINUX, WINDOWS] {
        let runner = cross_checkout();
        runner
            .release(["build", "--target", target, "--plan", plan.as_str(), "--dist", "dist"])
            .run()
            .success()
            .stderr_has(&format!("package:archive:app:{target}"));
        let built: serde_json::Value =
            serde_json::from_str(&runner.read(&format!("dist/release-build-{target}.json"))).unwrap();
        assert_eq!(built["artifacts"][0]["kind"], "archive", "{built}");
        let dest = final_job.join(&format!("gathered/release-build-{target}"));
        std::fs::create_dir_all(&dest).unwrap();
        for entry in std::fs::read_dir(runner.join("dist")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dest.join(entry.file_name().to_str().unwrap())).unwrap();
        }
    }
    let run = final_job.release(["run", "--snapshot", "--plan", "release-plan.json", "--gather", "gathered"]).run();
    run.success().stderr_has("build:gather");

    let dist = final_job.join("dist");
    let zip = dist.join(format!("app-{WINDOWS}-v1.2.3.zip"));
    let stem = format!("app-{WINDOWS}-v1.2.3");
    run_tool("unzip", &["-tq", zip.as_str()], Utf8Path::new("/"));
    let listing = zip_listing(&zip);
    assert_eq!(
        listing,
        [
            ("drwxr-xr-x".to_owned(), "unx".to_owned(), format!("{stem}/")),
            ("-rw-r--r--".to_owned(), "unx".to_owned(), format!("{stem}/LICENSE")),
            ("-rwxr-xr-x".to_owned(), "unx".to_owned(), format!("{stem}/app.exe")),
        ]
    );
    let names: Vec<&str> = listing.iter().map(|l| l.2.as_str()).collect();
    assert_safe(&names, &stem);
    let exe = run_tool("unzip", &["-p", zip.as_str(), &format!("{stem}/app.exe")], Utf8Path::new("/"));
    assert_eq!(exe, format!("app for {WINDOWS}\n"));
    let tgz = dist.join(format!("app-{LINUX}-v1.2.3.tar.gz"));
    let listing = tar_listing(&tgz);
    assert_eq!(listing.last().unwrap().3, format!("app-{LINUX}-v1.2.3/app"));
    let sums = final_job.read("dist/SHA256SUMS");
    assert_eq!(
        sums.lines().map(|l| &l[66..]).collect::<Vec<_>>(),
        [format!("app-{WINDOWS}-v1.2.3.zip"), format!("app-{LINUX}-v1.2.3.tar.gz")]
    );
    run_tool("sha256sum", &["-c", "SHA256SUMS"], &dist);
}
