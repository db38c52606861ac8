//! `.helmignore`: which files of a chart directory stay out of the package.
//!
//! The syntax is gitignore's, as Helm documents it for `.helmignore`: one pattern per line;
//! blank lines and lines starting with `#` are skipped; `!` negates; a trailing `/` matches
//! directories only; `*` and `?` match within one path component, `[a-z]`/`[!a-z]` match one
//! character of a class, `\` escapes; `**` as a whole component matches any number of
//! directories. A pattern with a `/` (other than a trailing one) is matched against the
//! path relative to the chart directory, a pattern without one against the base name at
//! any depth. The last matching rule decides, as in gitignore (Helm's own evaluation of
//! `!` differs in corner cases; gitignore's is the one users know).
//!
//! This module only answers "is this relative path ignored?". It never touches the disk
//! and never sees a path outside the chart: the walker in [`super::files`] hands it paths
//! relative to the chart directory, and prunes ignored directories (so, as in gitignore, a
//! file inside an ignored directory cannot be re-included).

/// The rule Helm always adds: dot files directly in `templates/` are not templates.
pub(crate) const DEFAULT_RULES: &str = "templates/.?*";

/// The file name Helm reads ignore rules from.
pub(crate) const HELMIGNORE: &str = ".helmignore";

/// A parsed `.helmignore` plus Helm's default rule.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    rules: Vec<Rule>,
}

/// A line that is not a valid pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PatternError {
    /// 1-based line number in the file.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug)]
struct Rule {
    negate: bool,
    dir_only: bool,
    /// Matched against the whole relative path (the pattern has a `/`), or else against
    /// the base name.
    anchored: bool,
    components: Vec<Component>,
}

#[derive(Clone, Debug, PartialEq)]
enum Component {
    /// `**`: any number of whole path components.
    AnyDirectories,
    Glob(Vec<Token>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*`
    AnyRun,
    /// `[...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Rules {
    /// Helm's default rule alone: what applies when a chart has no `.helmignore`.
    pub(crate) fn defaults() -> Rules {
        Rules::parse("").expect("no user rules")
    }

    /// Helm's default rule followed by the rules of a `.helmignore` text.
    pub(crate) fn parse(text: &str) -> Result<Rules, PatternError> {
        let mut rules = vec![Rule::parse(DEFAULT_RULES).expect("the default rule is valid").expect("not blank")];
        for (index, line) in text.lines().enumerate() {
            match Rule::parse(line) {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(reason) => return Err(PatternError { line: index + 1, pattern: line.trim().to_owned(), reason }),
            }
        }
        Ok(Rules { rules })
    }

    /// Whether `path` (relative to the chart directory, `/`-separated, no `.` or `..`
    /// components) is ignored. `is_dir` says whether it names a directory.
    pub(crate) fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        if components.is_empty() {
            // The chart directory itself is never ignored.
            return false;
        }
        let mut ignored = false;
        for rule in &self.rules {
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.matches(&components) {
                ignored = !rule.negate;
            }
        }
        ignored
    }
}

impl Rule {
    /// `Ok(None)` for blank lines and comments.
    fn parse(line: &str) -> Result<Option<Rule>, &'static str> {
        let mut pattern = line.trim();
        if pattern.is_empty() || pattern.starts_with('#') {
            return Ok(None);
        }
        let negate = match pattern.strip_prefix('!') {
            Some(rest) => {
                pattern = rest;
                true
            }
            None => false,
        };
        let dir_only = match pattern.strip_suffix('/') {
            Some(rest) => {
                pattern = rest;
                true
            }
            None => false,
        };
        let rooted = match pattern.strip_prefix('/') {
            Some(rest) => {
                pattern = rest;
                true
            }
            None => false,
        };
        if pattern.is_empty() {
            return Err("the pattern is empty once `!` and `/` are removed");
        }
        let anchored = rooted || pattern.contains('/');
        let components = pattern
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| if c == "**" { Ok(Component::AnyDirectories) } else { parse_glob(c).map(Component::Glob) })
            .collect::<Result<Vec<_>, _>>()?;
        if components.is_empty() {
            return Err("the pattern has no path component");
        }
        Ok(Some(Rule { negate, dir_only, anchored, components }))
    }

    fn matches(&self, path: &[&str]) -> bool {
        if self.anchored {
            match_components(&self.components, path)
        } else {
            // Unanchored patterns have exactly one component (no `/`): the base name.
            let base = path.last().expect("non-empty path");
            match &self.components[..] {
                [Component::Glob(tokens)] => match_glob(tokens, &base.chars().collect::<Vec<_>>()),
                [Component::AnyDirectories] => true,
                _ => false,
            }
        }
    }
}

