//! Installers: a shell script (`NAME-installer.sh`, for Linux and macOS, and Git Bash/MSYS on
//! Windows) and a PowerShell script (`NAME-installer.ps1`) shipped with every release, each
//! holding the SHA-256 of every archive it may download, written when the release is made
//! (`docs/installers.md`).
//!
//! An installer detects the machine's target (OS, architecture and, on Linux, glibc or musl),
//! downloads the matching archive of its own version, refuses it unless its SHA-256 is the one
//! written inside (and refuses to download at all without a SHA-256 tool), checks the
//! provenance with `gh attestation verify` when gh is installed and the release has one,
//! installs only after every archive was verified and unpacked, replaces a binary by a
//! rename (never half written), and says how to put the directory on PATH without editing a
//! profile. Pure text from data: the same release gives the same bytes.

use std::fmt::Write as _;

const SHELL_TEMPLATE: &str = include_str!("install.sh");
const POWERSHELL_TEMPLATE: &str = include_str!("install.ps1");

/// The shell installer's file name.
pub(crate) fn shell_name(app: &str) -> String {
    format!("{app}-installer.sh")
}

/// The PowerShell installer's file name.
pub(crate) fn powershell_name(app: &str) -> String {
    format!("{app}-installer.ps1")
}

/// One archive an installer may download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Offered {
    /// The Rust target triple it was built for.
    pub(crate) target: String,
    /// Its file name in the release.
    pub(crate) file: String,
    /// Lowercase hex.
    pub(crate) sha256: String,
    /// The directory inside the archive that holds the binaries.
    pub(crate) dir: String,
    /// The binaries' file names inside `dir` (`.exe` included).
    pub(crate) bins: Vec<String>,
}

/// What an installer is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Installer {
    pub(crate) app: String,
    pub(crate) version: String,
    /// The release's download URL, without a trailing `/`: `https://github.com/O/R/releases/download/v1.0.0`.
    pub(crate) download_url: String,
    pub(crate) archives: Vec<Offered>,
    /// With provenance: the repository, its workflow (`O/R/.github/workflows/release.yml`,
    /// when known) and the ref it ran for (`refs/tags/v1.0.0`).
    pub(crate) provenance: Option<Provenance>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Provenance {
    pub(crate) repository: String,
    pub(crate) workflow: Option<String>,
    pub(crate) source_ref: Option<String>,
}

/// Why an installer cannot be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unwritable {
    /// A value that would need quoting inside the script.
    #[error("the {what} `{value}` cannot be written into an installer")]
    Unquotable { what: &'static str, value: String },
    #[error("the SHA-256 of {file} is not 64 hex digits")]
    Digest { file: String },
    #[error("this run made no archive for an installer to download")]
    NoArchive,
}

impl crate::error::Diagnose for Unwritable {
    fn help(&self) -> Option<String> {
        Some(match self {
            Unwritable::Unquotable { .. } => "names in the release are limited to letters, digits and `._+-`".into(),
            Unwritable::Digest { .. } => "this is a bug in the archive step; please report it".into(),
            Unwritable::NoArchive => "the installers install the archives of the builds with `archive = true` (the default for `cargo` builds); a snapshot builds the host's target only, when the builds list it".into(),
        })
    }
}

/// The environment variables' prefix: the name upper-cased, other characters as `_`.
pub(crate) fn env_prefix(app: &str) -> String {
    app.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// Every value goes inside single quotes (and file names into `read` fields), so it may hold
/// only characters that need no quoting anywhere.
fn plain(what: &'static str, value: &str, extra: &str) -> Result<(), Unwritable> {
    let ok = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c) || extra.contains(c));
    if ok { Ok(()) } else { Err(Unwritable::Unquotable { what, value: value.to_owned() }) }
}

impl Installer {
    fn check(&self) -> Result<(), Unwritable> {
        plain("name", &self.app, "")?;
        plain("version", &self.version, "")?;
        plain("download URL", &self.download_url, ":/%~@")?;
        if let Some(p) = &self.provenance {
            plain("repository", &p.repository, "/")?;
            if let Some(workflow) = &p.workflow {
                plain("workflow", workflow, "/")?;
            }
            if let Some(source_ref) = &p.source_ref {
                plain("ref", source_ref, "/")?;
            }
        }
        if self.archives.is_empty() {
            return Err(Unwritable::NoArchive);
        }
        for archive in &self.archives {
            plain("target", &archive.target, "")?;
            plain("archive", &archive.file, "")?;
            plain("directory", &archive.dir, "")?;
            if archive.sha256.len() != 64 || !archive.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Unwritable::Digest { file: archive.file.clone() });
            }
            for bin in &archive.bins {
                plain("binary", bin, "")?;
            }
        }
        Ok(())
    }

    fn fill(&self, template: &str, archives: &str) -> String {
        let provenance = self.provenance.as_ref();
        template
            .replace("@APP_NAME@", &self.app)
            .replace("@APP_VERSION@", &self.version)
            .replace("@ENV@", &env_prefix(&self.app))
            .replace("@DOWNLOAD_URL@", &self.download_url)
            .replace("@PROVENANCE_REPO@", provenance.map_or("", |p| &p.repository))
            .replace("@PROVENANCE_WORKFLOW@", provenance.and_then(|p| p.workflow.as_deref()).unwrap_or(""))
            .replace("@PROVENANCE_REF@", provenance.and_then(|p| p.source_ref.as_deref()).unwrap_or(""))
            .replace("@ARCHIVES@", archives)
            .replace("@PS_ARCHIVES@", archives)
    }

    /// `NAME-installer.sh`.
    pub(crate) fn shell(&self) -> Result<String, Unwritable> {
        self.check()?;
        let mut lines = String::new();
        for a in &self.archives {
            let _ = writeln!(lines, "{} {} {} {} {}", a.target, a.file, a.sha256, a.dir, a.bins.join(","));
        }
        Ok(self.fill(SHELL_TEMPLATE, &lines))
    }

    /// `NAME-installer.ps1`, offering the Windows archives only.
    pub(crate) fn powershell(&self) -> Result<String, Unwritable> {
        self.check()?;
        let windows: Vec<&Offered> = self.archives.iter().filter(|a| a.target.contains("-windows")).collect();
        let mut lines = Vec::new();
        for a in windows {
            let bins: Vec<String> = a.bins.iter().map(|b| format!("'{b}'")).collect();
            lines.push(format!(
                "        [pscustomobject]@{{ Target = '{}'; File = '{}'; Sha256 = '{}'; Dir = '{}'; Bins = @({}) }}",
                a.target,
                a.file,
                a.sha256,
                a.dir,
                bins.join(", ")
            ));
        }
        Ok(self.fill(POWERSHELL_TEMPLATE, &lines.join(",\n")))
    }

    /// Whether any archive is for Windows (the PowerShell installer is written only then).
    pub(crate) fn has_windows(&self) -> bool {
        self.archives.iter().any(|a| a.target.contains("-windows"))
    }
}

