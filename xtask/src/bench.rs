//! `cargo xtask bench`: our costs side by side with peer tools, in one run, as ratios.
//!
//! Every figure is measured in the same run on the same machine against the same input, so
//! ratios are meaningful where absolute numbers are not. `--small` runs every benchmark on
//! small inputs with the debug binary (what CI checks: that the benchmarks run); the default
//! uses a release build and inputs large enough to measure.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use camino::Utf8Path;
use xshell::{Shell, cmd};

pub struct Options {
    pub small: bool,
}

struct Row {
    name: String,
    ours: String,
    peer: String,
    ratio: String,
    note: String,
}

pub fn run(root: &Utf8Path, options: &Options) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let profile = if options.small { "debug" } else { "release" };
    if options.small {
        cmd!(sh, "cargo build --quiet --package release-cli").run()?;
    } else {
        cmd!(sh, "cargo build --quiet --release --package release-cli").run()?;
    }
    let bin = root.join("target").join(profile).join("release");
    let work = root.join("target/bench");
    sh.create_dir(&work)?;

    let mut rows = Vec::new();
    let hash_mib: u64 = if options.small { 16 } else { 1024 };
    let big = work.join(format!("artifact-{hash_mib}MiB.bin"));
    make_file(&big, hash_mib << 20)?;

    rows.push(hash_throughput(&sh, &big, hash_mib)?);
    rows.push(startup(&sh, &bin, root, if options.small { 5 } else { 30 })?);
    rows.push(snapshot_peak_memory(&sh, &bin, &work, &big)?);

    println!("\nbench ({profile} build, {} cores)\n", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("| benchmark | ours | peer | ours/peer | note |\n|---|---|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} | {} | {} |", row.name, row.ours, row.peer, row.ratio, row.note);
    }
    Ok(())
}

/// A file of pseudo-random bytes (incompressible, so nothing is faster than it should be).
fn make_file(path: &Utf8Path, size: u64) -> anyhow::Result<()> {
    if path.metadata().is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block)?;
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

fn mib_per_s(mib: u64, d: Duration) -> String {
    format!("{:.0} MiB/s", mib as f64 / d.as_secs_f64())
}

/// SHA-256 of one file: the function every artifact goes through, against `sha256sum`.
fn hash_throughput(sh: &Shell, file: &Utf8Path, mib: u64) -> anyhow::Result<Row> {
    let expected = cmd!(sh, "sha256sum {file}").read()?;
    let (ours_digest, _) = release_core::checksum::hash_file(file)?;
    if !expected.starts_with(&ours_digest) {
        bail!("digests differ: sha256sum says {expected}, we say {ours_digest}");
    }
    let ours = best_of(3, || Ok(release_core::checksum::hash_file(file)?))?;
    let peer = best_of(3, || Ok(cmd!(sh, "sha256sum {file}").quiet().read()?))?;
    Ok(Row {
        name: format!("sha256 of {mib} MiB"),
        ours: mib_per_s(mib, ours),
        peer: format!("{} (sha256sum)", mib_per_s(mib, peer)),
        ratio: format!("{:.2}× time", ours.as_secs_f64() / peer.as_secs_f64()),
        note: "best of 3; below 1.00 is faster than sha256sum".into(),
    })
}

/// `release --help` and `release plan` against a process that does nothing (`true`).
fn startup(sh: &Shell, bin: &Utf8Path, root: &Utf8Path, runs: usize) -> anyhow::Result<Row> {
    let config = root.join("examples/hello/release.toml");
    let help = best_of(runs, || Ok(cmd!(sh, "{bin} --help").quiet().ignore_stdout().run()?))?;
    let plan = best_of(runs, || Ok(cmd!(sh, "{bin} --config {config} plan").quiet().ignore_stdout().run()?))?;
    let trivial = best_of(runs, || Ok(cmd!(sh, "true").quiet().run()?))?;
    Ok(Row {
        name: "start-up: `release --help` / `release plan`".into(),
        ours: format!("{:.1} ms / {:.1} ms", ms(help), ms(plan)),
        peer: format!("{:.1} ms (`true`)", ms(trivial)),
        ratio: format!("{:.1}× / {:.1}×", ms(help) / ms(trivial), ms(plan) / ms(trivial)),
        note: format!("best of {runs}; no network, no TLS set-up, no key decryption"),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak memory of a snapshot release whose one artifact is the big file: it is copied and
/// hashed in one pass through a fixed buffer, so memory must not grow with the file.
fn snapshot_peak_memory(sh: &Shell, bin: &Utf8Path, work: &Utf8Path, big: &Utf8Path) -> anyhow::Result<Row> {
    let project = work.join("snapshot-project");
    sh.remove_path(&project)?;
    sh.create_dir(&project)?;
    let config = format!(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"big\"\ncommand = [\"true\"]\nartifacts = [{{ path = \"{big}\", name = \"big.bin\" }}]\n"
    );
    sh.write_file(project.join("release.toml"), config)?;
    let config_path = project.join("release.toml");
    let rss = peak_rss_kib(sh, &[bin.as_str(), "-q", "--config", config_path.as_str(), "run", "--snapshot"])?;
    let peer = peak_rss_kib(sh, &["sha256sum", big.as_str()])?;
    Ok(Row {
        name: format!("peak memory, snapshot with a {} MiB artifact", big.metadata()?.len() >> 20),
        ours: format!("{:.1} MiB", rss as f64 / 1024.0),
        peer: format!("{:.1} MiB (sha256sum)", peer as f64 / 1024.0),
        ratio: format!("{:.1}×", rss as f64 / peer as f64),
        note: "`/usr/bin/time -v` maximum resident set size".into(),
    })
}

/// Maximum resident set size of a command, from `/usr/bin/time -v`.
pub fn peak_rss_kib(sh: &Shell, argv: &[&str]) -> anyhow::Result<u64> {
    let output = cmd!(sh, "/usr/bin/time -v {argv...}").quiet().ignore_stdout().ignore_status().output()?;
    if !output.status.success() {
        bail!("`{}` failed: {}", argv.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok())
        .context("no maximum resident set size in /usr/bin/time's output (is the `time` package installed?)")
}
