//! The hand-off from the bootstrap (root work, done in PID 1) to the
//! command (run by a child that dropped privileges).
//!
//! The bootstrap produces a [`Launch`]; the supervisor forks, and the child
//! calls [`Launch::exec`], which never returns. Everything the child needs is
//! computed before the fork (ids, supplementary groups, environment, argv as
//! C strings) so that the child only makes async-signal-safe system calls.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use crate::identity::{self, Identity};

/// The command's working directory: its path, for messages, and the
/// descriptor the user-state step's walk ended on (no symlink followed on
/// the way), or the errno of why it has none (0: it was never walked).
#[derive(Debug)]
pub struct WorkingDir {
    pub path: PathBuf,
    pub opened: Result<OwnedFd, i32>,
}

/// Everything needed to start the user's command.
#[derive(Debug)]
pub struct Launch {
    /// The command and its arguments. Never empty.
    pub argv: Vec<CString>,
    /// The complete environment of the command, `KEY=VALUE`.
    pub env: Vec<CString>,
    /// The directory to run in; without it the child warns and runs in
    /// `HOME` (or `/`).
    pub cwd: Option<WorkingDir>,
    /// `None`: run with the current ids (no bootstrap happened).
    pub identity: Option<Identity>,
    /// This start in the job's attempt record; its end is written when the
    /// command ends.
    pub attempt: Option<crate::attempts::Started>,
}

/// Exit status when the command cannot be executed (found but not runnable,
/// or the privilege drop failed), as in POSIX shells and tini.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// The search path when the command's environment has no `PATH`.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest path the child builds on its stack (Linux `PATH_MAX`).
const PATH_MAX: usize = 4096;

impl Launch {
    /// The command with the current environment, ids and directory: what
    /// runs when the bootstrap is skipped.
    pub fn unchanged(argv: Vec<CString>, env: Vec<CString>) -> Self {
        Launch { argv, env, cwd: None, identity: None, attempt: None }
    }

    /// Ready to be executed: the argument and environment vectors the
    /// kernel takes (NULL-terminated pointers into the strings) are built
    /// now, in the parent, so the child between fork and exec only reads
    /// memory that exists (it may not allocate, and arrays on its own stack
    /// would cost it a page fault per 4 KiB).
    pub fn ready(self) -> Ready {
        let vector =
            |strings: &[CString]| strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        Ready { argv: vector(&self.argv), envp: vector(&self.env), launch: self }
    }
}

/// A [`Launch`] with its vectors built ([`Launch::ready`]).
#[derive(Debug)]
pub struct Ready {
    /// Owns the strings the vectors point into (a CString's bytes do not
    /// move with it).
    launch: Launch,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl Ready {
    /// This start's attempt record, taken out: it is PID 1's to end.
    pub fn take_attempt(&mut self) -> Option<crate::attempts::Started> {
        self.launch.attempt.take()
    }

    /// Drops privileges, sets the umask, enters the working directory and
    /// executes the command. Called in the forked child; never returns.
    ///
    /// Only async-signal-safe calls from here on (the parent may have had
    /// other threads): no allocation, no lock, no `tracing`. Messages go to
    /// fd 2 with `write`, from bytes that already exist.
    pub fn exec(&self) -> ! {
        if let Some(id) = &self.launch.identity {
            drop_privileges(id);
        }
        // Whatever the command (zsh's .zshrc sets the same, a script does
        // not): files it leaves on scratch stay writable by the lab group,
        // as the shared HF cache needs. umask(2) cannot fail.
        // SAFETY: a system call with an integer argument.
        unsafe { libc::umask(crate::sys::UMASK) };
        if let Some(cwd) = &self.launch.cwd {
            self.enter(cwd);
        }
        self.exec_searching_path()
    }

    /// `fchdir` to the walked directory: one permission check, where a
    /// `chdir` would look every component of the shared path up again and
    /// follow a symlink planted on it since. Else the command's `HOME`,
    /// else `/`, with a warning.
    fn enter(&self, cwd: &WorkingDir) {
        let errno = match &cwd.opened {
            // SAFETY: fchdir on a descriptor the Launch owns.
            Ok(fd) if unsafe { libc::fchdir(fd.as_raw_fd()) } == 0 => return,
            Ok(_) => last_errno(),
            Err(errno) => *errno,
        };
        let cwd = cwd.path.as_os_str().as_encoded_bytes();
        let mut buf = [0u8; PATH_MAX];
        let fallback = match self.env_value(b"HOME") {
            Some(home) if chdir_bytes(home, &mut buf) => home,
            _ => {
                // `/` always exists; if even that fails, exec still works.
                chdir_bytes(b"/", &mut buf);
                b"/"
            }
        };
        write_stderr(&[
            b"pod-init: warning: cannot enter ",
            cwd,
            b": ",
            errno_text(errno),
            b"; running in ",
            fallback,
            b"\n",
        ]);
    }

    /// The value of `name` in the command's environment.
    fn env_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.launch
            .env
            .iter()
            .map(|kv| kv.as_bytes())
            .find_map(|kv| kv.strip_prefix(name).and_then(|rest| rest.strip_prefix(b"=")))
    }

