#!/usr/bin/python3
"""pid1.py --root DIR [--user UID:GID] [--tty] [--runtime-caps] [--error-file FILE]
           [--life-file FILE] [--env NAME=VALUE]... -- CMD [ARG...]

Starts CMD as PID 1 of a new PID namespace, rooted (pivot_root) in DIR with a fresh
/proc, and exits with its status: the exit code, or 128+N if a signal N
killed it. ctr-run.sh calls it once the container's mounts are in place.

With --tty, CMD leads a new session with its stdin (a terminal) as
controlling terminal, as a container runtime does for `docker run -t`.

A failure to set the container up (not CMD's own failure) exits 125 and is
also written to the --error-file, so the caller can tell the two apart.

--life-file gets PID 1's life in milliseconds: from the moment its exec
succeeded (the setup pipe closing) to the moment it was reaped. It leaves
out the harness's own setup and teardown (mounts, this interpreter), which
are the same for any CMD and only add noise when two CMDs are compared.

Why not `unshare --pid --fork --kill-child`: when its child dies of SIGKILL it
cannot re-raise that signal on itself and exits 1 ("sigprocmask unblock
failed"), so a container killed from outside would look like `exit 1`.

With --runtime-caps, CMD's capability bounding set is the one containerd
and Docker give a container by default (RUNTIME_CAPS), so root in the
sandbox can do what root in a pod can, and no more. Without it, root keeps
every capability (tests that stage mounts inside the container need that).

With --user, CMD starts as UID:GID with no supplementary groups (as
Kubernetes' runAsUser/runAsGroup do) and without no_new_privs, so a
setuid-root CMD still gains euid 0.
"""

import argparse
import ctypes
import errno
import fcntl
import os
import select
import signal
import sys
import termios
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
PR_SET_PDEATHSIG = 1
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYS_RT_SIGACTION = 13  # x86_64
SYS_PIVOT_ROOT = 155  # x86_64
MNT_DETACH = 0x2
MS_BIND = 0x1000
MS_REC = 0x4000
NSIG = 65
PR_CAPBSET_DROP = 24
# containerd's and Docker's default capabilities for a container: CHOWN,
# DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
# NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
RUNTIME_CAPS = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}

# By soname: find_library() would run `ldconfig -p` in a child process (slow,
# and pid1.py must have no child but PID 1).
libc = ctypes.CDLL("libc.so.6", use_errno=True)


class KernelSigaction(ctypes.Structure):
    """struct sigaction as the x86_64 kernel takes it."""
    _fields_ = [("handler", ctypes.c_ulong), ("flags", ctypes.c_ulong),
                ("restorer", ctypes.c_ulong), ("mask", ctypes.c_ulong)]


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def parse(argv):
    """The command line, as an argparse namespace; CMD is what follows `--`."""
    if "--" not in argv:
        raise SystemExit("pid1: usage: pid1.py --root DIR [options] -- CMD...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="pid1")
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", type=lambda v: tuple(int(x) for x in v.split(":", 1)))
    parser.add_argument("--tty", action="store_true")
    parser.add_argument("--runtime-caps", action="store_true")
    parser.add_argument("--error-file")
    parser.add_argument("--life-file")
    parser.add_argument("--env", action="append", default=[])
    opts = parser.parse_args(argv[1:split])
    opts.cmd = argv[split + 1:]
    if not opts.cmd:
        raise SystemExit("pid1: no command after --")
    env = {}
    for item in opts.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"pid1: --env {item!r}: expected NAME=VALUE")
        env[name] = value
    opts.env = env
    return opts


