//! `release keygen`: write a new cosign-compatible key pair.
//!
//! The private key is encrypted with the password in `COSIGN_PASSWORD` (the variable cosign
//! reads too) and written with mode 0600; no existing file is replaced without `--force`,
//! and `--force` replaces only key files. A private key is never written where git tracks
//! it or would take it with the next `git add`.

use camino::Utf8PathBuf;
use clap::Args;
use release_core::signing::{CosignKeyPair, SigningError};
use release_core::{Environment, FailureKind, GitPath, StepError, git_path};

/// The variable the password of a new key comes from.
const PASSWORD_VARIABLE: &str = release_core::DEFAULT_PASSWORD_ENV;

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the encrypted private key.
    #[arg(long, default_value = "cosign.key", value_name = "PATH")]
    output_key: Utf8PathBuf,
    /// Where to write the public key.
    #[arg(long, default_value = "cosign.pub", value_name = "PATH")]
    output_pub: Utf8PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: &KeygenArgs, env: &Environment) -> i32 {
    let Some((password, source)) = env.secret(PASSWORD_VARIABLE) else {
        return crate::errors::usage_error(
            &StepError::new(format!("{PASSWORD_VARIABLE} is not set: the new private key needs a password"))
                .with_help(format!("set {PASSWORD_VARIABLE} to the password that will protect the key; store it as a CI secret of the same name")),
        );
    };
    if args.output_key == args.output_pub {
        return crate::errors::usage_error(&StepError::new(format!(
            "--output-key and --output-pub are both {}",
            args.output_key
        )));
    }
    let why = match git_path(&args.output_key, env) {
        GitPath::Tracked => Some("is tracked by git"),
        GitPath::Untracked => Some("is inside a git work tree and not ignored"),
        GitPath::Outside | GitPath::Ignored => None,
    };
    if let Some(why) = why {
        let name = args.output_key.file_name().unwrap_or(args.output_key.as_str());
        let err =
            SigningError::KeyInGit { path: args.output_key.clone(), why: why.into(), ignore_line: name.to_owned() };
        return crate::errors::usage_error(&err.into());
    }
    let written = CosignKeyPair::generate()
        .and_then(|pair| pair.write(&args.output_key, &args.output_pub, &password, args.force).map(|()| pair));
    match written {
        Ok(pair) => {
            println!("wrote {} (private key, mode 0600, encrypted with the password in {source})", args.output_key);
            println!("wrote {} (public key {})", args.output_pub, pair.public_key().fingerprint());
            0
        }
        Err(err @ (SigningError::Exists { .. } | SigningError::NotReplaceable { .. })) => {
            crate::errors::usage_error(&err.into())
        }
        Err(err) => {
            crate::errors::print_error(&err.into());
            FailureKind::Step.exit_code()
        }
    }
}
