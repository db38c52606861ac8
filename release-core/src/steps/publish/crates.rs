//! `publish:crates`: the workspace's crates, one by one in dependency order (not
//! `cargo publish --workspace`, which refuses a whole run once any version is on the index,
//! so it cannot finish a half-published workspace).
//!
//! 1. `cargo package` every crate (one call, so that a crate is packaged against its
//!    siblings' new versions) and hash each `.crate`.
//! 2. Read each crate's index line for the version: the same `cksum` as our `.crate` → already
//!    published, skipped; another `cksum` → that version is burned, and the run stops before
//!    anything is uploaded; no line → to upload.
//! 3. Upload in order (our own request: the binary body of A1), then wait for the index line
//!    with our own poll, under the network policy; a 429's `Retry-After` date is waited out
//!    when it fits in `crates.max-publish-minutes`. An upload whose answer was lost is sent
//!    again; "already uploaded" (then, or because the index was behind) means: wait for the
//!    index line and compare its `cksum`.
//! 4. With trusted publishing, a token is minted for the uploads (never the preflight's),
//!    minted again before an upload once it is older than 25 minutes or when the registry
//!    says it expired, and revoked at the end, failure or not.
//!
//! A crate version is public and permanent the moment it is uploaded, so this step runs after
//! every other upload of the publish stage was read back and before the finalize stage makes
//! the GitHub release visible. A re-run after a failure finds what was uploaded on the index
//! and continues with the rest.

use std::time::{Duration, Instant, SystemTime};

use crate::crates::client::{self, RegistryError, is_already_uploaded, publish_body};
use crate::crates::{
    CratesSettings, Planned, RegistryClient, TP_REMINT_AFTER, TokenChoice, help_for, minutes, publish_metadata,
};
use crate::error::StepError;
use crate::net::RetryNotice;
use crate::plan::{Effect, Stage, StepId};
use crate::secret::Secret;
use crate::step::{Step, StepContext, StepMeta, StepResult};

#[derive(Debug)]
pub(crate) struct PublishCrates {
    pub settings: CratesSettings,
}

/// The token of the uploads: a stored one, or a trusted-publishing one and when it was minted.
enum UploadToken {
    Stored(Secret),
    Trusted { token: Secret, minted: Instant, request_url: String, request_token: Secret },
}

impl UploadToken {
    fn secret(&self) -> &Secret {
        match self {
            UploadToken::Stored(token) | UploadToken::Trusted { token, .. } => token,
        }
    }
}

/// What the index says about our version.
enum Found {
    Ours,
    Other(String),
    Absent,
}

