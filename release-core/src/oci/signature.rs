//! Chart signatures in the registry, the way `cosign verify --key` looks for them.
//!
//! After a chart is pushed by digest, `publish:oci-signature:<chart>` (only when `[signing]` is
//! configured) attaches a signature to the chart's manifest in cosign's legacy tag
//! convention, and only then does `publish:oci-tag:<chart>` put the chart under its version
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
//! (the digest comes from the push step, via [`PushedCharts`], not from a later lookup of the
//! tag).

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::Serialize;

use crate::error::StepError;
use crate::net::{GaveUp, RetryNotice};
use crate::oci::credentials;
use crate::oci::reference::ChartReference;
use crate::oci::steps::{
    OciAttempt, Retries, TROUBLESHOOTING, gave_up_failure, is_not_found, push_token, rate_limit_probe, sha256_digest,
};
use crate::oci::{ChartPush, OCI_MANIFEST_MEDIA_TYPE, OciSettings};
use crate::plan::{Effect, Stage};
use crate::signing::{ActiveSigner, BlobSignature, PublicKey};
use crate::step::{Step, StepContext, StepResult};

/// The media type of cosign's signed payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The config media type of a signature manifest.
pub const OCI_IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The `type` cosign writes into, and checks in, every payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// Older cosign releases wrote `.sig` manifests with Docker's media type; they are read too.
const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Payloads are a few hundred bytes; a larger layer in a `.sig` manifest is not one to check.
const MAX_PAYLOAD_BYTES: i64 = 64 * 1024;

/// A chart the push step pushed (or found unchanged) in this run.
#[derive(Clone, Debug)]
pub struct PushedChart {
    /// `name` from Chart.yaml.
    pub name: String,
    /// The tag reference it is published under (with `[signing]`, tagged only after its
    /// signature exists: `publish:oci-tag:<chart>`).
    pub reference: ChartReference,
    /// The chart's manifest digest (`sha256:…`): what the tag resolves to, or will.
    pub digest: String,
    /// The exact manifest bytes behind `digest`, for the tag step's `PUT` by tag.
    pub manifest: Vec<u8>,
    /// The digest the tag held at the push step's check, which `allow-overwrite` let this run
    /// replace; `None` when the tag was absent or already held this chart.
    pub replaces: Option<String>,
    /// Whether this run's signature step found or pushed the chart's signature.
    pub signed: bool,
}

/// Every chart pushed in this run, by `[[chart]]` label. Stored with `StepContext::insert`.
#[derive(Clone, Debug, Default)]
pub struct PushedCharts(pub BTreeMap<String, PushedChart>);

impl PushedCharts {
    /// Adds one pushed chart to the run's record. Publish steps run one after another, so the
    /// read-modify-write cannot race.
    pub(crate) fn record(cx: &StepContext<'_>, label: &str, chart: PushedChart) {
        let mut pushed = cx.get::<PushedCharts>().unwrap_or_default();
        pushed.0.insert(label.to_owned(), chart);
        cx.insert(pushed);
    }

    /// Marks a recorded chart as signed: its tag may appear now.
    pub(crate) fn mark_signed(cx: &StepContext<'_>, label: &str) {
        let mut pushed = cx.get::<PushedCharts>().unwrap_or_default();
        if let Some(chart) = pushed.0.get_mut(label) {
            chart.signed = true;
            cx.insert(pushed);
        }
    }
}

/// The tag cosign looks under for the signatures of `digest`: `sha256:ab…` → `sha256-ab….sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// Cosign's "simple signing" payload for a manifest digest in a repository
/// (`REGISTRY/PATH/NAME`). Field order and `"optional":null` as cosign writes them.
pub fn simple_signing_payload(repository: &str, digest: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Payload<'a> {
        critical: Critical<'a>,
        optional: Option<()>,
    }
    #[derive(Serialize)]
    struct Critical<'a> {
        identity: Identity<'a>,
        image: Image<'a>,
        #[serde(rename = "type")]
        kind: &'a str,
    }
    #[derive(Serialize)]
    struct Identity<'a> {
        #[serde(rename = "docker-reference")]
        docker_reference: &'a str,
    }
    #[derive(Serialize)]
    struct Image<'a> {
        #[serde(rename = "docker-manifest-digest")]
        docker_manifest_digest: &'a str,
    }
    let payload = Payload {
        critical: Critical {
            identity: Identity { docker_reference: repository },
            image: Image { docker_manifest_digest: digest },
            kind: SIMPLE_SIGNING_TYPE,
        },
        optional: None,
    };
    serde_json::to_vec(&payload).expect("a payload serialises")
}

