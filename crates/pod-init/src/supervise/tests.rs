//! The supervisor, run for real as a child subreaper: no root, no PID
//! namespace needed.
//!
//! Each test forks; the forked child plays pod-init (it registers as a
//! subreaper because it is not PID 1) and supervises a real `sh -c` job,
//! while the test thread plays the outside world (the kubelet) and signals
//! the child's pid. The child reports the exit code and whether it was left
//! with any child or zombie. Forking keeps the signal mask, the
//! subreaper flag and the working directory changes out of the test
//! process; a lock serializes the tests because forking while another test
//! forks and waits would let one test reap another's processes.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

use super::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// What the supervising child reports.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    /// `supervise`'s return value: PID 1's exit code.
    code: u8,
    /// `waitpid(-1)` said ECHILD afterwards: no child and no zombie left.
    clean: bool,
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// `sh -c script` with `PATH` and `extra_env` (`NAME=value`), the
/// environment built as pod-init builds the command's
/// (`env::command_env`, which leaves the consumed secrets out).
fn job(script: &str, extra_env: &[&str]) -> Launch {
    let base: Vec<(OsString, OsString)> = std::iter::once("PATH=/usr/bin:/bin")
        .chain(extra_env.iter().copied())
        .filter_map(|kv| kv.split_once('='))
        .map(|(name, value)| (name.into(), value.into()))
        .collect();
    Launch::unchanged(vec![c("sh"), c("-c"), c(script)], crate::env::command_env(&base, &[]))
}

/// Forks; the child runs `setup`, then supervises `launch` with `options`
/// and reports; the parent runs `outside` with the child's pid, then
/// collects the report.
fn supervised(setup: impl FnOnce(), launch: Launch, options: Options, outside: impl FnOnce(Pid)) -> Report {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (read_end, write_end) = nix::unistd::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    // SAFETY: the child runs the supervisor, which allocates; glibc keeps
    // malloc usable in a forked child of a threaded process, and nothing
    // in the supervisor takes other locks the test threads might hold.
    match unsafe { fork() } {
        Err(e) => panic!("fork: {e}"),
        Ok(ForkResult::Child) => {
            drop(read_end);
            let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                setup();
                let code = run(launch, &options);
                // SAFETY: waitpid with a null status pointer.
                let rc = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
                let clean = rc == -1 && Errno::last() == Errno::ECHILD;
                format!("{code} {clean}")
            }))
            .unwrap_or_else(|_| "panic".to_owned());
            let _ = nix::unistd::write(&write_end, report.as_bytes());
            // SAFETY: leave without running the test harness's code.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(write_end);
            outside(child);
            let report = read_with_deadline(read_end, child, Duration::from_secs(60));
            let _ = waitpid(child, None);
            let mut words = report.split_whitespace();
            match (words.next().map(str::parse), words.next().map(str::parse)) {
                (Some(Ok(code)), Some(Ok(clean))) => Report { code, clean },
                _ => panic!("the supervising child reported {report:?}"),
            }
        }
    }
}

/// Reads the report; kills the child and fails if it hangs.
fn read_with_deadline(fd: std::os::fd::OwnedFd, child: Pid, limit: Duration) -> String {
    let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, ms) };
    if ready <= 0 {
        let _ = kill(child, Signal::SIGKILL);
        panic!("the supervisor did not finish within {limit:?}");
    }
    let mut report = String::new();
    let _ = std::fs::File::from(fd).read_to_string(&mut report);
    report
}

/// Waits until `path` exists (the job says it is ready).
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()))
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn quick() -> Options {
    Options { kill_grace: Duration::from_millis(200), ..Options::default() }
}

/// A clean end with `code`: nothing left to reap.
fn exited(code: u8) -> Report {
    Report { code, clean: true }
}

