//! `release`: the command line over `release-core`.
//!
//! Parses arguments, captures the environment, hands both to the library, shows its events
//! and maps the outcome onto an exit code. All the release logic lives in `release-core`.

mod actions;
mod cli;
mod keygen;
mod progress;
mod redact;
mod verify;
mod workflow;

fn main() {
    std::process::exit(cli::main());
}
