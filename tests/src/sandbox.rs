//! A container-like sandbox for running `pod-init` as PID 1, as on the cluster.
//!
//! There is no Docker engine on the test machines, so a "container" here is
//! what `tests/sandbox/ctr-run.sh` builds from namespaces: PID 1 of its own
//! PID, mount, UTS and IPC namespaces, rooted (pivot_root, as runc) in an overlay of a real
//! Debian rootfs (debootstrap minbase bookworm + sudo, zsh, git,
//! openssh-client, passwd, login), hostname `ctr`, fresh `/proc`, a minimal
//! `/dev`, and [`SCRATCH_MOUNT`] served from a host directory through a FUSE
//! passthrough that squashes root as the RCP NFS server does
//! (`tests/sandbox/rootsquash.py`: uid/gid 0 become 65534, every request runs
//! with the caller's fsuid/fsgid/groups, so the kernel's checks decide).
//!
//! # Using it
//!
//! ```no_run
//! use nb_tests::sandbox::{RunSpec, Sandbox, SCRATCH_MOUNT};
//! # fn main() -> Result<(), nb_tests::sandbox::Error> {
//! let sb = Sandbox::new()?;            // fresh upper layer + scratch, laid out like RCP
//! sb.prove_root_squash()?;             // every pod-init test starts with this
//! let out = sb.run(
//!     &RunSpec::pod_init(["/bin/sh", "-c", "id"])  // pod-init (root, 4755) as PID 1
//!         .env("NB_USER", "ada")
//!         .env("SCRATCH_HOME_ROOT", format!("{SCRATCH_MOUNT}/homes")),
//! )?;
//! out.assert_success();
//! let check = sb.exec(["getent", "passwd", "ada"])?;  // a NEW container, same upper + scratch
//! assert!(check.stdout.starts_with("ada:x:"));
//! assert!(sb.read_etc("passwd")?.contains("ada:x:"));  // host-side read of the merged /etc
//! # Ok(()) }
//! ```
//!
//! - [`Sandbox::new`] makes a per-test directory under
//!   `<target>/sandbox/runs/` (see [`runs_dir`]) with the overlay's upper layer (kept across runs
//!   of the same sandbox: a second [`Sandbox::run`] sees the first one's
//!   `/etc`, which is the restart case) and the scratch backing directory:
//!   `/scratch` owned by the seed ([`SEED_UID`]:[`LAB_GID`], 0775),
//!   `/scratch/homes` seed:83070 0770 as on RCP.
//! - [`Sandbox::run`] / [`Sandbox::spawn`] start a container from a
//!   [`RunSpec`]: argv, exactly the given environment (plus `PATH` and
//!   `HOSTNAME` defaults), root or `as_user(uid, gid)` (no supplementary
//!   groups, no `no_new_privs`, so a setuid-root pod-init gains euid 0),
//!   every capability or only those a container runtime grants
//!   ([`RunSpec::runtime_caps`], closer to a pod),
//!   squashed or bind scratch, optionally pod-init installed at
//!   [`common::image::POD_INIT_PATH`] (owner root, mode 0755 or 4755).
//!   [`Output::status`] is the exit code of PID 1 (128+N if killed by signal
//!   N). Each run has a timeout (default [`DEFAULT_TIMEOUT`]); on timeout the
//!   whole process group is SIGKILLed and the call returns an [`Error`], so
//!   the test fails.
//! - [`RunSpec::tty`] runs on a pseudo-terminal that PID 1 holds as its
//!   controlling terminal (as `docker run -t`); [`Running::write_tty`] types
//!   into it (`"\x03"` = Ctrl-C).
//! - [`Running::init_host_pid`] is the host PID of the container's PID 1, to
//!   signal it from outside (as the kubelet does); [`Running::nsenter`] runs a
//!   command inside a running container (it enters the PID namespace as a new
//!   process, not a child of PID 1; if the nsenter parent died first, PID 1
//!   would inherit it).
//! - [`Running::wait_for_path`] waits for a marker file (e.g. on
//!   [`Sandbox::scratch_path`]) the job writes once it is ready: signal only
//!   after that, or the signal may arrive before the handlers are in place.
//! - [`Sandbox::exec`] runs a check command as PID 1 of a NEW container over
//!   the same upper layer and scratch, as root with scratch bind-mounted
//!   (unsquashed: checks see scratch as an admin on the NFS server would).
//!   Use [`Sandbox::run`] with a [`RunSpec`] for a squashed or non-root check.
//!   While a spawned container is still running, check inside it with
//!   [`Running::nsenter`] instead: two overlays over one upper layer at once
//!   are undefined behaviour for overlayfs.
//! - [`Sandbox::read_etc`], [`Sandbox::read_file`] and [`Sandbox::host_path`]
//!   read the container's files from the host (upper layer, else rootfs);
//!   [`Sandbox::scratch_listing`] lists owner and mode of everything on
//!   scratch (compare two to see what a run changed).
//! - [`BusyboxRoot`] runs a binary as PID 1 in a rootfs holding only a static
//!   busybox and no libc: a dynamically linked binary cannot start there.
//!
//! Everything needs root; without it every entry point returns an [`Error`]
//! that says so (tests fail, they are never skipped). The rootfs is built once
//! (about 30 s, needs the Debian mirror) at `<target>/sandbox/rootfs` by
//! `tests/sandbox/mkrootfs.sh`, under an flock; `cargo xtask test` builds it
//! ahead. `NB_SANDBOX_ROOTFS` points at a prebuilt one instead;
//! `NB_SANDBOX_KEEP=1` keeps each sandbox directory for debugging.
//!
//! # How a container is made (`tests/sandbox/`)
//!
//! - `ctr-run.sh --rootfs R --state S --scratch D [--squash] [--user U:G]
//!   [--tty] [--install FILE PATH MODE]... [--env N=V]... -- CMD...`
//!   re-executes itself under `unshare --mount --uts --ipc` (private
//!   propagation), mounts the overlay (`S/upper`, `S/work`, `S/merged`),
//!   `/dev`, `/scratch` (bind, or `rootsquash.py`), installs files, sets the
//!   hostname, then runs `pid1.py`, and exits with its status.
//! - `pid1.py` unshares the PID and mount namespaces and forks: the child is
//!   PID 1; it mounts `/proc`, pivots its root there, drops to `U:G` if asked, and execs CMD
//!   (127/126 if it cannot). The parent reports PID 1's status (128+N for a
//!   signal; `unshare --fork` reports a SIGKILL as exit 1).
//! - `rootsquash.py BACKING MOUNTPOINT` is the FUSE daemon. It lives in the
//!   launcher's mount namespace, not in the container's PID namespace, so
//!   pod-init never sees or reaps it. When PID 1 exits, the kernel kills the
//!   rest of its PID namespace, ctr-run.sh unmounts scratch, the daemon exits
//!   and the private mount namespace disappears: nothing is left behind (a
//!   run fails if anything of its process group is).
//! - A failure of the harness itself (not of CMD) is written to
//!   `S/harness.error` and becomes an [`Error`] of the run.
//! - `mkrootfs.sh DEST [--cache DIR]` and `mkbbroot.sh DEST` build the two
//!   root filesystems (idempotent, stamped, under an flock).

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, chown};

