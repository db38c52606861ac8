//! The keyless signing settings of one run, shared by the preflight and sign stages.

use std::time::Duration;

use crate::config::NetworkConfig;
use crate::error::StepError;
use crate::net::NetworkPolicy;
use crate::signing::keyless::Instance;

/// The settings of keyless signing for one run, resolved against the config's directory.
#[derive(Clone, Debug)]
pub(crate) struct KeylessSettings {
    pub instance: Instance,
    pub network: NetworkConfig,
}

impl KeylessSettings {
    pub(crate) fn new(config: &crate::config::Config, signing: &crate::config::SigningConfig) -> Self {
        let instance = match (&signing.signing_config, &signing.trusted_root) {
            (Some(s), Some(t)) => {
                Instance::Files { signing_config: config.root.join(s), trusted_root: config.root.join(t) }
            }
            _ => Instance::PublicGood,
        };
        KeylessSettings { instance, network: config.network.clone() }
    }

    pub(crate) fn policy(&self) -> NetworkPolicy {
        NetworkPolicy::from(&self.network)
    }

    pub(crate) fn http(&self) -> Result<reqwest::Client, StepError> {
        reqwest::Client::builder()
            .user_agent(concat!("release/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| StepError::new(format!("cannot set up an HTTP client: {e}")))
    }
}
