//! `release verify`: check downloaded release files against their signatures.
//!
//! `release verify --key cosign.pub FILE...` checks each FILE against the key pair's
//! signatures beside it: FILE.sig (base64 DER) and FILE.sigstore.json (a Sigstore bundle with
//! a public-key hint), every one that exists, at least one; `--signature` or `--bundle` name
//! them elsewhere for one FILE. `release verify --key cosign.pub --checksums SHA256SUMS`
//! checks the checksums file against its signatures, then every file it lists against both
//! its digest and its own signatures. One line per file (`ok` or `FAILED` with the reason);
//! exit code 0 when every file passed, 1 when any failed, 2 when nothing could be checked
//! (bad arguments, unreadable key).
//!
//! Without `--key`, each FILE is checked offline against its Sigstore bundle (FILE.sigstore.json,
//! or `--bundle`) in the manner of `gh attestation verify`: the certificate chains to the
//! trusted root (public-good Sigstore, or `--trusted-root`), its SCT and the Rekor entry
//! verify, and the signer is who the flags say: `--certificate-identity` (exact SAN),
//! `--certificate-identity-regexp`, `--repo OWNER/REPO` (SAN under the repository and the
//! certificate's source repository), `--certificate-oidc-issuer` (default GitHub Actions).

use std::io::Write;

use camino::Utf8PathBuf;
use clap::Args;
use release_core::signing::{FileVerdict, PublicKey, SignatureFile, Signatures};
use release_core::signing::{verify_checksums, verify_file};
use release_core::{FailureKind, StepError};

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The public key (PEM, `cosign.pub`) the release was signed with; without it, files
    /// are checked against their Sigstore bundles (keyless signing).
    #[arg(long, value_name = "PUBLIC_KEY")]
    key: Option<Utf8PathBuf>,
    /// The Sigstore bundle of the one FILE, instead of FILE.sigstore.json: a keyless bundle,
    /// or with --key a key pair's bundle (public-key hint).
    #[arg(long, value_name = "BUNDLE", conflicts_with = "checksums")]
    bundle: Option<Utf8PathBuf>,
    /// The exact certificate identity (SAN) that must have signed, e.g.
    /// https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3.
    #[arg(long, value_name = "SAN", conflicts_with = "key")]
    certificate_identity: Option<String>,
    /// A regular expression the certificate identity must match.
    #[arg(long, value_name = "REGEXP", conflicts_with = "key")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer of the signer's token.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://token.actions.githubusercontent.com",
        conflicts_with = "key"
    )]
    certificate_oidc_issuer: String,
    /// The repository that must have signed (OWNER/REPO): the identity is a workflow of it and
    /// the certificate names it as the source repository.
    #[arg(long, value_name = "OWNER/REPO", conflicts_with = "key")]
    repo: Option<String>,
    /// The trusted_root.json of the Sigstore instance that signed (public-good Sigstore when
    /// not given).
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    trusted_root: Option<Utf8PathBuf>,
    /// With --key: verify this SHA256SUMS and its signatures, then every file it lists: its
    /// digest and its signatures (.sig, .sigstore.json).
    #[arg(long, value_name = "SHA256SUMS", conflicts_with_all = ["files", "signature"])]
    checksums: Option<Utf8PathBuf>,
    /// With --key: the .sig of the one FILE, instead of the signatures beside it.
    #[arg(long, value_name = "SIG")]
    signature: Option<Utf8PathBuf>,
    /// Talk plain HTTP to the registry of an `oci://` chart reference (a local registry).
    #[arg(long, conflicts_with = "key")]
    plain_http: bool,
    /// Files to verify, each against its signatures beside it: FILE.sig and
    /// FILE.sigstore.json with --key, FILE.sigstore.json without. Without --key, a chart in
    /// its registry too, `oci://REGISTRY/PATH/NAME:VERSION`: against the signature (and build
    /// provenance) attached to it as OCI referrers.
    #[arg(value_name = "FILE", required_unless_present = "checksums")]
    files: Vec<Utf8PathBuf>,
}

