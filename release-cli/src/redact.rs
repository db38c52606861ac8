//! Secrets never leave the process through this binary.
//!
//! At start-up the values of every secret variable ([`Config::secret_variables`]: the
//! standard ones and those the config names) are collected into one [`Redactor`]. Every line
//! the binary prints or writes (progress, errors, `--json`, the job summary and outputs,
//! panic messages) passes through it. Inside GitHub Actions each value is first registered
//! with `::add-mask::`, before anything else is printed, so that the runner hides it too,
//! even in the output of other steps: those lines are the one place a value is printed, as
//! the workflow command requires.

use std::io::Write;
use std::sync::OnceLock;

use camino::Utf8Path;
use release_core::Environment;
use release_core::config::secret_variables_of_text;
use release_core::secret::{Redactor, scrub_url_credentials};

use crate::actions::escape_data;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Collects the secret values (the standard variables, and those the config at
/// `config_path` names, if it can be read) and, in GitHub Actions, registers each with `::add-mask::`. Call
/// once, before anything is printed.
pub fn install(env: &Environment, config_path: &Utf8Path) -> &'static Redactor {
    // The raw TOML, not a validated config: a config with an error still has its secrets
    // masked in the error output.
    let names = secret_variables_of_text(&std::fs::read_to_string(config_path).unwrap_or_default());
    let redactor = REDACTOR.get_or_init(|| Redactor::for_variables(env, names.iter().map(String::as_str)));
    if env.in_github_actions() {
        let mut out = std::io::stdout().lock();
        for value in redactor.values() {
            // The one sanctioned print of a value: the runner reads it and hides it from
            // every log line after this one.
            let _ = writeln!(out, "::add-mask::{}", escape_data(value));
        }
        let _ = out.flush();
    }
    redactor
}

/// `text` with every secret value masked and URL credentials removed.
pub fn redact(text: &str) -> String {
    match REDACTOR.get() {
        Some(redactor) => redactor.redact(text),
        None => scrub_url_credentials(text),
    }
}

/// The redactor, for wrapping a reporter.
pub fn redactor() -> Redactor {
    REDACTOR.get().cloned().unwrap_or_default()
}

/// A panic prints where it happened and its message, redacted, and asks for a report. It
/// never prints the environment, and a message that quotes a secret by mistake is masked.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let _ = writeln!(std::io::stderr().lock(), "{}", crash_message(&message, &location));
    }));
}

fn crash_message(message: &str, location: &str) -> String {
    format!(
        "error: release crashed{location}: {}\n  help: this is a bug in release; please report it with the command you ran (secret values are masked in this message)",
        redact(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_message_masks_secrets_and_url_credentials() {
        let env = Environment::empty().with("GH_TOKEN", "ghs_CRASHSECRET");
        install(&env, Utf8Path::new("/nonexistent/release.toml"));
        let text = crash_message("called unwrap on ghs_CRASHSECRET for https://u:pw@host/x", " at a.rs:1");
        assert!(!text.contains("CRASHSECRET") && !text.contains("u:pw"), "{text}");
        assert!(text.starts_with("error: release crashed at a.rs:1: called unwrap on *** for https://***@host/x"));
    }
}
