//! Unit and property tests of the configuration.

mod unit {
    use super::super::*;
    #[allow(unused_imports)]
    use camino::{Utf8Path, Utf8PathBuf};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Utf8Path::new("/repo/release.toml"))
    }

    /// One run shows every problem of the file, as preflight shows every failed probe.
    #[test]
    fn validation_reports_every_problem_at_once() {
        let text = "[project]\nversion = \"1.0.0\"\ntag = \"release\"\n\
                    [[build]]\nname = \"a\"\ncommand = []\n\
                    [[build]]\nname = \"a\"\ncommand = [\"make\"]\ntargets = [\"linux\"]\n\
                    [runners]\n\"aarch64-apple-darwin\" = \"macos-14\"\n";
        let err = parse(text).unwrap_err();
        let message = err.to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 5, "{message}");
        assert!(
            lines[0].ends_with("`project.tag`: the tag template `release` does not contain `{version}`"),
            "{message}"
        );
        assert!(lines[1].ends_with("`build[0].command`: the command is empty"), "{message}");
        assert!(lines[2].ends_with("`build[1].name`: two build commands are named `a`"), "{message}");
        assert!(lines[3].ends_with("`build[1].targets[0]`: `linux` is not a target triple"), "{message}");
        assert!(
            lines[4].ends_with("`runners.aarch64-apple-darwin`: no [[build]] lists the target `aarch64-apple-darwin`"),
            "{message}"
        );
        let help = err.help().unwrap();
        assert!(help.contains("v{version}") && help.contains("give each [[build]] a distinct name"), "{help}");
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let err = parse("[project]\nversion = \"1.0.0\"\ncolour = \"blue\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/repo/release.toml:3:1: unknown field `colour`"), "{text}");
    }

    #[test]
    fn tag_template_needs_version() {
        let err = parse("[project]\nversion = \"1.0.0\"\ntag = \"latest\"\n").unwrap_err();
        assert!(err.to_string().contains("`project.tag`"), "{err}");
    }

    #[test]
    fn version_must_be_semver() {
        let err = parse("[project]\nversion = \"1.0\"\n").unwrap_err();
        assert!(err.to_string().contains("not a SemVer version"), "{err}");
    }

    #[test]
    fn defaults() {
        let config = parse("[project]\nversion = \"1.2.3\"\n").unwrap();
        assert_eq!(config.project.tag, "v{version}");
        assert_eq!(config.project.dist, "dist");
        assert_eq!(config.root, "/repo");
        assert_eq!(config.version.unwrap().to_string(), "1.2.3");
    }

    #[test]
    fn duplicate_artifact_names_are_rejected() {
        let err = parse(
            "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"a\"\ncommand = [\"true\"]\nartifacts = [\"x/out\"]\n[[build]]\nname = \"b\"\ncommand = [\"true\"]\nartifacts = [\"y/out\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`out` is also produced by build[0].artifacts[0]"), "{err}");
    }

    const TWO_TARGETS: &str = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\", \"--target\", \"{target}\"]\ntargets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\n";

    #[test]
    fn targets_name_artifacts_by_their_own_os_and_arch() {
        let config = parse(&format!(
            "{TWO_TARGETS}artifacts = [{{ path = \"target/{{target}}/release/app\", name = \"app-{{version}}-{{arch}}-{{os}}\" }}]\n"
        ))
        .unwrap();
        let spec = &config.build[0].artifacts[0];
        let version = config.version.as_ref();
        assert_eq!(artifact_name(spec, version, Some("aarch64-apple-darwin")), "app-1.0.0-aarch64-macos");
        assert_eq!(artifact_name(spec, version, Some("x86_64-pc-windows-msvc")), "app-1.0.0-x86_64-windows");
        assert_eq!(
            expand_for("target/{target}/release/app", "1.0.0", "", "", Some("x86_64-unknown-linux-musl")),
            "target/x86_64-unknown-linux-musl/release/app"
        );
        assert_eq!(config.targets(), ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin"]);
    }

    #[test]
    fn artifact_names_must_differ_per_target() {
        let err = parse(&format!("{TWO_TARGETS}artifacts = [\"target/release/app\"]\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`build[0].artifacts[0]`: the artifact name `app` for aarch64-apple-darwin is also produced by build[0].artifacts[0] for x86_64-unknown-linux-gnu"),
            "{text}"
        );
        assert_eq!(err.help().as_deref(), Some("give each artifact a distinct `name`, e.g. with `{target}` in it"));
        // gnu and musl share os and arch: only `{target}` tells them apart.
        let both_linux = TWO_TARGETS.replace("aarch64-apple-darwin", "x86_64-unknown-linux-musl");
        assert!(
            parse(&format!("{both_linux}artifacts = [{{ path = \"a\", name = \"app-{{os}}-{{arch}}\" }}]\n")).is_err()
        );
        assert!(parse(&format!("{both_linux}artifacts = [{{ path = \"a\", name = \"app-{{target}}\" }}]\n")).is_ok());
    }

    #[test]
    fn bad_targets_and_runners_are_rejected_with_the_field() {
        let cases = [
            (
                TWO_TARGETS.replace("aarch64-apple-darwin", "linux"),
                "`build[0].targets[1]`: `linux` is not a target triple",
            ),
            (
                TWO_TARGETS.replace("aarch64-apple-darwin", "x86_64-unknown-linux-gnu"),
                "the target `x86_64-unknown-linux-gnu` is listed twice",
            ),
            (
                TWO_TARGETS.replace("targets = [\"x86_64-unknown-linux-gnu\", \"aarch64-apple-darwin\"]\n", ""),
                "build `app` uses `{target}` but lists no `targets`",
            ),
            (
                format!("{TWO_TARGETS}[runners]\n\"riscv64gc-unknown-linux-gnu\" = \"ubuntu-latest\"\n"),
                "`runners.riscv64gc-unknown-linux-gnu`: no [[build]] lists the target",
            ),
            (format!("{TWO_TARGETS}[runners]\n\"aarch64-apple-darwin\" = \" \"\n"), "the runner label is empty"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }

    #[test]
    fn runners_default_to_the_hosted_runner_of_the_targets_platform() {
        let config = parse(&format!("{TWO_TARGETS}[runners]\n\"aarch64-apple-darwin\" = \"macos-14\"\n")).unwrap();
        assert_eq!(config.runner_for("aarch64-apple-darwin"), "macos-14");
        assert_eq!(config.runner_for("x86_64-unknown-linux-gnu"), "ubuntu-latest");
        for (target, runner) in [
            ("aarch64-unknown-linux-gnu", "ubuntu-24.04-arm"),
            ("x86_64-apple-darwin", "macos-15-intel"),
            ("aarch64-apple-darwin", "macos-latest"),
            ("x86_64-pc-windows-msvc", "windows-latest"),
            ("aarch64-pc-windows-msvc", "windows-11-arm"),
            ("x86_64-unknown-linux-musl", "ubuntu-latest"),
            ("wasm32-unknown-unknown", "ubuntu-latest"),
        ] {
            assert_eq!(default_runner(target), runner, "{target}");
        }
    }

    #[test]
    fn secret_variables_are_the_standard_ones_and_every_configured_one() {
        let config = parse(
            "[project]\nversion = \"1.0.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n[signing]\npassword-env = \"KEY_PW\"\n[registries.\"ghcr.io\"]\nusername-env = \"USER\"\npassword-env = \"GHCR_PW\"\n",
        )
        .unwrap();
        let names = config.secret_variables();
        for name in crate::secret::STANDARD_SECRET_VARIABLES.into_iter().chain(["RELEASE_TOKEN", "KEY_PW", "GHCR_PW"]) {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n == "USER"), "a username is not a secret");
        // A config that fails validation still names its secrets.
        let invalid = "[project]\nversion = \"1.0\"\n[github]\ntoken-env = \"RELEASE_TOKEN\"\n";
        assert!(parse(invalid).is_err());
        assert!(secret_variables_of_text(invalid).contains(&"RELEASE_TOKEN".to_owned()));
        assert_eq!(secret_variables_of_text("not toml ["), crate::secret::STANDARD_SECRET_VARIABLES);
    }

    #[test]
    fn chart_paths_stay_inside_the_project() {
        let chart = |path: &str| format!("[project]\nversion = \"1.0.0\"\n[[chart]]\npath = \"{path}\"\n");
        assert!(parse(&chart("charts/hello")).is_ok());
        let err = parse(&chart("../charts/hello")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/repo/release.toml: `chart[0].path`: `../charts/hello` contains `..`: a chart must be inside the project"
        );
        let err = parse(&chart("/srv/charts/hello")).unwrap_err();
        assert!(err.to_string().contains("is absolute"), "{err}");
        let twice = format!("{}[[chart]]\npath = \"./charts/hello/\"\n", chart("charts/hello"));
        let err = parse(&twice).unwrap_err();
        assert!(err.to_string().contains("`chart[1].path`: chart[0] has the same directory"), "{err}");
    }

    #[test]
    fn cargo_builds_archive_by_default_and_bad_combinations_name_the_field() {
        let base = "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"app\"\n";
        let config = parse(&format!("{base}cargo = {{ package = \"app\", bins = [\"app\"] }}\n")).unwrap();
        let build = &config.build[0];
        assert!(build.archives() && build.sboms());
        assert_eq!(build.include_patterns(), ["README*", "LICENSE*", "CHANGELOG*"]);
        assert_eq!(
            build.published_names(config.version.as_ref(), Some("aarch64-apple-darwin"), ""),
            ["app-aarch64-apple-darwin-v1.0.0.tar.gz", "app-aarch64-apple-darwin-v1.0.0.tar.gz.cdx.json"]
        );
        let raw =
            parse(&format!("{base}cargo = {{ package = \"app\", bins = [\"app\"] }}\narchive = false\n")).unwrap();
        assert_eq!(
            raw.build[0].published_names(raw.version.as_ref(), Some("x86_64-pc-windows-msvc"), ""),
            ["app-x86_64-pc-windows-msvc-v1.0.0.exe"]
        );
        let cases = [
            (
                format!("{base}command = [\"make\"]\ncargo = {{ package = \"app\", bins = [\"app\"] }}\n"),
                "`build[0].cargo`: both `command` and `cargo` are given",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [] }}\n"),
                "`build[0].cargo.bins`: no binary is named",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\nartifacts = [\"x\"]\n"),
                "`build[0].artifacts`: a cargo build takes its binaries from cargo's own messages",
            ),
            (
                format!("{base}command = [\"make\"]\nsbom = true\nartifacts = [\"x\"]\n"),
                "`build[0].sbom`: an SBOM is made from cargo's dependency graph",
            ),
            (
                format!("{base}command = [\"make\"]\ninclude = [\"LICENSE\"]\nartifacts = [\"x\"]\n"),
                "`build[0].include`: `include` lists files for the archive",
            ),
            (
                format!("{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\ninclude = [\"../LICENSE\"]\n"),
                "`build[0].include[0]`: `../LICENSE` contains `..`",
            ),
            (
                format!(
                    "{base}cargo = {{ package = \"app\", bins = [\"a\"] }}\n[[build]]\nname = \"b\"\ncargo = {{ package = \"app\", bins = [\"b\"] }}\n"
                ),
                "`build[1]`: the published name `app-<host>-v1.0.0.tar.gz` is also produced by build[0]",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }

    #[test]
    fn keyless_takes_both_trust_files_or_neither_and_no_key() {
        let base = "[project]\nversion = \"1.0.0\"\n[signing]\nmode = \"keyless\"\n";
        parse(base).unwrap();
        parse(&format!("{base}signing-config = \"s.json\"\ntrusted-root = \"t.json\"\n")).unwrap();
        let err = parse(&format!("{base}signing-config = \"s.json\"\n")).unwrap_err();
        assert!(err.to_string().contains("signing.trusted-root"), "{err}");
        let err = parse(&format!("{base}key = \"cosign.key\"\n")).unwrap_err();
        assert!(err.to_string().contains("signing.key"), "{err}");
        let err = parse("[project]\nversion = \"1.0.0\"\n[signing]\ntrusted-root = \"t.json\"\n").unwrap_err();
        assert!(err.to_string().contains("is a setting of `mode = \"keyless\"`"), "{err}");
    }
}

/// Property tests: parsing never panics, whatever the text, and every valid config the
/// generator makes survives a write and a re-read unchanged. `cargo fuzz` needs a nightly
/// toolchain; the raw-bytes property below is its stable stand-in, bounded so that it runs
/// with every `cargo test`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::super::*;
    #[allow(unused_imports)]
    use camino::{Utf8Path, Utf8PathBuf};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Utf8Path::new("/nonexistent/release.toml"))
    }

    /// A config known to be valid, to mutate.
    const SEED: &str = "[project]\nname = \"hello\"\nversion = \"1.2.3\"\ntag = \"v{version}\"\n\n[[build]]\nname = \"app\"\ncommand = [\"cargo\", \"build\"]\nartifacts = [\"target/app\", { path = \"x/y\", name = \"y-{version}\" }]\n\n[github]\nrepository = \"acme/hello\"\n\n[[chart]]\npath = \"charts/hello\"\npush = \"oci://ghcr.io/acme/charts\"\n\n[network]\nattempts = 3\n";

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{0,8}"
    }

    fn version() -> impl Strategy<Value = String> {
        (0u64..100, 0u64..100, 0u64..100, prop::option::of("[a-z]{1,5}(\\.[1-9][0-9]?)?"))
            .prop_map(|(a, b, c, pre)| format!("{a}.{b}.{c}{}", pre.map(|p| format!("-{p}")).unwrap_or_default()))
    }

    /// A valid config's TOML: distinct build names, distinct artifact names, a tag with
    /// `{version}`.
    fn valid_config() -> impl Strategy<Value = String> {
        (
            version(),
            "[a-z-]{0,6}",
            prop::collection::btree_set(name(), 0..4),
            prop::option::of(("[a-z]{1,6}", "[a-z]{1,6}", any::<bool>(), any::<bool>())),
            (1u32..10, 1u64..600, 1usize..16, 0u64..5000),
        )
            .prop_map(|(version, tag_prefix, builds, github, (attempts, stall, uploads, interval))| {
                let mut text = format!("[project]\nversion = \"{version}\"\ntag = \"{tag_prefix}{{version}}\"\n");
                for build in &builds {
                    // Three artifact names that no other build can produce: build names are
                    // distinct and have no dots.
                    text.push_str(&format!(
                        "\n[[build]]\nname = \"{build}\"\ncommand = [\"make\", \"{build}\"]\nartifacts = [\"out/{build}.tar\", {{ path = \"out/{build}/bin\", name = \"{build}-bin\" }}, {{ path = \"out/{build}/lib\", name = \"{build}-lib-{{version}}\" }}]\n"
                    ));
                }
                if let Some((owner, repo, prerelease, probe)) = github {
                    text.push_str(&format!(
                        "\n[github]\nrepository = \"{owner}/{repo}\"\nprerelease = {prerelease}\nprobe = {probe}\n"
                    ));
                }
                text.push_str(&format!(
                    "\n[network]\nattempts = {attempts}\nstall-timeout-secs = {stall}\nupload-concurrency = {uploads}\n\
                     github-mutation-interval-ms = {interval}\n"
                ));
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,400}") {
            if let Err(err) = parse(&text) {
                // Every error names the file it is about.
                prop_assert!(err.to_string().contains("/nonexistent/"), "{}", err);
            }
        }

        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn a_mutated_valid_config_parses_or_fails_without_panicking(
            at in 0usize..SEED.len(), cut in 0usize..40, insert in "\\PC{0,12}",
        ) {
            let at = (0..=at).rev().find(|i| SEED.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + cut).min(SEED.len());
            let end = (end..=SEED.len()).find(|i| SEED.is_char_boundary(*i)).unwrap_or(SEED.len());
            let text = format!("{}{insert}{}", &SEED[..at], &SEED[end..]);
            let _ = parse(&text);
        }
    }

    proptest! {
        #[test]
        fn valid_configs_round_trip(text in valid_config()) {
            let config = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let written = toml::to_string(&config.layer).unwrap();
            let again = parse(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
            prop_assert_eq!(toml::to_string(&again.layer).unwrap(), written);
            prop_assert_eq!(&again.version, &config.version);
            prop_assert_eq!(again.build.len(), config.build.len());
        }
    }

    #[test]
    fn the_seed_is_valid() {
        parse(SEED).unwrap();
    }
}
