//! Which credentials a registry gets: one documented chain, resolved per registry host.
//!
//! The order (docs/credentials.md says the same; the first complete source wins):
//!
//! 1. `[registries."HOST"] username-env` / `password-env` from release.toml
//! 2. `HELM_REGISTRY_USERNAME` / `HELM_REGISTRY_PASSWORD`
//! 3. `HELM_API_KEY_ID` / `HELM_API_KEY_SECRET`
//! 4. `GITHUB_PAT`, username `GITHUB_ACTOR` — **ghcr.io only**
//! 5. `GITHUB_TOKEN`, username `GITHUB_ACTOR` — **ghcr.io only**
//! 6. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`):
//!    `credHelpers[HOST]`, then `credsStore`, through `docker-credential-NAME get`; then
//!    `auths[HOST].auth`
//! 7. anonymous
//!
//! Architecture invariant: a GitHub token (`GITHUB_PAT`, `GITHUB_TOKEN`) is only ever chosen
//! for ghcr.io; for any other host those variables are not even read. Every source is named
//! in reports by where it came from, never by its value.
//!
//! Every secret value the chain finds is handed to a [`SecretSink`] before it is used, so
//! that a front end masks it before anything could show it: each credential a docker
//! config file holds (any host's: the `auth` string, the `user:password` it decodes to and
//! the password, `password`, `identitytoken`, `registrytoken`), a credential helper's answer,
//! and for the login chosen its password and the base64 of `user:password` (what
//! `Authorization: Basic` carries, and what a server may echo). Values from variables are
//! known to front ends from the start; the others only from here.
//!
//! The environment comes from [`Environment`]: nothing here reads `std::env`.

use std::time::Duration;

use base64::Engine;
use camino::{Utf8Path, Utf8PathBuf};

use crate::config::RegistryConfig;
use crate::env::Environment;
use crate::secret::{Secret, SecretSink, Source};
use crate::shell::{find_program, run_with_input};

/// How long a docker credential helper may take (some ask a keyring or gpg agent).
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The only host GitHub tokens are sent to.
pub(crate) const GHCR: &str = "ghcr.io";

/// Whether `host` is GitHub's container registry.
pub(crate) fn is_ghcr(host: &str) -> bool {
    host.eq_ignore_ascii_case(GHCR) || host.eq_ignore_ascii_case("ghcr.io:443")
}

/// What is sent to the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Login {
    Anonymous,
    Basic { username: String, password: Secret },
}

impl Login {
    /// The form oci-client takes. The value leaves the [`Secret`] here only.
    pub(crate) fn to_oci(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            Login::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            Login::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.expose().to_owned())
            }
        }
    }
}

/// What happened to one source of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// This source gave the credentials.
    Used,
    /// Nothing set.
    Unset,
    /// Applies to other hosts only (GitHub tokens for anything but ghcr.io).
    NotForThisHost,
    /// Set, but not usable; says why (half a pair, a helper that failed).
    Unusable(String),
    /// Not looked at: an earlier source was used.
    NotReached,
}

/// One source and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Considered {
    /// The source's name as a user sets it (`HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD`).
    pub name: String,
    pub outcome: Outcome,
}

/// Which source of the chain gave the credentials: what advice fits is decided on this,
/// never on the words of the [`Source`] (a `password-env = "MY_GITHUB_TOKEN"` is a
/// release.toml pair, not the workflow's `GITHUB_TOKEN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `[registries."HOST"] username-env` / `password-env`.
    Config,
    /// `HELM_REGISTRY_USERNAME` / `HELM_REGISTRY_PASSWORD`.
    HelmRegistry,
    /// `HELM_API_KEY_ID` / `HELM_API_KEY_SECRET`.
    HelmApiKey,
    /// `GITHUB_PAT` (ghcr.io only).
    GithubPat,
    /// `GITHUB_TOKEN` (ghcr.io only).
    GithubToken,
    /// A docker `config.json`: its `auths` or a credential helper.
    DockerConfig,
    Anonymous,
}

/// The credentials for one registry and how they were chosen.
#[derive(Clone, Debug)]
pub(crate) struct Resolution {
    pub host: String,
    pub login: Login,
    /// Where the credentials came from; `anonymous` when none were found.
    pub source: Source,
    /// The same, as a kind.
    pub origin: Origin,
    /// Every source of the chain in order, with what happened to it.
    pub considered: Vec<Considered>,
}