use crate::binaries;

/// Where the root-squashed scratch is mounted in the container.
pub const SCRATCH_MOUNT: &str = "/scratch";
/// The seed account baked into the rootfs (owner of the scratch root).
pub const SEED_USER: &str = common::env::DEFAULT_SCRATCH_SEED_USER;
/// The seed's uid: the image's (same as in `mkrootfs.sh`; the selftest
/// checks the built rootfs against it).
pub const SEED_UID: u32 = common::env::DEFAULT_SCRATCH_SEED_UID;
/// The lab group (MLO-unit on RCP), the seed's primary group.
pub const LAB_GID: u32 = 83_070;
/// Its name in the rootfs (`mkrootfs.sh`).
pub const LAB_GROUP: &str = "seedgrp";
/// The placeholder user and group the image bakes in (ids [`PLACEHOLDER_ID`]).
pub const PLACEHOLDER: &str = "placeholder";
/// uid and gid of [`PLACEHOLDER`].
pub const PLACEHOLDER_ID: u32 = 1000;
/// What NFS maps squashed root to.
pub const NOBODY: u32 = 65_534;
/// The `PATH` a container gets unless the spec sets one.
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The capability bounding set of a container (containerd's and Docker's
/// default: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
/// SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE,
/// SETFCAP), as `CapBnd` in `/proc/PID/status` shows it.
pub const RUNTIME_CAP_BOUNDING_SET: u64 = 0xa804_25fb;
/// How long a container may run unless the spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A sandbox failure: the message says what went wrong and how to fix it.
///
/// `Debug` prints the message itself, so a test returning `Result<(), Error>`
/// fails with readable text.
pub struct Error(String);

impl Error {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self(format!("sandbox: {e}"))
    }
}

