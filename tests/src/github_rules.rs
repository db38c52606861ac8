//! What GitHub enforces around a release beyond tokens and permissions: immutable releases,
//! burned tags, tag rulesets (repository and organisation level) and release attestations.
//! `github_server.rs` holds one [`Rules`] in its world and calls in here; everything the
//! model decides is in this file.
//!
//! The facts, with their sources (quoted bodies are GitHub's own, as reported in public
//! threads; the rest of each body is modelled on GitHub's usual `Validation Failed` shape):
//!
//! - **Immutable releases** (docs.github.com, "Immutable releases", GA 2025-10-28): once a
//!   release of a repository with immutability enabled is published, its tag and assets are
//!   locked; the release JSON says `"immutable": true`. Uploading to it answers 422
//!   `Cannot upload assets to an immutable release` (openedx/sample-plugin#57, vite-plus#1558,
//!   rubyists/linear-cli-ex#18). Deleting an asset of it is modelled as the same kind of 422
//!   (`Cannot delete assets of an immutable release`: UNVERIFIED wording). Drafts are never
//!   immutable: the documented workflow is draft, attach, publish.
//! - **Burned tags**: deleting an immutable release burns its tag; creating a release for it
//!   answers (community discussion #178351):
//!   `{"message":"Validation Failed","errors":[{"resource":"Release","code":"custom",
//!   "field":"tag_name","message":"tag_name was used by an immutable release"}],
//!   "documentation_url":"https://docs.github.com/rest/releases/releases#create-a-release",
//!   "status":"422"}`. Whether a *draft* create is refused too is not documented. This server
//!   refuses it (the assumption the preflight's burned-tag probe relies on; see
//!   `docs/troubleshooting.md`), and refuses the undraft of a draft made before the burn with
//!   the same error, plus `Published releases must have a valid tag` (InternationalColorConsortium/iccDEV#1084
//!   shows both at a `PATCH /releases/{id}`). [`Rules::drafts_of_burned_tags`] turns the draft
//!   refusal off, to test the case where only the undraft finds out.
//! - **Tag rulesets** (REST "Rules" endpoints): `GET /repos/{o}/{r}/rulesets` lists the
//!   repository's rulesets and, with `includes_parents=true` (the default), the organisation's
//!   that apply to it (`source_type` `Repository` or `Organization`, `source` the repository's
//!   or organisation's name); `GET /repos/{o}/{r}/rulesets/{id}` gives `conditions.ref_name`
//!   (`include`/`exclude`, `~ALL`, `refs/tags/…` fnmatch patterns), `rules` (`creation`,
//!   `update`, `deletion`, `non_fast_forward`, …), `enforcement` and
//!   `current_user_can_bypass` (`always`, `pull_requests_only`, `never`). A token without
//!   read access to them gets a 403 (modelled with [`GithubServer::hide_rulesets`](crate::github_server::GithubServer::hide_rulesets)). Publishing a
//!   draft creates its tag; an active ruleset with `creation` that covers the tag and that the
//!   caller cannot bypass answers (googleapis/release-please-action#1194):
//!   `{"message":"Validation Failed","errors":[{"resource":"Release","code":"custom",
//!   "field":"pre_receive","message":"pre_receive Repository rule violations found\n\nCannot
//!   create ref due to creations being restricted.\n\n"},{"resource":"Release","code":"custom",
//!   "message":"Published releases must have a valid tag"}],…,"status":"422"}`. A tag that
//!   already exists is not created, so `creation` does not apply to it.
//! - **Release attestations**: publishing an immutable release makes GitHub attest it. `gh
//!   release verify` (cli/cli `pkg/cmd/release/verify`) resolves the tag to its commit
//!   (`GET /repos/{o}/{r}/git/ref/tags/{tag}` → `object.sha`) and lists
//!   `GET /repos/{o}/{r}/attestations/sha1:{sha}?predicate_type=release`; each answer holds a
//!   Sigstore bundle whose DSSE payload is an in-toto statement of predicate type
//!   `https://in-toto.io/attestation/release/v0.1`, predicate `{ownerId, purl, releaseId,
//!   repository, repositoryId, tag}`, subjects the tag's commit (`{"uri": purl, "digest":
//!   {"sha1": …}}`) and one `{"name", "digest": {"sha256"}}` per asset. This server does not
//!   sign the bundle (nothing here checks GitHub's signature); [`GithubServer::tamper_attestation`](crate::github_server::GithubServer::tamper_attestation)
//!   makes the next attestation of a repository name a wrong digest for one asset. The listing
//!   itself (`bundle: null` and a `bundle_url`, as GitHub answers since 2026-07-16) is
//!   `github_server.rs`'s, for these and for the attestations stored with `POST`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Who may bypass a ruleset: the value of `current_user_can_bypass` for every caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bypass {
    Always,
    PullRequestsOnly,
    Never,
}