impl Resolution {
    pub(crate) fn is_anonymous(&self) -> bool {
        self.login == Login::Anonymous
    }

    /// Whether the credentials are `GITHUB_TOKEN`, taken by the chain for ghcr.io.
    pub(crate) fn is_github_token(&self) -> bool {
        self.origin == Origin::GithubToken
    }

    /// Whether the credentials are `GITHUB_PAT`, taken by the chain for ghcr.io.
    pub(crate) fn is_github_pat(&self) -> bool {
        self.origin == Origin::GithubPat
    }

    /// Every source, in order, with its outcome: what an error message lists.
    pub(crate) fn chain_text(&self) -> String {
        let lines: Vec<String> = self
            .considered
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let what = match &c.outcome {
                    Outcome::Used => "used".to_owned(),
                    Outcome::Unset => "not set".to_owned(),
                    Outcome::NotForThisHost => format!("not for {} (ghcr.io only)", self.host),
                    Outcome::Unusable(why) => format!("skipped: {why}"),
                    Outcome::NotReached => "would be accepted; not reached".to_owned(),
                };
                format!("{}. {} ({what})", i + 1, c.name)
            })
            .collect();
        format!("credential sources for {}, in order:\n{}", self.host, lines.join("\n"))
    }

    /// Problems worth a warning even when the run goes on (half-set pairs, failing helpers).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.considered
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Unusable(why) => Some(format!("{} for {}: {why}", c.name, self.host)),
                _ => None,
            })
            .collect()
    }
}

/// Resolves the credentials for `host`. Every secret value found on the way is given to
/// `secrets` before this returns (see the module documentation).
pub(crate) async fn resolve(
    host: &str,
    registry: Option<&RegistryConfig>,
    env: &Environment,
    secrets: &dyn SecretSink,
) -> Resolution {
    let mut chain = Chain { considered: Vec::new(), found: None };

    // 1. release.toml
    let configured_name = match registry.map(|r| (&r.username_env, &r.password_env)) {
        Some((Some(u), Some(p))) => format!("release.toml [registries.\"{host}\"] username-env={u} password-env={p}"),
        Some((Some(u), None)) => format!("release.toml [registries.\"{host}\"] username-env={u}"),
        Some((None, Some(p))) => format!("release.toml [registries.\"{host}\"] password-env={p}"),
        _ => format!("release.toml [registries.\"{host}\"] username-env/password-env"),
    };
    match registry.map(|r| (r.username_env.as_deref(), r.password_env.as_deref())) {
        Some((Some(user_var), Some(password_var))) => {
            chain.pair(Origin::Config, configured_name, env, user_var, password_var);
        }
        Some((None, None)) | None => chain.note(configured_name, Outcome::Unset),
        Some(_) => chain.note(
            configured_name,
            Outcome::Unusable("set both `username-env` and `password-env` in release.toml".into()),
        ),
    }

    // 2 and 3: explicit Helm variables, for any host.
    chain.pair(
        Origin::HelmRegistry,
        "environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD".into(),
        env,
        "HELM_REGISTRY_USERNAME",
        "HELM_REGISTRY_PASSWORD",
    );
    chain.pair(
        Origin::HelmApiKey,
        "environment variables HELM_API_KEY_ID/HELM_API_KEY_SECRET".into(),
        env,
        "HELM_API_KEY_ID",
        "HELM_API_KEY_SECRET",
    );

    // 4 and 5: GitHub tokens, for ghcr.io only. For other hosts they are never read.
    for (origin, token_var) in [(Origin::GithubPat, "GITHUB_PAT"), (Origin::GithubToken, "GITHUB_TOKEN")] {
        let name = format!("environment variable {token_var} (username GITHUB_ACTOR)");
        if chain.found.is_some() {
            chain.note(name, Outcome::NotReached);
        } else if !is_ghcr(host) {
            chain.note(name, Outcome::NotForThisHost);
        } else if let Some((token, _)) = env.secret(token_var) {
            // GHCR does not check the username; the actor is what GitHub documents.
            let username = env.get("GITHUB_ACTOR").unwrap_or("release").to_owned();
            chain.use_login(origin, name, Login::Basic { username, password: token });
        } else {
            chain.note(name, Outcome::Unset);
        }
    }

    // 6. docker's config.json
    let docker_file = docker_config_path(env);
    let docker_name = match &docker_file {
        Some(path) => format!("docker config {path}"),
        None => "docker config (neither DOCKER_CONFIG nor HOME is set)".into(),
    };
    if chain.found.is_some() {
        chain.note(docker_name, Outcome::NotReached);
    } else {
        match &docker_file {
            None => chain.note(docker_name, Outcome::Unset),
            Some(path) => match docker_login(path, host, env, secrets).await {
                Ok(Some((login, detail))) => {
                    chain.use_login(Origin::DockerConfig, format!("{docker_name} ({detail})"), login)
                }
                Ok(None) => chain.note(docker_name, Outcome::Unset),
                Err(why) => chain.note(docker_name, Outcome::Unusable(why)),
            },
        }
    }

    // 7. anonymous
    let (login, source, origin) = match chain.found.take() {
        Some((login, source, origin)) => {
            chain.note("anonymous".into(), Outcome::NotReached);
            if let Login::Basic { username, password } = &login {
                secrets.secret_found(&source, password);
                secrets.secret_found(&source, &basic_authorization(username, password));
            }
            (login, source, origin)
        }
        None => {
            chain.note("anonymous".into(), Outcome::Used);
            (Login::Anonymous, Source("anonymous (no credentials found)".into()), Origin::Anonymous)
        }
    };
    Resolution { host: host.to_owned(), login, source, origin, considered: chain.considered }
}

