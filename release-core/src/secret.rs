//! Secret values (tokens, passwords) and where they came from.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`; code that needs the value
//! calls [`Secret::expose`] at the one place it is sent. Reports and errors name a
//! credential by its [`Source`], never by value.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("ghp_supersecretvalue");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "ghp_supersecretvalue");
    }
}
