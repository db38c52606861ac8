//! `preflight:dist`: the dist directory can be made and written, proven by making it (or a
//! file in it) and undoing that, before anything is built.
//!
//! Which directories are never used and what the tool may remove there were decided before
//! any step ran ([`crate::dist`]); this probe finds what only trying shows: a dist path that
//! is a file, or lies below one, or a directory the user running release cannot write.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::StepError;
use crate::plan::{Effect, Stage, StepId};
use crate::step::{Step, StepContext, StepMeta, StepResult};

/// Proves the dist directory writable.
#[derive(Debug)]
pub(crate) struct PreflightDist;

#[async_trait::async_trait]
impl Step for PreflightDist {
    fn meta(&self) -> StepMeta {
        StepMeta::new(
            StepId::new(Stage::Preflight, "dist"),
            Effect::Check,
            "check that the dist directory can be made and written",
        )
    }
    async fn run(&self, cx: &StepContext<'_>) -> StepResult {
        let dist = cx.release().dist.clone();
        tokio::task::spawn_blocking(move || probe(&dist))
            .await
            .map_err(|e| StepError::new(format!("the dist check stopped: {e}")))?
            .map(Some)
    }
}

fn probe(dist: &Utf8Path) -> Result<String, StepError> {
    let help = "set `project.dist` (or --dist) to a directory release may make and write, such as `dist`";
    match dist.metadata() {
        Ok(meta) if meta.is_dir() => {
            let probe = dist.join(format!(".release-probe.{}.tmp", std::process::id()));
            let written = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe);
            match written {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                    Ok(format!("{dist} is writable"))
                }
                Err(e) => Err(StepError::new(format!("cannot write into the dist directory {dist}: {e}"))
                    .with_help(format!("make it writable by the user running release, or {help}"))),
            }
        }
        Ok(meta) => {
            Err(StepError::new(format!("the dist directory {dist} is a file ({} bytes), not a directory", meta.len()))
                .with_help(format!("move the file away, or {help}")))
        }
        Err(_) => {
            // Make it, then undo exactly what was made: the deepest existing ancestor stays.
            let mut missing: Vec<Utf8PathBuf> = Vec::new();
            let mut at = Some(dist);
            while let Some(dir) = at.filter(|d| d.symlink_metadata().is_err()) {
                missing.push(dir.to_owned());
                at = dir.parent();
            }
            if let Some(existing) = at
                && !existing.is_dir()
            {
                return Err(StepError::new(format!(
                    "the dist directory {dist} cannot be made: {existing} is a file, not a directory"
                ))
                .with_help(help));
            }
            let made = std::fs::create_dir_all(dist);
            for dir in &missing {
                let _ = std::fs::remove_dir(dir);
            }
            made.map_err(|e| {
                StepError::new(format!("cannot make the dist directory {dist}: {e}"))
                    .with_help(format!("make its parent writable by the user running release, or {help}"))
            })?;
            Ok(format!("{dist} can be made"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_or_a_path_below_a_file_is_refused_and_a_new_directory_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        std::fs::write(root.join("file"), "x").unwrap();
        let err = probe(&root.join("file")).unwrap_err().full_message();
        assert!(err.ends_with("is a file (1 bytes), not a directory"), "{err}");
        let err = probe(&root.join("file/dist")).unwrap_err().full_message();
        assert!(err.contains("cannot be made:") && err.ends_with("file is a file, not a directory"), "{err}");
        assert_eq!(probe(&root.join("a/b/dist")).unwrap(), format!("{root}/a/b/dist can be made"));
        assert!(!root.join("a").exists(), "what the probe made is undone");
        std::fs::create_dir(root.join("dist")).unwrap();
        probe(&root.join("dist")).unwrap();
        assert_eq!(std::fs::read_dir(root.join("dist")).unwrap().count(), 0);
    }
}
