//! `sign:keyless`: one fresh OIDC token, one ephemeral key, one Fulcio certificate for the
//! run; every artifact, chart package and `SHA256SUMS` gets `<file>.sigstore.json`, a bundle
//! v0.3 whose message signature is over the file's streamed SHA-256, logged in Rekor v1 as
//! hashedrekord. The session stays in the step context ([`ActiveKeyless`]) for the steps
//! that sign with the same certificate later (provenance).

use std::sync::Arc;

use crate::checksum::sha256_hex;
use crate::error::StepError;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage, StepId};
use crate::secret::{SecretSink, Source};
use crate::signing::bundle::bundle_name;
use crate::signing::keyless::ActiveKeyless;
use crate::signing::keyless::settings::KeylessSettings;
use crate::signing::keyless::token::{AUDIENCE, REQUEST_TOKEN_VAR, REQUEST_URL_VAR};
use crate::signing::keyless::{KeylessSession, Services, TokenRequest};
use crate::step::{Artifact, ArtifactKind, Step, StepContext, StepMeta, StepResult};
use crate::steps::handoffs::keyless_session;

/// Sign stage: a Sigstore bundle for every artifact.
#[derive(Debug)]
pub(crate) struct SignKeyless {
    pub settings: KeylessSettings,
}

fn signed(kind: ArtifactKind) -> bool {
    !matches!(kind, ArtifactKind::Signature | ArtifactKind::PublicKey)
}

#[async_trait::async_trait]
impl Step for SignKeyless {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Sign, "keyless"),
            Effect::Local,
            "sign every artifact and SHA256SUMS keyless (GitHub OIDC → Fulcio → Rekor): FILE.sigstore.json",
        )
        .produces(&keyless_session())
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let request = TokenRequest::from_env(cx.env())?;
        cx.secret_found(&Source::env(REQUEST_TOKEN_VAR), &request.token);
        let services = Arc::new(Services::resolve(&self.settings.instance)?);
        let http = self.settings.http()?;
        let policy = self.settings.policy();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        // A fresh token, right before Fulcio: tokens live five minutes and the build may
        // have taken an hour.
        let token = request.fetch(&http, &policy, AUDIENCE, &announce).await?;
        cx.secret_found(&Source(format!("the OIDC token from {REQUEST_URL_VAR}")), token.jwt());
        cx.progress("requesting the run's signing certificate from Fulcio");
        let session = Arc::new(KeylessSession::start(&token, services, http, policy, &announce).await?);
        drop(token);

        let dist = cx.release().dist.clone();
        let artifacts = cx.artifacts();
        let to_sign: Vec<Artifact> = artifacts.iter().filter(|a| signed(a.kind)).cloned().collect();
        for artifact in &to_sign {
            let name = bundle_name(&artifact.name);
            if let Some(clash) = artifacts.iter().find(|a| a.name == name && a.kind != ArtifactKind::Signature) {
                return Err(StepError::new(format!(
                    "the artifact {} has the name the bundle of {} would take",
                    clash.name, artifact.name
                ))
                .with_help("rename the artifact (`name` in its [[build]] artifacts) so that it does not end in `.sigstore.json`"));
            }
            if cx.is_cancelled() {
                return Err(StepError::new("signing was stopped: the run was interrupted")
                    .with_help("nothing was published; run the release again"));
            }
            cx.progress(format!("signing {}", artifact.name));
            let path = artifact.path.clone();
            let (digest, _) = tokio::task::spawn_blocking(move || crate::checksum::hash_file_raw(&path))
                .await
                .map_err(|e| StepError::new(format!("hashing stopped: {e}")))??;
            let actual = hex::encode(digest);
            if actual != artifact.sha256 {
                return Err(StepError::new(format!(
                    "{} changed after it was collected: its SHA-256 is {actual}, {} was recorded",
                    artifact.path, artifact.sha256
                ))
                .with_help("something rewrote the file in the dist directory during the run; find what and run the release again"));
            }
            let bundle = session.sign_digest(&digest, &announce).await?;
            let json = bundle
                .to_json()
                .map_err(|e| StepError::new(format!("cannot write the bundle of {}: {e}", artifact.name)))?;
            let out = crate::dist::write_file(&dist, &name, json.as_bytes())?;
            cx.add_artifact(Artifact {
                name,
                path: out,
                kind: ArtifactKind::Signature,
                size: json.len() as u64,
                sha256: sha256_hex(json.as_bytes()),
            });
        }
        let summary = format!(
            "signed {} file(s) keyless as {} (one Fulcio certificate from {}, each signature {} {})",
            to_sign.len(),
            session.identity,
            session.services().fulcio_url,
            if session.services().rekor_url.is_some() { "logged in" } else { "timestamped by" },
            session.services().time_source()
        );
        cx.hand_off(&keyless_session(), ActiveKeyless(session))?;
        Ok(Some(summary))
    }
}
