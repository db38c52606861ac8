//! Build provenance: one in-toto Statement v1 for the release, with the SLSA provenance v1
//! predicate as `actions/attest-build-provenance` writes it (protocols-sigstore.md §5),
//! every value taken from the run's OIDC token claims. Signed as DSSE with the run's Fulcio
//! certificate and logged in Rekor (dsse 0.0.1) by
//! [`KeylessSession::sign_statement`](crate::signing::keyless::KeylessSession::sign_statement).

use serde_json::{Value, json};

/// The statement type.
pub(crate) const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of SLSA provenance v1.
pub(crate) const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// GitHub's build type for workflow runs.
pub(crate) const BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";
/// The release asset holding the provenance bundle (JSON Lines, one bundle a line).
pub(crate) const PROVENANCE_ASSET: &str = "provenance.intoto.jsonl";

/// A subject: a file name (or a chart reference) and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subject {
    pub name: String,
    pub sha256: String,
}

/// The signed provenance of the run, for the steps that publish it: the `signed-provenance` hand-off.
#[derive(Clone, Debug)]
pub(crate) struct Provenance {
    /// The bundle, as JSON.
    pub bundle_json: String,
}

/// The SLSA provenance v1 predicate of a GitHub Actions run, from its token's claims.
pub(crate) fn predicate(claims: &Value, server_url: &str) -> Value {
    let server = server_url.trim_end_matches('/');
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let repository = claim("repository");
    // `workflow_ref` is `OWNER/REPO/PATH@REF`: the path is what lies between.
    let workflow_ref = claim("workflow_ref");
    let path = workflow_ref
        .strip_prefix(&format!("{repository}/"))
        .unwrap_or(&workflow_ref)
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "workflow": {
                    "ref": claim("ref"),
                    "repository": format!("{server}/{repository}"),
                    "path": path,
                },
            },
            "internalParameters": {
                "github": {
                    "event_name": claim("event_name"),
                    "repository_id": claim("repository_id"),
                    "repository_owner_id": claim("repository_owner_id"),
                    "runner_environment": claim("runner_environment"),
                },
            },
            "resolvedDependencies": [{
                "uri": format!("git+{server}/{repository}@{}", claim("ref")),
                "digest": {"gitCommit": claim("sha")},
            }],
        },
        "runDetails": {
            "builder": {"id": format!("{server}/{}", claim("job_workflow_ref"))},
            "metadata": {
                "invocationId": format!(
                    "{server}/{repository}/actions/runs/{}/attempts/{}",
                    claim("run_id"),
                    claim("run_attempt")
                ),
            },
        },
    })
}

/// The statement over `subjects`, as the bytes that are signed.
pub(crate) fn statement(subjects: &[Subject], predicate: Value) -> Vec<u8> {
    let subjects: Vec<Value> =
        subjects.iter().map(|s| json!({"name": s.name, "digest": {"sha256": s.sha256}})).collect();
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": predicate,
    });
    serde_json::to_vec(&statement).expect("a statement serialises")
}

/// The predicate type of cosign v3's signature of an OCI manifest (`cosign sign`).
pub(crate) const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// The statement `cosign sign` (v3, new bundle format) signs for a manifest: one subject, the
/// manifest digest; an empty predicate. cosign leaves the subject unnamed; we name it
/// `REGISTRY/PATH/NAME` (as GitHub names an image subject), because sigstore-python 4.5.1
/// refuses a statement whose subject has no `name`, and cosign reads only the digest.
pub(crate) fn cosign_sign_statement(name: &str, manifest_sha256: &str) -> Vec<u8> {
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": manifest_sha256}, "annotations": {}}],
        "predicateType": COSIGN_SIGN_V1,
        "predicate": {},
    });
    serde_json::to_vec(&statement).expect("a statement serialises")
}

/// The predicate type of a statement.
pub(crate) fn predicate_type_of(statement: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(statement).ok()?;
    Some(value.get("predicateType")?.as_str()?.to_owned())
}

/// The subjects of a statement (for the gate, which checks each against its file). A subject
/// without a name (cosign's signature of a manifest) has the name `""`.
pub(crate) fn subjects_of(statement: &[u8]) -> Option<Vec<Subject>> {
    let value: Value = serde_json::from_slice(statement).ok()?;
    if value.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return None;
    }
    value
        .get("subject")?
        .as_array()?
        .iter()
        .map(|s| {
            Some(Subject {
                name: s.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                sha256: s.pointer("/digest/sha256")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_is_built_from_the_claims_as_github_builds_it() {
        let claims = json!({
            "repository": "acme/hello", "ref": "refs/tags/v1.2.3", "sha": "abc123",
            "workflow_ref": "acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3",
            "job_workflow_ref": "acme/shared/.github/workflows/build.yml@refs/heads/main",
            "event_name": "push", "repository_id": "1", "repository_owner_id": "2",
            "runner_environment": "github-hosted", "run_id": "77", "run_attempt": "2",
        });
        let p = predicate(&claims, "https://github.com/");
        assert_eq!(p["buildDefinition"]["externalParameters"]["workflow"]["path"], ".github/workflows/release.yml");
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["uri"],
            "git+https://github.com/acme/hello@refs/tags/v1.2.3"
        );
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://github.com/acme/shared/.github/workflows/build.yml@refs/heads/main"
        );
        assert_eq!(
            p["runDetails"]["metadata"]["invocationId"],
            "https://github.com/acme/hello/actions/runs/77/attempts/2"
        );
        let s = statement(&[Subject { name: "app".into(), sha256: "00".repeat(32) }], p);
        assert_eq!(subjects_of(&s).unwrap()[0].name, "app");
    }

    #[test]
    fn cosigns_signature_statement_names_the_manifest() {
        let s = cosign_sign_statement("ghcr.io/acme/charts/web", &"ab".repeat(32));
        let subjects = subjects_of(&s).unwrap();
        assert_eq!(subjects, vec![Subject { name: "ghcr.io/acme/charts/web".into(), sha256: "ab".repeat(32) }]);
        assert_eq!(predicate_type_of(&s).as_deref(), Some(COSIGN_SIGN_V1));
        let json: Value = serde_json::from_slice(&s).unwrap();
        assert_eq!(json["predicate"], json!({}));
    }
}
