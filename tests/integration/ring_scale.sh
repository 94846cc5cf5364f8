#!/usr/bin/env bash
# ring_scale: thousands of pods and routes added and removed through
# sluice-ctrl (IPC batches -> rings -> sluice-dp) while traffic flows.
# Topology: see ring_lib.sh. Pods a, b, c are real (netns + AF_XDP veth);
# the bulk pods are extra addresses behind pod c's port and the bulk
# routes are /24s outside the pod CIDR towards pod c's port.
#
# Asserts, at the far side and in dp's tables:
#   the a -> b UDP stream (1000 pps) loses nothing and nothing of it shows
#   up on pod c's interface (no misrouted packet) while RING_SCALE_PODS
#   pods (default 10000) and RING_SCALE_ROUTES routes (default 10000; dp's
#   route table holds 16384) are added in batches, checked present in dp's
#   telemetry, then removed; dp ends with exactly pods a, b, c and no
#   route; a datagram sent to one bulk pod reaches pod c's interface
#   (routed where the table says). Prints the add/remove rates seen.
#
# Usage: ring_scale.sh /path/to/sluice-dp /path/to/sluice-ctrl
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?usage: $0 sluice-dp sluice-ctrl}
NPODS=${RING_SCALE_PODS:-10000}
NROUTES=${RING_SCALE_ROUTES:-10000}
BATCH=1000
source "$(dirname "$0")/ring_lib.sh"

setup_topology
start_dp
start_ctrl
wait_logged "replayed 0 ports" ctrl 1 10
add_pods
ping_ok 0 "${IPS[1]}"
ping_ok 0 "${IPS[2]}"

# batch OP FIRST COUNT: one IPC request of COUNT bulk operations on stdin.
batch() {
  python3 - "$1" "$2" "$3" <<'PY' | ip netns exec "$NODE" "$CTRL" --ipc "$IPC" --call - > "$DIR/batch.out" \
    || { head -c 600 "$DIR/batch.out" >&2; fail "batch $1 $2+$3"; }
import json, sys
op, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ops = []
for i in range(first, first + count):
    name = f"bulk-{i}"
    ip = f"10.77.{100 + i // 250}.{2 + i % 250}"
    mac = "02:01:%02x:%02x:%02x:01" % (i >> 16, (i >> 8) & 255, i & 255)
    pfx = f"10.{100 + i // 256}.{i % 256}.0/24"
    if op == "pod_add":
        ops.append({"op": "pod_add", "name": name, "ip": ip, "mac": mac, "port": "pc"})
    elif op == "pod_del":
        ops.append({"op": "pod_del", "name": name})
    elif op == "route_add":
        ops.append({"op": "route_add", "prefix": pfx, "node": 2, "port": "pc", "nh_mac": "02:00:00:00:09:09"})
    else:
        ops.append({"op": "route_del", "prefix": pfx})
print(json.dumps({"op": "batch", "ops": ops}))
PY
  grep -q '"dp_errors":0' "$DIR/batch.out" || { head -c 600 "$DIR/batch.out" >&2; fail "dp refused part of batch $1 $2+$3"; }
}

run_all() { # op total
  local i=0
  while [ "$i" -lt "$2" ]; do
    local c=$BATCH; [ $((i + c)) -gt "$2" ] && c=$(( $2 - i ))
    batch "$1" "$i" "$c"
    i=$((i + c))
  done
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

pretty scale "$NPODS pods and $NROUTES routes in and out while a -> b streams"
n "${PODS[2]}" python3 "$UDP" sniff eth0 7010 "$DIR/sniff.json" 40 &
SNIFF=$!; BG_PIDS+=($SNIFF)
start_stream 7010 1000 30
sleep 1
t0=$(now_ms); run_all pod_add "$NPODS"; t1=$(now_ms)
run_all route_add "$NROUTES"; t2=$(now_ms)
[ "$(tel /sluice/pods count)" = $((NPODS + 3)) ] || fail "dp holds $(tel /sluice/pods count) pods, want $((NPODS + 3))"
[ "$(tel /sluice/pods routes)" = "$NROUTES" ] || fail "dp holds $(tel /sluice/pods routes) routes, want $NROUTES"
pretty scale "added: $NPODS pods in $((t1 - t0)) ms, $NROUTES routes in $((t2 - t1)) ms; dp holds them all"

# One datagram to a bulk pod must come out of pod c's port.
n "${PODS[2]}" python3 "$UDP" sniff eth0 7011 "$DIR/sniff2.json" 3 &
S2=$!; BG_PIDS+=($S2)
sleep 0.5
n "${PODS[0]}" python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("10.77.100.2", 7011)) for _ in range(5)]'
wait "$S2" || true
[ "$(jget "$DIR/sniff2.json" hits)" -ge 1 ] || fail "datagram to bulk pod 10.77.100.2 did not reach pod c's port"

t3=$(now_ms); run_all pod_del "$NPODS"; t4=$(now_ms)
run_all route_del "$NROUTES"; t5=$(now_ms)
[ "$(tel /sluice/pods count)" = 3 ] || fail "dp holds $(tel /sluice/pods count) pods after removal, want 3"
[ "$(tel /sluice/pods routes)" = 0 ] || fail "dp holds $(tel /sluice/pods routes) routes after removal, want 0"
pretty scale "removed: $NPODS pods in $((t4 - t3)) ms, $NROUTES routes in $((t5 - t4)) ms"

finish_stream 7010
wait "$SNIFF" || true
[ "$(jget "$DIR/stream-7010.json" lost)" = 0 ] || fail "a -> b lost packets during the churn"
[ "$(jget "$DIR/sniff.json" hits)" = 0 ] || fail "$(jget "$DIR/sniff.json" hits) stream packets misrouted to pod c"
echo "ring_scale: pods=$NPODS routes=$NROUTES add_pods_per_s=$(( NPODS * 1000 / (t1 - t0 + 1) )) add_routes_per_s=$(( NROUTES * 1000 / (t2 - t1 + 1) )) del_pods_per_s=$(( NPODS * 1000 / (t4 - t3 + 1) )) stream_lost=0 misrouted=0 load=$(cut -d' ' -f1 /proc/loadavg)"
pretty done "all ring_scale checks passed"
