//! Running subprocesses: the one helper every command goes through.
//!
//! Commands are built with xshell from a program and its arguments — never a shell string —
//! with an explicit working directory. Their output is streamed line by line to the step's
//! reporter as it comes, so the library still never prints.

use std::collections::BTreeMap;
use std::process::Stdio;

use camino::{Utf8Path, Utf8PathBuf};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::step::StepContext;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot start `{command}` in {dir}: {source}")]
    Spawn { command: String, dir: Utf8PathBuf, source: std::io::Error },
    #[error("`{command}` was stopped: the run was interrupted")]
    Interrupted { command: String },
    #[error("`{command}` failed in {dir} with {status}")]
    Failed { command: String, dir: Utf8PathBuf, status: String },
}

impl crate::error::Diagnose for ShellError {
    fn help(&self) -> Option<String> {
        match self {
            ShellError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("install the program or fix the command in release.toml (commands run without a shell)".into())
            }
            ShellError::Spawn { .. } => None,
            ShellError::Interrupted { .. } => Some("run the release again to start the build afresh".into()),
            ShellError::Failed { .. } => Some("the command's output above says why; fix it and run again".into()),
        }
    }
}

/// A command line for messages: arguments that need it are quoted.
pub fn display_command(argv: &[String]) -> String {
    argv.iter()
        .map(|a| if a.is_empty() || a.contains(char::is_whitespace) { format!("'{a}'") } else { a.clone() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in `dir` with extra `env`, streaming its stdout and stderr lines to the
/// step's reporter. Fails on a non-zero exit.
pub async fn run_streamed(
    cx: &StepContext<'_>,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
) -> Result<(), ShellError> {
    run_reading_stdout(cx, argv, dir, env, &mut |line| cx.output_line(line)).await
}

/// Runs `argv` like [`run_streamed`] and returns its stdout instead of showing it (stderr is
/// still streamed to the reporter): for commands whose output is data (`cargo metadata`).
pub async fn run_captured(
    cx: &StepContext<'_>,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
) -> Result<String, ShellError> {
    let mut out = String::new();
    run_reading_stdout(cx, argv, dir, env, &mut |line| {
        out.push_str(line);
        out.push('\n');
    })
    .await?;
    Ok(out)
}

/// Runs `argv` like [`run_streamed`], handing each stdout line to `on_stdout` (cargo's JSON
/// messages) while stderr lines stream to the reporter.
pub async fn run_reading_stdout(
    cx: &StepContext<'_>,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
    on_stdout: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ShellError> {
    let command_text = display_command(argv);
    let spawn_err = |source| ShellError::Spawn { command: command_text.clone(), dir: dir.to_owned(), source };
    // The xshell value is not `Send`; build the command in its own scope before awaiting.
    let command = {
        let sh = xshell::Shell::new().map_err(|e| spawn_err(std::io::Error::other(e.to_string())))?;
        sh.change_dir(dir);
        let mut cmd = sh.cmd(&argv[0]).args(&argv[1..]);
        for (key, value) in env {
            cmd = cmd.env(key, value);
        }
        std::process::Command::from(cmd)
    };
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cx.progress(format!("$ {command_text}"));
    let mut child = command.spawn().map_err(spawn_err)?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            () = cx.cancelled() => {
                let _ = child.kill().await;
                return Err(ShellError::Interrupted { command: command_text });
            },
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => on_stdout(&line),
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(line)) => cx.output_line(line),
                _ => err_open = false,
            },
        }
    }
    let status = child.wait().await.map_err(spawn_err)?;
    if !status.success() {
        return Err(ShellError::Failed { command: command_text, dir: dir.to_owned(), status: status.to_string() });
    }
    Ok(())
}

/// Finds a program the way the command would: a path with a `/` relative to `dir`, or a
/// name on `PATH`.
pub fn find_program(program: &str, dir: &Utf8Path, path_var: Option<&str>) -> Option<Utf8PathBuf> {
    if program.contains('/') {
        let candidate = dir.join(program);
        return candidate.is_file().then_some(candidate);
    }
    path_var?.split(':').filter(|d| !d.is_empty()).map(|d| Utf8Path::new(d).join(program)).find(|p| p.is_file())
}
