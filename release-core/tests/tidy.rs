//! The house rules that a lint cannot hold (clippy.toml holds the others), as a scan of
//! release-core's source text:
//!
//! - the library never prints: no `println!`, `eprintln!`, `print!`, `eprint!`, `dbg!`
//!   (a lint denies these too, but not in code a `#[allow]` excuses);
//! - every subprocess starts in `shell.rs`: no `Command::new`, `Command::from`, `xshell`
//!   elsewhere;
//! - the process environment is read in `env.rs` only: no `env::var`, `env::vars`,
//!   `env::set_var`, `env::remove_var`, `env::args`, `env::home_dir` elsewhere.

use std::path::{Path, PathBuf};

/// A rule: what must not appear, and the one file where it may.
struct Rule {
    needles: &'static [&'static str],
    allowed_in: &'static str,
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        needles: &["eprintln!", "println!", "eprint!(", "print!(", "dbg!("],
        allowed_in: "",
        why: "the library never prints: report an event to the `Reporter`",
    },
    Rule {
        needles: &["Command::new", "Command::from", "xshell", "process::Child"],
        allowed_in: "shell.rs",
        why: "every subprocess goes through `shell.rs` (the run's `Environment`, its `PATH`)",
    },
    Rule {
        needles: &["env::var", "env::set_var", "env::remove_var", "env::args", "env::home_dir"],
        allowed_in: "env.rs",
        why: "the process environment is read through `Environment` (`env.rs`) only",
    },
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `needle` occurs in `code` not as the tail of a longer name (`BuildCommand::new`
/// is no `Command::new`).
fn contains_word(code: &str, needle: &str) -> bool {
    code.match_indices(needle)
        .any(|(at, _)| !code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_'))
}

/// Every line of `text` that breaks a rule, as `file:line: needle: why`. Comment lines are
/// prose and do not count (`//`, `//!`, `///`).
fn violations(file: &str, text: &str) -> Vec<String> {
    let name = file.rsplit('/').next().unwrap_or(file);
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for rule in RULES {
            if name == rule.allowed_in {
                continue;
            }
            // One finding per rule and line (`eprintln!` also contains `println!`).
            if let Some(needle) = rule.needles.iter().find(|needle| contains_word(code, needle)) {
                found.push(format!("{file}:{}: `{needle}`: {}", number + 1, rule.why));
            }
        }
    }
    found
}

#[test]
fn release_core_source_keeps_the_house_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "the scan sees the source tree: {files:?}");
    let found: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let shown = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            violations(&shown, &std::fs::read_to_string(path).unwrap())
        })
        .collect();
    assert!(found.is_empty(), "house rules broken:\n{}", found.join("\n"));
}

/// The scan finds what it is meant to find (so that a passing scan means something).
#[test]
fn the_scan_catches_each_rule() {
    let bad = "fn f() {\n    println!(\"x\");\n    let c = tokio::process::Command::new(\"sh\");\n    let v = std::env::var(\"HOME\");\n}\n";
    let found = violations("oci/credentials.rs", bad);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("oci/credentials.rs:2: `println!`"), "{found:#?}");
    assert!(found[1].starts_with("oci/credentials.rs:3: `Command::new`"), "{found:#?}");
    assert!(found[2].starts_with("oci/credentials.rs:4: `env::var`"), "{found:#?}");
    // Where a rule allows it, and in comments, it is not a violation.
    assert!(violations("shell.rs", "    let c = tokio::process::Command::new(p);\n").is_empty());
    assert!(violations("assemble.rs", "    let step = BuildCommand::new(config, b, target);\n").is_empty());
    assert!(violations("env.rs", "            vars: std::env::vars_os()\n").is_empty());
    assert!(violations("a.rs", "/// call `println!` never\n").is_empty());
    assert_eq!(violations("shell.rs", "    eprintln!(\"x\");\n").len(), 1, "printing is allowed nowhere");
}
