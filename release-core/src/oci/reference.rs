//! `oci://REGISTRY/PATH` push targets and chart references: parsing and every check that
//! needs no network.
//!
//! Owns the syntax rules of the distribution spec for registry hosts, repository names and
//! tags, and the Helm conventions on top of them (the chart name is the last path
//! component; the tag is the chart version with `+` turned into `_`). Nothing here does I/O.

use std::fmt;

/// The most a repository name (with its registry host) may have; longer names are refused
/// by distribution.
const MAX_NAME_LEN: usize = 255;
/// The most a tag may have.
const MAX_TAG_LEN: usize = 128;

/// Where `[[chart]] push` says charts go: a registry host and a namespace within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PushTarget {
    /// `host` or `host:port`, lowercase, exactly as the `[registries."HOST"]` key is written.
    pub registry: String,
    /// The path under the registry, without leading or trailing `/`; may be empty.
    pub namespace: String,
}

/// One chart's full reference: `registry/namespace/name:tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChartReference {
    pub registry: String,
    /// `namespace/name` (or `name` alone when the namespace is empty).
    pub repository: String,
    pub tag: String,
}

impl fmt::Display for ChartReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

impl ChartReference {
    /// The reference as oci-client takes it.
    pub(crate) fn to_oci(&self) -> oci_client::Reference {
        oci_client::Reference::with_tag(self.registry.clone(), self.repository.clone(), self.tag.clone())
    }

    /// The same repository addressed by a manifest digest (`sha256:…`): oci-client then puts
    /// the digest, not the tag, in `/v2/<name>/manifests/<reference>`.
    pub(crate) fn to_oci_digest(&self, digest: &str) -> oci_client::Reference {
        oci_client::Reference::with_digest(self.registry.clone(), self.repository.clone(), digest.to_owned())
    }

