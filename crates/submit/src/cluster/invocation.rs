//! External commands as values: built by pure functions, printed for
//! `--dry-run`, and run here, the one place that starts processes.
//!
//! A command's stdin may carry secrets (the Secret manifest for kubectl). It
//! is a [`Sensitive`] value that is never displayed, and it reaches the child
//! through a pipe: nothing is written to disk.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Bytes that must not be shown: `Debug` prints their length only.
pub struct Sensitive(pub Vec<u8>);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes not shown>", self.0.len())
    }
}

/// A program, its arguments and optionally bytes for its stdin.
#[derive(Debug)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Sensitive>,
}

impl Invocation {
    pub fn new(program: &str, args: Vec<String>) -> Self {
        Invocation { program: program.to_owned(), args, stdin: None }
    }

    /// The command line as one line of POSIX shell: pasted into a shell it
    /// runs exactly this argv. The stdin is not part of it.
    pub fn shell_line(&self) -> String {
        common::shell::join(std::iter::once(&self.program).chain(&self.args).map(String::as_str))
    }
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shell_line())
    }
}

/// What went wrong starting or waiting for a command.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{program} not found on PATH")]
    NotFound { program: String },
    #[error("cannot start {program}: {reason}")]
    Spawn { program: String, reason: io::Error },
    #[error("{program} did not finish within {}s and was stopped", .after.as_secs())]
    TimedOut { program: String, after: Duration },
}

/// How a command with captured stderr ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// Empty unless the output was asked for ([`Invocation::run_for_output`]).
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Where a bounded run's stdout goes.
enum Stdout {
    Null,
    Capture,
    File(std::fs::File),
}

/// Finds `program` in the directories of `path` (a `PATH` value) the way
/// execvp does: the first executable regular file wins.
pub fn find_on_path(program: &str, path: Option<&OsString>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(path?).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let candidate = dir.join(program);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
    })
}

fn spawn_error(program: &str, reason: io::Error) -> RunError {
    if reason.kind() == io::ErrorKind::NotFound {
        RunError::NotFound { program: program.to_owned() }
    } else {
        RunError::Spawn { program: program.to_owned(), reason }
    }
}

#[allow(clippy::disallowed_methods, reason = "the one place submit starts the commands it built as values")]
impl Invocation {
    /// Runs the command with stderr captured and stdout discarded (we report
    /// in our own words; only a failure's message matters), feeding the
    /// stdin bytes through a pipe, and gives up after `timeout`.
    ///
    /// The child gets its own process group so that on timeout the whole
    /// group is killed: kubectl on some machines is a dispatcher that starts
    /// the real kubectl as its own child, and killing only the dispatcher
    /// would leave that one running with our pipes.
    pub fn run_captured(&self, timeout: Duration) -> Result<Finished, RunError> {
        self.run_bounded(timeout, Stdout::Null)
    }

    /// As [`Invocation::run_captured`], with stdout captured too: for a
    /// command whose output is the answer (a `kubectl get`).
    pub fn run_for_output(&self, timeout: Duration) -> Result<Finished, RunError> {
        self.run_bounded(timeout, Stdout::Capture)
    }

    /// As [`Invocation::run_captured`], with stdout written into `file`:
    /// for an output too large to hold in memory (a job's whole log).
    pub fn run_into_file(&self, file: std::fs::File, timeout: Duration) -> Result<Finished, RunError> {
        self.run_bounded(timeout, Stdout::File(file))
    }

