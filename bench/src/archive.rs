//! The per-target archive of a big binary against `tar -czf` and `tar -I pigz -cf` of the same
//! file, for incompressible input (random bytes) and compressible input (a real binary, ours,
//! repeated): time, peak memory and size. The archive is written, gzipped on every core and
//! hashed in one streaming pass, so memory must not grow with the binary.

use anyhow::bail;
use camino::Utf8Path;
use xshell::cmd;

use super::{Bench, Row, best_of, mib, ms};

const TARGET: &str = "x86_64-unknown-linux-gnu";

pub(super) fn archive_packaging(bench: &Bench, big: &Utf8Path) -> anyhow::Result<Vec<Row>> {
    let compressible = bench.work.join(format!("compressible-{}MiB.bin", bench.sizes.artifact_mib));
    repeat_to(&bench.bin, &compressible, bench.sizes.artifact_mib << 20)?;
    Ok(vec![one(bench, big, "random bytes")?, one(bench, &compressible, "our binary, repeated")?])
}

/// `source` repeated into `path` up to `size` bytes (reused when it is there already).
fn repeat_to(source: &Utf8Path, path: &Utf8Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write;
    if path.metadata().is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let bytes = std::fs::read(source)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = size as usize;
    while left > 0 {
        let n = left.min(bytes.len());
        out.write_all(&bytes[..n])?;
        left -= n;
    }
    out.flush()?;
    Ok(())
}

fn one(bench: &Bench, big: &Utf8Path, kind: &str) -> anyhow::Result<Row> {
    let sh = &bench.sh;
    let size = bench.sizes.artifact_mib;
    let project = bench.work.join("archive-project");
    sh.remove_path(&project)?;
    sh.create_dir(&project)?;
    // A build that builds nothing and hands the big file on as its binary: the archive step
    // alone is measured (`include = []`: nothing else goes in).
    let config = format!(
        "[project]\nversion = \"1.0.0\"\n[[build]]\nname = \"big\"\ncommand = [\"true\"]\ntargets = [\"{TARGET}\"]\narchive = true\ninclude = []\nartifacts = [{{ path = \"{big}\", name = \"big\" }}]\n"
    );
    sh.write_file(project.join("release.toml"), config)?;
    bench.commit_tree(&project, "")?;
    let runs = bench.sizes.runs.min(3);
    let (mut ours, mut rss) = (u64::MAX, 0);
    for _ in 0..runs {
        let run = bench.release(&project, &["run", "--snapshot"], &[])?;
        ours = ours.min(run.step_ms(&format!("package:archive:big:{TARGET}"))?);
        rss = rss.max(run.rss_kib);
    }
    let archive = project.join(format!("dist/big-{TARGET}-v1.0.0.tar.gz"));
    let Ok(meta) = std::fs::metadata(&archive) else { bail!("the snapshot in {project} wrote no {archive}") };
    // The archive holds the file: list it with tar.
    let listing = cmd!(sh, "tar -tzvf {archive}").quiet().read()?;
    if !listing.contains(&format!("big-{TARGET}-v1.0.0/big")) || !listing.contains(&(size << 20).to_string()) {
        bail!("{archive} does not hold the {size} MiB binary:\n{listing}");
    }
    let (dir, file) = (big.parent().expect("a file has a directory"), big.file_name().expect("a file name"));
    let tar_out = bench.work.join("archive-peer.tar.gz");
    let tar = best_of(runs, || Ok(cmd!(sh, "tar -czf {tar_out} -C {dir} {file}").quiet().run()?))?;
    let tar_rss = bench.peak_rss_kib(&["tar", "-czf", tar_out.as_str(), "-C", dir.as_str(), file])?;
    let tar_size = std::fs::metadata(&tar_out)?.len();
    let pigz_out = bench.work.join("archive-pigz.tar.gz");
    let pigz = best_of(runs, || Ok(cmd!(sh, "tar -I pigz -cf {pigz_out} -C {dir} {file}").quiet().run()?))?;
    let pigz_size = std::fs::metadata(&pigz_out)?.len();
    let size_mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    Ok(Row {
        name: format!("archive of a {size} MiB binary, {kind} (.tar.gz, hashed as written)"),
        ours: format!("{ours} ms, {}, {:.1} MiB", mib(rss), size_mib(meta.len())),
        peer: format!(
            "`tar -czf` {:.0} ms, {}, {:.1} MiB; `tar -I pigz` {:.0} ms, {:.1} MiB",
            ms(tar),
            mib(tar_rss),
            size_mib(tar_size),
            ms(pigz),
            size_mib(pigz_size)
        ),
        ratio: format!(
            "{:.2}× tar, {:.2}× pigz; {:.1}× memory",
            ours as f64 / ms(tar),
            ours as f64 / ms(pigz),
            rss as f64 / tar_rss as f64
        ),
        note: format!(
            "best of {runs}; ours is the archive step's time, its memory the whole snapshot run's; sizes {:+.1}% vs tar -czf",
            (meta.len() as f64 / tar_size as f64 - 1.0) * 100.0
        ),
    })
}
