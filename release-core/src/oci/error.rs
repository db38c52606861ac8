//! What a registry's refusal or failure tells the user.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use crate::error::StepError;
use crate::net::GaveUp;
use crate::net::Retryable;
use crate::oci::credentials::Resolution;
use crate::oci::diagnose::Answer;
use crate::oci::diagnose::Denial;
use crate::oci::diagnose::explain;
use crate::oci::diagnose::server_words;
use crate::oci::planned::TROUBLESHOOTING;
use crate::oci::reference::ChartReference;
use crate::oci::retry::OciAttempt;

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
    StepError::new(format!(
        "{what}: {} kept failing: {} (gave up after {attempts} attempts)",
        reference.registry,
        gave_up.error.reason()
    ))
    .with_help(
        "the registry failed, not the configuration; nothing else was published (a GitHub release stays a draft): \
         run the release again, blobs the registry already has are not sent again",
    )
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
                StepError::new(format!("{what}: {url}: {words}"))
                    .with_help(format!("the registry refused the request; see {TROUBLESHOOTING}"))
            }
        }
        OciDistributionError::RequestError(err) => StepError::new(format!("{what}: cannot reach {host}: {err}"))
            .with_help(format!(
                "check the registry host in `push` and the network; a loopback or in-house registry without TLS \
                 needs `[registries.\"{host}\"] plain-http = true` in release.toml"
            )),
        other => StepError::new(format!("{what}: {host}: {other}")).with_help(format!("see {TROUBLESHOOTING}")),
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