/// Supervises the job `script(out)` after `setup` (quick options, nothing
/// from outside), asserts a clean exit 0, and returns what it wrote to `out`.
fn output_of(setup: impl FnOnce(), script: impl FnOnce(&Path) -> String, env: &[&str]) -> String {
    let dir = Dir::new();
    let out = dir.path("out");
    let report = supervised(setup, job(&script(&out), env), quick(), |_| {});
    assert_eq!(report, exited(0), "the job wrote: {}", read(&out));
    read(&out)
}

/// The outside world's part: once the job says it is ready, send `signal`
/// to the supervisor, as the kubelet does to PID 1.
fn send_when_ready(ready: &Path, signal: Signal) -> impl FnOnce(Pid) + '_ {
    move |pid| {
        wait_for(ready);
        let _ = kill(pid, signal);
    }
}

#[test]
fn the_commands_exit_code_is_returned() {
    let report = supervised(|| {}, job("exit 42", &[]), quick(), |_| {});
    assert_eq!(report, exited(42));
}

#[test]
fn death_by_a_signal_is_128_plus_the_signal() {
    let report = supervised(|| {}, job("kill -KILL $$", &[]), quick(), |_| {});
    assert_eq!(report, exited(137));
}

#[test]
fn sigterm_sent_to_the_supervisor_reaches_the_command() {
    let dir = Dir::new();
    let (ready, marker) = (dir.path("ready"), dir.path("marker"));
    let script = format!(
        "trap 'echo checkpointed > {m}; exit 0' TERM; touch {r}; while :; do sleep 0.05; done",
        m = marker.display(),
        r = ready.display()
    );
    let report = supervised(|| {}, job(&script, &[]), quick(), send_when_ready(&ready, Signal::SIGTERM));
    assert_eq!(report, exited(0));
    assert_eq!(read(&marker), "checkpointed\n");
}

