//! From a failed GitHub request to an error that names the cause and the fix.
//!
//! This is where a 403 "Resource not accessible by integration" becomes "add
//! `permissions: contents: write` to the job, and check Settings → Actions → General →
//! Workflow permissions". Each kind of token fails differently and is told differently:
//!
//! | answer | token | what the user is told |
//! |---|---|---|
//! | 401 | any | the token from SOURCE is bad or expired |
//! | 404 | any | the repository is not found or not visible to this token |
//! | 403 "…by integration" | `GITHUB_TOKEN`, GitHub App | the permission from `X-Accepted-GitHub-Permissions`; the job's `permissions:` block; the Workflow permissions default |
//! | 403 "…by personal access token" | fine-grained PAT | which permission, on which repository |
//! | `X-OAuth-Scopes` | classic PAT | the missing scope (`repo` or `public_repo`), read without writing |
//!
//! Every message names the token's source, never its value.

use crate::error::Diagnose;
use crate::github::client::ApiError;
use crate::github::target::{Target, TargetError};
use crate::secret::Source;

const TOKEN_PERMISSIONS_DOC: &str = "https://docs.github.com/actions/security-for-github-actions/security-guides/automatic-token-authentication#modifying-the-permissions-for-the-github_token";

#[derive(Debug, thiserror::Error)]
pub(crate) enum GithubError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("the GitHub token from {token_source} was rejected as bad credentials: {api}")]
    BadCredentials { token_source: Source, api: ApiError },
    #[error(
        "the GitHub repository {repository} was not found or is not visible to the token from {token_source}: {api}"
    )]
    NotVisible { repository: String, repository_source: String, token_source: Source, api_url: String, api: ApiError },
    #[error(
        "the token from {token_source} (GITHUB_TOKEN or a GitHub App) may not {action} in {repository}: {api}; it lacks the permission `{wanted}` (X-Accepted-GitHub-Permissions)"
    )]
    IntegrationPermission { repository: String, token_source: Source, action: String, wanted: String, api: ApiError },
    #[error(
        "the fine-grained personal access token from {token_source} may not {action} in {repository}: {api}; it lacks the permission `{wanted}` (X-Accepted-GitHub-Permissions)"
    )]
    FineGrainedPermission {
        repository: String,
        token_source: Source,
        action: String,
        wanted: String,
        web_url: String,
        api: ApiError,
    },
    #[error(
        "the classic personal access token from {token_source} has the scopes `{have}` (X-OAuth-Scopes), but writing releases to the {visibility} repository {repository} needs the scope `{need}`"
    )]
    ClassicScope {
        repository: String,
        token_source: Source,
        visibility: &'static str,
        have: String,
        need: &'static str,
        web_url: String,
    },
    #[error("GitHub's rate limit stopped the request for the token from {token_source}: {api}")]
    RateLimited { token_source: Source, api: ApiError },
    #[error("cannot {} in {repository}: {api}", api.action)]
    Api { repository: String, api: ApiError, help: Option<String> },
    #[error(
        "the tag {tag} already has a published release ({url}) whose assets differ from this build: {}",
        differences.join("; ")
    )]
    PublishedDifferent { tag: String, url: String, differences: Vec<String>, immutable: bool },
    #[error("the assets read back from the draft release {url} do not match the dist directory: {}", problems.join("; "))]
    VerifyFailed { url: String, problems: Vec<String> },
    #[error("{0}")]
    Local(String),
}

