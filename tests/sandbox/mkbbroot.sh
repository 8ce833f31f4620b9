#!/bin/bash
# mkbbroot.sh DEST
#
# A root filesystem holding only a static busybox: no libc, no dynamic
# loader. A binary that runs as PID 1 here is static (the dist tests use it
# to prove the shipped binaries are); a glibc-linked one fails with 127.
# Minimal passwd/group/shadow so id/su work. Built in 50 ms; idempotent with a
# stamp (hash of this script and of the busybox binary), under an flock.
set -euo pipefail

prog=mkbbroot
die() { echo "$prog: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: mkbbroot.sh DEST"
[ "$(id -u)" = 0 ] || die "must run as root (chroot)"
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox not found: apt-get install busybox-static"
# A dynamically linked busybox would need the libc this tree must not have.
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked: apt-get install busybox-static"
fi

dest=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
stamp=$(cat "$here/mkbbroot.sh" "$busybox" | sha256sum | cut -c1-16)
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ -f "$dest/.sandbox-stamp" ] && [ "$(cat "$dest/.sandbox-stamp")" = "$stamp" ]; then
    exit 0
fi

tmp=$dest.tmp
rm -rf "$tmp"
install -d -m 0755 "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,root,dev,scratch}
install -d -m 0555 "$tmp/proc"
install -d -m 1777 "$tmp/tmp"
install -m 0755 "$busybox" "$tmp/bin/busybox"
chroot "$tmp" /bin/busybox --install -s
cat >"$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$tmp/etc/group" <<'G'
root:x:0:
shadow:x:42:
nogroup:x:65534:
G
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$tmp/etc/shadow"
chown 0:42 "$tmp/etc/shadow"
chmod 0640 "$tmp/etc/shadow"
echo "$stamp" >"$tmp/.sandbox-stamp"

if [ -e "$dest" ]; then
    mv "$dest" "$dest.old"
    rm -rf "$dest.old"
fi
mv "$tmp" "$dest"
