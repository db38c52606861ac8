use super::*;

/// A graph: app → lib (normal), app → derive (proc-macro, normal) → syn, app → cc (build),
/// lib → itoa (normal), lib → syn (normal, so syn is linked after all).
const METADATA: &str = r#"{
  "packages": [
    {"name": "app", "version": "1.0.0", "id": "path+file:///w/app#1.0.0", "manifest_path": "/w/app/Cargo.toml", "license": "MIT",
     "targets": [{"name": "app", "kind": ["bin"]}, {"name": "tool", "kind": ["bin"]}], "features": {"default": [], "fast": []}},
    {"name": "lib", "version": "0.2.0", "id": "registry+https://github.com/rust-lang/crates.io-index#lib@0.2.0", "manifest_path": "/r/lib/Cargo.toml",
     "source": "registry+https://github.com/rust-lang/crates.io-index", "targets": [{"name": "lib", "kind": ["lib"]}]},
    {"name": "derive", "version": "1.0.0", "id": "registry+https://github.com/rust-lang/crates.io-index#derive@1.0.0", "manifest_path": "/r/derive/Cargo.toml",
     "targets": [{"name": "derive", "kind": ["proc-macro"]}]},
    {"name": "syn", "version": "2.0.0", "id": "registry+https://github.com/rust-lang/crates.io-index#syn@2.0.0", "manifest_path": "/r/syn/Cargo.toml",
     "targets": [{"name": "syn", "kind": ["lib"]}]},
    {"name": "cc", "version": "1.0.0", "id": "registry+https://github.com/rust-lang/crates.io-index#cc@1.0.0", "manifest_path": "/r/cc/Cargo.toml",
     "targets": [{"name": "cc", "kind": ["lib"]}]},
    {"name": "itoa", "version": "1.0.18", "id": "registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.18", "manifest_path": "/r/itoa/Cargo.toml",
     "targets": [{"name": "itoa", "kind": ["lib"]}]}
  ],
  "workspace_members": ["path+file:///w/app#1.0.0"],
  "workspace_root": "/w",
  "resolve": {"nodes": [
    {"id": "path+file:///w/app#1.0.0", "deps": [
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#lib@0.2.0", "dep_kinds": [{"kind": null, "target": null}]},
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#derive@1.0.0", "dep_kinds": [{"kind": null, "target": null}]},
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#cc@1.0.0", "dep_kinds": [{"kind": "build", "target": null}]}]},
    {"id": "registry+https://github.com/rust-lang/crates.io-index#lib@0.2.0", "deps": [
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.18", "dep_kinds": [{"kind": null, "target": null}]},
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#syn@2.0.0", "dep_kinds": [{"kind": null, "target": null}]}]},
    {"id": "registry+https://github.com/rust-lang/crates.io-index#derive@1.0.0", "deps": [
      {"pkg": "registry+https://github.com/rust-lang/crates.io-index#syn@2.0.0", "dep_kinds": [{"kind": null, "target": null}]}]},
    {"id": "registry+https://github.com/rust-lang/crates.io-index#syn@2.0.0", "deps": []},
    {"id": "registry+https://github.com/rust-lang/crates.io-index#cc@1.0.0", "deps": []},
    {"id": "registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.18", "deps": []}
  ]}
}"#;

fn cargo(package: &str, bins: &[&str], features: &[&str]) -> CargoBuild {
    CargoBuild {
        package: package.into(),
        bins: bins.iter().map(|s| (*s).to_owned()).collect(),
        features: features.iter().map(|s| (*s).to_owned()).collect(),
        no_default_features: false,
        profile: None,
    }
}

#[test]
fn the_build_is_checked_against_the_workspace_naming_the_field_and_what_exists() {
    let metadata = parse_metadata(METADATA).unwrap();
    assert_eq!(metadata.check_build(&cargo("app", &["app", "tool"], &["fast"]), "build[0].cargo").unwrap().name, "app");
    let err = metadata.check_build(&cargo("lib", &["lib"], &[]), "build[0].cargo").unwrap_err().to_string();
    assert_eq!(err, "build[0].cargo.package: the workspace at /w has no package `lib` (its packages: app)");
    let err = metadata.check_build(&cargo("app", &["app", "hello"], &[]), "build[1].cargo").unwrap_err().to_string();
    assert_eq!(err, "build[1].cargo.bins[1]: the package `app` has no binary `hello` (its binaries: app, tool)");
    let err = metadata.check_build(&cargo("app", &["app"], &["slow"]), "build[0].cargo").unwrap_err().to_string();
    assert_eq!(
        err,
        "build[0].cargo.features[0]: the package `app` has no feature `slow` (its features: default, fast)"
    );
    assert!(metadata.check_build(&cargo("app", &["app"], &["lib/std"]), "build[0].cargo").is_ok());
}

#[test]
fn linked_packages_follow_normal_dependencies_and_skip_build_deps_and_proc_macros() {
    let metadata = parse_metadata(METADATA).unwrap();
    let names: Vec<&str> =
        linked_packages(&metadata, "path+file:///w/app#1.0.0").iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["app", "itoa", "lib", "syn"]);
}

#[test]
fn messages() {
    let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/app#1.0.0","manifest_path":"/w/app/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"app","src_path":"/w/app/src/main.rs"},"profile":{},"features":[],"filenames":["/t/release/app"],"executable":"/t/release/app","fresh":true}"#;
    assert_eq!(
        parse_message(line),
        Message::Executable {
            name: "app".into(),
            manifest_path: "/w/app/Cargo.toml".into(),
            path: "/t/release/app".into()
        }
    );
    let lib = r#"{"reason":"compiler-artifact","manifest_path":"/r/itoa/Cargo.toml","target":{"kind":["lib"],"name":"itoa"},"executable":null}"#;
    assert_eq!(parse_message(lib), Message::Other);
    assert_eq!(parse_message(r#"{"reason":"build-finished","success":true}"#), Message::Other);
    assert_eq!(parse_message("   Compiling app"), Message::Text);
}

#[test]
fn args_host_and_lockfile() {
    let mut build = cargo("app", &["app", "tool"], &["fast", "lib/std"]);
    build.no_default_features = true;
    assert_eq!(
        build_args(&build, Some("x86_64-unknown-linux-musl")).join(" "),
        "cargo build --release --locked --message-format=json-render-diagnostics --target x86_64-unknown-linux-musl -p app --bin app --bin tool --no-default-features --features fast,lib/std"
    );
    build.profile = Some("dist".into());
    assert!(build_args(&build, None).join(" ").starts_with("cargo build --profile dist --locked"));
    assert_eq!(
        host_triple("rustc 1.90.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n").unwrap(),
        "x86_64-unknown-linux-gnu"
    );
    assert!(host_triple("nothing").is_err());
    let lock = "version = 4\n[[package]]\nname = \"itoa\"\nversion = \"1.0.18\"\nsource = \"registry+x\"\nchecksum = \"abc\"\n[[package]]\nname = \"app\"\nversion = \"1.0.0\"\n";
    let sums = lock_checksums(lock);
    assert_eq!(sums.get(&("itoa".into(), "1.0.18".into())).map(String::as_str), Some("abc"));
    assert_eq!(sums.len(), 1);
}
