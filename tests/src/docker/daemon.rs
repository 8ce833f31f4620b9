//! The tests' own Docker engine: `tests/docker/engine.sh` (a containerd and
//! a dockerd with their state under `<target>/docker/`; its header says how
//! it keeps off the machine's own Docker and off the host's network),
//! started on first use in a test process and stopped when that process
//! ends.
//!
//! - One engine at a time per target directory: the process that starts it
//!   holds `daemon.lock` for its whole life, so a second test binary or a
//!   concurrent `cargo xtask test` waits instead of colliding. The data
//!   root outlives the process, so the base image and the build cache are
//!   reused by the next run.
//! - Stopped at the end: the script is started from a thread that lives as
//!   long as the process, with `PR_SET_PDEATHSIG` = SIGTERM, so the kernel
//!   tells it to stop when the test process exits, however it exits; it
//!   stops dockerd, then containerd, and unmounts what they left mounted.
//! - Every docker command of the tests has `DOCKER_HOST` pointing at it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;

use crate::binaries;
use crate::sandbox::{Error, Output, Result, require_root};

/// How long the engine may take to answer (well under 1 s here; a cold disk is slower).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// A unix socket path longer than this does not fit `sockaddr_un`.
const MAX_SOCKET_PATH: usize = 100;

/// The running engine of this test process.
#[derive(Debug)]
pub struct Daemon {
    dir: PathBuf,
    host: String,
    /// Held until the process exits: one engine per target directory.
    _lock: Flock<File>,
    /// How long it took to answer, for the test log and the benchmark.
    pub started_in: Duration,
}

/// The engine, started on first call in this process.
pub fn daemon() -> Result<&'static Daemon> {
    static DAEMON: OnceLock<std::result::Result<Daemon, String>> = OnceLock::new();
    DAEMON.get_or_init(|| Daemon::start().map_err(|e| e.to_string())).as_ref().map_err(|e| Error::new(e.clone()))
}

/// `<target>/docker`: the engine's state, sockets and logs.
pub fn docker_dir() -> PathBuf {
    binaries::target_dir().join("docker")
}

/// `tests/docker/engine.sh`.
fn engine_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker").join("engine.sh")
}

impl Daemon {
    fn start() -> Result<Self> {
        require_root()?;
        for tool in ["dockerd", "containerd", "docker"] {
            if which(tool).is_none() {
                return Err(Error::new(format!(
                    "docker: `{tool}` is not on PATH: the image tests need Debian's engine (run .ci/install-deps, \
                     which installs docker.io)"
                )));
            }
        }
        let dir = docker_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::new(format!("docker: cannot create {}: {e}", dir.display())))?;
        let socket = dir.join("docker.sock");
        for path in [dir.join("run/containerd.sock.ttrpc"), socket.clone()] {
            if path.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(Error::new(format!(
                    "docker: the socket path {} is too long for a unix socket: use a shorter CARGO_TARGET_DIR",
                    path.display()
                )));
            }
        }
        let lock = lock(&dir.join("daemon.lock"))?;
        // The engine of a previous run may still be shutting down.
        wait_gone(&dir, &dir.join("engine.pid"));

        let started = Instant::now();
        let mut engine = Command::new("bash");
        engine.arg(engine_script()).arg(&dir);
        keep_running("engine", engine, &dir.join("engine.log"), &dir.join("engine.pid"))?;
        let daemon =
            Self { host: format!("unix://{}", socket.display()), dir, _lock: lock, started_in: Duration::ZERO };
        daemon.wait_until_up(started)
    }

    fn wait_until_up(mut self, started: Instant) -> Result<Self> {
        while started.elapsed() < START_TIMEOUT {
            let probe = self.docker(["version", "--format", "{{.Server.Version}}"]).output();
            if probe.is_ok_and(|out| out.status.success()) {
                self.started_in = started.elapsed();
                eprintln!("docker: engine up in {:.1?} ({})", self.started_in, self.host);
                return Ok(self);
            }
            thread::sleep(Duration::from_millis(50));
        }
        let log = fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        Err(Error::new(format!(
            "docker: the engine did not answer on {} within {START_TIMEOUT:?}; end of {}:\n{}",
            self.host,
            self.dir.join("dockerd.log").display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )))
    }

    /// `DOCKER_HOST` for this engine.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A `docker` command talking to this engine (and no other: the
    /// client's config and contexts are ignored), stdin closed.
    pub fn docker<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new("docker");
        cmd.args(args);
        self.client_env(cmd)
    }

    /// [`Daemon::docker`] under `timeout`: SIGKILLed after `limit`, so a
    /// hung container fails its test instead of hanging it.
    pub fn docker_within<I, S>(&self, limit: Duration, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "KILL", &limit.as_secs().to_string(), "docker"]).args(args);
        self.client_env(cmd)
    }

    fn client_env(&self, mut cmd: Command) -> Command {
        cmd.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.dir.join("client"))
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a docker command to its end and returns what it printed.
    pub fn run<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        output(self.docker(args))
    }

    /// [`Daemon::run`], failing unless the command succeeds.
    pub fn check<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let cmd = self.docker(args);
        let line = format!("{cmd:?}");
        let out = output(cmd)?;
        if out.status != 0 {
            return Err(Error::new(format!("docker: {line} exited {}: {}", out.status, out.stderr.trim())));
        }
        Ok(out.stdout)
    }
}