pub(crate) fn run(args: &VerifyArgs, env: &release_core::Environment, json: bool) -> i32 {
    if args.signature.is_some() && args.files.len() != 1 {
        return crate::errors::usage_error(
            &StepError::new(format!(
                "--signature names the signature of one file, but {} were given",
                args.files.len()
            ))
            .with_help("verify the files one by one, or leave out --signature to use FILE.sig"),
        );
    }
    let Some(key) = &args.key else {
        return run_bundles(args, env, json);
    };
    if args.bundle.is_some() && args.files.len() != 1 {
        return bundle_for_one_file(args.files.len());
    }
    let key = match PublicKey::load(key) {
        Ok(key) => key,
        Err(err) => return crate::errors::usage_error(&err.into()),
    };
    let verdicts = match &args.checksums {
        Some(sums) => match verify_checksums(&key, sums) {
            Ok(verdicts) => verdicts,
            Err(err) => return crate::errors::usage_error(&err.into()),
        },
        None => args
            .files
            .iter()
            .map(|file| {
                // Named signatures replace the ones beside the file; each given must verify.
                let given: Vec<SignatureFile> = (args.signature.clone().map(SignatureFile::Legacy).into_iter())
                    .chain(args.bundle.clone().map(SignatureFile::Bundle))
                    .collect();
                let signatures = if given.is_empty() { Signatures::Beside } else { Signatures::Given(given) };
                verify_file(&key, file, &signatures, None)
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
            writeln!(out, "ok      {} ({})", verdict.file, checked_against(verdict))?;
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

/// What a file that passed was checked against: `app.sig and app.sigstore.json`.
fn checked_against(verdict: &FileVerdict) -> String {
    let names: Vec<String> = verdict
        .signatures
        .iter()
        .map(|s| {
            let kind = match s {
                SignatureFile::Legacy(_) => "signature",
                SignatureFile::Bundle(_) => "bundle",
            };
            format!("{kind} {}", s.path().file_name().unwrap_or(s.path().as_str()))
        })
        .collect();
    names.join(", ")
}

fn print_json(verdicts: &[FileVerdict]) -> std::io::Result<()> {
    let value: Vec<serde_json::Value> = verdicts
        .iter()
        .map(|v| {
            serde_json::json!({
                "file": v.file,
                "passed": v.passed(),
                "signatures": v.signatures.iter().map(SignatureFile::path).collect::<Vec<_>>(),
                "failures": v.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)
}

/// Bundle mode: each FILE against its Sigstore bundle, offline.
fn run_bundles(args: &VerifyArgs, env: &release_core::Environment, json: bool) -> i32 {
    use release_core::signing::{Expected, bundle_path, identity_pattern, trusted_root, verify_bundle as verify_file};
    if args.checksums.is_some() || args.signature.is_some() {
        return crate::errors::usage_error(
            &StepError::new("--checksums and --signature check a key pair's signatures and need --key")
                .with_help("pass --key cosign.pub, or verify keyless files with their bundles: `release verify --repo OWNER/REPO FILE...`"),
        );
    }
    if args.bundle.is_some() && args.files.len() != 1 {
        return bundle_for_one_file(args.files.len());
    }
    if args.certificate_identity.is_none() && args.certificate_identity_regexp.is_none() && args.repo.is_none() {
        return crate::errors::usage_error(
            &StepError::new("a bundle proves who signed only against an expected signer, and none was given")
                .with_help("pass --repo OWNER/REPO, --certificate-identity SAN or --certificate-identity-regexp REGEXP (or --key for files signed with a key pair)"),
        );
    }
    if let Some(Err(reason)) = args.certificate_identity_regexp.as_deref().map(identity_pattern) {
        return crate::errors::usage_error(
            &StepError::new(format!("--certificate-identity-regexp: {reason}"))
                .with_help("the pattern is a regular expression in RE2 syntax, as cosign's (no look-around); escape `.` as `\\.` for a literal dot"),
        );
    }
    let (root_json, shown) = match &args.trusted_root {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.to_string()),
            Err(e) => {
                return crate::errors::usage_error(
                    &StepError::new(format!("cannot read the trusted root {path}: {e}"))
                        .with_help("give the trusted_root.json of the Sigstore instance that signed, or leave out --trusted-root for public-good Sigstore"),
                );
            }
        },
        None => {
            (release_core::signing::Instance::public_good_trusted_root().to_owned(), "public-good Sigstore".to_owned())
        }
    };
    let root = match trusted_root(&root_json, &shown) {
        Ok(root) => root,
        Err(err) => return crate::errors::usage_error(&err.into()),
    };
    let identity_regexp = args.certificate_identity_regexp.clone().or_else(|| {
        (args.certificate_identity.is_none())
            .then(|| args.repo.as_ref().map(|r| release_core::signing::repository_identity_pattern(r)))
            .flatten()
    });
    let expected = Expected {
        identity: args.certificate_identity.clone(),
        identity_regexp,
        issuer: Some(args.certificate_oidc_issuer.clone()),
        repository: args.repo.clone(),
    };
    let charts = args.files.iter().any(|f| f.as_str().starts_with("oci://"));
    let runtime = match charts.then(|| tokio::runtime::Builder::new_current_thread().enable_all().build()).transpose() {
        Ok(runtime) => runtime,
        Err(err) => {
            return crate::errors::usage_error(&StepError::new(format!("cannot start the async runtime: {err}")));
        }
    };
    let results: Vec<(Utf8PathBuf, Result<Signed, String>)> = args
        .files
        .iter()
        .map(|file| {
            let verdict = match &runtime {
                Some(runtime) if file.as_str().starts_with("oci://") => runtime
                    .block_on(release_core::verify_chart(
                        file.as_str(),
                        args.plain_http,
                        env,
                        &crate::redact::redactor(),
                        &root,
                        &expected,
                    ))
                    .map(|v| Signed { identity: v.signed_by, digest: Some(v.digest), provenance_by: v.provenance_by }),
                _ => {
                    let bundle = args.bundle.clone().unwrap_or_else(|| bundle_path(file));
                    verify_file(&root, file, &bundle, &expected)
                        .map(|v| Signed { identity: v.identity, digest: None, provenance_by: None })
                        .map_err(|e| e.to_string())
                }
            };
            (file.clone(), verdict)
        })
        .collect();
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let _ = if json { print_bundle_json(&results) } else { print_bundle_lines(&results, failed, &shown) };
    if failed == 0 { 0 } else { FailureKind::Step.exit_code() }
}

/// Who signed a file (or a chart: its digest, and who signed its provenance if attached).
struct Signed {
    identity: String,
    digest: Option<String>,
    provenance_by: Option<String>,
}

fn print_bundle_lines(
    results: &[(Utf8PathBuf, Result<Signed, String>)],
    failed: usize,
    root: &str,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for (file, verdict) in results {
        match verdict {
            Ok(Signed { identity, digest, provenance_by }) => {
                let digest = digest.as_ref().map(|d| format!("{d}, ")).unwrap_or_default();
                let provenance =
                    provenance_by.as_ref().map(|p| format!("; build provenance by {p}")).unwrap_or_default();
                writeln!(out, "ok      {file} ({digest}signed by {identity}{provenance})")?
            }
            Err(reason) => writeln!(out, "FAILED  {file}: {reason}")?,
        }
    }
    let total = results.len();
    if failed == 0 {
        writeln!(out, "all {total} file(s) verified against their Sigstore bundles ({root})")
    } else {
        writeln!(out, "{failed} of {total} file(s) FAILED verification against their Sigstore bundles ({root})")
    }
}

fn print_bundle_json(results: &[(Utf8PathBuf, Result<Signed, String>)]) -> std::io::Result<()> {
    let value: Vec<serde_json::Value> = results
        .iter()
        .map(|(file, verdict)| match verdict {
            Ok(Signed { identity, digest, provenance_by }) => serde_json::json!({
                "file": file, "passed": true, "identity": identity, "digest": digest,
                "provenance_identity": provenance_by, "failures": []
            }),
            Err(reason) => serde_json::json!({"file": file, "passed": false, "failures": [reason]}),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)
}

fn bundle_for_one_file(given: usize) -> i32 {
    crate::errors::usage_error(
        &StepError::new(format!("--bundle names the bundle of one file, but {given} were given"))
            .with_help("verify the files one by one, or leave out --bundle to use FILE.sigstore.json"),
    )
}
