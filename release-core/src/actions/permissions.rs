//! The `GITHUB_TOKEN` permission model: what a release needs and what a job gets.
//!
//! What a release needs follows from its config alone: `contents: write` to create the
//! GitHub release and upload its assets when `[github]` is configured, `packages: write` to
//! push to `ghcr.io` when a chart is pushed there, `id-token: write` when crates are published
//! with trusted publishing (`crates.trusted-publishing`) or files are signed keyless
//! (`signing.mode = "keyless"`; one grant serves both), `attestations: write` when keyless
//! signing also stores build provenance with GitHub (`signing.provenance` with `[github]`),
//! nothing else. Key-pair signing needs no permission.
//!
//! What a job gets: its own `permissions:` block when it has one, else the workflow's, else
//! the repository's default ("Settings → Actions → General → Workflow permissions", which
//! may be read-only). A block may be `read-all`, `write-all`, or a mapping; **listing any
//! permission sets every unlisted one to `none`** (so `{}` grants nothing at all).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;

use super::yaml::{Node, Positioned};

/// The access a token has to one scope, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    None,
    Read,
    Write,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        match text {
            "none" => Some(Level::None),
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            _ => None,
        }
    }
}

/// The scope a GitHub release is written with.
pub(crate) const CONTENTS: &str = "contents";
/// The scope a push to `ghcr.io` is authorised with.
pub(crate) const PACKAGES: &str = "packages";
/// The scope that lets a job request GitHub OIDC tokens (keyless signing, crates' trusted
/// publishing).
pub(crate) const ID_TOKEN: &str = "id-token";
/// The scope that lets a job store artifact attestations (build provenance).
pub(crate) const ATTESTATIONS: &str = "attestations";

/// One permission the release needs, and what for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub scope: &'static str,
    pub level: Level,
    /// Completes "needed to …".
    pub purpose: String,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.scope, self.level.name())
    }
}

/// The permissions a config's targets need from the job's `GITHUB_TOKEN`, in a fixed order.
pub fn required_permissions(config: &Config) -> Vec<Requirement> {
    let mut needed = Vec::new();
    if config.github.is_some() {
        needed.push(Requirement {
            scope: CONTENTS,
            level: Level::Write,
            purpose: "create the GitHub release and upload its assets".into(),
        });
    }
    if config.charts.iter().filter_map(|chart| chart.push.as_deref()).any(pushes_to_ghcr) {
        needed.push(Requirement { scope: PACKAGES, level: Level::Write, purpose: "push charts to ghcr.io".into() });
    }
    if let Some(crates) = config.crates.as_ref().filter(|c| c.trusted_publishing) {
        needed.push(Requirement {
            scope: ID_TOKEN,
            level: Level::Write,
            purpose: format!("publish crates to {} with trusted publishing (OIDC)", crates.registry_name()),
        });
    }
    if config.signing.as_ref().is_some_and(|s| s.mode == crate::config::SigningMode::Keyless) {
        // One `id-token: write` serves both trusted publishing and keyless signing.
        needed.retain(|r| r.scope != ID_TOKEN);
        needed.push(Requirement {
            scope: ID_TOKEN,
            level: Level::Write,
            purpose: "request the OIDC token keyless signing trades for a Fulcio certificate".into(),
        });
        if config.github.is_some() && config.signing.as_ref().is_some_and(|s| s.provenance) {
            needed.push(Requirement {
                scope: ATTESTATIONS,
                level: Level::Write,
                purpose: "store the build provenance with GitHub's attestations API".into(),
            });
        }
    }
    needed
}

/// Whether an `oci://HOST/PATH` push target is GitHub's container registry.
pub(crate) fn pushes_to_ghcr(target: &str) -> bool {
    let rest = target.strip_prefix("oci://").unwrap_or(target);
    let host = rest.split('/').next().unwrap_or_default();
    host.eq_ignore_ascii_case("ghcr.io")
}

/// The permissions a `permissions:` block grants: a level for every scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Permissions {
    /// The level of every scope the block does not list.
    pub unlisted: Level,
    pub listed: BTreeMap<String, Level>,
}

