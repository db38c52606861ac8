//! Secret values (tokens, passwords) and where they came from.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`; code that needs the value
//! calls [`Secret::expose`] at the one place it is sent. Reports and errors name a
//! credential by its [`Source`], never by value.
//!
//! Which variables hold secrets is said in one place: [`STANDARD_SECRET_VARIABLES`] plus the
//! variables a config names ([`crate::Config::secret_variables`]). A secret found while a run
//! goes on outside the environment (a docker `config.json`, a credential helper's answer) is
//! handed to a [`SecretSink`] before it is used: a step's sink reports
//! [`crate::Event::SecretFound`]. A front end masks all of these values with one
//! [`crate::redact::Redactor`] ([`crate::redact::Redactor::for_run`]) in everything it prints or writes, as a net under
//! the rule that no code formats a secret in the first place: a build command may echo its
//! environment or a credentials file, a server may echo a header, a URL may carry
//! `user:password@`.

use std::fmt;

/// Variables that hold a secret whatever the config says: the GitHub tokens (`GH_TOKEN`,
/// `GITHUB_TOKEN`, and `GITHUB_PAT`, a common name for a personal access token), Helm's
/// registry password and API key, and the signing key's password.
pub(crate) const STANDARD_SECRET_VARIABLES: [&str; 7] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_PAT",
    "HELM_REGISTRY_PASSWORD",
    "HELM_API_KEY_SECRET",
    "COSIGN_PASSWORD",
    // The bearer that fetches GitHub Actions OIDC tokens (keyless signing).
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
];

/// Values shorter than this are not masked: replacing every `a` or `42` in a log would make
/// it unreadable and hide nothing, since no real token or password is that short.
pub(crate) const MIN_MASKED_LEN: usize = 4;

/// What a masked value is replaced with.
pub(crate) const MASK: &str = "***";

/// A token or password. `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a credential was found: an environment variable, a config field, a file.
/// This is what reports and error messages show.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source(pub String);

impl Source {
    pub fn env(name: &str) -> Self {
        Source(format!("environment variable {name}"))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Told of every secret value found while a run goes on outside the environment (a docker
/// config file, a credential helper's answer), before the value is used, so that it can be
/// masked before anything could show it. A step passes its [`crate::StepContext`], which
/// reports [`crate::Event::SecretFound`]; a [`crate::redact::Redactor`] adds the value directly.
pub trait SecretSink: Sync {
    fn secret_found(&self, source: &Source, secret: &Secret);
}

/// Removes the user information of every `scheme://user:password@host` in `text`
/// (error messages of HTTP clients quote the URL they failed on, credentials and all).
pub fn scrub_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#` or whitespace; user information is
        // everything in it before the last `@`.
        let end = tail.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace()).unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(MASK);
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;

    #[test]
    fn environment_debug_shows_names_only() {
        let env = Environment::empty().with("GH_TOKEN", "ghs_SECRETVALUE");
        assert_eq!(format!("{env:?}"), "{\"GH_TOKEN\"}");
    }

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("ghp_supersecretvalue");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "ghp_supersecretvalue");
    }
}
