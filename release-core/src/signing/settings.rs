//! The key-mode signing settings of one run, shared by the preflight, sign and verify stages.

use camino::{Utf8Path, Utf8PathBuf};

use crate::artifact::ArtifactKind;
use crate::config::{Config, SigningConfig};
use crate::env::Environment;
use crate::plan::Mode;
use crate::signing::key::PasswordSource;
use crate::signing::{CosignKeyPair, DEFAULT_KEY_FILE, SigningError};

/// The signing settings of one run, resolved against the config's directory.
#[derive(Clone, Debug)]
pub(crate) struct SigningSettings {
    pub key: Utf8PathBuf,
    pub public_key: Option<Utf8PathBuf>,
    pub password_env: String,
    pub snapshot: bool,
    pub ephemeral_in_snapshot: bool,
    /// A throwaway key whatever the key file: a keyless snapshot outside GitHub Actions.
    pub always_ephemeral: bool,
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
            always_ephemeral: false,
        }
    }

    /// Whether this run signs with a throwaway key: only a snapshot run, only when the config
    /// allows it, only when the key file is absent.
    pub(crate) fn ephemeral(&self) -> bool {
        self.snapshot && (self.always_ephemeral || (self.ephemeral_in_snapshot && self.key.symlink_metadata().is_err()))
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
    pub(crate) fn signer(&self, env: &Environment) -> Result<(CosignKeyPair, bool), SigningError> {
        if self.ephemeral() { Ok((CosignKeyPair::ephemeral()?, true)) } else { Ok((self.open_key(env)?.0, false)) }
    }
}

/// Files that are signed: everything published except signatures and the public key.
pub(crate) fn signed(kind: ArtifactKind) -> bool {
    !matches!(kind, ArtifactKind::Signature | ArtifactKind::PublicKey)
}
