//! Where the per-test directories live, and the sweep of those a killed
//! test left behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Result, io_err};
use super::rootfs::sandbox_dir;

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
pub(crate) fn run_dir(prefix: &str) -> Result<tempfile::TempDir> {
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
        let ours = ["sb-", "bb-", "dk-"].iter().any(|prefix| name.to_string_lossy().starts_with(prefix));
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if ours && old {
            let _best_effort = fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("cannot chmod", path))
}
