//! The sign stage: every file that will be published gets a signature; the signer is handed to later steps.
//! Also the settings and helpers the signing steps of every stage share.

pub(crate) mod artifacts;
pub(crate) mod keyless;
pub(crate) mod oci_signature;
pub(crate) mod provenance;
#[cfg(test)]
mod tests;

use crate::config::{Config, SigningConfig};
use crate::env::Environment;
use crate::error::StepError;
use crate::plan::Mode;
use crate::signing::key::PasswordSource;
use crate::signing::{CosignKeyPair, DEFAULT_KEY_FILE, SigningError};
use crate::step::{ArtifactKind, StepContext};
use camino::{Utf8Path, Utf8PathBuf};

/// The signing settings of one run, resolved against the config's directory.
#[derive(Clone, Debug)]
pub(crate) struct SigningSettings {
    pub key: Utf8PathBuf,
    pub public_key: Option<Utf8PathBuf>,
    pub password_env: String,
    pub snapshot: bool,
    pub ephemeral_in_snapshot: bool,
}

impl SigningSettings {
    /// Pure: copies paths out of the config.
    pub(crate) fn new(config: &Config, signing: &SigningConfig, mode: Mode) -> Self {
        SigningSettings {
            key: config.root.join(signing.key.as_deref().unwrap_or(Utf8Path::new(DEFAULT_KEY_FILE))),
            public_key: signing.public_key.as_ref().map(|p| config.root.join(p)),
            password_env: signing.password_env.clone(),
            snapshot: mode == Mode::Snapshot,
            ephemeral_in_snapshot: signing.ephemeral_in_snapshot,
        }
    }

    /// Whether this run signs with a throwaway key: only a snapshot run, only when the config
    /// allows it, only when the key file is absent.
    pub(crate) fn ephemeral(&self) -> bool {
        self.snapshot && self.ephemeral_in_snapshot && self.key.symlink_metadata().is_err()
    }

    /// Opens the configured key with its password, naming the key in every error.
    pub(crate) fn open_key(&self, env: &Environment) -> Result<(CosignKeyPair, PasswordSource), SigningError> {
        CosignKeyPair::load_with_password_from(&self.key, env, &self.password_env).map_err(|err| match err {
            SigningError::KeyMissing { path, .. } => {
                SigningError::KeyMissing { path, ephemeral_possible: self.snapshot && !self.ephemeral_in_snapshot }
            }
            other => other,
        })
    }

    /// The signer for this run and whether it is ephemeral.
    fn signer(&self, env: &Environment) -> Result<(CosignKeyPair, bool), SigningError> {
        if self.ephemeral() { Ok((CosignKeyPair::ephemeral()?, true)) } else { Ok((self.open_key(env)?.0, false)) }
    }
}

/// Files that are signed: everything published except signatures and the public key.
pub(crate) fn signed(kind: ArtifactKind) -> bool {
    !matches!(kind, ArtifactKind::Signature | ArtifactKind::PublicKey)
}

pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> Result<T, StepError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StepError::new(format!("{what} stopped: {e}")))?
}

/// A safe point between two files: an interrupted run stops here; nothing half-written stays
/// behind (each `.sig` is written whole).
pub(crate) fn stop_if_interrupted(cx: &StepContext<'_>, what: &str) -> Result<(), StepError> {
    if cx.is_cancelled() {
        return Err(StepError::new(format!("{what} was stopped: the run was interrupted"))
            .with_help("nothing was published; run the release again"));
    }
    Ok(())
}
