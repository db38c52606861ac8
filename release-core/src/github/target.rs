//! Which repository, which API and which token: resolved once, from config and environment.
//!
//! The token precedence is the one documented in `docs/config.md`:
//!
//! 1. the variable named by `github.token-env`, when the config sets it (and then only it:
//!    a configured variable that is empty is an error, never a silent fall-back to another
//!    identity);
//! 2. `GH_TOKEN`;
//! 3. `GITHUB_TOKEN`.
//!
//! The API base is `github.api-url`, then `GITHUB_API_URL`, then `https://api.github.com`; the
//! repository is `github.repository`, then `GITHUB_REPOSITORY`. Everything here is pure: it
//! reads the [`Environment`] it is given, never the process's.

use std::fmt;

use crate::config::GithubConfig;
use crate::env::Environment;
use crate::error::Diagnose;
use crate::secret::{Secret, Source};

/// The variables a token is taken from when `github.token-env` is not set, in order.
pub(crate) const TOKEN_VARIABLES: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];
/// The API base when neither the config nor `GITHUB_API_URL` gives one.
pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything needed to talk to one repository's releases.
#[derive(Clone)]
pub(crate) struct Target {
    pub owner: String,
    pub repo: String,
    /// Where `owner/repo` came from (`github.repository`, `GITHUB_REPOSITORY`).
    pub repository_source: String,
    /// The API base without a trailing slash, e.g. `https://api.github.com` or
    /// `https://ghe.example.com/api/v3`.
    pub api_url: String,
    pub token: Secret,
    pub token_source: Source,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("repository", &self.full_name())
            .field("api_url", &self.api_url)
            .field("token", &self.token)
            .field("token_source", &self.token_source)
            .finish()
    }
}

impl Target {
    /// `owner/repo`.
    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The web UI's base: `https://github.com` for github.com, the API host without
    /// `/api/v3` for GitHub Enterprise Server.
    pub(crate) fn web_url(&self) -> String {
        if self.api_url == DEFAULT_API_URL {
            "https://github.com".into()
        } else {
            self.api_url.trim_end_matches("/api/v3").to_owned()
        }
    }