    /// `REGISTRY/PATH/NAME@sha256:…`, for messages.
    pub(crate) fn at_digest(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReferenceError {
    #[error("`{value}` is not an OCI reference: it must start with `oci://`")]
    NotOci { value: String },
    #[error("`{value}` names no registry")]
    NoRegistry { value: String },
    #[error("`{value}`: `{registry}` is not a registry host (`host` or `host:port`)")]
    InvalidRegistry { value: String, registry: String },
    #[error("`{value}` contains credentials (`user:password@`)")]
    Userinfo { value: String },
    #[error("`{value}` contains a tag or digest; the tag of a chart is its version")]
    TagOrDigest { value: String, fixed: String },
    #[error("`{value}`: repository names must be lowercase")]
    Uppercase { value: String, fixed: String },
    #[error("`{value}`: `{component}` is not a valid repository path component")]
    InvalidComponent { value: String, component: String },
    #[error("the chart name `{name}` must be lowercase to be pushed to an OCI registry")]
    ChartNameUppercase { name: String, fixed: String },
    #[error("the chart name `{name}` is not a valid repository path component")]
    InvalidChartName { name: String },
    #[error("`{name}` is {len} characters long; registries accept repository names of at most {MAX_NAME_LEN}")]
    NameTooLong { name: String, len: usize },
    #[error("the chart version `{version}` gives the tag `{tag}`, which is not a valid OCI tag")]
    InvalidTag { version: String, tag: String },
}

impl crate::error::Diagnose for ReferenceError {
    fn help(&self) -> Option<String> {
        Some(match self {
            ReferenceError::NotOci { value } => {
                format!("write `oci://{}` (e.g. `oci://ghcr.io/OWNER/charts`)", value.trim_start_matches("https://"))
            }
            ReferenceError::NoRegistry { .. } | ReferenceError::InvalidRegistry { .. } => {
                "write `oci://REGISTRY/PATH`, e.g. `oci://ghcr.io/owner/charts` or `oci://127.0.0.1:5000/charts`".into()
            }
            ReferenceError::Userinfo { .. } => {
                "remove them from `push`; credentials come from the environment (see docs/credentials.md)".into()
            }
            ReferenceError::TagOrDigest { fixed, .. } => {
                format!("use `{fixed}`: the chart is pushed as PATH/NAME:VERSION, like `helm push` does")
            }
            ReferenceError::Uppercase { fixed, .. } => format!(
                "use `{fixed}` (in GitHub Actions, `github.repository_owner` keeps the owner's case: lowercase it)"
            ),
            ReferenceError::InvalidComponent { .. } | ReferenceError::InvalidChartName { .. } => {
                "path components are lowercase letters and digits, separated by `.`, `_`, `__` or dashes".into()
            }
            ReferenceError::ChartNameUppercase { fixed, .. } => format!("rename the chart to `{fixed}` in Chart.yaml"),
            ReferenceError::NameTooLong { .. } => "use a shorter namespace in `push` or a shorter chart name".into(),
            ReferenceError::InvalidTag { .. } => {
                "tags are `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`: use a plain SemVer version for the chart".into()
            }
        })
    }
}

impl PushTarget {
    /// Parses `oci://REGISTRY[/PATH]`. A trailing `/` is ignored.
    pub(crate) fn parse(value: &str) -> Result<PushTarget, ReferenceError> {
        let err_value = || value.to_owned();
        let rest = value.strip_prefix("oci://").ok_or_else(|| ReferenceError::NotOci { value: err_value() })?;
        let rest = rest.trim_end_matches('/');
        let (registry, namespace) = rest.split_once('/').unwrap_or((rest, ""));
        if registry.is_empty() {
            return Err(ReferenceError::NoRegistry { value: err_value() });
        }
        if registry.contains('@') {
            return Err(ReferenceError::Userinfo { value: err_value() });
        }
        if !valid_registry(&registry.to_ascii_lowercase()) {
            return Err(ReferenceError::InvalidRegistry { value: err_value(), registry: registry.to_owned() });
        }
        // A tag (`:x` in the last component) or a digest (`@sha256:…`) has no place here.
        let last = namespace.rsplit('/').next().unwrap_or("");
        if namespace.contains('@') || last.contains(':') {
            let cut = namespace.find(['@', ':']).unwrap_or(namespace.len());
            let fixed = format!("oci://{registry}/{}", &namespace[..cut]);
            return Err(ReferenceError::TagOrDigest { value: err_value(), fixed: fixed.trim_end_matches('/').into() });
        }
        if registry.chars().any(|c| c.is_ascii_uppercase()) || namespace.chars().any(|c| c.is_ascii_uppercase()) {
            let lower = format!("oci://{}", rest.to_ascii_lowercase());
            // Only suggest the lowercase name when it is valid; otherwise report what is wrong.
            if PushTarget::parse(&lower).is_ok() {
                return Err(ReferenceError::Uppercase { value: err_value(), fixed: lower });
            }
        }
        if !namespace.is_empty() {
            for component in namespace.split('/') {
                if !valid_component(component) {
                    return Err(ReferenceError::InvalidComponent {
                        value: err_value(),
                        component: component.to_owned(),
                    });
                }
            }
        }
        Ok(PushTarget { registry: registry.to_owned(), namespace: namespace.to_owned() })
    }

    /// The full reference of a chart pushed here.
    pub(crate) fn chart(&self, name: &str, version: &str) -> Result<ChartReference, ReferenceError> {
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            let fixed = name.to_ascii_lowercase();
            if valid_component(&fixed) {
                return Err(ReferenceError::ChartNameUppercase { name: name.to_owned(), fixed });
            }
        }
        if !valid_component(name) {
            return Err(ReferenceError::InvalidChartName { name: name.to_owned() });
        }
        let repository = if self.namespace.is_empty() { name.to_owned() } else { format!("{}/{name}", self.namespace) };
        let full = format!("{}/{repository}", self.registry);
        if full.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong { len: full.len(), name: full });
        }
        Ok(ChartReference { registry: self.registry.clone(), repository, tag: tag_for_version(version)? })
    }
}

/// The tag Helm uses for a chart version: SemVer build metadata's `+` is not allowed in
/// tags, so it becomes `_`.
pub(crate) fn tag_for_version(version: &str) -> Result<String, ReferenceError> {
    let tag = version.replace('+', "_");
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= MAX_TAG_LEN {
        Ok(tag)
    } else {
        Err(ReferenceError::InvalidTag { version: version.to_owned(), tag })
    }
}

