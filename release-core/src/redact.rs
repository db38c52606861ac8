//! [`Redactor`]: the net under the rule that no code formats a secret. A front end makes one
//! per run ([`Redactor::for_run`]) and passes everything it prints or writes through it.

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::env::Environment;
use crate::secret::{MASK, MIN_MASKED_LEN, Secret, SecretSink, Source, scrub_url_credentials};

/// Replaces secret values, and the credentials of any `scheme://user:password@host` URL,
/// in text about to be shown or written.
///
/// A handle: clones share one set of values, so a value added while a run goes on (a step
/// found it in a docker config file) is masked from then on by every clone — the reporter
/// wrapper, the error printer, the job summary writer. A redactor made with
/// [`Redactor::announcing`] passes each new value to its announcer before [`Redactor::add`]
/// returns, so a front end can register it elsewhere (GitHub Actions' `::add-mask::`) before
/// anything could show it.
#[derive(Clone, Default)]
pub struct Redactor {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Longest first, so that a value containing another is masked whole.
    values: RwLock<Vec<String>>,
    announce: Option<Announcer>,
}

/// What a redactor calls with each value it is given.
type Announcer = Box<dyn Fn(&str) + Send + Sync>;

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} value(s))", self.read().len())
    }
}

impl Redactor {
    /// A redactor that masks nothing yet (URL credentials are always removed).
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor that calls `announce` with every value it is given, once, before
    /// [`Redactor::add`] returns. The announcer must not call back into this redactor.
    pub fn announcing(announce: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Redactor { shared: Arc::new(Shared { values: RwLock::default(), announce: Some(Box::new(announce)) }) }
    }

