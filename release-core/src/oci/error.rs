//! What a registry's refusal or failure tells the user.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use camino::Utf8PathBuf;

use crate::error::Diagnose;
use crate::net;
use crate::net::Retryable;
use crate::net::Verdict;
use crate::oci::reference::ReferenceError;
use crate::signing::SigningError;

/// Where the registry failures and their fixes are told, for help lines.
pub(crate) const TROUBLESHOOTING: &str = "docs/troubleshooting.md#oci-registries-and-helm-charts";

/// An oci-client failure as the network policy judges it.
#[derive(Debug)]
pub(crate) struct OciAttempt(pub(crate) OciDistributionError);

impl Retryable for OciAttempt {
    fn verdict(&self) -> Verdict {
        let retry = Verdict::Retry { after: None };
        match &self.0 {
            OciDistributionError::RequestError(err)
                if net::is_transient(err) || err.status().is_some_and(|s| s.is_server_error() || s.as_u16() == 429) =>
            {
                retry
            }
            OciDistributionError::ServerError { code, .. } if *code >= 500 || *code == 429 => retry,
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| e.code == OciErrorCode::Toomanyrequests) =>
            {
                retry
            }
            _ => Verdict::Final,
        }
    }

    fn reason(&self) -> String {
        match &self.0 {
            OciDistributionError::ServerError { code, message, .. } => {
                // The registry's own words: the first entry of an OCI error envelope, else the
                // start of the body.
                let envelope: Option<serde_json::Value> = serde_json::from_str(message).ok();
                let first = envelope.as_ref().and_then(|e| e.get("errors")?.get(0));
                let words = match first {
                    Some(error) => format!(
                        "{} {}",
                        error.get("code").and_then(|c| c.as_str()).unwrap_or_default(),
                        error.get("message").and_then(|m| m.as_str()).unwrap_or_default()
                    ),
                    None => message.trim().chars().take(100).collect(),
                };
                format!("{code} {}", words.trim())
            }
            OciDistributionError::RequestError(err) => match err.status() {
                Some(status) => status.to_string(),
                None => net::root_cause(err),
            },
            other => other.to_string(),
        }
    }
}

impl OciAttempt {
    /// The URL of a request the registry answered with a rate limit (429, `TOOMANYREQUESTS`).
    pub(crate) fn rate_limited_url(&self) -> Option<&str> {
        match &self.0 {
            OciDistributionError::RequestError(err) if err.status().is_some_and(|s| s.as_u16() == 429) => {
                err.url().map(reqwest::Url::as_str)
            }
            OciDistributionError::ServerError { code: 429, url, .. } => Some(url),
            OciDistributionError::RegistryError { envelope, url }
                if envelope.errors.iter().any(|e| e.code == OciErrorCode::Toomanyrequests) =>
            {
                Some(url)
            }
            _ => None,
        }
    }
}

/// Everything that can stop a chart on its way to a registry. Each message names the chart
/// (`what`) and the reference, host or field; each help says what to do. Refusals carry the
/// diagnosis of [`explain`](super::diagnose::explain) (the server's words, who was refused, the fix).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OciError {
    /// The registry refused the login or the push: diagnosed by [`explain`](super::diagnose::explain).
    #[error("{message}")]
    Denied { message: String, help: String },
    #[error("{what}: {registry} kept failing: {reason} (gave up after {attempts} attempts)")]
    GaveUp { what: String, registry: String, reason: String, attempts: u32 },
    #[error("{what}: {url}: {words}")]
    Refused { what: String, url: String, words: String },
    #[error("{what}: cannot reach {host}: {error}")]
    Unreachable { what: String, host: String, error: String },
    #[error("{what}: {host}: {error}")]
    Failed { what: String, host: String, error: String },
    #[error("`{field}`: {source}")]
    Target { field: String, source: ReferenceError },
    #[error("chart[{index}] ({dir}): {why}")]
    ChartYaml { index: usize, dir: Utf8PathBuf, why: String },
    #[error("chart[{index}] ({dir}): Chart.yaml has no `version`")]
    NoVersion { index: usize, dir: Utf8PathBuf },
    #[error("chart[{index}] ({dir}): {source}")]
    Reference { index: usize, dir: Utf8PathBuf, source: ReferenceError },
    /// Several push targets failed their checks (`preflight:oci-check`), one after another.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Checks { problems: Vec<OciError> },
    #[error(
        "{what}: {reference} already exists with different content (manifest {existing}; this chart would be {digest})"
    )]
    Exists { what: String, reference: String, existing: String, digest: String, index: usize },
    /// After a push, the tag or digest names another manifest: a concurrent writer.
    #[error("{what}: after the push {target} resolves to {stored}, not to the {pushed} manifest {digest}")]
    Raced { what: String, target: String, stored: String, pushed: &'static str, digest: String, signer: bool },
    #[error(
        "{what}: {reference} now resolves to {current}, which it did not when this run checked it; {at_digest} is not tagged"
    )]
    TagMoved { what: String, reference: String, current: String, at_digest: String },
    #[error("{what}: {error}")]
    Sign { what: String, error: SigningError },
    #[error("{what}: the new signature does not verify against {fingerprint}")]
    SignatureMismatch { what: String, fingerprint: String },
}

