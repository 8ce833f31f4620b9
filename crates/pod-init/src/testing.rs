//! Support for the unit tests.

use std::io::Write as _;

/// Whether the calling test can run: it needs root (to chown to other users,
/// or to change its ids). As root (CI, `cargo xtask test`) it always runs;
/// otherwise it says on stderr that it is skipped and why. The line goes to
/// the real stderr, past the test harness's capture, so a skip is never
/// silent.
pub fn root_or_skip(why: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    skipped(&format!("needs root ({why}); `cargo xtask test` runs it as root"));
    false
}

/// Says on the real stderr that the calling test is skipped, and why.
fn skipped(why: &str) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "skipped {name}: {why}");
}

/// The other way round: whether the calling test can run as a user without
/// root, which `cargo xtask test` runs the unit tests as too (as nobody).
/// As root it says on stderr that it is skipped here.
pub fn non_root_or_skip(why: &str) -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        return true;
    }
    skipped(&format!("runs without root ({why}); the run as nobody runs it"));
    false
}
