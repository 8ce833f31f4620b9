//! External commands as values.
//!
//! Every program xtask starts (cargo, docker, rustc, the sandbox scripts) is
//! first built as a [`Cmd`]: a value that can be printed shell-quoted, compared
//! in a test, or run. A [`Runner`] decides which: it always prints the line,
//! and in dry-run mode it stops there. So `--dry-run` shows exactly what a
//! real run would start, and the real run shows the same line before it
//! starts it.
//!
//! This is the only xtask module that spawns processes; the benchmark also
//! uses the tests' own harness (nb-tests: the sandbox, `submit` runs), which
//! spawns its own, so it measures what the tests run.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use common::shell::quote;

/// One external command: program, arguments, extra environment, directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd { program: program.into(), args: Vec::new(), env: Vec::new(), dir: None }
    }

    /// `$CARGO` when xtask runs under cargo (the same toolchain that built
    /// xtask), else `cargo` from PATH.
    pub fn cargo() -> Self {
        Cmd::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// A path argument. xtask's paths are the project's own, so they are
    /// UTF-8; anything else is shown lossily.
    pub fn path_arg(self, path: &Path) -> Self {
        self.arg(path.display().to_string())
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    #[allow(clippy::disallowed_methods, reason = "the one place xtask starts the commands it built as values")]
    fn expression(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args);
        for (key, value) in &self.env {
            expr = expr.env(key, value);
        }
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        expr.unchecked()
    }

    /// Runs the command with inherited stdio; a non-zero exit is an error
    /// that quotes the command.
    pub fn run(&self) -> Result<()> {
        let output = self.expression().run().with_context(|| format!("cannot start `{self}`"))?;
        if !output.status.success() {
            bail!("`{self}` failed ({})", output.status);
        }
        Ok(())
    }

    /// Runs the command with stdout inherited (its progress shows) and
    /// stderr captured: on failure the error is the last line it wrote
    /// there (where docker puts the registry's answer), alone; on success
    /// stderr is passed on.
    pub fn run_quoting_stderr(&self) -> Result<()> {
        let output = self.expression().stderr_capture().run().with_context(|| format!("cannot start `{self}`"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
                Some(last) => bail!("{last}"),
                None => bail!("`{self}` failed ({}) and wrote no message", output.status),
            }
        }
        let _closed_stderr_is_no_failure = std::io::stderr().write_all(stderr.as_bytes());
        Ok(())
    }

    /// Runs the command and returns its stdout; on failure the error quotes
    /// the command and its stderr.
    pub fn read(&self) -> Result<String> {
        let output = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .run()
            .with_context(|| format!("cannot start `{self}`"))?;
        if !output.status.success() {
            bail!("`{self}` failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
        }
        String::from_utf8(output.stdout).with_context(|| format!("`{self}` printed non-UTF-8"))
    }

    /// Runs the command with stdout and stderr captured, whatever its exit
    /// status. For probes and measurements that interpret the status.
    pub fn output(&self) -> Result<std::process::Output> {
        self.expression().stdout_capture().stderr_capture().run().with_context(|| format!("cannot start `{self}`"))
    }
}

/// The command as a line that can be pasted into a POSIX shell.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.dir {
            write!(f, "cd {} && ", quote(&dir.display().to_string()))?;
        }
        for (key, value) in &self.env {
            write!(f, "{key}={} ", quote(value))?;
        }
        f.write_str(&quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

/// Whether commands run or are only printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    DryRun,
}

/// Prints every command, and runs it unless in dry-run mode.
///
/// Real runs print `$ <command>` on stderr, so stdout stays the task's own
/// output; dry runs print the bare command on stdout, because there the
/// commands are the output.
#[derive(Debug, Clone, Copy)]
pub struct Runner {
    mode: Mode,
}

impl Runner {
    pub fn new(mode: Mode) -> Self {
        Runner { mode }
    }

    pub fn is_dry(&self) -> bool {
        self.mode == Mode::DryRun
    }

    pub fn run(&self, cmd: &Cmd) -> Result<()> {
        match self.mode {
            Mode::Run => {
                eprintln!("$ {cmd}");
                cmd.run()
            }
            Mode::DryRun => {
                self.announce(&cmd.to_string());
                Ok(())
            }
        }
    }

    /// [`Runner::run`] with [`Cmd::run_quoting_stderr`].
    pub fn run_quoting_stderr(&self, cmd: &Cmd) -> Result<()> {
        match self.mode {
            Mode::Run => {
                eprintln!("$ {cmd}");
                cmd.run_quoting_stderr()
            }
            Mode::DryRun => {
                self.announce(&cmd.to_string());
                Ok(())
            }
        }
    }

    /// Says what an in-process step (one that is not a command) does or
    /// would do, in the same place as the commands.
    pub fn announce(&self, line: &str) {
        match self.mode {
            Mode::Run => eprintln!("{line}"),
            Mode::DryRun => {
                // A closed stdout (`| head`) is not worth failing over.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_shell_quoted() {
        let cmd = Cmd::new("docker").args(["build", "--build-arg", "LDAP_GROUPNAME=MLO unit"]).arg("it's");
        assert_eq!(cmd.to_string(), r#"docker build --build-arg 'LDAP_GROUPNAME=MLO unit' 'it'"'"'s'"#);
    }

    #[test]
    fn display_shows_directory_and_environment() {
        let cmd = Cmd::new("cargo").arg("test").env("NB_SUBMIT_BIN", "/t/dist/submit").dir("/w s");
        assert_eq!(cmd.to_string(), "cd '/w s' && NB_SUBMIT_BIN=/t/dist/submit cargo test");
    }

    #[test]
    fn display_round_trips_through_a_shell_parser() {
        let args = ["a b", "$HOME", "x'y\"z", "", "--flag=1;rm"];
        let cmd = Cmd::new("prog").args(args);
        let parsed = shlex::split(&cmd.to_string()).unwrap_or_default();
        let mut expected = vec!["prog".to_owned()];
        expected.extend(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(parsed, expected);
    }

    #[test]
    fn run_reports_the_failing_command() {
        let err = Cmd::new("sh").args(["-c", "exit 3"]).run().unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("`sh -c 'exit 3'` failed"), "{message}");
    }

    #[test]
    fn read_returns_stdout_and_quotes_stderr_on_failure() {
        let out = Cmd::new("sh").args(["-c", "echo hi"]).read().unwrap_or_default();
        assert_eq!(out, "hi\n");
        let err = Cmd::new("sh").args(["-c", "echo oops >&2; exit 1"]).read().unwrap_err();
        assert!(format!("{err:#}").ends_with(": oops"), "{err:#}");
    }

    #[test]
    fn run_quoting_stderr_fails_with_the_last_line_alone() {
        let err = Cmd::new("sh").args(["-c", "echo progress; echo retrying >&2; echo 'denied: no' >&2; exit 1"]);
        assert_eq!(format!("{:#}", err.run_quoting_stderr().unwrap_err()), "denied: no");
        let silent = Cmd::new("sh").args(["-c", "exit 2"]).run_quoting_stderr().unwrap_err();
        assert_eq!(format!("{silent:#}"), "`sh -c 'exit 2'` failed (exit status: 2) and wrote no message");
        assert!(Cmd::new("true").run_quoting_stderr().is_ok());
    }

    #[test]
    fn missing_program_is_an_error_not_a_panic() {
        let err = Cmd::new("/nonexistent/prog").run().unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot start `/nonexistent/prog`"), "{err:#}");
    }
}