/// The manifest digest a payload vouches for, if it is a cosign simple-signing payload.
fn payload_digest(payload: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let critical = value.get("critical")?;
    if critical.get("type")?.as_str()? != SIMPLE_SIGNING_TYPE {
        return None;
    }
    Some(critical.get("image")?.get("docker-manifest-digest")?.as_str()?.to_owned())
}

/// The image config of a signature manifest: empty but valid, its `diff_ids` the layers'
/// digests (the layers are not compressed). Deterministic: the same layers give the same bytes.
fn signature_config(layers: &[OciDescriptor]) -> Vec<u8> {
    let epoch = "0001-01-01T00:00:00Z";
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let config = serde_json::json!({
        "architecture": "",
        "config": {},
        "created": epoch,
        "history": [{"created": epoch}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    serde_json::to_vec(&config).expect("a config serialises")
}

/// The signature manifest for a set of signature layers, and its exact bytes.
fn signature_manifest(layers: Vec<OciDescriptor>) -> (OciImageManifest, Vec<u8>, Vec<u8>) {
    let config = signature_config(&layers);
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
        config: OciDescriptor {
            media_type: OCI_IMAGE_CONFIG_MEDIA_TYPE.into(),
            digest: sha256_digest(&config),
            size: config.len() as i64,
            ..Default::default()
        },
        layers,
        subject: None,
        artifact_type: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    (manifest, bytes, config)
}

/// The layer for one signed payload.
fn signature_layer(payload: &[u8], signature_base64: &str) -> OciDescriptor {
    OciDescriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        digest: sha256_digest(payload),
        size: payload.len() as i64,
        annotations: Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), signature_base64.to_owned())])),
        ..Default::default()
    }
}

/// Whether `payload` vouches for `digest` and `signature_base64` is `key`'s signature over it.
fn vouches(key: &PublicKey, payload: &[u8], signature_base64: &str, digest: &str) -> bool {
    payload_digest(payload).as_deref() == Some(digest)
        && BlobSignature::from_base64(signature_base64).is_ok_and(|signature| key.verify(payload, &signature).is_ok())
}

/// `publish:oci-signature:<chart>`: attaches the chart's signature in the registry.
#[derive(Debug)]
pub struct ChartSignatureStep {
    pub push: ChartPush,
    pub settings: OciSettings,
}

