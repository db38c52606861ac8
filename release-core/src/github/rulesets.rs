//! Tag rulesets: which of a repository's rulesets would refuse the tag a release creates when
//! it is published. Pure: the preflight step (`steps/preflight/github_tag_rules.rs`) reads the
//! rulesets and hands them here.
//!
//! GitHub's REST API (`GET /repos/{owner}/{repo}/rulesets?includes_parents=true`, then
//! `GET /repos/{owner}/{repo}/rulesets/{id}` for each) gives every ruleset that applies to the
//! repository, its own (`source_type: Repository`) and its organisation's (`Organization`),
//! with `target` (`branch`, `tag`, `push`), `enforcement` (`active`, `evaluate`, `disabled`),
//! `conditions.ref_name` (`include`/`exclude` lists of fnmatch patterns over full ref names such
//! as `refs/tags/v*`, plus `~ALL`; `~DEFAULT_BRANCH` names a branch, never a tag), `rules`
//! (`creation`, `update`, `deletion`, `non_fast_forward`, `tag_name_pattern`, …) and
//! `current_user_can_bypass` (`always`, `pull_requests_only`, `never`; GitHub documents it as
//! returned by the repository-level endpoint only).
//!
//! Publishing a draft creates its tag when the tag does not exist yet. What refuses that:
//! `creation` ("Cannot create ref due to creations being restricted"), and a
//! `tag_name_pattern` the tag does not satisfy. `update`, `deletion` and `non_fast_forward`
//! concern an existing tag, which publishing neither moves nor deletes. Only an `active`
//! ruleset refuses; `evaluate` only reports.
//!
//! Patterns follow Ruby's `File.fnmatch` with `FNM_PATHNAME`, as GitHub documents: `*` and
//! `?` never match `/`, `**` matches across `/`, `[…]` is a set (`[!…]` its complement); a
//! backslash is not an escape.

use serde::Deserialize;

