//! The chart's OCI manifest: Helm's media types and annotations, exact bytes, digests.

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::Digest;
use std::collections::BTreeMap;

use crate::helm::PackagedChart;
use crate::net::GaveUp;
use crate::oci::HELM_CHART_LAYER_MEDIA_TYPE;
use crate::oci::HELM_CONFIG_MEDIA_TYPE;
use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::retry::OciAttempt;
use crate::oci::retry::Retries;

/// The manifest annotations Helm writes, from the chart's metadata.
pub(crate) fn annotations(chart: &PackagedChart, env: &crate::env::Environment) -> BTreeMap<String, String> {
    let meta: serde_json::Value = serde_json::from_str(&chart.config_json).unwrap_or_default();
    let text = |key: &str| meta.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
    let mut out = BTreeMap::new();
    out.insert("org.opencontainers.image.title".into(), chart.name.clone());
    out.insert("org.opencontainers.image.version".into(), chart.version.clone());
    if let Some(description) = text("description") {
        out.insert("org.opencontainers.image.description".into(), description);
    }
    if let Some(home) = text("home") {
        out.insert("org.opencontainers.image.url".into(), home);
    }
    if let Some(source) = meta.get("sources").and_then(|s| s.get(0)).and_then(|s| s.as_str()) {
        out.insert("org.opencontainers.image.source".into(), source.to_owned());
    }
    if let Some(maintainers) = meta.get("maintainers").and_then(|m| m.as_array()) {
        let authors: Vec<String> = maintainers
            .iter()
            .filter_map(|m| {
                let name = m.get("name")?.as_str()?;
                Some(match m.get("email").and_then(|e| e.as_str()) {
                    Some(email) => format!("{name} ({email})"),
                    None => name.to_owned(),
                })
            })
            .collect();
        if !authors.is_empty() {
            out.insert("org.opencontainers.image.authors".into(), authors.join(", "));
        }
    }
    // Deterministic on purpose: a timestamp of now would make every re-push a new manifest.
    if let Some(created) =
        env.get("SOURCE_DATE_EPOCH").and_then(|s| s.parse::<u64>().ok()).map(crate::date::rfc3339_utc)
    {
        out.insert("org.opencontainers.image.created".into(), created);
    }
    out
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `PUT`s exact manifest bytes under `target` (a tag or the manifest's own digest), under the
/// network policy; the same bytes again are a no-op for the registry.
pub(crate) async fn put_manifest(
    retries: &Retries<'_>,
    client: &oci_client::Client,
    target: &oci_client::Reference,
    shown: &str,
    bytes: &[u8],
) -> Result<(), GaveUp<OciAttempt>> {
    retries
        .run(&format!("PUT the manifest of {shown}"), |_| async move {
            let content_type = reqwest::header::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE);
            client.push_manifest_raw(target, bytes.to_vec(), content_type).await.map(drop).map_err(OciAttempt)
        })
        .await
}

/// The manifest for a chart and its exact bytes (their digest is the manifest digest).
pub(crate) fn chart_manifest(chart: &PackagedChart, env: &crate::env::Environment) -> (OciImageManifest, Vec<u8>) {
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
        config: OciDescriptor {
            media_type: HELM_CONFIG_MEDIA_TYPE.into(),
            digest: sha256_digest(chart.config_json.as_bytes()),
            size: chart.config_json.len() as i64,
            ..Default::default()
        },
        layers: vec![OciDescriptor {
            media_type: HELM_CHART_LAYER_MEDIA_TYPE.into(),
            digest: format!("sha256:{}", chart.sha256),
            size: chart.size as i64,
            ..Default::default()
        }],
        subject: None,
        artifact_type: None,
        annotations: Some(annotations(chart, env)),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    (manifest, bytes)
}

/// The manifest this run pushes for a chart, known before the push (the manifest is
/// deterministic): what keyless signing and the provenance name the chart by.
#[derive(Clone, Debug)]
pub(crate) struct PlannedManifest {
    pub(crate) reference: crate::oci::reference::ChartReference,
    /// `sha256:…` of `bytes`.
    pub(crate) digest: String,
    pub(crate) bytes: Vec<u8>,
}

impl PlannedManifest {
    pub(crate) fn new(
        chart: &PackagedChart,
        push: &str,
        env: &crate::env::Environment,
    ) -> Result<Self, crate::error::StepError> {
        let reference = crate::oci::reference::PushTarget::parse(push)?.chart(&chart.name, &chart.version)?;
        let (_, bytes) = chart_manifest(chart, env);
        Ok(PlannedManifest { reference, digest: sha256_digest(&bytes), bytes })
    }

    /// `REGISTRY/PATH/NAME`: the chart's subject name in the provenance, as GitHub names an
    /// image (without tag or digest).
    pub(crate) fn subject_name(&self) -> String {
        format!("{}/{}", self.reference.registry, self.reference.repository)
    }

    /// The digest's hex, as an in-toto subject holds it.
    pub(crate) fn sha256_hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// A chart the push step pushed (or found unchanged) in this run.
#[derive(Clone, Debug)]
pub(crate) struct PushedChart {
    /// `name` from Chart.yaml.
    pub name: String,
    /// The tag reference it is published under (with `[signing]`, tagged only after its
    /// signature exists: `finalize:oci-tag:<chart>`).
    pub reference: crate::oci::reference::ChartReference,
    /// The chart's manifest digest (`sha256:…`): what the tag resolves to, or will.
    pub digest: String,
    /// The exact manifest bytes behind `digest`, for the tag step's `PUT` by tag.
    pub manifest: Vec<u8>,
    /// The digest the tag held at the push step's check, which `allow-overwrite` let this run
    /// replace; `None` when the tag was absent or already held this chart.
    pub replaces: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::credentials::Login;
    use crate::oci::planned::is_loopback;
    use crate::oci::retry::authorization;

    fn chart(config_json: &str) -> PackagedChart {
        PackagedChart {
            name: "hello".into(),
            version: "1.2.3+b1".into(),
            path: "/dist/hello-1.2.3+b1.tgz".into(),
            size: 42,
            sha256: "ab".repeat(32),
            config_json: config_json.into(),
            push: Some("oci://127.0.0.1:5000/charts".into()),
            allow_overwrite: false,
        }
    }

    #[test]
    fn manifest_has_helm_media_types_and_annotations() {
        let config = r#"{"apiVersion":"v2","name":"hello","version":"1.2.3+b1","description":"Says hello","home":"https://example.com","sources":["https://github.com/acme/hello"],"maintainers":[{"name":"Ada","email":"ada@example.com"},{"name":"Bob"}]}"#;
        let (manifest, bytes) = chart_manifest(&chart(config), &crate::env::Environment::empty());
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], HELM_CONFIG_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["mediaType"], HELM_CHART_LAYER_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["digest"], format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(json["layers"][0]["size"], 42);
        let annotations = manifest.annotations.unwrap();
        assert_eq!(annotations["org.opencontainers.image.title"], "hello");
        assert_eq!(annotations["org.opencontainers.image.version"], "1.2.3+b1");
        assert_eq!(annotations["org.opencontainers.image.description"], "Says hello");
        assert_eq!(annotations["org.opencontainers.image.url"], "https://example.com");
        assert_eq!(annotations["org.opencontainers.image.source"], "https://github.com/acme/hello");
        assert_eq!(annotations["org.opencontainers.image.authors"], "Ada (ada@example.com), Bob");
        assert!(!annotations.contains_key("org.opencontainers.image.created"));
    }

    #[test]
    fn manifest_is_deterministic_and_created_comes_from_source_date_epoch() {
        let env = crate::env::Environment::empty();
        assert_eq!(chart_manifest(&chart("{}"), &env).1, chart_manifest(&chart("{}"), &env).1);
        let env = env.with("SOURCE_DATE_EPOCH", "1700000000");
        let (manifest, _) = chart_manifest(&chart("{}"), &env);
        assert_eq!(manifest.annotations.unwrap()["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn basic_authorization_for_basic_logins_bearer_for_tokens() {
        let login = Login::Basic { username: "u".into(), password: crate::secret::Secret::new("p") };
        assert_eq!(authorization(&None, &login).unwrap(), "Basic dTpw");
        assert_eq!(authorization(&Some("t".into()), &login).unwrap(), "Bearer t");
        assert_eq!(authorization(&None, &Login::Anonymous), None);
    }
}
