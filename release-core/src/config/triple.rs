//! Target triples: operating system, architecture and the default runner of a target.

/// The runner a target builds on when `[runners]` does not say: GitHub's hosted runner for
/// its operating system and architecture.
pub(crate) fn default_runner(target: &str) -> &'static str {
    match (target_os(target), target_arch(target)) {
        ("macos" | "ios", "x86_64") => "macos-15-intel",
        ("macos" | "ios", _) => "macos-latest",
        ("windows", "aarch64") => "windows-11-arm",
        ("windows", _) => "windows-latest",
        ("linux" | "android", "aarch64") => "ubuntu-24.04-arm",
        _ => "ubuntu-latest",
    }
}

/// A target's architecture, as `std::env::consts::ARCH` names it: its first component.
pub(crate) fn target_arch(target: &str) -> &str {
    target.split('-').next().unwrap_or(target)
}

/// A target's operating system, as `std::env::consts::OS` names it (`linux`, `macos`,
/// `windows`, ...).
pub(crate) fn target_os(target: &str) -> &str {
    let parts: Vec<&str> = target.split('-').collect();
    let known =
        ["android", "linux", "windows", "ios", "freebsd", "netbsd", "openbsd", "dragonfly", "illumos", "solaris"];
    if parts.contains(&"darwin") {
        return "macos";
    }
    for os in known {
        if parts.contains(&os) {
            return os;
        }
    }
    parts.get(2).copied().unwrap_or("unknown")
}