    fn run_bounded(&self, timeout: Duration, stdout: Stdout) -> Result<Finished, RunError> {
        let program = self.program.as_str();
        let mut expr = duct::cmd(program, &self.args).stderr_capture().unchecked().before_spawn(|command| {
            command.process_group(0);
            Ok(())
        });
        expr = match stdout {
            Stdout::Null => expr.stdout_null(),
            Stdout::Capture => expr.stdout_capture(),
            Stdout::File(file) => expr.stdout_file(file),
        };
        expr = match &self.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.0.clone()),
            None => expr.stdin_null(),
        };
        let handle = expr.start().map_err(|e| spawn_error(program, e))?;
        match handle.wait_timeout(timeout) {
            Ok(Some(output)) => {
                Ok(Finished { status: output.status, stdout: output.stdout.clone(), stderr: output.stderr.clone() })
            }
            Ok(None) => {
                for pid in handle.pids() {
                    kill_group(pid);
                }
                Err(RunError::TimedOut { program: program.to_owned(), after: timeout })
            }
            Err(reason) => Err(RunError::Spawn { program: program.to_owned(), reason }),
        }
    }

    /// Runs the command attached to our terminal and returns its status.
    pub fn run_attached(&self) -> Result<ExitStatus, RunError> {
        let program = self.program.as_str();
        let output = duct::cmd(program, &self.args).unchecked().run().map_err(|e| spawn_error(program, e))?;
        Ok(output.status)
    }

    /// Starts the command in its own process group with stdout and stderr
    /// piped to us and stdin closed: a long-running stream (`kubectl get -w`,
    /// `kubectl logs -f`) that a Ctrl-C on the terminal does not reach, so
    /// that `submit` decides what the interrupt stops.
    pub fn spawn_piped(&self) -> Result<std::process::Child, RunError> {
        let program = self.program.as_str();
        std::process::Command::new(program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| spawn_error(program, e))
    }

    /// As [`Invocation::spawn_piped`], with stdout and stderr left on our
    /// own: the user reads the child's output directly.
    pub fn spawn_shown(&self) -> Result<std::process::Child, RunError> {
        let program = self.program.as_str();
        std::process::Command::new(program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| spawn_error(program, e))
    }

    /// Replaces this process with the command (execvp), so that it owns the
    /// terminal as if the user had typed it. Returns only on failure.
    pub fn exec_replacing(&self) -> RunError {
        let program = self.program.as_str();
        spawn_error(program, std::process::Command::new(program).args(&self.args).exec())
    }
}

/// Stops a child started by [`Invocation::spawn_piped`]: SIGKILL to its
/// process group (the dispatcher's kubectl child is in it), then reaps it.
pub fn stop_group(child: &mut std::process::Child) {
    kill_group(child.id());
    // Reaping after SIGKILL cannot block for long; its status is not wanted.
    let _ = child.wait();
}

/// Sends SIGKILL to the process group led by `pid` (see `run_captured`).
fn kill_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // The group may already be gone; there is nothing more to do then.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

/// A short description of how a child ended, for messages.
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "an unknown status".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_line_quotes_only_what_needs_it() {
        let inv = Invocation::new(
            "runai",
            vec!["submit".into(), "--name".into(), "a b".into(), "-e".into(), "X=it's".into()],
        );
        assert_eq!(inv.to_string(), r#"runai submit --name 'a b' -e 'X=it'"'"'s'"#);
        assert_eq!(shlex::split(&inv.to_string()).unwrap(), ["runai", "submit", "--name", "a b", "-e", "X=it's"]);
        assert_eq!(common::shell::quote(""), "''");
        assert_eq!(common::shell::quote("K=v:/x,y@z%+"), "K=v:/x,y@z%+");
    }

    proptest::proptest! {
        #[test]
        fn quoting_round_trips_through_a_shell_parser(words in proptest::collection::vec("[^\\x00]{0,20}", 0..6)) {
            let inv = Invocation::new("prog", words.clone());
            let split = shlex::split(&inv.shell_line()).unwrap();
            proptest::prop_assert_eq!(&split[0], "prog");
            proptest::prop_assert_eq!(&split[1..], &words[..]);
        }
    }

    #[test]
    fn stdin_is_never_displayed() {
        let mut inv = Invocation::new("kubectl", vec!["apply".into()]);
        inv.stdin = Some(Sensitive(b"hunter2".to_vec()));
        assert_eq!(inv.to_string(), "kubectl apply");
        assert!(!format!("{inv:?}").contains("hunter2"));
    }

    #[test]
    fn path_lookup_needs_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = OsString::from(dir.path());
        std::fs::write(dir.path().join("tool"), "").unwrap();
        assert_eq!(find_on_path("tool", Some(&path)), None);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path().join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("tool", Some(&path)), Some(dir.path().join("tool")));
        assert_eq!(find_on_path("tool", None), None);
    }

    #[test]
    fn captured_run_passes_stdin_and_collects_stderr() {
        let mut inv = Invocation::new("sh", vec!["-c".into(), "cat >&2; echo out; exit 3".into()]);
        inv.stdin = Some(Sensitive(b"in".to_vec()));
        let done = inv.run_captured(Duration::from_secs(10)).unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stderr, b"in");
    }

    #[test]
    fn captured_run_gives_up_and_kills_the_group() {
        // The grandchild `sleep` holds our pipes: only a group kill ends it.
        let inv = Invocation::new("sh", vec!["-c".into(), "sleep 30; true".into()]);
        let start = std::time::Instant::now();
        let err = inv.run_captured(Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_named() {
        let inv = Invocation::new("surely-not-a-program-xyz", vec![]);
        let err = inv.run_captured(Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.to_string(), "surely-not-a-program-xyz not found on PATH");
    }
}
