//! Who a process is, and the one way pod-init changes it.
//!
//! Every id change goes through here: the exec child switching to the
//! user, the bootstrap's children switching to the seed or the user, a
//! setuid start becoming root for the bootstrap or giving root up. The order
//! is always supplementary groups, then the three gids, then the three uids:
//! once the uid is not 0 the process may no longer change its groups or
//! gid, and a saved uid or gid of 0 left behind would let the command switch
//! back. Each drop ends with the check an attacker would make: neither uid 0
//! nor gid 0 comes back.
//!
//! The system calls sit behind [`Syscall`], so a unit test can run the
//! sequence against a recording fake without root. The functions here do
//! not allocate and take no lock: the exec child calls them between fork and
//! exec, where only async-signal-safe calls are allowed.

/// The ids the command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, resolved from /etc/group before the fork
    /// (static musl has no NSS, so `initgroups` is not an option).
    pub groups: Vec<u32>,
}

/// Most supplementary groups (Linux `NGROUPS_MAX`).
const MAX_GROUPS: usize = 65536;

/// The id system calls pod-init makes. Errors are errno values. The real
/// implementation is [`Linux`]; tests record the calls instead.
pub trait Syscall {
    fn setgroups(&self, groups: &[u32]) -> Result<(), i32>;
    fn setresgid(&self, real: u32, effective: u32, saved: u32) -> Result<(), i32>;
    fn setresuid(&self, real: u32, effective: u32, saved: u32) -> Result<(), i32>;
    /// Real, effective and saved uid.
    fn getresuid(&self) -> Result<[u32; 3], i32>;
    /// Real, effective and saved gid.
    fn getresgid(&self) -> Result<[u32; 3], i32>;
}

/// The kernel's system calls, each a single async-signal-safe call.
pub struct Linux;

fn check(rc: libc::c_int) -> Result<(), i32> {
    // Reading errno allocates nothing: io::Error of an OS code is a plain value.
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) }
}

impl Syscall for Linux {
    fn setgroups(&self, groups: &[u32]) -> Result<(), i32> {
        // SAFETY: setgroups reads `len` gid_t values from a live slice.
        check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })
    }

    fn setresgid(&self, real: u32, effective: u32, saved: u32) -> Result<(), i32> {
        // SAFETY: a system call with integer arguments.
        check(unsafe { libc::setresgid(real, effective, saved) })
    }

    fn setresuid(&self, real: u32, effective: u32, saved: u32) -> Result<(), i32> {
        // SAFETY: a system call with integer arguments.
        check(unsafe { libc::setresuid(real, effective, saved) })
    }

    fn getresuid(&self) -> Result<[u32; 3], i32> {
        let mut ids = [0; 3];
        let [r, e, s] = &mut ids;
        // SAFETY: three pointers to live, writable u32s.
        check(unsafe { libc::getresuid(r, e, s) })?;
        Ok(ids)
    }

    fn getresgid(&self) -> Result<[u32; 3], i32> {
        let mut ids = [0; 3];
        let [r, e, s] = &mut ids;
        // SAFETY: three pointers to live, writable u32s.
        check(unsafe { libc::getresgid(r, e, s) })?;
        Ok(ids)
    }
}

/// Which step of a switch failed, with its errno (0 when the step was
/// refused by our own check rather than by the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchError {
    pub step: &'static str,
    pub errno: i32,
}

impl std::fmt::Display for SwitchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.errno {
            0 => write!(f, "{}: refused", self.step),
            errno => write!(f, "{}: {}", self.step, std::io::Error::from_raw_os_error(errno)),
        }
    }
}

fn step(step: &'static str) -> impl FnOnce(i32) -> SwitchError {
    move |errno| SwitchError { step, errno }
}

fn refused(step: &'static str) -> SwitchError {
    SwitchError { step, errno: 0 }
}

/// Switches this whole process to `id`: its groups, then all three gids,
/// then all three uids, then [`verify`].
pub fn switch(sys: &impl Syscall, id: &Identity) -> Result<(), SwitchError> {
    if id.groups.len() > MAX_GROUPS {
        return Err(refused("too many supplementary groups"));
    }
    // EPERM in a user namespace whose setgroups is "deny": the groups cannot
    // be changed, so they are not ours to give either. Refuse rather than
    // run with groups we did not choose.
    sys.setgroups(&id.groups).map_err(step("setgroups"))?;
    set_ids(sys, id.uid, id.gid)?;
    verify(sys, id.uid, id.gid)
}

/// Gives up the root of a setuid start for good: all three gids, then all
/// three uids, set to the real ones, then [`verify`]. The supplementary
/// groups stay: a setuid exec never changes them, so they are the user's.
pub fn drop_setuid(sys: &impl Syscall, uid: u32, gid: u32) -> Result<(), SwitchError> {
    set_ids(sys, uid, gid)?;
    verify(sys, uid, gid)
}

