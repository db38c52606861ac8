//! The GitHub Actions OIDC token (protocols-sigstore.md §1).
//!
//! A job with `permissions: id-token: write` has `ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; without it neither exists. The token is fetched with
//! `GET $URL&audience=sigstore` and `Authorization: Bearer $TOKEN` and lives five minutes,
//! so it is fetched right before Fulcio is asked for a certificate, never reused from the
//! preflight. Its claims are decoded (not verified: Fulcio verifies it) to check what
//! Fulcio's GitHub principal requires before the build, and to know the identity the
//! certificate will carry.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::KeylessError;
use crate::env::Environment;
use crate::net::{NetworkPolicy, RetryNotice};
use crate::secret::Secret;

pub(crate) const REQUEST_URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub(crate) const REQUEST_TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// The audience Fulcio accepts for GitHub tokens.
pub(crate) const AUDIENCE: &str = "sigstore";
/// GitHub's issuer on github.com.
pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The claims Fulcio's GitHub principal requires, non-empty (sigstore/fulcio
/// `pkg/identity/github/principal.go`).
pub(crate) const FULCIO_REQUIRED_CLAIMS: [&str; 16] = [
    "job_workflow_ref",
    "sha",
    "event_name",
    "repository",
    "workflow",
    "ref",
    "job_workflow_sha",
    "runner_environment",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "workflow_ref",
    "workflow_sha",
    "run_id",
    "run_attempt",
];

/// Where the token comes from: the two variables of a job with `id-token: write`.
#[derive(Debug, Clone)]
pub(crate) struct TokenRequest {
    pub url: String,
    pub token: Secret,
}

impl TokenRequest {
    /// The request variables, or the reason there are none.
    pub(crate) fn from_env(env: &Environment) -> Result<Self, KeylessError> {
        if !env.in_github_actions() {
            return Err(KeylessError::NotInActions);
        }
        let url = env.get(REQUEST_URL_VAR).filter(|v| !v.is_empty());
        let token = env.get(REQUEST_TOKEN_VAR).filter(|v| !v.is_empty());
        match (url, token) {
            (Some(url), Some(token)) => Ok(TokenRequest { url: url.to_owned(), token: Secret::new(token) }),
            _ => Err(KeylessError::NoIdTokenPermission {
                missing: [(REQUEST_URL_VAR, url.is_none()), (REQUEST_TOKEN_VAR, token.is_none())]
                    .iter()
                    .filter(|(_, missing)| *missing)
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(" and "),
            }),
        }
    }

    /// Fetches one token for `audience` (under the network policy).
    pub(crate) async fn fetch(
        &self,
        http: &reqwest::Client,
        policy: &NetworkPolicy,
        audience: &str,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<IdToken, KeylessError> {
        let mut url = reqwest::Url::parse(&self.url)
            .map_err(|e| KeylessError::TokenEndpoint { url: self.url.clone(), reason: format!("not a URL: {e}") })?;
        url.query_pairs_mut().append_pair("audience", audience);
        let shown = {
            let mut u = url.clone();
            u.set_query(None);
            u.to_string()
        };
        let response = policy
            .send(
                "requesting the GitHub OIDC token",
                || {
                    http.get(url.clone())
                        .bearer_auth(self.token.expose())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .send()
                },
                on_retry,
            )
            .await
            .map_err(|e| KeylessError::TokenEndpoint { url: shown.clone(), reason: crate::net::root_cause(&e) })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(KeylessError::TokenEndpoint { url: shown, reason: format!("{status}: {}", body.trim()) });
        }
        let value: Value = serde_json::from_str(&body).map_err(|e| KeylessError::TokenEndpoint {
            url: shown.clone(),
            reason: format!("the answer is not JSON: {e}"),
        })?;
        let jwt = value.get("value").and_then(Value::as_str).ok_or_else(|| KeylessError::TokenEndpoint {
            url: shown.clone(),
            reason: "the answer has no `value`".into(),
        })?;
        IdToken::parse(jwt)
    }
}

/// An OIDC identity token and its (unverified) claims.
#[derive(Debug, Clone)]
pub(crate) struct IdToken {
    jwt: Secret,
    claims: Value,
}