/// A ruleset as `GET /repos/{owner}/{repo}/rulesets/{id}` returns it (the fields used here).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Ruleset {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub enforcement: Option<String>,
    #[serde(default)]
    pub current_user_can_bypass: Option<String>,
    #[serde(default)]
    pub conditions: Option<Conditions>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default, rename = "_links")]
    pub links: Option<Links>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Conditions {
    #[serde(default)]
    pub ref_name: Option<RefName>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct RefName {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Rule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Links {
    #[serde(default)]
    pub html: Option<Href>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Href {
    pub href: String,
}

/// Whether the caller may bypass a ruleset (`current_user_can_bypass`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bypass {
    /// `always` (or `exempt`): the rules do not apply to this token.
    Always,
    /// `pull_requests_only`: only when merging a pull request, which creating a tag is not.
    PullRequestsOnly,
    /// `never`.
    Never,
    /// Not reported (or a value this tool does not know): cannot tell.
    Unknown(Option<String>),
}

impl Bypass {
    pub(crate) fn of(value: Option<&str>) -> Bypass {
        match value {
            Some("always" | "exempt") => Bypass::Always,
            Some("pull_requests_only") => Bypass::PullRequestsOnly,
            Some("never") => Bypass::Never,
            other => Bypass::Unknown(other.map(str::to_owned)),
        }
    }
}

/// What a ruleset means for publishing the release's tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It does not apply: another target, not enforced, the tag not covered, the tag exists
    /// already, or no rule of it refuses a creation.
    NotApplicable,
    /// It would refuse, but this token may bypass it.
    Bypassed { rules: Vec<String> },
    /// It would refuse, and whether this token may bypass it is unknown.
    MayRefuse { rules: Vec<String>, bypass: Option<String> },
    /// It refuses: GitHub will answer 422 at the undraft.
    Refuses { rules: Vec<String>, bypass: String },
}

/// Evaluates one ruleset for publishing a release of `tag`; `tag_exists`: the tag is already
/// in the repository (publishing then creates nothing).
pub(crate) fn evaluate(ruleset: &Ruleset, tag: &str, tag_exists: bool) -> Verdict {
    let is_tag_ruleset = ruleset.target.as_deref().is_none_or(|t| t == "tag");
    let active = ruleset.enforcement.as_deref().is_none_or(|e| e == "active");
    if !is_tag_ruleset || !active || tag_exists {
        return Verdict::NotApplicable;
    }
    let covered = ruleset.conditions.as_ref().and_then(|c| c.ref_name.as_ref()).is_some_and(|r| covers(r, tag));
    if !covered {
        return Verdict::NotApplicable;
    }
    let rules: Vec<String> = ruleset.rules.iter().filter_map(|rule| refusing(rule, tag)).collect();
    if rules.is_empty() {
        return Verdict::NotApplicable;
    }
    match Bypass::of(ruleset.current_user_can_bypass.as_deref()) {
        Bypass::Always => Verdict::Bypassed { rules },
        Bypass::Never => Verdict::Refuses { rules, bypass: "never".into() },
        Bypass::PullRequestsOnly => Verdict::Refuses { rules, bypass: "pull_requests_only".into() },
        Bypass::Unknown(value) => Verdict::MayRefuse { rules, bypass: value },
    }
}

/// The rule, described, if it refuses creating `tag`.
fn refusing(rule: &Rule, tag: &str) -> Option<String> {
    match rule.kind.as_str() {
        "creation" => Some("`creation` (restrict creations)".into()),
        "tag_name_pattern" => {
            let parameters = rule.parameters.as_ref()?;
            let operator = parameters.get("operator")?.as_str()?;
            let pattern = parameters.get("pattern")?.as_str()?;
            let negate = parameters.get("negate").and_then(|n| n.as_bool()).unwrap_or(false);
            let described =
                format!("`tag_name_pattern` ({operator} `{pattern}`{})", if negate { ", negated" } else { "" });
            let matched = match operator {
                "starts_with" => tag.starts_with(pattern),
                "ends_with" => tag.ends_with(pattern),
                "contains" => tag.contains(pattern),
                // GitHub documents RE2 syntax for rulesets, which Rust's `regex` follows (no
                // look-around); one it cannot read is said as a possible refusal.
                "regex" => match regex::Regex::new(pattern) {
                    Ok(re) => re.is_match(tag),
                    Err(e) => return Some(format!("{described}, which this tool cannot evaluate ({e})")),
                },
                _ => return Some(format!("{described}, an operator this tool does not know")),
            };
            (matched == negate).then_some(described)
        }
        _ => None,
    }
}

/// Whether `conditions.ref_name` covers `refs/tags/<tag>`: some `include` matches and no
/// `exclude` does. Patterns without a `refs/` prefix are matched against the bare tag name.
pub(crate) fn covers(ref_name: &RefName, tag: &str) -> bool {
    let full = format!("refs/tags/{tag}");
    let matches = |pattern: &String| match pattern.as_str() {
        "~ALL" => true,
        "~DEFAULT_BRANCH" => false,
        p if p.starts_with("refs/") => fnmatch(p, &full),
        p => fnmatch(p, tag),
    };
    ref_name.include.iter().any(matches) && !ref_name.exclude.iter().any(matches)
}

/// `File.fnmatch(pattern, text, File::FNM_PATHNAME)` as GitHub uses it for rulesets.
pub(crate) fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

fn matches(p: &[char], t: &[char]) -> bool {
    match p {
        [] => t.is_empty(),
        ['*', '*', rest @ ..] => {
            // `**/` also matches no directory at all.
            let rest_after_slash = rest.strip_prefix(&['/']).unwrap_or(rest);
            (0..=t.len()).any(|i| matches(rest, &t[i..]) || matches(rest_after_slash, &t[i..]))
        }
        ['*', rest @ ..] => {
            let mut i = 0;
            loop {
                if matches(rest, &t[i..]) {
                    return true;
                }
                if i == t.len() || t[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        ['?', rest @ ..] => t.first().is_some_and(|c| *c != '/') && matches(rest, &t[1..]),
        ['[', rest @ ..] => {
            let Some(close) = rest.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return t.first() == Some(&'[') && matches(rest, &t[1..]);
            };
            let (set, after) = (&rest[..close], &rest[close + 1..]);
            let Some(c) = t.first() else { return false };
            if *c == '/' {
                return false;
            }
            let (negated, set) = match set {
                ['!', set @ ..] => (true, set),
                set => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= *c && *c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != negated && matches(after, &t[1..])
        }
        [c, rest @ ..] => t.first() == Some(c) && matches(rest, &t[1..]),
    }
}

/// Where a ruleset is changed: its own `_links.html` when GitHub gave one, else the settings
/// page of the repository or of the organisation it comes from.
pub(crate) fn settings_url(ruleset: &Ruleset, web_url: &str, repository: &str) -> String {
    if let Some(href) = ruleset.links.as_ref().and_then(|l| l.html.as_ref()) {
        return href.href.clone();
    }
    match (ruleset.source_type.as_deref(), ruleset.source.as_deref()) {
        (Some("Organization"), Some(org)) => format!("{web_url}/organizations/{org}/settings/rules/{}", ruleset.id),
        _ => format!("{web_url}/{repository}/settings/rules/{}", ruleset.id),
    }
}

/// "the repository's ruleset" / "the organisation acme's ruleset".
pub(crate) fn owner_of(ruleset: &Ruleset) -> String {
    match (ruleset.source_type.as_deref(), ruleset.source.as_deref()) {
        (Some("Organization"), Some(org)) => format!("organisation {org}"),
        (Some("Enterprise"), Some(enterprise)) => format!("enterprise {enterprise}"),
        (_, Some(repo)) => format!("repository {repo}"),
        _ => "repository".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruleset(include: &[&str], exclude: &[&str], rules: &[&str], bypass: Option<&str>) -> Ruleset {
        Ruleset {
            id: 42,
            name: "protect tags".into(),
            target: Some("tag".into()),
            source_type: Some("Organization".into()),
            source: Some("acme".into()),
            enforcement: Some("active".into()),
            current_user_can_bypass: bypass.map(str::to_owned),
            conditions: Some(Conditions {
                ref_name: Some(RefName {
                    include: include.iter().map(|s| s.to_string()).collect(),
                    exclude: exclude.iter().map(|s| s.to_string()).collect(),
                }),
            }),
            rules: rules.iter().map(|k| Rule { kind: k.to_string(), parameters: None }).collect(),
            links: None,
        }
    }

    #[test]
    fn fnmatch_with_pathname() {
        assert!(fnmatch("refs/tags/v*", "refs/tags/v1.2.3"));
        assert!(!fnmatch("refs/tags/v*", "refs/tags/charts/v1"), "* does not cross /");
        assert!(fnmatch("refs/tags/**/*", "refs/tags/charts/v1"));
        assert!(fnmatch("refs/tags/**/v*", "refs/tags/v1"), "**/ may match no directory");
        assert!(fnmatch("refs/tags/v?.*", "refs/tags/v1.2"));
        assert!(!fnmatch("refs/tags/v?", "refs/tags/v10"));
        assert!(fnmatch("refs/tags/v[0-9]*", "refs/tags/v1.0"));
        assert!(!fnmatch("refs/tags/v[!0-9]*", "refs/tags/v1.0"));
        assert!(fnmatch("refs/tags/release-[ab]", "refs/tags/release-b"));
        assert!(!fnmatch("refs/tags/v*", "refs/heads/v1"));
    }

    #[test]
    fn ref_name_include_exclude_and_specials() {
        let r = |i: &[&str], e: &[&str]| RefName {
            include: i.iter().map(|s| s.to_string()).collect(),
            exclude: e.iter().map(|s| s.to_string()).collect(),
        };
        assert!(covers(&r(&["~ALL"], &[]), "v1.2.3"));
        assert!(!covers(&r(&["~DEFAULT_BRANCH"], &[]), "main"), "never a tag");
        assert!(!covers(&r(&["~ALL"], &["refs/tags/v1.*"]), "v1.2.3"));
        assert!(covers(&r(&["refs/tags/v*"], &["refs/tags/v0.*"]), "v1.2.3"));
        assert!(!covers(&r(&[], &[]), "v1.2.3"), "no include, nothing covered");
        assert!(covers(&r(&["v*"], &[]), "v1.2.3"), "a bare pattern matches the tag name");
    }

    #[test]
    fn creation_with_never_refuses_and_names_the_rule() {
        let verdict = evaluate(&ruleset(&["~ALL"], &[], &["deletion", "creation"], Some("never")), "v1.2.3", false);
        assert_eq!(
            verdict,
            Verdict::Refuses { rules: vec!["`creation` (restrict creations)".into()], bypass: "never".into() }
        );
        let pr_only = evaluate(&ruleset(&["~ALL"], &[], &["creation"], Some("pull_requests_only")), "v1", false);
        assert!(matches!(pr_only, Verdict::Refuses { .. }), "a pull request bypass does not cover a tag");
    }

    #[test]
    fn bypass_existing_tag_other_rules_and_enforcement() {
        let always = evaluate(&ruleset(&["~ALL"], &[], &["creation"], Some("always")), "v1", false);
        assert!(matches!(always, Verdict::Bypassed { .. }));
        let unknown = evaluate(&ruleset(&["~ALL"], &[], &["creation"], None), "v1", false);
        assert_eq!(unknown, Verdict::MayRefuse { rules: vec!["`creation` (restrict creations)".into()], bypass: None });
        assert_eq!(
            evaluate(&ruleset(&["~ALL"], &[], &["creation"], Some("never")), "v1", true),
            Verdict::NotApplicable
        );
        let other = ruleset(&["~ALL"], &[], &["deletion", "update", "non_fast_forward"], Some("never"));
        assert_eq!(evaluate(&other, "v1", false), Verdict::NotApplicable);
        let mut evaluate_only = ruleset(&["~ALL"], &[], &["creation"], Some("never"));
        evaluate_only.enforcement = Some("evaluate".into());
        assert_eq!(evaluate(&evaluate_only, "v1", false), Verdict::NotApplicable);
        let mut branch = ruleset(&["~ALL"], &[], &["creation"], Some("never"));
        branch.target = Some("branch".into());
        assert_eq!(evaluate(&branch, "v1", false), Verdict::NotApplicable);
        let uncovered = ruleset(&["refs/tags/release-*"], &[], &["creation"], Some("never"));
        assert_eq!(evaluate(&uncovered, "v1", false), Verdict::NotApplicable);
    }

    #[test]
    fn tag_name_pattern_is_evaluated() {
        let mut r = ruleset(&["~ALL"], &[], &[], Some("never"));
        r.rules = vec![Rule {
            kind: "tag_name_pattern".into(),
            parameters: Some(serde_json::json!({"operator": "starts_with", "pattern": "v", "negate": false})),
        }];
        assert_eq!(evaluate(&r, "v1.0.0", false), Verdict::NotApplicable);
        assert!(matches!(evaluate(&r, "1.0.0", false), Verdict::Refuses { .. }));

        // A regular expression (RE2) is evaluated too: a tag must match it.
        r.rules[0].parameters =
            Some(serde_json::json!({"operator": "regex", "pattern": r"^v\d+\.\d+\.\d+$", "negate": false}));
        assert_eq!(evaluate(&r, "v1.2.3", false), Verdict::NotApplicable);
        assert!(matches!(evaluate(&r, "v1.2.3-rc.1", false), Verdict::Refuses { .. }));
        // Negated: the tag must not match.
        r.rules[0].parameters = Some(serde_json::json!({"operator": "regex", "pattern": "-rc", "negate": true}));
        assert_eq!(evaluate(&r, "v1.2.3", false), Verdict::NotApplicable);
        assert!(matches!(evaluate(&r, "v1.2.3-rc.1", false), Verdict::Refuses { .. }));
        // A look-ahead RE2 does not have: a possible refusal, said so.
        r.rules[0].parameters = Some(serde_json::json!({"operator": "regex", "pattern": "^(?!x)", "negate": false}));
        match evaluate(&r, "v1.2.3", false) {
            Verdict::Refuses { rules, .. } => {
                assert!(rules[0].contains("which this tool cannot evaluate"), "{rules:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_urls() {
        let org = ruleset(&["~ALL"], &[], &["creation"], None);
        assert_eq!(
            settings_url(&org, "https://github.com", "acme/hello"),
            "https://github.com/organizations/acme/settings/rules/42"
        );
        let mut repo = org.clone();
        repo.source_type = Some("Repository".into());
        repo.source = Some("acme/hello".into());
        assert_eq!(
            settings_url(&repo, "https://github.com", "acme/hello"),
            "https://github.com/acme/hello/settings/rules/42"
        );
        repo.links = Some(Links { html: Some(Href { href: "https://x/rules/42".into() }) });
        assert_eq!(settings_url(&repo, "https://github.com", "acme/hello"), "https://x/rules/42");
        assert_eq!(owner_of(&org), "organisation acme");
    }
}
