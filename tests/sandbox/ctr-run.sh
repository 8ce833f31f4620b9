#!/bin/bash
# ctr-run.sh [options] -- CMD [ARG...]
#
# Runs CMD as PID 1 of a throwaway container: its own PID, mount, UTS and IPC
# namespaces, rooted (pivot_root) in an overlay of ROOTFS, hostname `ctr`, a fresh
# /proc, a minimal /dev, and /scratch backed by a host directory (through the
# root-squashing FUSE passthrough, or a plain bind). Exits with CMD's exit
# code (128+N if it was killed by signal N).
#
# Options:
#   --rootfs DIR        lower layer, never written (the cached debootstrap tree)
#   --state DIR         per-sandbox directory holding upper/ and work/ (kept
#                       between runs: a second run sees the first run's
#                       changes, as a restarted container does) and merged/
#   --scratch DIR       host directory that becomes /scratch
#   --squash            serve /scratch through rootsquash.py (uid/gid 0 -> 65534)
#   --count-requests    with --squash: rootsquash.py counts the requests it
#                       serves into STATE/rootsquash.requests (written when
#                       scratch is unmounted, before this script exits)
#   --install FILE PATH MODE
#                       copy a host FILE to PATH in the container, owner root,
#                       MODE octal (repeatable; the tests put pod-init in place
#                       this way, 0755 or setuid 4755)
#   --user UID:GID      start CMD with these ids and no supplementary groups
#                       (without no_new_privs, so a setuid binary still works;
#                       see pid1.py)
#   --runtime-caps      limit CMD to the capabilities a container runtime
#                       grants by default (see pid1.py); else root has all
#   --tty               CMD leads its own session with its stdin (a terminal
#                       the caller provides) as controlling terminal
#   --env NAME=VALUE    set a variable for CMD (repeatable); CMD's environment
#                       is exactly these
#
# Every run writes STATE/pid1.life: PID 1's life in ms, exec to reaped (see
# pid1.py), which a benchmark compares without this script's own noise.
#
# Process layout: the outer process (this script, after re-executing itself
# under `unshare --mount --uts --ipc`) owns the mounts and the FUSE daemon;
# only the child of pid1.py (a new PID and mount namespace, fresh /proc,
# chroot) is in the container's PID namespace. So the daemon is never a child of CMD (it
# would upset an init's reaping), and CMD is PID 1 there. When CMD exits, the
# kernel kills the rest of the PID namespace; this script unmounts /scratch
# (the daemon then exits) and the private mount namespace dies with it. If
# the whole process group is SIGKILLed (a timeout), the same happens: nothing
# outlives the group.
set -Eeuo pipefail

prog=ctr-run
# A failure of the harness itself (not of CMD) is also written to
# STATE/harness.error, so the caller can tell it from CMD's own exit code.
state=""
die() {
    echo "$prog: $*" >&2
    if [ -n "$state" ]; then
        mkdir -p "$state" && echo "$prog: $*" >"$state/harness.error"
    fi
    exit 125
}
here=$(cd "$(dirname "$0")" && pwd)

inside=0
rootfs="" scratch="" squash=0 count=0 user="" tty=0 runtime_caps=0
envs=()
installs=()
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --inside) inside=1; shift ;;
        --rootfs) rootfs=$2; shift 2 ;;
        --state) state=$2; shift 2 ;;
        --scratch) scratch=$2; shift 2 ;;
        --squash) squash=1; shift ;;
        --count-requests) count=1; shift ;;
        --tty) tty=1; shift ;;
        --runtime-caps) runtime_caps=1; shift ;;
        --install) installs+=("$2" "$3" "$4"); shift 4 ;;
        --user) user=$2; shift 2 ;;
        --env) envs+=("$2"); shift 2 ;;
        --) shift; break ;;
        *) die "unknown option $1" ;;
    esac
