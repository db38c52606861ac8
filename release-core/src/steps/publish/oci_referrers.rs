//! `publish:oci-referrers:<chart>`: in keyless mode, the chart's signature (and, with
//! `signing.provenance`, the run's build provenance) attached to the chart in its registry as
//! OCI 1.1 referrers in cosign v3's layout ([`crate::oci::referrers`]), so that
//! `cosign verify` and `gh attestation verify --bundle-from-oci` find them.
//!
//! - Each referrer manifest is pushed by digest (its empty config and its bundle layer first).
//! - A registry with the referrers API (`GET /v2/<name>/referrers/<digest>` answers 200) lists
//!   them itself. One without it (404: distribution, GHCR) gets the tag schema: the image index
//!   under `sha256-<hex>` (the chart digest) lists them, and entries already in it are kept; a
//!   tag that holds anything else is reported and left alone, as the distribution spec asks.
//!   (The spec lets a client decide by the `OCI-Subject` header of the manifest `PUT`; a
//!   registry that sends it must also answer the `GET` with 200, so asking first decides the
//!   same and also gives the listing the re-run check needs.)
//! - Read back: every referrer by digest, and the listing (API or tag) names each.
//! - A re-run adds nothing: a listed bundle with the same predicate type that verifies for this
//!   run's identity and issuer and names the chart's digest is this release's already, so the
//!   run's new bundle (signatures are randomised) is not pushed next to it.
//!
//! Permission: the same repository, credentials and push scope as the chart, which
//! `preflight:oci-push:<chart>` proved.

use oci_client::manifest::{ImageIndexEntry, OciImageIndex, OciImageManifest};

use crate::error::StepError;
use crate::net::GaveUp;
use crate::oci::diagnose::gave_up_after_push;
use crate::oci::reference::ChartReference;
use crate::oci::referrers::ChartSignature;
use crate::oci::referrers::{
    EMPTY_CONTENT, INDEX_MEDIA_TYPE, Referrer, bundle_layer, bundles_with, fallback_tag, referrers_api, vouches_for,
    with_entry,
};
use crate::oci::registry::Registry;
use crate::oci::retry::OciAttempt;
use crate::oci::{ChartPush, OCI_MANIFEST_MEDIA_TYPE, OciSettings};
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, trusted_root};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::{COSIGN_SIGN_V1, SLSA_PROVENANCE_V1};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{chart_signature, keyless_session, pushed_chart, signed_chart, signed_provenance};

/// What the fallback tag is asked for: an index, and anything else, so that a tag holding
/// something else is seen as such (distribution answers 404 for a manifest type the request
/// does not accept, which would look like a free tag).
const ANY_MANIFEST: &[&str] = &[
    INDEX_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Debug)]
pub(crate) struct PublishOciReferrers {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// `signing.provenance`: the provenance is attached too.
    pub provenance: bool,
}

#[async_trait::async_trait]
impl Step for PublishOciReferrers {
    fn meta(&self) -> StepMeta {
        let attached = if self.provenance { "signature and build provenance" } else { "signature" };
        let meta = StepMeta::new(
            StepId::new(Stage::Publish, "oci-referrers").with_subject(self.push.chart.label()),
            Effect::Publish,
            format!(
                "attach the {attached} of chart {} in {} as OCI referrers (cosign v3)",
                self.push.chart, self.push.push
            ),
        )
        .consumes(&keyless_session())
        .consumes(&pushed_chart(&self.push.chart))
        .consumes(&chart_signature(&self.push.chart))
        .produces(&signed_chart(&self.push.chart, true));
        if self.provenance { meta.consumes(&signed_provenance()) } else { meta }
    }

    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let pushed = cx.handed(&pushed_chart(&self.push.chart))?;
        let signature = cx.handed(&chart_signature(&self.push.chart))?;
        let chart = &pushed.reference;
        let subject = pushed.digest.clone();
        if signature.manifest_digest != subject {
            return Err(StepError::new(format!(
                "chart `{}`: the registry holds {} but this run signed {}",
                pushed.name,
                chart.at_digest(&subject),
                signature.manifest_digest
            ))
            .with_help("nothing is tagged yet; run the release again (the push step pushes the signed manifest)"));
        }
        let ours = self.referrers(cx, signature, &subject)?;

        let what = format!("the referrers of chart `{}`", pushed.name);
        let registry = cx.push_scope(chart, &what, &self.settings).await?;
        let credentials = registry.credentials();
        let fail = |gave_up: GaveUp<OciAttempt>| {
            gave_up_after_push(gave_up, &what, chart, credentials, || {
                format!(
                    "the chart is in the registry as {} but not tagged `{}`, so nobody pulls it unsigned (a GitHub \
                     release stays a draft). Run the release again: what is attached already is found and kept",
                    chart.at_digest(&subject),
                    chart.tag
                )
            })
        };
        let remote = Remote {
            registry: &registry,
            authorization: registry.authorization(),
            chart,
            subject: &subject,
            index_ref: ChartReference {
                registry: chart.registry.clone(),
                repository: chart.repository.clone(),
                tag: fallback_tag(&subject),
            },
            fail: &fail,
        };
        let index_ref = &remote.index_ref;

