#!/usr/bin/env bash
# mn-bench: cross-node pod -> pod TCP throughput (iperf3, one stream,
# MN_TIME seconds) on the two-node netns cluster of tests/multinode
# (topology in tests/multinode/mn_lib.sh), three ways back to back:
#   direct  sluice-dp on both nodes, pod packets routed on the underlay L2
#   vxlan   sluice-dp on both nodes, VXLAN (VNI 4242) between the node IPs
#   kernel  no dp: the nodes' kernels route the pods (veth host ends with
#           the gateway IPs) over Linux vxlan devices between the same
#           namespaces (id 4242, port 4789, MTU 1450) - the baseline
# Prints one table: Gbit/s at the receiver, sender retransmits, and the
# pod -> pod ping RTT (avg of MN_PINGS at 10 ms). Both dps' workers get
# their own CPU (dp1 worker on CPU 1, dp2 worker on CPU 0); iperf3 shares
# them, as do other jobs on this host: figures are indicative.
#
# Env: MN_TIME (10), MN_PINGS (200), SLUICE_BUILD. Root. 77 without iperf3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SLUICE_BUILD:-$ROOT/build}
DP=$BUILD/dp/sluice-dp
T=${MN_TIME:-10}
NP=${MN_PINGS:-200}
[ "$(id -u)" = 0 ] || { echo "mn-bench: needs root" >&2; exit 77; }
command -v iperf3 >/dev/null || { echo "skip: iperf3 missing" >&2; exit 77; }
[ -x "$DP" ] || { echo "mn-bench: $DP not built" >&2; exit 1; }
# shellcheck source=../tests/multinode/mn_lib.sh
source "$ROOT/tests/multinode/mn_lib.sh"
IPERF_PID=
bench_cleanup() {
  set +e
  [ -n "$IPERF_PID" ] && { kill "$IPERF_PID" 2>/dev/null; wait "$IPERF_PID" 2>/dev/null; }
  mn_cleanup
}
trap bench_cleanup EXIT
MN_LCORES[1]="-l 0,1"
MN_LCORES[2]="--lcores 0@1,1@0"

# iperf3 pod1 -> pod2; prints "<Gbit/s> <retransmits> <avg rtt ms>"
measure() {
  local out
  n "$(mn_pod 2)" iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
  IPERF_PID=$!
  for _ in $(seq 50); do n "$(mn_pod 2)" ss -ltn | grep -q ':5301 ' && break; sleep 0.1; done
  # warm-up: ARP, PMTU (VXLAN: the first full-size segment learns 1450)
  n "$(mn_pod 1)" ping -q -c 3 -i 0.2 -w 10 "$(mn_pod_ip 2)" >/dev/null || true
  out=$(n "$(mn_pod 1)" iperf3 -c "$(mn_pod_ip 2)" -p 5301 -t "$T" -J)
  wait "$IPERF_PID" 2>/dev/null || true
  IPERF_PID=
  local rtt
  rtt=$(n "$(mn_pod 1)" ping -q -c "$NP" -i 0.01 "$(mn_pod_ip 2)" | awk -F/ '/^rtt/ {print $5}')
  python3 -c '
import json, sys
j = json.loads(sys.argv[1])["end"]
print("%.2f %d %s" % (j["sum_received"]["bits_per_second"] / 1e9, j["sum_sent"].get("retransmits", -1), sys.argv[2]))' "$out" "${rtt:-nan}"
}

mn_setup
declare -A R
for mode in direct vxlan; do
  mn_start_dp 1 "$mode" || { cat "$MN_DIR/dp1.log" >&2; exit 1; }
  mn_start_dp 2 "$mode" || { cat "$MN_DIR/dp2.log" >&2; exit 1; }
  R[$mode]=$(measure)
  for i in 1 2; do
    echo "  dp$i $mode: $(mn_tel "$i" /sluice/stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("rx %d forwarded %d vxlan_encap %d drops %d" % (s["rx"], s["forwarded"], s["vxlan_encap"], s["drop_total"]))')" >&2
    mn_stop_dp "$i"
  done
done

# Kernel baseline: the same namespaces, no dp.
for i in 1 2; do
  o=$((3 - i)); node=$(mn_node $i)
  n "$node" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$node" addr add "$(mn_gw_ip $i)/24" dev "mh$i-$MN_ID"
  ip -n "$node" link add "vx$i-$MN_ID" type vxlan id "$MN_VNI" local "$(mn_node_ip $i)" \
    remote "$(mn_node_ip $o)" dstport 4789 dev "ul$i-$MN_ID"
  ip -n "$node" addr add "10.99.0.$i/24" dev "vx$i-$MN_ID"
  ip -n "$node" link set "vx$i-$MN_ID" up
  ip -n "$node" route add "10.78.$o.0/24" via "10.99.0.$o" dev "vx$i-$MN_ID"
done
R[kernel]=$(measure)

echo "mn-bench: cross-node pod -> pod, iperf3 TCP 1 stream ${T}s, ping ${NP}x10ms ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-28s %10s %12s %12s\n' path Gbit/s retransmits "rtt avg ms"
for m in direct vxlan kernel; do
  read -r g r l <<< "${R[$m]}"
  case $m in
    direct) label="sluice-dp direct" ;;
    vxlan) label="sluice-dp VXLAN" ;;
    kernel) label="kernel VXLAN (baseline)" ;;
  esac
  printf '%-28s %10s %12s %12s\n' "$label" "$g" "$r" "$l"
done
