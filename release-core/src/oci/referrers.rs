//! Sigstore bundles attached to a chart as OCI 1.1 referrers, in cosign v3's layout
//! (protocols-sigstore.md §7), and the referrers tag schema for registries without the
//! referrers API (distribution, GHCR). Pure, except [`referrers_api`].
//!
//! A referrer is an image manifest with `artifactType`
//! `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config (`{}`), one layer that is
//! the bundle, `subject` = the chart's manifest, and the annotations cosign writes
//! (`dev.sigstore.bundle.content: dsse-envelope`, `dev.sigstore.bundle.predicateType`). It is
//! pushed by digest. Where the registry has no referrers API (`GET /v2/<name>/referrers/<digest>`
//! answers 404), the chart's referrers are listed in an image index under the tag
//! `sha256-<hex>` of the chart digest, as the OCI distribution spec's fallback says.

use std::collections::BTreeMap;

use oci_client::manifest::{ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest};

use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::manifest::sha256_digest;
use crate::oci::retry::OciAttempt;
use crate::oci::session::RegistrySession;

/// The artifact and layer media type of a Sigstore bundle v0.3.
pub(crate) const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The OCI empty descriptor's media type, and its content `{}`.
pub(crate) const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub(crate) const EMPTY_CONTENT: &[u8] = b"{}";
/// The media type of the referrers index (API answer and fallback tag alike).
pub(crate) const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation naming what the bundle holds (`dsse-envelope`).
pub(crate) const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// The annotation naming the statement's predicate type.
pub(crate) const PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// The creation time annotation cosign sets.
pub(crate) const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The referrers tag schema's tag for a subject digest: `sha256:ab…` → `sha256-ab…`.
pub(crate) fn fallback_tag(subject_digest: &str) -> String {
    subject_digest.replace(':', "-")
}

/// The chart's keyless signature, for the registry: the `chart-signature:<chart>` hand-off.
#[derive(Clone, Debug)]
pub(crate) struct ChartSignature {
    /// The manifest it signs (what the push step pushes).
    pub manifest_digest: String,
    pub manifest_size: usize,
    /// The DSSE bundle, as JSON.
    pub bundle_json: String,
}

/// One bundle about a chart, ready to be pushed as a referrer.
#[derive(Clone, Debug)]
pub(crate) struct Referrer {
    /// The manifest, and its exact bytes (their digest is the referrer's digest).
    pub manifest: OciImageManifest,
    pub bytes: Vec<u8>,
    pub digest: String,
    /// The bundle: the manifest's one layer.
    pub bundle: Vec<u8>,
    pub predicate_type: String,
}

impl Referrer {
    /// The referrer manifest for `bundle` (a DSSE bundle whose statement has
    /// `predicate_type`) about the chart manifest `subject_digest` of `subject_size` bytes.
    pub(crate) fn new(
        bundle: Vec<u8>,
        predicate_type: &str,
        subject_digest: &str,
        subject_size: usize,
        created: &str,
    ) -> Self {
        let annotations = BTreeMap::from([
            (CREATED_ANNOTATION.to_owned(), created.to_owned()),
            (CONTENT_ANNOTATION.to_owned(), "dsse-envelope".to_owned()),
            (PREDICATE_ANNOTATION.to_owned(), predicate_type.to_owned()),
        ]);
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
            artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
            config: OciDescriptor {
                media_type: EMPTY_MEDIA_TYPE.into(),
                digest: sha256_digest(EMPTY_CONTENT),
                size: EMPTY_CONTENT.len() as i64,
                ..Default::default()
            },
            layers: vec![OciDescriptor {
                media_type: BUNDLE_MEDIA_TYPE.into(),
                digest: sha256_digest(&bundle),
                size: bundle.len() as i64,
                ..Default::default()
            }],
            subject: Some(OciDescriptor {
                media_type: OCI_MANIFEST_MEDIA_TYPE.into(),
                digest: subject_digest.to_owned(),
                size: subject_size as i64,
                ..Default::default()
            }),
            annotations: Some(annotations),
        };
        let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
        let digest = sha256_digest(&bytes);
        Referrer { manifest, bytes, digest, bundle, predicate_type: predicate_type.to_owned() }
    }

    /// The entry that lists this referrer in a referrers index.
    pub(crate) fn entry(&self) -> ImageIndexEntry {
        ImageIndexEntry {
            media_type: OCI_MANIFEST_MEDIA_TYPE.into(),
            digest: self.digest.clone(),
            size: self.bytes.len() as i64,
            platform: None,
            annotations: self.manifest.annotations.clone(),
            artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
        }
    }
}

