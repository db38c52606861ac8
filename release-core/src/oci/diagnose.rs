//! Registry answers that mean "you may not push here", recognised and explained.
//!
//! Owns the catalogue of refusals seen from real registries (protocols.md): GHCR's 403
//! `DENIED permission_denied: write_package` and its variants, distribution's 401 with
//! `error="insufficient_scope"` or `error="invalid_token"`, htpasswd's Basic 401, a
//! read-only registry's 405, a token service refusing the login. Each becomes a
//! [`StepError`] that names the registry, the server's own words, the credential source that
//! was used, the fix, and every source of the chain. Pure: no I/O.

use crate::error::StepError;
use crate::oci::credentials::{Resolution, is_ghcr};
use oci_client::errors::{OciDistributionError, OciErrorCode};

use crate::net::GaveUp;
use crate::net::Retryable;
use crate::oci::error::{OciAttempt, OciError, TROUBLESHOOTING};
use crate::oci::reference::ChartReference;

/// A registry's answer to a write, as far as a diagnosis needs it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Answer {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: String,
}

/// Why a push is not allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    /// GHCR: 403 `DENIED permission_denied: write_package`, or "installation not allowed to
    /// Write organization package".
    GhcrWritePackage,
    /// GHCR: 403 `permission_denied: read_package`: the credentials cannot even read it.
    GhcrReadPackage,
    /// distribution: 401 `error="insufficient_scope"`: the token service granted less than push.
    InsufficientScope,
    /// 401 `error="invalid_token"`: the token was refused (expired, wrong issuer).
    InvalidToken,
    /// 401 with a Basic challenge: the registry wants (other) username and password.
    BasicRejected,
    /// Any other 401.
    Unauthorized,
    /// Any other 403.
    Forbidden,
    /// 405: the registry is read-only (maintenance mode) or does not take pushes.
    ReadOnly,
    /// 404: the registry does not know the repository and will not create it.
    NotFound,
    /// The token service refused the credentials.
    TokenRefused,
    /// Something else that is not a success.
    Other,
}

impl Denial {
    pub(crate) fn classify(answer: &Answer) -> Denial {
        let body = answer.body.to_ascii_lowercase();
        let challenge = answer.www_authenticate.as_deref().unwrap_or("").to_ascii_lowercase();
        match answer.status {
            403 if body.contains("write_package") || body.contains("not allowed to write") => Denial::GhcrWritePackage,
            403 if body.contains("read_package") => Denial::GhcrReadPackage,
            403 => Denial::Forbidden,
            401 if challenge.contains("insufficient_scope") => Denial::InsufficientScope,
            401 if challenge.contains("invalid_token") => Denial::InvalidToken,
            401 if challenge.starts_with("basic") => Denial::BasicRejected,
            401 => Denial::Unauthorized,
            405 => Denial::ReadOnly,
            404 => Denial::NotFound,
            _ => Denial::Other,
        }
    }
}

/// The server's own words: the `errors` of an OCI error body, else the body itself, short.
pub(crate) fn server_words(answer: &Answer) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let mut words = match serde_json::from_str::<Envelope>(&answer.body) {
        Ok(envelope) if !envelope.errors.is_empty() => envelope
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.message).trim().to_owned())
            .collect::<Vec<_>>()
            .join("; "),
        _ => {
            let text: String = answer.body.trim().chars().take(200).collect();
            text.replace('\n', " ")
        }
    };
    if let Some(challenge) = &answer.www_authenticate
        && let Some(error) = challenge_error(challenge)
    {
        words = if words.is_empty() { format!("error={error}") } else { format!("{words} (error={error})") };
    }
    if words.is_empty() { format!("HTTP {}", answer.status) } else { format!("{} {words}", answer.status) }
}

/// The `error="…"` parameter of a `WWW-Authenticate` challenge.
fn challenge_error(challenge: &str) -> Option<&str> {
    let at = challenge.find("error=\"")? + "error=\"".len();
    let rest = &challenge[at..];
    Some(&rest[..rest.find('"')?])
}

