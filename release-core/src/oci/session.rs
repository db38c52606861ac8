//! [`RegistrySession`]: one registry for the whole run: its credentials, resolved once, and
//! the clients every OCI step uses with them.

use crate::env::Environment;
use crate::oci::OciSettings;
use crate::oci::credentials::{self, Resolution};
use crate::secret::SecretSink;

/// A registry as every step of the run talks to it.
pub(crate) struct RegistrySession {
    pub(crate) host: String,
    /// Who we are at this registry, and where that came from.
    pub(crate) credentials: Resolution,
    /// oci-client for this registry (plain HTTP only if configured for it); it keeps the
    /// tokens it obtains, so steps share them.
    pub(crate) client: oci_client::Client,
    /// For the requests oci-client has no API for (the probe's upload session, `HEAD`s that
    /// read `Retry-After`); follows no redirects.
    pub(crate) http: reqwest::Client,
    /// `http` or `https`, as configured for this host.
    pub(crate) scheme: &'static str,
}

impl std::fmt::Debug for RegistrySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySession")
            .field("host", &self.host)
            .field("source", &self.credentials.source)
            .finish_non_exhaustive()
    }
}

impl RegistrySession {
    /// Resolves the credentials for `host` (the one place the credential chain runs) and sets
    /// up the clients.
    pub(crate) async fn open(host: &str, settings: &OciSettings, env: &Environment, secrets: &dyn SecretSink) -> Self {
        let credentials = credentials::resolve(host, settings.registry(host), env, secrets).await;
        RegistrySession {
            host: host.to_owned(),
            credentials,
            client: settings.oci_client(host),
            http: settings.http_client(),
            scheme: settings.scheme(host),
        }
    }
}