/// Sandbox result.
pub type Result<T> = std::result::Result<T, Error>;

fn io_err(what: impl fmt::Display, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let ctx = format!("sandbox: {what} {}", path.display());
    move |e| Error(format!("{ctx}: {e}"))
}

/// The scripts behind the sandbox (`tests/sandbox/`).
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox")
}

/// `<target>/sandbox`: the rootfs, the busybox root and every sandbox run.
pub fn sandbox_dir() -> PathBuf {
    binaries::target_dir().join("sandbox")
}

/// Fails unless we are root: namespaces, mounts and chroot need it.
pub fn require_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::new(
            "sandbox: the sandbox tests need root (namespaces, mounts, chroot, FUSE): \
             run them as root, e.g. `sudo -E cargo xtask test`",
        ))
    }
}

fn run_script(script: &str, args: &[&Path]) -> Result<()> {
    let path = scripts_dir().join(script);
    let out = Command::new(&path).args(args).stdin(Stdio::null()).output().map_err(io_err("cannot run", &path))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error(format!(
            "sandbox: {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The Debian rootfs every [`Sandbox`] uses as its read-only lower layer.
///
/// Built on first use in this process by `mkrootfs.sh` (which holds an flock
/// and keeps a stamp, so parallel test binaries build it once and a changed
/// script rebuilds it), unless `NB_SANDBOX_ROOTFS` names a prebuilt one.
pub fn rootfs() -> Result<PathBuf> {
    static ROOTFS: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    ROOTFS
        .get_or_init(|| {
            require_root().map_err(|e| e.0)?;
            if let Some(prebuilt) = std::env::var_os("NB_SANDBOX_ROOTFS") {
                let prebuilt = PathBuf::from(prebuilt);
                if !prebuilt.join(".sandbox-stamp").is_file() {
                    return Err(format!(
                        "sandbox: NB_SANDBOX_ROOTFS={} is not a sandbox rootfs: \
                         build it with tests/sandbox/mkrootfs.sh",
                        prebuilt.display()
                    ));
                }
                check_prebuilt_stamp(&prebuilt)?;
                return Ok(prebuilt);
            }
            let dest = sandbox_dir().join("rootfs");
            run_script("mkrootfs.sh", &[&dest])
                .map_err(|e| format!("{e}\n(it needs debootstrap and the Debian mirror; or set NB_SANDBOX_ROOTFS)"))?;
            Ok(dest)
        })
        .clone()
        .map_err(Error)
}

/// A prebuilt rootfs must come from this version of `mkrootfs.sh` (same
/// stamp): one built from an older recipe (another seed uid, say) would make
/// tests fail for reasons that have nothing to do with them.
fn check_prebuilt_stamp(prebuilt: &Path) -> std::result::Result<(), String> {
    let script = scripts_dir().join("mkrootfs.sh");
    let out = Command::new(&script)
        .arg("--stamp")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("sandbox: cannot run {} --stamp: {e}", script.display()))?;
    let want = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let have = std::fs::read_to_string(prebuilt.join(".sandbox-stamp")).unwrap_or_default();
    if !out.status.success() || want.is_empty() || have.trim() != want {
        return Err(format!(
            "sandbox: NB_SANDBOX_ROOTFS={} has stamp {:?} but tests/sandbox/mkrootfs.sh now makes {want:?}: \
             rebuild it with `tests/sandbox/mkrootfs.sh {}`, or unset NB_SANDBOX_ROOTFS",
            prebuilt.display(),
            have.trim(),
            prebuilt.display()
        ));
    }
    Ok(())
}

/// What to run in a container and how.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The command; `argv[0]` is looked up in the container's `PATH`.
    pub argv: Vec<String>,
    /// The command's environment, exactly (see [`RunSpec::new`] for defaults).
    pub env: Vec<(String, String)>,
    /// Start as this uid:gid with no supplementary groups instead of root.
    pub as_user: Option<(u32, u32)>,
    /// Serve scratch through the root-squashing FUSE (default) or bind it.
    pub squash: bool,
    /// Install the pod-init under test at `POD_INIT_PATH` with this mode.
    pub pod_init_mode: Option<u32>,
    /// Other host files to install: (host file, container path, mode).
    pub install: Vec<(PathBuf, String, u32)>,
    /// Kill the container and fail after this long.
    pub timeout: Duration,
    /// Give PID 1 a terminal (see [`RunSpec::tty`]).
    pub tty: bool,
    /// Limit PID 1 to a runtime's capabilities (see [`RunSpec::runtime_caps`]).
    pub runtime_caps: bool,
}

impl RunSpec {
    /// `argv` as root, squashed scratch, environment `PATH` and `HOSTNAME`.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            env: vec![("PATH".into(), CONTAINER_PATH.into()), ("HOSTNAME".into(), "ctr".into())],
            as_user: None,
            squash: true,
            pod_init_mode: None,
            install: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tty: false,
            runtime_caps: false,
        }
    }

    /// `/bin/sh -c script`.
    pub fn sh(script: impl Into<String>) -> Self {
        Self::new(["/bin/sh".to_string(), "-c".to_string(), script.into()])
    }

    /// pod-init as PID 1 (installed root-owned, mode `POD_INIT_MODE` = 4755,
    /// as in the image) running `command`.
    pub fn pod_init<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv = std::iter::once(common::image::POD_INIT_PATH.to_string()).chain(command.into_iter().map(Into::into));
        let mut spec = Self::new(argv);
        spec.pod_init_mode = Some(common::image::POD_INIT_MODE);
        spec
    }

    /// Set (or replace) one variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Set several variables.
    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        vars.into_iter().fold(self, |spec, (k, v)| spec.env(k, v))
    }

    /// Start PID 1 as `uid:gid`, no supplementary groups (as Kubernetes'
    /// `runAsUser`/`runAsGroup` do).
    pub fn as_user(mut self, uid: u32, gid: u32) -> Self {
        self.as_user = Some((uid, gid));
        self
    }

    /// Bind-mount scratch instead of squashing root on it.
    pub fn bind_scratch(mut self) -> Self {
        self.squash = false;
        self
    }

    /// Install pod-init with `mode` (0o755 or 0o4755).
    pub fn pod_init_mode(mut self, mode: u32) -> Self {
        self.pod_init_mode = Some(mode);
        self
    }

    /// Copy a host file into the container (owner root).
    pub fn install(mut self, host: impl Into<PathBuf>, path: impl Into<String>, mode: u32) -> Self {
        self.install.push((host.into(), path.into(), mode));
        self
    }

    /// Run on a pseudo-terminal, as `docker run -t` / `kubectl exec -t`
    /// do: stdin, stdout and stderr are the terminal, PID 1 leads its own
    /// session with it as controlling terminal. [`Output::stdout`] is then
    /// everything written to the terminal (stdout and stderr, with the
    /// terminal's `\r\n`); [`Running::write_tty`] types into it (`"\x03"`
    /// is Ctrl-C: SIGINT to the foreground process group).
    pub fn tty(mut self) -> Self {
        self.tty = true;
        self
    }

    /// Limit the container's capability bounding set to what containerd
    /// and Docker grant by default ([`RUNTIME_CAP_BOUNDING_SET`]), so root
    /// (or setuid-root pod-init) can do what it can in a pod, and no more
    /// (no mount, no ptrace, no CAP_DAC_READ_SEARCH...). Without it, root in
    /// the container has every capability.
    pub fn runtime_caps(mut self) -> Self {
        self.runtime_caps = true;
        self
    }

    /// Change the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self, rootfs: &Path, state: &Path, scratch: &Path) -> Result<Command> {
        let mut cmd = Command::new(scripts_dir().join("ctr-run.sh"));
        cmd.arg("--rootfs").arg(rootfs);
        cmd.arg("--state").arg(state);
        cmd.arg("--scratch").arg(scratch);
        if self.squash {
            cmd.arg("--squash");
        }
        if self.tty {
            cmd.arg("--tty");
        }
        if self.runtime_caps {
            cmd.arg("--runtime-caps");
        }
        if let Some((uid, gid)) = self.as_user {
            cmd.arg("--user").arg(format!("{uid}:{gid}"));
        }
        let pod_init =
            self.pod_init_mode.map(|mode| (binaries::pod_init(), common::image::POD_INIT_PATH.to_string(), mode));
        for (host, path, mode) in self.install.iter().cloned().chain(pod_init) {
            if !host.is_file() {
                return Err(Error(format!("sandbox: {} to install is not a file", host.display())));
            }
            cmd.arg("--install").arg(host).arg(path).arg(format!("{mode:o}"));
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(Error(format!("sandbox: environment variable {name:?}: not a valid name=value")));
            }
            cmd.arg("--env").arg(format!("{name}={value}"));
        }
        cmd.arg("--").args(&self.argv);
        Ok(cmd)
    }
}