    /// A redactor for the values of `variables` that are set in `env`.
    pub fn for_variables<'a>(env: &Environment, variables: impl IntoIterator<Item = &'a str>) -> Self {
        let redactor = Redactor::new();
        redactor.add_variables(env, variables);
        redactor
    }

    /// The redactor of one run of a front end (the `release` binary, `cargo xtask release`):
    /// the values of every secret variable, the standard ones and those `config_text` names
    /// (the raw text of release.toml, so that a config with an error is still covered), and
    /// every value a step finds later ([`crate::Event::SecretFound`], added by
    /// [`crate::event::Redacting`]). Inside GitHub Actions each value is handed to
    /// `print_line` as an `::add-mask::` command as it is added — the variables' values
    /// before this returns, so before anything else is printed; a value found later before
    /// anything could show it. `print_line` writes one line to stdout, where the runner
    /// reads workflow commands: those lines are the one place a value is printed.
    pub fn for_run(env: &Environment, config_text: &str, print_line: impl Fn(&str) + Send + Sync + 'static) -> Self {
        let redactor = if env.in_github_actions() {
            Redactor::announcing(move |value| print_line(&crate::actions::commands::add_mask(value)))
        } else {
            Redactor::new()
        };
        let names = crate::config::secret_variables_of_text(config_text);
        redactor.add_variables(env, names.iter().map(String::as_str));
        redactor
    }

    /// Adds the values of `variables` that are set in `env`.
    pub fn add_variables<'a>(&self, env: &Environment, variables: impl IntoIterator<Item = &'a str>) {
        for name in variables {
            if let Some(value) = env.get(name) {
                self.add(value);
            }
        }
    }

    /// Masks `secret` from now on.
    pub fn add_secret(&self, secret: &Secret) {
        self.add(secret.expose());
    }

    /// Masks `value` from now on. Multi-line values (a PEM key, a password with a newline)
    /// are also masked line by line: a log may show one line of them. Values shorter than
    /// [`MIN_MASKED_LEN`] are not masked.
    pub fn add(&self, value: &str) {
        let mut added = Vec::new();
        {
            let mut values = self.shared.values.write().unwrap_or_else(|e| e.into_inner());
            for candidate in std::iter::once(value).chain(value.lines()) {
                let candidate = candidate.trim();
                if candidate.chars().count() >= MIN_MASKED_LEN && !values.iter().any(|v| v == candidate) {
                    values.push(candidate.to_owned());
                    added.push(candidate.to_owned());
                }
            }
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
        if let Some(announce) = &self.shared.announce {
            for value in &added {
                announce(value);
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<String>> {
        self.shared.values.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The values this masks, longest first.
    pub fn values(&self) -> Vec<String> {
        self.read().clone()
    }

    /// `text` with every secret value replaced by [`MASK`] and URL credentials removed.
    pub fn redact(&self, text: &str) -> String {
        let mut out = scrub_url_credentials(text);
        for value in self.read().iter() {
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
        for value in self.read().iter() {
            let quoted = serde_json::to_string(value).expect("a string serialises");
            let escaped = &quoted[1..quoted.len() - 1];
            if escaped != value && out.contains(escaped) {
                out = out.replace(escaped, MASK);
            }
        }
        self.redact(&out)
    }

    /// The line a front end prints when it panics: where, and the message with every secret
    /// masked — never the environment. `program` names the tool in the bug report request.
    pub fn crash_message(&self, program: &str, info: &std::panic::PanicHookInfo<'_>) -> String {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        self.crash_text(program, &message, &location)
    }

    fn crash_text(&self, program: &str, message: &str, location: &str) -> String {
        format!(
            "error: {program} crashed{location}: {}\n  help: this is a bug in {program}; please report it with the command you ran (secret values are masked in this message)",
            self.redact(message)
        )
    }
}

impl SecretSink for Redactor {
    fn secret_found(&self, _source: &Source, secret: &Secret) {
        self.add_secret(secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;
    use crate::secret::{STANDARD_SECRET_VARIABLES, Secret};
    use std::sync::Arc;

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
    fn values_added_later_are_masked_by_every_clone_and_announced_once_first() {
        let announced = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = announced.clone();
        let redactor = Redactor::announcing(move |v| seen.lock().unwrap().push(v.to_owned()));
        let clone = redactor.clone();
        assert_eq!(clone.redact("found dckr_pat_LATER1"), "found dckr_pat_LATER1");
        redactor.add_secret(&Secret::new("dckr_pat_LATER1"));
        redactor.add("dckr_pat_LATER1");
        redactor.add("ab");
        assert_eq!(*announced.lock().unwrap(), vec!["dckr_pat_LATER1".to_owned()]);
        assert_eq!(clone.redact("found dckr_pat_LATER1"), "found ***");
        assert_eq!(clone.values(), vec!["dckr_pat_LATER1".to_owned()]);
    }

    #[test]
    fn a_run_redactor_masks_in_github_actions_before_returning() {
        let printed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let config = "[github]\ntoken-env = \"MY_TOKEN\"\n";
        let env = Environment::empty().with("MY_TOKEN", "tok%en-1").with("GH_TOKEN", "ghs_RUN1");
        let lines = printed.clone();
        let plain = Redactor::for_run(&env, config, move |l| lines.lock().unwrap().push(l.to_owned()));
        assert_eq!(plain.redact("tok%en-1 ghs_RUN1"), "*** ***");
        plain.add("later-value-1");
        assert!(printed.lock().unwrap().is_empty(), "no workflow commands outside Actions");

        let lines = printed.clone();
        let actions = Redactor::for_run(&env.with("GITHUB_ACTIONS", "true"), config, move |l| {
            lines.lock().unwrap().push(l.to_owned())
        });
        let mut first = printed.lock().unwrap().clone();
        first.sort();
        assert_eq!(first, vec!["::add-mask::ghs_RUN1".to_owned(), "::add-mask::tok%25en-1".to_owned()]);
        actions.add("later-value-1");
        assert_eq!(printed.lock().unwrap().last().unwrap(), "::add-mask::later-value-1");
    }

    #[test]
    fn a_crash_message_masks_secrets_and_url_credentials() {
        let redactor = Redactor::for_variables(&Environment::empty().with("GH_TOKEN", "ghs_CRASHSECRET"), ["GH_TOKEN"]);
        let text =
            redactor.crash_text("tool", "called unwrap on ghs_CRASHSECRET for https://u:pw@host/x", " at a.rs:1");
        assert!(!text.contains("CRASHSECRET") && !text.contains("u:pw"), "{text}");
        assert!(
            text.starts_with("error: tool crashed at a.rs:1: called unwrap on *** for https://***@host/x"),
            "{text}"
        );
        assert!(text.contains("this is a bug in tool"), "{text}");
    }
}