#[async_trait::async_trait]
impl Step for PublishCrates {
    fn meta(&self) -> StepMeta {
        let description: String = {
            format!(
                "package the crates, then publish them to {} one by one in dependency order (skip a version the index has with our bytes, stop on one with other bytes), waiting for each on the index",
                self.settings.registry()
            )
        };
        StepMeta::new(StepId::new(Stage::Publish, "crates"), Effect::Publish, description)
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let registry = self.settings.registry().to_owned();
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        let (metadata, planned) = self.settings.planned(cx).await?;
        let session = cx.crates(&self.settings).await?;
        let (choice, client) = (&session.choice, &session.client);

        // 1. Package every crate, in one call.
        let packaged = self.settings.package(cx, &metadata, &planned, self.settings.config.verify).await?;
        let packaged: Vec<(&Planned, Vec<u8>, String)> =
            planned.iter().zip(packaged).map(|(krate, (bytes, sha256))| (krate, bytes, sha256)).collect();

        // 2. What the index has: skip ours, stop on other bytes before any upload.
        let mut to_upload = Vec::new();
        let mut skipped = Vec::new();
        for (krate, bytes, sha256) in &packaged {
            match self.found(client, krate, sha256, &announce).await? {
                Found::Ours => {
                    cx.progress(format!(
                        "{} {} is already on {registry} with our bytes (cksum {sha256}): skipped",
                        krate.name(),
                        krate.version()
                    ));
                    skipped.push(format!("{} {}", krate.name(), krate.version()));
                }
                Found::Other(theirs) => {
                    return Err(crate::crates::burned(
                        krate,
                        &registry,
                        &theirs,
                        sha256,
                        "nothing was uploaded by this run",
                    ));
                }
                Found::Absent => to_upload.push((*krate, bytes, sha256)),
            }
        }
        if to_upload.is_empty() {
            return Ok(Some(format!("every crate was already on {registry}: {}", skipped.join(", "))));
        }

        // 3, 4. The token, the uploads, the revoke.
        let mut token = match &choice {
            TokenChoice::Stored { token, .. } => UploadToken::Stored(token.clone()),
            TokenChoice::Trusted { request_url, request_token } => UploadToken::Trusted {
                token: crate::crates::trusted::exchange(cx, client, request_url, request_token, &registry).await?,
                minted: Instant::now(),
                request_url: request_url.clone(),
                request_token: request_token.clone(),
            },
        };
        let deadline = Instant::now() + Duration::from_secs(self.settings.config.max_publish_minutes * 60);
        let mut published: Vec<String> = Vec::new();
        let mut outcome = Ok(());
        for (krate, bytes, sha256) in &to_upload {
            if cx.is_cancelled() {
                outcome = Err(StepError::new("interrupted between crate uploads"));
                break;
            }
            if let Err(err) =
                self.upload(cx, client, &mut token, choice, krate, bytes, sha256, deadline, &announce).await
            {
                outcome = Err(err);
                break;
            }
            published.push(format!("{} {}", krate.name(), krate.version()));
        }
        if let UploadToken::Trusted { token, .. } = &token
            && let Err(err) = client.revoke(token, &announce).await
        {
            cx.warn(format!("the trusted publishing token was not revoked ({err}); it expires within 30 minutes"));
        }
        if let Err(err) = outcome {
            let done = if published.is_empty() && skipped.is_empty() {
                "no crate of this release is on the registry".to_owned()
            } else {
                let mut all = skipped.clone();
                all.extend(published.iter().cloned());
                format!("already on {registry}: {}", all.join(", "))
            };
            let help = err.help().unwrap_or("").to_owned();
            return Err(StepError::new(format!("{}\n{done}", err.message())).with_help(format!(
                "{help}\nrun the release again: crates already on the index with our bytes are skipped and the rest published"
            )));
        }
        cx.set_output("crates", published.iter().chain(&skipped).cloned().collect::<Vec<_>>().join(", "));
        let skipped_note =
            if skipped.is_empty() { String::new() } else { format!(" ({} already there)", skipped.len()) };
        Ok(Some(format!("published to {registry}: {}{skipped_note}", published.join(", "))))
    }
}

impl PublishCrates {
    async fn found(
        &self,
        client: &RegistryClient,
        krate: &Planned,
        sha256: &str,
        announce: client::Announce<'_>,
    ) -> Result<Found, StepError> {
        let entries = client.index_entries(krate.name(), announce).await.map_err(|e| StepError::new(e.to_string()))?;
        let line = entries.unwrap_or_default().into_iter().find(|e| e.is_version(&krate.version()));
        Ok(match line {
            Some(line) if line.cksum == sha256 => Found::Ours,
            Some(line) => Found::Other(line.cksum),
            None => Found::Absent,
        })
    }

