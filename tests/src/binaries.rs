//! Locating the binaries under test.
//!
//! `cargo xtask test` builds them and passes their paths in `NB_SUBMIT_BIN`
//! and `NB_POD_INIT_BIN`. Without those, the musl release build in the target
//! directory is used. A missing binary fails the test with the command that
//! builds it: a test that cannot run must not look like a pass.

use std::path::{Path, PathBuf};

/// The static target every shipped binary is built for.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// The workspace root (this package lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory in use: `CARGO_TARGET_DIR` (relative to the
/// workspace root if relative, as xtask reads it: a test runs in its
/// package's directory, not where cargo was started), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    workspace_root().join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
}

fn locate(env_var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join(MUSL_TARGET).join("release").join(name));
    assert!(
        path.is_file(),
        "{name} not found at {}: build it first: cargo xtask dist (or run cargo xtask test)",
        path.display()
    );
    path
}

/// The `submit` binary under test.
pub fn submit() -> PathBuf {
    locate("NB_SUBMIT_BIN", "submit")
}

/// The `pod-init` binary under test.
pub fn pod_init() -> PathBuf {
    locate("NB_POD_INIT_BIN", "pod-init")
}
