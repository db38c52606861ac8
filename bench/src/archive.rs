//! The per-target archive of a big binary against `tar -czf` of the same file: time and peak
//! memory. The archive is written, gzipped and hashed in one streaming pass, so memory must
//! not grow with the binary.

use anyhow::bail;
use camino::Utf8Path;
use xshell::cmd;

use super::{Bench, Row, best_of, mib, ms};

const TARGET: &str = "x86_64-unknown-linux-gnu";

pub(super) fn archive_packaging(bench: &Bench, big: &Utf8Path) -> anyhow::Result<Row> {
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
    let runs = bench.sizes.runs.min(2);
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
    let out = bench.work.join("archive-peer.tar.gz");
    let (dir, file) = (big.parent().expect("a file has a directory"), big.file_name().expect("a file name"));
    let peer = best_of(runs, || Ok(cmd!(sh, "tar -czf {out} -C {dir} {file}").quiet().run()?))?;
    let peer_rss = bench.peak_rss_kib(&["tar", "-czf", out.as_str(), "-C", dir.as_str(), file])?;
    let peer_size = std::fs::metadata(&out)?.len();
    Ok(Row {
        name: format!("archive of a {size} MiB binary (.tar.gz, hashed as written)"),
        ours: format!("{ours} ms, {}, {} MiB", mib(rss), meta.len() >> 20),
        peer: format!("{:.0} ms, {}, {} MiB (`tar -czf`)", ms(peer), mib(peer_rss), peer_size >> 20),
        ratio: format!("{:.2}× time, {:.1}× memory", ours as f64 / ms(peer), rss as f64 / peer_rss as f64),
        note: format!(
            "best of {runs}; incompressible input (the worst case for gzip); ours is the archive step's time, its memory the whole snapshot run's"
        ),
    })
}