impl Bypass {
    fn name(self) -> &'static str {
        match self {
            Bypass::Always => "always",
            Bypass::PullRequestsOnly => "pull_requests_only",
            Bypass::Never => "never",
        }
    }
}

/// A tag ruleset, at the repository or the organisation level.
#[derive(Clone, Debug)]
pub struct RulesetSpec {
    pub id: u64,
    pub name: String,
    /// `tag`, `branch` or `push`.
    pub target: String,
    /// `active`, `evaluate` or `disabled`.
    pub enforcement: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Rule types: `creation`, `update`, `deletion`, `non_fast_forward`, ...
    pub rules: Vec<String>,
    pub bypass: Bypass,
}

impl RulesetSpec {
    /// An active tag ruleset with these rules over these `include` patterns, nobody bypasses.
    pub fn tags(id: u64, name: &str, include: &[&str], rules: &[&str]) -> Self {
        RulesetSpec {
            id,
            name: name.to_owned(),
            target: "tag".into(),
            enforcement: "active".into(),
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: Vec::new(),
            rules: rules.iter().map(|s| s.to_string()).collect(),
            bypass: Bypass::Never,
        }
    }

    pub fn bypass(mut self, bypass: Bypass) -> Self {
        self.bypass = bypass;
        self
    }

    pub fn exclude(mut self, patterns: &[&str]) -> Self {
        self.exclude = patterns.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// The rules of the server's world.
#[derive(Debug, Default)]
pub struct Rules {
    /// Repositories with release immutability enabled.
    pub immutable: BTreeSet<String>,
    /// Tags of deleted immutable releases, per repository.
    pub burned: BTreeMap<String, BTreeSet<String>>,
    /// Whether creating a draft for a burned tag is allowed (refused by default; see the
    /// module documentation).
    pub drafts_of_burned_tags: bool,
    /// Repository rulesets, per repository.
    pub repository_rulesets: BTreeMap<String, Vec<RulesetSpec>>,
    /// Organisation rulesets, per organisation (they apply to every repository of it).
    pub organisation_rulesets: BTreeMap<String, Vec<RulesetSpec>>,
    /// Repositories whose rulesets the caller may not read (403).
    pub hidden_rulesets: BTreeSet<String>,
    /// Release attestations: (repository, commit sha) → (attestation id, statement).
    pub attestations: BTreeMap<(String, String), Vec<(u64, Value)>>,
    /// Per repository: an asset name whose digest the next attestation gets wrong.
    pub tampered: BTreeMap<String, String>,
}

/// The commit a tag of this server points at: a stable fake sha1 (40 hex digits).
pub fn commit_of(repository: &str, tag: &str) -> String {
    hex::encode(Sha256::digest(format!("{repository}@{tag}").as_bytes()))[..40].to_owned()
}

const UPDATE_DOC: &str = "https://docs.github.com/rest/releases/releases#update-a-release";
const CREATE_DOC: &str = "https://docs.github.com/rest/releases/releases#create-a-release";
const UPLOAD_DOC: &str = "https://docs.github.com/rest/releases/assets#upload-a-release-asset";

impl Rules {
    pub fn is_immutable_repository(&self, repository: &str) -> bool {
        self.immutable.contains(repository)
    }

    pub fn is_burned(&self, repository: &str, tag: &str) -> bool {
        self.burned.get(repository).is_some_and(|t| t.contains(tag))
    }

    /// Every ruleset that applies to a repository: its own, then its organisation's.
    fn rulesets_of(&self, repository: &str) -> Vec<(&RulesetSpec, &'static str, String)> {
        let owner = repository.split('/').next().unwrap_or_default().to_owned();
        let own = self.repository_rulesets.get(repository).into_iter().flatten();
        let org = self.organisation_rulesets.get(&owner).into_iter().flatten();
        own.map(|r| (r, "Repository", repository.to_owned()))
            .chain(org.map(|r| (r, "Organization", owner.clone())))
            .collect()
    }

    /// The 422 for creating (`draft`) or publishing a release of `tag`, if GitHub refuses it.
    /// `creating_tag`: the tag does not exist yet and publishing would create it.
    pub fn refusal(&self, repository: &str, tag: &str, draft: bool, creating_tag: bool, update: bool) -> Option<Value> {
        let doc = if update { UPDATE_DOC } else { CREATE_DOC };
        let mut errors = Vec::new();
        if self.is_burned(repository, tag) && (!draft || !self.drafts_of_burned_tags) {
            errors.push(json!({"resource": "Release", "code": "custom", "field": "tag_name", "message": "tag_name was used by an immutable release"}));
        }
        if !draft && creating_tag && self.creation_restricted(repository, tag) {
            errors.insert(0, json!({"resource": "Release", "code": "custom", "field": "pre_receive", "message": "pre_receive Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n"}));
        }
        if errors.is_empty() {
            return None;
        }
        if !draft {
            errors.push(
                json!({"resource": "Release", "code": "custom", "message": "Published releases must have a valid tag"}),
            );
        }
        Some(json!({"message": "Validation Failed", "errors": errors, "documentation_url": doc, "status": "422"}))
    }

    /// Whether an active tag ruleset with `creation` covers `refs/tags/<tag>` and the caller
    /// cannot bypass it.
    fn creation_restricted(&self, repository: &str, tag: &str) -> bool {
        let full = format!("refs/tags/{tag}");
        self.rulesets_of(repository).into_iter().any(|(r, _, _)| {
            r.target == "tag"
                && r.enforcement == "active"
                && r.rules.iter().any(|t| t == "creation")
                && r.bypass != Bypass::Always
                && r.include.iter().any(|p| p == "~ALL" || glob(p, &full))
                && !r.exclude.iter().any(|p| p == "~ALL" || glob(p, &full))
        })
    }

    /// The 422 for changing the assets of an immutable release.
    pub fn locked_assets(deleting: bool) -> Value {
        let message = if deleting {
            "Cannot delete assets of an immutable release"
        } else {
            "Cannot upload assets to an immutable release"
        };
        json!({"message": message, "documentation_url": UPLOAD_DOC, "status": "422"})
    }

    /// `GET /repos/{o}/{r}/rulesets`: a 403 for a caller who may not read them, else the list.
    pub fn list_rulesets(&self, base: &str, repository: &str, includes_parents: bool) -> (u16, Value) {
        if self.hidden_rulesets.contains(repository) {
            return forbidden();
        }
        let items: Vec<Value> = self
            .rulesets_of(repository)
            .into_iter()
            .filter(|(_, kind, _)| includes_parents || *kind == "Repository")
            .map(|(r, kind, source)| summary(base, repository, r, kind, &source))
            .collect();
        (200, Value::Array(items))
    }

    /// `GET /repos/{o}/{r}/rulesets/{id}`.
    pub fn get_ruleset(&self, base: &str, repository: &str, id: u64) -> (u16, Value) {
        if self.hidden_rulesets.contains(repository) {
            return forbidden();
        }
        let Some((r, kind, source)) = self.rulesets_of(repository).into_iter().find(|(r, _, _)| r.id == id) else {
            return (
                404,
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/rules#get-a-repository-ruleset", "status": "404"}),
            );
        };
        let mut out = summary(base, repository, r, kind, &source);
        out["conditions"] = json!({"ref_name": {"include": r.include, "exclude": r.exclude}});
        out["rules"] = Value::Array(r.rules.iter().map(|t| json!({"type": t})).collect());
        out["current_user_can_bypass"] = json!(r.bypass.name());
        (200, out)
    }

    /// Records GitHub's release attestation of a just published immutable release.
    pub fn attest(
        &mut self,
        repository: &str,
        release_id: u64,
        id: u64,
        (tag, commit): (&str, &str),
        assets: &[(String, String)],
    ) {
        let purl = format!("pkg:github/{repository}@{tag}");
        let tampered = self.tampered.remove(repository);
        let mut subjects = vec![json!({"uri": purl, "digest": {"sha1": commit}})];
        for (name, sha256) in assets {
            let digest = if tampered.as_deref() == Some(name.as_str()) { "0".repeat(64) } else { sha256.clone() };
            subjects.push(json!({"name": name, "digest": {"sha256": digest}}));
        }
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": "https://in-toto.io/attestation/release/v0.1",
            "predicate": {
                "ownerId": "1", "purl": purl, "releaseId": release_id.to_string(),
                "repository": repository, "repositoryId": "1", "tag": tag,
            },
        });
        self.attestations.entry((repository.to_owned(), commit.to_owned())).or_default().push((id, statement));
    }