/// The one-line install commands for the release notes, for the installers `names` (a `.sh`
/// and a `.ps1`) under `download_url`; `None` without installers.
pub(crate) fn notes_section(download_url: &str, names: &[&str]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let mut out = String::from("## Install\n\n");
    for name in names {
        if name.ends_with(".sh") {
            let _ = writeln!(
                out,
                "Linux and macOS:\n\n```sh\ncurl --proto '=https' --tlsv1.2 -LsSf {download_url}/{name} | sh\n```\n"
            );
        } else if name.ends_with(".ps1") {
            let _ = writeln!(
                out,
                "Windows (PowerShell):\n\n```powershell\npowershell -ExecutionPolicy Bypass -c \"irm {download_url}/{name} | iex\"\n```\n"
            );
        }
    }
    out.push_str(
        "Each installer checks the archive's SHA-256 against the digest written into it at release time, and its provenance with `gh attestation verify` when gh is installed, before it installs anything.\n",
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installer() -> Installer {
        Installer {
            app: "hello".into(),
            version: "1.2.3".into(),
            download_url: "https://github.com/acme/hello/releases/download/v1.2.3".into(),
            archives: vec![
                Offered {
                    target: "x86_64-unknown-linux-gnu".into(),
                    file: "hello-x86_64-unknown-linux-gnu-v1.2.3.tar.gz".into(),
                    sha256: "a".repeat(64),
                    dir: "hello-x86_64-unknown-linux-gnu-v1.2.3".into(),
                    bins: vec!["hello".into(), "helloctl".into()],
                },
                Offered {
                    target: "x86_64-pc-windows-msvc".into(),
                    file: "hello-x86_64-pc-windows-msvc-v1.2.3.zip".into(),
                    sha256: "b".repeat(64),
                    dir: "hello-x86_64-pc-windows-msvc-v1.2.3".into(),
                    bins: vec!["hello.exe".into()],
                },
            ],
            provenance: Some(Provenance {
                repository: "acme/hello".into(),
                workflow: Some("acme/hello/.github/workflows/release.yml".into()),
                source_ref: Some("refs/tags/v1.2.3".into()),
            }),
        }
    }

    #[test]
    fn the_shell_installer_holds_every_archive_and_its_digest() {
        let script = installer().shell().unwrap();
        assert!(!script.contains("@APP_") && !script.contains("@ENV@") && !script.contains("@ARCHIVES@"), "{script}");
        assert!(script.contains(&format!(
            "x86_64-unknown-linux-gnu hello-x86_64-unknown-linux-gnu-v1.2.3.tar.gz {} hello-x86_64-unknown-linux-gnu-v1.2.3 hello,helloctl\n",
            "a".repeat(64)
        )));
        assert!(script.contains("forced=${HELLO_INSTALL_DIR:-}"));
        assert!(script.contains("PROVENANCE_REF='refs/tags/v1.2.3'"));
        assert_eq!(script, installer().shell().unwrap(), "deterministic");
    }

    #[test]
    fn the_powershell_installer_offers_the_windows_archives_only() {
        let script = installer().powershell().unwrap();
        assert!(script.contains(&format!("Sha256 = '{}'", "b".repeat(64))), "{script}");
        assert!(!script.contains(&"a".repeat(64)), "{script}");
        assert!(script.contains("Bins = @('hello.exe')"));
        assert!(script.contains("$env:HELLO_INSTALL_DIR"));
        assert!(!script.contains("@APP_") && !script.contains("@ENV@") && !script.contains("@PS_ARCHIVES@"));
        // Balanced braces and parentheses: a cheap structural check where no PowerShell runs.
        for (open, close) in [('{', '}'), ('(', ')')] {
            assert_eq!(script.matches(open).count(), script.matches(close).count(), "{open}{close}");
        }
    }

    #[test]
    fn a_value_that_would_need_quoting_is_refused() {
        let mut bad = installer();
        bad.archives[0].file = "x'; rm -rf ~; '".into();
        assert!(bad.shell().unwrap_err().to_string().contains("cannot be written into an installer"));
        let mut bad = installer();
        bad.archives[0].sha256 = "zz".into();
        assert!(bad.shell().is_err());
        assert_eq!(env_prefix("my-tool.x"), "MY_TOOL_X");
    }
}