/// Makes a setuid start plain root (no supplementary groups, every id 0),
/// so the bootstrap and the tools it runs see what a root start sees.
/// Returns the errno of a refused `setgroups`: EPERM happens only in a user
/// namespace with setgroups denied, where the user's groups are all there
/// is, so the caller warns and goes on.
pub fn become_root(sys: &impl Syscall) -> Result<Option<i32>, SwitchError> {
    // First, while the effective uid 0 still carries CAP_SETGID.
    let groups = sys.setgroups(&[]).err();
    set_ids(sys, 0, 0)?;
    Ok(groups)
}

/// All three gids, then all three uids. Never the other way round: after
/// setresuid to a non-root uid the gids could no longer be changed.
fn set_ids(sys: &impl Syscall, uid: u32, gid: u32) -> Result<(), SwitchError> {
    sys.setresgid(gid, gid, gid).map_err(step("setresgid"))?;
    sys.setresuid(uid, uid, uid).map_err(step("setresuid"))
}

/// Proves a drop as an attacker would test it: every id is the target's,
/// and asking for uid 0 or gid 0 back fails (when the target is not 0).
fn verify(sys: &impl Syscall, uid: u32, gid: u32) -> Result<(), SwitchError> {
    let uids = sys.getresuid().map_err(step("getresuid"))?;
    let gids = sys.getresgid().map_err(step("getresgid"))?;
    if uids != [uid; 3] || gids != [gid; 3] {
        return Err(refused("ids differ from the target after the switch"));
    }
    if uid == 0 {
        return Ok(());
    }
    // Both expected to fail with EPERM; success means root is back.
    if sys.setresuid(0, 0, 0).is_ok() {
        return Err(refused("root could be regained after setresuid"));
    }
    if gid != 0 && sys.setresgid(0, 0, 0).is_ok() {
        return Err(refused("gid 0 could be regained after setresuid"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A fake kernel that records each call and applies the kernel's rule
    /// for unprivileged processes: without euid 0, ids can only be set to
    /// values the process already holds, and groups not at all.
    #[derive(Default)]
    struct Recording {
        calls: RefCell<Vec<String>>,
        ids: RefCell<([u32; 3], [u32; 3])>,
        /// A broken kernel that lets root come back.
        lets_root_back: bool,
        /// A user namespace whose setgroups is "deny": EPERM even for root.
        setgroups_denied: bool,
    }

    impl Recording {
        fn as_user(uid: u32, gid: u32) -> Self {
            Recording { ids: RefCell::new(([uid, 0, 0], [gid, gid, gid])), ..Default::default() }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.borrow().clone()
        }
        fn privileged(&self) -> bool {
            self.lets_root_back || self.ids.borrow().0[1] == 0
        }
        fn set(&self, which: usize, name: &str, new: [u32; 3]) -> Result<(), i32> {
            self.calls.borrow_mut().push(format!("{name}({}, {}, {})", new[0], new[1], new[2]));
            let privileged = self.privileged();
            let mut ids = self.ids.borrow_mut();
            let held = if which == 0 { ids.0 } else { ids.1 };
            if !privileged && !new.iter().all(|id| held.contains(id)) {
                return Err(libc::EPERM);
            }
            if which == 0 {
                ids.0 = new
            } else {
                ids.1 = new
            }
            Ok(())
        }
    }

    impl Syscall for Recording {
        fn setgroups(&self, groups: &[u32]) -> Result<(), i32> {
            self.calls.borrow_mut().push(format!("setgroups({groups:?})"));
            if self.privileged() && !self.setgroups_denied { Ok(()) } else { Err(libc::EPERM) }
        }
        fn setresgid(&self, r: u32, e: u32, s: u32) -> Result<(), i32> {
            self.set(1, "setresgid", [r, e, s])
        }
        fn setresuid(&self, r: u32, e: u32, s: u32) -> Result<(), i32> {
            self.set(0, "setresuid", [r, e, s])
        }
        fn getresuid(&self) -> Result<[u32; 3], i32> {
            Ok(self.ids.borrow().0)
        }
        fn getresgid(&self) -> Result<[u32; 3], i32> {
            Ok(self.ids.borrow().1)
        }
    }

    const ADA: Identity = Identity { uid: 4242, gid: 4343, groups: Vec::new() };

    #[test]
    fn groups_then_gids_then_uids_then_root_is_asked_back_and_refused() {
        let sys = Recording::as_user(0, 0);
        let ada = Identity { groups: vec![4343, 27], ..ADA };
        assert_eq!(switch(&sys, &ada), Ok(()));
        assert_eq!(
            sys.calls(),
            [
                "setgroups([4343, 27])",
                "setresgid(4343, 4343, 4343)",
                "setresuid(4242, 4242, 4242)",
                "setresuid(0, 0, 0)",
                "setresgid(0, 0, 0)"
            ]
        );
    }

    #[test]
    fn a_kernel_that_gives_root_back_fails_the_switch() {
        let sys = Recording { lets_root_back: true, ..Recording::as_user(0, 0) };
        assert_eq!(switch(&sys, &ADA), Err(refused("root could be regained after setresuid")));
    }

    #[test]
    fn a_refused_setgroups_stops_before_any_id_changes() {
        let sys = Recording::as_user(4242, 4343);
        sys.ids.borrow_mut().0 = [4242; 3];
        let err = switch(&sys, &ADA);
        assert_eq!(err, Err(SwitchError { step: "setgroups", errno: libc::EPERM }));
        assert_eq!(sys.calls(), ["setgroups([])"]);
        assert_eq!(err.map_err(|e| e.to_string()), Err(format!("setgroups: {}", std::io::Error::from_raw_os_error(1))));
    }

    #[test]
    fn a_setuid_start_drops_to_its_real_ids_keeping_its_groups() {
        // Real uid 4242, effective and saved 0: what the setuid bit gives.
        let sys = Recording::as_user(4242, 4343);
        assert_eq!(drop_setuid(&sys, 4242, 4343), Ok(()));
        assert_eq!(
            sys.calls(),
            ["setresgid(4343, 4343, 4343)", "setresuid(4242, 4242, 4242)", "setresuid(0, 0, 0)", "setresgid(0, 0, 0)"]
        );
        assert_eq!(sys.getresuid(), Ok([4242; 3]));
    }

    #[test]
    fn a_gid_of_0_is_kept_when_it_is_the_target() {
        let sys = Recording::as_user(4242, 0);
        assert_eq!(drop_setuid(&sys, 4242, 0), Ok(()));
        assert_eq!(sys.calls().last().map(String::as_str), Some("setresuid(0, 0, 0)"));
    }

    #[test]
    fn becoming_root_clears_the_groups_first_and_survives_a_refused_setgroups() {
        let sys = Recording::as_user(4242, 4343);
        assert_eq!(become_root(&sys), Ok(None));
        assert_eq!(sys.calls(), ["setgroups([])", "setresgid(0, 0, 0)", "setresuid(0, 0, 0)"]);
        assert_eq!((sys.getresuid(), sys.getresgid()), (Ok([0; 3]), Ok([0; 3])));

        // Refused: the errno comes back for the caller's warning, and every id still becomes 0.
        let denied = Recording { setgroups_denied: true, ..Recording::as_user(4242, 4343) };
        assert_eq!(become_root(&denied), Ok(Some(libc::EPERM)));
        assert_eq!(denied.calls(), ["setgroups([])", "setresgid(0, 0, 0)", "setresuid(0, 0, 0)"]);
        assert_eq!((denied.getresuid(), denied.getresgid()), (Ok([0; 3]), Ok([0; 3])));
    }

    /// Runs `body` as root in a forked child (ids are per process); the
    /// child's exit code 0 means it held.
    fn in_root_child(why: &str, body: impl FnOnce() -> i32) {
        if !crate::testing::root_or_skip(why) {
            return;
        }
        // SAFETY: the child only makes system calls and exits with _exit.
        match unsafe { nix::unistd::fork() } {
            Err(e) => panic!("fork: {e}"),
            Ok(nix::unistd::ForkResult::Child) => {
                let code = body();
                // SAFETY: leave without running the test harness's code.
                unsafe { libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                let status = nix::sys::wait::waitpid(child, None);
                assert_eq!(
                    status,
                    Ok(nix::sys::wait::WaitStatus::Exited(child, 0)),
                    "2: a step failed, 3: root came back"
                );
            }
        }
    }

    #[test]
    fn the_real_switch_leaves_every_id_the_users_and_no_way_back() {
        in_root_child("it changes its ids", || match switch(&Linux, &Identity { groups: vec![4343, 4444], ..ADA }) {
            Err(_) => 2,
            Ok(()) if Linux.setresuid(0, 0, 0) == Err(libc::EPERM) => 0,
            Ok(()) => 3,
        });
    }

    /// A setuid start, reproduced by root: real uid 4242, effective and
    /// saved 0.
    #[test]
    fn a_dropped_setuid_start_cannot_regain_root() {
        in_root_child("it plays a setuid-root start", || {
            let setuid_start = Linux.setresgid(4343, 0, 0).and_then(|()| Linux.setresuid(4242, 0, 0));
            if setuid_start.is_err() || drop_setuid(&Linux, 4242, 4343).is_err() {
                return 2;
            }
            let dropped = Linux.getresuid() == Ok([4242; 3]) && Linux.getresgid() == Ok([4343; 3]);
            let stuck = Linux.setresuid(0, 0, 0) == Err(libc::EPERM);
            if dropped && stuck { 0 } else { 3 }
        });
    }
}
