//! A build command sees the environment the library was handed, not the process's: what an
//! embedder passes is what runs (and what the build-tools check looked at).

use camino::{Utf8Path, Utf8PathBuf};
use release_core::Recorder;
use release_core::{Config, Environment, Mode, Overrides};

/// The names of the variables a `sh` script saw: the lines of `export -p`.
fn exported_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .map(|rest| rest.split('=').next().unwrap_or(rest).to_owned())
        .collect()
}

#[cfg(unix)]
#[tokio::test]
async fn a_build_sees_exactly_the_embedders_environment_and_its_path() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
    // The program is only on the PATH the embedder gives, not on the process's.
    let tools = root.join("tools");
    std::fs::create_dir(&tools).unwrap();
    let probe = tools.join("env-probe");
    std::fs::write(&probe, "#!/bin/sh\nexport -p > seen.txt\n").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        root.join("release.toml"),
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"probe\"\ncommand = [\"env-probe\"]\nenv = { FROM_STEP = \"1\" }\n",
    )
    .unwrap();

    let process = Environment::from_process();
    let in_process: Vec<&str> = process.iter().map(|(name, _)| name).filter(|n| *n != "PATH").collect();
    assert!(!in_process.is_empty(), "the test process has variables of its own (HOME, CARGO_…)");
    let env = Environment::empty().with("PATH", tools.as_str()).with("GIVEN_BY_EMBEDDER", "yes");

    let config = Config::load(&root.join("release.toml")).unwrap();
    let pipeline = release_core::pipeline(&config, &env, Mode::Snapshot, &Overrides::default()).unwrap();
    let recorder = Recorder::default();
    let report = pipeline.run(&recorder).await.unwrap_or_else(|f| panic!("{f}\n{:#?}", recorder));
    assert!(report.success);

    let seen = exported_names(&std::fs::read_to_string(root.join("seen.txt")).unwrap());
    for name in ["PATH", "GIVEN_BY_EMBEDDER", "FROM_STEP"] {
        assert!(seen.iter().any(|s| s == name), "{name} reaches the command: {seen:?}");
    }
    // `sh` itself may export what it manages.
    let shells_own = ["PWD", "OLDPWD", "SHLVL", "_"];
    let leaked: Vec<&&str> =
        in_process.iter().filter(|n| seen.iter().any(|s| s == *n) && !shells_own.contains(n)).collect();
    assert!(leaked.is_empty(), "process variables the embedder did not pass reached the command: {leaked:?}");
}

#[test]
fn the_build_tools_check_and_the_run_look_on_the_same_path() {
    // Nothing on the given PATH: the check refuses the plan's build before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8Path::from_path(dir.path()).unwrap();
    std::fs::write(
        root.join("release.toml"),
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"b\"\ncommand = [\"sh\", \"-c\", \"true\"]\n",
    )
    .unwrap();
    let config = Config::load(&root.join("release.toml")).unwrap();
    let env = Environment::empty().with("PATH", root.join("empty").as_str());
    let pipeline = release_core::pipeline(&config, &env, Mode::Snapshot, &Overrides::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let failure = runtime.block_on(pipeline.run(&Recorder::default())).unwrap_err();
    let text = failure.to_string();
    assert!(text.contains("the program `sh` is not on PATH"), "{text}");
}
