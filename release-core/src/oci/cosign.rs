//! Chart signatures in the registry in cosign's legacy tag convention: the `sha256-<hex>.sig` tag,
//! the simple-signing payload, the signature manifest. Pure.

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::manifest::sha256_digest;
use crate::signing::BlobSignature;
use crate::signing::public_key::PublicKey;

pub(crate) const MAX_PAYLOAD_BYTES: i64 = 64 * 1024;

/// The media type of cosign's signed payload.
pub(crate) const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the base64 signature over the payload.
pub(crate) const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The config media type of a signature manifest.
pub(crate) const OCI_IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The `type` cosign writes into, and checks in, every payload.
pub(crate) const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// Older cosign releases wrote `.sig` manifests with Docker's media type; they are read too.
pub(crate) const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The tag cosign looks under for the signatures of `digest`: `sha256:ab…` → `sha256-ab….sig`.
pub(crate) fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// Cosign's "simple signing" payload for a manifest digest in a repository
/// (`REGISTRY/PATH/NAME`). Field order and `"optional":null` as cosign writes them.
pub(crate) fn simple_signing_payload(repository: &str, digest: &str) -> Vec<u8> {
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
pub(crate) fn payload_digest(payload: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let critical = value.get("critical")?;
    if critical.get("type")?.as_str()? != SIMPLE_SIGNING_TYPE {
        return None;
    }
    Some(critical.get("image")?.get("docker-manifest-digest")?.as_str()?.to_owned())
}

/// The image config of a signature manifest: empty but valid, its `diff_ids` the layers'
/// digests (the layers are not compressed). Deterministic: the same layers give the same bytes.
pub(crate) fn signature_config(layers: &[OciDescriptor]) -> Vec<u8> {
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
pub(crate) fn signature_manifest(layers: Vec<OciDescriptor>) -> (OciImageManifest, Vec<u8>, Vec<u8>) {
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
pub(crate) fn signature_layer(payload: &[u8], signature_base64: &str) -> OciDescriptor {
    OciDescriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        digest: sha256_digest(payload),
        size: payload.len() as i64,
        annotations: Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), signature_base64.to_owned())])),
        ..Default::default()
    }
}

/// Whether `payload` vouches for `digest` and `signature_base64` is `key`'s signature over it.
pub(crate) fn vouches(key: &PublicKey, payload: &[u8], signature_base64: &str, digest: &str) -> bool {
    payload_digest(payload).as_deref() == Some(digest)
        && BlobSignature::from_base64(signature_base64).is_ok_and(|signature| key.verify(payload, &signature).is_ok())
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
