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
//! - [`RunSpec::count_scratch_requests`] has the squash FUSE count the
//!   requests it serves; [`Sandbox::scratch_requests`] reads them after the
//!   run (with the FUSE caches off, each is an NFS round trip at worst).
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

mod busybox;
mod error;
mod instance;
mod output;
mod procfs;
mod requests;
mod rootfs;
mod running;
mod runs;
mod spec;

use std::time::Duration;

pub use busybox::BusyboxRoot;
pub use error::{Error, Result};
pub use instance::{Sandbox, lay_out_scratch};
pub use output::Output;
pub use procfs::children;
pub use requests::ScratchRequests;
pub use rootfs::{require_root, rootfs, sandbox_dir, scripts_dir};
pub use running::Running;
pub(crate) use runs::run_dir;
pub use runs::runs_dir;
pub use spec::RunSpec;

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
