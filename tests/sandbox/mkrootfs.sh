#!/bin/bash
# mkrootfs.sh DEST [--cache DIR]
# mkrootfs.sh --stamp
#
# Builds the Debian root filesystem the sandbox tests run pod-init in: a
# debootstrap minbase bookworm with the tools the checks use (sudo, zsh, git,
# openssh-client, passwd, login), dressed up like our image:
#   - `127.0.1.1 ctr` in /etc/hosts (the sandbox hostname; sudo warns without it),
#   - the scratch seed account (owner of the scratch root on RCP) and the lab
#     group 83070 it shares with researchers,
#   - a placeholder LDAP user/group with ids 1000:1000, as a Dockerfile build
#     bakes them, so the rename cases can be tested,
#   - the files the image stages in /docker (a tiny fake oh-my-zsh, a .zshrc),
#   - mount points /scratch, /proc, /dev.
#
# Idempotent: DEST holds a stamp (a hash of the recipe, see build_tree); a
# matching stamp means nothing to do (10 ms), a different one rebuilds. The
# build goes to DEST.tmp and is renamed into place, under an flock on
# DEST.lock, so concurrent callers (parallel tests, xtask) build it once.
# With --cache DIR, a DIR/rootfs-<stamp>.tar.zst snapshot is used if present
# (1-5 s instead of 30-40 s) and written after a fresh build (95 MB).
# --stamp prints the stamp (a CI cache key) and exits.
#
# Needs root and debootstrap (apt-get install debootstrap zstd). Network is
# needed only for a fresh build (the Debian mirror from the host's apt sources).
set -euo pipefail

prog=mkrootfs
die() { echo "$prog: $*" >&2; exit 1; }

dest=""
cache=""
print_stamp=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cache) [ $# -ge 2 ] || die "--cache needs a directory"; cache=$2; shift 2 ;;
        --stamp) print_stamp=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$dest" ] || die "only one DEST allowed"; dest=$1; shift ;;
    esac
done

# Keep in sync with tests/src/sandbox/mod.rs (SEED_UID, LAB_GID, PLACEHOLDER_*).
SEED_USER=mljaggi-admin        # common::env::DEFAULT_SCRATCH_SEED_USER
SEED_UID=177449                # common::env::DEFAULT_SCRATCH_SEED_UID, as in the image
LAB_GROUP=seedgrp
LAB_GID=83070
PLACEHOLDER=placeholder
PLACEHOLDER_ID=1000
PACKAGES=sudo,zsh,git,openssh-client,passwd,login

