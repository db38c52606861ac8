//! `finalize:github-release-attestation`: after an immutable release is published, read the
//! release attestation GitHub made of it and check that its subjects' digests are the ones of
//! the `SHA256SUMS` this run shipped, as `gh release verify` would show them.
//!
//! How GitHub attests (docs.github.com, "Immutable releases"; cli/cli
//! `pkg/cmd/release/verify`): publishing an immutable release makes a Sigstore bundle whose
//! in-toto statement has the predicate type `https://in-toto.io/attestation/release/v0.1`, a
//! predicate naming the repository and the `tag`, and as subjects the tag's commit
//! (`{"uri": "pkg:github/OWNER/REPO@TAG", "digest": {"sha1": …}}`) and one
//! `{"name": ASSET, "digest": {"sha256": …}}` per asset. `gh release verify TAG` resolves the
//! tag (`GET /repos/{o}/{r}/git/ref/tags/{tag}` → `object.sha`), lists
//! `GET /repos/{o}/{r}/attestations/sha1:{sha}?predicate_type=release`, keeps the one whose
//! predicate's `tag` is TAG, verifies its signature against GitHub's trust root and prints the
//! subjects. Since 2026-07-16 the listing holds `"bundle": null` and a `bundle_url`, a
//! pre-signed storage URL serving the bundle snappy compressed: the client downloads it
//! without the token (`GithubClient::list_attestations`). This step does the same reading and compares the subjects with `SHA256SUMS`; it
//! does **not** verify the bundle's signature (that needs GitHub's Sigstore trust root, which
//! `gh release verify` fetches): it answers "did GitHub lock exactly what this run shipped",
//! not "is this attestation genuine".
//!
//! Outcomes: a mismatch (a file of `SHA256SUMS` missing from the attestation or attested with
//! another sha256) or two attestations for the tag fail the step; no attestation yet (GitHub
//! makes it asynchronously; GitHub Enterprise Server may make none) is a warning; a release
//! that is not immutable has no attestation to read.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;

use crate::checksum::CHECKSUMS_FILE;
use crate::config::{GithubConfig, NetworkConfig};
use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::published_release;

/// The predicate type of GitHub's release attestations (`v0.1`; later versions accepted).
pub(crate) const RELEASE_PREDICATE: &str = "https://in-toto.io/attestation/release/";

/// Reads GitHub's release attestation of the published release and compares it with
/// `SHA256SUMS`.
#[derive(Debug)]
pub(crate) struct FinalizeGithubReleaseAttestation {
    pub config: GithubConfig,
    pub network: NetworkConfig,
}

impl FinalizeGithubReleaseAttestation {
    pub(crate) fn new(config: &GithubConfig, network: &NetworkConfig) -> Self {
        FinalizeGithubReleaseAttestation { config: config.clone(), network: network.clone() }
    }
}

/// `SHA256SUMS` as name → sha256, plus the file itself.
pub(crate) fn expected_subjects(sums_text: &str, sums_sha256: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = sums_text
        .lines()
        .filter_map(|line| {
            let (hex, name) = line.split_once(' ')?;
            let name = name.trim_start_matches([' ', '*']);
            (!name.is_empty() && hex.len() == 64).then(|| (name.to_owned(), hex.to_ascii_lowercase()))
        })
        .collect();
    out.insert(CHECKSUMS_FILE.to_owned(), sums_sha256.to_ascii_lowercase());
    out
}

/// The statements of these bundles whose predicate is a release of `tag`.
pub(crate) fn release_statements(bundles: &[serde_json::Value], tag: &str) -> Vec<serde_json::Value> {
    let engine = base64::engine::general_purpose::STANDARD;
    bundles
        .iter()
        .filter_map(|bundle| {
            let payload = bundle.pointer("/dsseEnvelope/payload")?.as_str()?;
            let bytes = engine.decode(payload).ok()?;
            serde_json::from_slice::<serde_json::Value>(&bytes).ok()
        })
        .filter(|statement| {
            statement.get("predicateType").and_then(|p| p.as_str()).is_some_and(|p| p.starts_with(RELEASE_PREDICATE))
                && statement.pointer("/predicate/tag").and_then(|t| t.as_str()) == Some(tag)
        })
        .collect()
}

/// Every difference between the attested subjects and the expected ones.
pub(crate) fn differences(statement: &serde_json::Value, expected: &BTreeMap<String, String>) -> Vec<String> {
    let attested: BTreeMap<String, String> = statement
        .get("subject")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?;
            let sha = s.pointer("/digest/sha256")?.as_str()?;
            Some((name.to_owned(), sha.to_ascii_lowercase()))
        })
        .collect();
    expected
        .iter()
        .filter_map(|(name, sha)| match attested.get(name) {
            None => Some(format!("{name} is not in the attestation")),
            Some(other) if other != sha => Some(format!("{name} is attested with sha256 {other}, shipped with {sha}")),
            Some(_) => None,
        })
        .collect()
}

