//! Helm charts to OCI registries: references, credentials, sessions, retries, manifests,
//! cosign signatures and errors. No step lives here; the steps that use this module are in
//! `steps/` (every `[[chart]]` with `push` set gets them):
//!
//! | id | stage | effect | what |
//! |---|---|---|---|
//! | `preflight:oci-check` | preflight | check | reference syntax, lowercase names, tag, plain-HTTP settings (no network; runs in snapshot mode too) |
//! | `preflight:oci-push:<chart>` | preflight | probe | push-scoped token, then `POST /v2/<name>/blobs/uploads/` and `DELETE` of the session |
//! | `publish:oci-push:<chart>` | publish | publish | config + layer blobs (streamed from disk), the manifest by digest only, read back |
//! | `publish:oci-signature:<chart>` | publish | publish | key mode only: the chart's cosign signature under `sha256-<hex>.sig` |
//! | `publish:oci-referrers:<chart>` | publish | publish | keyless only: the signature (and provenance) as OCI 1.1 referrers, `sha256-<hex>` index without the referrers API |
//! | `finalize:oci-tag:<chart>` | finalize | publish | after the GitHub release's undraft: the same manifest bytes under the version tag, read back |
//!
//! Nothing is visible under a chart version until the finalize stage, and with `[signing]` a
//! chart version never shows without its signature.
//!
//! Submodules: [`reference`](mod@reference) (parsing and checks, pure), [`planned`] (the reference a chart
//! will be pushed as), [`credentials`] (the credential chain), [`session`] (one per registry
//! per run), [`retry`] (the network policy around oci-client), [`error`] (`OciError`),
//! [`diagnose`] (every "no push" answer and its fix, pure), [`manifest`] (Helm's manifest),
//! [`cosign`] (the key-mode chart signature, cosign's tag convention), [`referrers`] (keyless
//! bundles as OCI 1.1 referrers, cosign v3's layout).
//!
//! Must never: send a GitHub token to a host other than ghcr.io (see [`credentials`]); talk
//! plain HTTP to a registry that release.toml does not mark `plain-http = true`; print.

pub(crate) mod blobs;
pub(crate) mod cosign;
pub(crate) mod credentials;
pub(crate) mod diagnose;
pub(crate) mod error;
pub(crate) mod manifest;
pub(crate) mod planned;
pub(crate) mod reference;
pub(crate) mod referrers;
pub(crate) mod registry;
pub(crate) mod retry;
pub(crate) mod session;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;

use crate::config::{Config, NetworkConfig, RegistryConfig};
use crate::helm::ChartId;

/// Helm's config blob media type: the Chart.yaml metadata as JSON.
pub(crate) const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Helm's layer media type: the chart `.tgz`.
pub(crate) const HELM_CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The manifest media type Helm sends.
pub(crate) const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// One `[[chart]]` with `push` set, as the steps need it. Built from the config without I/O.
#[derive(Clone, Debug)]
pub(crate) struct ChartPush {
    /// The chart's one identity: its position in `[[chart]]` (for messages: `chart[0].push`)
    /// and its label (step ids, hand-offs).
    pub chart: ChartId,
    /// The chart directory.
    pub dir: Utf8PathBuf,
    /// `oci://REGISTRY/PATH`, as written.
    pub push: String,
    pub stamp_version: bool,
}

/// Registry settings and network limits, shared by every OCI step.
#[derive(Clone, Debug, Default)]
pub(crate) struct OciSettings {
    pub registries: BTreeMap<String, RegistryConfig>,
    pub network: NetworkConfig,
}

impl OciSettings {
    pub(crate) fn from_config(config: &Config) -> Self {
        OciSettings { registries: config.registries.clone(), network: config.network.clone() }
    }

    /// The `[registries."HOST"]` table for a registry, if any.
    pub(crate) fn registry(&self, host: &str) -> Option<&RegistryConfig> {
        self.registries
            .get(host)
            .or_else(|| self.registries.iter().find(|(k, _)| k.eq_ignore_ascii_case(host)).map(|(_, v)| v))
    }

    /// Plain HTTP only where release.toml says so for exactly this host.
    pub(crate) fn plain_http(&self, host: &str) -> bool {
        self.registry(host).is_some_and(|r| r.plain_http)
    }

    pub(crate) fn scheme(&self, host: &str) -> &'static str {
        if self.plain_http(host) { "http" } else { "https" }
    }

    /// An oci-client for one registry, plain HTTP only if configured for it.
    pub(crate) fn oci_client(&self, host: &str) -> oci_client::Client {
        let protocol = if self.plain_http(host) {
            oci_client::client::ClientProtocol::HttpsExcept(vec![host.to_owned()])
        } else {
            oci_client::client::ClientProtocol::Https
        };
        oci_client::Client::new(oci_client::client::ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(self.network.stall_timeout_secs.max(1))),
            // One POST, then one PUT streaming the whole blob (the OCI spec's monolithic
            // upload), instead of a PATCH per MiB read: on a loopback registry the chunked push
            // of a 256 MiB chart took 2-5x as long as `skopeo copy` (docs/performance.md).
            use_monolithic_push: true,
            ..Default::default()
        })
    }

    /// A plain HTTP client for the requests oci-client has no API for. Redirects are not
    /// followed: an upload location is requested explicitly, with credentials only for the
    /// registry's own host.
    pub(crate) fn http_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(self.network.stall_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with timeouts and no redirects builds")
    }
}

/// Every `[[chart]]` with `push` set. Pure.
pub(crate) fn chart_pushes(config: &Config, ids: &[ChartId]) -> Vec<ChartPush> {
    let mut pushes: Vec<ChartPush> = Vec::new();
    for (id, chart) in ids.iter().zip(&config.charts) {
        let Some(push) = &chart.push else { continue };
        pushes.push(ChartPush {
            chart: id.clone(),
            dir: config.root.join(&chart.path),
            push: push.clone(),
            stamp_version: chart.stamp_version,
        });
    }
    pushes
}
