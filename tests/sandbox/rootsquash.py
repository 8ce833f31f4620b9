#!/usr/bin/python3
"""rootsquash.py BACKING MOUNTPOINT [--ready FILE] [--count FILE]

A FUSE passthrough of BACKING at MOUNTPOINT that squashes root as an NFS
server with `root_squash` does: every request is performed on BACKING with the
caller's fsuid, fsgid and supplementary groups, and uid/gid 0 become 65534
(nobody/nogroup). The kernel's own permission checks on BACKING then decide,
exactly as the NFS server's would: root gets EACCES in a 0770 directory of
someone else, a file root creates in a 1777 directory is owned 65534:65534,
and a file uid U creates is owned by U.

Run with Debian's /usr/bin/python3 (it has python3-fusepy); the interpreter
on PATH may be another one without it.

Design notes, each the reason for a choice below:
- No `default_permissions`: with it the kernel checks modes itself against the
  caller's real creds, and root (CAP_DAC_OVERRIDE) would pass. Without it
  every check is left to us, and we leave it to the backing filesystem.
- Single-threaded (`nothreads`): fsuid/fsgid are per thread but glibc's
  setgroups() changes every thread, so requests must not overlap.
- `allow_other`: the container's users are not the mounting user.
- Zero entry/attr/negative timeouts: a cached lookup would let a second
  caller skip the check the first caller passed.
- umask 0: the kernel already applied the caller's umask to the mode it
  sends; applying ours again would change what the caller asked for.
- `--count FILE`: every request served is counted (each one a round trip to
  the server on NFS; with the caches off, a lookup per path component too),
  and FILE gets one `OPERATION COUNT` line per operation and `total COUNT`
  once the file system is unmounted. Opt-in: the tests that assert how many
  requests a start makes read it.
"""

import ctypes
import errno
import os
import sys

# fusepy finds libfuse with find_library() (see libc below) unless told.
os.environ.setdefault("FUSE_LIBRARY_PATH", "libfuse.so.2")
try:
    from fusepy import FUSE, FuseOSError, Operations, fuse_get_context
except (ImportError, OSError) as e:
    sys.exit(f"rootsquash: {e}: apt-get install python3-fusepy (and run this with /usr/bin/python3)")

NOBODY = 65534
AT_SYMLINK_NOFOLLOW = 0x100

