# node_lib.sh: a real sluice node for the container-runtime tests (sourced).
#
#   netns $NODE:  sluice-dp --ctl $DIR/dp-ctl.shm   (AF_XDP on the veth host
#                 ends sluice-cni creates, attached at runtime over the rings)
#                 sluice-ctrl --role=worker         (pod CIDR $POD_CIDR, serves
#                 sluice-cni on ipc://$DIR/agent.ipc)
#
# The runtime (podman, ctr) runs inside $NODE too, so the plugin's veth host
# ends land where dp can take them. Callers set DP, CTRL, DIR, NODE, PREFIX,
# POD_CIDR, GW_IP; then node_up. node_down belongs in their EXIT trap.
# Helpers: fail, n (run in a netns), call (agent request), dp_counter.

NODE_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODE_ROOT=$(cd "$NODE_HERE/../.." && pwd)
DP_PID= CTRL_PID=
NODE_MADE=

fail() {
  echo "FAIL: $*" >&2
  for f in dp ctrl; do
    [ -f "$DIR/$f.log" ] && grep -v "libbpf\|libxdp" "$DIR/$f.log" | tail -15 | sed "s/^/  $f.log: /" >&2
  done
  exit 1
}
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
call() { n "$NODE" "$CTRL" --ipc "ipc://$DIR/agent.ipc" --call "$1"; }

node_up() {
  local eal_mem
  eal_mem=$(bash "$NODE_ROOT/scripts/eal-mem.sh")
  ip netns add "$NODE" && NODE_MADE=1
  ip -n "$NODE" link set lo up
  n "$NODE" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "$POD_CIDR", "gateway_ip": "$GW_IP", "gateway_mac": "02:00:00:00:00:01" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "${PREFIX:0:12}t" } ]
}
JSON
  # Not through n(): a backgrounded function is a subshell, and $! must be
  # the daemon itself so that node_down's kill reaches it.
  ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $eal_mem \
    -- --config "$DIR/dp.json" --idle-backoff-us 200 --ctl "$DIR/dp-ctl.shm" > "$DIR/dp.log" 2>&1 &
  DP_PID=$!
  ip netns exec "$NODE" "$CTRL" --role=worker --state "$DIR/agent.json" --segment "$DIR/dp-ctl.shm" \
    --ipc "ipc://$DIR/agent.ipc" --pod-cidr "$POD_CIDR" --gateway "$GW_IP" \
    --cni-state "$DIR/cni" > "$DIR/ctrl.log" 2>&1 &
  CTRL_PID=$!
  for _ in $(seq 150); do
    grep -q "agent: replayed" "$DIR/ctrl.log" 2>/dev/null && return 0
    kill -0 "$DP_PID" 2>/dev/null || fail "sluice-dp exited"
    kill -0 "$CTRL_PID" 2>/dev/null || fail "sluice-ctrl exited"
    sleep 0.1
  done
  fail "sluice-ctrl never synced with sluice-dp"
}

node_down() {
  [ -n "$CTRL_PID" ] && kill -TERM "$CTRL_PID" 2>/dev/null && wait "$CTRL_PID" 2>/dev/null
  [ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null
  [ -n "$NODE_MADE" ] && ip netns del "$NODE" 2>/dev/null
  rm -rf "/var/run/dpdk/$PREFIX"
}

# One counter of dp's /sluice/stats (docs/dp-telemetry.md).
dp_counter() {
  python3 "$NODE_ROOT/tests/integration/dp_tel.py" "$PREFIX" /sluice/stats --get "$1"
}

# A busybox-static root file system with the applets the tests use.
busybox_rootfs() { # dir
  mkdir -p "$1/bin" "$1/tmp" "$1/proc" "$1/dev" "$1/sys" "$1/etc"
  cp "$(command -v busybox)" "$1/bin/busybox"
  for c in sh ip cat sleep ls ping nc sha256sum head dd true httpd wget mkdir; do ln -sf busybox "$1/bin/$c"; done
}

# Private podman 4.3 configuration under $1 (CNI backend, runc, cgroupfs,
# ulimits a process without CAP_SYS_RESOURCE can set, vfs storage), CNI
# plugins from $1/bin and networks from $1/net.d. Export CONTAINERS_CONF
# and CONTAINERS_STORAGE_CONF as $1/containers.conf and $1/storage.conf.
podman_conf() { # dir
  mkdir -p "$1/bin" "$1/net.d"
  cat > "$1/containers.conf" <<EOC
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["$1/bin"]
network_config_dir = "$1/net.d"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$1/events.log"
tmp_dir = "$1/tmp"
EOC
  cat > "$1/storage.conf" <<EOC
[storage]
driver = "vfs"
runroot = "$1/run"
graphroot = "$1/root"
EOC
}