/// `host`, `host:port`, an IPv4 address, or `[ipv6]` with an optional port.
fn valid_registry(registry: &str) -> bool {
    let valid_port = |port: &str| !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit());
    if let Some(rest) = registry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else { return false };
        let v6_ok = !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        return v6_ok && (after.is_empty() || after.strip_prefix(':').is_some_and(valid_port));
    }
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    if port.is_some_and(|p| !valid_port(p)) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub(crate) fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        // A run of letters and digits.
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        // A separator: `.`, `_`, `__` or one or more `-`.
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_and_namespace() {
        let target = PushTarget::parse("oci://ghcr.io/acme/charts/").unwrap();
        assert_eq!(target, PushTarget { registry: "ghcr.io".into(), namespace: "acme/charts".into() });
        let local = PushTarget::parse("oci://127.0.0.1:5000").unwrap();
        assert_eq!(local, PushTarget { registry: "127.0.0.1:5000".into(), namespace: String::new() });
        assert_eq!(PushTarget::parse("oci://[::1]:5000/x").unwrap().registry, "[::1]:5000");
    }

    #[test]
    fn chart_reference_uses_version_as_tag_with_plus_replaced() {
        let target = PushTarget::parse("oci://ghcr.io/acme/charts").unwrap();
        let reference = target.chart("hello", "1.2.3+build.5").unwrap();
        assert_eq!(reference.to_string(), "ghcr.io/acme/charts/hello:1.2.3_build.5");
        assert_eq!(reference.repository, "acme/charts/hello");
        let bare = PushTarget::parse("oci://localhost:5000").unwrap().chart("hello", "0.1.0").unwrap();
        assert_eq!(bare.to_string(), "localhost:5000/hello:0.1.0");
    }

    #[test]
    fn uppercase_names_are_refused_with_the_fixed_name() {
        let err = PushTarget::parse("oci://ghcr.io/Acme-Corp/charts").unwrap_err();
        assert_eq!(
            err,
            ReferenceError::Uppercase {
                value: "oci://ghcr.io/Acme-Corp/charts".into(),
                fixed: "oci://ghcr.io/acme-corp/charts".into()
            }
        );
        let help = crate::error::Diagnose::help(&err).unwrap();
        assert!(help.contains("`oci://ghcr.io/acme-corp/charts`"), "{help}");
        assert!(help.contains("repository_owner"), "{help}");

        let target = PushTarget::parse("oci://ghcr.io/acme").unwrap();
        assert_eq!(
            target.chart("MyChart", "1.0.0").unwrap_err(),
            ReferenceError::ChartNameUppercase { name: "MyChart".into(), fixed: "mychart".into() }
        );
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        assert!(matches!(PushTarget::parse("ghcr.io/acme").unwrap_err(), ReferenceError::NotOci { .. }));
        assert!(matches!(PushTarget::parse("https://ghcr.io/acme").unwrap_err(), ReferenceError::NotOci { .. }));
        assert!(matches!(PushTarget::parse("oci://").unwrap_err(), ReferenceError::NoRegistry { .. }));
        assert!(matches!(PushTarget::parse("oci:///charts").unwrap_err(), ReferenceError::NoRegistry { .. }));
        assert!(matches!(PushTarget::parse("oci://u:p@ghcr.io/x").unwrap_err(), ReferenceError::Userinfo { .. }));
        assert!(matches!(PushTarget::parse("oci://host:port/x").unwrap_err(), ReferenceError::InvalidRegistry { .. }));
        assert!(matches!(
            PushTarget::parse("oci://ghcr.io/a//b").unwrap_err(),
            ReferenceError::InvalidComponent { .. }
        ));
        assert!(matches!(
            PushTarget::parse("oci://ghcr.io/a/-b").unwrap_err(),
            ReferenceError::InvalidComponent { .. }
        ));
        assert!(matches!(
            PushTarget::parse("oci://ghcr.io/a/b c").unwrap_err(),
            ReferenceError::InvalidComponent { .. }
        ));
        match PushTarget::parse("oci://ghcr.io/acme/hello:1.0.0").unwrap_err() {
            ReferenceError::TagOrDigest { fixed, .. } => assert_eq!(fixed, "oci://ghcr.io/acme/hello"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            PushTarget::parse("oci://ghcr.io/acme/hello@sha256:abc").unwrap_err(),
            ReferenceError::TagOrDigest { .. }
        ));
    }

    #[test]
    fn component_grammar() {
        for ok in ["a", "a0", "a.b", "a_b", "a__b", "a-b", "a---b", "0"] {
            assert!(valid_component(ok), "{ok}");
        }
        for bad in ["", "A", "a.", ".a", "a___b", "a..b", "_a", "a-", "a/b", "a b"] {
            assert!(!valid_component(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(tag_for_version("1.0.0-rc.1+g1234").unwrap(), "1.0.0-rc.1_g1234");
        assert!(tag_for_version(".1").is_err());
        assert!(tag_for_version(&"1".repeat(129)).is_err());
    }

    #[test]
    fn overly_long_names_are_refused() {
        let target = PushTarget::parse(&format!("oci://ghcr.io/{}", "a".repeat(250))).unwrap();
        assert!(matches!(target.chart("hello", "1.0.0").unwrap_err(), ReferenceError::NameTooLong { .. }));
    }
}