#[async_trait::async_trait]
impl Step for ChartSignatureStep {
    fn id(&self) -> String {
        format!("publish:oci-signature:{}", self.push.label)
    }
    fn stage(&self) -> Stage {
        Stage::Publish
    }
    fn effect(&self) -> Effect {
        Effect::Publish
    }
    fn description(&self) -> String {
        format!("attach the signature of chart {} in {} (cosign `sha256-….sig` tag)", self.push.label, self.push.push)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let ActiveSigner(signer) = cx.get::<ActiveSigner>().ok_or_else(|| {
            StepError::new(format!("chart `{}`: no signer in this run", self.push.label)).with_help(
                "the sign stage must run before the chart signature is attached; run the whole pipeline, not the \
                 publish steps alone",
            )
        })?;
        let pushed = cx.get::<PushedCharts>().and_then(|p| p.0.get(&self.push.label).cloned()).ok_or_else(|| {
            StepError::new(format!("chart `{}` ({}) was not pushed in this run", self.push.label, self.push.dir))
                .with_help("its push step must run before its signature is attached; run the whole pipeline")
        })?;
        let what = format!("the signature of chart `{}`", pushed.name);
        let chart = &pushed.reference;
        let repository = format!("{}/{}", chart.registry, chart.repository);
        let signature_ref = ChartReference {
            registry: chart.registry.clone(),
            repository: chart.repository.clone(),
            tag: signature_tag(&pushed.digest),
        };
        let oci_ref = signature_ref.to_oci();
        let host = chart.registry.clone();
        let credentials = credentials::resolve(&host, self.settings.registry(&host), cx.env(), cx).await;
        let auth = credentials.login.to_oci();
        let client = self.settings.oci_client(&host);
        // Retries used up: the chart is in the registry already, its signature is not.
        let fail = |gave_up: GaveUp<OciAttempt>| {
            let retried = gave_up.attempts > 1;
            let error = gave_up_failure(gave_up, &what, &signature_ref, &credentials);
            if !retried {
                return error;
            }
            error.with_help(format!(
                "the registry failed, not the configuration: the chart is in the registry as {repository}@{} but \
                 not tagged `{}`, so nobody pulls it unsigned (a GitHub release stays a draft). Run the release \
                 again: the chart is found by digest, and only its signature and then its tag are sent (see \
                 {TROUBLESHOOTING})",
                pushed.digest, chart.tag
            ))
        };
        // Every registry call runs under the network policy; pushes are by digest or of the
        // same manifest bytes, so repeating them is safe.
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let mut retries = Retries::new(&self.settings.network, &announce);
        let token = push_token(&client, &signature_ref, &credentials, &what, &retries).await?;
        retries.rate_limit = rate_limit_probe(&self.settings, &host, &token, &credentials.login);
        let (client, oci_ref, auth, retries) = (&client, &oci_ref, &auth, &retries);
        let record = || {
            cx.set_output(format!("chart.{}.signature", pushed.name), signature_ref.to_string());
            PushedCharts::mark_signed(cx, &self.push.label);
        };
        let public_key = signer.public_key().cloned();

        // What is under the `.sig` tag already: a signature by this key for this digest is
        // kept as it is; signatures by other keys stay next to ours.
        let mut layers = Vec::new();
        let existing = retries
            .run(&format!("GET the manifest of {signature_ref}"), |_| async move {
                client
                    .pull_manifest_raw(oci_ref, auth, &[OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE])
                    .await
                    .map_err(OciAttempt)
            })
            .await;
        match existing {
            Ok((bytes, existing)) => match serde_json::from_slice::<OciImageManifest>(&bytes) {
                Ok(manifest) => {
                    for layer in &manifest.layers {
                        let Some(signature) = layer.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION))
                        else {
                            continue;
                        };
                        let Some(key) = &public_key else { continue };
                        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE || layer.size > MAX_PAYLOAD_BYTES {
                            continue;
                        }
                        let payload = retries
                            .run(&format!("GET the blob {}", layer.digest), |_| async move {
                                let mut payload = Vec::new();
                                client.pull_blob(oci_ref, layer, &mut payload).await.map_err(OciAttempt)?;
                                Ok(payload)
                            })
                            .await
                            .map_err(fail)?;
                        if vouches(key, &payload, signature, &pushed.digest) {
                            record();
                            return Ok(Some(format!(
                                "{signature_ref}@{existing} already holds a signature of {repository}@{} by {} \
                                 (unchanged)",
                                pushed.digest,
                                signer.describe()
                            )));
                        }
                    }
                    cx.progress(format!(
                        "{signature_ref} holds {} signature(s), none by this key: adding ours",
                        manifest.layers.len()
                    ));
                    layers = manifest.layers;
                }
                Err(err) => cx.warn(format!(
                    "{signature_ref} ({existing}) is not an image manifest ({err}); replacing it with the signature"
                )),
            },
            Err(gave_up) if is_not_found(&gave_up.error.0) => {}
            Err(gave_up) => return Err(fail(gave_up)),
        }

        let payload = simple_signing_payload(&repository, &pushed.digest);
        let signature = signer.sign_base64(&payload).map_err(|err| StepError::new(format!("{what}: {err}")))?;
        // Nothing unverified is published: check the new signature before it leaves.
        if let Some(key) = &public_key
            && !vouches(key, &payload, &signature, &pushed.digest)
        {
            return Err(StepError::new(format!(
                "{what}: the new signature does not verify against {}",
                key.fingerprint()
            ))
            .with_help("the signer and its public key disagree; nothing was pushed, run the release again"));
        }
        layers.push(signature_layer(&payload, &signature));
        let (manifest, manifest_bytes, config) = signature_manifest(layers);
        let digest = sha256_digest(&manifest_bytes);

        for (blob, descriptor) in [(payload, manifest.layers.last().expect("ours")), (config, &manifest.config)] {
            let (blob, digest) = (&blob, &descriptor.digest);
            retries
                .run(&format!("the upload of the blob {digest}"), |_| async move {
                    if client.blob_exists(oci_ref, digest).await.map_err(OciAttempt)? {
                        return Ok(());
                    }
                    client.push_blob(oci_ref, blob.clone(), digest).await.map(drop).map_err(OciAttempt)
                })
                .await
                .map_err(fail)?;
        }
        let manifest_bytes = &manifest_bytes;
        retries
            .run(&format!("PUT the manifest of {signature_ref}"), |_| async move {
                let content_type = reqwest::header::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE);
                client.push_manifest_raw(oci_ref, manifest_bytes.clone(), content_type).await.map_err(OciAttempt)
            })
            .await
            .map_err(fail)?;

        let stored = retries
            .run(&format!("HEAD the manifest of {signature_ref}"), |_| async move {
                client.fetch_manifest_digest(oci_ref, auth).await.map_err(OciAttempt)
            })
            .await
            .map_err(fail)?;
        if stored != digest {
            return Err(StepError::new(format!(
                "{what}: after the push {signature_ref} resolves to {stored}, not to the pushed manifest {digest}"
            ))
            .with_help(format!(
                "another signer pushed to the same tag at the same time; run the release again (see {TROUBLESHOOTING})"
            )));
        }
        record();
        Ok(Some(format!(
            "signed {repository}@{} as {signature_ref}@{digest} with {}",
            pushed.digest,
            signer.describe()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::test_support::{FIXTURE_PASSWORD, fixture};
    use crate::signing::{CosignKeyPair, Signer};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn tag_and_payload_follow_cosign() {
        assert_eq!(
            signature_tag(DIGEST),
            "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
        let payload = simple_signing_payload("127.0.0.1:5000/charts/hello", DIGEST);
        assert_eq!(
            String::from_utf8(payload.clone()).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/charts/hello"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        assert_eq!(payload_digest(&payload).as_deref(), Some(DIGEST));
        assert_eq!(payload_digest(br#"{"critical":{"type":"other","image":{"docker-manifest-digest":"x"}}}"#), None);
    }

    #[test]
    fn manifest_has_cosign_media_types_and_a_deterministic_config() {
        let payload = simple_signing_payload("r/charts/hello", DIGEST);
        let (manifest, bytes, config) = signature_manifest(vec![signature_layer(&payload, "c2ln")]);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], OCI_IMAGE_CONFIG_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["annotations"][SIGNATURE_ANNOTATION], "c2ln");
        assert_eq!(json["layers"][0]["digest"], sha256_digest(&payload));
        assert_eq!(manifest.config.digest, sha256_digest(&config));
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256_digest(&payload));
        let again = signature_manifest(vec![signature_layer(&payload, "c2ln")]).1;
        assert_eq!(bytes, again);
    }

    #[test]
    fn only_this_keys_signature_over_this_digest_vouches() {
        let env = crate::env::Environment::empty().with("COSIGN_PASSWORD", FIXTURE_PASSWORD);
        let (pair, _) =
            CosignKeyPair::load_with_password_from(&fixture("sigstore.key"), &env, "COSIGN_PASSWORD").unwrap();
        let key = pair.public_key().clone();
        let payload = simple_signing_payload("r/charts/hello", DIGEST);
        let signature = pair.sign_base64(&payload).unwrap();
        assert!(vouches(&key, &payload, &signature, DIGEST));
        // Randomised: a second signature differs and verifies too.
        let second = pair.sign_base64(&payload).unwrap();
        assert!(vouches(&key, &payload, &second, DIGEST));

        let other_digest = DIGEST.replace("0123", "3210");
        assert!(!vouches(&key, &payload, &signature, &other_digest), "a payload for another digest");
        let other = CosignKeyPair::generate().unwrap();
        assert!(!vouches(&key, &payload, &other.sign_base64(&payload).unwrap(), DIGEST), "another key");
        assert!(!vouches(&key, &payload, "not base64!", DIGEST));
    }
}
