//! [`Sandbox`]: one test's upper layer and scratch over the shared rootfs,
//! and the host-side views of them.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::unistd::chown;

use super::error::{Error, Result, io_err};
use super::output::Output;
use super::requests::ScratchRequests;
use super::rootfs::rootfs;
use super::running::Running;
use super::runs::{run_dir, set_mode};
use super::spec::RunSpec;
use super::{LAB_GID, SCRATCH_MOUNT, SEED_UID};

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
        lay_out_scratch(&sb.scratch_root())?;
        Ok(sb)
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

    /// Discards the container's writable layer (the overlay's upper and
    /// work directories, which the next run recreates) and keeps scratch:
    /// the next container is a new pod of the same researcher, the image's
    /// /etc over the scratch earlier pods filled.
    pub fn fresh_container_layer(&self) -> Result<()> {
        let state = self.path.join("state");
        match fs::remove_dir_all(&state) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("cannot remove", &state)(e)),
            _ => Ok(()),
        }
    }

    /// The scratch requests of the last run of this sandbox started with
    /// [`RunSpec::count_scratch_requests`] (squashed scratch).
    pub fn scratch_requests(&self) -> Result<ScratchRequests> {
        ScratchRequests::read(&self.path.join("state"))
    }

    /// How long PID 1 of the last run lived, from its exec to its reaping,
    /// as the harness clocked it (`STATE/pid1.life`).
    pub fn pid1_life(&self) -> Result<std::time::Duration> {
        let path = self.path.join("state").join("pid1.life");
        let text = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let ms: f64 = text
            .trim()
            .parse()
            .map_err(|e| Error(format!("sandbox: {}: not a number of ms ({e}): {text:?}", path.display())))?;
        Ok(std::time::Duration::from_secs_f64(ms / 1000.0))
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

/// Lays out `root` as the RCP scratch root is: owned by the seed
/// ([`SEED_UID`]:[`LAB_GID`], 0775), with `homes` seed:lab 0770.
pub fn lay_out_scratch(root: &Path) -> Result<()> {
    let homes = root.join("homes");
    fs::create_dir_all(&homes).map_err(io_err("cannot create", &homes))?;
    for (dir, mode) in [(root, 0o775), (homes.as_path(), 0o770)] {
        chown(dir, Some(SEED_UID.into()), Some(LAB_GID.into()))
            .map_err(|e| Error(format!("sandbox: cannot chown {}: {e}", dir.display())))?;
        set_mode(dir, mode)?;
    }
    Ok(())
}
