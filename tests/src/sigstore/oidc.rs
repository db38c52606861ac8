//! The GitHub Actions OIDC token endpoint (protocols-sigstore.md §1).
//!
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud>` with `Authorization: Bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"value": "<JWT>"}`. The JWT is ES256, issued by
//! `https://token.actions.githubusercontent.com`, lives five minutes and carries GitHub's
//! claims; the test Fulcio trusts its key (the JWKS is served at `/.well-known/jwks`).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// GitHub's token issuer.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The workflow run a token describes; every claim is derived from it.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// `OWNER/REPO`.
    pub repository: String,
    /// `refs/tags/v1.2.3`.
    pub git_ref: String,
    pub sha: String,
    /// `.github/workflows/release.yml`.
    pub workflow_path: String,
    pub event_name: String,
    pub run_id: String,
    pub run_attempt: String,
    pub visibility: String,
    /// Claims left out of the token (to test what Fulcio and the preflight refuse).
    pub omit: Vec<String>,
}

impl Workflow {
    pub fn new(repository: &str, git_ref: &str) -> Self {
        Workflow {
            repository: repository.to_string(),
            git_ref: git_ref.to_string(),
            sha: "4f8a9c0e1d2b3a4958675a6b7c8d9e0f1a2b3c4d".into(),
            workflow_path: ".github/workflows/release.yml".into(),
            event_name: "push".into(),
            run_id: "17040001".into(),
            run_attempt: "1".into(),
            visibility: "public".into(),
            omit: Vec::new(),
        }
    }

    /// `OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3`.
    pub fn job_workflow_ref(&self) -> String {
        format!("{}/{}@{}", self.repository, self.workflow_path, self.git_ref)
    }

    /// The certificate identity Fulcio gives this run: `https://github.com/<job_workflow_ref>`.
    pub fn san(&self) -> String {
        format!("https://github.com/{}", self.job_workflow_ref())
    }

    /// The claims of a token for `audience`, issued at `iat`.
    pub fn claims(&self, audience: &str, iat: u64) -> Value {
        let owner = self.repository.split('/').next().unwrap_or_default();
        let mut claims = json!({
            "jti": format!("{:032x}", rand::random::<u128>()),
            "sub": format!("repo:{}:ref:{}", self.repository, self.git_ref),
            "aud": audience,
            "ref": self.git_ref,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": owner,
            "repository_owner_id": "90210",
            "repository_visibility": self.visibility,
            "repository_id": "771100",
            "actor_id": "4242",
            "actor": "octocat",
            "workflow": "release",
            "head_ref": "",
            "base_ref": "",
            "event_name": self.event_name,
            "ref_protected": "true",
            "ref_type": "tag",
            "workflow_ref": self.job_workflow_ref(),
            "workflow_sha": self.sha,
            "job_workflow_ref": self.job_workflow_ref(),
            "job_workflow_sha": self.sha,
            "runner_environment": "github-hosted",
            "run_id": self.run_id,
            "run_number": "12",
            "run_attempt": self.run_attempt,
            "check_run_id": "5550001",
            "iss": ISSUER,
            "nbf": iat.saturating_sub(5),
            "exp": iat + 300,
            "iat": iat,
        });
        if let Some(map) = claims.as_object_mut() {
            for name in &self.omit {
                map.remove(name);
            }
        }
        claims
    }
}

/// The issuer's signing key.
#[derive(Debug)]
pub struct TokenIssuer {
    key: EcdsaKeyPair,
}

impl TokenIssuer {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("an ES256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("an ES256 key");
        TokenIssuer { key }
    }

    /// A signed JWT with these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "test-actions-key"});
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.key.sign(&SystemRandom::new(), signing_input.as_bytes()).expect("sign the token");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// Checks a JWT's signature and returns its claims.
    pub fn verify(&self, jwt: &str) -> Result<Value, String> {
        let mut parts = jwt.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("not a JWT".into());
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|e| format!("signature: {e}"))?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref())
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .map_err(|_| "bad signature".to_string())?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|e| format!("payload: {e}"))?;
        serde_json::from_slice(&payload).map_err(|e| format!("claims: {e}"))
    }

    /// The JWKS document of the issuer.
    pub fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "test-actions-key",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}
