//! The run's session with a crate registry: the token chosen by its one precedence, the
//! client with its API base, and the index's `config.json`, resolved once per run and shared
//! by the preflight probe and the publish step.

use crate::crates::client::{Announce, IndexConfig};
use crate::crates::{CratesSettings, RegistryClient, TokenChoice, resolve_token};
use crate::env::Environment;
use crate::error::StepError;

/// What every crate step starts from.
#[derive(Debug)]
pub(crate) struct CratesSession {
    /// The token the uploads use, and where it comes from.
    pub(crate) choice: TokenChoice,
    /// The registry's client, with its API base.
    pub(crate) client: RegistryClient,
    /// The index's `config.json` (download URLs).
    pub(crate) index: IndexConfig,
}

impl CratesSession {
    /// Chooses the token (no network), then reads the index's config (`announce` hears the
    /// retries).
    pub(crate) async fn open(
        settings: &CratesSettings,
        env: &Environment,
        announce: Announce<'_>,
    ) -> Result<CratesSession, StepError> {
        let choice = resolve_token(&settings.config, env)?;
        let (client, index) = settings.connect(announce).await?;
        Ok(CratesSession { choice, client, index })
    }
}
