//! Chart signatures in the registry, the way `cosign verify --key` looks for them.
//!
//! After a chart is pushed by digest, `publish:oci-signature:<chart>` (only when `[signing]` is
//! configured) attaches a signature to the chart's manifest in cosign's legacy tag
//! convention, and only then does `finalize:oci-tag:<chart>` put the chart under its version
//! tag, so that a chart never shows under its version without its signature, and `cosign verify --key cosign.pub REGISTRY/PATH/NAME@sha256:…` finds and
//! accepts it:
//!
//! - tag `sha256-<hex>.sig` (the chart manifest digest with `:` turned into `-`) in the
//!   chart's own repository;
//! - an OCI image manifest whose config is a small image config
//!   (`application/vnd.oci.image.config.v1+json`) and whose layer is cosign's "simple
//!   signing" payload (`application/vnd.dev.cosign.simplesigning.v1+json`), which names the
//!   repository and the chart manifest digest;
//! - the layer annotation `dev.cosignproject.cosign/signature`: the base64 DER ECDSA signature
//!   over the payload bytes, made by the run's signer ([`ActiveSigner`]).
//!
//! Idempotent: when the `.sig` manifest already holds a signature by this run's key over a
//! payload for this digest, nothing is pushed (ECDSA signatures are randomised, so the check
//! verifies rather than compares bytes). Signatures by other keys in that manifest are kept
//! and ours is added, as cosign does.
//!
//! Permission: no probe of its own. The signature goes to the same repository as the chart,
//! with the same credentials and the same `pull,push` scope, so `preflight:oci-push:<chart>`
//! has already proven that this push is allowed.
//!
//! Never: signs a digest that this run did not push (by digest) or find under the chart's tag
//! (the digest comes from the push step, via its `pushed-chart` hand-off, not from a later lookup of the
//! tag).

use oci_client::manifest::OciImageManifest;

use crate::net::GaveUp;
use crate::oci::ChartPush;
use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::OciSettings;
use crate::oci::cosign::DOCKER_MANIFEST_MEDIA_TYPE;
use crate::oci::cosign::MAX_PAYLOAD_BYTES;
use crate::oci::cosign::SIGNATURE_ANNOTATION;
use crate::oci::cosign::SIMPLE_SIGNING_MEDIA_TYPE;
use crate::oci::cosign::signature_layer;
use crate::oci::cosign::signature_manifest;
use crate::oci::cosign::signature_tag;
use crate::oci::cosign::simple_signing_payload;
use crate::oci::cosign::vouches;
use crate::oci::diagnose::gave_up_after_push;
use crate::oci::error::OciError;
use crate::oci::manifest::sha256_digest;
use crate::oci::reference::ChartReference;
use crate::oci::registry::Registry;
use crate::oci::retry::OciAttempt;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::signing::ActiveSigner;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::{pushed_chart, signed_chart, signer_handoff as signer};

/// `publish:oci-signature:<chart>`: attaches the chart's signature in the registry.
#[derive(Debug)]
pub(crate) struct PublishOciSignature {
    pub push: ChartPush,
    pub settings: OciSettings,
}

