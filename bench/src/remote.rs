//! The benchmarks that talk to servers: our GitHub test server and the real CNCF registry
//! (`/usr/bin/docker-registry`), both on loopback, from `release-tests`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use camino::{Utf8Path, Utf8PathBuf};
use release_tests::github_server::{GithubServer, Level, TokenSpec, Visibility};
use release_tests::registry::{Auth, RecordingProxy, Registry};
use xshell::cmd;

use super::{Bench, Row, make_file, mib, mib_per_s, ms};

// Helm's media types, as the OCI facts give them (the benchmark writes its manifest itself).
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

const REPO: &str = "acme/bench";
const TOKEN: &str = "ghs_bench0123456789abcdef";

fn github_server() -> GithubServer {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    server
}

/// Preflight with every request to GitHub and to the registry delayed: the probes run
/// concurrently, so preflight should take about the slowest probe, not the sum of all.
pub(super) fn concurrent_preflight(bench: &Bench, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Row> {
    let latency = bench.sizes.latency;
    let github = github_server();
    github.set_latency(latency);
    // The real registry behind a proxy that adds the same latency to each of its requests.
    let (_registry, proxy) = runtime.block_on(async {
        let registry = Registry::start(Auth::None).await?;
        let proxy = RecordingProxy::start(&registry.host).await?;
        anyhow::Ok((registry, proxy))
    })?;
    proxy.set_latency(latency);
    let host = proxy.host();

    let project = bench.work.join("preflight-project");
    bench.sh.remove_path(&project)?;
    bench.sh.write_file(
        project.join("charts/hello/Chart.yaml"),
        "apiVersion: v2\nname: hello\nversion: 0.1.0\ntype: application\n",
    )?;
    bench.sh.write_file(
        project.join("release.toml"),
        format!(
            "[project]\nversion = \"1.0.0\"\n\n[github]\nrepository = \"{REPO}\"\n\n\
             [[chart]]\npath = \"charts/hello\"\npush = \"oci://{host}/charts\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n"
        ),
    )?;
    bench.commit_tree(&project, "")?;
    let api = github.api_url();
    let env = [("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", api.as_str())];
    // (whole preflight, sum of the steps, each step) of the fastest run.
    type Timings = (u64, u64, Vec<(String, u64)>);
    let mut best: Option<Timings> = None;
    for _ in 0..bench.sizes.runs {
        let run = bench.release(&project, &["preflight"], &env)?;
        let wall = run.report["elapsed_ms"].as_u64().context("the report has no elapsed_ms")?;
        let probes: Vec<(String, u64)> = run
            .steps()
            .filter(|s| s["stage"] == "preflight")
            .map(|s| (s["id"].as_str().unwrap_or_default().to_owned(), s["elapsed_ms"].as_u64().unwrap_or(0)))
            .collect();
        let sum: u64 = probes.iter().map(|(_, ms)| ms).sum();
        if !probes.iter().any(|(id, _)| id == "preflight:github-release-write")
            || !probes.iter().any(|(id, _)| id.starts_with("preflight:oci-push:"))
        {
            bail!("preflight did not run both probes: {}", run.report);
        }
        if best.as_ref().is_none_or(|b| wall < b.0) {
            best = Some((wall, sum, probes));
        }
    }
    let (wall, sum, probes) = best.context("no preflight ran")?;
    let requests = github.requests().len() / bench.sizes.runs;
    let shown: Vec<String> = probes
        .iter()
        .filter(|(_, ms)| *ms > 0)
        .map(|(id, ms)| format!("{} {ms} ms", id.trim_start_matches("preflight:")))
        .collect();
    Ok(Row {
        name: format!("preflight, {} ms added to every request", ms(latency)),
        ours: format!("{wall} ms (whole preflight)"),
        peer: format!("{sum} ms (sum of the probes' own times)"),
        ratio: format!("{:.2}×", wall as f64 / sum as f64),
        note: format!(
            "best of {}; probes: {}; {requests} GitHub requests per run; 1.00 would be sequential",
            bench.sizes.runs,
            shown.join(", ")
        ),
    })
}

/// A real release: the big artifact to the GitHub test server (draft, upload, publish) and a
/// chart whose package is about `chart_blob_mib` (one incompressible file) pushed to the real
/// registry. Peak memory of the whole `release run`, then the push's throughput against
/// `skopeo copy` of the same layer to a fresh registry of the same kind. Each round uses
/// fresh servers; memory is the highest of the rounds, times the best.
pub(super) fn publish(bench: &Bench, runtime: &tokio::runtime::Runtime, big: &Utf8Path) -> anyhow::Result<Vec<Row>> {
    let rounds = bench.sizes.publish_rounds;
    let mut worst: Option<PublishRound> = None;
    let (mut push_ms, mut skopeo) = (u64::MAX, Duration::MAX);
    for _ in 0..rounds {
        let round = publish_round(bench, runtime, big)?;
        skopeo = skopeo.min(skopeo_push(bench, runtime, &round.chart_package)?);
        push_ms = push_ms.min(round.push_ms);
        if worst.as_ref().is_none_or(|w| round.rss_kib > w.rss_kib) {
            worst = Some(round);
        }
    }
    let worst = worst.context("no publish round ran")?;
    let layer_mib = worst.layer_bytes as f64 / f64::from(1 << 20);
    let memory = Row {
        name: format!(
            "peak memory, `release run`: {} MiB to GitHub, {layer_mib:.0} MiB chart to the registry",
            bench.sizes.artifact_mib,
        ),
        ours: mib(worst.rss_kib),
        peer: "64.0 MiB (the bound)".into(),
        ratio: format!("{:.2}×", worst.rss_kib as f64 / (64.0 * 1024.0)),
        note: format!(
            "`/usr/bin/time -v`, highest of {rounds}; no `[signing]`; that run took {:.1} s, its GitHub upload step {} ms",
            worst.wall.as_secs_f64(),
            worst.upload_ms
        ),
    };
    let push = Row {
        name: format!("registry push, {layer_mib:.0} MiB layer"),
        ours: format!("{} ({push_ms} ms)", mib_per_s(layer_mib, Duration::from_millis(push_ms))),
        peer: format!("{} ({:.0} ms, skopeo)", mib_per_s(layer_mib, skopeo), ms(skopeo)),
        ratio: format!("{:.2}× time", push_ms as f64 / ms(skopeo)),
        note: format!(
            "best of {rounds}, each to a fresh registry; ours is the push step of the runs above, skopeo's its wall time"
        ),
    };
    Ok(vec![memory, push])
}

struct PublishRound {
    rss_kib: u64,
    wall: Duration,
    upload_ms: u64,
    push_ms: u64,
    chart_package: Utf8PathBuf,
    layer_bytes: u64,
}

fn publish_round(bench: &Bench, runtime: &tokio::runtime::Runtime, big: &Utf8Path) -> anyhow::Result<PublishRound> {
    let github = github_server();
    let registry = runtime.block_on(Registry::start(Auth::None))?;
    let host = &registry.host;
    let blob_mib = bench.sizes.chart_blob_mib;

    // The project is kept between runs (the chart's big file is slow to write); dist is not.
    let project = bench.work.join(format!("publish-project-{blob_mib}MiB"));
    make_file(&project.join("charts/big/files/blob.bin"), blob_mib << 20, 3)?;
    bench.sh.write_file(
        project.join("charts/big/Chart.yaml"),
        "apiVersion: v2\nname: big\nversion: 0.1.0\ntype: application\n",
    )?;
    bench.sh.write_file(
        project.join("release.toml"),
        format!(
            "[project]\nversion = \"1.0.0\"\n\n[[build]]\nname = \"big\"\ncommand = [\"true\"]\n\
             artifacts = [{{ path = \"{big}\", name = \"big.bin\" }}]\n\n[github]\nrepository = \"{REPO}\"\n\n\
             [[chart]]\npath = \"charts/big\"\npush = \"oci://{host}/charts\"\n\n\
             [registries.\"{host}\"]\nplain-http = true\n"
        ),
    )?;
    bench.sh.remove_path(project.join("dist"))?;
    // The big file stays out of git (ignored: untracked, it is no change to the tree).
    bench.commit_tree(&project, "/charts/big/files/\n")?;
    let api = github.api_url();
    let run = bench.release(&project, &["run"], &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", api.as_str())])?;

    // The figures describe a release that happened: published, with the big file intact,
    // and the chart in the registry.
    let releases = github.releases(REPO);
    let release = releases.first().context("no release on the GitHub test server")?;
    let uploaded = release.assets.iter().find(|a| a.name == "big.bin").context("big.bin was not uploaded")?;
    let (expected, size) = release_core::hash_file(big)?;
    if release.draft || uploaded.bytes.len() as u64 != size || uploaded.sha256() != expected {
        bail!("the release is a draft or big.bin arrived different");
    }
    let chart_package = project.join("dist/big-0.1.0.tgz");
    let (layer_digest, layer_bytes) = release_core::hash_file(&chart_package)?;
    let (_, stored) = runtime.block_on(registry.manifest("charts/big", "0.1.0", None))?;
    let stored: serde_json::Value = serde_json::from_slice(&stored)?;
    if stored["layers"][0]["digest"] != format!("sha256:{layer_digest}") {
        bail!("the registry holds a different chart: {stored}");
    }
    Ok(PublishRound {
        rss_kib: run.rss_kib,
        wall: run.wall,
        upload_ms: run.step_ms("publish:github-release")?,
        push_ms: run.step_ms("publish:oci-push:big")?,
        chart_package,
        layer_bytes,
    })
}

/// `skopeo copy` of an OCI layout holding the chart package as its one layer (Helm's media
/// types, as we push it) to a fresh no-auth registry. Returns the wall time.
fn skopeo_push(bench: &Bench, runtime: &tokio::runtime::Runtime, layer: &Utf8Path) -> anyhow::Result<Duration> {
    let sh = &bench.sh;
    let layout = bench.work.join("skopeo-layout");
    sh.remove_path(&layout)?;
    let blobs = layout.join("blobs/sha256");
    sh.create_dir(&blobs)?;
    let (layer_digest, layer_size) = release_core::hash_file(layer)?;
    // A hard link: the layout holds the very bytes we pushed, without a copy to write.
    std::fs::hard_link(layer, blobs.join(&layer_digest))
        .or_else(|_| std::fs::copy(layer, blobs.join(&layer_digest)).map(drop))?;
    let config = br#"{"apiVersion":"v2","name":"big","type":"application","version":"0.1.0"}"#;
    let config_digest = write_blob(&blobs, config)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": format!("sha256:{config_digest}"), "size": config.len()},
        "layers": [{"mediaType": HELM_LAYER, "digest": format!("sha256:{layer_digest}"), "size": layer_size}],
    }))?;
    let manifest_digest = write_blob(&blobs, &manifest)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "0.1.0"},
        }],
    });
    sh.write_file(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    sh.write_file(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;

    let registry = runtime.block_on(Registry::start(Auth::None))?;
    let source = format!("oci:{layout}:0.1.0");
    let destination = format!("docker://{}/charts/big:0.1.0", registry.host);
    let home = bench.work.join("skopeo-home");
    sh.create_dir(&home)?;
    let start = Instant::now();
    cmd!(sh, "skopeo --insecure-policy copy --quiet {source} {destination} --dest-tls-verify=false")
        .env("HOME", &home)
        .quiet()
        .run()
        .context("skopeo copy failed (is the Debian package `skopeo` installed? .ci/run installs it)")?;
    let elapsed = start.elapsed();
    // It happened: the registry serves the manifest skopeo pushed.
    let (_, stored) = runtime.block_on(registry.manifest("charts/big", "0.1.0", None))?;
    let stored: serde_json::Value = serde_json::from_slice(&stored)?;
    if stored["layers"][0]["digest"] != format!("sha256:{layer_digest}") {
        bail!("skopeo pushed a different layer: {stored}");
    }
    Ok(elapsed)
}

fn write_blob(blobs: &Utf8Path, bytes: &[u8]) -> anyhow::Result<String> {
    let digest = release_core::sha256_hex(bytes);
    std::fs::write(blobs.join(&digest), bytes)?;
    Ok(digest)
}
