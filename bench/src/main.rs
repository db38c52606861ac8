//! `cargo xtask bench` (which runs `cargo run --package bench -- ARGS`): our costs side by
//! side with peer tools, in one run, as ratios.
//!
//! A crate of its own, not part of the xtask, so that `cargo xtask release` never compiles
//! the test servers the benchmarks start.
//!
//! Every figure is measured in the same run on the same machine against the same input, so
//! ratios are meaningful where absolute numbers are not. `--small` runs every benchmark on
//! small inputs with the debug binary (what CI checks: that the benchmarks run); the default
//! uses a release build and inputs large enough to measure.
//!
//! - [`local`]: what needs no server: hashing against `sha256sum`, start-up against `true`,
//!   chart packaging against `tar | gzip`, peak memory of snapshot runs (signed and not).
//! - [`archive`]: a per-target archive of a big binary against `tar -czf`, time and peak
//!   memory.
//! - [`first_probe`]: a job from nothing to its first probe's verdict, with the installer,
//!   against `cargo install`.
//! - [`remote`]: what talks to the test servers (`release-tests`: our GitHub server, the real
//!   `docker-registry` on loopback): concurrent preflight under latency, peak memory of a
//!   real release run, registry push throughput against `skopeo`.
//!
//! Benchmarks are not tests: nothing here asserts a time. A benchmark fails only when the
//! thing it measures did not happen (a run failed, a digest differs, a server lacks the
//! upload), so that a figure never describes work that was not done.

// The benchmarks start peer tools and the test servers, and read `PATH` for the runs they
// start: this crate is a harness, outside the library's rules (clippy.toml).
#![allow(clippy::disallowed_methods)]

mod archive;
mod cargo;
mod first_probe;
mod keyless;
mod local;
mod remote;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;
use xshell::{Shell, cmd};