#[test]
fn every_catchable_signal_is_forwarded() {
    let dir = Dir::new();
    let (ready, log) = (dir.path("ready"), dir.path("log"));
    let names = ["HUP", "INT", "QUIT", "USR1", "USR2", "WINCH", "ALRM", "TSTP", "CONT", "PWR"];
    let mut script = String::new();
    for name in names {
        script.push_str(&format!("trap 'echo {name} >> {log}' {name}; ", log = log.display()));
    }
    script.push_str(&format!("trap 'exit 0' TERM; touch {r}; while :; do sleep 0.02; done", r = ready.display()));
    let report = supervised(
        || {},
        job(&script, &[]),
        quick(),
        |pid| {
            wait_for(&ready);
            for (i, name) in names.iter().enumerate() {
                let signal: Signal = match format!("SIG{name}").parse() {
                    Ok(signal) => signal,
                    Err(e) => panic!("SIG{name}: {e}"),
                };
                let _ = kill(pid, signal);
                // Standard signals coalesce: wait for each to be handled
                // before sending the next, so the log is deterministic.
                let deadline = Instant::now() + Duration::from_secs(20);
                while read(&log).lines().count() <= i && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            let _ = kill(pid, Signal::SIGTERM);
        },
    );
    assert_eq!(report, exited(0));
    let expected: String = names.iter().map(|name| format!("{name}\n")).collect();
    assert_eq!(read(&log), expected);
}

#[test]
fn the_command_is_never_killed_on_a_timer() {
    // The job ignores SIGTERM and outlives the grace many times over: the
    // supervisor forwards and waits; the kubelet owns the deadline.
    let dir = Dir::new();
    let ready = dir.path("ready");
    let script = format!("trap '' TERM; touch {r}; sleep 0.5; exit 4", r = ready.display());
    let options = Options { kill_grace: Duration::from_millis(10), ..quick() };
    let report = supervised(|| {}, job(&script, &[]), options, send_when_ready(&ready, Signal::SIGTERM));
    assert_eq!(report, exited(4));
}

#[test]
fn orphans_are_adopted_by_the_subreaper() {
    let dir = Dir::new();
    let stat = dir.path("stat");
    // The subshell exits at once, orphaning the inner sh, which then execs
    // cat: cat's parent must be the supervisor, not the host's init.
    let script = format!(
        "(sh -c 'sleep 0.2; exec cat /proc/self/stat > {s}.tmp; ' &); \
         while [ ! -s {s}.tmp ]; do sleep 0.02; done; sleep 0.1; mv {s}.tmp {s}",
        s = stat.display()
    );
    let mut supervisor = None;
    let report = supervised(|| {}, job(&script, &[]), quick(), |pid| supervisor = Some(pid.as_raw()));
    assert_eq!(report, exited(0));
    assert_eq!(scope::parent_from_stat(&read(&stat)), supervisor);
}

#[test]
fn orphaned_zombies_are_reaped_while_the_command_runs() {
    let dir = Dir::new();
    let out = dir.path("children");
    // Twenty double-forked processes end at once (their SIGCHLDs coalesce);
    // then the job waits until the supervisor's only child is itself.
    let script = format!(
        "i=0; while [ $i -lt 20 ]; do (true &); i=$((i+1)); done; \
         n=0; while [ $n -lt 400 ]; do \
           c=$(cat /proc/$PPID/task/$PPID/children); [ \"$c\" = \"$$ \" ] && break; sleep 0.05; n=$((n+1)); \
         done; echo \"$c\" > {o}; [ \"$c\" = \"$$ \" ]",
        o = out.display()
    );
    let report = supervised(|| {}, job(&script, &[]), quick(), |_| {});
    assert_eq!(report, exited(0), "children of the supervisor: {}", read(&out));
}

#[test]
fn leftovers_get_sigterm_when_the_command_exits() {
    let dir = Dir::new();
    let (ready, marker) = (dir.path("ready"), dir.path("marker"));
    let script = format!(
        "sh -c 'trap \"echo flushed > {m}; exit 0\" TERM; touch {r}; while :; do sleep 0.05; done' & \
         while [ ! -e {r} ]; do sleep 0.02; done; exit 5",
        m = marker.display(),
        r = ready.display()
    );
    let options = Options { kill_grace: Duration::from_secs(20), ..quick() };
    let report = supervised(|| {}, job(&script, &[]), options, |_| {});
    assert_eq!(report, exited(5));
    assert_eq!(read(&marker), "flushed\n");
}

#[test]
fn leftovers_that_ignore_sigterm_are_killed_after_the_grace() {
    let dir = Dir::new();
    let (ready, pid_file) = (dir.path("ready"), dir.path("pid"));
    let script = format!(
        "sh -c 'trap \"\" TERM; echo $$ > {p}; touch {r}; exec sleep 1000' & \
         while [ ! -e {r} ]; do sleep 0.02; done; exit 0",
        p = pid_file.display(),
        r = ready.display()
    );
    let report = supervised(|| {}, job(&script, &[]), quick(), |_| {});
    assert_eq!(report, exited(0));
    let sleeper = read(&pid_file).trim().parse::<i32>().unwrap_or(0);
    assert!(sleeper > 0, "no pid recorded");
    assert!(!Path::new(&format!("/proc/{sleeper}")).exists(), "the sleeper {sleeper} survived");
}

/// A command with a worker in its process group; both write a file when
/// they get SIGUSR1. Returns what the two files hold afterwards (`None`:
/// never written).
fn usr1_to_command_and_worker(reach: options::Reach) -> (Option<String>, Option<String>) {
    let dir = Dir::new();
    let (ready, main, worker) = (dir.path("ready"), dir.path("main"), dir.path("worker"));
    // The command waits for its worker in group mode (both must write);
    // otherwise it leaves at once and the worker gets the leftovers' SIGTERM.
    let wait = if reach == options::Reach::Group { "wait; " } else { "" };
    let script = format!(
        "sh -c 'trap \"echo w > {w}; exit 0\" USR1; touch {r}.w; while :; do sleep 0.02; done' & \
         trap 'echo m > {m}; {wait}exit 0' USR1; \
         while [ ! -e {r}.w ]; do sleep 0.02; done; touch {r}; while :; do sleep 0.02; done",
        w = worker.display(),
        m = main.display(),
        r = ready.display()
    );
    let options = Options { reach, ..quick() };
    let report = supervised(|| {}, job(&script, &[]), options, send_when_ready(&ready, Signal::SIGUSR1));
    assert_eq!(report, exited(0));
    (std::fs::read_to_string(&main).ok(), std::fs::read_to_string(&worker).ok())
}

#[test]
fn group_mode_signals_the_whole_process_group() {
    let (main, worker) = usr1_to_command_and_worker(options::Reach::Group);
    assert_eq!((main.as_deref(), worker.as_deref()), (Some("m\n"), Some("w\n")));
}

#[test]
fn default_mode_signals_the_command_alone() {
    let (main, worker) = usr1_to_command_and_worker(options::Reach::StopsToGroup);
    assert_eq!((main.as_deref(), worker.as_deref()), (Some("m\n"), None), "the worker got the command's signal");
}

/// A command that starts `worker` (shell text, `{m}` is its marker file)
/// and waits for it, but dies of any stop itself, as submit's zsh wrapper
/// does. The supervisor gets `signal` from outside once both are ready;
/// returns the report and what the worker wrote.
fn stop_a_job_whose_worker_checkpoints(worker: &str, signal: Signal) -> (Report, String) {
    let dir = Dir::new();
    let (ready, marker) = (dir.path("ready"), dir.path("marker"));
    let worker = worker.replace("{m}", &marker.display().to_string()).replace("{r}", &ready.display().to_string());
    let script = format!("{worker} & while [ ! -e {r} ]; do sleep 0.02; done; wait", r = ready.display());
    let report = supervised(|| {}, job(&script, &[]), quick(), send_when_ready(&ready, signal));
    (report, read(&marker))
}

/// A worker that needs a second (five times the quick kill grace) to write
/// its checkpoint after `signal`.
fn slow_checkpoint(signal: &str) -> String {
    format!("sh -c 'trap \"sleep 1; echo saved > {{m}}; exit 0\" {signal}; touch {{r}}; while :; do sleep 0.02; done'")
}

#[test]
fn a_stop_reaches_the_whole_group_which_gets_all_the_time_it_needs() {
    for (name, signal) in [("TERM", Signal::SIGTERM), ("HUP", Signal::SIGHUP)] {
        let (report, marker) = stop_a_job_whose_worker_checkpoints(&slow_checkpoint(name), signal);
        assert_eq!(report, exited(128 + signal as u8), "SIG{name}");
        assert_eq!(marker, "saved\n", "the worker's checkpoint after SIG{name}");
    }
}

#[test]
fn after_a_stop_processes_outside_the_group_get_sigterm_and_are_waited_for() {
    let worker = format!("setsid {}", slow_checkpoint("TERM"));
    let (report, marker) = stop_a_job_whose_worker_checkpoints(&worker, Signal::SIGTERM);
    assert_eq!(report, exited(143));
    assert_eq!(marker, "saved\n");
}

#[test]
fn the_command_starts_with_the_signal_state_pod_init_was_given() {
    let status = output_of(|| {}, |out| format!("grep -E '^Sig(Blk|Ign)' /proc/self/status > {}", out.display()), &[]);
    let mask = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or_else(|| panic!("no {field} in {status:?}"))
    };
    assert_eq!(mask("SigBlk:"), 0, "the command inherited blocked signals");
    let bit = |signo: i32| 1u64 << (signo - 1);
    for signo in [libc::SIGPIPE, libc::SIGTTIN, libc::SIGTTOU, libc::SIGCHLD] {
        assert_eq!(mask("SigIgn:") & bit(signo), 0, "{} is ignored in the command", signals::name(signo));
    }
}