fn parse_glob(text: &str) -> Result<Vec<Token>, &'static str> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                // A trailing backslash escapes nothing: keep it as a literal.
                tokens.push(Token::Literal(chars.get(i + 1).copied().unwrap_or('\\')));
                i += 2;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i += 1;
            }
            '*' => {
                // `a**b` is not a directory wildcard: it means the same as `a*b`.
                if tokens.last() != Some(&Token::AnyRun) {
                    tokens.push(Token::AnyRun);
                }
                i += 1;
            }
            '[' => {
                let (token, next) = parse_class(&chars, i + 1)?;
                tokens.push(token);
                i = next;
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Parses a class starting after its `[`; returns the token and the index after its `]`.
fn parse_class(chars: &[char], mut i: usize) -> Result<(Token, usize), &'static str> {
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("a `[` character class is not closed with `]`");
        };
        if c == ']' && !first {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        let (low, next) = class_char(chars, i)?;
        i = next;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            let (high, next) = class_char(chars, i + 1)?;
            if high < low {
                return Err("a range in a `[` character class runs backwards");
            }
            ranges.push((low, high));
            i = next;
        } else {
            ranges.push((low, low));
        }
    }
}

fn class_char(chars: &[char], i: usize) -> Result<(char, usize), &'static str> {
    match chars.get(i) {
        Some('\\') => chars.get(i + 1).map(|&c| (c, i + 2)).ok_or("a `[` character class is not closed with `]`"),
        Some(&c) => Ok((c, i + 1)),
        None => Err("a `[` character class is not closed with `]`"),
    }
}

/// Matches pattern components against path components; `**` takes zero or more whole
/// components, except at the end, where it takes at least one (`logs/**` is everything
/// inside `logs`, not `logs` itself).
fn match_components(pattern: &[Component], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Component::AnyDirectories, rest)) => {
            let min = usize::from(rest.is_empty());
            (min..=path.len()).any(|skip| match_components(rest, &path[skip..]))
        }
        Some((Component::Glob(tokens), rest)) => match path.split_first() {
            Some((first, path_rest)) => {
                match_glob(tokens, &first.chars().collect::<Vec<_>>()) && match_components(rest, path_rest)
            }
            None => false,
        },
    }
}

