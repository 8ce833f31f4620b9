//! The root filesystems and the scripts that build them, and the root check
//! every entry point starts with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::error::{Error, Result, io_err};
use crate::binaries;

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

pub(super) fn run_script(script: &str, args: &[&Path]) -> Result<()> {
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

/// The Debian rootfs every [`Sandbox`](super::Sandbox) uses as its read-only lower layer.
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
