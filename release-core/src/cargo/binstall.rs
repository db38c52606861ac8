//! A crate's `[package.metadata.binstall]`, checked against what the release publishes: for
//! every target, its `pkg-url` must name the archive (and the tag) the release uploads, its
//! `pkg-fmt` the archive's format, and its `bin-dir` each binary's path inside.
//!
//! Templates are cargo-binstall's: `{ var }` with optional spaces. A crate without the table
//! needs nothing: the archives follow cargo-binstall's defaults (see [`crate::archive`]).

use crate::archive::{ArchiveName, exe_suffix};

/// What one target's archive holds, for the check.
#[derive(Clone, Debug)]
pub(crate) struct Published<'a> {
    /// The crate name (`{ name }`).
    pub name: &'a str,
    pub version: &'a str,
    pub target: &'a str,
    pub archive: &'a ArchiveName,
    pub bins: &'a [String],
    /// The release's tag.
    pub tag: &'a str,
    /// `package.repository`.
    pub repo: Option<&'a str>,
}

/// Checks the `binstall` value of a package's `metadata` against one target's archive. The
/// error is one sentence naming the key.
pub(crate) fn check(binstall: &serde_json::Value, published: &Published<'_>) -> Result<(), String> {
    let overrides = binstall.get("overrides").and_then(|o| o.get(published.target));
    let key = |name: &str| -> Option<(String, &str)> {
        if let Some(value) = overrides.and_then(|o| o.get(name)).and_then(|v| v.as_str()) {
            return Some((format!("overrides.{}.{name}", published.target), value));
        }
        binstall.get(name).and_then(|v| v.as_str()).map(|v| (name.to_owned(), v))
    };
    let format = published.archive.format;
    if let Some((field, fmt)) = key("pkg-fmt") {
        let accepted: &[&str] = match format {
            crate::archive::Format::TarGz => &["tgz", "tar.gz"],
            crate::archive::Format::Zip => &["zip"],
        };
        if !accepted.contains(&fmt) {
            return Err(format!(
                "`{field}` is `{fmt}`, but the release publishes a {} archive for {} (pkg-fmt `{}`)",
                format.extension(),
                published.target,
                format.binstall_pkg_fmt()
            ));
        }
    }
    let suffix = format!(".{}", format.extension());
    let vars = |bin: Option<&str>| -> Vec<(&'static str, String)> {
        let arch = crate::config::target_arch(published.target).to_owned();
        let family = if exe_suffix(published.target).is_empty() { "unix" } else { "windows" };
        vec![
            ("name", published.name.to_owned()),
            ("version", published.version.to_owned()),
            ("target", published.target.to_owned()),
            ("repo", published.repo.unwrap_or("").trim_end_matches('/').to_owned()),
            ("archive-format", format.extension().to_owned()),
            ("archive-suffix", suffix.clone()),
            ("binary-ext", exe_suffix(published.target).to_owned()),
            ("bin", bin.unwrap_or("").to_owned()),
            ("target-arch", arch),
            ("target-family", family.to_owned()),
        ]
    };
    if let Some((field, template)) = key("pkg-url") {
        let mut values = vars(None);
        // `format` is `archive-format` in pkg-url.
        values.push(("format", format.extension().to_owned()));
        let url = render(template, &values).map_err(|e| format!("`{field}`: {e}"))?;
        let file = url.rsplit('/').next().unwrap_or(&url);
        if file != published.archive.file_name() {
            return Err(format!(
                "`{field}` gives `{url}` for {}, but the release publishes `{}`",
                published.target,
                published.archive.file_name()
            ));
        }
        if let Some((_, after)) = url.split_once("/releases/download/") {
            let tag = after.rsplit_once('/').map_or("", |(tag, _)| tag);
            if tag != published.tag {
                return Err(format!(
                    "`{field}` gives `{url}`, whose release tag `{tag}` is not the release's tag `{}`",
                    published.tag
                ));
            }
        }
    }
    if let Some((field, template)) = key("bin-dir") {
        for bin in published.bins {
            let mut values = vars(Some(bin));
            values.push(("format", exe_suffix(published.target).to_owned()));
            let path = render(template, &values).map_err(|e| format!("`{field}`: {e}"))?;
            let expected = format!("{}/{bin}{}", published.archive.dir(), exe_suffix(published.target));
            if path.trim_start_matches("./") != expected {
                return Err(format!(
                    "`{field}` gives `{path}` for the binary `{bin}` on {}, but the archive holds it as `{expected}`",
                    published.target
                ));
            }
        }
    }
    Ok(())
}

