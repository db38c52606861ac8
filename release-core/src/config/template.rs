//! The placeholders of `release.toml` (`{version}`, `{tag}`, `{dist}`, `{target}`, `{os}`,
//! `{arch}`, `{exe}`): one engine for tags, artifact names and build commands.

use super::*;

/// The published name of an artifact built for `target` (or for this machine): its `name`
/// template, or its file name.
pub(crate) fn artifact_name(spec: &ArtifactSpec, version: Option<&semver::Version>, target: Option<&str>) -> String {
    let version = version.map(|v| v.to_string());
    let version = version.as_deref().unwrap_or("0.0.0");
    match spec.name_template() {
        Some(template) => expand_for(template, version, "", "", target),
        None => {
            let path = expand_for(spec.path().as_str(), version, "", "", target);
            Utf8Path::new(&path).file_name().unwrap_or(&path).to_owned()
        }
    }
}

/// Replaces the placeholders of a template: `{version}`, `{tag}`, `{dist}`, and `{os}`,
/// `{arch}`, `{exe}` of this machine.
pub(crate) fn expand(template: &str, version: &str, tag: &str, dist: &str) -> String {
    expand_for(template, version, tag, dist, None)
}

/// [`expand`] for a build target: `{target}` is the target, and `{os}`, `{arch}` and `{exe}`
/// (`.exe` for Windows, else empty) are the target's, not this machine's.
pub(crate) fn expand_for(template: &str, version: &str, tag: &str, dist: &str, target: Option<&str>) -> String {
    let (os, arch) = match target {
        Some(target) => (target_os(target), target_arch(target)),
        None => (std::env::consts::OS, std::env::consts::ARCH),
    };
    let exe = if os == "windows" { ".exe" } else { "" };
    template
        .replace("{version}", version)
        .replace("{tag}", tag)
        .replace("{dist}", dist)
        .replace("{target}", target.unwrap_or(""))
        .replace("{os}", os)
        .replace("{arch}", arch)
        .replace("{exe}", exe)
}