impl Permissions {
    /// Reads a `permissions:` value: `read-all`, `write-all`, or a mapping of scope to
    /// level. Anything GitHub would reject grants nothing, which is what the job would get
    /// if it ran at all (actionlint reports the syntax itself).
    pub(crate) fn from_yaml(value: &Positioned) -> Permissions {
        match &value.node {
            Node::Scalar(text) if text == "read-all" => Permissions { unlisted: Level::Read, listed: BTreeMap::new() },
            Node::Scalar(text) if text == "write-all" => {
                Permissions { unlisted: Level::Write, listed: BTreeMap::new() }
            }
            Node::Mapping(entries) => Permissions {
                unlisted: Level::None,
                listed: entries
                    .iter()
                    .map(|(key, level)| {
                        (key.text.clone(), level.as_str().and_then(Level::parse).unwrap_or(Level::None))
                    })
                    .collect(),
            },
            _ => Permissions { unlisted: Level::None, listed: BTreeMap::new() },
        }
    }

    pub(crate) fn level(&self, scope: &str) -> Level {
        self.listed.get(scope).copied().unwrap_or(self.unlisted)
    }

    pub(crate) fn satisfies(&self, requirement: &Requirement) -> bool {
        self.level(requirement.scope) >= requirement.level
    }
}

/// Where a job's token permissions come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The job's own `permissions:` block, whose key is on `line`.
    Job { permissions: Permissions, line: usize },
    /// The workflow-level `permissions:` block, whose key is on `line`.
    Workflow { permissions: Permissions, line: usize },
    /// No block anywhere: the repository's (or organisation's) default, which may be
    /// read-only and cannot be seen from the file. In a called (reusable) workflow: the
    /// permissions of the job that calls it.
    RepositoryDefault,
}

impl Grant {
    /// The job-level block replaces the workflow-level one entirely; without either, the
    /// repository default applies.
    pub(crate) fn effective(
        job_block: Option<(&Positioned, usize)>,
        workflow_block: Option<(&Positioned, usize)>,
    ) -> Grant {
        match (job_block, workflow_block) {
            (Some((value, line)), _) => Grant::Job { permissions: Permissions::from_yaml(value), line },
            (None, Some((value, line))) => Grant::Workflow { permissions: Permissions::from_yaml(value), line },
            (None, None) => Grant::RepositoryDefault,
        }
    }

    /// The permissions a block in the file grants; `None` when no block decides.
    pub(crate) fn permissions(&self) -> Option<&Permissions> {
        match self {
            Grant::Job { permissions, .. } | Grant::Workflow { permissions, .. } => Some(permissions),
            Grant::RepositoryDefault => None,
        }
    }
}