/// What a container did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code of PID 1; 128+N if it was killed by signal N.
    pub status: i32,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr. (A failure of the harness itself is an [`Error`] of the
    /// run, never an `Output`.)
    pub stderr: String,
}

impl Output {
    /// Assert exit code 0, showing both streams otherwise.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_status(0)
    }

    /// Assert a given exit code, showing both streams otherwise.
    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Self {
        assert!(
            self.status == code,
            "container exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Assert that stderr (pod-init's log) contains `text`, showing it
    /// otherwise.
    #[track_caller]
    pub fn assert_logged(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "log lacks {text:?}:\n{}", self.stderr);
        self
    }
}

/// A per-test sandbox: its own upper layer and scratch over the shared rootfs.
#[derive(Debug)]
pub struct Sandbox {
    rootfs: PathBuf,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Sandbox {
    /// A fresh sandbox: empty upper layer, scratch laid out like RCP.
    pub fn new() -> Result<Self> {
        let rootfs = rootfs()?;
        let dir = run_dir("sb-")?;
        // 0700 is fine: the FUSE daemon resolves scratch paths from a
        // descriptor of the backing directory, as NFS does from its export.
        let path = dir.path().to_path_buf();
        let sb = Self { rootfs, dir: Some(dir), path };
        sb.lay_out_scratch()?;
        Ok(sb)
    }

    fn lay_out_scratch(&self) -> Result<()> {
        let scratch = self.scratch_root();
        let homes = scratch.join("homes");
        fs::create_dir_all(&homes).map_err(io_err("cannot create", &homes))?;
        for (dir, mode) in [(&scratch, 0o775), (&homes, 0o770)] {
            chown(dir.as_path(), Some(SEED_UID.into()), Some(LAB_GID.into()))
                .map_err(|e| Error(format!("sandbox: cannot chown {}: {e}", dir.display())))?;
            set_mode(dir, mode)?;
        }
        Ok(())
    }

    /// The read-only lower layer.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// This sandbox's directory (upper/, work/, scratch/, logs).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The overlay's upper layer: what the containers changed in the rootfs.
    pub fn upper(&self) -> PathBuf {
        self.path.join("state").join("upper")
    }

    /// The host directory behind [`SCRATCH_MOUNT`].
    pub fn scratch_root(&self) -> PathBuf {
        self.path.join("scratch")
    }

    /// The host path of a scratch path, given as `/scratch/homes/ada` or
    /// `homes/ada`.
    pub fn scratch_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        let rel = path.strip_prefix(SCRATCH_MOUNT).or_else(|_| path.strip_prefix("/")).unwrap_or(path);
        self.scratch_root().join(rel)
    }