impl Diagnose for GithubError {
    fn help(&self) -> Option<String> {
        match self {
            GithubError::Target(err) => err.help(),
            GithubError::BadCredentials { token_source, .. } => Some(format!(
                "the token is wrong, expired or revoked: put a valid token in {token_source} (the token itself, without quotes or a `Bearer ` prefix); tokens are taken from `github.token-env`, else GH_TOKEN, else GITHUB_TOKEN"
            )),
            GithubError::NotVisible { repository, repository_source, api_url, .. } => Some(format!(
                "check `{repository}` (from {repository_source}) and the API URL {api_url}; a private repository must be visible to the token: GITHUB_TOKEN only sees its own repository, a GitHub App must be installed on it, a fine-grained token must list it under \"Repository access\", a classic token needs the `repo` scope"
            )),
            GithubError::IntegrationPermission { wanted, .. } => Some(format!(
                "give the job the permission in the workflow file:\n  permissions:\n    contents: write\nif the job already asks for it, check the default in the repository's, then the organisation's, Settings → Actions → General → Workflow permissions (\"Read and write permissions\"); a GitHub App needs {} in its installation; see {TOKEN_PERMISSIONS_DOC}",
                human_permissions(wanted)
            )),
            GithubError::FineGrainedPermission { repository, wanted, web_url, .. } => Some(format!(
                "edit the token at {web_url}/settings/personal-access-tokens: under \"Repository access\" include {repository}, and under \"Repository permissions\" set {}; an organisation may also have to approve the token",
                human_permissions(wanted)
            )),
            GithubError::ClassicScope { repository, need, web_url, .. } => Some(format!(
                "edit the token at {web_url}/settings/tokens and tick `{need}`, or use a fine-grained token with \"Contents: Read and write\" on {repository}"
            )),
            GithubError::RateLimited { api, .. } => Some(match &api.retry_after {
                Some(after) => format!("GitHub asked to wait {after} seconds (Retry-After); run again after that"),
                None => "wait for the limit to reset (X-RateLimit-Reset), or use a token with its own limit".into(),
            }),
            GithubError::Api { help, .. } => help.clone(),
            GithubError::PublishedDifferent { url, immutable: true, .. } => Some(format!(
                "{url} is an immutable release: GitHub locks its tag and assets, so nothing (not `replace = true` either) can change them; release a new version (change `project.version` in release.toml)"
            )),
            GithubError::PublishedDifferent { url, .. } => Some(format!(
                "a published release is never changed silently: release a new version, or set `replace = true` under [github] in release.toml to replace the differing assets of {url}"
            )),
            GithubError::VerifyFailed { .. } => Some(
                "the release stays a draft; run the release again: it keeps the assets that match and uploads the others again".into(),
            ),
            GithubError::Local(_) => None,
        }
    }
}

impl GithubError {
    /// Classifies a failed request made with `target`'s token.
    pub(crate) fn classify(api: ApiError, target: &Target) -> GithubError {
        let repository = target.full_name();
        let token_source = target.token_source.clone();
        let rate_limited = api.rate_limit_remaining == Some(0) || api.retry_after.is_some();
        if api.action == crate::github::client::DOWNLOAD_BUNDLE {
            return GithubError::Api {
                repository,
                api,
                help: Some("GitHub listed the attestation with a pre-signed `bundle_url` on its storage host, which did not serve a readable bundle (the URL expired, or the storage host failed; its answer is quoted): run again later, or check with `gh attestation verify` / `gh release verify`".into()),
            };
        }
        match api.status {
            Some(401) => GithubError::BadCredentials { token_source, api },
            Some(404) => GithubError::NotVisible {
                repository,
                repository_source: target.repository_source.clone(),
                token_source,
                api_url: target.api_url.clone(),
                api,
            },
            Some(403 | 429) if rate_limited => GithubError::RateLimited { token_source, api },
            Some(403) if api.message.contains("by integration") => GithubError::IntegrationPermission {
                repository,
                token_source,
                action: api.action.clone(),
                wanted: wanted(&api),
                api,
            },
            Some(403) if api.message.contains("by personal access token") => GithubError::FineGrainedPermission {
                repository,
                token_source,
                action: api.action.clone(),
                wanted: wanted(&api),
                web_url: target.web_url(),
                api,
            },
            Some(status) if status >= 500 => GithubError::Api {
                repository,
                api,
                help: Some("GitHub failed, not the configuration: run the release again; nothing is published until every asset is uploaded and checked".into()),
            },
            None => GithubError::Api {
                repository,
                api,
                help: Some(
                    "the connection to GitHub failed: check the network and the API URL (`github.api-url`, GITHUB_API_URL), then run again".into(),
                ),
            },
            Some(_) => GithubError::Api { repository, api, help: None },
        }
    }

    /// Replaces the help line of a generic API failure (one that is not about permissions).
    pub(crate) fn with_api_help(self, help: impl Into<String>) -> GithubError {
        match self {
            GithubError::Api { repository, api, .. } => GithubError::Api { repository, api, help: Some(help.into()) },
            other => other,
        }
    }
}

/// The permission the server asked for; `contents=write` when it did not say.
fn wanted(api: &ApiError) -> String {
    api.accepted_permissions.clone().filter(|p| !p.trim().is_empty()).unwrap_or_else(|| "contents=write".into())
}