# By soname: ctypes.util.find_library() runs `ldconfig -p`, a fork+exec that
# would add tens of milliseconds to every container start.
libc = ctypes.CDLL("libc.so.6", use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def squash(ident):
    """Root (0) as seen by an NFS server with root_squash: the anonymous id."""
    return NOBODY if ident == 0 else ident


def caller_groups(pid):
    """Supplementary groups of the calling process, read from /proc.

    FUSE passes only uid, gid and pid; the groups matter (a member of the lab
    group may write in the seed's 0770 directory). A process that is gone, or
    a request without a process (pid 0), gets no supplementary groups.
    """
    if pid <= 0:
        return []
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return [squash(int(g)) for g in line.split()[1:]]
    except OSError:
        pass
    return []


class CallerCreds:
    """Become the (squashed) caller for the duration of one request."""

    def __init__(self):
        uid, gid, pid = fuse_get_context()
        self.uid = squash(uid)
        self.gid = squash(gid)
        self.groups = caller_groups(pid)

    def __enter__(self):
        # Groups first: setgroups needs CAP_SETGID, which we still hold; the
        # kernel uses these groups for the group-permission checks.
        os.setgroups(self.groups)
        # setfsgid/setfsuid change only the ids used for filesystem access
        # (the daemon keeps its real/effective root to switch back). Moving
        # fsuid away from 0 also drops CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN
        # and the other fs capabilities from the effective set: that is what
        # makes root's request fail as nobody's would.
        libc.setfsgid(self.gid)
        libc.setfsuid(self.uid)
        return self

    def __exit__(self, *exc):
        # Back to root between requests, so the next caller's setgroups works.
        libc.setfsuid(0)
        libc.setfsgid(0)
        os.setgroups([])
        return False


class SquashFuse(FUSE):
    """fusepy's FUSE, with utimens passing UTIME_NOW/UTIME_OMIT through.

    fusepy turns the timestamps into numbers, which loses "now": `touch` on a
    group-writable file one does not own is allowed only for "now".
    """

    def utimens(self, path, buf):
        times = None
        if buf:
            times = (
                (buf.contents.actime.tv_sec, buf.contents.actime.tv_nsec),
                (buf.contents.modtime.tv_sec, buf.contents.modtime.tv_nsec),
            )
        return self.operations("utimens", path.decode(self.encoding), times)


class RootSquash(Operations):
    """Each operation is the same syscall on BACKING, made as the caller.

    Paths are resolved relative to a descriptor of BACKING opened at start
    (the *at() calls): the caller needs no search permission on BACKING's
    ancestors, only inside it, as on the NFS export.
    """

    use_ns = True
    # Let UTIME_NOW/UTIME_OMIT reach utimens unchanged (see SquashFuse).
    flag_utime_omit_ok = 1

    def __init__(self, backing):
        # Opened as root, before any request: the root of every lookup.
        self.root = os.open(backing, os.O_RDONLY | os.O_DIRECTORY)
        # Requests served, per operation (see --count).
        self.requests = {}

    @staticmethod
    def rel(path):
        """FUSE paths are absolute in the mount; make them relative to root."""
        return path.lstrip("/") or "."

    def __call__(self, op, *args):
        if not hasattr(self, op):
            raise FuseOSError(errno.ENOSYS)
        # init/destroy come from the kernel, not from a caller.
        if op in ("init", "destroy"):
            return getattr(self, op)(*args)
        self.requests[op] = self.requests.get(op, 0) + 1
        with CallerCreds():
            return getattr(self, op)(*args)

    # Metadata.
    def getattr(self, path, fh=None):
        if fh is not None:
            st = os.fstat(fh)
        else:
            st = os.stat(self.rel(path), dir_fd=self.root, follow_symlinks=False)
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_rdev",
                "st_blocks", "st_ino", "st_dev")
        attrs = {k: getattr(st, k) for k in keys}
        attrs["st_atime"] = st.st_atime_ns
        attrs["st_mtime"] = st.st_mtime_ns
        attrs["st_ctime"] = st.st_ctime_ns
        return attrs

    def access(self, path, amode):
        # effective_ids: faccessat(AT_EACCESS) checks with fsuid/fsgid, not
        # the daemon's real uid.
        if not os.access(self.rel(path), amode, dir_fd=self.root, effective_ids=True,
                         follow_symlinks=False):
            raise FuseOSError(errno.EACCES)
        return 0

    def chmod(self, path, mode):
        # The kernel resolved any symlink before asking: path is no symlink.
        os.chmod(self.rel(path), mode, dir_fd=self.root)

    def chown(self, path, uid, gid):
        # (uid_t)-1 means "leave unchanged". lchown: a chown of a symlink
        # itself reaches us as the symlink's path.
        uid = -1 if uid == 0xFFFFFFFF else uid
        gid = -1 if gid == 0xFFFFFFFF else gid
        os.chown(self.rel(path), uid, gid, dir_fd=self.root, follow_symlinks=False)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
            return
        # truncate(2) has no *at() form; opening for writing checks the same
        # permission (write access to the file).
        fd = os.open(self.rel(path), os.O_WRONLY, dir_fd=self.root)
        try:
            os.ftruncate(fd, length)
        finally:
            os.close(fd)

    def utimens(self, path, times=None):
        ts = None
        if times is not None:
            ts = (Timespec * 2)(Timespec(*times[0]), Timespec(*times[1]))
        rc = libc.utimensat(self.root, self.rel(path).encode(), ts, AT_SYMLINK_NOFOLLOW)
        if rc != 0:
            raise FuseOSError(ctypes.get_errno())

    def statfs(self, path):
        sv = os.statvfs(self.root)
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(sv, k) for k in keys}

    # Directories.
    def opendir(self, path):
        # Read permission on the directory is checked here, as the caller.
        fd = os.open(self.rel(path), os.O_RDONLY | os.O_DIRECTORY, dir_fd=self.root)
        os.close(fd)
        return 0

    def readdir(self, path, fh):
        fd = os.open(self.rel(path), os.O_RDONLY | os.O_DIRECTORY, dir_fd=self.root)
        try:
            return [".", ".."] + os.listdir(fd)
        finally:
            os.close(fd)

    def mkdir(self, path, mode):
        os.mkdir(self.rel(path), mode, dir_fd=self.root)

    def rmdir(self, path):
        os.rmdir(self.rel(path), dir_fd=self.root)

    # Names.
    def mknod(self, path, mode, dev):
        os.mknod(self.rel(path), mode, dev, dir_fd=self.root)

    def unlink(self, path):
        os.unlink(self.rel(path), dir_fd=self.root)

    def symlink(self, link, target):
        # fusepy passes (path of the new link, its target).
        os.symlink(target, self.rel(link), dir_fd=self.root)

    def readlink(self, path):
        return os.readlink(self.rel(path), dir_fd=self.root)

    def rename(self, old, new):
        os.rename(self.rel(old), self.rel(new), src_dir_fd=self.root, dst_dir_fd=self.root)

    def link(self, new, existing):
        # fusepy passes (path of the new name, existing path).
        os.link(self.rel(existing), self.rel(new), src_dir_fd=self.root,
                dst_dir_fd=self.root, follow_symlinks=False)

    # Files. Permission is checked at open, as the caller; the descriptor is
    # then used for read/write as on any filesystem.
    def open(self, path, flags):
        return os.open(self.rel(path), flags, dir_fd=self.root)

    def create(self, path, mode, fi=None):
        # The caller's open flags do not reach us here (fusepy without
        # raw_fi); read-write serves any of them, and a new file can be
        # opened so whatever its mode.
        return os.open(self.rel(path), os.O_RDWR | os.O_CREAT, mode, dir_fd=self.root)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        return 0