    /// The host path holding the container file `path` as the merged view
    /// shows it: the upper layer's copy if any, else the rootfs's. `None` if
    /// it does not exist (or a container deleted it: an overlay whiteout).
    pub fn host_path(&self, path: impl AsRef<Path>) -> Option<PathBuf> {
        let rel = path.as_ref().strip_prefix("/").unwrap_or(path.as_ref());
        let upper = self.upper().join(rel);
        if let Ok(meta) = fs::symlink_metadata(&upper) {
            // A whiteout is a 0:0 character device.
            let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
            return (!whiteout).then_some(upper);
        }
        let lower = self.rootfs.join(rel);
        fs::symlink_metadata(&lower).is_ok().then_some(lower)
    }

    /// Read a file of the container's filesystem from the host (merged view).
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<Vec<u8>> {
        let path = path.as_ref();
        let host = self
            .host_path(path)
            .ok_or_else(|| Error(format!("sandbox: {} does not exist in the container", path.display())))?;
        fs::read(&host).map_err(io_err("cannot read", &host))
    }

    /// Read `/etc/<name>` of the container from the host (merged view).
    pub fn read_etc(&self, name: &str) -> Result<String> {
        let bytes = self.read_file(Path::new("/etc").join(name))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Start a container; see [`Running`].
    pub fn spawn(&self, spec: &RunSpec) -> Result<Running> {
        Running::start(spec, &self.rootfs, &self.path)
    }

    /// Every path under the scratch backing directory with its owner and
    /// mode, sorted by path, one per line as `uid:gid mode path` (mode in octal,
    /// path relative to [`SCRATCH_MOUNT`]): compare two of them to see what a
    /// run created or changed on scratch (chowns included, which real NFS
    /// would refuse to root).
    pub fn scratch_listing(&self) -> Result<Vec<String>> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
            let entries = fs::read_dir(dir).map_err(io_err("cannot list", dir))?;
            for entry in entries {
                let path = entry.map_err(io_err("cannot list", dir))?.path();
                let meta = fs::symlink_metadata(&path).map_err(io_err("cannot stat", &path))?;
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                let line = format!("{}:{} {:o} {}", meta.uid(), meta.gid(), meta.mode() & 0o7777, rel.display());
                out.push((rel, line));
                if meta.is_dir() {
                    walk(root, &path, out)?;
                }
            }
            Ok(())
        }
        let root = self.scratch_root();
        let mut out = Vec::new();
        walk(&root, &root, &mut out)?;
        out.sort();
        Ok(out.into_iter().map(|(_, line)| line).collect())
    }

    /// Run a container to its end.
    pub fn run(&self, spec: &RunSpec) -> Result<Output> {
        self.spawn(spec)?.wait()
    }

    /// Run a check command as PID 1 of a NEW container over this sandbox's
    /// upper layer and scratch: root, default environment, scratch bound
    /// (not squashed), so it sees everything.
    pub fn exec<I, S>(&self, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.run(&RunSpec::new(argv).bind_scratch())
    }

    /// [`Sandbox::exec`] of `/bin/sh -c script`.
    pub fn sh(&self, script: &str) -> Result<Output> {
        self.run(&RunSpec::sh(script).bind_scratch())
    }

    /// Prove that root is squashed on scratch: root (all capabilities) must
    /// get EACCES creating a directory in the seed's 0770 `/scratch/homes`.
    pub fn prove_root_squash(&self) -> Result<()> {
        let probe = format!("{SCRATCH_MOUNT}/homes/.nb-squash-probe");
        let out = self.run(&RunSpec::sh(format!("mkdir {probe}")))?;
        let refused = out.status != 0 && out.stderr.contains("Permission denied");
        if refused && !self.scratch_path(&probe).exists() {
            Ok(())
        } else {
            Err(Error(format!(
                "sandbox: root is not squashed on {SCRATCH_MOUNT}: `mkdir {probe}` as root exited {} \
                 (stderr: {})",
                out.status,
                out.stderr.trim()
            )))
        }
    }

    /// Keep this sandbox's directory after the test (for debugging).
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _kept = dir.keep();
        }
        self.path.clone()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::env::var_os("NB_SANDBOX_KEEP").is_some() {
            self.keep();
        }
    }
}

