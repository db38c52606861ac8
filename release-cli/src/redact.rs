//! Secrets never leave the process through this binary.
//!
//! At start-up one [`Redactor`] is made for the run ([`Redactor::for_run`]): the values of
//! every secret variable (the standard ones and those the config names), and later every
//! value a step finds outside the environment (a docker `config.json`, a credential helper),
//! which the [`release_core::Redacting`] reporter adds as the step reports it. Every
//! line the binary prints or writes (progress, errors, `--json`, the job summary and outputs,
//! panic messages) passes through it. Inside GitHub Actions each value is registered with
//! `::add-mask::` as it is added — the variables' values before anything else is printed, a
//! value found later before anything could show it — so that the runner hides it too, even
//! in the output of other steps: those lines are the one place a value is printed, as the
//! workflow command requires.

use std::io::Write;
use std::sync::OnceLock;

use camino::Utf8Path;
use release_core::Environment;
use release_core::{Redactor, scrub_url_credentials};

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Makes the run's redactor (the standard variables, and those the config at `config_path`
/// names, if it can be read) and, in GitHub Actions, registers each value with
/// `::add-mask::`. Call once, before anything is printed.
pub(crate) fn install(env: &Environment, config_path: &Utf8Path) -> &'static Redactor {
    REDACTOR.get_or_init(|| {
        // The raw TOML, not a validated config: a config with an error still has its secrets
        // masked in the error output.
        let config_text = std::fs::read_to_string(config_path).unwrap_or_default();
        Redactor::for_run(env, &config_text, print_workflow_command)
    })
}

/// One workflow command, where the runner reads them (see `actions::workflow_line`).
pub(crate) fn print_workflow_command(line: &str) {
    crate::actions::workflow_line(line);
}

/// `text` with every secret value masked and URL credentials removed.
pub(crate) fn redact(text: &str) -> String {
    match REDACTOR.get() {
        Some(redactor) => redactor.redact(text),
        None => scrub_url_credentials(text),
    }
}

/// The run's redactor (a handle: values found later are masked by every clone), for
/// wrapping a reporter.
pub(crate) fn redactor() -> Redactor {
    REDACTOR.get().cloned().unwrap_or_default()
}

/// A panic prints where it happened and its message, redacted, and asks for a report. It
/// never prints the environment, and a message that quotes a secret by mistake is masked.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr().lock(), "{}", redactor().crash_message("release", info));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_redactor_masks_variables_and_values_found_later() {
        let env = Environment::empty().with("GH_TOKEN", "ghs_CLISECRET");
        install(&env, Utf8Path::new("/nonexistent/release.toml"));
        redactor().add("found-later-1");
        assert_eq!(redact("ghs_CLISECRET found-later-1 https://u:pw@host/x"), "*** *** https://***@host/x");
    }
}