struct Chain {
    considered: Vec<Considered>,
    found: Option<(Login, Source, Origin)>,
}

impl Chain {
    fn note(&mut self, name: String, outcome: Outcome) {
        self.considered.push(Considered { name, outcome });
    }

    fn use_login(&mut self, origin: Origin, name: String, login: Login) {
        self.found = Some((login, Source(name.clone()), origin));
        self.note(name, Outcome::Used);
    }

    /// A username/password pair of variables: both set, or the source is skipped.
    fn pair(&mut self, origin: Origin, name: String, env: &Environment, user_var: &str, password_var: &str) {
        if self.found.is_some() {
            return self.note(name, Outcome::NotReached);
        }
        match (env.get(user_var), env.secret(password_var)) {
            (Some(username), Some((password, _))) => {
                self.use_login(origin, name, Login::Basic { username: username.to_owned(), password })
            }
            (None, None) => self.note(name, Outcome::Unset),
            (Some(_), None) => {
                self.note(name, Outcome::Unusable(format!("{user_var} is set but {password_var} is not")))
            }
            (None, Some(_)) => {
                self.note(name, Outcome::Unusable(format!("{password_var} is set but {user_var} is not")))
            }
        }
    }
}

/// The base64 of `user:password`: the value of `Authorization: Basic` and of a docker config
/// entry's `auth`.
fn basic_authorization(username: &str, password: &Secret) -> Secret {
    Secret::new(base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose())))
}

/// Hands `user:password` and its parts to `secrets`: the password, the pair as written, its
/// base64.
fn found_basic(secrets: &dyn SecretSink, source: &Source, username: &str, password: &Secret) {
    secrets.secret_found(source, password);
    secrets.secret_found(source, &Secret::new(format!("{username}:{}", password.expose())));
    secrets.secret_found(source, &basic_authorization(username, password));
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub(crate) fn docker_config_path(env: &Environment) -> Option<Utf8PathBuf> {
    if let Some(dir) = env.get("DOCKER_CONFIG") {
        return Some(Utf8Path::new(dir).join("config.json"));
    }
    env.get("HOME").map(|home| Utf8Path::new(home).join(".docker").join("config.json"))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl DockerAuth {
    /// Hands every credential of this entry to `secrets`, usable or not: whatever a file
    /// holds, a build step may print.
    fn found_secrets(&self, path: &Utf8Path, key: &str, secrets: &dyn SecretSink) {
        let field = |name: &str| Source(format!("docker config {path} auths.\"{key}\".{name}"));
        if let Some(auth) = text(&self.auth) {
            let source = field("auth");
            secrets.secret_found(&source, &Secret::new(auth));
            if let Some((username, password)) = decode_auth(auth) {
                found_basic(secrets, &source, &username, &password);
            }
        }
        if let Some(password) = text(&self.password) {
            let password = Secret::new(password);
            match text(&self.username) {
                Some(username) => found_basic(secrets, &field("password"), username, &password),
                None => secrets.secret_found(&field("password"), &password),
            }
        }
        for (name, token) in [("identitytoken", &self.identitytoken), ("registrytoken", &self.registrytoken)] {
            if let Some(token) = text(token) {
                secrets.secret_found(&field(name), &Secret::new(token));
            }
        }
    }
}

/// A field's text, trimmed; `None` when missing or empty.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The username and password of a docker config `auth` value: base64 of `user:password`.
fn decode_auth(auth: &str) -> Option<(String, Secret)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(auth.trim()).ok()?;
    let decoded = String::from_utf8(bytes).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some((username.to_owned(), Secret::new(password)))
}

/// The host a docker config key stands for: keys may be `host`, `https://host` or
/// `https://index.docker.io/v1/`.
fn docker_key_host(key: &str) -> String {
    let key = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
        _ => host,
    }
}

