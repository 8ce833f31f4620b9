//! Erasing secrets from PID 1's own environment: the copy pod-init parsed
//! ([`wipe_parsed_environ`]) and the initial block the kernel shows
//! ([`scrub_own_environ`]).
//!
//! `/proc/<pid>/environ` is not a view of `std::env`: the kernel reads the
//! bytes between the `env_start` and `env_end` addresses of the process,
//! the block on its stack where execve copied the environment. `unsetenv`
//! only unlinks a pointer from `environ` and leaves those bytes in place,
//! so the private key stays readable for the life of PID 1 by anyone
//! allowed to read its environ (root in the pod, and the researcher through
//! sudo).
//!
//! Two ways out: re-exec pod-init with a clean environment, or overwrite
//! the bytes in place. Re-exec would need the binary again after the
//! bootstrap (a second start, a second classification, and a setuid start
//! would see itself as root already), so this overwrites: every byte of
//! each `NAME=value` entry becomes NUL. The entry then reads as empty, in
//! `/proc/1/environ` and for libc's `getenv` alike (its `environ` pointer
//! now points at an empty string), and the block keeps its length, so no
//! other pointer into it moves.
//!
//! # What this still stops
//!
//! Not the researcher: the key is theirs, in `~/.ssh`, and they have
//! passwordless sudo. Not root on the node either: the runtime keeps the
//! container's environment in its own state. What it stops:
//!
//! - the job's own code when pod-init started without root
//!   (allowPrivilegeEscalation: false, no setuid bit), should PID 1 still
//!   be dumpable (see `privilege::keep_memory_private`): PID 1 then runs as
//!   the user, no bootstrap wrote the key anywhere, the variable is kept
//!   out of the command's environment, and without this it would be one
//!   `cat /proc/1/environ` away from whatever the job runs (a package, a
//!   notebook extension);
//! - everything that reads other processes' environments for the life of
//!   the job (days): `ps e`, diagnostic dumps, monitoring or security agents
//!   on the node that collect `/proc/<pid>/environ`.

use std::ffi::OsString;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStringExt;

use zeroize::Zeroize;

/// Zeroes, then drops, pod-init's parsed copy of its environment (names and
/// values, every one: PID 1 needs none of them once the command's
/// environment is built, and which of them are secrets is the pod's
/// business). Dropping alone would leave the bytes in freed memory, where
/// whoever can read PID 1's memory finds them for the life of the job.
pub fn wipe_parsed_environ(vars: &mut Vec<(OsString, OsString)>) {
    for (name, value) in vars.drain(..) {
        // into_vec takes the buffer as it is, without a copy.
        name.into_vec().zeroize();
        value.into_vec().zeroize();
    }
}