/// The entries of `index` that are Sigstore bundles with `predicate_type`.
pub(crate) fn bundles_with<'a>(
    index: &'a OciImageIndex,
    predicate_type: &'a str,
) -> impl Iterator<Item = &'a ImageIndexEntry> {
    index.manifests.iter().filter(move |entry| {
        entry.artifact_type.as_deref() == Some(BUNDLE_MEDIA_TYPE)
            && entry.annotations.as_ref().and_then(|a| a.get(PREDICATE_ANNOTATION)).map(String::as_str)
                == Some(predicate_type)
    })
}

/// A bundle larger than this in a listed referrer is not read (a release's are a few KiB).
pub(crate) const MAX_BUNDLE_BYTES: i64 = 1 << 20;

/// The bundle layer of a listed referrer's manifest, if it is a Sigstore bundle about
/// `subject` (a manifest digest) of a size worth reading.
pub(crate) fn bundle_layer<'m>(manifest: &'m OciImageManifest, subject: &str) -> Option<&'m OciDescriptor> {
    let about = manifest.subject.as_ref().is_some_and(|s| s.digest == subject);
    manifest.layers.first().filter(|l| about && l.media_type == BUNDLE_MEDIA_TYPE && l.size <= MAX_BUNDLE_BYTES)
}

/// Whether a referrer's bundle vouches for `subject`: it verifies against `root` for
/// `expected` and its statement names the digest. The signer's identity, or why not.
pub(crate) fn vouches_for(
    bundle: &[u8],
    subject: &str,
    shown: &str,
    root: &sigstore_verify::trust_root::TrustedRoot,
    expected: &crate::signing::bundle::Expected,
) -> Result<String, String> {
    let shown = camino::Utf8PathBuf::from(shown);
    let (verified, subjects) =
        crate::signing::bundle::verify_attestation_json(root, &String::from_utf8_lossy(bundle), &shown, expected)
            .map_err(|e| e.to_string())?;
    if subjects.iter().any(|s| Some(s.sha256.as_str()) == subject.strip_prefix("sha256:")) {
        Ok(verified.identity)
    } else {
        Err(format!("{shown} does not name {subject}"))
    }
}

/// `index` with `entry` added (once: an entry with its digest is kept as it is), as bytes.
pub(crate) fn with_entry(index: Option<OciImageIndex>, entry: ImageIndexEntry) -> (OciImageIndex, Vec<u8>) {
    let mut index = index.unwrap_or_else(empty_index);
    if !index.manifests.iter().any(|e| e.digest == entry.digest) {
        index.manifests.push(entry);
    }
    index.media_type = Some(INDEX_MEDIA_TYPE.into());
    let bytes = serde_json::to_vec(&index).expect("an index serialises");
    (index, bytes)
}

pub(crate) fn empty_index() -> OciImageIndex {
    OciImageIndex {
        schema_version: 2,
        media_type: Some(INDEX_MEDIA_TYPE.into()),
        manifests: Vec::new(),
        artifact_type: None,
        annotations: None,
    }
}

