//! The tests' own Docker engine: a `containerd` and a `dockerd` with their
//! state under `<target>/docker/`, started on first use in a test process
//! and stopped when that process ends.
//!
//! - Never the machine's engine: our own socket (`DOCKER_HOST` of every
//!   docker command we run points at it), data root and exec root, and our
//!   own containerd, because dockerd would otherwise adopt a system one it
//!   finds at `/run/containerd/containerd.sock`.
//! - Nothing of the host's network changes: no bridge, no iptables rules,
//!   no ip_forward. Containers run with `--network none` (pod-init needs no
//!   network); image builds use the host's network for apt.
//! - One engine at a time per target directory: the process that starts it
//!   holds `daemon.lock` for its whole life, so a second test binary or a
//!   concurrent `cargo xtask test` waits instead of colliding. The data
//!   root outlives the process, so the base image and the build cache are
//!   reused by the next run.
//! - Stopped at the end: both daemons are started from a thread that lives
//!   as long as the process, with `PR_SET_PDEATHSIG` = SIGTERM, so the
//!   kernel stops them when the test process exits, however it exits.

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

/// How long the engine may take to answer (about 1 s here; a cold disk is slower).
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
        let run = dir.join("run");
        fs::create_dir_all(&run).map_err(|e| Error::new(format!("docker: cannot create {}: {e}", run.display())))?;
        let containerd_socket = run.join("containerd.sock");
        let socket = dir.join("docker.sock");
        for path in [&containerd_socket, &socket] {
            if path.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(Error::new(format!(
                    "docker: the socket path {} is too long for a unix socket: use a shorter CARGO_TARGET_DIR",
                    path.display()
                )));
            }
        }
        let lock = lock(&dir.join("daemon.lock"))?;
        // A daemon of a previous run may still be shutting down.
        for pidfile in ["dockerd.pid", "containerd.pid"] {
            wait_gone(&dir, &dir.join(pidfile));
        }
        let config = dir.join("containerd.toml");
        fs::write(&config, containerd_config(&dir, &containerd_socket))
            .map_err(|e| Error::new(format!("docker: cannot write {}: {e}", config.display())))?;

        let started = Instant::now();
        let mut containerd = Command::new("containerd");
        containerd.arg("--config").arg(&config);
        let mut dockerd = Command::new("dockerd");
        dockerd
            .arg("--containerd")
            .arg(&containerd_socket)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(run.join("docker"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false"])
            .args(["--ip-masq=false", "--userland-proxy=false", "--log-level=warn"]);
        keep_running(vec![
            (containerd, dir.join("containerd.log"), Some(dir.join("containerd.pid"))),
            (dockerd, dir.join("dockerd.log"), None),
        ])?;
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

fn which(tool: &str) -> Option<PathBuf> {
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
fn wait_gone(dir: &Path, pidfile: &Path) {
    let Some(pid) = fs::read_to_string(pidfile).ok().and_then(|s| s.trim().parse::<i32>().ok()) else { return };
    let ours = dir.display().to_string();
    let alive = || {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains(&ours)
    };
    let until = Instant::now() + Duration::from_secs(30);
    while alive() && Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    if alive() {
        let _gone_meanwhile = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// containerd's configuration: everything under `dir`, no CRI plugin (no
/// Kubernetes here), no debug socket.
fn containerd_config(dir: &Path, socket: &Path) -> String {
    format!(
        "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{socket}\"\n[ttrpc]\n  address = \"{socket}.ttrpc\"\n[debug]\n  address = \"\"\n",
        root = dir.join("containerd").display(),
        state = dir.join("run").join("containerd").display(),
        socket = socket.display(),
    )
}

/// Starts each command (stdout and stderr to its log file, its pid to the
/// pidfile if given) from a thread that never ends, with SIGTERM as its
/// parent-death signal: the kernel sends it when the thread's process
/// exits (the signal follows the thread that forked, so a test thread,
/// which ends with its test, must not be that parent).
fn keep_running(commands: Vec<(Command, PathBuf, Option<PathBuf>)>) -> Result<()> {
    let (tx, rx) = mpsc::channel::<std::result::Result<(), String>>();
    let spawned = thread::Builder::new().name("docker-daemons".into()).spawn(move || {
        let mut children: Vec<Child> = Vec::new();
        for (mut cmd, log, pidfile) in commands {
            let result = start_with_deathsig(&mut cmd, &log).map(|child| {
                if let Some(pidfile) = pidfile {
                    let _only_for_the_next_run = fs::write(pidfile, child.id().to_string());
                }
                children.push(child);
            });
            let failed = result.is_err();
            let _receiver_waits = tx.send(result);
            if failed {
                return;
            }
        }
        loop {
            thread::park();
        }
    });
    spawned.map_err(|e| Error::new(format!("docker: cannot start the daemon thread: {e}")))?;
    for _ in 0..2 {
        rx.recv().map_err(|_| Error::new("docker: the daemon thread ended early"))?.map_err(Error::new)?;
    }
    Ok(())
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
