//! [`SquashedScratch`]: a root-squashed scratch on the host, for
//! `docker run -v`: the sandbox's FUSE passthrough (`rootsquash.py`)
//! mounted in the host's mount namespace, where dockerd can bind it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, umount2};

use crate::sandbox::{Error, Result, lay_out_scratch, require_root, run_dir, scripts_dir};

/// Where scratch is mounted in the image's containers (as on RCP).
pub const SCRATCH: &str = "/mloscratch";

/// A scratch backing directory laid out like RCP's, served root-squashed at
/// [`SquashedScratch::mountpoint`]; unmounted when dropped.
#[derive(Debug)]
pub struct SquashedScratch {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl SquashedScratch {
    pub fn new() -> Result<Self> {
        require_root()?;
        let dir = run_dir("dk-")?;
        let (backing, mountpoint, ready) =
            (dir.path().join("backing"), dir.path().join("mnt"), dir.path().join("rootsquash.ready"));
        lay_out_scratch(&backing)?;
        fs::create_dir_all(&mountpoint)
            .map_err(|e| Error::new(format!("docker: cannot create {}: {e}", mountpoint.display())))?;
        let log = fs::File::create(dir.path().join("rootsquash.log"))
            .map_err(|e| Error::new(format!("docker: rootsquash log: {e}")))?;
        let daemon = Command::new("/usr/bin/python3")
            .arg(scripts_dir().join("rootsquash.py"))
            .arg(&backing)
            .arg(&mountpoint)
            .arg("--ready")
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| Error::new(format!("docker: cannot start rootsquash.py: {e}")))?;
        let mut scratch = Self { dir, daemon };
        let until = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            if Instant::now() > until || matches!(scratch.daemon.try_wait(), Ok(Some(_))) {
                let log = fs::read_to_string(scratch.dir.path().join("rootsquash.log")).unwrap_or_default();
                return Err(Error::new(format!("docker: rootsquash.py did not mount: {}", log.trim())));
            }
            thread::sleep(Duration::from_millis(10));
        }
        Ok(scratch)
    }

    /// The squashed mount, to bind into a container at [`SCRATCH`].
    pub fn mountpoint(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// The host path behind a container path under [`SCRATCH`] (what an
    /// admin on the NFS server sees, unsquashed).
    pub fn backing(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        let rel = path.strip_prefix(SCRATCH).or_else(|_| path.strip_prefix("/")).unwrap_or(path);
        self.dir.path().join("backing").join(rel)
    }

    /// `-v` for `docker run`: the squashed mount at [`SCRATCH`].
    pub fn volume(&self) -> String {
        format!("{}:{SCRATCH}", self.mountpoint().display())
    }

    /// `-v` of the backing directory itself, not squashed: for measurements,
    /// where the Python passthrough's latency would hide what is measured.
    pub fn unsquashed_volume(&self) -> String {
        format!("{}:{SCRATCH}", self.dir.path().join("backing").display())
    }
}

impl Drop for SquashedScratch {
    fn drop(&mut self) {
        // Detached: a container that still holds it cannot keep the mount
        // (and the daemon) alive; the daemon exits once it is unmounted.
        let _not_mounted = umount2(&self.mountpoint(), MntFlags::MNT_DETACH);
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && matches!(self.daemon.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(10));
        }
        if matches!(self.daemon.try_wait(), Ok(None)) {
            let _exited_meanwhile = self.daemon.kill();
            let _status = self.daemon.wait();
        }
    }
}
