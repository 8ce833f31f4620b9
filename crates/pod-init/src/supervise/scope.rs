//! Which processes are PID 1's to reap and to terminate: the whole PID
//! namespace when pod-init is PID 1, only its own descendants otherwise.
//!
//! Not being PID 1 happens with a shared process namespace (the pod's pause
//! container is PID 1), `docker --init`, or a user running pod-init by hand.
//! There, orphans would be reparented past pod-init, so it registers as a
//! child subreaper (as catatonit does) to receive them. And where PID 1 may
//! `kill(-1)` (every process of its namespace), a subreaper must not: that
//! would signal everything the user owns outside the job.

use std::collections::{BTreeMap, BTreeSet};

use nix::errno::Errno;
use nix::sys::prctl;

/// Where the supervisor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// PID 1 of the namespace: every process in it is ours, and the kernel
    /// kills whatever is left when we exit.
    Namespace,
    /// A child subreaper: our descendants are ours, nothing else.
    Descendants,
}

impl Scope {
    /// Decides the scope for this process and, when not PID 1, registers as
    /// a child subreaper. A failed registration is logged, not fatal: the
    /// command still runs, only orphans escape to the real PID 1.
    pub fn establish() -> Scope {
        if std::process::id() == 1 {
            return Scope::Namespace;
        }
        // PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented to us
        // instead of the namespace's init, so we can reap them.
        if let Err(e) = prctl::set_child_subreaper(true) {
            tracing::warn!("cannot become a child subreaper ({e}): orphans of the command will not be reaped here");
        }
        Scope::Descendants
    }

    /// Sends `signo` to every process in scope (except ourselves). The
    /// caller learns what is left by reaping, not from here.
    pub fn signal_all(self, signo: i32) {
        match self {
            Scope::Namespace => {
                // SAFETY: kill has no memory-safety preconditions. pid -1
                // from PID 1 reaches every process of the namespace except
                // PID 1 itself (kill(2)).
                if unsafe { libc::kill(-1, signo) } != 0 {
                    let errno = Errno::last();
                    if errno != Errno::ESRCH {
                        tracing::warn!("kill(-1, {signo}): {errno}");
                    }
                }
            }
            Scope::Descendants => {
                for pid in descendants(std::process::id() as i32) {
                    // SAFETY: as above; pid is a positive process id. One
                    // that exited meanwhile (ESRCH) needs nothing.
                    unsafe { libc::kill(pid, signo) };
                }
            }
        }
    }

    /// Sends `signo` to every process in scope whose process group is not
    /// `pgrp`: after a stop that reached the command's group, the processes
    /// that left it (a `setsid` daemon) are the ones not told yet.
    pub fn signal_outside_group(self, pgrp: i32, signo: i32) {
        let table = table();
        let me = std::process::id() as i32;
        let in_scope: BTreeSet<i32> = match self {
            Scope::Namespace => table.iter().map(|e| e.pid).filter(|&pid| pid != me).collect(),
            Scope::Descendants => {
                let parents: Vec<(i32, i32)> = table.iter().map(|e| (e.pid, e.ppid)).collect();
                descendants_in(me, &parents).into_iter().collect()
            }
        };
        for entry in table.iter().filter(|e| e.pgrp != pgrp && in_scope.contains(&e.pid)) {
            // SAFETY: kill has no memory-safety preconditions; the pid is
            // positive. One that exited meanwhile (ESRCH) needs nothing.
            unsafe { libc::kill(entry.pid, signo) };
        }
    }

    /// Whether `sender` (a signal's `si_pid`) is outside the job: the
    /// kernel or a process outside the PID namespace (0), or, when
    /// pod-init is not PID 1, a process that is not one of its descendants.
    pub fn is_outside(self, sender: i32) -> bool {
        sender == 0
            || match self {
                Scope::Namespace => false,
                Scope::Descendants => !descendants(std::process::id() as i32).contains(&sender),
            }
    }
}

/// One line of the process table: a pid, its parent and its process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    pid: i32,
    ppid: i32,
    pgrp: i32,
}

/// Every process this /proc shows. A process forked while we read may be
/// missed; callers that must not miss one repeat the call.
fn table() -> Vec<Entry> {
    let entries = match std::fs::read_dir("/proc") {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!("cannot list /proc to find the command's leftover processes: {e}");
            return Vec::new();
        }
    };
    let mut table = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        // A process may exit between readdir and read: skip it silently.
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
            let pgrp = crate::sys::stat_field(&stat, 5).and_then(|f| f.parse().ok());
            if let (Some(ppid), Some(pgrp)) = (parent_from_stat(&stat), pgrp) {
                table.push(Entry { pid, ppid, pgrp });
            }
        }
    }
    table
}

/// The live descendants of `root`, read from /proc. A process forked while
/// we read may be missed; the caller repeats the call before SIGKILL.
pub fn descendants(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = table().iter().map(|e| (e.pid, e.ppid)).collect();
    descendants_in(root, &parents)
}

/// The parent pid (field 4) from the text of /proc/<pid>/stat.
pub fn parent_from_stat(stat: &str) -> Option<i32> {
    crate::sys::stat_field(stat, 4)?.parse().ok()
}

/// The transitive children of `root` in a `(pid, ppid)` table, sorted.
fn descendants_in(root: i32, table: &[(i32, i32)]) -> Vec<i32> {
    // BTreeMap, not HashMap: a HashMap seeds itself from the kernel's
    // randomness and std panics if none can be had (getrandom blocked by a
    // seccomp profile and no /dev/urandom); PID 1 must not.
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for &(pid, ppid) in table {
        children.entry(ppid).or_default().push(pid);
    }
    let mut found = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(parent) = todo.pop() {
        for &child in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            // `insert` is false for a pid already seen: a cycle cannot occur
            // in a real table, but a torn read must not loop forever.
            if child != root && found.insert(child) {
                todo.push(child);
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_is_read_after_a_name_with_spaces_and_parens() {
        assert_eq!(parent_from_stat("42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_from_stat("42 (a) b (c) R 9 42 42 0 -1"), Some(9));
        assert_eq!(parent_from_stat("garbage"), None);
    }

    #[test]
    fn descendants_are_transitive_and_exclude_others() {
        // 10 is us; 11 and 12 are children, 13 a grandchild via 12,
        // 20 belongs to someone else.
        let table = [(11, 10), (12, 10), (13, 12), (20, 1), (21, 20)];
        assert_eq!(descendants_in(10, &table), vec![11, 12, 13]);
        assert_eq!(descendants_in(99, &table), Vec::<i32>::new());
    }

    #[test]
    fn a_torn_table_with_a_cycle_terminates() {
        let table = [(11, 10), (12, 11), (11, 12)];
        assert_eq!(descendants_in(10, &table), vec![11, 12]);
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "descendants are looked up for a real child")]
    fn own_children_are_found_in_the_real_proc() {
        let mut child = match std::process::Command::new("sleep").arg("5").spawn() {
            Ok(child) => child,
            Err(e) => panic!("cannot run sleep: {e}"),
        };
        let found = descendants(std::process::id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&(child.id() as i32)), "{found:?} lacks {}", child.id());
    }
}