/// Runs `cmd` to its end, both streams captured.
pub(super) fn output(mut cmd: Command) -> Result<Output> {
    let out = cmd.output().map_err(|e| Error::new(format!("docker: cannot run {cmd:?}: {e}")))?;
    Ok(Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

pub(super) fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(tool)).find(|p| p.is_file())
}

/// Takes the engine lock, saying so when another run holds it.
fn lock(path: &Path) -> Result<Flock<File>> {
    let open = || File::create(path).map_err(|e| Error::new(format!("docker: cannot open {}: {e}", path.display())));
    match Flock::lock(open()?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err(_) => {
            eprintln!("docker: another test run uses the engine in {}; waiting for it", path.display());
            Flock::lock(open()?, FlockArg::LockExclusive)
                .map_err(|(_, e)| Error::new(format!("docker: cannot lock {}: {e}", path.display())))
        }
    }
}

/// Waits (up to 30 s, then SIGKILL) for the daemon in `pidfile` to end,
/// if it is still ours: its command line names a path under `dir` (a pid
/// reused by anything else is left alone).
pub(super) fn wait_gone(dir: &Path, pidfile: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    while running(dir, pidfile).is_some() && Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    if let Some(pid) = running(dir, pidfile) {
        let _gone_meanwhile = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The pid in `pidfile`, if that process still runs and is ours: its
/// command line names a path under `dir` (a reaped or reused pid does not).
pub(super) fn running(dir: &Path, pidfile: &Path) -> Option<i32> {
    let pid = fs::read_to_string(pidfile).ok()?.trim().parse::<i32>().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains(&dir.display().to_string()).then_some(pid)
}

/// Starts `cmd`, the `what` of the tests (stdout and stderr to `log`, its
/// pid to `pidfile`), from a thread that never ends, with SIGTERM as its parent-death signal: the
/// kernel sends it when the thread's process exits (the signal follows the
/// thread that forked, so a test thread, which ends with its test, must not
/// be that parent).
pub(super) fn keep_running(what: &str, mut cmd: Command, log: &Path, pidfile: &Path) -> Result<()> {
    let (tx, rx) = mpsc::channel::<std::result::Result<(), String>>();
    let (log, pidfile) = (log.to_path_buf(), pidfile.to_path_buf());
    let spawned = thread::Builder::new().name(format!("docker-{what}")).spawn(move || {
        let engine: Option<Child> = match start_with_deathsig(&mut cmd, &log) {
            Ok(child) => {
                let _only_for_the_next_run = fs::write(&pidfile, child.id().to_string());
                let _receiver_waits = tx.send(Ok(()));
                Some(child)
            }
            Err(e) => {
                let _receiver_waits = tx.send(Err(e));
                None
            }
        };
        // The child stays ours (never reaped) as long as the process lives.
        let _engine = engine;
        loop {
            thread::park();
        }
    });
    spawned.map_err(|e| Error::new(format!("docker: cannot start the {what} thread: {e}")))?;
    rx.recv().map_err(|_| Error::new(format!("docker: the {what} thread ended early")))?.map_err(Error::new)
}

fn start_with_deathsig(cmd: &mut Command, log: &Path) -> std::result::Result<Child, String> {
    use std::os::unix::process::CommandExt;
    let file = File::create(log).map_err(|e| format!("docker: cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| format!("docker: {}: {e}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(file).stderr(err);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from));
    }
    cmd.spawn().map_err(|e| format!("docker: cannot start {cmd:?}: {e}"))
}