#[async_trait::async_trait]
impl Step for PublishOciSignature {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Publish, "oci-signature").with_subject(self.push.chart.label()),
            Effect::Publish,
            format!(
                "attach the signature of chart {} in {} (cosign `sha256-….sig` tag)",
                self.push.chart, self.push.push
            ),
        )
        .consumes(&signer())
        .consumes(&pushed_chart(&self.push.chart))
        .produces(&signed_chart(&self.push.chart, false))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveSigner(signer) = cx.handed(&signer())?;
        let pushed = cx.handed(&pushed_chart(&self.push.chart))?;
        let what = format!("the signature of chart `{}`", pushed.name);
        let chart = &pushed.reference;
        let repository = format!("{}/{}", chart.registry, chart.repository);
        let signature_ref = ChartReference {
            registry: chart.registry.clone(),
            repository: chart.repository.clone(),
            tag: signature_tag(&pushed.digest),
        };
        let oci_ref = signature_ref.to_oci();
        let registry = cx.push_scope(&signature_ref, &what, &self.settings).await?;
        let credentials = registry.credentials();
        // Retries used up: the chart is in the registry already, its signature is not.
        let fail = |gave_up: GaveUp<OciAttempt>| {
            gave_up_after_push(gave_up, &what, &signature_ref, credentials, || {
                format!(
                    "the chart is in the registry as {repository}@{} but not tagged `{}`, so nobody pulls it \
                     unsigned (a GitHub release stays a draft). Run the release again: the chart is found by \
                     digest, and only its signature and then its tag are sent",
                    pushed.digest, chart.tag
                )
            })
        };
        // Every registry call runs under the network policy; pushes are by digest or of the
        // same manifest bytes, so repeating them is safe.
        let oci_ref = &oci_ref;
        let record = || {
            cx.set_output(format!("chart.{}.signature", pushed.name), signature_ref.to_string());
            cx.hand_off(&signed_chart(&self.push.chart, false), signature_ref.to_string())
        };
        let public_key = signer.public_key().cloned();

        // What is under the `.sig` tag already: a signature by this key for this digest is
        // kept as it is; signatures by other keys stay next to ours.
        let mut layers =
            match existing_signatures(cx, &registry, oci_ref, &signature_ref, &public_key, &pushed.digest, &fail)
                .await?
            {
                Existing::Kept(existing) => {
                    record()?;
                    return Ok(Some(format!(
                        "{signature_ref}@{existing} already holds a signature of {repository}@{} by {} (unchanged)",
                        pushed.digest,
                        signer.describe()
                    )));
                }
                Existing::Others(layers) => layers,
            };

        let payload = simple_signing_payload(&repository, &pushed.digest);
        let signature = signer.sign_base64(&payload).map_err(|error| OciError::Sign { what: what.clone(), error })?;
        // Nothing unverified is published: check the new signature before it leaves.
        if let Some(key) = &public_key
            && !vouches(key, &payload, &signature, &pushed.digest)
        {
            return Err(OciError::SignatureMismatch { what, fingerprint: key.fingerprint() }.into());
        }
        layers.push(signature_layer(&payload, &signature));
        let (manifest, manifest_bytes, config) = signature_manifest(layers);
        let digest = sha256_digest(&manifest_bytes);

        for (blob, descriptor) in [(payload, manifest.layers.last().expect("ours")), (config, &manifest.config)] {
            registry.ensure_blob(oci_ref, &blob, &descriptor.digest).await.map_err(fail)?;
        }
        let shown = signature_ref.to_string();
        registry.put_manifest(oci_ref, &shown, &manifest_bytes).await.map_err(fail)?;
        let stored =
            registry.manifest_digest(oci_ref, &shown).await.map_err(fail)?.unwrap_or_else(|| "nothing".to_owned());
        if stored != digest {
            return Err(OciError::Raced {
                what,
                target: signature_ref.to_string(),
                stored,
                pushed: "pushed",
                digest,
                signer: true,
            }
            .into());
        }
        record()?;
        Ok(Some(format!(
            "signed {repository}@{} as {signature_ref}@{digest} with {}",
            pushed.digest,
            signer.describe()
        )))
    }
}

/// What the `.sig` tag of a chart holds.
enum Existing {
    /// A signature by this key for this digest, in the manifest of this digest.
    Kept(String),
    /// The layers of other signatures (none when the tag is free), kept beside ours.
    Others(Vec<oci_client::manifest::OciDescriptor>),
}

async fn existing_signatures(
    cx: &StepContext<'_>,
    registry: &Registry<'_>,
    oci_ref: &oci_client::Reference,
    signature_ref: &ChartReference,
    public_key: &Option<crate::signing::PublicKey>,
    chart_digest: &str,
    fail: &(dyn Fn(GaveUp<OciAttempt>) -> crate::error::StepError + Sync),
) -> Result<Existing, crate::error::StepError> {
    let existing = registry
        .pull_manifest(oci_ref, &signature_ref.to_string(), &[OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE])
        .await
        .map_err(fail)?;
    let Some((bytes, existing)) = existing else { return Ok(Existing::Others(Vec::new())) };
    let manifest = match serde_json::from_slice::<OciImageManifest>(&bytes) {
        Ok(manifest) => manifest,
        Err(err) => {
            cx.warn(format!(
                "{signature_ref} ({existing}) is not an image manifest ({err}); replacing it with the signature"
            ));
            return Ok(Existing::Others(Vec::new()));
        }
    };
    for layer in &manifest.layers {
        let Some(signature) = layer.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) else {
            continue;
        };
        let Some(key) = public_key else { continue };
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE || layer.size > MAX_PAYLOAD_BYTES {
            continue;
        }
        let payload = registry.pull_blob(oci_ref, layer).await.map_err(fail)?;
        if vouches(key, &payload, signature, chart_digest) {
            return Ok(Existing::Kept(existing));
        }
    }
    cx.progress(format!("{signature_ref} holds {} signature(s), none by this key: adding ours", manifest.layers.len()));
    Ok(Existing::Others(manifest.layers))
}