/// Matches one component. Backtracks only at `*`; components are short.
fn match_glob(tokens: &[Token], text: &[char]) -> bool {
    match tokens.split_first() {
        None => text.is_empty(),
        Some((Token::AnyRun, rest)) => (0..=text.len()).any(|skip| match_glob(rest, &text[skip..])),
        Some((token, rest)) => match text.split_first() {
            Some((&c, text_rest)) => token_matches(token, c) && match_glob(rest, text_rest),
            None => false,
        },
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar => true,
        Token::AnyRun => unreachable!("handled by match_glob"),
        Token::Class { negated, ranges } => ranges.iter().any(|&(low, high)| low <= c && c <= high) != *negated,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rules(text: &str) -> Rules {
        Rules::parse(text).unwrap()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let r = rules("# a comment\n\n   \n#*.yaml\n");
        assert!(!r.is_ignored("values.yaml", false));
        assert!(!r.is_ignored("# a comment", false));
    }

    #[test]
    fn pattern_without_slash_matches_base_name_at_any_depth() {
        let r = rules("*.bak\n.git\n");
        assert!(r.is_ignored("a.bak", false));
        assert!(r.is_ignored("templates/deep/x.bak", false));
        assert!(r.is_ignored(".git", true));
        assert!(r.is_ignored("sub/.git", true));
        assert!(!r.is_ignored("a.bak.txt", false));
        assert!(!r.is_ignored("bak", false));
    }

    #[test]
    fn pattern_with_slash_matches_the_relative_path() {
        let r = rules("templates/*.txt\n/ci\n");
        assert!(r.is_ignored("templates/notes.txt", false));
        assert!(!r.is_ignored("other/templates/notes.txt", false));
        assert!(!r.is_ignored("templates/sub/notes.txt", false), "`*` does not cross `/`");
        assert!(r.is_ignored("ci", true));
        assert!(!r.is_ignored("sub/ci", true), "a leading `/` anchors to the chart directory");
    }

    #[test]
    fn trailing_slash_matches_directories_only() {
        let r = rules("build/\n");
        assert!(r.is_ignored("build", true));
        assert!(r.is_ignored("x/build", true));
        assert!(!r.is_ignored("build", false));
    }

    #[test]
    fn negation_re_includes_and_the_last_match_wins() {
        let r = rules("*.md\n!README.md\n");
        assert!(r.is_ignored("NOTES.md", false));
        assert!(!r.is_ignored("README.md", false));
        let r = rules("!README.md\n*.md\n");
        assert!(r.is_ignored("README.md", false));
    }

    #[test]
    fn question_mark_and_classes() {
        let r = rules("file?.txt\n[abc].yaml\n[!x-z]y\n");
        assert!(r.is_ignored("file1.txt", false));
        assert!(!r.is_ignored("file10.txt", false));
        assert!(r.is_ignored("b.yaml", false));
        assert!(!r.is_ignored("d.yaml", false));
        assert!(r.is_ignored("ay", false));
        assert!(!r.is_ignored("xy", false));
    }

    #[test]
    fn double_star() {
        let r = rules("**/secret.yaml\nlogs/**\na/**/b\n");
        assert!(r.is_ignored("secret.yaml", false));
        assert!(r.is_ignored("x/y/secret.yaml", false));
        assert!(r.is_ignored("logs/today.log", false));
        assert!(r.is_ignored("logs/old/today.log", false));
        assert!(!r.is_ignored("logs", true), "`logs/**` is what is inside logs");
        assert!(r.is_ignored("a/b", false));
        assert!(r.is_ignored("a/x/y/b", false));
        assert!(!r.is_ignored("a/x/c", false));
    }

    #[test]
    fn escapes_are_literal() {
        let r = rules("\\#not-a-comment\n\\!bang\nstar\\*\n");
        assert!(r.is_ignored("#not-a-comment", false));
        assert!(r.is_ignored("!bang", false));
        assert!(r.is_ignored("star*", false));
        assert!(!r.is_ignored("starry", false));
    }

    #[test]
    fn helm_default_ignores_dot_files_in_templates() {
        let r = Rules::defaults();
        assert!(r.is_ignored("templates/.swp", false));
        assert!(!r.is_ignored("templates/deployment.yaml", false));
        assert!(!r.is_ignored(".helmignore", false));
        assert!(!r.is_ignored("templates/sub/.keep", false));
    }

    #[test]
    fn bad_patterns_name_the_line() {
        let err = Rules::parse("*.tmp\n[abc\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.pattern, "[abc");
        assert!(err.reason.contains("not closed"), "{}", err.reason);
        assert!(Rules::parse("!/\n").is_err());
        assert!(Rules::parse("[z-a]\n").is_err());
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,8}".prop_filter("not a dot component", |c| c != "." && c != "..")
    }

    fn relative_path() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(component(), 1..5)
    }

    proptest! {
        /// Whatever a line says, parsing and matching never panic.
        #[test]
        fn arbitrary_patterns_never_panic(pattern in ".{0,20}", path in relative_path(), is_dir: bool) {
            if let Ok(rules) = Rules::parse(&pattern) {
                let _ = rules.is_ignored(&path.join("/"), is_dir);
            }
        }

        /// A literal base name matches that name at any depth, and nothing else.
        #[test]
        fn literal_base_name_matches_at_any_depth(path in relative_path(), name in "[a-z]{1,6}") {
            let rules = Rules::parse(&name).unwrap();
            let joined = path.join("/");
            prop_assert_eq!(rules.is_ignored(&joined, false), path.last().unwrap() == &name);
        }

        /// A literal path with a slash matches exactly that path, never the same path deeper
        /// down: anchored patterns stay anchored to the chart directory.
        #[test]
        fn anchored_literal_matches_only_itself(pattern in relative_path(), prefix in relative_path()) {
            prop_assume!(pattern.len() > 1);
            let pattern_text = pattern.join("/");
            let escaped: String =
                pattern_text.chars().map(|c| if c == '/' { "/".to_owned() } else { format!("\\{c}") }).collect();
            let rules = Rules::parse(&escaped).unwrap();
            prop_assert!(rules.is_ignored(&pattern_text, false));
            let deeper = format!("{}/{}", prefix.join("/"), pattern_text);
            prop_assert!(!rules.is_ignored(&deeper, false));
        }

        /// `!*` after any rules re-includes every file: the last match wins.
        #[test]
        fn final_negated_star_includes_everything(lines in prop::collection::vec("[a-z*?/!.]{1,6}", 0..5), path in relative_path()) {
            let text = format!("{}\n!*\n", lines.join("\n"));
            if let Ok(rules) = Rules::parse(&text) {
                prop_assert!(!rules.is_ignored(&path.join("/"), false));
            }
        }

        /// `**` alone ignores every path.
        #[test]
        fn double_star_matches_every_path(path in relative_path(), is_dir: bool) {
            prop_assert!(Rules::parse("**").unwrap().is_ignored(&path.join("/"), is_dir));
        }
    }
}
