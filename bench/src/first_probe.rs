//! Time to the first probe's verdict, for a job that starts from nothing: what the generated
//! workflow does (download the tool's installer, which downloads and checks the archive,
//! installs the binary; then `release preflight`), against `cargo install` of the same
//! version into an empty target directory.
//!
//! The tool's "release" is made here: a snapshot of a project whose one archived build is
//! the benchmark's own `release` binary, with `[installers]`, served on loopback as GitHub's
//! release downloads. The probe is the GitHub release-write probe against the GitHub test
//! server. The peer compiles `release-cli` from this workspace with `cargo install --locked
//! --path`, crates already downloaded (so its figure leaves out the download cargo would do
//! on a fresh runner), and runs the same preflight with what it built.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use camino::Utf8Path;
use release_tests::downloads::Downloads;
use release_tests::github_server::{GithubServer, Level, TokenSpec, Visibility};
use xshell::cmd;

use super::{Bench, Row};

const REPO: &str = "acme/first-probe";
const TOKEN: &str = "ghs_firstprobe0123456789abcdef";

pub(super) fn time_to_first_probe(bench: &Bench) -> anyhow::Result<Row> {
    let version = env!("CARGO_PKG_VERSION");
    let host = host_triple(bench)?;
    // The tool's release: its archive and installer.
    let tool = bench.work.join("first-probe-tool");
    bench.sh.remove_path(&tool)?;
    bench.sh.create_dir(tool.join("out"))?;
    bench.sh.copy_file(&bench.bin, tool.join("out/release"))?;
    bench.sh.write_file(
        tool.join("release.toml"),
        format!(
            "[project]\nname = \"release\"\nversion = \"{version}\"\n\n[[build]]\nname = \"release-cli\"\n\
             command = [\"true\"]\nartifacts = [\"out/release\"]\narchive = true\ntargets = [\"{host}\"]\n\n\
             [github]\nrepository = \"acme/release\"\n\n[installers]\n"
        ),
    )?;
    bench.commit_tree(&tool, "")?;
    bench.release(&tool, &["run", "--snapshot"], &[])?;
    let dist = tool.join("dist");
    if !dist.join("release-installer.sh").is_file() {
        bail!("the snapshot wrote no installer into {dist}");
    }
    let downloads = Downloads::serve(&dist, &format!("v{version}"));

    // The repository a job releases, and the GitHub its probe writes to.
    let github = GithubServer::start();
    github
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    let project = bench.work.join("first-probe-project");
    bench.sh.remove_path(&project)?;
    bench.sh.write_file(
        project.join("release.toml"),
        format!("[project]\nversion = \"1.0.0\"\n\n[github]\nrepository = \"{REPO}\"\n"),
    )?;
    bench.commit_tree(&project, "")?;
    let api = github.api_url();

    let mut best = Duration::MAX;
    for round in 0..bench.sizes.runs {
        let job = bench.work.join(format!("first-probe-job-{round}"));
        bench.sh.remove_path(&job)?;
        bench.sh.create_dir(&job)?;
        let start = Instant::now();
        // `gh release download` of the installer, then the installer itself.
        let installer = job.join("release-installer.sh");
        let url = format!("{}/release-installer.sh", downloads.url);
        cmd!(bench.sh, "curl -fsSL -o {installer} {url}").quiet().run()?;
        let bin_dir = job.join("bin");
        cmd!(bench.sh, "sh {installer}")
            .env("RELEASE_DOWNLOAD_URL", &downloads.url)
            .env("RELEASE_INSTALL_DIR", &bin_dir)
            .quiet()
            .ignore_stderr()
            .run()?;
        probe(bench, &bin_dir.join("release"), &project, &api)?;
        best = best.min(start.elapsed());
    }

    let (peer, note) = if bench.sizes.runs > 2 {
        let job = bench.work.join("first-probe-cargo-install");
        bench.sh.remove_path(&job)?;
        let target_dir = job.join("target");
        let root = job.join("root");
        let manifest_dir = bench.root.join("release-cli");
        let start = Instant::now();
        cmd!(bench.sh, "cargo install --locked --quiet --path {manifest_dir} --root {root}")
            .env("CARGO_TARGET_DIR", &target_dir)
            .quiet()
            .run()
            .context("cargo install of release-cli")?;
        probe(bench, &root.join("bin/release"), &project, &api)?;
        let took = start.elapsed();
        (Some(took), "peer: crates already downloaded, empty target directory")
    } else {
        (None, "--small: the peer (minutes of compiling) runs in the full benchmark only")
    };
    Ok(Row {
        name: "time to the first probe's verdict, job from nothing".into(),
        ours: format!("{:.2} s (installer, archive checked, `release preflight`)", best.as_secs_f64()),
        peer: peer
            .map_or("—".into(), |p| format!("{:.1} s (`cargo install --locked`, then preflight)", p.as_secs_f64())),
        ratio: peer.map_or("—".into(), |p| format!("{:.3}×", best.as_secs_f64() / p.as_secs_f64())),
        note: format!("best of {}; {note}", bench.sizes.runs),
    })
}

/// `release preflight` with `bin` in `project`, which must prove the release write.
fn probe(bench: &Bench, bin: &Utf8Path, project: &Utf8Path, api: &str) -> anyhow::Result<()> {
    let _dir = bench.sh.push_dir(project);
    let out = cmd!(bench.sh, "{bin} --json -q preflight")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", api)
        .env("HOME", project.join(".home"))
        .quiet()
        .ignore_status()
        .output()?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("preflight printed {}", String::from_utf8_lossy(&out.stderr)))?;
    let proved = report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["id"] == "preflight:github-release-write" && s["status"] == "ok");
    if !out.status.success() || !proved {
        bail!("the probe did not pass: {report}");
    }
    Ok(())
}

fn host_triple(bench: &Bench) -> anyhow::Result<String> {
    let text = cmd!(bench.sh, "rustc -vV").quiet().read()?;
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(|h| h.trim().to_owned()).context("rustc -vV names no host")
}
