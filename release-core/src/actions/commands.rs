//! GitHub Actions workflow commands as text: the escaping rules and the `::add-mask::`
//! command. Front ends print these lines on stdout, where the runner reads them; this
//! module only builds them.

/// Escapes a workflow command's message: `%`, CR and LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as data, plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The command that makes the runner hide `value` in every log line after it. The one
/// sanctioned way a secret value is printed.
pub(crate) fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

/// One output in `$GITHUB_OUTPUT`'s format: `name=value`, or a heredoc (`name<<DELIMITER`)
/// for a value of several lines.
pub fn output_line(name: &str, value: &str) -> String {
    if value.contains('\n') {
        format!("{name}<<RELEASE_OUTPUT_EOF\n{value}\nRELEASE_OUTPUT_EOF\n")
    } else {
        format!("{name}={value}\n")
    }
}

/// Appends `lines` ([`output_line`]s) to the file `$GITHUB_OUTPUT` names, where later steps
/// of the job read a step's outputs; nothing when it is unset. The one writer of that file:
/// a front end that may hold secrets redacts `lines` first.
pub fn append_github_output(env: &crate::Environment, lines: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(path) = env.get("GITHUB_OUTPUT") {
        std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(lines.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_appended_in_the_runners_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("output");
        let env = crate::Environment::empty().with("GITHUB_OUTPUT", file.to_str().unwrap());
        append_github_output(&env, &output_line("tag", "v1.0.0")).unwrap();
        append_github_output(&env, &output_line("notes", "a\nb")).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "tag=v1.0.0\nnotes<<RELEASE_OUTPUT_EOF\na\nb\nRELEASE_OUTPUT_EOF\n");
        append_github_output(&crate::Environment::empty(), "x=1\n").unwrap();
    }

    #[test]
    fn escaping_follows_the_workflow_command_rules() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(add_mask("p%ss"), "::add-mask::p%25ss");
    }
}