    /// One crate: upload (again when the answer was lost, after a rate limit, or with a
    /// fresh trusted-publishing token), then wait for the index line.
    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        cx: &StepContext<'_>,
        client: &RegistryClient,
        token: &mut UploadToken,
        choice: &TokenChoice,
        krate: &Planned,
        bytes: &[u8],
        sha256: &str,
        deadline: Instant,
        announce: client::Announce<'_>,
    ) -> Result<(), StepError> {
        let registry = self.settings.registry();
        let label = format!("{} {}", krate.name(), krate.version());
        let index = self.settings.config.registry.as_ref().and(self.settings.config.index.as_deref());
        let body = publish_body(&publish_metadata(&krate.package, index), bytes);
        let policy = crate::net::NetworkPolicy::from(&self.settings.network);
        let mut attempt = 1;
        let mut reminted = false;
        loop {
            if let UploadToken::Trusted { minted, request_url, request_token, .. } = token
                && minted.elapsed() > TP_REMINT_AFTER
            {
                let (url, request) = (request_url.clone(), request_token.clone());
                self.remint(cx, client, token, &url, &request).await?;
            }
            cx.progress(format!("uploading {label} to {registry} ({} bytes)", bytes.len()));
            let what = format!("the upload of {label}");
            match client.publish(token.secret(), body.clone(), &what).await {
                Ok(()) => break,
                Err(err) if is_already_uploaded(&err) => {
                    // An earlier attempt's answer was lost, or the index (behind a CDN) did not
                    // list the version yet: the index's cksum tells whose bytes these are.
                    cx.progress(format!("{label}: \"{}\"; comparing the index's cksum with ours", err.detail()));
                    break;
                }
                Err(RegistryError::Refused { status: 429, detail, retry_at, .. }) => {
                    let at = retry_at.unwrap_or_else(|| SystemTime::now() + policy.delay(attempt, None));
                    let wait = at.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_secs(1);
                    if Instant::now() + wait > deadline {
                        return Err(StepError::new(format!(
                            "{registry} rate-limited the upload of {label}: \"{detail}\"; waiting {} minute(s) would pass `crates.max-publish-minutes` ({})",
                            minutes(wait),
                            self.settings.config.max_publish_minutes
                        ))
                        .with_help(help_for(&detail, choice, registry, krate.name())));
                    }
                    cx.warn(format!(
                        "{registry} rate-limited the upload of {label}; waiting until {} as it asks",
                        httpdate::fmt_http_date(at)
                    ));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cx.cancelled() => return Err(StepError::new(format!("interrupted while waiting out the rate limit before {label}"))),
                    }
                }
                Err(RegistryError::Refused { status: 403, detail, .. })
                    if detail.contains("Invalid authentication token")
                        && matches!(token, UploadToken::Trusted { .. })
                        && !reminted =>
                {
                    cx.warn(format!("the trusted publishing token expired before {label}: minting a new one"));
                    if let UploadToken::Trusted { request_url, request_token, .. } = token {
                        let (url, request) = (request_url.clone(), request_token.clone());
                        self.remint(cx, client, token, &url, &request).await?;
                    }
                    reminted = true;
                }
                Err(err @ RegistryError::Transport { .. })
                | Err(err @ RegistryError::Refused { status: 500.., .. })
                    if attempt < policy.attempts =>
                {
                    let wait = policy.delay(attempt, None);
                    announce(&RetryNotice {
                        what: what.clone(),
                        reason: err.detail().to_owned(),
                        next_attempt: attempt + 1,
                        attempts: policy.attempts,
                        wait,
                        asked_by_server: false,
                    });
                    tokio::time::sleep(wait).await;
                }
                Err(err) => {
                    let status = err.status().map(|s| format!("{s} ")).unwrap_or_default();
                    return Err(StepError::new(format!(
                        "{registry} refused the upload of {label}: {status}\"{}\"",
                        err.detail()
                    ))
                    .with_help(help_for(err.detail(), choice, registry, krate.name())));
                }
            }
            attempt += 1;
        }
        self.wait_for_index(cx, client, krate, sha256, &label, announce).await
    }

    async fn remint(
        &self,
        cx: &StepContext<'_>,
        client: &RegistryClient,
        token: &mut UploadToken,
        request_url: &str,
        request_token: &Secret,
    ) -> Result<(), StepError> {
        let announce = |notice: &RetryNotice| cx.warn(notice.to_string());
        if let UploadToken::Trusted { token: old, .. } = token {
            let _ = client.revoke(old, &announce).await;
        }
        let fresh =
            crate::crates::trusted::exchange(cx, client, request_url, request_token, self.settings.registry()).await?;
        *token = UploadToken::Trusted {
            token: fresh,
            minted: Instant::now(),
            request_url: request_url.to_owned(),
            request_token: request_token.clone(),
        };
        Ok(())
    }

    /// Polls the index until the version's line shows (the registry answers 200 before the
    /// index has it), then compares its `cksum` with ours.
    async fn wait_for_index(
        &self,
        cx: &StepContext<'_>,
        client: &RegistryClient,
        krate: &Planned,
        sha256: &str,
        label: &str,
        announce: client::Announce<'_>,
    ) -> Result<(), StepError> {
        let registry = self.settings.registry();
        let timeout = Duration::from_secs(self.settings.config.index_timeout_secs);
        let start = Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            match self.found(client, krate, sha256, announce).await? {
                Found::Ours => {
                    cx.progress(format!("{label} is on the index of {registry}"));
                    return Ok(());
                }
                Found::Other(theirs) => {
                    return Err(StepError::new(format!(
                        "the index of {registry} lists {label} with cksum {theirs}, not our {sha256}: someone else published that version"
                    ))
                    .with_help(format!("bump the version of {} and release again", krate.name())));
                }
                Found::Absent if start.elapsed() >= timeout => {
                    return Err(StepError::new(format!(
                        "{label} was uploaded to {registry} but did not show on its index within {} s",
                        timeout.as_secs()
                    ))
                    .with_help(
                        "the registry's index may be slow: run the release again (the version is skipped once the index lists it), or raise `crates.index-timeout-secs`",
                    ));
                }
                Found::Absent => {}
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = cx.cancelled() => return Err(StepError::new(format!("interrupted while waiting for {label} on the index"))),
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}
