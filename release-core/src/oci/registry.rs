//! [`Registry`]: a step's push-scoped handle on one repository of a registry: the run's
//! session, a push token for the repository, and every call under the network policy (retries,
//! the `Retry-After` oci-client drops). The registry conversation of a push lives here, so it
//! can be read and tested without a pipeline.

use std::sync::Arc;

use oci_client::Reference;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;

use crate::config::NetworkConfig;
use crate::error::StepError;
use crate::helm::PackagedChart;
use crate::io::Io;
use crate::net::{GaveUp, RetryListener};
use crate::oci::credentials::Resolution;
use crate::oci::error::{OciAttempt, is_not_found};
use crate::oci::reference::ChartReference;
use crate::oci::retry::{Retries, authorization, push_token, rate_limit_probe};
use crate::oci::session::RegistrySession;

/// A registry as one step pushes to one of its repositories.
pub(crate) struct Registry<'a> {
    pub(crate) session: Arc<RegistrySession>,
    /// The network policy, announcing retries to the step.
    pub(crate) retries: Retries<'a>,
    /// The push-scoped bearer token, where the registry uses token auth.
    pub(crate) token: Option<String>,
    /// The login, as oci-client takes it.
    pub(crate) auth: RegistryAuth,
}

impl RegistrySession {
    /// Logs in for pushing to `reference`'s repository (a refused login is the diagnosed
    /// error, naming `what`), and returns the handle every push call of the step goes through.
    pub(crate) async fn push_scope<'a>(
        self: Arc<Self>,
        reference: &ChartReference,
        what: &str,
        network: &NetworkConfig,
        announce: &'a dyn RetryListener,
    ) -> Result<Registry<'a>, StepError> {
        let mut retries = Retries::new(network, announce);
        let token = push_token(&self.client, reference, &self.credentials, what, &retries).await?;
        retries.rate_limit = rate_limit_probe(&self, &token);
        let auth = self.credentials.login.to_oci();
        Ok(Registry { session: self, retries, token, auth })
    }
}

impl Registry<'_> {
    pub(crate) fn client(&self) -> &oci_client::Client {
        &self.session.client
    }

    /// Who we are at this registry, and where that came from.
    pub(crate) fn credentials(&self) -> &Resolution {
        &self.session.credentials
    }

    /// The `Authorization` header value for a raw request, if any.
    pub(crate) fn authorization(&self) -> Option<String> {
        authorization(&self.token, &self.session.credentials.login)
    }

    /// The digest the registry resolves `target` to, or `None` when it has nothing there.
    pub(crate) async fn manifest_digest(
        &self,
        target: &Reference,
        shown: &str,
    ) -> Result<Option<String>, GaveUp<OciAttempt>> {
        crate::oci::blobs::manifest_digest(&self.retries, self.client(), target, &self.auth, shown).await
    }

    /// The manifest under `target` (its bytes and digest), accepting `media_types`; `None`
    /// when the registry has nothing there.
    pub(crate) async fn pull_manifest(
        &self,
        target: &Reference,
        shown: &str,
        media_types: &[&str],
    ) -> Result<Option<(Vec<u8>, String)>, GaveUp<OciAttempt>> {
        let (client, auth) = (self.client(), &self.auth);
        let found = self
            .retries
            .run(&format!("GET the manifest of {shown}"), |_| async move {
                client.pull_manifest_raw(target, auth, media_types).await.map_err(OciAttempt)
            })
            .await;
        match found {
            Ok((bytes, digest)) => Ok(Some((bytes.to_vec(), digest))),
            Err(gave_up) if is_not_found(&gave_up.error.0) => Ok(None),
            Err(gave_up) => Err(gave_up),
        }
    }

    /// Sends the chart's layer and config blob into `repository`, each unless it is there.
    pub(crate) async fn ensure_chart_blobs(
        &self,
        io: &dyn Io,
        repository: &Reference,
        chart: &PackagedChart,
        manifest: &OciImageManifest,
    ) -> Result<(), GaveUp<OciAttempt>> {
        crate::oci::blobs::ensure_chart_blobs(io, &self.retries, self.client(), repository, chart, manifest).await
    }

    /// PUTs `bytes` as the OCI image manifest at `target` (a tag or its own digest).
    pub(crate) async fn put_manifest(
        &self,
        target: &Reference,
        shown: &str,
        bytes: &[u8],
    ) -> Result<(), GaveUp<OciAttempt>> {
        crate::oci::manifest::put_manifest(&self.retries, self.client(), target, shown, bytes).await
    }

    /// Sends one small blob into `repository` unless it is there.
    pub(crate) async fn ensure_blob(
        &self,
        repository: &Reference,
        blob: &[u8],
        digest: &str,
    ) -> Result<(), GaveUp<OciAttempt>> {
        crate::oci::blobs::ensure_blob(&self.retries, self.client(), repository, blob, digest).await
    }

    /// Reads one blob of `repository` into memory (for small blobs: signatures, indexes).
    pub(crate) async fn pull_blob(
        &self,
        repository: &Reference,
        layer: &oci_client::manifest::OciDescriptor,
    ) -> Result<Vec<u8>, GaveUp<OciAttempt>> {
        let client = self.client();
        self.retries
            .run(&format!("GET the blob {}", layer.digest), |_| async move {
                let mut payload = Vec::new();
                client.pull_blob(repository, layer, &mut payload).await.map_err(OciAttempt)?;
                Ok(payload)
            })
            .await
    }
}