mirror() {
    # The first URI of the host's apt sources (deb822 or one-line format).
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [ -z "$uri" ]; then
        uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# The whole recipe. The stamp is a hash of this function as bash prints it
# (comments dropped) and of the settings above: editing a comment, or the
# plumbing below, does not rebuild the tree; changing what goes in does.
build_tree() {
    local tmp=$1
    echo "$prog: debootstrap bookworm into $tmp (about 40 s)" >&2
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$tmp" "$(mirror)" \
        >"$dest.debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $dest.debootstrap.log"

    # The image-like dressing, done with the rootfs's own tools.
    in_root() { chroot "$tmp" "$@"; }
    echo "127.0.1.1 ctr" >>"$tmp/etc/hosts"
    in_root groupadd -g "$LAB_GID" "$LAB_GROUP"
    # -K UID_MAX: the seed's uid is above Debian's default range (as on RCP).
    in_root useradd -K UID_MAX="$SEED_UID" -M -N -d /nonexistent -s /usr/sbin/nologin \
        -u "$SEED_UID" -g "$LAB_GID" "$SEED_USER"
    in_root groupadd -g "$PLACEHOLDER_ID" "$PLACEHOLDER"
    in_root useradd -m -s /bin/bash -u "$PLACEHOLDER_ID" -g "$PLACEHOLDER_ID" "$PLACEHOLDER"

    # What the Dockerfile stages for the first start (crates/common/src/image.rs).
    install -d -m 0755 "$tmp/docker/oh-my-zsh/lib" "$tmp/docker/oh-my-zsh/themes"
    cat >"$tmp/docker/oh-my-zsh/oh-my-zsh.sh" <<'ZSH'
# fake oh-my-zsh for the sandbox tests
export NB_FAKE_OMZ_LOADED=1
ZSH
    echo "# fake lib" >"$tmp/docker/oh-my-zsh/lib/git.zsh"
    echo "# fake theme" >"$tmp/docker/oh-my-zsh/themes/robbyrussell.zsh-theme"
    cat >"$tmp/docker/.zshrc" <<'ZSH'
# staged .zshrc (sandbox)
umask 007
export ZSH="${ZSH:-$HOME/.oh-my-zsh}"
[ -r "$ZSH/oh-my-zsh.sh" ] && source "$ZSH/oh-my-zsh.sh"
ZSH
    chmod 0644 "$tmp/docker/.zshrc" "$tmp/docker/oh-my-zsh/oh-my-zsh.sh" \
        "$tmp/docker/oh-my-zsh/lib/git.zsh" "$tmp/docker/oh-my-zsh/themes/robbyrussell.zsh-theme"

    install -d -m 0755 "$tmp/scratch" "$tmp/usr/local/sbin"
    install -d -m 0555 "$tmp/proc"
    install -d -m 0755 "$tmp/dev"

    # Apt caches and lists are dead weight in every overlay copy-up.
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/cache/apt/*.bin "$tmp"/var/lib/apt/lists/*
    rm -f "$tmp/etc/hostname"
    echo ctr >"$tmp/etc/hostname"
}

stamp=$( { declare -p SEED_USER SEED_UID LAB_GROUP LAB_GID PLACEHOLDER PLACEHOLDER_ID PACKAGES
           declare -f build_tree; } | sha256sum | cut -c1-16)
if [ "$print_stamp" = 1 ]; then
    echo "$stamp"
    exit 0
fi

[ -n "$dest" ] || die "usage: mkrootfs.sh DEST [--cache DIR] | mkrootfs.sh --stamp"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
[ -z "$cache" ] || command -v zstd >/dev/null || die "zstd not found (needed by --cache): apt-get install zstd"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap (or run .ci/install-deps)"
dest=$(realpath -m "$dest")
mkdir -p "$(dirname "$dest")"

# One builder at a time; the others wait and then see the stamp.
exec 9>"$dest.lock"
flock 9

if [ -f "$dest/.sandbox-stamp" ] && [ "$(cat "$dest/.sandbox-stamp")" = "$stamp" ]; then
    exit 0
fi

tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
start=$EPOCHREALTIME

snapshot=""
[ -z "$cache" ] || snapshot="$(realpath -m "$cache")/rootfs-$stamp.tar.zst"

if [ -n "$snapshot" ] && [ -f "$snapshot" ]; then
    echo "$prog: extracting $snapshot" >&2
    tar -C "$tmp" --numeric-owner --xattrs -I zstd -xf "$snapshot"
else
    build_tree "$tmp"
fi

echo "$stamp" >"$tmp/.sandbox-stamp"

if [ -n "$snapshot" ] && [ ! -f "$snapshot" ]; then
    mkdir -p "$(dirname "$snapshot")"
    tar -C "$tmp" --numeric-owner --xattrs -I 'zstd -T0 -3' -cf "$snapshot.tmp" .
    # Snapshots of older versions of this script are dead weight.
    find "$(dirname "$snapshot")" -maxdepth 1 -name 'rootfs-*.tar.zst' ! -name "$(basename "$snapshot")" -delete
    mv "$snapshot.tmp" "$snapshot"
fi

# Swap in atomically (a half-built tree never has the stamp at DEST).
if [ -e "$dest" ]; then
    mv "$dest" "$dest.old"
    rm -rf "$dest.old"
fi
mv "$tmp" "$dest"
elapsed_ms=$(( (${EPOCHREALTIME/./} - ${start/./}) / 1000 ))
echo "$prog: $dest ready in $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000))) s" >&2
