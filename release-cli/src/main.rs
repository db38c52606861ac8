//! `release`: the command line over `release-core`.
//!
//! Parses arguments, captures the environment, hands both to the library, shows its events
//! and maps the outcome onto an exit code. All the release logic lives in `release-core`.

// The doc comments of the argument structs are clap's `--help` text, written for a terminal
// (`[[build]]`, URLs as text), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

mod actions;
mod cli;
mod errors;
mod keygen;
mod progress;
mod redact;
mod verify;
mod workflow;

fn main() {
    std::process::exit(cli::main());
}