/// `contents=write` → `"Contents" to "Read and write"`; alternative sets (`a; b`) are joined
/// with "or".
pub(crate) fn human_permissions(header: &str) -> String {
    header
        .split(';')
        .map(|set| {
            set.split(',')
                .filter_map(|pair| {
                    let (name, level) = pair.trim().split_once('=')?;
                    let mut chars = name.chars();
                    let title: String =
                        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
                    let title = title.replace('_', " ");
                    let level = match level {
                        "write" => "Read and write",
                        "read" => "Read-only",
                        "admin" => "Admin",
                        other => other,
                    };
                    Some(format!("\"{title}\" to \"{level}\""))
                })
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", or ")
}

/// The scope a classic token lacks to write releases, if any: `repo` for a private
/// repository; `public_repo` (or `repo`) for a public one.
pub(crate) fn missing_classic_scope(scopes: &str, private: bool) -> Option<&'static str> {
    let has = |wanted: &str| scopes.split(',').any(|s| s.trim() == wanted);
    match (private, has("repo"), has("public_repo")) {
        (_, true, _) => None,
        (true, false, _) => Some("repo"),
        (false, false, true) => None,
        (false, false, false) => Some("public_repo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn target() -> Target {
        Target {
            owner: "acme".into(),
            repo: "hello".into(),
            repository_source: "GITHUB_REPOSITORY".into(),
            api_url: "https://api.github.com".into(),
            token: Secret::new("ghs_0123456789"),
            token_source: Source::env("GITHUB_TOKEN"),
        }
    }

    fn answer(status: u16, message: &str) -> ApiError {
        ApiError {
            action: "create a draft release".into(),
            method: "POST".into(),
            url: "https://api.github.com/repos/acme/hello/releases".into(),
            status: Some(status),
            message: message.into(),
            codes: vec![],
            details: vec![],
            accepted_permissions: None,
            oauth_scopes: None,
            accepted_oauth_scopes: None,
            rate_limit_remaining: Some(4999),
            retry_after: None,
            retry: crate::net::Verdict::Final,
            attempts: 1,
        }
    }

    fn text(err: GithubError) -> String {
        crate::error::StepError::from(err).to_string()
    }

    #[test]
    fn integration_403_names_the_permission_block_and_the_setting() {
        let mut api = answer(403, "Resource not accessible by integration");
        api.accepted_permissions = Some("contents=write".into());
        let text = text(GithubError::classify(api, &target()));
        assert!(text.contains("lacks the permission `contents=write`"), "{text}");
        assert!(text.contains("contents: write"), "{text}");
        assert!(text.contains("Settings → Actions → General → Workflow permissions"), "{text}");
        assert!(text.contains("environment variable GITHUB_TOKEN"), "{text}");
        assert!(!text.contains("ghs_0123456789"), "{text}");
    }

    #[test]
    fn fine_grained_403_names_permission_and_repository() {
        let mut api = answer(403, "Resource not accessible by personal access token");
        api.accepted_permissions = Some("contents=write".into());
        let text = text(GithubError::classify(api, &target()));
        assert!(text.contains("fine-grained"), "{text}");
        assert!(text.contains("include acme/hello"), "{text}");
        assert!(text.contains("\"Contents\" to \"Read and write\""), "{text}");
    }

    #[test]
    fn status_401_and_404() {
        let text401 = text(GithubError::classify(answer(401, "Bad credentials"), &target()));
        assert!(text401.contains("rejected as bad credentials"), "{text401}");
        assert!(text401.contains("environment variable GITHUB_TOKEN"), "{text401}");
        let text404 = text(GithubError::classify(answer(404, "Not Found"), &target()));
        assert!(text404.contains("acme/hello was not found or is not visible"), "{text404}");
    }

    #[test]
    fn rate_limit_is_not_a_permission_problem() {
        let mut api = answer(403, "API rate limit exceeded");
        api.rate_limit_remaining = Some(0);
        assert!(matches!(GithubError::classify(api, &target()), GithubError::RateLimited { .. }));
    }

    #[test]
    fn permissions_read_like_the_settings_page() {
        assert_eq!(human_permissions("contents=write"), "\"Contents\" to \"Read and write\"");
        assert_eq!(
            human_permissions("contents=write; contents=write,workflows=write"),
            "\"Contents\" to \"Read and write\", or \"Contents\" to \"Read and write\" and \"Workflows\" to \"Read and write\""
        );
    }

    #[test]
    fn classic_scopes() {
        assert_eq!(missing_classic_scope("repo, workflow", true), None);
        assert_eq!(missing_classic_scope("public_repo", true), Some("repo"));
        assert_eq!(missing_classic_scope("public_repo", false), None);
        assert_eq!(missing_classic_scope("read:org, gist", false), Some("public_repo"));
        assert_eq!(missing_classic_scope("", true), Some("repo"));
    }
}
