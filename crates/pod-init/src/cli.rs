//! pod-init's own command line: `--help` and `--version` (`-h`, `-V`), and
//! `--` to end pod-init's arguments; everything else is the command.
//!
//! Only the first argument can be pod-init's: an entrypoint's arguments are
//! the job's, so `pod-init python train.py --help` must reach python with
//! its `--help`, and nothing after the first word is looked at. Answering
//! touches nothing: no bootstrap, no marker, no file read; a setuid start
//! gives root up before it prints.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use common::env::{EnvVars, OPTIONAL_POD_VARS, POD_INIT_SETTINGS, REQUIRED_POD_VARS};

use crate::identity::{self, Syscall};
use crate::supervise;

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Print this and exit 0.
    Answer(Answer),
    /// Run this command (pod-init's arguments, a leading `--` removed).
    Run(Vec<OsString>),
}

/// A question pod-init answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Help,
    Version,
}

/// Reads pod-init's arguments (without its own name).
pub fn parse(mut args: Vec<OsString>) -> Invocation {
    match args.first().and_then(|first| first.to_str()) {
        Some("--help" | "-h") => Invocation::Answer(Answer::Help),
        Some("--version" | "-V") => Invocation::Answer(Answer::Version),
        Some("--") => {
            args.remove(0);
            Invocation::Run(args)
        }
        _ => Invocation::Run(args),
    }
}

/// `pod-init <version>`.
pub fn version() -> String {
    format!("pod-init {}\n", env!("CARGO_PKG_VERSION"))
}

/// What each setting does, for the usage text (lines of at most 52 columns).
fn describe(setting: &str) -> &'static [&'static str] {
    match setting {
        EnvVars::POD_INIT_LOG => &["error, warn, info, debug, trace or off (default info)"],
        EnvVars::POD_INIT_SIGNAL_GROUP => &[
            "unset: a stop (SIGTERM...) to COMMAND's process",
            "group, other signals to COMMAND; 1: every signal",
            "to the group; 0: every signal to COMMAND alone",
        ],
        EnvVars::POD_INIT_KILL_GRACE_MS => {
            &["milliseconds from SIGTERM to SIGKILL for the", "processes left when COMMAND has exited"]
        }
        _ => &[],
    }
}

