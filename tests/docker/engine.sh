#!/bin/bash
# engine.sh DIR
#
# Runs the image tests' own Docker engine, with everything under DIR, until
# it gets SIGTERM (the test harness starts it with SIGTERM as its
# parent-death signal, so that happens when the test process exits, however
# it exits). Then it stops dockerd, then containerd, and unmounts what
# dockerd leaves mounted under DIR (its bind mount of the host's network
# namespace), so nothing of the engine outlives the tests.
#
# - Our own containerd: dockerd adopts a system one it finds at
#   /run/containerd/containerd.sock, and the tests must not use the
#   machine's engine or share its containers.
# - Our own (empty) daemon.json and identity key: dockerd otherwise reads
#   /etc/docker/daemon.json (a machine's settings there can clash with the
#   flags below) and creates /etc/docker/key.json.
# - No bridge, no iptables rules, no ip_forward, no masquerading: nothing of
#   the host's network changes, and engines of concurrent runs cannot
#   collide on docker0. Containers run with --network none; builds use the
#   host's network.
# - DIR/docker.sock is the engine's socket (DOCKER_HOST=unix://DIR/docker.sock);
#   logs are DIR/containerd.log and DIR/dockerd.log.
#
# Needs root and Debian's docker.io (dockerd, containerd, runc).
set -euo pipefail

prog=engine
die() { echo "$prog: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: engine.sh DIR"
dir=$(realpath -m "$1")
run=$dir/run
mkdir -p "$run"

unmount_leftovers() {
    # Deepest first; lazily, so a busy one does not stop the rest.
    local targets target
    targets=$(findmnt -rn -o TARGET | grep -F "$run/" | sort -r) || return 0
    for target in $targets; do
        umount -l "$target" || true
    done
}
unmount_leftovers

cat >"$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd"
state = "$run/containerd"
# No Kubernetes here.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  address = ""
TOML

# deprecated-key-path: where dockerd keeps its identity key (default /etc/docker).
cat >"$dir/daemon.json" <<JSON
{"deprecated-key-path": "$dir/key.json"}
JSON

containerd --config "$dir/containerd.toml" </dev/null >"$dir/containerd.log" 2>&1 &
containerd_pid=$!
dockerd --config-file "$dir/daemon.json" \
    --containerd "$run/containerd.sock" --data-root "$dir/data" --exec-root "$run/docker" \
    --pidfile "$dir/dockerd.pid" --host "unix://$dir/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false --log-level=warn </dev/null >"$dir/dockerd.log" 2>&1 &
dockerd_pid=$!

stop() {
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    kill -TERM "$containerd_pid" 2>/dev/null || true
    wait "$containerd_pid" 2>/dev/null || true
    unmount_leftovers
}
trap 'stop; exit 0' TERM INT HUP

# Until a signal, or until one of the two dies on its own (then the tests
# see the engine gone, and the reason is in its log).
wait -n "$containerd_pid" "$dockerd_pid" || true
stop
die "the engine stopped by itself: see $dir/dockerd.log and $dir/containerd.log"