#[async_trait::async_trait]
impl Step for FinalizeGithubReleaseAttestation {
    fn meta(&self) -> StepMeta {
        // Reads only, but about what was published: it runs when publishing runs.
        StepMeta::new(
            StepId::new(Stage::Finalize, "github-release-attestation"),
            Effect::Publish,
            "read GitHub's attestation of an immutable release and compare its digests with SHA256SUMS",
        )
        .consumes(&published_release())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let published = cx.handed(&published_release())?;
        if !published.immutable {
            return Ok(Some(format!(
                "{} is not immutable: GitHub attests immutable releases only, nothing to check",
                published.url
            )));
        }
        let artifacts = cx.artifacts();
        let Some(sums) = artifacts.iter().find(|a| a.kind == ArtifactKind::Checksums) else {
            return Ok(Some("this release ships no SHA256SUMS: nothing to compare".into()));
        };
        let text = std::fs::read_to_string(&sums.path).map_err(|e| {
            StepError::new(format!("cannot read {} to compare it with the attestation: {e}", sums.path))
        })?;
        let expected = expected_subjects(&text, &sums.sha256);

        let api = cx.github(&self.config, &self.network)?;
        let client = &api.client;
        let tag = &published.tag;
        let fail = |e| StepError::from(api.classify(e));
        let reference = client
            .get_json("read the tag", &format!("{}/git/ref/tags/{tag}", client.repository_route()))
            .await
            .map_err(fail)?;
        let Some(sha) = reference.pointer("/object/sha").and_then(|s| s.as_str()).map(str::to_owned) else {
            return Err(StepError::new(format!("GitHub's answer for the tag {tag} names no object: {reference}")));
        };
        let algorithm = if sha.len() == 64 { "sha256" } else { "sha1" };
        let subject = format!("{algorithm}:{sha}");
        // GitHub attests after publishing: wait a little for it, as the network policy allows.
        let attempts = self.network.attempts.max(1);
        let mut statements = Vec::new();
        for attempt in 1..=attempts {
            let listed = client.list_attestations(&subject, Some("release")).await.map_err(fail)?;
            let bundles: Vec<serde_json::Value> = listed.into_iter().map(|a| a.bundle).collect();
            statements = release_statements(&bundles, tag);
            if !statements.is_empty() || attempt == attempts {
                break;
            }
            tokio::time::sleep(Duration::from_millis(self.network.backoff_ms.saturating_mul(u64::from(attempt)))).await;
        }
        match statements.len() {
            0 => {
                cx.warn(format!(
                    "GitHub has no release attestation for {tag} yet ({algorithm}:{sha}); check it later with `gh release verify {tag}`"
                ));
                Ok(Some(format!("no release attestation for {tag} yet: not checked")))
            }
            1 => {
                let problems = differences(&statements[0], &expected);
                if problems.is_empty() {
                    Ok(Some(format!(
                        "GitHub's release attestation of {tag} lists the {} file(s) of SHA256SUMS with the same sha256 (its signature is checked by `gh release verify {tag}`)",
                        expected.len()
                    )))
                } else {
                    Err(StepError::new(format!(
                        "GitHub's release attestation of {tag} does not match the SHA256SUMS this run shipped: {}",
                        problems.join("; ")
                    ))
                    .with_help(format!(
                        "the release {} is published and immutable: it cannot be changed; do not point users at it until this is understood: run `gh release verify {tag}` and `gh release verify-asset {tag} FILE` on the files of the dist directory, and release a new version",
                        published.url
                    )))
                }
            }
            n => Err(StepError::new(format!("GitHub holds {n} release attestations for {tag}; expected one"))
                .with_help(format!("run `gh release verify {tag}` to see them; GitHub makes one per release tag"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(tag: &str, subjects: serde_json::Value) -> serde_json::Value {
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": "https://in-toto.io/attestation/release/v0.1",
            "predicate": {"tag": tag, "purl": format!("pkg:github/acme/hello@{tag}")},
            "subject": subjects,
        })
    }

    #[test]
    fn sha256sums_lines_become_subjects() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let expected = expected_subjects(&format!("{a}  app\n{b} *data.bin\n\n"), &"c".repeat(64));
        assert_eq!(expected["app"], a);
        assert_eq!(expected["data.bin"], "b".repeat(64));
        assert_eq!(expected["SHA256SUMS"], "c".repeat(64));
        assert_eq!(expected.len(), 3);
    }

    #[test]
    fn statements_are_decoded_and_kept_by_tag_and_predicate() {
        let engine = base64::engine::general_purpose::STANDARD;
        let mine = statement("v1.2.3", json!([]));
        let other_tag = statement("v1.2.2", json!([]));
        let mut provenance = statement("v1.2.3", json!([]));
        provenance["predicateType"] = json!("https://slsa.dev/provenance/v1");
        let wrap = |s: &serde_json::Value| json!({"dsseEnvelope": {"payload": engine.encode(s.to_string())}});
        let bundles = [wrap(&mine), wrap(&other_tag), wrap(&provenance)];
        assert_eq!(release_statements(&bundles, "v1.2.3"), vec![mine]);
    }

    #[test]
    fn differences_name_the_file_and_both_digests() {
        let a = "a".repeat(64);
        let expected: BTreeMap<String, String> =
            [("app".to_owned(), a.clone()), ("SHA256SUMS".to_owned(), "c".repeat(64))].into();
        let good = statement(
            "v1",
            json!([
                {"uri": "pkg:github/acme/hello@v1", "digest": {"sha1": "f".repeat(40)}},
                {"name": "app", "digest": {"sha256": a}},
                {"name": "SHA256SUMS", "digest": {"sha256": "c".repeat(64)}},
                {"name": "app.sig", "digest": {"sha256": "d".repeat(64)}},
            ]),
        );
        assert!(differences(&good, &expected).is_empty());
        let bad = statement("v1", json!([{"name": "app", "digest": {"sha256": "0".repeat(64)}}]));
        assert_eq!(
            differences(&bad, &expected),
            vec![
                "SHA256SUMS is not in the attestation".to_owned(),
                format!("app is attested with sha256 {}, shipped with {a}", "0".repeat(64)),
            ]
        );
    }
}
