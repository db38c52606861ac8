//! `publish:attestation`: the signed provenance is stored with GitHub's attestations API
//! (`POST /repos/{owner}/{repo}/attestations`), where `gh attestation verify` finds it. In
//! the publish stage, before the release is made visible.
//!
//! A re-run converges: every run signs anew (a new certificate, a new signature), so GitHub
//! would store a second attestation of the same files. Before posting, the step lists the
//! attestations of the provenance's first subject (`GET …/attestations/sha256:<hex>?
//! predicate_type=https://slsa.dev/provenance/v1`, bundles read from their `bundle_url`) and
//! keeps the first one that is this release's provenance: a DSSE statement of the same
//! predicate type over exactly the same subjects (names and digests), whose certificate
//! verifies against the run's trusted root for this run's identity and issuer. Then nothing
//! is posted. A listing that fails is a warning, and the provenance is posted as before.

use std::collections::BTreeSet;

use camino::Utf8PathBuf;

use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;
use crate::github::client::ListedAttestation;
use crate::plan::{Effect, Stage, StepId};
use crate::signing::bundle::{Expected, trusted_root, verify_attestation_json};
use crate::signing::keyless::ActiveKeyless;
use crate::signing::provenance::Provenance;
use crate::signing::provenance::{SLSA_PROVENANCE_V1, Subject, subjects_of};
use crate::step::{Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::{keyless_session, signed_provenance};

#[derive(Debug)]
pub(crate) struct PublishAttestation {
    pub github: GithubConfig,
    pub network: NetworkConfig,
}

/// The in-toto statement of a bundle's DSSE envelope, as bytes.
fn payload_of(bundle: &serde_json::Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let payload = bundle.pointer("/dsseEnvelope/payload")?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(payload).ok()
}

/// A statement's subjects as a set of (name, sha256), when it is SLSA provenance v1.
fn provenance_subjects(bundle: &serde_json::Value) -> Option<BTreeSet<(String, String)>> {
    let payload = payload_of(bundle)?;
    let statement: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    if statement.get("predicateType").and_then(|p| p.as_str()) != Some(SLSA_PROVENANCE_V1) {
        return None;
    }
    Some(set_of(&subjects_of(&payload)?))
}

fn set_of(subjects: &[Subject]) -> BTreeSet<(String, String)> {
    subjects.iter().map(|s| (s.name.clone(), s.sha256.to_ascii_lowercase())).collect()
}

/// The listed attestations whose statement is SLSA provenance over exactly `ours`.
fn same_subjects(listed: Vec<ListedAttestation>, ours: &BTreeSet<(String, String)>) -> Vec<ListedAttestation> {
    listed.into_iter().filter(|a| provenance_subjects(&a.bundle).as_ref() == Some(ours)).collect()
}

#[async_trait::async_trait]
impl Step for PublishAttestation {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Publish, "attestation"),
            Effect::Publish,
            "store the signed build provenance with GitHub's attestations API (once per release)",
        )
        .consumes(&keyless_session())
        .consumes(&signed_provenance())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let Provenance { bundle_json } = cx.handed(&signed_provenance())?;
        let ActiveKeyless(session) = cx.handed(&keyless_session())?;
        let bundle: serde_json::Value = serde_json::from_str(&bundle_json)
            .map_err(|e| StepError::new(format!("the provenance bundle is not JSON: {e}")))?;
        let ours = payload_of(&bundle).and_then(|p| subjects_of(&p)).filter(|s| !s.is_empty()).ok_or_else(|| {
            StepError::new("the provenance bundle holds no in-toto statement with subjects")
                .with_help("the sign:provenance step makes it; run the release again")
        })?;
        let api = cx.github(&self.github, &self.network)?;
        let web = api.target.web_url();

        let digest = format!("sha256:{}", ours[0].sha256.to_ascii_lowercase());
        let candidates = match api.call(api.client.list_attestations(&digest, Some(SLSA_PROVENANCE_V1))).await {
            Ok(listed) => same_subjects(listed, &set_of(&ours)),
            Err(e) => {
                cx.warn(format!("cannot look for an attestation an earlier run stored ({e}); storing this run's"));
                Vec::new()
            }
        };
        if !candidates.is_empty() {
            let expected = Expected {
                identity: Some(session.identity.clone()),
                issuer: Some(session.issuer.clone()),
                ..Expected::default()
            };
            let root_json = session.services().trusted_root_json.clone();
            let (found, refused) = tokio::task::spawn_blocking(move || {
                let root = trusted_root(&root_json, "of the signing instance")?;
                let mut refused = Vec::new();
                for candidate in candidates {
                    let shown = Utf8PathBuf::from(match candidate.id {
                        Some(id) => format!("GitHub attestation {id}"),
                        None => "a GitHub attestation".to_owned(),
                    });
                    match verify_attestation_json(&root, &candidate.bundle.to_string(), &shown, &expected) {
                        Ok(_) => return Ok((Some(candidate), refused)),
                        Err(e) => refused.push(e.to_string()),
                    }
                }
                Ok::<_, crate::signing::bundle::BundleError>((None, refused))
            })
            .await
            .map_err(|e| StepError::new(format!("verification stopped: {e}")))??;
            if let Some(found) = found {
                return Ok(Some(match found.id {
                    Some(id) => {
                        cx.set_output("attestation-id", id.to_string());
                        format!(
                            "build provenance already stored as attestation {id} (an earlier run's, same subjects, signed by {}): {web}/attestations/{id}; not stored again",
                            session.identity
                        )
                    }
                    None => format!(
                        "build provenance already stored as an attestation of {digest} (an earlier run's, same subjects, signed by {}); not stored again",
                        session.identity
                    ),
                }));
            }
            cx.warn(format!(
                "GitHub holds provenance over the same files that does not verify for this run's identity {} ({}); storing this run's",
                session.identity,
                refused.join("; ")
            ));
        }

        let id = api.call(api.client.create_attestation(&bundle)).await?;
        cx.set_output("attestation-id", id.to_string());
        Ok(Some(format!("build provenance stored as attestation {id}: {web}/attestations/{id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn bundle(predicate_type: &str, subjects: &[(&str, &str)]) -> serde_json::Value {
        let subjects: Vec<_> = subjects.iter().map(|(n, d)| json!({"name": n, "digest": {"sha256": d}})).collect();
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": predicate_type,
            "predicate": {},
        });
        json!({"dsseEnvelope": {"payload": base64::engine::general_purpose::STANDARD.encode(statement.to_string())}})
    }

    #[test]
    fn only_provenance_over_exactly_our_subjects_is_a_candidate() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let ours = set_of(&[
            Subject { name: "app".into(), sha256: a.clone() },
            Subject { name: "SHA256SUMS".into(), sha256: b.to_ascii_uppercase() },
        ]);
        let listed = |bundle| ListedAttestation { id: Some(1), bundle };
        let same = bundle(SLSA_PROVENANCE_V1, &[("SHA256SUMS", &b), ("app", &a)]);
        let fewer = bundle(SLSA_PROVENANCE_V1, &[("app", &a)]);
        let more = bundle(SLSA_PROVENANCE_V1, &[("app", &a), ("SHA256SUMS", &b), ("other", &a)]);
        let renamed = bundle(SLSA_PROVENANCE_V1, &[("app2", &a), ("SHA256SUMS", &b)]);
        let release = bundle("https://in-toto.io/attestation/release/v0.1", &[("app", &a), ("SHA256SUMS", &b)]);
        let found = same_subjects(
            vec![listed(fewer), listed(more), listed(renamed), listed(release), listed(same.clone())],
            &ours,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].bundle, same);
        assert!(same_subjects(vec![listed(json!({"dsseEnvelope": {"payload": "%%"}}))], &ours).is_empty());
    }
}
