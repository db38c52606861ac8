//! Asking cargo where its output is, instead of guessing `target/`: `CARGO_TARGET_DIR`,
//! `build.target-dir` in a config file or `--target-dir` all move it.

use anyhow::{Context, bail};
use camino::Utf8PathBuf;
use xshell::{Shell, cmd};

/// The cargo that runs this program (cargo sets `CARGO` for `cargo run`), else `cargo`.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Cargo's target directory for the workspace in `sh`'s directory.
pub(crate) fn target_directory(sh: &Shell) -> anyhow::Result<Utf8PathBuf> {
    let cargo = cargo();
    let metadata = cmd!(sh, "{cargo} metadata --format-version 1 --no-deps").quiet().read()?;
    target_directory_of(&metadata)
}

/// The `target_directory` of `cargo metadata`'s JSON.
fn target_directory_of(metadata: &str) -> anyhow::Result<Utf8PathBuf> {
    let value: serde_json::Value = serde_json::from_str(metadata).context("`cargo metadata` printed no JSON")?;
    value["target_directory"]
        .as_str()
        .map(Utf8PathBuf::from)
        .with_context(|| "`cargo metadata` names no target_directory".to_string())
}

/// Builds `package` (`--release` when `release`) and returns the path of its executable
/// `bin`, from cargo's JSON messages.
pub(crate) fn build_binary(sh: &Shell, package: &str, bin: &str, release: bool) -> anyhow::Result<Utf8PathBuf> {
    let cargo = cargo();
    let profile = release.then_some("--release");
    let messages =
        cmd!(sh, "{cargo} build --quiet --message-format=json-render-diagnostics --package {package} {profile...}")
            .read()?;
    match executable_of(&messages, bin) {
        Some(path) => Ok(path),
        None => bail!("`cargo build --package {package}` reported no executable `{bin}`"),
    }
}

/// The executable of the binary target `bin` in cargo's `--message-format=json` lines: the
/// `executable` of its `compiler-artifact` message.
fn executable_of(messages: &str, bin: &str) -> Option<Utf8PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(Utf8PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup follows `CARGO_TARGET_DIR`, as a guess of `<workspace>/target` would not.
    #[test]
    fn the_target_directory_follows_cargo_target_dir() {
        let sh = Shell::new().unwrap();
        sh.change_dir(env!("CARGO_MANIFEST_DIR"));
        let elsewhere = tempfile::tempdir().unwrap();
        let elsewhere = Utf8PathBuf::from_path_buf(elsewhere.path().to_owned()).unwrap();
        let _var = sh.push_env("CARGO_TARGET_DIR", &elsewhere);
        assert_eq!(target_directory(&sh).unwrap(), elsewhere);
    }

    #[test]
    fn the_executable_comes_from_its_compiler_artifact_message() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"release_core","kind":["lib"]},"executable":null}"#,
            "not json: cargo's own line",
            r#"{"reason":"compiler-artifact","target":{"name":"release","kind":["bin"]},"executable":"/elsewhere/debug/release"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(executable_of(&messages, "release"), Some(Utf8PathBuf::from("/elsewhere/debug/release")));
        assert_eq!(executable_of(&messages, "release_core"), None);
        assert_eq!(executable_of(&messages, "other"), None);
        let metadata = r#"{"packages":[],"target_directory":"/elsewhere","version":1}"#;
        assert_eq!(target_directory_of(metadata).unwrap(), "/elsewhere");
        assert!(target_directory_of("{}").is_err());
    }
}
