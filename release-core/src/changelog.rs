//! A version's section of a changelog, as release notes. Pure.
//!
//! Headings of the second level name a version in any of the forms maintainers write:
//! `## [0.4.0] - 2026-12-01` (Keep a Changelog), `## 0.4.0`, `## v0.4.0`, `## [v0.4.0]`,
//! `## 0.4.0 (2026-12-01)`. A section runs to the next heading of the first or second level;
//! link definitions (`[0.4.0]: https://…`) at its end and blank lines around it are left
//! out. `## [Unreleased]` names no version, so it is never a release's section.

/// The file the release notes come from by default, in the config's directory.
pub(crate) const CHANGELOG_FILE: &str = "CHANGELOG.md";

/// The changelog the GitHub release notes come from: `CHANGELOG.md` in the config's
/// directory `root`, when `[github]` names no other source (`notes-file`, `generate-notes`),
/// has not turned it off (`notes-from-changelog = false`) and the file exists.
pub(crate) fn notes_file(github: &crate::config::GithubConfig, root: &camino::Utf8Path) -> Option<camino::Utf8PathBuf> {
    if github.notes_file.is_some() || github.generate_notes || !github.notes_from_changelog {
        return None;
    }
    let file = root.join(CHANGELOG_FILE);
    file.is_file().then_some(file)
}

/// What a changelog file holds for a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Section(Section),
    /// No section for the version; the versions it has sections for.
    Missing(Vec<String>),
}

/// Reads `file` and finds the section of `version` in it.
pub(crate) fn read(file: &camino::Utf8Path, version: &semver::Version) -> std::io::Result<Found> {
    let text = std::fs::read_to_string(file)?;
    Ok(match section(&text, version) {
        Some(found) => Found::Section(found),
        None => Found::Missing(versions(&text)),
    })
}

/// A version's section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// The heading's line, 1-based.
    pub line: usize,
    /// The heading as written, without `## `.
    pub heading: String,
    /// The text under the heading.
    pub body: String,
}

/// The version a second-level heading names, as written (`0.4.0` for `## [v0.4.0] - date`).
fn heading_version(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("## ")?.trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let end = rest.find(|c: char| c == ']' || c.is_whitespace()).unwrap_or(rest.len());
    let word = &rest[..end];
    Some(word.strip_prefix(['v', 'V']).unwrap_or(word))
}

fn is_link_definition(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('[') && line.contains("]: ")
}

/// The section of `version` in a changelog's text, if it has one.
pub(crate) fn section(text: &str, version: &semver::Version) -> Option<Section> {
    let wanted = version.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|line| heading_version(line) == Some(wanted.as_str()))?;
    let end = lines[start + 1..]
        .iter()
        .position(|line| line.starts_with("# ") || line.starts_with("## "))
        .map_or(lines.len(), |at| start + 1 + at);
    let mut body: Vec<&str> = lines[start + 1..end].to_vec();
    while body.last().is_some_and(|line| line.trim().is_empty() || is_link_definition(line)) {
        body.pop();
    }
    let first = body.iter().position(|line| !line.trim().is_empty()).unwrap_or(body.len());
    Some(Section {
        line: start + 1,
        heading: lines[start].trim_start_matches('#').trim().to_owned(),
        body: body[first..].join("\n"),
    })
}

/// The versions a changelog has sections for, as written, for an error that lists them.
pub(crate) fn versions(text: &str) -> Vec<String> {
    text.lines().filter_map(heading_version).filter(|v| semver::Version::parse(v).is_ok()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n\n- soon\n\n## [0.4.0] - 2026-12-01\n\n### Added\n\n- the tag check\n\n## v0.3.1\n\n- a fix\n## 0.3.0 (2026-01-02)\nfirst\n\n[0.4.0]: https://example.test/compare/v0.3.1...v0.4.0\n[0.3.1]: https://example.test/x\n";

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn every_heading_form_finds_its_section() {
        let found = section(TEXT, &v("0.4.0")).unwrap();
        assert_eq!(found.line, 9);
        assert_eq!(found.heading, "[0.4.0] - 2026-12-01");
        assert_eq!(found.body, "### Added\n\n- the tag check");
        assert_eq!(section(TEXT, &v("0.3.1")).unwrap().body, "- a fix");
        assert_eq!(section(TEXT, &v("0.3.0")).unwrap().body, "first", "link definitions at the end are left out");
        assert_eq!(section(TEXT, &v("0.2.0")), None);
        assert_eq!(section(TEXT, &v("0.4.0-rc.1")), None, "a prerelease is not its release");
        assert_eq!(versions(TEXT), ["0.4.0", "0.3.1", "0.3.0"]);
    }

    #[test]
    fn an_empty_section_is_found_and_empty() {
        let found = section("## 1.0.0\n\n## 0.9.0\n- x\n", &v("1.0.0")).unwrap();
        assert_eq!(found.body, "");
    }
}
