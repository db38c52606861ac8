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
use crate::net::{GaveUp, RetryNotice};
use crate::oci::error::{gave_up_after_push, is_not_found};
use crate::oci::manifest::put_manifest;
use crate::oci::reference::ChartReference;
use crate::oci::referrers::{
    BUNDLE_MEDIA_TYPE, EMPTY_CONTENT, INDEX_MEDIA_TYPE, Referrer, bundles_with, fallback_tag, referrers_api, with_entry,
};
use crate::oci::retry::{OciAttempt, Retries, authorization, push_token, rate_limit_probe};
use crate::oci::{ChartPush, OCI_MANIFEST_MEDIA_TYPE, OciSettings};
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, trusted_root, verify_attestation_json};
use crate::signing::provenance::{COSIGN_SIGN_V1, SLSA_PROVENANCE_V1};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{chart_signature, keyless_session, pushed_chart, signed_chart, signed_provenance};
use crate::steps::sign::keyless::ActiveKeyless;

/// What the fallback tag is asked for: an index, and anything else, so that a tag holding
/// something else is seen as such (distribution answers 404 for a manifest type the request
/// does not accept, which would look like a free tag).
const ANY_MANIFEST: &[&str] = &[
    INDEX_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A bundle larger than this in a listed referrer is not read (ours are a few KiB).
const MAX_BUNDLE_BYTES: i64 = 1 << 20;

#[derive(Debug)]
pub struct ChartReferrersStep {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// `signing.provenance`: the provenance is attached too.
    pub provenance: bool,
}

#[async_trait::async_trait]
impl Step for ChartReferrersStep {
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
        let created = crate::date::rfc3339_utc(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        );
        let mut ours = vec![Referrer::new(
            signature.bundle_json.into_bytes(),
            COSIGN_SIGN_V1,
            &subject,
            signature.manifest_size,
            &created,
        )];
        if self.provenance {
            let provenance = cx.handed(&signed_provenance())?;
            ours.push(Referrer::new(
                provenance.bundle_json.into_bytes(),
                SLSA_PROVENANCE_V1,
                &subject,
                signature.manifest_size,
                &created,
            ));
        }

        let what = format!("the referrers of chart `{}`", pushed.name);
        let index_ref = ChartReference {
            registry: chart.registry.clone(),
            repository: chart.repository.clone(),
            tag: fallback_tag(&subject),
        };
        let session_r = cx.registry(&chart.registry, &self.settings).await;
        let credentials = &session_r.credentials;
        let auth = &credentials.login.to_oci();
        let client = &session_r.client;
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
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let mut retries = Retries::new(&self.settings.network, &announce);
        let token = push_token(client, chart, credentials, &what, &retries).await?;
        retries.rate_limit = rate_limit_probe(&session_r, &token);
        let retries = &retries;
        let header = authorization(&token, &credentials.login);
        let header = header.as_deref();
        let repository = chart.repository.as_str();

        // What the registry lists about the chart: its own answer, or the fallback tag's index.
        let listing = || async {
            let api = retries
                .run(&format!("GET the referrers of {}", chart.at_digest(&subject)), |_| {
                    referrers_api(&session_r, header, repository, &subject)
                })
                .await
                .map_err(fail)?;
            if let Some(index) = api {
                return Ok::<_, StepError>((true, Some(index)));
            }
            let tag_ref = &index_ref.to_oci();
            let tagged = retries
                .run(&format!("GET the manifest of {index_ref}"), |_| async move {
                    client.pull_manifest_raw(tag_ref, auth, ANY_MANIFEST).await.map_err(OciAttempt)
                })
                .await;
            match tagged {
                // The distribution spec: a tag that holds something else is reported, never
                // overwritten (it is not ours to replace).
                Ok((bytes, digest)) => match serde_json::from_slice::<OciImageIndex>(&bytes) {
                    Ok(index) if index.media_type.as_deref().is_none_or(|m| m == INDEX_MEDIA_TYPE) => {
                        Ok((false, Some(index)))
                    }
                    Ok(_) | Err(_) => Err(StepError::new(format!(
                        "{index_ref} ({digest}) is not a referrers index, so the referrers of {} cannot be listed there",
                        chart.at_digest(&subject)
                    ))
                    .with_help(format!(
                        "the tag `{}` is the OCI referrers fallback tag of the chart's digest; something else was \
                         pushed under it. Delete that tag in the registry (or move what it holds) and run the release \
                         again: the chart stays untagged until then",
                        index_ref.tag
                    ))),
                },
                Err(gave_up) if is_not_found(&gave_up.error.0) => Ok((false, None)),
                Err(gave_up) => Err(fail(gave_up)),
            }
        };
        let (api, index) = listing().await?;

        // A listed bundle of the same kind that verifies for this run's identity and names
        // this chart: attached already (a re-run).
        let expected = Expected {
            identity: Some(session.identity.clone()),
            issuer: Some(session.issuer.clone()),
            ..Expected::default()
        };
        let root = trusted_root(&session.services().trusted_root_json, "of the signing instance")?;
        let mut attached: Vec<(ImageIndexEntry, bool)> = Vec::new();
        for referrer in &ours {
            let mut found = None;
            for entry in index.iter().flat_map(|index| bundles_with(index, &referrer.predicate_type)) {
                if entry.digest == referrer.digest {
                    found = Some(entry.clone());
                    break;
                }
                let by_digest = &chart.to_oci_digest(&entry.digest);
                let manifest = retries
                    .run(&format!("GET the manifest {}", chart.at_digest(&entry.digest)), |_| async move {
                        client.pull_manifest_raw(by_digest, auth, &[OCI_MANIFEST_MEDIA_TYPE]).await.map_err(OciAttempt)
                    })
                    .await;
                let manifest = match manifest {
                    Ok((bytes, _)) => serde_json::from_slice::<OciImageManifest>(&bytes).ok(),
                    Err(gave_up) if is_not_found(&gave_up.error.0) => None,
                    Err(gave_up) => return Err(fail(gave_up)),
                };
                let Some(layer) = manifest.as_ref().and_then(|m| {
                    let about_chart = m.subject.as_ref().is_some_and(|s| s.digest == subject);
                    m.layers
                        .first()
                        .filter(|l| about_chart && l.media_type == BUNDLE_MEDIA_TYPE && l.size <= MAX_BUNDLE_BYTES)
                }) else {
                    continue;
                };
                let bundle = retries
                    .run(&format!("GET the blob {}", layer.digest), |_| async move {
                        let mut bytes = Vec::new();
                        client.pull_blob(by_digest, layer, &mut bytes).await.map_err(OciAttempt)?;
                        Ok(bytes)
                    })
                    .await
                    .map_err(fail)?;
                let shown = camino::Utf8PathBuf::from(chart.at_digest(&entry.digest));
                let text = String::from_utf8_lossy(&bundle);
                let vouches = verify_attestation_json(&root, &text, &shown, &expected).is_ok_and(|(_, subjects)| {
                    subjects.iter().any(|s| Some(s.sha256.as_str()) == subject.strip_prefix("sha256:"))
                });
                if vouches {
                    found = Some(entry.clone());
                    break;
                }
            }
            match found {
                Some(entry) => attached.push((entry, false)),
                None => attached.push((referrer.entry(), true)),
            }
        }

        // The new referrers: blobs, then each manifest by digest, read back.
        let oci_ref = &chart.to_oci();
        for (referrer, (_, new)) in ours.iter().zip(&attached) {
            if !new {
                continue;
            }
            let layer = &referrer.manifest.layers[0];
            for (blob, digest) in
                [(EMPTY_CONTENT, &referrer.manifest.config.digest), (&referrer.bundle[..], &layer.digest)]
            {
                retries
                    .run(&format!("the upload of the blob {digest}"), |_| async move {
                        if client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)? {
                            return Ok(());
                        }
                        client.push_blob(oci_ref, blob.to_vec(), digest).await.map(drop).map_err(OciAttempt)
                    })
                    .await
                    .map_err(fail)?;
            }
            let by_digest = &chart.to_oci_digest(&referrer.digest);
            let where_to = chart.at_digest(&referrer.digest);
            put_manifest(retries, client, by_digest, &where_to, &referrer.bytes).await.map_err(fail)?;
            let stored = retries
                .run(&format!("HEAD the manifest {where_to}"), |_| async move {
                    client.fetch_manifest_digest(by_digest, auth).await.map_err(OciAttempt)
                })
                .await
                .map_err(fail)?;
            if stored != referrer.digest {
                return Err(StepError::new(format!("{where_to} reads back as {stored}"))
                    .with_help("the registry did not store the referrer as sent; run the release again"));
            }
        }

        // Without the referrers API, the fallback tag lists them: entries already there stay.
        if !api && (attached.iter().any(|(_, new)| *new) || index.is_none()) {
            let mut updated = index.clone();
            let mut bytes = Vec::new();
            for (entry, _) in &attached {
                let (index, serialised) = with_entry(updated, entry.clone());
                updated = Some(index);
                bytes = serialised;
            }
            let tag_ref = &index_ref.to_oci();
            let bytes = &bytes;
            retries
                .run(&format!("PUT the manifest of {index_ref}"), |_| async move {
                    let content_type = reqwest::header::HeaderValue::from_static(INDEX_MEDIA_TYPE);
                    client.push_manifest_raw(tag_ref, bytes.clone(), content_type).await.map(drop).map_err(OciAttempt)
                })
                .await
                .map_err(fail)?;
        }
        let (_, listed) = listing().await?;
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
