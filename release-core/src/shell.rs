//! Running subprocesses: the one place a process is started.
//!
//! Every command is a program and its arguments — never a shell string — and sees exactly
//! the [`Environment`] the library was handed (the process's own variables are cleared), plus
//! what the step adds. The program is found on that environment's `PATH` by [`find_program`],
//! the same lookup the build-tools check makes, so the check and the run cannot disagree.
//! Output is streamed line by line to the step's reporter as it comes, so the library still
//! never prints.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::env::Environment;
use crate::io::Io;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ShellError {
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
pub(crate) fn display_command(argv: &[String]) -> String {
    argv.iter()
        .map(|a| if a.is_empty() || a.contains(char::is_whitespace) { format!("'{a}'") } else { a.clone() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in `dir` with the run's environment ([`Io::env`]) plus `env`,
/// streaming its stdout and stderr lines to the step's reporter. Fails on a non-zero exit.
pub(crate) async fn run_streamed(
    io: &dyn Io,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
) -> Result<(), ShellError> {
    run_reading_stdout(io, argv, dir, env, &mut |line| io.output_line(line.to_owned())).await
}

/// Runs `argv` like [`run_streamed`] and returns its stdout instead of showing it (stderr is
/// still streamed to the reporter): for commands whose output is data (`cargo metadata`).
pub(crate) async fn run_captured(
    io: &dyn Io,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
) -> Result<String, ShellError> {
    let mut out = String::new();
    run_reading_stdout(io, argv, dir, env, &mut |line| {
        out.push_str(line);
        out.push('\n');
    })
    .await?;
    Ok(out)
}

/// Runs `argv` like [`run_streamed`], handing each stdout line to `on_stdout` (cargo's JSON
/// messages) while stderr lines stream to the reporter.
pub(crate) async fn run_reading_stdout(
    io: &dyn Io,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
    on_stdout: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ShellError> {
    let command_text = display_command(argv);
    let spawn_err = |source| ShellError::Spawn { command: command_text.clone(), dir: dir.to_owned(), source };
    let mut command = command(&argv[0], dir, io.env());
    command.args(&argv[1..]).envs(env).current_dir(dir);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    io.progress(format!("$ {command_text}"));
    let mut child = command.spawn().map_err(spawn_err)?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            () = io.cancellation().cancelled() => {
                let _ = child.kill().await;
                return Err(ShellError::Interrupted { command: command_text });
            },
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => on_stdout(&line),
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(line)) => io.output_line(line),
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

/// A command for `program` that sees exactly `env`: the one place a process is made. The
/// program is resolved with [`find_program`] (a path relative to `dir`, a name on `env`'s
/// `PATH`); one that cannot be found is passed on as given, so that starting it fails with
/// "not found".
fn command(program: &str, dir: &Utf8Path, env: &Environment) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(std_command(program, dir, env));
    command.kill_on_drop(true);
    command
}

/// [`command`] for a blocking run.
fn std_command(program: &str, dir: &Utf8Path, env: &Environment) -> std::process::Command {
    let resolved: OsString = match find_program(program, dir, env) {
        Some(path) => path.into_std_path_buf().into_os_string(),
        None if has_separator(program) => dir.join(program).into_std_path_buf().into_os_string(),
        None => program.into(),
    };
    // The house rule (clippy.toml `disallowed-methods`): every other module comes here.
    #[allow(clippy::disallowed_methods)]
    let mut command = std::process::Command::new(resolved);
    command.env_clear().envs(env.iter()).stdin(Stdio::null()).current_dir(dir);
    command
}

/// Why [`run_with_input`] got no answer. The words are a clause: callers prefix the program.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaptureError {
    #[error("cannot start it: {0}")]
    Spawn(std::io::Error),
    #[error("cannot write to it: {0}")]
    Write(std::io::Error),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("failed: {0}")]
    Wait(std::io::Error),
}

/// Runs `program args` (a path, as [`find_program`] gives) with `input` on its stdin, seeing
/// exactly `env`, and returns its output, whatever its exit status; killed after `timeout`.
/// For short helpers that answer on stdout (docker credential helpers).
pub(crate) async fn run_with_input(
    program: &Utf8Path,
    args: &[&str],
    input: &[u8],
    env: &Environment,
    timeout: Duration,
) -> Result<std::process::Output, CaptureError> {
    let mut command = command(program.as_str(), Utf8Path::new("."), env);
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(CaptureError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).await.map_err(CaptureError::Write)?;
    }
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| CaptureError::Timeout(timeout))?
        .map_err(CaptureError::Wait)
}

/// Whether `program` is a path (`./build.sh`, `bin/tool`) rather than a name to look up.
fn has_separator(program: &str) -> bool {
    program.contains('/') || (cfg!(windows) && program.contains('\\'))
}

/// Finds a program the way the command will be started: a path (it has a `/`, or on Windows
/// a `\`) relative to `dir`, or a name looked up in the directories of `env`'s `PATH`
/// ([`Environment::path_dirs`]). On Windows a name without an extension is also tried with
/// each extension of `PATHEXT`, as `cmd.exe` does.
pub(crate) fn find_program(program: &str, dir: &Utf8Path, env: &Environment) -> Option<Utf8PathBuf> {
    let extensions = executable_extensions(program, env);
    let candidates = |base: Utf8PathBuf| extensions.iter().map(move |ext| Utf8PathBuf::from(format!("{base}{ext}")));
    if has_separator(program) {
        return candidates(dir.join(program)).find(|p| is_executable(p));
    }
    env.path_dirs().into_iter().flat_map(|d| candidates(d.join(program))).find(|p| is_executable(p))
}

