//! `release verify oci://REGISTRY/PATH/NAME:VERSION`: a chart in its registry against the
//! keyless signature a release attached to it in cosign v3's layout (and its build
//! provenance, when attached), as `cosign verify` would check it. The registry is read with
//! the credential chain a release pushes with (`HELM_REGISTRY_*`, docker `config.json` and
//! its helpers, `GITHUB_TOKEN` for ghcr.io only), anonymously when it finds nothing; the
//! bundles are verified offline against a trusted root.
//!
//! The chart's manifest is fetched and hashed here (its digest is not taken from a header),
//! its referrers listed (the referrers API, else the `sha256-<hex>` tag: oci-client does the
//! fallback), and each Sigstore bundle among them read and verified: the certificate chain,
//! SCT and log entry (or timestamp), the identity the caller expects, and that the
//! statement's subject is this manifest's digest.

use oci_client::Reference;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use sigstore_verify::trust_root::TrustedRoot;

use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::manifest::sha256_digest;
use crate::oci::referrers::{BUNDLE_MEDIA_TYPE, bundle_layer, bundles_with, vouches_for};
use crate::signing::bundle::Expected;
use crate::signing::provenance::{COSIGN_SIGN_V1, SLSA_PROVENANCE_V1};

/// What `verify_chart` found: the chart's manifest digest and who signed it.
#[derive(Clone, Debug)]
pub struct ChartVerdict {
    /// `sha256:…` of the manifest the reference resolves to.
    pub digest: String,
    /// The identity of the verified signature.
    pub signed_by: String,
    /// The identity of the verified build provenance, when one is attached.
    pub provenance_by: Option<String>,
}

/// Verifies the chart `reference` (`oci://REGISTRY/PATH/NAME:TAG` or `…@sha256:…`) against its
/// attached Sigstore bundles. `plain_http`: talk HTTP to this registry (a local one); `env`
/// and `secrets`: where the credential chain looks, and who hears of a secret it finds.
pub async fn verify_chart(
    reference: &str,
    plain_http: bool,
    env: &crate::env::Environment,
    secrets: &dyn crate::secret::SecretSink,
    root: &TrustedRoot,
    expected: &Expected,
) -> Result<ChartVerdict, String> {
    let bare = reference
        .strip_prefix("oci://")
        .ok_or_else(|| format!("`{reference}` is not a chart reference: it must start with `oci://`"))?;
    let parsed: Reference = bare.parse().map_err(|e| format!("`{reference}` is not an OCI reference: {e}"))?;
    let registry = parsed.registry().to_owned();
    let mut settings = crate::oci::OciSettings::default();
    if plain_http {
        let plain = crate::config::RegistryConfig { plain_http: true, username_env: None, password_env: None };
        settings.registries.insert(registry.clone(), plain);
    }
    let session = crate::oci::session::RegistrySession::open(&registry, &settings, env, secrets).await;
    let (client, auth) = (session.client, session.credentials.login.to_oci());

    let (bytes, _) = client
        .pull_manifest_raw(&parsed, &auth, &[OCI_MANIFEST_MEDIA_TYPE])
        .await
        .map_err(|e| format!("cannot read the manifest of {bare}: {e}"))?;
    let digest = sha256_digest(&bytes);
    if let Some(pinned) = parsed.digest()
        && pinned != digest
    {
        return Err(format!("{bare} served a manifest whose digest is {digest}"));
    }
    let subject = Reference::with_digest(registry, parsed.repository().to_owned(), digest.clone());
    let index = client
        .pull_referrers(&subject, Some(BUNDLE_MEDIA_TYPE))
        .await
        .map_err(|e| format!("cannot read the referrers of {digest}: {e}"))?;

    let signature = signature_of(&client, &auth, &subject, &digest, &index, root, expected, COSIGN_SIGN_V1).await?;
    let provenance =
        signature_of(&client, &auth, &subject, &digest, &index, root, expected, SLSA_PROVENANCE_V1).await?;
    let signed_by = signature.map_err(|why| match why {
        Some(reasons) => format!("no signature of {digest} verifies: {reasons}"),
        None => {
            format!("{digest} has no signature attached (no Sigstore bundle of {COSIGN_SIGN_V1} among its referrers)")
        }
    })?;
    let provenance_by = match provenance {
        Ok(identity) => Some(identity),
        Err(None) => None,
        Err(Some(reasons)) => {
            return Err(format!("the build provenance attached to {digest} does not verify: {reasons}"));
        }
    };
    Ok(ChartVerdict { digest, signed_by, provenance_by })
}

/// The identity of the first bundle of `predicate` attached to `digest` that verifies: outer
/// `Err`, the registry could not be read; `Err(None)`, no such bundle is attached;
/// `Err(Some(reasons))`, none of those attached verifies.
#[allow(clippy::too_many_arguments)]
async fn signature_of(
    client: &oci_client::Client,
    auth: &RegistryAuth,
    subject: &Reference,
    digest: &str,
    index: &oci_client::manifest::OciImageIndex,
    root: &TrustedRoot,
    expected: &Expected,
    predicate: &str,
) -> Result<Result<String, Option<String>>, String> {
    let mut reasons = Vec::new();
    for entry in bundles_with(index, predicate) {
        let by_digest = Reference::with_digest(
            subject.registry().to_owned(),
            subject.repository().to_owned(),
            entry.digest.clone(),
        );
        let (bytes, _) = client
            .pull_manifest_raw(&by_digest, auth, &[OCI_MANIFEST_MEDIA_TYPE])
            .await
            .map_err(|e| format!("cannot read the referrer {}: {e}", entry.digest))?;
        let manifest = serde_json::from_slice::<OciImageManifest>(&bytes).ok();
        let Some(layer) = manifest.as_ref().and_then(|m| bundle_layer(m, digest)) else {
            reasons.push(format!("{} is not a bundle about {digest}", entry.digest));
            continue;
        };
        let mut bundle = Vec::new();
        client
            .pull_blob(&by_digest, layer, &mut bundle)
            .await
            .map_err(|e| format!("cannot read the bundle {}: {e}", layer.digest))?;
        match vouches_for(&bundle, digest, &format!("the referrer {}", entry.digest), root, expected) {
            Ok(identity) => return Ok(Ok(identity)),
            Err(reason) => reasons.push(reason),
        }
    }
    Ok(Err(if reasons.is_empty() { None } else { Some(reasons.join("; ")) }))
}