#[test]
fn the_command_leads_its_group_and_owns_the_terminal() {
    // Fields after the name in /proc/<pid>/stat: state ppid pgrp session
    // tty_nr tpgid.
    let script = |out: &Path| format!("set -- $(sed 's/.*) //' /proc/$$/stat); echo \"$$ $3 $6\" > {}", out.display());
    let with_terminal = || {
        // A session of our own with a pty as controlling terminal and
        // stdin, as an interactive `runai submit --interactive` has.
        let pty = nix::pty::openpty(None, None).unwrap_or_else(|e| panic!("openpty: {e}"));
        let _ = nix::unistd::setsid();
        // SAFETY: TIOCSCTTY on a valid terminal fd; dup2 of valid fds.
        unsafe {
            libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0);
            libc::dup2(pty.slave.as_raw_fd(), libc::STDIN_FILENO);
        }
        std::mem::forget(pty);
    };
    let ids = output_of(with_terminal, script, &[]);
    let fields: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{ids:?}");
    assert_eq!(fields[1], fields[0], "the command is not its own group leader: {ids:?}");
    assert_eq!(fields[2], fields[0], "the command's group is not the terminal's foreground group: {ids:?}");
}

#[test]
fn pid1_leaves_its_directory_and_the_command_keeps_it() {
    let dir = Dir::new();
    let start = dir.0.path().to_owned();
    let dirs = output_of(
        move || {
            let _ = std::env::set_current_dir(&start);
        },
        // PID 1 leaves its directory right after the fork, so the command
        // may start before that: it waits (at most 5 s) for it to happen.
        |out| {
            format!(
                "i=0; while [ \"$(readlink /proc/$PPID/cwd)\" != / ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; \
                 echo \"$(readlink /proc/$PPID/cwd) $(pwd -P)\" > {}",
                out.display()
            )
        },
        &[],
    );
    let expected = format!("/ {}\n", dir.0.path().canonicalize().map(|p| p.display().to_string()).unwrap_or_default());
    assert_eq!(dirs, expected);
}