/// The `permissions:` block that grants exactly `needed` (plus `contents: read` to check the
/// repository out), in flow style: `{ contents: write, packages: write }`.
pub(crate) fn least_privilege_block(needed: &[Requirement]) -> String {
    let mut scopes: BTreeMap<&str, Level> = BTreeMap::new();
    scopes.insert(CONTENTS, Level::Read);
    for requirement in needed {
        let level = scopes.entry(requirement.scope).or_insert(Level::None);
        *level = (*level).max(requirement.level);
    }
    let inner: Vec<String> = scopes.iter().map(|(scope, level)| format!("{scope}: {}", level.name())).collect();
    format!("{{ {} }}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::yaml::parse;
    use camino::Utf8Path;

    fn permissions(yaml: &str) -> Permissions {
        let doc = parse(&format!("permissions: {yaml}\n")).unwrap();
        Permissions::from_yaml(doc.get("permissions").unwrap().1)
    }

    fn config(toml: &str) -> Config {
        Config::parse(&format!("[project]\nversion = \"1.0.0\"\n{toml}"), Utf8Path::new("/repo/release.toml")).unwrap()
    }

    #[test]
    fn listing_one_permission_sets_the_others_to_none() {
        let granted = permissions("{ packages: write }");
        assert_eq!(granted.level(PACKAGES), Level::Write);
        assert_eq!(granted.level(CONTENTS), Level::None);
        assert_eq!(permissions("{}").level(CONTENTS), Level::None);
    }

    #[test]
    fn shorthands_cover_every_scope() {
        assert_eq!(permissions("read-all").level(CONTENTS), Level::Read);
        assert_eq!(permissions("write-all").level(PACKAGES), Level::Write);
        assert_eq!(permissions("write-all").level("id-token"), Level::Write);
        assert_eq!(permissions("read").level(CONTENTS), Level::None, "not a valid shorthand");
    }

    #[test]
    fn the_job_block_replaces_the_workflow_block_which_replaces_the_default() {
        let doc = parse("permissions: write-all\njob: { contents: read }\n").unwrap();
        let (workflow_key, workflow) = doc.get("permissions").unwrap();
        let (job_key, job) = doc.get("job").unwrap();
        let workflow_block = Some((workflow, workflow_key.line));
        let job_block = Some((job, job_key.line));
        let grant = Grant::effective(job_block, workflow_block);
        assert_eq!(grant, Grant::Job { permissions: permissions("{ contents: read }"), line: 2 });
        assert_eq!(grant.permissions().unwrap().level(PACKAGES), Level::None, "not merged with write-all");
        let grant = Grant::effective(None, workflow_block);
        assert_eq!(grant, Grant::Workflow { permissions: permissions("write-all"), line: 1 });
        assert_eq!(Grant::effective(None, None), Grant::RepositoryDefault);
        assert_eq!(Grant::RepositoryDefault.permissions(), None);
    }

    #[test]
    fn write_satisfies_read_but_not_the_reverse() {
        let read = Requirement { scope: CONTENTS, level: Level::Read, purpose: String::new() };
        let write = Requirement { scope: CONTENTS, level: Level::Write, purpose: String::new() };
        assert!(permissions("{ contents: write }").satisfies(&read));
        assert!(!permissions("{ contents: read }").satisfies(&write));
    }

    #[test]
    fn requirements_follow_the_configured_targets() {
        assert!(required_permissions(&config("")).is_empty());
        let scopes = |c: &Config| required_permissions(c).iter().map(|r| r.to_string()).collect::<Vec<_>>();
        assert_eq!(scopes(&config("[github]\n")), ["contents: write"]);
        let charts = "[[chart]]\npath = \"charts/a\"\npush = \"oci://GHCR.io/acme/charts\"\n";
        assert_eq!(scopes(&config(charts)), ["packages: write"]);
        let elsewhere = "[[chart]]\npath = \"charts/a\"\npush = \"oci://registry.example.com/acme\"\n";
        assert!(scopes(&config(elsewhere)).is_empty(), "only ghcr.io is authorised by GITHUB_TOKEN");
        let signing = "[signing]\nkey = \"cosign.key\"\n";
        assert!(scopes(&config(signing)).is_empty(), "key signing needs no token permission");
        assert!(scopes(&config("[crates]\n")).is_empty(), "a stored crates token needs no job permission");
        assert_eq!(scopes(&config("[crates]\ntrusted-publishing = true\n")), ["id-token: write"]);
    }

    #[test]
    fn least_privilege_block_keeps_checkout_working() {
        assert_eq!(least_privilege_block(&[]), "{ contents: read }");
        let config = config("[github]\n[[chart]]\npath = \"c\"\npush = \"oci://ghcr.io/a/b\"\n");
        assert_eq!(least_privilege_block(&required_permissions(&config)), "{ contents: write, packages: write }");
    }

    #[test]
    fn keyless_signing_asks_for_id_token_write_and_key_signing_does_not() {
        let dir = camino::Utf8Path::new("/tmp");
        let config = |signing: &str| {
            crate::config::Config::parse(
                &format!("[project]\nversion = \"1.0.0\"\n[signing]\n{signing}"),
                &dir.join("release.toml"),
            )
            .unwrap()
        };
        let keyless = required_permissions(&config("mode = \"keyless\"\n"));
        assert!(keyless.iter().any(|r| r.scope == ID_TOKEN && r.level == Level::Write), "{keyless:?}");
        assert!(required_permissions(&config("key = \"cosign.key\"\n")).iter().all(|r| r.scope != ID_TOKEN));
    }
}
