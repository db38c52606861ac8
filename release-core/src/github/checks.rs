//! Checks of the GitHub settings that need no network, and the probe's throwaway tag.

use camino::Utf8PathBuf;

use crate::config::GithubConfig;
use crate::env::Environment;
use crate::github::diagnose::GithubError;

/// The name of the probe's draft. It is made under the release's own tag (a draft creates no
/// git tag), so that GitHub refuses it for a burned tag; the name tells it apart from the
/// release's draft: a retry adopts only a draft of this name, and the publish step deletes one
/// left behind instead of continuing it.
pub(crate) const PROBE_DRAFT_NAME: &str = "release preflight probe (safe to delete)";

/// The throwaway tag of the write probe when the release's tag already has a published release
/// (GitHub refuses any release for it then, draft or not; and a tag with a release is not
/// burned). In GitHub Actions it is named after the run and
/// its attempt, so a retried job never meets its own leftovers under a surprising name;
/// elsewhere a random nonce. (Drafts may share a tag, so even two probes of one run cannot
/// collide: each deletes its own draft by id.)
pub(crate) fn probe_tag(env: &Environment) -> String {
    match (env.in_github_actions(), env.get("GITHUB_RUN_ID"), env.get("GITHUB_RUN_ATTEMPT")) {
        (true, Some(run), Some(attempt)) => format!("release-preflight-run{run}-attempt{attempt}"),
        (true, Some(run), None) => format!("release-preflight-run{run}-attempt1"),
        _ => format!("release-preflight-{:016x}", rand::random::<u64>()),
    }
}

/// Checks that need no network: the notes settings.
pub(crate) fn check_notes(config: &GithubConfig, root: &Utf8PathBuf) -> Result<(), GithubError> {
    if config.notes_file.is_some() && config.generate_notes {
        return Err(GithubError::Local(
            "`github.notes-file` and `github.generate-notes` are both set: keep one of them".into(),
        ));
    }
    if let Some(file) = &config.notes_file {
        let path = root.join(file);
        if !path.is_file() {
            return Err(GithubError::Local(format!(
                "the release notes file {path} (`github.notes-file`) does not exist"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_tag_in_actions_names_run_and_attempt() {
        let env = Environment::empty()
            .with("GITHUB_ACTIONS", "true")
            .with("GITHUB_RUN_ID", "4242")
            .with("GITHUB_RUN_ATTEMPT", "2");
        assert_eq!(probe_tag(&env), "release-preflight-run4242-attempt2");
    }

    #[test]
    fn probe_tag_elsewhere_is_a_nonce() {
        let (a, b) = (probe_tag(&Environment::empty()), probe_tag(&Environment::empty()));
        assert!(a.starts_with("release-preflight-") && a.len() == "release-preflight-".len() + 16, "{a}");
        assert_ne!(a, b);
    }
}