/// Renders a cargo-binstall template (`{ var }`, `\{` and `\}` for braces).
pub(crate) fn render(template: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => out.push(escaped),
                None => out.push('\\'),
            },
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("`{{{name}` is not closed")),
                    }
                }
                let name = name.trim();
                let value = values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| format!("the variable `{name}` is not one this release can fill in"))?;
                out.push_str(&value.1);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::archive_name;

    fn published<'a>(archive: &'a ArchiveName, bins: &'a [String]) -> Published<'a> {
        Published {
            name: "hello",
            version: "0.3.1",
            target: "x86_64-unknown-linux-gnu",
            archive,
            bins,
            tag: "v0.3.1",
            repo: Some("https://github.com/acme/hello"),
        }
    }

    #[test]
    fn the_documented_defaults_written_out_agree() {
        let archive = archive_name("hello", "x86_64-unknown-linux-gnu", "0.3.1");
        let bins = ["hello".to_owned()];
        let meta = serde_json::json!({
            "pkg-url": "{ repo }/releases/download/v{ version }/{ name }-{ target }-v{ version }{ archive-suffix }",
            "bin-dir": "{ name }-{ target }-v{ version }/{ bin }{ binary-ext }",
            "pkg-fmt": "tgz",
        });
        check(&meta, &published(&archive, &bins)).unwrap();
    }

    #[test]
    fn disagreements_name_the_key_and_what_is_published() {
        let archive = archive_name("hello", "x86_64-unknown-linux-gnu", "0.3.1");
        let bins = ["hello".to_owned()];
        let p = published(&archive, &bins);
        let err = check(
            &serde_json::json!({"pkg-url": "{ repo }/releases/download/v{ version }/{ name }-{ target }.tgz"}),
            &p,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "`pkg-url` gives `https://github.com/acme/hello/releases/download/v0.3.1/hello-x86_64-unknown-linux-gnu.tgz` for x86_64-unknown-linux-gnu, but the release publishes `hello-x86_64-unknown-linux-gnu-v0.3.1.tar.gz`"
        );
        let err = check(&serde_json::json!({"pkg-fmt": "zip"}), &p).unwrap_err();
        assert!(err.starts_with("`pkg-fmt` is `zip`, but the release publishes a tar.gz archive"), "{err}");
        let err = check(&serde_json::json!({"bin-dir": "{ bin }{ binary-ext }"}), &p).unwrap_err();
        assert!(err.contains("but the archive holds it as `hello-x86_64-unknown-linux-gnu-v0.3.1/hello`"), "{err}");
        let err = check(
            &serde_json::json!({"pkg-url": "{ repo }/releases/download/{ version }/{ name }-{ target }-v{ version }{ archive-suffix }"}),
            &p,
        )
        .unwrap_err();
        assert!(err.contains("whose release tag `0.3.1` is not the release's tag `v0.3.1`"), "{err}");
        let err = check(&serde_json::json!({"pkg-url": "{ nope }"}), &p).unwrap_err();
        assert_eq!(err, "`pkg-url`: the variable `nope` is not one this release can fill in");
        // A per-target override wins and is named as such.
        let err =
            check(&serde_json::json!({"overrides": {"x86_64-unknown-linux-gnu": {"pkg-fmt": "zip"}}}), &p).unwrap_err();
        assert!(err.starts_with("`overrides.x86_64-unknown-linux-gnu.pkg-fmt`"), "{err}");
    }
}