    /// Every release attestation of a repository as GitHub stores it: (id, Sigstore bundle).
    /// The listing (`github_server.rs`) picks them by subject digest and predicate type.
    pub fn release_bundles(&self, repository: &str) -> Vec<(u64, Value)> {
        let engine = base64::engine::general_purpose::STANDARD;
        self.attestations
            .iter()
            .filter(|((r, _), _)| r == repository)
            .flat_map(|(_, statements)| statements.iter())
            .map(|(id, statement)| {
                let bundle = json!({
                    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "verificationMaterial": {"certificate": {"rawBytes": engine.encode("test server certificate")}},
                    "dsseEnvelope": {
                        "payload": engine.encode(statement.to_string()),
                        "payloadType": "application/vnd.in-toto+json",
                        "signatures": [{"sig": engine.encode("test server signature")}],
                    },
                });
                (*id, bundle)
            })
            .collect()
    }
}

fn forbidden() -> (u16, Value) {
    (
        403,
        json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/repos/rules#get-all-repository-rulesets", "status": "403"}),
    )
}

fn summary(base: &str, repository: &str, r: &RulesetSpec, kind: &str, source: &str) -> Value {
    let html = if kind == "Repository" {
        format!("{base}/{repository}/rules/{}", r.id)
    } else {
        format!("{base}/organizations/{source}/settings/rules/{}", r.id)
    };
    json!({
        "id": r.id, "name": r.name, "target": r.target, "source_type": kind, "source": source,
        "enforcement": r.enforcement, "node_id": format!("RRS_{}", r.id),
        "_links": {
            "self": {"href": format!("{base}/api/v3/repos/{repository}/rulesets/{}", r.id)},
            "html": {"href": html},
        },
    })
}

/// The server's own small matcher for ruleset patterns: `*` and `?` do not cross `/`, `**`
/// does; no character classes (the tests use none).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
            [b'*', rest @ ..] => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != b'/').any(|i| go(rest, &t[i..])),
            [b'?', rest @ ..] => !t.is_empty() && t[0] != b'/' && go(rest, &t[1..]),
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("refs/tags/v*", "refs/tags/v1.2.3"));
        assert!(!glob("refs/tags/v*", "refs/tags/x/v1"));
        assert!(glob("refs/tags/**", "refs/tags/x/v1"));
        assert!(!glob("refs/tags/release-*", "refs/tags/v1.2.3"));
    }

    #[test]
    fn creation_rule_refuses_a_new_tag_only() {
        let mut rules = Rules::default();
        rules.organisation_rulesets.insert("acme".into(), vec![RulesetSpec::tags(7, "tags", &["~ALL"], &["creation"])]);
        assert!(rules.refusal("acme/hello", "v1", false, true, true).is_some());
        assert!(rules.refusal("acme/hello", "v1", false, false, true).is_none(), "the tag exists");
        assert!(rules.refusal("acme/hello", "v1", true, true, false).is_none(), "a draft creates no tag");
    }
}