    /// `execvpe` with the command's own `PATH`: a name with a `/` is
    /// executed as is, otherwise each `PATH` entry is tried. ENOENT and
    /// ENOTDIR move on; EACCES is remembered (as execvp does) so that a
    /// command found but not executable reports 126, not 127.
    fn exec_searching_path(&self) -> ! {
        let Some(program) = self.launch.argv.first() else {
            write_stderr(&[b"pod-init: no command to run\n"]);
            exit(EXIT_NOT_FOUND)
        };
        let (argv, envp) = (&self.argv, &self.envp);
        let name = program.as_bytes();
        let mut denied = false;
        let mut last = libc::ENOENT;
        if name.contains(&b'/') {
            last = execve(program, argv, envp);
        } else {
            let path = self.env_value(b"PATH").unwrap_or(DEFAULT_PATH);
            let mut buf = [0u8; PATH_MAX];
            for dir in path.split(|&b| b == b':') {
                // An empty entry means the current directory (POSIX).
                let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
                let Some(candidate) = join_c(&mut buf, &[dir, b"/", name]) else {
                    continue;
                };
                last = execve(candidate, argv, envp);
                match last {
                    libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG => {}
                    libc::EACCES => denied = true,
                    _ => break,
                }
            }
            if denied && matches!(last, libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) {
                last = libc::EACCES;
            }
        }
        let (code, why): (i32, &[u8]) = match last {
            libc::ENOENT | libc::ENOTDIR => (EXIT_NOT_FOUND, b"command not found"),
            libc::EACCES => (EXIT_CANNOT_EXECUTE, b"permission denied (not executable?)"),
            libc::ENOEXEC => (EXIT_CANNOT_EXECUTE, b"not an executable format"),
            e => (EXIT_CANNOT_EXECUTE, errno_text(e)),
        };
        write_stderr(&[b"pod-init: cannot run ", name, b": ", why, b"\n"]);
        exit(code)
    }
}

/// In the exec child: [`identity::switch`] or exit 126 with the failed step.
fn drop_privileges(id: &Identity) {
    if let Err(e) = identity::switch(&identity::Linux, id) {
        fail_drop(e.step.as_bytes(), e.errno);
    }
}

fn fail_drop(what: &[u8], errno: i32) -> ! {
    let reason: &[u8] = if errno == 0 { b"refused" } else { errno_text(errno) };
    write_stderr(&[b"pod-init: cannot drop privileges: ", what, b": ", reason, b"\n"]);
    exit(EXIT_CANNOT_EXECUTE)
}

/// Copies `parts` into `buf` with a final NUL; `None` if it does not fit or
/// contains a NUL.
fn join_c<'a>(buf: &'a mut [u8; PATH_MAX], parts: &[&[u8]]) -> Option<&'a CStr> {
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        if end >= PATH_MAX {
            return None;
        }
        buf[len..end].copy_from_slice(part);
        len = end;
    }
    buf[len] = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

fn chdir_bytes(dir: &[u8], buf: &mut [u8; PATH_MAX]) -> bool {
    match join_c(buf, &[dir]) {
        // SAFETY: chdir reads a NUL-terminated string that lives in `buf`.
        Some(c) => unsafe { libc::chdir(c.as_ptr()) == 0 },
        None => false,
    }
}

/// Returns only on failure, with the errno.
fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> i32 {
    // SAFETY: `path` is NUL-terminated; argv and envp are NULL-terminated
    // arrays of pointers into CStrings owned by the `Launch`, alive here.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    last_errno()
}

fn last_errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// A fixed description of the errors the child can meet.
fn errno_text(errno: i32) -> &'static [u8] {
    match errno {
        0 => b"not walked (see the user state step above)",
        libc::ENOENT => b"no such file or directory",
        libc::ENOTDIR => b"not a directory",
        libc::EACCES => b"permission denied",
        libc::EPERM => b"operation not permitted",
        libc::ELOOP => b"too many levels of symbolic links",
        libc::ENAMETOOLONG => b"name too long",
        libc::E2BIG => b"argument list too long",
        libc::ENOMEM => b"out of memory",
        libc::ETXTBSY => b"text file busy",
        libc::EINVAL => b"invalid argument",
        libc::EIO => b"input/output error",
        _ => b"system error",
    }
}