    /// Whether a URL is one this token may be sent to: the API's own scheme, host and port,
    /// or `uploads.github.com` when the API is github.com's.
    pub(crate) fn may_receive_token(&self, url: &reqwest::Url) -> bool {
        let Ok(api) = reqwest::Url::parse(&self.api_url) else { return false };
        let same_origin = url.scheme() == api.scheme()
            && url.host_str() == api.host_str()
            && url.port_or_known_default() == api.port_or_known_default();
        let github_uploads = api.host_str() == Some("api.github.com")
            && url.scheme() == "https"
            && url.host_str() == Some("uploads.github.com");
        same_origin || github_uploads
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetError {
    #[error("no GitHub token: `github.token-env` names {variable}, which is unset or empty")]
    ConfiguredTokenMissing { variable: String },
    #[error("no GitHub token: neither GH_TOKEN nor GITHUB_TOKEN is set")]
    NoToken { in_actions: bool },
    #[error("no GitHub repository: `github.repository` is not set and neither is GITHUB_REPOSITORY")]
    NoRepository,
    #[error("the GitHub repository `{value}` (from {source_name}) is not of the form `owner/repo`")]
    BadRepository { value: String, source_name: String },
    #[error("the GitHub API URL `{value}` (from {source_name}) is not usable: {reason}")]
    BadApiUrl { value: String, source_name: String, reason: String },
}

impl Diagnose for TargetError {
    fn help(&self) -> Option<String> {
        Some(match self {
            TargetError::ConfiguredTokenMissing { variable } => format!(
                "set {variable} (in GitHub Actions: `env: {variable}: ${{{{ secrets.{variable} }}}}` on the step), or remove `github.token-env` to use GH_TOKEN or GITHUB_TOKEN"
            ),
            TargetError::NoToken { in_actions: true } => {
                "pass the job's token to the step: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`, and give the job `permissions: contents: write`".into()
            }
            TargetError::NoToken { in_actions: false } => {
                "export GH_TOKEN with a token that may write releases (`gh auth token` prints yours), or name another variable in `github.token-env`".into()
            }
            TargetError::NoRepository => {
                "set `repository = \"owner/repo\"` under [github] in release.toml (GitHub Actions sets GITHUB_REPOSITORY)".into()
            }
            TargetError::BadRepository { .. } => "write the repository as `owner/repo`, e.g. `acme/hello`".into(),
            TargetError::BadApiUrl { .. } => {
                "use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server (plain http only for a loopback test server)".into()
            }
        })
    }
}

/// The token, by the documented precedence, with its source.
pub(crate) fn resolve_token(config: &GithubConfig, env: &Environment) -> Result<(Secret, Source), TargetError> {
    if let Some(variable) = &config.token_env {
        return env.secret(variable).ok_or_else(|| TargetError::ConfiguredTokenMissing { variable: variable.clone() });
    }
    TOKEN_VARIABLES
        .iter()
        .find_map(|name| env.secret(name))
        .ok_or(TargetError::NoToken { in_actions: env.in_github_actions() })
}

/// The repository, API base and token for a `[github]` section.
pub(crate) fn resolve(config: &GithubConfig, env: &Environment) -> Result<Target, TargetError> {
    let (repository, repository_source) = match (&config.repository, env.get("GITHUB_REPOSITORY")) {
        (Some(value), _) => (value.clone(), "`github.repository`".to_owned()),
        (None, Some(value)) => (value.to_owned(), "GITHUB_REPOSITORY".to_owned()),
        (None, None) => return Err(TargetError::NoRepository),
    };
    let (owner, repo) = match repository.split_once('/') {
        Some((owner, repo)) if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') => {
            (owner.to_owned(), repo.to_owned())
        }
        _ => return Err(TargetError::BadRepository { value: repository, source_name: repository_source }),
    };

    let (api_url, api_source) = match (&config.api_url, env.get("GITHUB_API_URL")) {
        (Some(value), _) => (value.clone(), "`github.api-url`"),
        (None, Some(value)) => (value.to_owned(), "GITHUB_API_URL"),
        (None, None) => (DEFAULT_API_URL.to_owned(), "the default"),
    };
    let api_url = api_url.trim_end_matches('/').to_owned();
    check_api_url(&api_url).map_err(|reason| TargetError::BadApiUrl {
        value: api_url.clone(),
        source_name: api_source.into(),
        reason,
    })?;

    let (token, token_source) = resolve_token(config, env)?;
    Ok(Target { owner, repo, repository_source, api_url, token, token_source })
}

/// A token may travel over plain HTTP only to this machine.
fn check_api_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) => Ok(()),
        "http" => Err("plain http would send the token unencrypted; only loopback hosts may use it".into()),
        other => Err(format!("the scheme `{other}` is not http(s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GithubConfig {
        GithubConfig { repository: Some("acme/hello".into()), ..GithubConfig::default() }
    }

    #[test]
    fn gh_token_comes_before_github_token() {
        let env = Environment::empty().with("GITHUB_TOKEN", "b").with("GH_TOKEN", "a");
        let (token, source) = resolve_token(&config(), &env).unwrap();
        assert_eq!((token.expose(), source.to_string().as_str()), ("a", "environment variable GH_TOKEN"));
    }

    #[test]
    fn github_token_is_the_last_resort_and_empty_counts_as_unset() {
        let env = Environment::empty().with("GITHUB_TOKEN", "b").with("GH_TOKEN", "");
        let (_, source) = resolve_token(&config(), &env).unwrap();
        assert_eq!(source, Source::env("GITHUB_TOKEN"));
    }

    #[test]
    fn a_configured_variable_wins_and_never_falls_back() {
        let mut config = config();
        config.token_env = Some("RELEASE_TOKEN".into());
        let env = Environment::empty().with("RELEASE_TOKEN", "c").with("GH_TOKEN", "a");
        assert_eq!(resolve_token(&config, &env).unwrap().1, Source::env("RELEASE_TOKEN"));
        let env = Environment::empty().with("GH_TOKEN", "a");
        let err = resolve_token(&config, &env).unwrap_err();
        assert!(err.to_string().contains("names RELEASE_TOKEN, which is unset"), "{err}");
    }

    #[test]
    fn api_url_and_repository_precedence() {
        let env = Environment::empty()
            .with("GH_TOKEN", "a")
            .with("GITHUB_API_URL", "https://ghe.example.com/api/v3/")
            .with("GITHUB_REPOSITORY", "other/repo");
        let target = resolve(&config(), &env).unwrap();
        assert_eq!(target.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(target.full_name(), "acme/hello");
        assert_eq!(target.web_url(), "https://ghe.example.com");
        let target = resolve(&GithubConfig::default(), &env).unwrap();
        assert_eq!(
            (target.full_name().as_str(), target.repository_source.as_str()),
            ("other/repo", "GITHUB_REPOSITORY")
        );
        let target = resolve(&config(), &Environment::empty().with("GH_TOKEN", "a")).unwrap();
        assert_eq!(target.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let env = Environment::empty().with("GH_TOKEN", "a").with("GITHUB_API_URL", "http://ghe.example.com/api/v3");
        let err = resolve(&config(), &env).unwrap_err();
        assert!(err.to_string().contains("unencrypted"), "{err}");
        let env = Environment::empty().with("GH_TOKEN", "a").with("GITHUB_API_URL", "http://127.0.0.1:8080/api/v3");
        assert!(resolve(&config(), &env).is_ok());
    }

    #[test]
    fn the_token_goes_only_to_github_hosts() {
        let env = Environment::empty().with("GH_TOKEN", "a");
        let target = resolve(&config(), &env).unwrap();
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(target.may_receive_token(&url("https://uploads.github.com/repos/acme/hello/releases/1/assets")));
        assert!(target.may_receive_token(&url("https://api.github.com/repos/acme/hello")));
        assert!(!target.may_receive_token(&url("https://uploads.example.com/repos/acme/hello/releases/1/assets")));
        assert!(!target.may_receive_token(&url("http://uploads.github.com/x")));
        let env = env.with("GITHUB_API_URL", "http://127.0.0.1:9000/api/v3");
        let target = resolve(&config(), &env).unwrap();
        assert!(target.may_receive_token(&url("http://127.0.0.1:9000/api/uploads/repos/acme/hello/releases/1/assets")));
        assert!(!target.may_receive_token(&url("http://127.0.0.1:9001/api/uploads/x")));
        assert!(!format!("{target:?}").contains("\"a\""));
    }
}