        // What is attached already (a re-run), then what is not, pushed and listed.
        let (api, index) = remote.listing().await?;
        let expected = Expected {
            identity: Some(session.identity.clone()),
            issuer: Some(session.issuer.clone()),
            ..Expected::default()
        };
        let root = trusted_root(&session.services().trusted_root_json, "of the signing instance")?;
        let mut attached: Vec<(ImageIndexEntry, bool)> = Vec::new();
        for referrer in &ours {
            match remote.attached(index.as_ref(), referrer, &root, &expected).await? {
                Some(entry) => attached.push((entry, false)),
                None => {
                    remote.push(referrer).await?;
                    attached.push((referrer.entry(), true));
                }
            }
        }
        if !api && attached.iter().any(|(_, new)| *new) {
            remote.write_index(index, attached.iter().map(|(entry, _)| entry.clone())).await?;
        }
        let (_, listed) = remote.listing().await?;
        let listed: Vec<&str> = listed.iter().flat_map(|i| i.manifests.iter().map(|e| e.digest.as_str())).collect();
        if let Some((missing, _)) = attached.iter().find(|(entry, _)| !listed.contains(&entry.digest.as_str())) {
            let place = if api { "the registry's referrers API".to_owned() } else { index_ref.to_string() };
            return Err(StepError::new(format!(
                "{place} does not list {} after the push",
                chart.at_digest(&missing.digest)
            ))
            .with_help(
                "another client may have rewritten the referrers index at the same time; run the release again",
            ));
        }

        let digests: Vec<&str> = attached.iter().map(|(e, _)| e.digest.as_str()).collect();
        cx.set_output(format!("chart.{}.signature", pushed.name), chart.at_digest(digests[0]));
        if let Some(provenance) = digests.get(1) {
            cx.set_output(format!("chart.{}.attestation", pushed.name), chart.at_digest(provenance));
        }
        cx.hand_off(&signed_chart(&self.push.chart, true), chart.at_digest(digests[0]))?;
        let added = attached.iter().filter(|(_, new)| *new).count();
        let how = if api { "the referrers API lists them".to_owned() } else { format!("listed in {index_ref}") };
        let kinds = if self.provenance { "signature and provenance" } else { "signature" };
        Ok(Some(if added == 0 {
            format!("{} already has its {kinds} attached (unchanged; {how})", chart.at_digest(&subject))
        } else {
            format!(
                "attached the {kinds} of {} as {} new referrer(s) ({}; {how})",
                chart.at_digest(&subject),
                added,
                digests.join(", ")
            )
        }))
    }
}

/// The chart's repository as this step talks to it: every call under the network policy,
/// with the push credentials, failures told as [`gave_up_after_push`] tells them.
struct Remote<'a, 'r> {
    registry: &'a Registry<'r>,
    /// The `Authorization` header for the requests oci-client has no API for.
    authorization: Option<String>,
    chart: &'a ChartReference,
    /// The chart's manifest digest.
    subject: &'a str,
    /// The referrers tag schema's tag of the chart's digest.
    index_ref: ChartReference,
    fail: &'a (dyn Fn(GaveUp<OciAttempt>) -> StepError + Sync),
}

impl Remote<'_, '_> {
    /// What the registry lists about the chart: `(true, index)` from the referrers API, or
    /// `(false, index)` from the fallback tag (`None`: no tag yet).
    async fn listing(&self) -> Result<(bool, Option<OciImageIndex>), StepError> {
        let index_ref = &self.index_ref;
        let api = self
            .registry
            .retries
            .run(&format!("GET the referrers of {}", self.chart.at_digest(self.subject)), |_| {
                referrers_api(
                    &self.registry.session,
                    self.authorization.as_deref(),
                    &self.chart.repository,
                    self.subject,
                )
            })
            .await
            .map_err(self.fail)?;
        if let Some(index) = api {
            return Ok((true, Some(index)));
        }
        let tag_ref = &index_ref.to_oci();
        let tagged = self.registry.pull_manifest(tag_ref, &index_ref.to_string(), ANY_MANIFEST).await;
        match tagged.map_err(self.fail)? {
            // The distribution spec: a tag that holds something else is reported, never
            // overwritten (it is not ours to replace).
            Some((bytes, digest)) => match serde_json::from_slice::<OciImageIndex>(&bytes) {
                Ok(index) if index.media_type.as_deref().is_none_or(|m| m == INDEX_MEDIA_TYPE) => {
                    Ok((false, Some(index)))
                }
                Ok(_) | Err(_) => Err(StepError::new(format!(
                    "{index_ref} ({digest}) is not a referrers index, so the referrers of {} cannot be listed there",
                    self.chart.at_digest(self.subject)
                ))
                .with_help(format!(
                    "the tag `{}` is the OCI referrers fallback tag of the chart's digest; something else was \
                     pushed under it. Delete that tag in the registry (or move what it holds) and run the release \
                     again: the chart stays untagged until then",
                    index_ref.tag
                ))),
            },
            None => Ok((false, None)),
        }
    }