done
[ $# -gt 0 ] || die "usage: ctr-run.sh --rootfs DIR --state DIR --scratch DIR [options] -- CMD..."
[ -n "$rootfs" ] && [ -f "$rootfs/.sandbox-stamp" ] || [ -x "$rootfs/bin/busybox" ] \
    || die "--rootfs $rootfs is not a sandbox rootfs (build it with tests/sandbox/mkrootfs.sh)"
[ -n "$state" ] || die "--state is required"
[ -n "$scratch" ] && [ -d "$scratch" ] || die "--scratch $scratch is not a directory"

if [ "$inside" = 0 ]; then
    [ "$(id -u)" = 0 ] || die "must run as root (namespaces, mounts, chroot)"
    # A private mount namespace: nothing mounted below is seen by the host,
    # and all of it goes away when the last process in it exits. The UTS
    # namespace is here so `hostname` below does not rename the host.
    exec unshare --mount --uts --ipc --propagation private -- "$0" --inside "${args[@]}"
fi

# From here on, any failing step is a harness failure.
trap 'die "line $LINENO: a setup command failed (status $?)"' ERR

mkdir -p "$state/upper" "$state/work" "$state/merged"
merged=$state/merged

# The container's root: the cached tree, read-only below a per-sandbox upper
# layer on disk.
mount -t overlay overlay \
    -o "lowerdir=$rootfs,upperdir=$state/upper,workdir=$state/work" "$merged"

# A minimal /dev: what programs and sudo/su/ssh-keygen expect.
mount -t tmpfs -o mode=0755,nosuid,size=1m devtmpfs-ctr "$merged/dev"
mkdev() { mknod -m "$4" "$merged/dev/$1" c "$2" "$3"; }
mkdev null 1 3 0666; mkdev zero 1 5 0666; mkdev full 1 7 0666
mkdev random 1 8 0666; mkdev urandom 1 9 0666; mkdev tty 5 0 0666
mkdir -m 0755 "$merged/dev/pts"
mkdir -m 1777 "$merged/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$merged/dev/pts"
ln -s pts/ptmx "$merged/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$merged/dev/shm"
ln -s /proc/self/fd "$merged/dev/fd"
ln -s /proc/self/fd/0 "$merged/dev/stdin"
ln -s /proc/self/fd/1 "$merged/dev/stdout"
ln -s /proc/self/fd/2 "$merged/dev/stderr"
mkdir -p "$merged/scratch"

fuse_pid=""
stop_fuse() {
    if [ -n "$fuse_pid" ]; then
        # Unmounting ends the daemon's loop; it exits on its own. If the
        # mount never came up, it is told to stop.
        umount "$merged/scratch" 2>/dev/null || umount -l "$merged/scratch" 2>/dev/null \
            || kill "$fuse_pid" 2>/dev/null || true
        wait "$fuse_pid" 2>/dev/null || true
    fi
}
# On every way out (the end, or die), so no daemon outlives this script.
trap stop_fuse EXIT
if [ "$squash" = 1 ]; then
    ready=$state/rootsquash.ready
    rm -f "$ready" "$state/rootsquash.requests"
    counting=()
    [ "$count" = 0 ] || counting=(--count "$state/rootsquash.requests")
    # Its own stdio: holding the container's stdout would keep the caller
    # reading after the container ended.
    /usr/bin/python3 "$here/rootsquash.py" "$scratch" "$merged/scratch" --ready "$ready" "${counting[@]}" \
        </dev/null >/dev/null 2>"$state/rootsquash.log" &
    fuse_pid=$!
    for _ in $(seq 1 500); do
        [ -s "$ready" ] && break
        kill -0 "$fuse_pid" 2>/dev/null || die "rootsquash.py failed: $(cat "$state/rootsquash.log")"
        sleep 0.01
    done
    [ -s "$ready" ] || die "rootsquash.py did not mount within 5 s"
else
    mount --bind "$scratch" "$merged/scratch"
fi

i=0
while [ $i -lt ${#installs[@]} ]; do
    # Into the upper layer through the merged view: the lower tree stays clean.
    install -D -o 0 -g 0 -m "${installs[$((i + 2))]}" "${installs[$i]}" "$merged${installs[$((i + 1))]}"
    i=$((i + 3))
done

hostname ctr

rm -f "$state/pid1.life"
pid1_args=(--root "$merged" --error-file "$state/harness.error" --life-file "$state/pid1.life")
[ -z "$user" ] || pid1_args+=(--user "$user")
[ "$tty" = 0 ] || pid1_args+=(--tty)
[ "$runtime_caps" = 0 ] || pid1_args+=(--runtime-caps)
for e in "${envs[@]}"; do pid1_args+=(--env "$e"); done

# Not `exec`: this process stays to unmount /scratch and wait for the daemon.
trap - ERR
rc=0
/usr/bin/python3 "$here/pid1.py" "${pid1_args[@]}" -- "$@" || rc=$?

exit "$rc"
