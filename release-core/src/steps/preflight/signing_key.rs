//! `preflight:signing-key`: the key opens and matches its public key, before anything is built.

use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::signing::EPHEMERAL_PUBLIC_KEY_NAME;
use crate::signing::SigningError;
use crate::signing::key::PasswordSource;
use crate::signing::public_key::PublicKey;
use crate::signing::settings::SigningSettings;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::blocking;

/// Preflight: the key opens and matches its public key.
#[derive(Debug)]
pub(crate) struct PreflightSigningKey {
    settings: SigningSettings,
}

impl PreflightSigningKey {
    pub(crate) fn new(settings: SigningSettings) -> Self {
        PreflightSigningKey { settings }
    }
}

#[async_trait::async_trait]
impl Step for PreflightSigningKey {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "signing-key"),
            Effect::Check,
            format!("check that {} opens with the password in {}", self.settings.key, self.settings.password_env),
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = self.settings.clone();
        if settings.ephemeral() {
            // The sign step warns when it generates the pair; here the summary says it.
            return Ok(Some(format!(
                "no key at {}: this snapshot run signs with an EPHEMERAL key pair ({EPHEMERAL_PUBLIC_KEY_NAME})",
                settings.key
            )));
        }
        let env = cx.env().clone();
        blocking("checking the signing key", move || {
            let (pair, password) = settings.open_key(&env)?;
            let password = match password {
                PasswordSource::Variable(source) => format!("the password from {source}"),
                PasswordSource::Empty => "the empty password".into(),
            };
            let mut summary = format!("{} opens with {password}", settings.key);
            if let Some(public_key) = &settings.public_key {
                if PublicKey::load(public_key)? != *pair.public_key() {
                    return Err(SigningError::KeyMismatch {
                        key: settings.key.clone(),
                        public_key: public_key.clone(),
                    }
                    .into());
                }
                summary.push_str(&format!(", matches {public_key}"));
            }
            Ok(Some(summary))
        })
        .await
    }
}
