//! Keyless signing against the test Sigstore of `release-tests` (its Actions OIDC endpoint,
//! Fulcio and Rekor on loopback): the sign step for 100 small files (one certificate, one
//! Rekor entry per file), and peak memory signing the big artifact keyless (goal: under
//! 64 MiB whatever the file's size, since each file is streamed through SHA-256 and only the
//! digest is signed).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use camino::Utf8Path;
use release_tests::sigstore::{SigstoreServers, Workflow};
use xshell::cmd;

use super::{Bench, Row, mib};

/// One finished keyless run: its `--json` report, peak memory and wall time.
struct Measured {
    report: serde_json::Value,
    rss_kib: u64,
    wall: Duration,
}

impl Measured {
    fn step_ms(&self, id: &str) -> anyhow::Result<u64> {
        self.report["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == id)
            .and_then(|s| s["elapsed_ms"].as_u64())
            .with_context(|| format!("the report has no step `{id}`"))
    }
}

/// Files in the many-files benchmark.
const FILES: usize = 100;
/// The peak-memory goal for a keyless run.
const GOAL_MIB: u64 = 64;

fn servers() -> SigstoreServers {
    SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.0.0"))
}

fn actions_env(servers: &SigstoreServers) -> Vec<(String, String)> {
    vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), servers.token_request_url()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), servers.token_request_token().into()),
    ]
}

fn project(
    bench: &Bench,
    servers: &SigstoreServers,
    name: &str,
    artifacts: &str,
) -> anyhow::Result<camino::Utf8PathBuf> {
    let dir = bench.work.join(name);
    bench.sh.remove_path(&dir)?;
    bench.sh.create_dir(&dir)?;
    servers.write_trust_files(&dir.join("sigstore"));
    let config = format!(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"files\"\ncommand = [\"true\"]\nartifacts = [{artifacts}]\n\n[signing]\nmode = \"keyless\"\nsigning-config = \"sigstore/signing_config.json\"\ntrusted-root = \"sigstore/trusted_root.json\"\n"
    );
    bench.sh.write_file(dir.join("release.toml"), config)?;
    Ok(dir)
}

/// `release --json -q run --snapshot` in `dir` as a GitHub Actions job, under
/// `/usr/bin/time -v`. In Actions the binary first prints `::add-mask::` lines for the
/// token values; the JSON report follows them.
fn run(bench: &Bench, dir: &Utf8Path, servers: &SigstoreServers) -> anyhow::Result<Measured> {
    let bin = &bench.bin;
    let home = dir.join(".home");
    bench.sh.create_dir(&home)?;
    let _dir = bench.sh.push_dir(dir);
    let mut command = cmd!(bench.sh, "/usr/bin/time -v {bin} --json -q run --snapshot")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .quiet()
        .ignore_status();
    for (key, value) in actions_env(servers) {
        command = command.env(key, value);
    }
    let start = Instant::now();
    let output = command.output()?;
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("the keyless run in {dir} failed:\n{stderr}\n{stdout}");
    }
    let json: String = stdout.lines().skip_while(|l| l.starts_with("::")).collect::<Vec<_>>().join("\n");
    let report = serde_json::from_str(&json).with_context(|| format!("`release --json` printed {stdout}"))?;
    let rss_kib = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .context("`/usr/bin/time -v` reported no maximum resident set size")?;
    Ok(Measured { report, rss_kib, wall })
}

/// `sign:keyless` for 100 files plus `SHA256SUMS`, and what the servers saw.
pub(super) fn many_files(bench: &Bench) -> anyhow::Result<Row> {
    let servers = servers();
    let inputs = bench.work.join("keyless-inputs");
    bench.sh.create_dir(&inputs)?;
    let mut artifacts = Vec::new();
    for i in 0..FILES {
        let path = inputs.join(format!("file-{i:03}.txt"));
        std::fs::write(&path, format!("file {i}\n").repeat(64))?;
        artifacts.push(format!("\"{path}\""));
    }
    let dir = project(bench, &servers, "keyless-many", &artifacts.join(", "))?;
    let measured = run(bench, &dir, &servers)?;
    let sign_ms = measured.step_ms("sign:keyless")?;
    let certificates = servers.fulcio_requests().len();
    let entries = servers.rekor_entries().len() - 2; // the log's two seed entries
    if certificates != 1 || entries != FILES + 1 {
        bail!("expected one certificate and {} Rekor entries, the servers saw {certificates} and {entries}", FILES + 1);
    }
    Ok(Row {
        name: format!("keyless signing, {FILES} files + SHA256SUMS (local Fulcio and Rekor)"),
        ours: format!("{sign_ms} ms"),
        peer: "—".into(),
        ratio: format!("{:.1} ms/file", sign_ms as f64 / (FILES + 1) as f64),
        note: format!(
            "{certificates} certificate, {entries} Rekor entries, whole run {:.1} s",
            measured.wall.as_secs_f64()
        ),
    })
}

/// Peak memory of a keyless snapshot whose one artifact is the big file.
pub(super) fn big_file_peak_memory(bench: &Bench, big: &Utf8Path) -> anyhow::Result<Row> {
    let servers = servers();
    let dir = project(bench, &servers, "keyless-big", &format!("{{ path = \"{big}\", name = \"big.bin\" }}"))?;
    let measured = run(bench, &dir, &servers)?;
    if !dir.join("dist/big.bin.sigstore.json").exists() {
        bail!("the keyless run in {dir} wrote no bundle for big.bin");
    }
    let kib = measured.rss_kib;
    Ok(Row {
        name: format!("peak memory, keyless signing a {} MiB artifact", bench.sizes.artifact_mib),
        ours: mib(kib),
        peer: format!("{GOAL_MIB} MiB (goal)"),
        ratio: format!("{:.2}×", kib as f64 / (GOAL_MIB * 1024) as f64),
        note: if kib < GOAL_MIB * 1024 { "under the goal".into() } else { "OVER the goal".into() },
    })
}