/// A file the system would start: on Unix one with an execute bit (as `execvp` skips a
/// file it may not run and looks further along `PATH`).
fn is_executable(path: &Utf8Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The suffixes to try after a program name: none on Unix; on Windows the name as given if
/// it has an extension, else each of `PATHEXT` (default `.COM;.EXE;.BAT;.CMD`).
fn executable_extensions(program: &str, env: &Environment) -> Vec<String> {
    if !cfg!(windows) || Utf8Path::new(program).extension().is_some() {
        return vec![String::new()];
    }
    pathext(env.get("PATHEXT"))
}

/// The extensions of a `PATHEXT` value, lowercase, each with its dot.
fn pathext(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or(".COM;.EXE;.BAT;.CMD")
        .split(';')
        .map(str::trim)
        .filter(|e| e.starts_with('.') && e.len() > 1)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// An independent checker for the library's own tests (`openssl`, `tar`): a plain std
/// command, inheriting the test process's environment.
#[cfg(test)]
pub(crate) fn checker(program: &str) -> std::process::Command {
    #[allow(clippy::disallowed_methods)]
    let command = std::process::Command::new(program);
    command
}

/// Runs `argv` in `dir` with extra `env` and returns its stdout; its stderr lines are
/// streamed to the step's reporter (so `cargo metadata`'s JSON is read while cargo's
/// messages still show). Fails on a non-zero exit.
pub(crate) async fn capture(
    io: &dyn Io,
    argv: &[String],
    dir: &Utf8Path,
    env: &BTreeMap<String, String>,
) -> Result<String, ShellError> {
    let command_text = display_command(argv);
    let spawn_err = |source| ShellError::Spawn { command: command_text.clone(), dir: dir.to_owned(), source };
    let mut command = command(&argv[0], dir, io.env());
    command.args(&argv[1..]).envs(env).current_dir(dir);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    io.progress(format!("$ {command_text}"));
    let mut child = command.spawn().map_err(spawn_err)?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut out = Vec::new();
    let reading = async {
        use tokio::io::AsyncReadExt;
        let read_out = stdout.read_to_end(&mut out);
        let read_err = async {
            while let Ok(Some(line)) = stderr.next_line().await {
                io.output_line(line);
            }
        };
        let (read, ()) = tokio::join!(read_out, read_err);
        read
    };
    tokio::select! {
        () = io.cancellation().cancelled() => {
            let _ = child.kill().await;
            return Err(ShellError::Interrupted { command: command_text });
        }
        read = reading => { read.map_err(spawn_err)?; }
    }
    let status = child.wait().await.map_err(spawn_err)?;
    if !status.success() {
        return Err(ShellError::Failed { command: command_text, dir: dir.to_owned(), status: status.to_string() });
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// [`capture`] for front ends outside a run (`release plan`): blocking, stderr kept and
/// returned in the error.
pub(crate) fn capture_blocking(
    argv: &[String],
    dir: &Utf8Path,
    base: &Environment,
    env: &BTreeMap<String, String>,
) -> Result<String, ShellError> {
    let command_text = display_command(argv);
    let spawn_err = |source| ShellError::Spawn { command: command_text.clone(), dir: dir.to_owned(), source };
    let mut command = std_command(&argv[0], dir, base);
    command.args(&argv[1..]).envs(env);
    let output = command.output().map_err(spawn_err)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ShellError::Failed {
            command: command_text,
            dir: dir.to_owned(),
            status: format!("{}: {}", output.status, stderr.trim()),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(path: &Utf8Path) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn a_name_is_found_on_the_environments_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        for sub in ["a", "b", "c"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        executable(&root.join("b/tool"));
        executable(&root.join("c/tool"));
        // Not executable: passed over, as `execvp` does.
        std::fs::write(root.join("a/tool"), "data").unwrap();
        let path = std::env::join_paths([root.join("a"), root.join("b"), root.join("c")]).unwrap();
        let env = Environment::empty().with("PATH", path.to_str().unwrap());
        assert_eq!(find_program("tool", root, &env), Some(root.join("b/tool")), "the first directory that has it");
        assert_eq!(find_program("tool", root, &Environment::empty()), None, "no PATH, no lookup");
        assert_eq!(find_program("missing", root, &env), None);
        // A path is relative to the command's directory and not looked up.
        assert_eq!(find_program("./b/tool", root, &Environment::empty()), Some(root.join("./b/tool")));
        assert_eq!(find_program("b/tool", &root.join("a"), &env), None);
    }

    #[test]
    fn pathext_lists_lowercase_extensions() {
        assert_eq!(pathext(None), [".com", ".exe", ".bat", ".cmd"]);
        assert_eq!(pathext(Some(".EXE; .Ps1;;bad;.")), [".exe", ".ps1"]);
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_a_name_is_tried_with_each_pathext_extension() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        executable(&root.join("tool.cmd"));
        let env = Environment::empty().with("PATH", root.as_str()).with("PATHEXT", ".EXE;.CMD");
        assert_eq!(find_program("tool", root, &env), Some(root.join("tool.cmd")));
        assert_eq!(find_program("tool.cmd", root, &env), Some(root.join("tool.cmd")));
        assert_eq!(find_program("tool", root, &env.clone().with("PATHEXT", ".EXE")), None);
    }
}
