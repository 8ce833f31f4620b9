//! Where things are: the workspace root and the cargo target directory.
//!
//! The root comes from xtask's own manifest directory (cargo-xtask style), so
//! tasks work from any current directory.
//!
//! `nb_tests::binaries` has the same two lookups, but xtask depends on
//! nb-tests on Linux only (its sandbox needs Linux namespaces) while `dist`
//! and `image` build wherever cargo does; so these stay here.

use std::path::{Path, PathBuf};

/// The musl target every shipped binary is built for: static, so pod-init
/// runs in any image whatever its libc, and submit on any Linux laptop.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory: `CARGO_TARGET_DIR` (relative to the root if
/// relative, as cargo reads it when run from the root), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Where cargo puts the release builds for [`MUSL_TARGET`].
pub fn musl_release_dir() -> PathBuf {
    target_dir().join(MUSL_TARGET).join("release")
}
