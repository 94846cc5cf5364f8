#!/usr/bin/env bash
# cni-bench.sh: BENCHMARK. Prints (1) sluice-cni ADD and DEL latency, p50 /
# p99 / max over N pods, against a real node (tests/cni/node_lib.sh:
# sluice-dp + sluice-ctrl --role=worker; ADD allocates, creates the veth,
# attaches it to dp over the rings), and (2) the wall time of
# `podman run --rm IMG true` on the sluice network against podman's bridge
# plugin network, median of R runs each, in the same run.
#
# Latency is measured around the plugin's exec, as a runtime sees it
# (process start, config parse, nanomsg round trip to the agent, netlink,
# state files); the plugin runs under `nsenter --net` into the node netns,
# whose own cost is in the VERSION line (no agent, no kernel work).
#
#   sudo bash perf/cni-bench.sh [BUILD_DIR=build] [N=200] [R=10]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build} N=${2:-200} R=${3:-10}
DP=$BUILD/dp/sluice-dp CTRL=$BUILD/ctrl/sluice-ctrl CNI=$BUILD/cni-shim/sluice-cni
[ "$(id -u)" = 0 ] || { echo "cni-bench: needs root" >&2; exit 2; }
NODE=cbn-$$ PREFIX=sl-cbench-$$ POD_CIDR=10.81.0.0/16 GW_IP=10.81.0.1
DIR=$(mktemp -d /tmp/sluice-cni-bench-XXXXXX)
. "$ROOT/tests/cni/node_lib.sh"
img=localhost/sluice-bb:$$
pm() { nsenter --net="/var/run/netns/$NODE" podman "$@"; }
cleanup() {
  set +e
  for i in $(seq "$N"); do ip netns del "cbp$i-$$" 2>/dev/null; done
  pm rmi -f "$img" >/dev/null 2>&1
  ip -n "$NODE" link del "cbbr$(( $$ % 100000 ))" 2>/dev/null
  node_down
  rm -rf "$DIR"
}
trap cleanup EXIT

node_up
for i in $(seq "$N"); do ip netns add "cbp$i-$$"; done
conf=$(printf '{"cniVersion":"1.1.0","name":"bench","type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/st"}' "$DIR" "$DIR")

run() { # cmd i
  echo "$conf" | nsenter --net="/var/run/netns/$NODE" env -i CNI_COMMAND="$1" CNI_CONTAINERID="bench$2" \
    CNI_NETNS="/var/run/netns/cbp$2-$$" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "$CNI" >/dev/null
}
measure() { # cmd first last file -> failures; appends one latency (ns) per line
  local fails=0
  for i in $(seq "$2" "$3"); do
    t0=$(date +%s%N)
    run "$1" "$i" || fails=$((fails+1))
    echo $(( $(date +%s%N) - t0 )) >> "$4"
  done
  echo "$fails"
}
pct() { # file label extra
  sort -n "$1" | awk -v label="$2" -v extra="$3" '{ v[NR] = $1 }
    END { p50 = v[int((NR + 1) * 0.50)]; p99 = v[int(NR * 0.99 + 0.5)]; if (p99 == "") p99 = v[NR];
          printf "%-34s n=%-4d p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  %s\n",
                 label, NR, p50 / 1e6, p99 / 1e6, v[NR] / 1e6, extra }'
}

# sluice-dp holds 256 ports (DP_MAX_PORTS, one per veth pod, plus its tap),
# but every port is an ethdev and Debian's DPDK has RTE_MAX_ETHPORTS 32: the
# N pods go through in waves of W (100, or the ethdevs left beside the
# tap), each wave added then deleted, so every ADD and DEL is a real
# attach/detach in dp.
W=100 maxeth=
for d in $(pkg-config --cflags-only-I libdpdk 2>/dev/null); do
  f=${d#-I}/rte_build_config.h
  [ -f "$f" ] && maxeth=$(sed -n 's/^#define RTE_MAX_ETHPORTS \([0-9]*\).*/\1/p' "$f") && break
done
[ -n "$maxeth" ] && [ "$W" -gt $((maxeth - 1)) ] && W=$((maxeth - 1))
echo "== sluice-cni latency against a real agent + sluice-dp: $N pods in waves of $W ($(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg))"
: > "$DIR/version"; f=$(measure VERSION 1 "$N" "$DIR/version"); pct "$DIR/version" "VERSION (exec + nsenter floor)" "failures=$f"
: > "$DIR/add"; : > "$DIR/del"; fa=0 fd=0 held=0
for first in $(seq 1 "$W" "$N"); do
  last=$(( first + W - 1 )); [ "$last" -gt "$N" ] && last=$N
  fa=$(( fa + $(measure ADD "$first" "$last" "$DIR/add") ))
  p=$(call '{"op":"status"}' | sed -n 's/.*"pods":\([0-9]*\).*/\1/p')
  [ "${p:-0}" -gt "$held" ] && held=$p
  fd=$(( fd + $(measure DEL "$first" "$last" "$DIR/del") ))
done
pct "$DIR/add" "ADD (veth, AF_XDP attach in dp)" "failures=$fa"
pct "$DIR/del" "DEL (detach)" "failures=$fd, at most $held pods at once"

echo "== podman run --rm IMG true: sluice vs bridge plugin, $R runs each, same node"
podman_conf "$DIR/pm"
export CONTAINERS_CONF=$DIR/pm/containers.conf CONTAINERS_STORAGE_CONF=$DIR/pm/storage.conf
# The bridge network needs the reference plugins next to sluice-cni.
sed -i "s|cni_plugin_dirs = \[\"$DIR/pm/bin\"\]|cni_plugin_dirs = [\"$DIR/pm/bin\", \"/usr/lib/cni\"]|" "$CONTAINERS_CONF"
cp "$CNI" "$DIR/pm/bin/sluice-cni"
printf '{"cniVersion":"1.0.0","name":"sl-bench","plugins":[{"type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/st2"}]}\n' \
  "$DIR" "$DIR" > "$DIR/pm/net.d/sl-bench.conflist"
printf '{"cniVersion":"1.0.0","name":"br-bench","plugins":[{"type":"bridge","bridge":"cbbr%s","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.82.0.0/16"}]],"dataDir":"%s/hl"}}]}\n' \
  "$(( $$ % 100000 ))" "$DIR" > "$DIR/pm/net.d/br-bench.conflist"
busybox_rootfs "$DIR/rootfs"
tar -C "$DIR/rootfs" -c . | pm import - "$img" >/dev/null 2>&1
for net in none sl-bench br-bench; do
  pm run --rm --network "$net" "$img" true >/dev/null 2>&1 # warm-up: layers, caches
  : > "$DIR/pm-$net"
  for _ in $(seq "$R"); do
    t0=$(date +%s%N)
    pm run --rm --network "$net" "$img" true >/dev/null 2>&1 || echo "podman run on $net failed" >&2
    echo $(( $(date +%s%N) - t0 )) >> "$DIR/pm-$net"
  done
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=$(med "$DIR/pm-none")
for net in none sl-bench br-bench; do
  m=$(med "$DIR/pm-$net")
  awk -v net="$net" -v m="$m" -v b="$base" 'BEGIN {
    printf "podman run --network %-9s median %7.1f ms  (+%6.1f ms over none)\n", net, m / 1e6, (m - b) / 1e6 }'
done