def write_counts(path, requests):
    """The --count file: one `OPERATION COUNT` line each, then the total."""
    lines = [f"{op} {n}" for op, n in sorted(requests.items())]
    lines.append(f"total {sum(requests.values())}")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    usage = "usage: rootsquash.py BACKING MOUNTPOINT [--ready FILE] [--count FILE]"
    options = dict(zip(argv[3::2], argv[4::2]))
    if len(argv) < 3 or len(argv) % 2 == 0 or not set(options) <= {"--ready", "--count"}:
        print(usage, file=sys.stderr)
        return 2
    backing, mountpoint = argv[1], argv[2]
    if not os.path.isdir(backing):
        print(f"rootsquash: backing directory {backing} not found", file=sys.stderr)
        return 1
    if not os.path.exists("/dev/fuse"):
        print("rootsquash: /dev/fuse not found: the kernel needs FUSE (modprobe fuse)", file=sys.stderr)
        return 1
    # See the module doc: the caller's mode already has the caller's umask.
    os.umask(0)
    ops = RootSquash(backing)
    if "--ready" in options:
        ready = options["--ready"]
        original_init = ops.init

        def init(path):
            # The mount is live once init runs; tell the launcher.
            with open(ready, "w", encoding="ascii") as f:
                f.write(str(os.getpid()))
            return original_init(path)

        ops.init = init
    SquashFuse(ops, mountpoint, foreground=True, nothreads=True, allow_other=True,
               fsname="rootsquash", subtype="rootsquash",
               entry_timeout=0, attr_timeout=0, negative_timeout=0)
    # FUSE() returns once the file system is unmounted: every request is in.
    if "--count" in options:
        write_counts(options["--count"], ops.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