impl Diagnose for OciError {
    fn help(&self) -> Option<String> {
        Some(match self {
            OciError::Denied { help, .. } => help.clone(),
            OciError::GaveUp { .. } => "the registry failed, not the configuration; nothing else was published (a GitHub release stays a draft): \
                 run the release again, blobs the registry already has are not sent again"
                .into(),
            OciError::Refused { .. } => format!("the registry refused the request; see {TROUBLESHOOTING}"),
            OciError::Unreachable { host, .. } => format!(
                "check the registry host in `push` and the network; a loopback or in-house registry without TLS \
                 needs `[registries.\"{host}\"] plain-http = true` in release.toml"
            ),
            OciError::Failed { .. } => format!("see {TROUBLESHOOTING}"),
            OciError::Target { source, .. } | OciError::Reference { source, .. } => source.help().unwrap_or_default(),
            OciError::ChartYaml { .. } => {
                "the chart's Chart.yaml must name the chart: its name is the last part of the OCI repository".into()
            }
            OciError::NoVersion { .. } => "set `version` in Chart.yaml, or `stamp-version = true` on the [[chart]]".into(),
            OciError::Checks { problems } => {
                let mut helps: Vec<String> = problems.iter().filter_map(Diagnose::help).filter(|h| !h.is_empty()).collect();
                helps.push(format!("see {TROUBLESHOOTING}"));
                helps.join("\n")
            }
            OciError::Exists { index, .. } => format!(
                "a published chart version should never change: bump `version` in Chart.yaml (or use \
                 `stamp-version`), or set `allow-overwrite = true` on chart[{index}] in release.toml to replace it"
            ),
            OciError::Raced { signer: true, .. } => format!(
                "another signer pushed to the same tag at the same time; run the release again (see {TROUBLESHOOTING})"
            ),
            OciError::Raced { .. } | OciError::TagMoved { .. } => {
                "another push to the same tag ran at the same time; run the release again".into()
            }
            OciError::Sign { error, .. } => error.help().unwrap_or_default(),
            OciError::SignatureMismatch { .. } => {
                "the signer and its public key disagree; nothing was pushed, run the release again".into()
            }
        })
    }
}

pub(crate) fn is_not_found(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StepError;

    #[test]
    fn every_failure_names_what_and_says_what_to_do() {
        let exists = OciError::Exists {
            what: "chart `hello`".into(),
            reference: "r.example/charts/hello:1.0.0".into(),
            existing: "sha256:aa".into(),
            digest: "sha256:bb".into(),
            index: 2,
        };
        assert_eq!(
            exists.to_string(),
            "chart `hello`: r.example/charts/hello:1.0.0 already exists with different content (manifest sha256:aa; \
             this chart would be sha256:bb)"
        );
        assert!(exists.help().unwrap().contains("`allow-overwrite = true` on chart[2]"));

        let checks = OciError::Checks {
            problems: vec![
                OciError::NoVersion { index: 0, dir: "charts/a".into() },
                OciError::ChartYaml {
                    index: 1,
                    dir: "charts/b".into(),
                    why: "charts/b/Chart.yaml has no `name`".into(),
                },
            ],
        };
        assert_eq!(
            checks.to_string(),
            "chart[0] (charts/a): Chart.yaml has no `version`; chart[1] (charts/b): charts/b/Chart.yaml has no `name`"
        );
        let help = checks.help().unwrap();
        assert!(help.contains("stamp-version = true") && help.contains("must name the chart"), "{help}");
        assert!(help.ends_with(TROUBLESHOOTING), "{help}");

        let raced = OciError::Raced {
            what: "the signature of chart `hello`".into(),
            target: "r/x:sha256-aa.sig".into(),
            stored: "sha256:cc".into(),
            pushed: "pushed",
            digest: "sha256:dd".into(),
            signer: true,
        };
        assert!(raced.help().unwrap().starts_with("another signer pushed"));
        let error = StepError::from(raced);
        assert_eq!(
            error.message(),
            "the signature of chart `hello`: after the push r/x:sha256-aa.sig resolves to sha256:cc, not to the pushed manifest sha256:dd"
        );
    }
}
