//! [`Running`]: a started container, waited on through a pidfd, signalled
//! and entered from the host, killed with its whole process group.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::{Error, Result, io_err};
use super::output::Output;
use super::procfs::{children, cmdline, exe, pid_ns};
use super::rootfs::scripts_dir;
use super::spec::RunSpec;
use super::{CONTAINER_PATH, DEFAULT_TIMEOUT};

/// A running container.
///
/// Dropping it kills the container (the whole process group) and waits.
#[derive(Debug)]
pub struct Running {
    child: Child,
    argv: Vec<String>,
    deadline: Instant,
    timeout: Duration,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    tty: Option<fs::File>,
    harness_error: PathBuf,
    /// A pidfd of the launcher: readable once it has exited, so a wait
    /// blocks on it instead of polling.
    exited: OwnedFd,
}

fn drain(stream: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    stream.map(|mut s| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _partial_on_error = s.read_to_end(&mut buf);
            buf
        })
    })
}

fn joined(handle: Option<JoinHandle<Vec<u8>>>) -> String {
    let bytes = handle.and_then(|h| h.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Running {
    /// Starts `spec` over `rootfs` in the run directory `dir`: `dir/state`
    /// holds the overlay's layers, `dir/scratch` becomes [`SCRATCH_MOUNT`].
    pub(super) fn start(spec: &RunSpec, rootfs: &Path, dir: &Path) -> Result<Self> {
        let state = dir.join("state");
        let mut cmd = spec.command(rootfs, &state, &dir.join("scratch"))?;
        // Where ctr-run.sh and pid1.py say why the harness (not the
        // command) failed; a leftover from an earlier run must not count.
        let harness_error = state.join("harness.error");
        match fs::remove_file(&harness_error) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err("cannot remove", &harness_error)(e)),
            _ => {}
        }
        let mut tty = None;
        if spec.tty {
            let pty = nix::pty::openpty(None, None).map_err(|e| Error(format!("sandbox: openpty: {e}")))?;
            let side = |fd: &std::os::fd::OwnedFd| -> Result<Stdio> {
                Ok(Stdio::from(fd.try_clone().map_err(|e| Error(format!("sandbox: dup pty: {e}")))?))
            };
            cmd.stdin(side(&pty.slave)?).stdout(side(&pty.slave)?).stderr(side(&pty.slave)?);
            tty = Some(fs::File::from(pty.master));
        } else {
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        // SAFETY: setsid is async-signal-safe and touches no memory of the
        // parent. It makes the container's whole process tree one process
        // group (to kill it on timeout) and a session without a terminal
        // (PID 1 takes the pty, if any, as its controlling terminal).
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(io::Error::from));
        }
        let mut child = cmd.spawn().map_err(io_err("cannot start", &scripts_dir().join("ctr-run.sh")))?;
        let exited = match pidfd(&child) {
            Ok(fd) => fd,
            Err(e) => {
                let _already_gone = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                let _status = child.wait();
                return Err(Error(format!("sandbox: pidfd_open of the launcher: {e}")));
            }
        };
        // Our copies of the pty's terminal side must go, or reading the
        // master never ends.
        drop(cmd);
        let (stdout, stderr) = match &tty {
            Some(master) => {
                let reader = master.try_clone().map_err(|e| Error(format!("sandbox: dup pty: {e}")))?;
                (drain(Some(reader)), None)
            }
            None => (drain(child.stdout.take()), drain(child.stderr.take())),
        };
        Ok(Self {
            child,
            argv: spec.argv.clone(),
            deadline: Instant::now() + spec.timeout,
            timeout: spec.timeout,
            stdout,
            stderr,
            tty,
            harness_error,
            exited,
        })
    }

    /// Type `bytes` into the container's terminal (a [`RunSpec::tty`] run).
    pub fn write_tty(&self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let mut master = self
            .tty
            .as_ref()
            .ok_or_else(|| Error::new("sandbox: write_tty on a container without a tty (RunSpec::tty)"))?;
        master.write_all(bytes).map_err(|e| Error(format!("sandbox: writing to the pty: {e}")))
    }

    fn group(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The host PID of the container's PID 1, once it has exec'd its command.
    pub fn init_host_pid(&self) -> Result<Pid> {
        let launcher = self.child.id();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            // The launcher's pid1.py child, then its child: PID 1.
            let launcher_child = children(launcher).into_iter().find(|&p| cmdline(p).contains("pid1.py"));
            if let Some(parent) = launcher_child {
                // PID 1 is the child in another PID namespace, once it has
                // exec'd (until then it is still python, setting up; while
                // exec is under way its cmdline is still empty).
                let init = children(parent).into_iter().find(|&c| {
                    pid_ns(c).is_some()
                        && pid_ns(c) != pid_ns(parent)
                        && exe(c) != exe(parent)
                        && !cmdline(c).is_empty()
                });
                if let Some(init) = init {
                    return Ok(Pid::from_raw(init as i32));
                }
            }
            if !self.is_running() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        Err(Error(format!("sandbox: the container's PID 1 did not start ({:?})", self.argv)))
    }

    fn is_running(&self) -> bool {
        kill(self.group(), None).is_ok() && fs::metadata(format!("/proc/{}", self.child.id())).is_ok()
    }

    /// Send `sig` to the container's PID 1 from the host.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let pid = self.init_host_pid()?;
        kill(pid, sig).map_err(|e| Error(format!("sandbox: kill({pid}, {sig}): {e}")))
    }

    /// Wait until a file exists on the scratch backing dir (or any host
    /// path), e.g. a marker the job writes when it is ready.
    pub fn wait_for_path(&mut self, path: &Path, timeout: Duration) -> Result<()> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if path.exists() {
                return Ok(());
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return Err(Error(format!("sandbox: the container exited before {} appeared", path.display())));
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(Error(format!("sandbox: {} did not appear within {timeout:?}", path.display())))
    }

    /// Run `argv` inside the running container (its PID, mount, UTS and IPC
    /// namespaces and root), as root, with the default environment; killed
    /// after [`DEFAULT_TIMEOUT`].
    pub fn nsenter<I, S>(&self, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.enter(None, argv)
    }

    /// [`Running::nsenter`] as `uid:gid` with no supplementary groups and
    /// without `no_new_privs` (e.g. the user running pod-init again inside
    /// the pod).
    pub fn nsenter_as<I, S>(&self, uid: u32, gid: u32, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.enter(Some((uid, gid)), argv)
    }

    fn enter<I, S>(&self, user: Option<(u32, u32)>, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let pid = self.init_host_pid()?;
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "KILL", &DEFAULT_TIMEOUT.as_secs().to_string(), "nsenter"]);
        cmd.arg(format!("--target={pid}"));
        cmd.args(["--mount", "--pid", "--uts", "--ipc", "--root", "--wd"]);
        if let Some((uid, gid)) = user {
            // nsenter drops the supplementary groups, then sets gid, then uid.
            cmd.arg(format!("--setgid={gid}")).arg(format!("--setuid={uid}"));
        }
        let out = cmd
            .arg("--")
            .args(argv)
            .env_clear()
            .env("PATH", CONTAINER_PATH)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error(format!("sandbox: cannot run nsenter: {e}")))?;
        Ok(Output {
            status: exit_code(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Wait for the end, up to the spec's timeout (from the start).
    pub fn wait(self) -> Result<Output> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.wait_timeout(left)
    }

    /// Wait for the end, up to `timeout`; on timeout kill everything and fail.
    pub fn wait_timeout(mut self, timeout: Duration) -> Result<Output> {
        let until = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Nothing of the group may outlive the launcher (its pipes
                    // would also keep the output below from ending).
                    if !self.group_gone_within(Duration::from_secs(2)) {
                        self.kill_group();
                        return Err(Error(format!(
                            "sandbox: processes of the container outlived it and were killed ({:?})",
                            self.argv
                        )));
                    }
                    let out = Output {
                        status: exit_code(status),
                        stdout: joined(self.stdout.take()),
                        stderr: joined(self.stderr.take()),
                    };
                    return match fs::read_to_string(&self.harness_error) {
                        Ok(why) => Err(Error(format!(
                            "sandbox: the harness failed, not the command ({:?}): {}\n--- stderr\n{}",
                            self.argv,
                            why.trim(),
                            out.stderr
                        ))),
                        Err(_) => Ok(out),
                    };
                }
                Ok(None) if Instant::now() < until => self.block_until_exit(until - Instant::now()),
                Ok(None) => break,
                Err(e) => return Err(Error(format!("sandbox: waiting for the container: {e}"))),
            }
        }
        self.kill_group();
        Err(Error(format!(
            "sandbox: container timed out (limit {:?} from start, {timeout:?} in this wait) and was \
             killed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.timeout,
            self.argv,
            joined(self.stdout.take()),
            joined(self.stderr.take())
        )))
    }

    /// Blocks until the launcher exits or `limit` passes (the caller
    /// checks which).
    fn block_until_exit(&self, limit: Duration) {
        let mut pollfd = libc::pollfd { fd: self.exited.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one valid pollfd for the call's duration. A timeout or
        // an error (EINTR) returns to the caller's try_wait loop.
        let _ready = unsafe { libc::poll(&mut pollfd, 1, ms) };
    }

    /// SIGKILL the whole process group (launcher, FUSE daemon, container)
    /// and wait until none of it is left.
    pub fn kill_group(&mut self) {
        // Every process of the container tree is in this group (setsid at
        // start); a process that left it is in the container's PID namespace
        // and dies with its PID 1 (unshare --kill-child).
        let _already_gone = kill(Pid::from_raw(-self.group().as_raw()), Signal::SIGKILL);
        let _status = self.child.wait();
        self.group_gone_within(Duration::from_secs(5));
    }

    /// Whether every process of the group has exited within `limit`.
    fn group_gone_within(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        loop {
            if kill(Pid::from_raw(-self.group().as_raw()), None) == Err(Errno::ESRCH) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
        }
    }
}

/// A pidfd of `child`, which is ours and not yet reaped (so its pid cannot
/// have been reused).
fn pidfd(child: &Child) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (or -1), which we own from here on.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: a descriptor just returned to us and owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