    /// The listed referrer that is `referrer`'s already: the same bytes, or a bundle of the
    /// same predicate type about the chart that verifies for this run's identity and issuer
    /// and names the chart's digest (an earlier run's; signatures are randomised).
    async fn attached(
        &self,
        index: Option<&OciImageIndex>,
        referrer: &Referrer,
        root: &sigstore_verify::trust_root::TrustedRoot,
        expected: &Expected,
    ) -> Result<Option<ImageIndexEntry>, StepError> {
        for entry in index.into_iter().flat_map(|index| bundles_with(index, &referrer.predicate_type)) {
            if entry.digest == referrer.digest {
                return Ok(Some(entry.clone()));
            }
            let by_digest = &self.chart.to_oci_digest(&entry.digest);
            let shown = self.chart.at_digest(&entry.digest).to_string();
            let manifest =
                self.registry.pull_manifest(by_digest, &shown, &[OCI_MANIFEST_MEDIA_TYPE]).await.map_err(self.fail)?;
            let manifest = manifest.and_then(|(bytes, _)| serde_json::from_slice::<OciImageManifest>(&bytes).ok());
            let Some(layer) = manifest.as_ref().and_then(|m| bundle_layer(m, self.subject)) else {
                continue;
            };
            let bundle = self.registry.pull_blob(by_digest, layer).await.map_err(self.fail)?;
            let shown = self.chart.at_digest(&entry.digest);
            if vouches_for(&bundle, self.subject, &shown, root, expected).is_ok() {
                return Ok(Some(entry.clone()));
            }
        }
        Ok(None)
    }

    /// Pushes a referrer: its blobs, then its manifest by digest, read back.
    async fn push(&self, referrer: &Referrer) -> Result<(), StepError> {
        let oci_ref = &self.chart.to_oci();
        let layer = &referrer.manifest.layers[0];
        for (blob, digest) in [(EMPTY_CONTENT, &referrer.manifest.config.digest), (&referrer.bundle[..], &layer.digest)]
        {
            self.registry.ensure_blob(oci_ref, blob, digest).await.map_err(self.fail)?;
        }
        let by_digest = &self.chart.to_oci_digest(&referrer.digest);
        let where_to = self.chart.at_digest(&referrer.digest);
        let shown = where_to.to_string();
        self.registry.put_manifest(by_digest, &shown, &referrer.bytes).await.map_err(self.fail)?;
        let stored = self
            .registry
            .manifest_digest(by_digest, &shown)
            .await
            .map_err(self.fail)?
            .unwrap_or_else(|| "nothing".to_owned());
        if stored != referrer.digest {
            return Err(StepError::new(format!("{where_to} reads back as {stored}"))
                .with_help("the registry did not store the referrer as sent; run the release again"));
        }
        Ok(())
    }

    /// The fallback tag's index with `entries` added (what it listed stays).
    async fn write_index(
        &self,
        index: Option<OciImageIndex>,
        entries: impl Iterator<Item = ImageIndexEntry>,
    ) -> Result<(), StepError> {
        let mut updated = index;
        let mut bytes = Vec::new();
        for entry in entries {
            let (index, serialised) = with_entry(updated, entry);
            updated = Some(index);
            bytes = serialised;
        }
        let (client, tag_ref, bytes) = (self.registry.client(), &self.index_ref.to_oci(), &bytes);
        self.registry
            .retries
            .run(&format!("PUT the manifest of {}", self.index_ref), |_| async move {
                let content_type = reqwest::header::HeaderValue::from_static(INDEX_MEDIA_TYPE);
                client.push_manifest_raw(tag_ref, bytes.clone(), content_type).await.map(drop).map_err(OciAttempt)
            })
            .await
            .map_err(self.fail)
    }
}

impl PublishOciReferrers {
    /// The referrers this run attaches: the chart's signature bundle, and with provenance its
    /// attestation bundle, each about the manifest `subject`.
    fn referrers(
        &self,
        cx: &StepContext<'_>,
        signature: ChartSignature,
        subject: &str,
    ) -> Result<Vec<Referrer>, StepError> {
        let created = crate::date::rfc3339_utc(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        );
        let mut ours = vec![Referrer::new(
            signature.bundle_json.into_bytes(),
            COSIGN_SIGN_V1,
            subject,
            signature.manifest_size,
            &created,
        )];
        if self.provenance {
            let provenance = cx.handed(&signed_provenance())?;
            ours.push(Referrer::new(
                provenance.bundle_json.into_bytes(),
                SLSA_PROVENANCE_V1,
                subject,
                signature.manifest_size,
                &created,
            ));
        }
        Ok(ours)
    }
}
