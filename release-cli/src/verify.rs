//! `release verify`: check downloaded release files against their signatures.
//!
//! `release verify --key cosign.pub FILE...` checks each FILE against FILE.sig;
//! `release verify --key cosign.pub --checksums SHA256SUMS` checks the checksums file against
//! its signature, then every file it lists against both its digest and its own signature.
//! One line per file (`ok` or `FAILED` with the reason); exit code 0 when every file passed,
//! 1 when any failed, 2 when nothing could be checked (bad arguments, unreadable key).

use std::io::Write;

use camino::Utf8PathBuf;
use clap::Args;
use release_core::signing::{FileVerdict, PublicKey, signature_path};
use release_core::signing::{verify_checksums, verify_file};
use release_core::{FailureKind, StepError};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The public key (PEM, `cosign.pub`) the release was signed with.
    #[arg(long, value_name = "PUBLIC_KEY")]
    key: Utf8PathBuf,
    /// Verify this SHA256SUMS and its .sig, then every file it lists: digest and .sig.
    #[arg(long, value_name = "SHA256SUMS", conflicts_with_all = ["files", "signature"])]
    checksums: Option<Utf8PathBuf>,
    /// The signature of the one FILE, instead of FILE.sig.
    #[arg(long, value_name = "SIG")]
    signature: Option<Utf8PathBuf>,
    /// Files to verify, each against FILE.sig.
    #[arg(value_name = "FILE", required_unless_present = "checksums")]
    files: Vec<Utf8PathBuf>,
}

pub fn run(args: &VerifyArgs, json: bool) -> i32 {
    if args.signature.is_some() && args.files.len() != 1 {
        return crate::cli::usage_error(
            &StepError::new(format!(
                "--signature names the signature of one file, but {} were given",
                args.files.len()
            ))
            .with_help("verify the files one by one, or leave out --signature to use FILE.sig"),
        );
    }
    let key = match PublicKey::load(&args.key) {
        Ok(key) => key,
        Err(err) => return crate::cli::usage_error(&err.into()),
    };
    let verdicts = match &args.checksums {
        Some(sums) => match verify_checksums(&key, sums) {
            Ok(verdicts) => verdicts,
            Err(err) => return crate::cli::usage_error(&err.into()),
        },
        None => args
            .files
            .iter()
            .map(|file| {
                let signature = args.signature.clone().unwrap_or_else(|| signature_path(file));
                verify_file(&key, file, &signature, None)
            })
            .collect(),
    };
    let failed = verdicts.iter().filter(|v| !v.passed()).count();
    let _ = if json { print_json(&verdicts) } else { print_lines(&verdicts, &key, failed) };
    if failed == 0 { 0 } else { FailureKind::Step.exit_code() }
}

fn print_lines(verdicts: &[FileVerdict], key: &PublicKey, failed: usize) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for verdict in verdicts {
        if verdict.passed() {
            writeln!(out, "ok      {}", verdict.file)?;
        } else {
            let reasons: Vec<String> = verdict.failures.iter().map(ToString::to_string).collect();
            writeln!(out, "FAILED  {}: {}", verdict.file, reasons.join("; "))?;
        }
    }
    let total = verdicts.len();
    if failed == 0 {
        writeln!(out, "all {total} file(s) verified against public key {}", key.fingerprint())
    } else {
        writeln!(out, "{failed} of {total} file(s) FAILED verification against public key {}", key.fingerprint())
    }
}

fn print_json(verdicts: &[FileVerdict]) -> std::io::Result<()> {
    let value: Vec<serde_json::Value> = verdicts
        .iter()
        .map(|v| {
            serde_json::json!({
                "file": v.file,
                "passed": v.passed(),
                "failures": v.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)
}