/// Overwrites, in this process's initial environment block, every entry
/// whose name is in `names`. Returns how many entries were erased.
///
/// Call once the bootstrap has read what it needs: afterwards the values
/// are gone from this process's environment too.
pub fn scrub_own_environ(names: &[&str]) -> io::Result<usize> {
    if names.is_empty() {
        return Ok(0);
    }
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let (start, end) = env_bounds(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no environment bounds in /proc/self/stat"))?;
    // SAFETY: [start, end) is this process's initial environment block as
    // the kernel reports it: mapped, readable and writable for the whole
    // life of the process (it lies in the main thread's stack area, and
    // pod-init never moves it with PR_SET_MM). The shared view is used
    // only to find the ranges and is dead before the writes below.
    let block = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    let ranges = entries_named(block, names);
    for range in &ranges {
        for offset in range.clone() {
            // SAFETY: offset < end - start, inside the block (see above).
            // Volatile so the compiler cannot drop stores that no Rust code
            // reads back; the kernel and libc do.
            unsafe { std::ptr::write_volatile((start + offset) as *mut u8, 0) };
        }
    }
    Ok(ranges.len())
}

/// `env_start` and `env_end` (fields 50 and 51 of /proc/<pid>/stat, Linux
/// 3.5+).
fn env_bounds(stat: &str) -> Option<(usize, usize)> {
    let start: usize = crate::sys::stat_field(stat, 50)?.parse().ok()?;
    let end: usize = crate::sys::stat_field(stat, 51)?.parse().ok()?;
    // The kernel prints 0s when it withholds the addresses; an inverted or
    // huge range would be a bug, not an environment. ARG_MAX on Linux is a
    // quarter of the stack limit; 64 MiB is far above any real block.
    (start != 0 && start < end && end - start <= 64 << 20).then_some((start, end))
}

/// The byte ranges (without their terminating NUL) of the `NAME=...`
/// entries of a NUL-separated block whose NAME is in `names`.
fn entries_named(block: &[u8], names: &[&str]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for entry in block.split(|&b| b == 0) {
        let matches = names
            .iter()
            .any(|name| entry.strip_prefix(name.as_bytes()).is_some_and(|rest| rest.first() == Some(&b'=')));
        if matches {
            ranges.push(offset..offset + entry.len());
        }
        offset += entry.len() + 1;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_names_match() {
        let block = b"PATH=/bin\0SSH_PRIVATE_KEY_B64=c2VjcmV0\0SSH_PRIVATE_KEY_B64_X=kept\0X=SSH_PRIVATE_KEY_B64=no\0";
        let ranges = entries_named(block, &["SSH_PRIVATE_KEY_B64"]);
        assert_eq!(ranges, vec![10..38]);
        assert_eq!(&block[10..38], b"SSH_PRIVATE_KEY_B64=c2VjcmV0");
    }

    #[test]
    fn bounds_are_read_after_the_command_name() {
        // 52 fields; the name contains ") " to trip naive parsers.
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[50 - 3] = "1000".into();
        fields[51 - 3] = "1100".into();
        let stat = format!("7 (a) b) {}", fields.join(" "));
        assert_eq!(env_bounds(&stat), Some((1000, 1100)));
        fields[50 - 3] = "0".into();
        fields[51 - 3] = "0".into();
        assert_eq!(env_bounds(&format!("7 (x) {}", fields.join(" "))), None);
    }

    const CHILD_MARK: &str = "POD_INIT_SCRUB_TEST_CHILD";
    const SECRET: &str = "LS0tLS1CRUdJTi1zY3J1Yi10ZXN0";

    /// The real thing needs a process whose initial environment holds the
    /// key, so the test re-runs itself (this one test) with one.
    #[test]
    #[allow(clippy::disallowed_methods, reason = "the erased environment is read from a real child's /proc")]
    fn the_key_is_erased_from_the_real_proc_environ() {
        if std::env::var_os(CHILD_MARK).is_some() {
            let before = std::fs::read("/proc/self/environ").unwrap_or_default();
            assert!(
                before.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the key is not in the test's environ"
            );
            assert_eq!(scrub_own_environ(&["SSH_PRIVATE_KEY_B64"]).ok(), Some(1));
            let after = std::fs::read("/proc/self/environ").unwrap_or_default();
            assert_eq!(after.len(), before.len(), "the block must keep its length");
            assert!(
                !after.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the key is still in /proc/self/environ"
            );
            assert!(!after.windows(19).any(|w| w == b"SSH_PRIVATE_KEY_B64"), "the name is still there");
            assert!(after.windows(CHILD_MARK.len()).any(|w| w == CHILD_MARK.as_bytes()), "other entries must survive");
            assert_eq!(std::env::var_os("SSH_PRIVATE_KEY_B64"), None);
            return;
        }
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
        let name = "privilege::scrub::tests::the_key_is_erased_from_the_real_proc_environ";
        let output = std::process::Command::new(exe)
            .args([name, "--exact", "--test-threads=1"])
            .env(CHILD_MARK, "1")
            .env("SSH_PRIVATE_KEY_B64", SECRET)
            .output()
            .unwrap_or_else(|e| panic!("re-running the test binary: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "child run failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