/// The error for a refused push: what, why (the server's words), what to do, and the
/// credential chain.
pub(crate) fn explain(
    denial: &Denial,
    what: &str,
    repository: &str,
    server_said: &str,
    credentials: &Resolution,
) -> StepError {
    let host = &credentials.host;
    let source = &credentials.source;
    let message = format!("{what}: {host} refused to let {source} push {repository}: {server_said}");
    let mut help: Vec<String> = Vec::new();
    let ghcr_fixes = |help: &mut Vec<String>| {
        if credentials.is_github_token() || credentials.is_anonymous() || !credentials.is_github_pat() {
            help.push(
                "with GITHUB_TOKEN: give the workflow job `permissions: packages: write` (an org or repo set to \
                 read-only workflow permissions clamps it)"
                    .into(),
            );
        }
        if credentials.is_github_pat() || !credentials.is_github_token() {
            help.push("with a personal access token (GITHUB_PAT): it needs the `write:packages` scope".into());
        }
        help.push(format!(
            "if the package {repository} already exists: in its settings, \"Manage Actions access\" must list this \
             repository with the Write role"
        ));
        help.push(
            "repository names must be lowercase (`github.repository_owner` keeps the owner's case: lowercase it)"
                .into(),
        );
    };
    match denial {
        Denial::GhcrWritePackage => {
            help.push(format!(
                "this is GHCR's write_package denial: {source} may log in but may not write this package"
            ));
            ghcr_fixes(&mut help);
        }
        Denial::GhcrReadPackage => {
            help.push(format!(
                "this is GHCR's read_package denial: {source} may not even read this package (it belongs to \
                 another owner or repository)"
            ));
            ghcr_fixes(&mut help);
        }
        Denial::InsufficientScope => {
            help.push(format!(
                "the token service granted {source} pull but not push on {repository} (error=\"insufficient_scope\"): \
                 give that user push rights on the repository, or set credentials that have them"
            ));
            if is_ghcr(host) {
                ghcr_fixes(&mut help);
            }
        }
        Denial::InvalidToken => help.push(format!(
            "the registry refused the token it was given for {source} (error=\"invalid_token\": expired, or issued \
             by a token service it does not trust): check the registry's token configuration and the credentials"
        )),
        Denial::BasicRejected | Denial::Unauthorized | Denial::TokenRefused if credentials.is_anonymous() => {
            help.push(format!("{host} needs credentials and none were found: set one of the sources below"));
            if is_ghcr(host) {
                help.push("in GitHub Actions: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` and `permissions: packages: write`".into());
            }
        }
        Denial::BasicRejected | Denial::Unauthorized => help.push(format!(
            "{host} did not accept the username and password from {source}: check them, or set the right ones in an \
             earlier source"
        )),
        Denial::TokenRefused => {
            help.push(format!("the registry's token service did not accept the username and password from {source}"));
            if is_ghcr(host) {
                ghcr_fixes(&mut help);
            }
        }
        Denial::Forbidden => {
            help.push(format!("{source} may not push to {repository}: grant it write access on the registry"));
            if is_ghcr(host) {
                ghcr_fixes(&mut help);
            }
        }
        Denial::ReadOnly => help.push(format!(
            "{host} does not accept pushes (405: read-only or maintenance mode): push to a writable registry or \
             wait until it is writable again"
        )),
        Denial::NotFound => help.push(format!(
            "{host} does not know the repository {repository} and will not create it on push: create it (or its \
             project) first, or fix `push`"
        )),
        Denial::Other => help.push(format!("{host} answered an upload request with an error; see its words above")),
    }
    help.push(credentials.chain_text());
    help.push("see docs/troubleshooting.md#oci-registries-and-helm-charts".into());
    OciError::Denied { message, help: help.join("\n") }.into()
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
        error.with_help(format!("the registry failed, not the configuration: {} (see {})", resume(), TROUBLESHOOTING))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::credentials::{Considered, Login, Origin, Outcome};
    use crate::secret::{Secret, Source};

    fn answer(status: u16, www: Option<&str>, body: &str) -> Answer {
        Answer { status, www_authenticate: www.map(str::to_owned), body: body.to_owned() }
    }

    fn resolution(host: &str, origin: Origin, source: &str) -> Resolution {
        Resolution {
            host: host.into(),
            login: Login::Basic { username: "octocat".into(), password: Secret::new("x") },
            source: Source(source.into()),
            origin,
            considered: vec![Considered { name: source.into(), outcome: Outcome::Used }],
        }
    }

    #[test]
    fn classifies_every_known_refusal() {
        let ghcr = r#"{"errors":[{"code":"DENIED","message":"permission_denied: write_package"}]}"#;
        assert_eq!(Denial::classify(&answer(403, None, ghcr)), Denial::GhcrWritePackage);
        let org =
            r#"{"errors":[{"code":"DENIED","message":"installation not allowed to Write organization package"}]}"#;
        assert_eq!(Denial::classify(&answer(403, None, org)), Denial::GhcrWritePackage);
        let read = r#"{"errors":[{"code":"DENIED","message":"permission_denied: read_package"}]}"#;
        assert_eq!(Denial::classify(&answer(403, None, read)), Denial::GhcrReadPackage);
        let scope =
            r#"Bearer realm="http://t/token",service="s",scope="repository:a:pull,push",error="insufficient_scope""#;
        assert_eq!(Denial::classify(&answer(401, Some(scope), "")), Denial::InsufficientScope);
        let invalid = r#"Bearer realm="http://t/token",service="s",error="invalid_token""#;
        assert_eq!(Denial::classify(&answer(401, Some(invalid), "")), Denial::InvalidToken);
        assert_eq!(Denial::classify(&answer(401, Some("Basic realm=\"r\""), "")), Denial::BasicRejected);
        assert_eq!(Denial::classify(&answer(401, None, "")), Denial::Unauthorized);
        assert_eq!(Denial::classify(&answer(405, None, "")), Denial::ReadOnly);
        assert_eq!(Denial::classify(&answer(403, None, "nope")), Denial::Forbidden);
        assert_eq!(Denial::classify(&answer(500, None, "")), Denial::Other);
    }

    #[test]
    fn server_words_come_from_the_error_envelope_and_challenge() {
        let a = answer(
            401,
            Some(r#"Bearer realm="x",error="insufficient_scope""#),
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[]}]}"#,
        );
        assert_eq!(server_words(&a), "401 UNAUTHORIZED authentication required (error=insufficient_scope)");
        assert_eq!(server_words(&answer(405, None, "")), "HTTP 405");
    }

    #[test]
    fn ghcr_denial_with_github_token_names_packages_write_and_actions_access() {
        let r = resolution("ghcr.io", Origin::GithubToken, "environment variable GITHUB_TOKEN (username GITHUB_ACTOR)");
        let err = explain(&Denial::GhcrWritePackage, "push probe", "acme/charts/hello", "403 DENIED x", &r);
        let text = err.to_string();
        assert!(text.starts_with("push probe: ghcr.io refused to let environment variable GITHUB_TOKEN"), "{text}");
        for needle in ["write_package denial", "packages: write", "Manage Actions access", "lowercase", "in order:"] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(!text.contains("write:packages"), "a GITHUB_TOKEN user is not told about PAT scopes: {text}");

        let pat = resolution("ghcr.io", Origin::GithubPat, "environment variable GITHUB_PAT (username GITHUB_ACTOR)");
        let text = explain(&Denial::GhcrWritePackage, "p", "a/b", "403", &pat).to_string();
        assert!(text.contains("`write:packages`") && !text.contains("packages: write"), "{text}");
    }

    /// A release.toml pair whose variable is named like a GitHub token is not taken for the
    /// workflow's `GITHUB_TOKEN`: the advice covers both kinds of token it may hold.
    #[test]
    fn a_configured_my_github_token_gets_both_token_advices() {
        let source = "release.toml [registries.\"ghcr.io\"] username-env=MY_USER password-env=MY_GITHUB_TOKEN";
        let r = resolution("ghcr.io", Origin::Config, source);
        let text = explain(&Denial::GhcrWritePackage, "p", "a/b", "403", &r).to_string();
        assert!(text.contains("`write:packages`"), "a PAT it may be: {text}");
        assert!(text.contains("packages: write"), "{text}");
    }

    #[test]
    fn insufficient_scope_says_pull_but_not_push() {
        let r = resolution(
            "127.0.0.1:5000",
            Origin::HelmRegistry,
            "environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD",
        );
        let text = explain(&Denial::InsufficientScope, "p", "charts/hello", "401", &r).to_string();
        assert!(
            text.contains(
                "granted environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD pull but not push"
            ),
            "{text}"
        );
    }
}