/// Measures the release tool against peer tools (docs/performance.md).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask bench", bin_name = "cargo xtask bench")]
pub struct Options {
    /// Small inputs and the debug binary: that the benchmarks run, not what they measure.
    #[arg(long)]
    pub small: bool,
    /// Run only the benchmarks whose key contains this (`hash`, `startup`, `package`,
    /// `snapshot`, `signed`, `archive`, `keyless`, `firstprobe`, `preflight`, `publish`).
    #[arg(long, value_name = "KEY")]
    pub only: Option<String>,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench lives in the workspace");
    match run(root, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Input sizes and settings: the full run's, or `--small`'s.
pub(crate) struct Sizes {
    /// The big artifact: hashed, snapshotted, uploaded to GitHub.
    artifact_mib: u64,
    /// The incompressible file inside the pushed chart: its package is about this large.
    chart_blob_mib: u64,
    /// The chart packaged against `tar | gzip`.
    package_chart_kib: u64,
    /// Added to every request of the servers in the preflight benchmark.
    latency: Duration,
    /// Repetitions of the short measurements (best of).
    runs: usize,
    /// Repetitions of the release run that publishes the big artifact and chart.
    publish_rounds: usize,
}

impl Sizes {
    fn new(small: bool) -> Self {
        if small {
            Sizes {
                artifact_mib: 16,
                chart_blob_mib: 4,
                package_chart_kib: 512,
                latency: Duration::from_millis(50),
                runs: 2,
                publish_rounds: 1,
            }
        } else {
            Sizes {
                artifact_mib: 1024,
                chart_blob_mib: 256,
                package_chart_kib: 4096,
                latency: Duration::from_millis(150),
                runs: 5,
                publish_rounds: 2,
            }
        }
    }
}

pub(crate) struct Row {
    name: String,
    ours: String,
    peer: String,
    ratio: String,
    note: String,
}

/// What the benchmarks share: the shell, the binary, the scratch directory.
pub(crate) struct Bench {
    sh: Shell,
    root: Utf8PathBuf,
    bin: Utf8PathBuf,
    work: Utf8PathBuf,
    sizes: Sizes,
}

pub fn run(root: &Utf8Path, options: &Options) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let profile = if options.small { "debug" } else { "release" };
    // Where cargo put things, as cargo says: `CARGO_TARGET_DIR` and `build.target-dir` move it.
    let bin = cargo::build_binary(&sh, "release-cli", "release", !options.small)?;
    let work = cargo::target_directory(&sh)?.join("bench");
    sh.create_dir(&work)?;
    let bench = Bench { sh, root: root.to_owned(), bin, work, sizes: Sizes::new(options.small) };

    let big = bench.work.join(format!("artifact-{}MiB.bin", bench.sizes.artifact_mib));
    make_file(&big, bench.sizes.artifact_mib << 20, 1)?;

    // The test servers run on this runtime's threads while `release` runs as a subprocess.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let load_before = load_average();
    let started = Instant::now();
    let wanted = |key: &str| options.only.as_deref().is_none_or(|only| key.contains(only));
    let mut rows = Vec::new();
    if wanted("hash") {
        rows.push(local::hash_throughput(&bench, &big)?);
    }
    if wanted("startup") {
        rows.push(local::startup(&bench)?);
    }
    if wanted("package") {
        rows.push(local::chart_packaging(&bench)?);
    }
    if wanted("snapshot") {
        rows.push(local::snapshot_peak_memory(&bench, &big)?);
    }
    if wanted("signed") {
        rows.push(local::signed_snapshot_peak_memory(&bench, &big)?);
    }
    if wanted("archive") {
        rows.extend(archive::archive_packaging(&bench, &big)?);
    }
    if wanted("keyless") {
        rows.push(keyless::many_files(&bench)?);
        rows.push(keyless::big_file_peak_memory(&bench, &big)?);
    }
    if wanted("firstprobe") {
        rows.push(first_probe::time_to_first_probe(&bench)?);
    }
    if wanted("preflight") {
        rows.push(remote::concurrent_preflight(&bench, &runtime)?);
    }
    if wanted("publish") {
        rows.extend(remote::publish(&bench, &runtime, &big)?);
    }
    let load_after = load_average();

    println!(
        "\nbench ({profile} build, {} cores, load average {load_before} before, {load_after} after, {:.0} s)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        started.elapsed().as_secs_f64()
    );
    println!("| benchmark | ours | peer | ours/peer | note |\n|---|---|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} | {} | {} |", row.name, row.ours, row.peer, row.ratio, row.note);
    }
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg`: the machine is shared, so a figure means
/// little without it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// A file of pseudo-random bytes (incompressible, so nothing is faster than it should be).
/// Different seeds give different contents. An existing file of the right size is reused.
fn make_file(path: &Utf8Path, size: u64, seed: u64) -> anyhow::Result<()> {
    if path.metadata().is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x9e3779b97f4a7c15u64 ^ seed.wrapping_mul(0xbf58476d1ce4e5b9);
    let mut block = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(())
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

fn mib_per_s(mib: f64, d: Duration) -> String {
    format!("{:.0} MiB/s", mib / d.as_secs_f64())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One finished `release` run: its `--json` report, peak memory and wall time.
pub(crate) struct Measured {
    report: serde_json::Value,
    rss_kib: u64,
    wall: Duration,
}

impl Measured {
    /// A step's `elapsed_ms` from the report.
    fn step_ms(&self, id: &str) -> anyhow::Result<u64> {
        self.steps()
            .find(|s| s["id"] == id)
            .and_then(|s| s["elapsed_ms"].as_u64())
            .with_context(|| format!("the report has no step `{id}`: {}", self.report))
    }

    fn steps(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.report["steps"].as_array().into_iter().flatten()
    }
}

impl Bench {
    /// Makes `dir` a git repository with everything but `ignored` committed, as a
    /// maintainer's checkout is (a release refuses uncommitted changes and a directory
    /// outside git). Idempotent: a later call commits what changed.
    fn commit_tree(&self, dir: &Utf8Path, ignored: &str) -> anyhow::Result<()> {
        let _dir = self.sh.push_dir(dir);
        self.sh.write_file(dir.join(".gitignore"), format!("/dist/\n/.home/\n{ignored}"))?;
        let git = |args: &[&str]| {
            cmd!(self.sh, "git {args...}")
                .env("GIT_AUTHOR_NAME", "bench")
                .env("GIT_AUTHOR_EMAIL", "bench@release.invalid")
                .env("GIT_COMMITTER_NAME", "bench")
                .env("GIT_COMMITTER_EMAIL", "bench@release.invalid")
                .quiet()
                .ignore_stdout()
                .run()
        };
        if !dir.join(".git").exists() {
            git(&["init", "-q"])?;
        }
        git(&["add", "-A"])?;
        git(&["commit", "-q", "--allow-empty", "-m", "bench"])?;
        Ok(())
    }

    /// Runs `release --json -q ARGS` in `dir` under `/usr/bin/time -v`, with a clean
    /// environment (`PATH`, a private `HOME`, and `env`), and fails unless it succeeded.
    fn release(&self, dir: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Measured> {
        let bin = &self.bin;
        let home = dir.join(".home");
        self.sh.create_dir(&home)?;
        let _dir = self.sh.push_dir(dir);
        let mut command = cmd!(self.sh, "/usr/bin/time -v {bin} --json -q {args...}")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .quiet()
            .ignore_status();
        for (key, value) in env {
            command = command.env(key, value);
        }
        let start = Instant::now();
        let output = command.output()?;
        let wall = start.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!("`release {}` in {dir} failed:\n{stderr}\n{stdout}", args.join(" "));
        }
        let report = serde_json::from_str(&stdout).with_context(|| format!("`release --json` printed {stdout}"))?;
        Ok(Measured { report, rss_kib: max_rss_kib(&stderr)?, wall })
    }

    /// Maximum resident set size of any command, from `/usr/bin/time -v`.
    fn peak_rss_kib(&self, argv: &[&str]) -> anyhow::Result<u64> {
        let output = cmd!(self.sh, "/usr/bin/time -v {argv...}").quiet().ignore_stdout().ignore_status().output()?;
        if !output.status.success() {
            bail!("`{}` failed: {}", argv.join(" "), String::from_utf8_lossy(&output.stderr));
        }
        max_rss_kib(&String::from_utf8_lossy(&output.stderr))
    }
}

fn max_rss_kib(time_output: &str) -> anyhow::Result<u64> {
    time_output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok())
        .context("no maximum resident set size in /usr/bin/time's output (is the `time` package installed?)")
}
