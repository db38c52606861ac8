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
pub fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_workflow_command_rules() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(add_mask("p%ss"), "::add-mask::p%25ss");
    }
}