/// `GET /v2/<repository>/referrers/<digest>`: `Some(index)` from a registry with the
/// referrers API, `None` from one without (404, as the distribution spec says such a registry
/// answers). `authorization` is the push token's (or Basic) header, sent to this registry only.
pub(crate) async fn referrers_api(
    session: &RegistrySession,
    authorization: Option<&str>,
    repository: &str,
    subject_digest: &str,
) -> Result<Option<OciImageIndex>, OciAttempt> {
    use oci_client::errors::OciDistributionError;
    let url = format!("{}://{}/v2/{repository}/referrers/{subject_digest}", session.scheme, session.host);
    let mut request = session.http.get(&url).header(reqwest::header::ACCEPT, INDEX_MEDIA_TYPE);
    if let Some(authorization) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    let response = request.send().await.map_err(|e| OciAttempt(OciDistributionError::RequestError(e)))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| OciAttempt(OciDistributionError::RequestError(e)))?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(OciAttempt(OciDistributionError::ServerError {
            code: status.as_u16(),
            url,
            message: String::from_utf8_lossy(&body).into_owned(),
        }));
    }
    serde_json::from_slice(&body).map(Some).map_err(|e| {
        OciAttempt(OciDistributionError::ManifestParsingError(format!("the referrers of {subject_digest}: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referrer_is_a_bundle_manifest_about_the_chart_in_cosigns_layout() {
        let subject = format!("sha256:{}", "ab".repeat(32));
        let referrer = Referrer::new(
            b"{\"bundle\":1}".to_vec(),
            "https://slsa.dev/provenance/v1",
            &subject,
            321,
            "2026-12-01T00:00:00Z",
        );
        let json: serde_json::Value = serde_json::from_slice(&referrer.bytes).unwrap();
        assert_eq!(json["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        // The OCI empty descriptor: `{}`, two bytes, this well-known digest.
        assert_eq!(json["config"]["digest"], "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assert_eq!(json["config"]["size"], 2);
        assert_eq!(json["layers"][0]["mediaType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["digest"], sha256_digest(b"{\"bundle\":1}"));
        assert_eq!(json["subject"]["digest"], subject.as_str());
        assert_eq!(json["subject"]["size"], 321);
        assert_eq!(json["subject"]["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["annotations"][CONTENT_ANNOTATION], "dsse-envelope");
        assert_eq!(json["annotations"][PREDICATE_ANNOTATION], "https://slsa.dev/provenance/v1");
        assert_eq!(referrer.digest, sha256_digest(&referrer.bytes));
        assert_eq!(fallback_tag(&subject), format!("sha256-{}", "ab".repeat(32)));
    }

    #[test]
    fn only_a_bundle_about_the_chart_is_read() {
        let subject = format!("sha256:{}", "ef".repeat(32));
        let referrer = Referrer::new(b"b".to_vec(), "https://slsa.dev/provenance/v1", &subject, 1, "t");
        assert_eq!(bundle_layer(&referrer.manifest, &subject).map(|l| l.digest.clone()), Some(sha256_digest(b"b")));
        assert!(bundle_layer(&referrer.manifest, &format!("sha256:{}", "00".repeat(32))).is_none(), "another subject");
        let mut huge = referrer.manifest.clone();
        huge.layers[0].size = MAX_BUNDLE_BYTES + 1;
        assert!(bundle_layer(&huge, &subject).is_none(), "too large to read");
        let mut other = referrer.manifest;
        other.layers[0].media_type = "application/octet-stream".into();
        assert!(bundle_layer(&other, &subject).is_none(), "not a bundle");
    }

    #[test]
    fn the_fallback_index_lists_each_referrer_once_and_keeps_others() {
        let subject = format!("sha256:{}", "cd".repeat(32));
        let signature = Referrer::new(b"sig".to_vec(), "https://sigstore.dev/cosign/sign/v1", &subject, 1, "t");
        let provenance = Referrer::new(b"prov".to_vec(), "https://slsa.dev/provenance/v1", &subject, 1, "t");
        let (index, _) = with_entry(None, signature.entry());
        let (index, _) = with_entry(Some(index), provenance.entry());
        let (index, bytes) = with_entry(Some(index), signature.entry());
        assert_eq!(index.manifests.len(), 2);
        assert_eq!(bundles_with(&index, "https://slsa.dev/provenance/v1").count(), 1);
        assert_eq!(bundles_with(&index, "https://example.com/other").count(), 0);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], INDEX_MEDIA_TYPE);
        assert_eq!(json["manifests"][0]["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(json["manifests"][1]["annotations"][PREDICATE_ANNOTATION], "https://slsa.dev/provenance/v1");
    }
}