impl IdToken {
    pub(crate) fn parse(jwt: &str) -> Result<Self, KeylessError> {
        let payload = jwt.split('.').nth(1).ok_or_else(|| KeylessError::BadToken("it is not a JWT".into()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|e| KeylessError::BadToken(format!("its payload is not base64url: {e}")))?;
        let claims: Value = serde_json::from_slice(&bytes)
            .map_err(|e| KeylessError::BadToken(format!("its claims are not JSON: {e}")))?;
        if !claims.is_object() {
            return Err(KeylessError::BadToken("its claims are not a JSON object".into()));
        }
        Ok(IdToken { jwt: Secret::new(jwt), claims })
    }

    pub(crate) fn jwt(&self) -> &Secret {
        &self.jwt
    }

    /// A string claim.
    pub(crate) fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub(crate) fn claims(&self) -> &Value {
        &self.claims
    }

    /// The certificate identity Fulcio will issue: `https://github.com/<job_workflow_ref>`.
    pub(crate) fn identity(&self, server_url: &str) -> Option<String> {
        self.claim("job_workflow_ref").map(|r| format!("{}/{r}", server_url.trim_end_matches('/')))
    }

    /// Checks what Fulcio checks before it issues a certificate: issuer, audience, expiry
    /// and the claims of its GitHub principal.
    pub(crate) fn check_for_fulcio(&self, now: u64) -> Result<(), KeylessError> {
        let iss = self.claim("iss").unwrap_or_default();
        if !iss.starts_with("https://token.actions.") {
            return Err(KeylessError::Claims(format!("its issuer is {iss:?}, not GitHub Actions ({GITHUB_ISSUER})")));
        }
        let aud_ok = match self.claims.get("aud") {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(list)) => list.iter().any(|a| a == AUDIENCE),
            _ => false,
        };
        if !aud_ok {
            return Err(KeylessError::Claims(format!("its audience is {}, not {AUDIENCE:?}", self.claims["aud"])));
        }
        match self.claims.get("exp").and_then(Value::as_u64) {
            Some(exp) if exp > now => {}
            Some(exp) => return Err(KeylessError::Claims(format!("it expired {} s ago", now - exp))),
            None => return Err(KeylessError::Claims("it has no `exp`".into())),
        }
        let missing: Vec<&str> =
            FULCIO_REQUIRED_CLAIMS.iter().copied().filter(|name| self.claim(name).is_none_or(str::is_empty)).collect();
        if !missing.is_empty() {
            return Err(KeylessError::Claims(format!(
                "Fulcio needs the claims {} and the token lacks them",
                missing.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(claims: Value) -> IdToken {
        let jwt = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()));
        IdToken::parse(&jwt).unwrap()
    }

    fn github_claims() -> Value {
        let mut claims = json!({"iss": GITHUB_ISSUER, "aud": "sigstore", "exp": 2_000_000_000u64, "sub": "repo:acme/hello:ref:refs/tags/v1"});
        for name in FULCIO_REQUIRED_CLAIMS {
            claims[name] = json!(format!("{name}-value"));
        }
        claims["job_workflow_ref"] = json!("acme/hello/.github/workflows/release.yml@refs/tags/v1");
        claims
    }

    #[test]
    fn a_github_token_passes_and_names_its_identity() {
        let t = token(github_claims());
        t.check_for_fulcio(1_900_000_000).unwrap();
        assert_eq!(
            t.identity("https://github.com").unwrap(),
            "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1"
        );
    }

    #[test]
    fn missing_claims_wrong_audience_and_expiry_are_named() {
        let mut claims = github_claims();
        claims.as_object_mut().unwrap().remove("run_attempt");
        claims["workflow_sha"] = json!("");
        let err = token(claims).check_for_fulcio(1).unwrap_err().to_string();
        assert!(err.contains("workflow_sha, run_attempt"), "{err}");

        let mut claims = github_claims();
        claims["aud"] = json!("nobody");
        assert!(token(claims).check_for_fulcio(1).unwrap_err().to_string().contains("audience"));

        let err = token(github_claims()).check_for_fulcio(2_000_000_010).unwrap_err().to_string();
        assert!(err.contains("expired 10 s ago"), "{err}");
    }

    #[test]
    fn without_the_variables_the_permission_is_named() {
        let env = Environment::empty().with("GITHUB_ACTIONS", "true").with(REQUEST_URL_VAR, "http://x/?a=1");
        let err = TokenRequest::from_env(&env).unwrap_err();
        assert!(err.to_string().contains(REQUEST_TOKEN_VAR), "{err}");
        let help = crate::error::Diagnose::help(&err).unwrap();
        assert!(help.contains("id-token: write") && help.contains("fork"), "{help}");
        assert!(matches!(TokenRequest::from_env(&Environment::empty()), Err(KeylessError::NotInActions)));
    }
}