def child(opts, parent_alive, setup_errors):
    """In the new PID namespace (we are PID 1): finish the container, exec."""
    try:
        # If the launcher dies (the test's timeout SIGKILLs the group), take
        # the whole container down: PID 1's death kills the namespace.
        check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        # The launcher keeps the write end of this pipe open; EOF means it
        # died before prctl took effect (getppid() is 0 from in here).
        if select.select([parent_alive], [], [], 0)[0]:
            os._exit(137)
        os.close(parent_alive)
        # A /proc that shows this PID namespace (procfs shows the namespace
        # of whoever mounts it), in this process's private mount namespace.
        check(libc.mount(b"proc", os.path.join(opts.root, "proc").encode(), b"proc",
                         MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
        if opts.tty:
            # A session of its own, then the terminal on stdin becomes its
            # controlling terminal (what runc does for a tty container). The
            # launcher's bash, a session leader, took the terminal as its own
            # when it started; 1 = take it over (we are still root here).
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 1)
        if opts.runtime_caps:
            limit_capabilities()
        enter_root(opts.root)
        if opts.user is not None:
            uid, gid = opts.user
            # Supplementary groups, then gid, then uid: each step needs the
            # privilege the next one gives up.
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        default_signals()
        # A container starts with stdin, stdout and stderr only: whatever
        # else the test process leaked to us must not reach CMD. (The error
        # pipe is close-on-exec; it stays open until the exec.)
        os.closerange(3, setup_errors)
        os.closerange(setup_errors + 1, 1 << 20)
    except OSError as e:
        # To the launcher, which reports it as a harness failure.
        os.write(setup_errors, str(e).encode())
        os._exit(125)
    err = exec_in_path(opts.cmd, opts.env)
    print(f"pid1: cannot run {opts.cmd[0]}: {os.strerror(err)}", file=sys.stderr)
    os._exit(127 if err == errno.ENOENT else 126)


def enter_root(root):
    """Makes ROOT this mount namespace's root, as runc does: pivot_root, not
    chroot (a chrooted process may not create a user namespace, a
    container's may). pivot_root(".", ".") stacks the old root under the new
    one; detaching it leaves the host's tree out of reach. The recursive
    bind first makes ROOT a mount point (pivot_root needs one), with the
    mounts already made under it."""
    check(libc.mount(root.encode(), root.encode(), None, MS_BIND | MS_REC, None), "bind the root")
    os.chdir(root)
    check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")


def limit_capabilities():
    """Drop from the bounding set what a container runtime does not grant.

    Before the uid change: dropping needs CAP_SETPCAP. CMD, root or setuid
    root, then gets at most RUNTIME_CAPS at exec.
    """
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if cap not in RUNTIME_CAPS:
            check(libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0), f"drop capability {cap}")


def default_signals():
    """Every signal to its default action, none blocked, as a container's
    PID 1 starts.

    An ignored signal stays ignored across exec, and we inherit from the
    test process (which ignores signal 32, a glibc-internal one, under cargo
    test) and from Python (SIGPIPE, SIGXFSZ). glibc's sigaction refuses its
    internal signals 32 and 33, so this is the raw rt_sigaction syscall.
    """
    dfl = KernelSigaction(0, 0, 0, 0)
    for sig in range(1, NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        # rt_sigaction(sig, &dfl, NULL, sizeof(sigset_t) for the kernel)
        if libc.syscall(ctypes.c_long(SYS_RT_SIGACTION), ctypes.c_long(sig), ctypes.byref(dfl),
                        None, ctypes.c_long(8)) != 0:
            check(-1, f"rt_sigaction({sig})")
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def exec_in_path(cmd, env):
    """execvp(3) by hand; returns the errno if nothing could be executed.

    Not os.execvpe: it imports a module lazily, which fails after the pivot_root
    (the rootfs has no Python library).
    """
    name = cmd[0]
    dirs = [""] if "/" in name else env.get("PATH", DEFAULT_PATH).split(":")
    err = errno.ENOENT
    for d in dirs:
        path = os.path.join(d, name) if d else name
        try:
            os.execve(path, cmd, env)
        except OSError as e:
            # Like execvp: any other problem (EACCES, ENOEXEC) is reported
            # over "not found".
            if e.errno != errno.ENOENT:
                err = e.errno
    return err


def main(argv):
    opts = parse(argv)
    # Opened now: the namespaces made below may not see the file's path.
    life = open(opts.life_file, "w", encoding="utf-8") if opts.life_file else None
    try:
        # A new PID namespace for our next child (it becomes PID 1) and a
        # new mount namespace now, for the /proc that child mounts. Its
        # mounts never propagate anywhere: ctr-run.sh already made every
        # mount private (`unshare --propagation private`), and the copies
        # here keep that.
        check(libc.unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare")
    except OSError as e:
        return setup_failed(opts.error_file, str(e))
    # Both pipes are close-on-exec (Python's default). parent_alive: see
    # child(). setup_errors: the child writes why its setup failed; a
    # successful exec closes it empty, as std::process does.
    parent_alive, alive_w = os.pipe()
    errors_r, errors_w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        os.close(errors_r)
        child(opts, parent_alive, errors_w)
    os.close(parent_alive)
    os.close(errors_w)
    setup_error = b""
    while chunk := os.read(errors_r, 4096):
        setup_error += chunk
    execed = time.perf_counter_ns()
    # Stay as the parent only to report PID 1's status.
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if life and not setup_error:
        life.write(f"{(time.perf_counter_ns() - execed) / 1e6:.3f}\n")
        life.close()
    if setup_error:
        return setup_failed(opts.error_file, setup_error.decode(errors="replace"))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def setup_failed(error_file, message):
    """A harness failure: exit 125, and say why on stderr and in the file."""
    print(f"pid1: {message}", file=sys.stderr)
    if error_file:
        with open(error_file, "w", encoding="utf-8") as f:
            f.write(f"pid1: {message}\n")
    return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv))