#[test]
fn the_command_starts_in_its_walked_directory_and_pid1_keeps_no_descriptor_of_it() {
    let dir = Dir::new();
    let work = dir.path("work");
    std::fs::create_dir(&work).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let work = work.canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path("out");
    // PID 1 closes its copy right after the fork: the command waits (at
    // most 5 s) for it, then says how many PID 1 still holds.
    let held = format!("ls -l /proc/$PPID/fd | grep -c -- '-> {}$'", work.display());
    let script = format!(
        "i=0; while [ \"$({held})\" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; \
         echo \"$({held}) $(pwd -P)\" > {}",
        out.display()
    );
    let mut launch = job(&script, &[]);
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let opened = nix::fcntl::open(&work, flags, nix::sys::stat::Mode::empty()).unwrap_or_else(|e| panic!("{e}"));
    launch.cwd = Some(crate::launch::WorkingDir { path: "/walked".into(), opened: Ok(opened) });
    let report = supervised(|| {}, launch, quick(), |_| {});
    assert_eq!(report, exited(0), "the job wrote: {}", read(&out));
    assert_eq!(read(&out), format!("0 {}\n", work.display()));
}

#[test]
fn consumed_secrets_never_reach_the_command() {
    let env = output_of(
        || {},
        |out| format!("env > {}", out.display()),
        &["SSH_PRIVATE_KEY_B64=c2VjcmV0", "SSH_PRIVATE_KEY_B64_NOT=kept", "KEEP=1"],
    );
    assert!(!env.contains("c2VjcmV0"), "the key reached the command: {env}");
    assert!(env.contains("KEEP=1\n") && env.contains("SSH_PRIVATE_KEY_B64_NOT=kept\n"), "{env}");
}

#[test]
fn a_command_that_cannot_start_reports_127() {
    let launch = Launch::unchanged(vec![c("no-such-command-anywhere")], vec![c("PATH=/usr/bin:/bin")]);
    let report = supervised(|| {}, launch, quick(), |_| {});
    assert_eq!(report, exited(127));
}