/// `names`, space-separated, in lines of at most 78 columns indented by two.
fn wrapped(names: &[&str]) -> String {
    let mut out = String::new();
    let mut line = String::from(" ");
    for name in names {
        if line.len() + 1 + name.len() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(name);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The usage text: what pod-init does, its arguments, and every variable
/// it reads, from the contract in `common::env`.
pub fn usage() -> String {
    let mut text = format!(
        "{}, the container's entrypoint and PID 1: mirrors the pod's user
and group into /etc (passwordless sudo), creates the scratch home, working
directory and HF cache as the seed user, lays out the shell state and SSH
keys, then runs COMMAND as the user and stays PID 1 to forward signals and
reap zombies.

Usage: pod-init [--] COMMAND [ARG...]
       pod-init -h | --help | -V | --version

Only the first argument can be pod-init's own: `pod-init python train.py
--help` runs python with its --help; `pod-init -- --help` runs a program
named --help.

The bootstrap runs when all of these are set (submit sets them):
{}Without them COMMAND runs unchanged, as the container's user.

Read when set:
{}
Settings:
",
        version().trim_end(),
        wrapped(&REQUIRED_POD_VARS),
        wrapped(&OPTIONAL_POD_VARS),
    );
    let width = POD_INIT_SETTINGS.iter().map(|s| s.len()).max().unwrap_or(0);
    for setting in POD_INIT_SETTINGS {
        let mut lines: Vec<String> = describe(setting).iter().map(|l| (*l).to_owned()).collect();
        if setting == EnvVars::POD_INIT_KILL_GRACE_MS {
            let default = supervise::Options::default().kill_grace.as_millis();
            lines.last_mut().into_iter().for_each(|l| l.push_str(&format!(" (default {default})")));
        }
        let mut name = setting;
        for line in lines {
            let _infallible = writeln!(text, "  {name:<width$}  {line}");
            name = "";
        }
    }
    text
}

/// Prints the answer and returns exit status 0. A setuid start first gives
/// root up for good (printing needs none); if that fails, nothing is
/// printed and the status is the supervisor's failure.
pub fn answer(asked: Answer) -> ExitCode {
    if let Err(e) = drop_setuid() {
        crate::report(&format!("cannot drop the setuid root privileges: {e}"));
        return ExitCode::from(supervise::EXIT_SUPERVISOR_FAILED);
    }
    let text = match asked {
        Answer::Help => usage(),
        Answer::Version => version(),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::report(&format!("cannot write to stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Back to the real uid and gid when they differ from the effective ones.
fn drop_setuid() -> Result<(), String> {
    let sys = identity::Linux;
    let errno = |e: i32| std::io::Error::from_raw_os_error(e).to_string();
    let [ruid, euid, suid] = sys.getresuid().map_err(errno)?;
    let [rgid, egid, sgid] = sys.getresgid().map_err(errno)?;
    if [euid, suid] == [ruid; 2] && [egid, sgid] == [rgid; 2] {
        return Ok(());
    }
    identity::drop_setuid(&sys, ruid, rgid).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_first_argument_is_pod_inits() {
        assert_eq!(parse(args(&["--help"])), Invocation::Answer(Answer::Help));
        assert_eq!(parse(args(&["-h", "ignored"])), Invocation::Answer(Answer::Help));
        assert_eq!(parse(args(&["--version"])), Invocation::Answer(Answer::Version));
        assert_eq!(parse(args(&["-V"])), Invocation::Answer(Answer::Version));
        let job = args(&["python", "train.py", "--help"]);
        assert_eq!(parse(job.clone()), Invocation::Run(job));
        assert_eq!(parse(args(&["--", "--help"])), Invocation::Run(args(&["--help"])));
        assert_eq!(parse(args(&["--", "--", "x"])), Invocation::Run(args(&["--", "x"])));
        assert_eq!(parse(args(&["--helpme"])), Invocation::Run(args(&["--helpme"])));
        assert_eq!(parse(Vec::new()), Invocation::Run(Vec::new()));
    }

    #[test]
    fn usage_names_every_variable_and_describes_every_setting() {
        let text = usage();
        for name in REQUIRED_POD_VARS.iter().chain(&OPTIONAL_POD_VARS).chain(&POD_INIT_SETTINGS) {
            assert!(text.split_whitespace().any(|w| w == *name), "{name} missing from:\n{text}");
        }
        for setting in POD_INIT_SETTINGS {
            assert!(!describe(setting).is_empty(), "{setting} has no description");
        }
        assert!(text.contains("(default 2000)"), "{text}");
        assert!(text.lines().all(|l| l.len() <= 80), "{text}");
        assert!(text.starts_with(&format!("pod-init {}, the", env!("CARGO_PKG_VERSION"))), "{text}");
    }

    /// Every name pod-init's configuration and supervisor look up is in the
    /// lists the usage text prints, so a new variable cannot be missing
    /// from `--help`.
    #[test]
    fn the_lists_cover_every_variable_pod_init_looks_up() {
        let asked = RefCell::new(Vec::<String>::new());
        let env: BTreeMap<&str, &str> = [
            (EnvVars::NB_USER, "ada"),
            (EnvVars::NB_UID, "251617"),
            (EnvVars::NB_GROUP, "MLO-unit"),
            (EnvVars::NB_GID, "83070"),
            (EnvVars::SCRATCH_HOME_ROOT, "/mloscratch/homes"),
            (EnvVars::WORKING_DIR, "/mloscratch/homes/ada"),
        ]
        .into();
        let lookup = |name: &str| {
            asked.borrow_mut().push(name.to_owned());
            env.get(name).map(|v| (*v).to_owned())
        };
        assert!(matches!(crate::config::PodConfig::from_lookup(lookup), Ok(crate::config::Setup::Bootstrap(_))));
        let _defaults = supervise::Options::from_lookup(lookup);
        // Read by the contract's reader for submit's side; pod-init passes
        // them to the command as they are.
        let passed_through = [EnvVars::TZ, EnvVars::UV_PYTHON_VERSION];
        for name in asked.borrow().iter() {
            let listed = REQUIRED_POD_VARS.iter().chain(&OPTIONAL_POD_VARS).chain(&POD_INIT_SETTINGS);
            assert!(
                listed.chain(&passed_through).any(|l| l == name),
                "pod-init reads {name}, which its usage text does not list"
            );
        }
    }

    #[test]
    fn version_is_the_crates() {
        assert_eq!(version(), format!("pod-init {}\n", env!("CARGO_PKG_VERSION")));
    }
}
