//! `publish:oci-push:<chart>`: the packaged chart to its registry, with Helm's media types.

use oci_client::manifest::OciImageManifest;

use crate::oci::ChartPush;
use crate::oci::OCI_MANIFEST_MEDIA_TYPE;
use crate::oci::OciSettings;
use crate::oci::diagnose::gave_up_failure;
use crate::oci::error::OciError;
use crate::oci::manifest::PushedChart;
use crate::oci::manifest::chart_manifest;
use crate::oci::manifest::sha256_digest;
use crate::oci::reference::PushTarget;
use crate::plan::Effect;
use crate::plan::Stage;
use crate::plan::StepId;
use crate::step::Step;
use crate::step::StepContext;
use crate::step::StepMeta;
use crate::step::StepResult;
use crate::steps::handoffs::{packaged_chart, pushed_chart};

/// `publish:oci-push:<chart>`: pushes the packaged chart with Helm's media types, by digest
/// only; `finalize:oci-tag:<chart>` tags it in the finalize stage.
#[derive(Debug)]
pub(crate) struct PublishOciPush {
    pub push: ChartPush,
    pub settings: OciSettings,
    /// Keyless: the sign stage signed this run's manifest digest, so that manifest is what
    /// goes under the tag, even where the registry holds the same chart under other
    /// annotations.
    pub pinned: bool,
}

#[async_trait::async_trait]
impl Step for PublishOciPush {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Publish, "oci-push").with_subject(self.push.chart.label()),
            Effect::Publish,
            format!("push chart {} to {}", self.push.chart, self.push.push),
        )
        .consumes(&packaged_chart(&self.push.chart))
        .produces(&pushed_chart(&self.push.chart))
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let chart = cx.handed(&packaged_chart(&self.push.chart))?;
        let what = format!("chart `{}`", chart.name);
        let reference = PushTarget::parse(&self.push.push)?.chart(&chart.name, &chart.version)?;
        let registry = cx.push_scope(&reference, &what, &self.settings).await?;
        let credentials = registry.credentials();
        let fail = |gave_up| gave_up_failure(gave_up, &what, &reference, credentials);
        let oci_ref = &reference.to_oci();

        let (manifest, manifest_bytes) = chart_manifest(&chart, cx.env());
        let digest = sha256_digest(&manifest_bytes);
        // The tag is the finalize stage's: the output naming the tag reference is set there.
        let record = |digest: &str, bytes: &[u8], replaces: Option<String>| {
            cx.set_output(format!("chart.{}.digest", chart.name), digest.to_owned());
            let pushed = PushedChart {
                name: chart.name.clone(),
                reference: reference.clone(),
                digest: digest.to_owned(),
                manifest: bytes.to_vec(),
                replaces,
            };
            cx.hand_off(&pushed_chart(&self.push.chart), pushed)
        };

        // Idempotence: what is under the tag already? Checked before anything is pushed.
        let mut replaces = None;
        let existing = registry.pull_manifest(oci_ref, &reference.to_string(), &[OCI_MANIFEST_MEDIA_TYPE]).await;
        match existing.map_err(fail)? {
            Some((_, existing)) if existing == digest => {
                record(&digest, &manifest_bytes, None)?;
                return Ok(Some(format!("{reference}@{digest} unchanged (already in the registry)")));
            }
            Some((bytes, existing)) => {
                let same_content = serde_json::from_slice::<OciImageManifest>(&bytes).is_ok_and(|old| {
                    old.config.digest == manifest.config.digest
                        && old.layers.iter().map(|l| &l.digest).eq(manifest.layers.iter().map(|l| &l.digest))
                });
                if same_content && !self.pinned {
                    record(&existing, &bytes, None)?;
                    return Ok(Some(format!(
                        "{reference}@{existing} holds the same chart already (its annotations differ); left as is"
                    )));
                }
                if same_content {
                    cx.warn(format!(
                        "{reference} holds the same chart as {existing} under other annotations; this run signed \
                         {digest}, which the tag will name after the undraft"
                    ));
                    replaces = Some(existing);
                } else if !chart.allow_overwrite {
                    return Err(OciError::Exists {
                        what: what.clone(),
                        reference: reference.to_string(),
                        existing,
                        digest,
                        index: self.push.chart.index(),
                    }
                    .into());
                } else {
                    cx.warn(format!(
                        "{reference} exists with different content ({existing}); replacing it (allow-overwrite)"
                    ));
                    replaces = Some(existing);
                }
            }
            None => {}
        }

        // The manifest goes by digest, untagged until the finalize stage; a run that failed
        // after this push finds it here and sends nothing again.
        let target = &reference.to_oci_digest(&digest);
        let where_to = reference.at_digest(&digest);
        let shown = where_to.to_string();
        if registry.manifest_digest(target, &shown).await.map_err(fail)?.as_deref() == Some(&digest) {
            record(&digest, &manifest_bytes, replaces)?;
            return Ok(Some(format!(
                "{where_to} unchanged (already in the registry by digest; tagged `{}` in the finalize stage)",
                reference.tag
            )));
        }
        registry.ensure_chart_blobs(cx, oci_ref, &chart, &manifest).await.map_err(fail)?;
        // A manifest PUT (by tag or by its own digest) is idempotent for the same bytes.
        registry.put_manifest(target, &where_to.to_string(), &manifest_bytes).await.map_err(fail)?;

        // Read back: the digest must now resolve to exactly this manifest.
        let stored =
            registry.manifest_digest(target, &shown).await.map_err(fail)?.unwrap_or_else(|| "nothing".to_owned());
        if stored != digest {
            return Err(OciError::Raced {
                what,
                target: where_to.to_string(),
                stored,
                pushed: "pushed",
                digest,
                signer: false,
            }
            .into());
        }
        record(&digest, &manifest_bytes, replaces)?;
        Ok(Some(format!(
            "pushed {where_to} with {} (by digest; tagged `{}` in the finalize stage)",
            credentials.source, reference.tag
        )))
    }
}
