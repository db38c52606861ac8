//! The process environment, captured once.
//!
//! The library never reads `std::env` on its own: the front end captures the environment
//! with [`Environment::from_process`] and hands it in. Planning stays pure and tests can
//! give each run exactly the variables they mean to.

use std::collections::BTreeMap;

use crate::secret::{Secret, Source};

#[derive(Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Environment {
    // Values may be secrets: list the names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Environment {
    /// Every variable of this process whose name and value are valid UTF-8.
    // The one read of the process environment (clippy.toml `disallowed-methods`).
    #[allow(clippy::disallowed_methods)]
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn empty() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// A variable's value; an empty value counts as unset, as it does in GitHub Actions
    /// where a missing secret expands to the empty string.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A variable holding a secret, with its source.
    pub fn secret(&self, name: &str) -> Option<(Secret, Source)> {
        self.get(name).map(|v| (Secret::new(v), Source::env(name)))
    }

    /// True inside a GitHub Actions job.
    pub fn in_github_actions(&self) -> bool {
        self.get("GITHUB_ACTIONS") == Some("true")
    }

    /// The directories of `PATH`, split as the platform does ([`std::env::split_paths`]: `:`
    /// on Unix; `;` on Windows, where an entry may be quoted). Empty entries are left out: a
    /// program is never looked up in the current directory by accident.
    pub fn path_dirs(&self) -> Vec<camino::Utf8PathBuf> {
        let Some(path) = self.get("PATH") else { return Vec::new() };
        std::env::split_paths(path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .filter_map(|dir| camino::Utf8PathBuf::from_path_buf(dir).ok())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn path_is_split_on_colons_without_empty_entries() {
        let env = Environment::empty().with("PATH", "/usr/bin::/opt/my tools/bin:");
        assert_eq!(env.path_dirs(), ["/usr/bin", "/opt/my tools/bin"]);
        assert!(Environment::empty().path_dirs().is_empty());
        // A `;` is part of a Unix directory name.
        assert_eq!(Environment::empty().with("PATH", "/a;b:/c").path_dirs(), ["/a;b", "/c"]);
    }

    #[cfg(windows)]
    #[test]
    fn path_is_split_on_semicolons_and_quotes_are_removed() {
        let env = Environment::empty().with("PATH", r#"C:\bin;;"C:\my;tools";D:\x"#);
        assert_eq!(env.path_dirs(), [r"C:\bin", r"C:\my;tools", r"D:\x"]);
        // A `:` is part of a Windows path (the drive).
        assert_eq!(Environment::empty().with("PATH", r"C:\a:b").path_dirs(), [r"C:\a:b"]);
    }
}
