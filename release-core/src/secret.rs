//! Secret values (tokens, passwords) and where they came from.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`; code that needs the value
//! calls [`Secret::expose`] at the one place it is sent. Reports and errors name a
//! credential by its [`Source`], never by value.
//!
//! Which variables hold secrets is said in one place: [`STANDARD_SECRET_VARIABLES`] plus the
//! variables a config names ([`crate::Config::secret_variables`]). A front end masks their
//! values with a [`Redactor`] in everything it prints or writes, as a net under the rule
//! that no code formats a secret in the first place: a build command may echo its
//! environment, a server may echo a header, a URL may carry `user:password@`.

use std::fmt;

use crate::env::Environment;

/// Variables that hold a secret whatever the config says: the GitHub tokens (`GH_TOKEN`,
/// `GITHUB_TOKEN`, and `GITHUB_PAT`, a common name for a personal access token), Helm's
/// registry password and API key, and the signing key's password.
pub const STANDARD_SECRET_VARIABLES: [&str; 6] =
    ["GH_TOKEN", "GITHUB_TOKEN", "GITHUB_PAT", "HELM_REGISTRY_PASSWORD", "HELM_API_KEY_SECRET", "COSIGN_PASSWORD"];

/// Values shorter than this are not masked: replacing every `a` or `42` in a log would make
/// it unreadable and hide nothing, since no real token or password is that short.
pub const MIN_MASKED_LEN: usize = 4;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

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

/// Replaces secret values, and the credentials of any `scheme://user:password@host` URL,
/// in text about to be shown or written.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a value containing another is masked whole.
    values: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} value(s))", self.values.len())
    }
}

impl Redactor {
    /// A redactor for the values of `variables` that are set in `env`.
    pub fn for_variables<'a>(env: &Environment, variables: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<String> = Vec::new();
        for name in variables {
            if let Some(value) = env.get(name) {
                // Multi-line values (a PEM key, a password with a newline) are also masked
                // line by line: a log may show one line of them.
                for candidate in std::iter::once(value).chain(value.lines()) {
                    let candidate = candidate.trim();
                    if candidate.chars().count() >= MIN_MASKED_LEN && !values.iter().any(|v| v == candidate) {
                        values.push(candidate.to_owned());
                    }
                }
            }
        }
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Redactor { values }
    }

    /// The values this masks, for a front end that must register them elsewhere (GitHub
    /// Actions' `::add-mask::`).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }

    /// `text` with every secret value replaced by [`MASK`] and URL credentials removed.
    pub fn redact(&self, text: &str) -> String {
        let mut out = scrub_url_credentials(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    /// Redacts JSON text: values are also looked for in their JSON-escaped form (a password
    /// with a `"` or `\` in it is written escaped), and the field order is kept.
    pub fn redact_json_text(&self, json: &str) -> String {
        let mut out = json.to_owned();
        for value in &self.values {
            let quoted = serde_json::to_string(value).expect("a string serialises");
            let escaped = &quoted[1..quoted.len() - 1];
            if escaped != value && out.contains(escaped) {
                out = out.replace(escaped, MASK);
            }
        }
        self.redact(&out)
    }
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

    #[test]
    fn redactor_masks_values_lines_and_url_credentials() {
        let env = Environment::empty()
            .with("GH_TOKEN", "ghs_SECRETVALUE")
            .with("COSIGN_PASSWORD", "line one\nline two")
            .with("SHORT", "ab")
            .with("OTHER", "not a secret");
        let redactor = Redactor::for_variables(&env, STANDARD_SECRET_VARIABLES.into_iter().chain(["SHORT", "UNSET"]));
        assert_eq!(redactor.redact("token ghs_SECRETVALUE!"), "token ***!");
        assert_eq!(redactor.redact("pw: line two"), "pw: ***");
        assert_eq!(redactor.redact("ab stays, not a secret stays"), "ab stays, not a secret stays");
        assert_eq!(
            redactor.redact("error for url (https://bob:hunter22@registry.example/v2/?x=1) and http://plain/"),
            "error for url (https://***@registry.example/v2/?x=1) and http://plain/"
        );
        let json = serde_json::json!({"z": ["ghs_SECRETVALUE"], "a": "line one\nline two"}).to_string();
        assert_eq!(redactor.redact_json_text(&json), r#"{"a":"***","z":["***"]}"#);
        assert!(!format!("{redactor:?}").contains("SECRET"));
    }

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