/// Credentials for `host` from a docker config file: `Ok(None)` when the file or an entry
/// for the host does not exist, `Err` (why) when something is there but unusable.
async fn docker_login(
    path: &Utf8Path,
    host: &str,
    env: &Environment,
    secrets: &dyn SecretSink,
) -> Result<Option<(Login, String)>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    for (key, entry) in &config.auths {
        entry.found_secrets(path, key, secrets);
    }
    let wanted = docker_key_host(host);

    let helper = config
        .cred_helpers
        .iter()
        .find(|(key, _)| docker_key_host(key) == wanted)
        .map(|(_, helper)| (helper.clone(), "credHelpers"))
        .or_else(|| config.creds_store.clone().map(|s| (s, "credsStore")));
    let mut helper_problem = None;
    if let Some((helper, field)) = helper.filter(|(h, _)| !h.is_empty()) {
        match run_helper(&helper, host, env, secrets).await {
            Ok(Some(login)) => return Ok(Some((login, format!("{field}: docker-credential-{helper}")))),
            Ok(None) => {}
            Err(why) => helper_problem = Some(format!("{field}: docker-credential-{helper}: {why}")),
        }
    }

    if let Some((key, entry)) = config.auths.iter().find(|(key, _)| docker_key_host(key) == wanted) {
        if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let (username, password) =
                decode_auth(encoded).ok_or_else(|| format!("auths.\"{key}\".auth is not base64 of `user:password`"))?;
            return Ok(Some((Login::Basic { username, password }, format!("auths.\"{key}\""))));
        }
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            let login = Login::Basic { username: username.clone(), password: Secret::new(password.clone()) };
            return Ok(Some((login, format!("auths.\"{key}\""))));
        }
        if entry.identitytoken.is_some() {
            return Err(format!("auths.\"{key}\" holds an identity token, which is not supported"));
        }
        if entry.registrytoken.is_some() {
            return Err(format!("auths.\"{key}\" holds a registry token, which is not supported"));
        }
    }
    match helper_problem {
        Some(problem) => Err(problem),
        None => Ok(None),
    }
}