/// Where the per-test directories go: `NB_SANDBOX_RUNS`, else
/// `<target>/sandbox/runs`, unless the target directory is itself on
/// overlayfs (tests run inside a container), which overlayfs refuses as an
/// upper layer: then a tmpfs, `/dev/shm/nb-sandbox-runs`.
pub fn runs_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("NB_SANDBOX_RUNS") {
        return Ok(PathBuf::from(dir));
    }
    let base = sandbox_dir();
    fs::create_dir_all(&base).map_err(io_err("cannot create", &base))?;
    let on_overlay =
        nix::sys::statfs::statfs(&base).is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC);
    Ok(if on_overlay { PathBuf::from("/dev/shm/nb-sandbox-runs") } else { base.join("runs") })
}

/// A new directory for one sandbox or run under [`runs_dir`], removed when
/// dropped.
fn run_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let runs = runs_dir()?;
    fs::create_dir_all(&runs).map_err(io_err("cannot create", &runs))?;
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_stale_runs(&runs));
    tempfile::Builder::new().prefix(prefix).tempdir_in(&runs).map_err(io_err("cannot create a directory in", &runs))
}

/// Remove what killed test processes left in `runs` (their directories
/// are normally removed on drop). A day old is far beyond any run.
fn sweep_stale_runs(runs: &Path) {
    const STALE: Duration = Duration::from_secs(24 * 3600);
    let Ok(entries) = fs::read_dir(runs) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name.to_string_lossy().starts_with("sb-") || name.to_string_lossy().starts_with("bb-");
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if ours && old {
            let _best_effort = fs::remove_dir_all(entry.path());
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("cannot chmod", path))
}

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
    fn start(spec: &RunSpec, rootfs: &Path, dir: &Path) -> Result<Self> {
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

/// Children of a host process (from `/proc/PID/task/*/children`).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            out.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

fn cmdline(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

fn pid_ns(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

fn exe(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// A root filesystem with only a static busybox (no libc, no loader).
#[derive(Debug)]
pub struct BusyboxRoot {
    root: PathBuf,
}

impl BusyboxRoot {
    /// Build (once, under an flock, by `mkbbroot.sh`) and return it.
    pub fn new() -> Result<Self> {
        require_root()?;
        let root = sandbox_dir().join("bbroot");
        run_script("mkbbroot.sh", &[&root])?;
        Ok(Self { root })
    }

    /// The tree.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Run `binary` (a host file, copied to `/under-test/<its name>`) as PID 1 with
    /// `args`, as root, with a fresh upper layer and an empty scratch.
    pub fn run(&self, binary: &Path, args: &[&str]) -> Result<Output> {
        let dir = run_dir("bb-")?;
        let scratch = dir.path().join("scratch");
        fs::create_dir_all(&scratch).map_err(io_err("cannot create", &scratch))?;
        // Under its own file name: a multi-call binary (busybox) looks at
        // argv[0] to pick what to be.
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let target = format!("/under-test/{name}");
        let argv = std::iter::once(target.as_str()).chain(args.iter().copied());
        let spec = RunSpec::new(argv).env("PATH", "/bin:/sbin").bind_scratch().install(binary, target.as_str(), 0o755);
        Running::start(&spec, &self.root, dir.path())?.wait()
    }
}
