//! What a registry's refusal or failure tells the user.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use camino::Utf8PathBuf;

use crate::error::{Diagnose, StepError};
use crate::net::GaveUp;
use crate::net::Retryable;
use crate::oci::credentials::Resolution;
use crate::oci::diagnose::Answer;
use crate::oci::diagnose::Denial;
use crate::oci::diagnose::explain;
use crate::oci::diagnose::server_words;
use crate::oci::planned::TROUBLESHOOTING;
use crate::oci::reference::ChartReference;
use crate::oci::reference::ReferenceError;
use crate::oci::retry::OciAttempt;
use crate::signing::SigningError;

/// Everything that can stop a chart on its way to a registry. Each message names the chart
/// (`what`) and the reference, host or field; each help says what to do. Refusals carry the
/// diagnosis of [`explain`] (the server's words, who was refused, the fix).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OciError {
    /// The registry refused the login or the push: diagnosed by [`explain`].
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

/// What the push tells when the registry kept failing: the diagnosis, how many attempts were
/// made, and how to resume.
pub(crate) fn gave_up_failure(
    gave_up: GaveUp<OciAttempt>,
    what: &str,
    reference: &ChartReference,
    credentials: &Resolution,
) -> StepError {
    let attempts = gave_up.attempts;
    if attempts <= 1 {
        return oci_failure(gave_up.error.0, what, reference, credentials);
    }
    OciError::GaveUp {
        what: what.to_owned(),
        registry: reference.registry.clone(),
        reason: gave_up.error.reason(),
        attempts,
    }
    .into()
}

/// [`gave_up_failure`] for a step after the chart's push: when the registry kept failing
/// (retried, not refused), `resume` says where the release stands and how a re-run goes on.
pub(crate) fn gave_up_after_push(
    gave_up: GaveUp<OciAttempt>,
    what: &str,
    reference: &ChartReference,
    credentials: &Resolution,
    resume: impl FnOnce() -> String,
) -> StepError {
    let retried = gave_up.attempts > 1;
    let error = gave_up_failure(gave_up, what, reference, credentials);
    if retried {
        error.with_help(format!(
            "the registry failed, not the configuration: {} (see {})",
            resume(),
            crate::oci::planned::TROUBLESHOOTING
        ))
    } else {
        error
    }
}

/// An oci-client error as a user reads it; refusals go through [`explain`].
pub(crate) fn oci_failure(
    err: OciDistributionError,
    what: &str,
    reference: &ChartReference,
    credentials: &Resolution,
) -> StepError {
    let host = &reference.registry;
    let refused = |answer: Answer| {
        let denial = Denial::classify(&answer);
        explain(&denial, what, &reference.repository, &server_words(&answer), credentials)
    };
    match err {
        OciDistributionError::AuthenticationFailure(reason) => {
            let words = server_words(&Answer { status: 401, www_authenticate: None, body: reason });
            explain(&Denial::TokenRefused, what, &reference.repository, &format!("token service: {words}"), credentials)
        }
        OciDistributionError::UnauthorizedError { .. } => {
            refused(Answer { status: 401, www_authenticate: None, body: String::new() })
        }
        OciDistributionError::ServerError { code, message, .. } if matches!(code, 401 | 403 | 405) => {
            refused(Answer { status: code, www_authenticate: None, body: message })
        }
        OciDistributionError::RegistryError { envelope, url } => {
            let status = match envelope.errors.first().map(|e| &e.code) {
                Some(OciErrorCode::Denied) => 403,
                Some(OciErrorCode::Unauthorized) => 401,
                Some(OciErrorCode::Unsupported) => 405,
                _ => 0,
            };
            let body = serde_json::to_string(&envelope).unwrap_or_default();
            if status != 0 {
                refused(Answer { status, www_authenticate: None, body })
            } else {
                let words = server_words(&Answer { status: 400, www_authenticate: None, body });
                OciError::Refused { what: what.to_owned(), url, words }.into()
            }
        }
        OciDistributionError::RequestError(err) => {
            OciError::Unreachable { what: what.to_owned(), host: host.clone(), error: err.to_string() }.into()
        }
        other => OciError::Failed { what: what.to_owned(), host: host.clone(), error: other.to_string() }.into(),
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