/// Writes the pieces to stderr; errors are ignored (nowhere to report them).
pub(crate) fn write_stderr(parts: &[&[u8]]) {
    for part in parts {
        let mut rest = *part;
        while !rest.is_empty() {
            // SAFETY: writes from a live slice to fd 2.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                if n < 0 && last_errno() == libc::EINTR {
                    continue;
                }
                return;
            }
            rest = &rest[n as usize..];
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and skips the parent's atexit
    // handlers and stdio buffers, which belong to PID 1.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    /// Runs `launch.ready().exec()` in a forked child with stderr sent to a
    /// file, returns (exit code, stderr).
    fn run(launch: Launch) -> (i32, String) {
        let ready = launch.ready();
        let err = tempfile::NamedTempFile::new().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(err.as_file());
        // SAFETY: the test process may have threads, but the child only
        // calls dup2 and the async-signal-safe Launch::exec.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // SAFETY: dup2 of two valid fds.
                unsafe { libc::dup2(fd, 2) };
                ready.exec()
            }
            ForkResult::Parent { child } => {
                let code = match waitpid(child, None).unwrap() {
                    WaitStatus::Exited(_, code) => code,
                    other => panic!("child ended with {other:?}"),
                };
                (code, std::fs::read_to_string(err.path()).unwrap())
            }
        }
    }

    fn sh(script: &str, env: &[&str]) -> Launch {
        Launch::unchanged(vec![c("sh"), c("-c"), c(script)], env.iter().map(|s| c(s)).collect())
    }

    #[test]
    fn searches_the_commands_path_and_passes_the_environment() {
        let (code, _) = run(sh("test \"$FOO\" = bar && exit 7", &["PATH=/nonexistent:/usr/bin:/bin", "FOO=bar"]));
        assert_eq!(code, 7);
    }

    #[test]
    fn not_found_is_127_with_a_message() {
        let launch = Launch::unchanged(vec![c("no-such-command-x")], vec![c("PATH=/usr/bin:/bin")]);
        assert_eq!(run(launch), (127, "pod-init: cannot run no-such-command-x: command not found\n".to_owned()));
        let launch = Launch::unchanged(vec![c("/no/such/path")], vec![]);
        assert_eq!(run(launch).0, 127);
    }

    #[test]
    fn not_executable_is_126_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("job");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        let path = format!("PATH={}", dir.path().display());
        let launch = Launch::unchanged(vec![c("job")], vec![c(&path)]);
        assert_eq!(run(launch), (126, "pod-init: cannot run job: permission denied (not executable?)\n".to_owned()));
    }

    #[test]
    fn enters_cwd_or_falls_back_to_home_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwd");
        let script = format!("pwd > {}", marker.display());
        let mut launch = sh(&script, &["PATH=/usr/bin:/bin"]);
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
        let opened = nix::fcntl::open(dir.path(), flags, nix::sys::stat::Mode::empty()).unwrap();
        launch.cwd = Some(WorkingDir { path: "/the/walked/path".into(), opened: Ok(opened) });
        assert_eq!(run(launch).0, 0);
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap().trim(),
            dir.path().canonicalize().unwrap().to_str().unwrap()
        );

        let home = format!("HOME={}", dir.path().display());
        let mut launch = sh(&script, &["PATH=/usr/bin:/bin", &home]);
        launch.cwd = Some(WorkingDir { path: "/no/such/dir".into(), opened: Err(libc::ENOENT) });
        let (code, err) = run(launch);
        assert_eq!(code, 0);
        assert_eq!(
            err,
            format!(
                "pod-init: warning: cannot enter /no/such/dir: no such file or directory; running in {}\n",
                dir.path().display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap().trim(),
            dir.path().canonicalize().unwrap().to_str().unwrap()
        );
    }

    #[test]
    fn drops_to_the_identity_and_cannot_regain_root() {
        if !crate::testing::root_or_skip("it drops privileges") {
            return;
        }
        let launch = Launch {
            identity: Some(Identity { uid: 4242, gid: 4343, groups: vec![4444, 4545] }),
            ..sh(
                "test \"$(id -u):$(id -g):$(id -G)\" = \"4242:4343:4343 4444 4545\" || exit 3; \
                  grep -q '^Uid:[[:space:]]*4242[[:space:]]*4242[[:space:]]*4242' /proc/self/status || exit 4; \
                  grep -q '^Gid:[[:space:]]*4343[[:space:]]*4343[[:space:]]*4343' /proc/self/status || exit 5",
                &["PATH=/usr/bin:/bin"],
            )
        };
        assert_eq!(run(launch), (0, String::new()));
    }
}
