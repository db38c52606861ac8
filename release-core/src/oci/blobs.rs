//! The registry conversation a chart push needs beyond the manifest: whether a manifest is
//! there by digest, and the chart's two blobs, each sent only when the registry lacks it.
//! Every request goes through [`Retries`]; a retry of an upload first asks whether the failed
//! attempt got the blob in after all.

use futures_util::StreamExt;
use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;

use crate::helm::PackagedChart;
use crate::io::Io;
use crate::net::{self, GaveUp};
use crate::oci::error::{OciAttempt, is_not_found};
use crate::oci::retry::Retries;

/// Read size when streaming a chart package to the registry (the body of one PUT).
const STREAM_CHUNK: usize = 1 << 20;

/// The digest the registry resolves `target` to (`HEAD` of the manifest), or `None` when it
/// has nothing there.
pub(crate) async fn manifest_digest(
    retries: &Retries<'_>,
    client: &oci_client::Client,
    target: &Reference,
    auth: &RegistryAuth,
    shown: &str,
) -> Result<Option<String>, GaveUp<OciAttempt>> {
    let found = retries
        .run(&format!("HEAD the manifest {shown}"), |_| async move {
            client.fetch_manifest_digest(target, auth).await.map_err(OciAttempt)
        })
        .await;
    match found {
        Ok(digest) => Ok(Some(digest)),
        Err(gave_up) if is_not_found(&gave_up.error.0) => Ok(None),
        Err(gave_up) => Err(gave_up),
    }
}

/// Sends the chart's layer (streamed from its `.tgz`) and its config blob, each unless the
/// registry has it already. Blobs are addressed by digest, so this is safe to repeat.
pub(crate) async fn ensure_chart_blobs(
    io: &dyn Io,
    retries: &Retries<'_>,
    client: &oci_client::Client,
    oci_ref: &Reference,
    chart: &PackagedChart,
    manifest: &OciImageManifest,
) -> Result<(), GaveUp<OciAttempt>> {
    let layer = &manifest.layers[0];
    if has_blob(retries, client, oci_ref, &layer.digest).await? {
        io.progress(format!("layer {} already in the registry", layer.digest));
    } else {
        io.progress(format!("uploading {} ({} bytes)", chart.path, chart.size));
        let (path, digest, size) = (&chart.path, &layer.digest, chart.size);
        let stall = retries.policy.stall_timeout;
        retries
            .run(&format!("the upload of {}", chart.path.file_name().unwrap_or("the chart")), |attempt| async move {
                if attempt > 1 && client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)? {
                    return Ok(());
                }
                let file = tokio::fs::File::open(path).await.map_err(|e| OciAttempt(e.into()))?;
                // The stream fails if reading the file itself stalls; a registry that stops
                // reading or answering is ended by oci-client's read timeout.
                let stream = net::stall_guard(tokio_util::io::ReaderStream::with_capacity(file, STREAM_CHUNK), stall)
                    .map(|chunk| chunk.map_err(OciDistributionError::from));
                client.push_blob_stream(oci_ref, stream, digest, Some(size)).await.map(drop).map_err(OciAttempt)
            })
            .await?;
        io.bytes(chart.size, Some(chart.size));
    }
    let config_digest = &manifest.config.digest;
    if !has_blob(retries, client, oci_ref, config_digest).await? {
        let config = chart.config_json.as_bytes();
        retries
            .run(&format!("the upload of the chart's config blob {config_digest}"), |attempt| async move {
                if attempt > 1 && client.blob_exists(oci_ref, config_digest).await.map_err(OciAttempt)? {
                    return Ok(());
                }
                client.push_blob(oci_ref, config.to_vec(), config_digest).await.map(drop).map_err(OciAttempt)
            })
            .await?;
    }
    Ok(())
}

async fn has_blob(
    retries: &Retries<'_>,
    client: &oci_client::Client,
    oci_ref: &Reference,
    digest: &str,
) -> Result<bool, GaveUp<OciAttempt>> {
    retries
        .run(&format!("HEAD the blob {digest}"), |_| async move {
            client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)
        })
        .await
}

/// Sends one small blob unless the registry has it already.
pub(crate) async fn ensure_blob(
    retries: &Retries<'_>,
    client: &oci_client::Client,
    oci_ref: &Reference,
    blob: &[u8],
    digest: &str,
) -> Result<(), GaveUp<OciAttempt>> {
    retries
        .run(&format!("the upload of the blob {digest}"), |_| async move {
            if client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)? {
                return Ok(());
            }
            client.push_blob(oci_ref, blob.to_vec(), digest).await.map(drop).map_err(OciAttempt)
        })
        .await
}
