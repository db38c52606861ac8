//! One session per remote for the whole run.
//!
//! Every step that talks to GitHub with the same API and token gets the same client, whose
//! pacer of mutating requests is fixed when it is built (there is no unpaced client to make by
//! mistake). Every step that talks to the same registry gets the same [`RegistrySession`]:
//! its credentials are resolved once per run (a docker credential helper is spawned once, not
//! once per step) and its oci-client is shared. Every crate step of a registry gets the same
//! [`CratesSession`]: its token chosen and its index read once.
//!
//! The sessions live in the run's state; steps reach them through their context. Nothing
//! here is kept across runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::config::NetworkConfig;
use crate::crates::CratesSettings;
use crate::crates::client::Announce;
use crate::crates::session::CratesSession;
use crate::env::Environment;
use crate::error::StepError;
use crate::github::client::{ApiError, GithubClient};
use crate::github::target::Target;
use crate::oci::OciSettings;
use crate::oci::session::RegistrySession;
use crate::secret::SecretSink;

#[derive(Default)]
pub(crate) struct Sessions {
    /// By API URL and a digest of the token (never the token itself).
    github: Mutex<HashMap<String, GithubClient<'static>>>,
    /// By registry host; resolved at most once, even by concurrent probes.
    registries: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<RegistrySession>>>>>,
    /// By index URL; a failed opening is not kept (the next step tries again and says why).
    crates: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<CratesSession>>>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// The run's client for `target`'s API and token, built on first use.
    // The error carries the whole failed exchange, as everywhere in `github`.
    #[allow(clippy::result_large_err)]
    pub(crate) fn github(&self, target: &Target, network: &NetworkConfig) -> Result<GithubClient<'static>, ApiError> {
        let key = format!("{} {}", target.api_url, hex::encode(Sha256::digest(target.token.expose().as_bytes())));
        let mut clients = self.github.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = GithubClient::new(target, network)?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The run's session with the registry `host`; the first caller resolves its credentials
    /// (reporting every secret it finds to `secrets`), later callers wait for and share it.
    /// The second value is true for the caller that resolved it.
    pub(crate) async fn registry(
        &self,
        host: &str,
        settings: &OciSettings,
        env: &Environment,
        secrets: &dyn SecretSink,
    ) -> (Arc<RegistrySession>, bool) {
        let cell = {
            let mut registries = self.registries.lock().unwrap_or_else(|e| e.into_inner());
            registries.entry(host.to_owned()).or_default().clone()
        };
        let mut first = false;
        let session = cell
            .get_or_init(|| async {
                first = true;
                Arc::new(RegistrySession::open(host, settings, env, secrets).await)
            })
            .await
            .clone();
        (session, first)
    }

    /// The run's session with the crate registry of `settings`, opened by the first caller.
    pub(crate) async fn crates(
        &self,
        settings: &CratesSettings,
        env: &Environment,
        announce: Announce<'_>,
    ) -> Result<Arc<CratesSession>, StepError> {
        let cell = {
            let mut sessions = self.crates.lock().unwrap_or_else(|e| e.into_inner());
            sessions.entry(settings.config.index_url().to_owned()).or_default().clone()
        };
        cell.get_or_try_init(|| async { CratesSession::open(settings, env, announce).await.map(Arc::new) })
            .await
            .cloned()
    }
}
