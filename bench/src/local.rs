//! The benchmarks that need no server: hashing, start-up, chart packaging, and peak memory of
//! snapshot runs.

use std::fmt::Write as _;

use anyhow::bail;
use camino::Utf8Path;
use xshell::cmd;

use super::{Bench, Row, best_of, make_file, mib, mib_per_s, ms};

/// SHA-256 of one file: the function every artifact goes through, against `sha256sum`.
pub(super) fn hash_throughput(bench: &Bench, file: &Utf8Path) -> anyhow::Result<Row> {
    let sh = &bench.sh;
    let size = bench.sizes.artifact_mib;
    let expected = cmd!(sh, "sha256sum {file}").quiet().read()?;
    let (ours_digest, _) = release_core::hash_file(file)?;
    if !expected.starts_with(&ours_digest) {
        bail!("digests differ: sha256sum says {expected}, we say {ours_digest}");
    }
    let ours = best_of(3, || Ok(release_core::hash_file(file)?))?;
    let peer = best_of(3, || Ok(cmd!(sh, "sha256sum {file}").quiet().read()?))?;
    Ok(Row {
        name: format!("sha256 of {size} MiB"),
        ours: mib_per_s(size as f64, ours),
        peer: format!("{} (sha256sum)", mib_per_s(size as f64, peer)),
        ratio: format!("{:.2}× time", ours.as_secs_f64() / peer.as_secs_f64()),
        note: "best of 3; below 1.00 is faster than sha256sum".into(),
    })
}

/// `release --help` and `release plan` against a process that does nothing (`true`).
pub(super) fn startup(bench: &Bench) -> anyhow::Result<Row> {
    let (sh, bin) = (&bench.sh, &bench.bin);
    let runs = bench.sizes.runs * 6;
    let config = bench.root.join("examples/hello/release.toml");
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

/// A chart of a few MiB (text templates and one binary file), packaged by the package step
/// against `tar -cf - | gzip -6` of the same directory.
pub(super) fn chart_packaging(bench: &Bench) -> anyhow::Result<Row> {
    let sh = &bench.sh;
    let kib = bench.sizes.package_chart_kib;
    let project = bench.work.join(format!("package-{kib}KiB"));
    let chart = project.join("charts/pkg");
    if !chart.join("Chart.yaml").exists() {
        write_text_chart(&chart, kib)?;
        make_file(&chart.join("files/data.bin"), (kib / 4) << 10, 2)?;
        sh.write_file(
            project.join("release.toml"),
            "[project]\nversion = \"1.0.0\"\n\n[[chart]]\npath = \"charts/pkg\"\n",
        )?;
    }
    let mut ours = u64::MAX;
    for _ in 0..bench.sizes.runs {
        sh.remove_path(project.join("dist"))?;
        let run = bench.release(&project, &["run", "--snapshot"], &[])?;
        ours = ours.min(run.step_ms("package:chart:pkg")?);
    }
    let packaged = std::fs::metadata(project.join("dist/pkg-0.1.0.tgz"))?.len();
    let out = bench.work.join("package-peer.tgz");
    let charts = project.join("charts");
    let script = r#"tar -C "$1" -cf - pkg | gzip -6 > "$2""#;
    let peer = best_of(bench.sizes.runs, || Ok(cmd!(sh, "bash -c {script} bench {charts} {out}").quiet().run()?))?;
    let peer_size = std::fs::metadata(&out)?.len();
    Ok(Row {
        name: format!("chart packaging, {:.1} MiB chart", kib as f64 / 1024.0),
        ours: format!("{ours} ms ({} KiB)", packaged >> 10),
        peer: format!("{:.0} ms ({} KiB, `tar | gzip -6`)", ms(peer), peer_size >> 10),
        ratio: format!("{:.2}× time", ours as f64 / ms(peer)),
        note: format!(
            "best of {}; ours is the package step's time in the `--json` report, the peer's the pipeline's wall time",
            bench.sizes.runs
        ),
    })
}

/// Chart.yaml, values.yaml and text templates adding up to about three quarters of `kib`
/// (the rest is a binary file): compressible the way YAML is.
fn write_text_chart(chart: &Utf8Path, kib: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: pkg\nversion: 0.1.0\ntype: application\n")?;
    std::fs::write(chart.join("values.yaml"), "replicas: 2\nimage: example/pkg\n")?;
    let per_file = 16 << 10;
    let files = (kib * 3 / 4 * 1024).div_ceil(per_file);
    for i in 0..files {
        let mut text = String::new();
        let mut n = 0u64;
        while (text.len() as u64) < per_file {
            n += 1;
            writeln!(
                text,
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pkg-{i}-{n}\n  labels:\n    app: {{{{ .Release.Name }}}}\ndata:\n  key-{n}: \"value {}\"",
                n * 7919 % 104_729
            )?;
        }
        std::fs::write(chart.join(format!("templates/cm-{i:03}.yaml")), text)?;
    }
    Ok(())
}

/// Peak memory of a snapshot release whose one artifact is the big file: it is copied and
/// hashed in one pass through a fixed buffer, so memory must not grow with the file.
pub(super) fn snapshot_peak_memory(bench: &Bench, big: &Utf8Path) -> anyhow::Result<Row> {
    let run = snapshot(bench, big, "snapshot-project", "")?;
    let peer = bench.peak_rss_kib(&["sha256sum", big.as_str()])?;
    Ok(Row {
        name: format!("peak memory, snapshot with a {} MiB artifact", bench.sizes.artifact_mib),
        ours: mib(run),
        peer: format!("{} (sha256sum)", mib(peer)),
        ratio: format!("{:.1}×", run as f64 / peer as f64),
        note: "`/usr/bin/time -v` maximum resident set size".into(),
    })
}

/// The same snapshot, signed (with a key pair made for the run): each file is streamed
/// through SHA-256 and only the digest is signed, so memory must stay near the unsigned
/// snapshot's. Against the unsigned snapshot, measured in the same run.
pub(super) fn signed_snapshot_peak_memory(bench: &Bench, big: &Utf8Path) -> anyhow::Result<Row> {
    let signed = snapshot(bench, big, "signed-snapshot-project", "\n[signing]\nephemeral-in-snapshot = true\n")?;
    let unsigned = snapshot(bench, big, "snapshot-project", "")?;
    Ok(Row {
        name: format!("peak memory, signed snapshot with a {} MiB artifact", bench.sizes.artifact_mib),
        ours: mib(signed),
        peer: format!("{} (the same, unsigned)", mib(unsigned)),
        ratio: format!("{:.1}×", signed as f64 / unsigned as f64),
        note: "each file is streamed through SHA-256 and the digest signed".into(),
    })
}

/// Peak RSS (KiB) of `release run --snapshot` with the big file as the only artifact.
fn snapshot(bench: &Bench, big: &Utf8Path, name: &str, extra: &str) -> anyhow::Result<u64> {
    let project = bench.work.join(name);
    bench.sh.remove_path(&project)?;
    bench.sh.create_dir(&project)?;
    let config = format!(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"big\"\ncommand = [\"true\"]\nartifacts = [{{ path = \"{big}\", name = \"big.bin\" }}]\n{extra}"
    );
    bench.sh.write_file(project.join("release.toml"), config)?;
    let run = bench.release(&project, &["run", "--snapshot"], &[])?;
    if !project.join("dist/big.bin").exists() {
        bail!("the snapshot in {project} did not collect big.bin");
    }
    Ok(run.rss_kib)
}