/// Asks `docker-credential-NAME get` for `host`'s credentials, as docker does: the server
/// address on stdin, JSON `{ServerURL, Username, Secret}` on stdout. `Ok(None)` when the
/// helper has none for this host. The answer's secret is given to `secrets` at once.
async fn run_helper(
    name: &str,
    host: &str,
    env: &Environment,
    secrets: &dyn SecretSink,
) -> Result<Option<Login>, String> {
    let program_name = format!("docker-credential-{name}");
    let program = find_program(&program_name, Utf8Path::new("/"), env)
        .ok_or_else(|| format!("`{program_name}` is not on PATH"))?;
    let output =
        run_with_input(&program, &["get"], host.as_bytes(), env, HELPER_TIMEOUT).await.map_err(|e| e.to_string())?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let err = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(format!("exited with {}: {}", output.status, if err.is_empty() { said } else { err }));
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("its answer is not the expected JSON: {e}"))?;
    let source = Source(format!("docker-credential-{name} get {host}"));
    let secret = Secret::new(answer.secret);
    if answer.username == "<token>" {
        secrets.secret_found(&source, &secret);
        return Err("it holds an identity token, which is not supported".into());
    }
    found_basic(secrets, &source, &answer.username, &secret);
    Ok(Some(Login::Basic { username: answer.username, password: secret }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;

    fn env() -> Environment {
        Environment::empty().with("GITHUB_TOKEN", "ghs_token").with("GITHUB_ACTOR", "octocat")
    }

    fn used(resolution: &Resolution) -> &str {
        &resolution.considered.iter().find(|c| c.outcome == Outcome::Used).unwrap().name
    }

    #[tokio::test]
    async fn github_token_is_used_for_ghcr_with_the_actor() {
        let r = resolve("ghcr.io", None, &env(), &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "octocat".into(), password: Secret::new("ghs_token") });
        assert_eq!(r.source.0, "environment variable GITHUB_TOKEN (username GITHUB_ACTOR)");
        assert!(r.is_github_token());
    }

    #[tokio::test]
    async fn github_tokens_never_go_to_another_host() {
        let env = env().with("GITHUB_PAT", "ghp_pat").with("HOME", "/nonexistent");
        for host in ["registry.example.com", "127.0.0.1:5000", "ghcr.io.example.com", "xghcr.io", "ghcr.io:5000"] {
            let r = resolve(host, None, &env, &Redactor::new()).await;
            assert_eq!(r.login, Login::Anonymous, "{host}");
            let github: Vec<_> = r.considered.iter().filter(|c| c.name.contains("GITHUB_")).collect();
            assert_eq!(github.len(), 2);
            assert!(github.iter().all(|c| c.outcome == Outcome::NotForThisHost), "{host}: {github:?}");
        }
    }

    /// The advice for `GITHUB_TOKEN` follows the source that was taken, not a variable name
    /// that merely contains the words.
    #[tokio::test]
    async fn a_configured_variable_named_like_a_github_token_is_not_one() {
        let registry = RegistryConfig {
            username_env: Some("MY_GITHUB_USER".into()),
            password_env: Some("MY_GITHUB_TOKEN".into()),
            ..Default::default()
        };
        let env = env().with("MY_GITHUB_USER", "octocat").with("MY_GITHUB_TOKEN", "ghp_mine");
        let r = resolve("ghcr.io", Some(&registry), &env, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "octocat".into(), password: Secret::new("ghp_mine") });
        assert!(r.source.0.contains("password-env=MY_GITHUB_TOKEN"), "{}", r.source);
        assert_eq!(r.origin, Origin::Config);
        assert!(!r.is_github_token() && !r.is_github_pat());

        let registry = RegistryConfig { password_env: Some("GITHUB_PAT_2".into()), ..registry };
        let r = resolve("ghcr.io", Some(&registry), &env.with("GITHUB_PAT_2", "ghp_2"), &Redactor::new()).await;
        assert_eq!(r.origin, Origin::Config);
        assert!(!r.is_github_pat());
    }

    #[tokio::test]
    async fn pat_wins_over_github_token() {
        let r = resolve("ghcr.io", None, &env().with("GITHUB_PAT", "ghp_pat"), &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "octocat".into(), password: Secret::new("ghp_pat") });
        assert!(r.is_github_pat());
    }

    #[tokio::test]
    async fn order_config_then_helm_registry_then_api_key() {
        let registry = RegistryConfig {
            username_env: Some("MY_USER".into()),
            password_env: Some("MY_PASS".into()),
            ..Default::default()
        };
        let all = env()
            .with("MY_USER", "u0")
            .with("MY_PASS", "p0")
            .with("HELM_REGISTRY_USERNAME", "u1")
            .with("HELM_REGISTRY_PASSWORD", "p1")
            .with("HELM_API_KEY_ID", "u2")
            .with("HELM_API_KEY_SECRET", "p2");
        let r = resolve("ghcr.io", Some(&registry), &all, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "u0".into(), password: Secret::new("p0") });
        assert!(used(&r).contains("username-env=MY_USER password-env=MY_PASS"));

        let r = resolve("ghcr.io", None, &all, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "u1".into(), password: Secret::new("p1") });
        let text = r.chain_text();
        assert!(
            text.contains("2. environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD (used)"),
            "{text}"
        );
        assert!(
            text.contains("5. environment variable GITHUB_TOKEN (username GITHUB_ACTOR) (would be accepted"),
            "{text}"
        );

        let api = env().with("HELM_API_KEY_ID", "u2").with("HELM_API_KEY_SECRET", "p2");
        let r = resolve("ghcr.io", None, &api, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "u2".into(), password: Secret::new("p2") });
    }

    #[tokio::test]
    async fn half_a_pair_is_skipped_and_reported() {
        let env = Environment::empty().with("HELM_REGISTRY_USERNAME", "u1");
        let r = resolve("127.0.0.1:5000", None, &env, &Redactor::new()).await;
        assert!(r.is_anonymous());
        assert_eq!(
            r.warnings(),
            vec![
                "environment variables HELM_REGISTRY_USERNAME/HELM_REGISTRY_PASSWORD for 127.0.0.1:5000: HELM_REGISTRY_USERNAME is set but HELM_REGISTRY_PASSWORD is not"
            ]
        );
    }

    #[tokio::test]
    async fn the_chain_names_sources_never_values() {
        let env = env().with("HELM_REGISTRY_USERNAME", "u1").with("HELM_REGISTRY_PASSWORD", "s3cret-value");
        let r = resolve("ghcr.io", None, &env, &Redactor::new()).await;
        let shown = format!("{} {} {:?}", r.chain_text(), r.source, r);
        assert!(!shown.contains("s3cret-value") && !shown.contains("ghs_token"), "{shown}");
    }

    #[tokio::test]
    async fn docker_config_auths_and_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap().to_owned();
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let helper = bin.join("docker-credential-testhelper");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread host\nif [ \"$host\" = helped.example ]; then echo '{\"ServerURL\":\"helped.example\",\"Username\":\"hu\",\"Secret\":\"hs\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("du:dp");
        std::fs::write(
            dir.join("config.json"),
            format!(
                r#"{{"auths":{{"https://plain.example":{{"auth":"{auth}"}},"ghcr.io":{{"auth":"{auth}"}}}},"credHelpers":{{"helped.example":"testhelper"}}}}"#
            ),
        )
        .unwrap();
        let env = Environment::empty().with("DOCKER_CONFIG", dir.as_str()).with("PATH", bin.as_str());

        let r = resolve("plain.example", None, &env, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "du".into(), password: Secret::new("dp") });
        assert_eq!(r.source.0, format!("docker config {dir}/config.json (auths.\"https://plain.example\")"));

        let r = resolve("helped.example", None, &env, &Redactor::new()).await;
        assert_eq!(r.login, Login::Basic { username: "hu".into(), password: Secret::new("hs") });
        assert!(r.source.0.ends_with("(credHelpers: docker-credential-testhelper)"), "{}", r.source);

        let r = resolve("other.example", None, &env, &Redactor::new()).await;
        assert!(r.is_anonymous());

        // HOME is taken from the Environment, not from the process.
        let home = Environment::empty().with("HOME", "/nonexistent-home");
        assert_eq!(docker_config_path(&home).unwrap(), "/nonexistent-home/.docker/config.json");
    }

    /// A sink that keeps what it was told, in order, with the source.
    #[derive(Default)]
    struct Told(std::sync::Mutex<Vec<(String, String)>>);

    impl SecretSink for Told {
        fn secret_found(&self, source: &Source, secret: &Secret) {
            self.0.lock().unwrap().push((source.0.clone(), secret.expose().to_owned()));
        }
    }

    impl Told {
        fn values(&self) -> Vec<String> {
            self.0.lock().unwrap().iter().map(|(_, v)| v.clone()).collect()
        }
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// A docker config in a temporary directory, and a helper script answering `answer` for
    /// `helped.example`.
    fn docker_dir(config: &str, answer: &str) -> (tempfile::TempDir, Environment) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(tmp.path()).unwrap().to_owned();
        let helper = dir.join("docker-credential-testhelper");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\nread host\nif [ \"$host\" = helped.example ]; then echo '{answer}'; else echo 'credentials not found'; exit 1; fi\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("config.json"), config).unwrap();
        let env = Environment::empty().with("DOCKER_CONFIG", dir.as_str()).with("PATH", dir.as_str());
        (tmp, env)
    }

    #[tokio::test]
    async fn every_secret_of_a_docker_config_is_handed_over_before_use() {
        let config = format!(
            r#"{{"auths":{{
                "used.example":{{"auth":"{}"}},
                "https://other.example/v1/":{{"auth":"{}"}},
                "plain.example":{{"username":"pu","password":"plainpassword1"}},
                "id.example":{{"identitytoken":"identity-token-1"}},
                "reg.example":{{"registrytoken":"registry-token-1"}}
            }}}}"#,
            b64("alice:alice-password-1"),
            b64("bob:bob-password-1")
        );
        let (tmp, env) = docker_dir(&config, "");
        let told = Told::default();
        let r = resolve("used.example", None, &env, &told).await;
        assert_eq!(r.login, Login::Basic { username: "alice".into(), password: Secret::new("alice-password-1") });
        let values = told.values();
        for expected in [
            b64("alice:alice-password-1"),
            "alice:alice-password-1".into(),
            "alice-password-1".into(),
            // Other hosts' entries too: a build step printing the file would show them.
            b64("bob:bob-password-1"),
            "bob:bob-password-1".into(),
            "bob-password-1".into(),
            "plainpassword1".into(),
            "pu:plainpassword1".into(),
            b64("pu:plainpassword1"),
            "identity-token-1".into(),
            "registry-token-1".into(),
        ] {
            assert!(values.contains(&expected), "{expected} was not handed over: {values:?}");
        }
        // Sources name the file and field, never the value.
        let path = Utf8Path::from_path(tmp.path()).unwrap().join("config.json");
        let sources: Vec<String> = told.0.lock().unwrap().iter().map(|(s, _)| s.clone()).collect();
        assert!(sources.contains(&format!("docker config {path} auths.\"id.example\".identitytoken")), "{sources:?}");
        assert!(sources.iter().all(|s| !s.contains("password-1") && !s.contains("token-1")), "{sources:?}");

        // Unsupported tokens are refused, but masked all the same.
        for (host, kind) in [("id.example", "an identity token"), ("reg.example", "a registry token")] {
            let told = Told::default();
            let r = resolve(host, None, &env, &told).await;
            assert!(r.is_anonymous());
            assert!(r.warnings()[0].contains(&format!("holds {kind}, which is not supported")), "{:?}", r.warnings());
            assert!(told.values().contains(&"identity-token-1".to_owned()));
        }
    }

    #[tokio::test]
    async fn a_helpers_answer_is_handed_over_in_every_form() {
        let config = r#"{"credHelpers":{"helped.example":"testhelper"}}"#;
        let (_tmp, env) =
            docker_dir(config, r#"{"ServerURL":"helped.example","Username":"hu","Secret":"helper-secret-1"}"#);
        let redactor = Redactor::new();
        let r = resolve("helped.example", None, &env, &redactor).await;
        assert_eq!(r.login, Login::Basic { username: "hu".into(), password: Secret::new("helper-secret-1") });
        let header = format!("Authorization: Basic {}", b64("hu:helper-secret-1"));
        assert_eq!(
            redactor.redact(&format!("helper said helper-secret-1; server echoed {header}")),
            "helper said ***; server echoed Authorization: Basic ***"
        );

        // An identity token from a helper is refused and still masked.
        let (_tmp, env) =
            docker_dir(config, r#"{"ServerURL":"helped.example","Username":"<token>","Secret":"helper-idtoken-1"}"#);
        let redactor = Redactor::new();
        let r = resolve("helped.example", None, &env, &redactor).await;
        assert!(r.is_anonymous());
        assert_eq!(redactor.redact("token helper-idtoken-1"), "token ***");
    }

    #[tokio::test]
    async fn the_authorization_value_of_a_login_from_variables_is_handed_over() {
        let env =
            Environment::empty().with("HELM_REGISTRY_USERNAME", "u1").with("HELM_REGISTRY_PASSWORD", "env-password-1");
        let told = Told::default();
        resolve("registry.example", None, &env, &told).await;
        assert_eq!(told.values(), vec!["env-password-1".to_owned(), b64("u1:env-password-1")]);
        // Anonymous: nothing to hand over.
        let told = Told::default();
        resolve("registry.example", None, &Environment::empty(), &told).await;
        assert!(told.values().is_empty());
    }
}
