#!/usr/bin/env bash
# sluice single-node demo: the README's first command. As root:
#   bash scripts/demo.sh            run the demo, then tear everything down
#   bash scripts/demo.sh --keep     leave it running until Ctrl-C to explore
#
# It installs dependencies, prepares hugepages, builds into build-demo/,
# then builds one node with three pods and runs sluice-dp for it:
#
#   node netns sdn$$ (the "node"): sluice-dp, and the host side of its tap
#     sdt$$ 10.77.1.254/24 ── tap ──┐
#   pod sd1$$ eth0 10.77.1.2 ─ veth ─┤
#   pod sd2$$ eth0 10.77.1.3 ─ veth ─┼─ sluice-dp (af_xdp; gateway 10.77.1.1)
#   pod sd3$$ eth0 10.77.1.4 ─ veth ─┘
#
# and shows pod <-> pod ping, a TCP transfer between pods (checked by
# SHA-256 at the far end), node -> pod ping through the tap, and sluice-dp's
# telemetry counters. Only the namespaces, links and processes it created
# are removed on exit or Ctrl-C. A later issue grows this into a
# multi-node cluster with sluice-ctrl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
S=$$
NODE=sdn-$S
PODS=(sd1-$S sd2-$S sd3-$S)
IPS=(10.77.1.2 10.77.1.3 10.77.1.4)
MACS=(02:00:00:00:01:02 02:00:00:00:01:03 02:00:00:00:01:04)
TAP=sdt-$S
GW_IP=10.77.1.1
GW_MAC=02:00:00:00:00:01
HOST_IP=10.77.1.254
PREFIX=sdemo$S
PY=/usr/bin/python3
BUILD=build-demo
DIR=
DP_PID=
PIDS=()
MADE_NS=()
STEP=0
NSTEPS=9

step() { STEP=$((STEP + 1)); printf '\n\033[1m==> [%d/%d] %s\033[0m\n' "$STEP" "$NSTEPS" "$*"; }
say() { echo "    $*"; }
fail() { echo "demo: FAILED: $*" >&2; [ -n "$DIR" ] && [ -f "$DIR/dp.log" ] && tail -20 "$DIR/dp.log" >&2; exit 1; }

cleanup() {
  local rc=$? p n
  set +e
  trap - EXIT INT TERM
  [ ${#MADE_NS[@]} -gt 0 ] && printf '\n==> tearing down\n'
  for p in "${PIDS[@]}" $DP_PID; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" $DP_PID; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  [ -n "$DP_PID" ] && [ -f "$DIR/dp.log" ] && say "$(grep -m1 'shutdown' "$DIR/dp.log" || echo 'sluice-dp stopped')"
  for n in "${MADE_NS[@]}"; do ip netns del "$n" 2>/dev/null && say "removed netns $n"; done
  [ -n "$DIR" ] && rm -rf "$DIR"
  rm -rf "/var/run/dpdk/$PREFIX"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces and uses hugepages)" >&2; exit 2; }

step "installing dependencies (scripts/deps.sh)"
bash scripts/deps.sh
step "preparing the host (scripts/host-setup.sh: hugepages, hugetlbfs, bpffs)"
bash scripts/host-setup.sh
EAL_MEM=$(bash scripts/eal-mem.sh)
[ -z "$EAL_MEM" ] && EAL_MEM="-m 256"

step "building into $BUILD/"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" > /tmp/sluice-demo-build.$S.log 2>&1 || { tail -30 /tmp/sluice-demo-build.$S.log; fail "build failed"; }
rm -f /tmp/sluice-demo-build.$S.log
DP=$BUILD/dp/sluice-dp
[ -x "$DP" ] || fail "$DP was not built"
say "built $DP"

DIR=$(mktemp -d /tmp/sluice-demo.XXXXXX)

step "creating node $NODE with 3 pods"
mkns() {
  ip netns add "$1"; MADE_NS+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
mkns "$NODE"
for i in 0 1 2; do
  p=${PODS[$i]}
  mkns "$p"
  ip link add "${p}h" netns "$NODE" type veth peer name eth0 netns "$p"
  ip -n "$p" link set eth0 address "${MACS[$i]}"
  ip -n "$p" addr add "${IPS[$i]}/24" dev eth0
  ip -n "$p" link set eth0 up
  ip -n "$p" route add default via "$GW_IP"
  # dp forwards frames as the pod's kernel left them and never fills in
  # L4 checksums, so pods compute them instead of offloading.
  ip netns exec "$p" ethtool -K eth0 tx off >/dev/null
  ip -n "$NODE" link set "${p}h" up
  say "pod $p: eth0 ${IPS[$i]} ${MACS[$i]}  <->  ${p}h in $NODE"
done

step "starting sluice-dp in $NODE"
pods_json=$(for i in 0 1 2; do printf '%s    { "ip": "%s", "mac": "%s", "port": "p%d" }' \
  "$([ $i = 0 ] || echo ,$'\n')" "${IPS[$i]}" "${MACS[$i]}" "$((i + 1))"; done)
cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "$GW_IP", "gateway_mac": "$GW_MAC" },
  "ports": [
    { "name": "p1", "type": "af_xdp", "iface": "${PODS[0]}h" },
    { "name": "p2", "type": "af_xdp", "iface": "${PODS[1]}h" },
    { "name": "p3", "type": "af_xdp", "iface": "${PODS[2]}h" },
    { "name": "tap0", "type": "tap", "iface": "$TAP" }
  ],
  "pods": [
$pods_json
  ],
  "host": { "port": "tap0", "ip": "$HOST_IP" }
}
JSON
"$DP" -- --config "$DIR/dp.json" --check-config >/dev/null || fail "config rejected"
ncpu=$(nproc)
lcores=0,1; [ "$ncpu" -lt 2 ] && lcores="0@0,1@0"
# ip netns exec remounts /sys, hiding bpffs: mount one for libxdp.
ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh "$DP" --lcores "$lcores" --file-prefix "$PREFIX" --no-pci $EAL_MEM \
  -- --config "$DIR/dp.json" > "$DIR/dp.log" 2>&1 &
DP_PID=$!
say "sluice-dp pid $DP_PID, config $DIR/dp.json, log $DIR/dp.log"
for _ in $(seq 150); do
  kill -0 "$DP_PID" 2>/dev/null || fail "sluice-dp exited"
  ip -n "$NODE" link show "$TAP" >/dev/null 2>&1 && \
    $PY tests/integration/dp_tel.py "$PREFIX" /sluice/stats >/dev/null 2>&1 && break
  sleep 0.2
done
ip -n "$NODE" link show "$TAP" >/dev/null 2>&1 || fail "tap $TAP did not appear"
ip -n "$NODE" addr add "$HOST_IP/24" dev "$TAP"
ip -n "$NODE" link set "$TAP" up
grep 'falling back to af_packet' "$DIR/dp.log" | sed 's/^/    /' || true
say "tap $TAP up in $NODE as $HOST_IP (the node's exception path)"

step "pod <-> pod ping through sluice-dp"
for pair in "0 1" "1 2" "2 0"; do
  set -- $pair
  ok=0
  for _ in 1 2 3 4 5; do   # the first ARP may race the ports coming up
    if ip netns exec "${PODS[$1]}" ping -c 3 -i 0.2 -W 1 "${IPS[$2]}" > "$DIR/ping.log" 2>&1; then ok=1; break; fi
    sleep 0.5
  done
  [ $ok = 1 ] || { cat "$DIR/ping.log"; fail "ping ${IPS[$1]} -> ${IPS[$2]}"; }
  say "${PODS[$1]} -> ${PODS[$2]}: $(tail -1 "$DIR/ping.log")"
done

step "TCP transfer pod ${PODS[0]} -> pod ${PODS[2]} (32 MiB, SHA-256 checked)"
ip netns exec "${PODS[2]}" $PY - "${IPS[2]}" > "$DIR/tcp-server.out" 2>&1 <<'PY' &
import hashlib, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5201)); s.listen(1); s.settimeout(30)
c, peer = s.accept(); c.settimeout(30)
h, n, t0 = hashlib.sha256(), 0, time.time()
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    h.update(d); n += len(d)
dt = time.time() - t0
print("%d %s %.3f %s" % (n, h.hexdigest(), dt, peer[0]))
PY
srv=$!; PIDS+=("$srv")
sleep 0.5
sent=$(ip netns exec "${PODS[0]}" $PY - "${IPS[2]}" <<'PY'
import hashlib, os, socket, sys
data = os.urandom(32 << 20)
s = socket.create_connection((sys.argv[1], 5201), timeout=30)
s.sendall(data); s.close()
print(hashlib.sha256(data).hexdigest())
PY
) || fail "TCP client failed"
wait "$srv" || true
read -r n sha dt peer < "$DIR/tcp-server.out" || fail "TCP server got nothing: $(cat "$DIR/tcp-server.out")"
[ "$sha" = "$sent" ] || fail "TCP data corrupted (sent $sent, got $sha)"
say "received $n bytes from $peer in ${dt}s ($(awk -v n="$n" -v t="$dt" 'BEGIN { printf "%.0f", n * 8 / t / 1e6 }') Mbit/s), SHA-256 matches"

step "node -> pod ping through the tap"
for i in 0 1 2; do
  ok=0
  for _ in 1 2 3; do
    if ip netns exec "$NODE" ping -c 2 -i 0.2 -W 1 "${IPS[$i]}" > "$DIR/ping.log" 2>&1; then ok=1; break; fi
    sleep 0.5
  done
  [ $ok = 1 ] || { cat "$DIR/ping.log"; fail "node -> ${IPS[$i]}"; }
  say "$NODE ($HOST_IP) -> ${PODS[$i]}: $(tail -1 "$DIR/ping.log")"
done

step "sluice-dp telemetry (/sluice/stats, non-zero counters)"
$PY - "$PREFIX" <<'PY'
import json, sys
sys.path.insert(0, "tests/integration")
import dp_tel
v = dp_tel.query(sys.argv[1], "/sluice/stats")
def walk(x, path=""):
    if isinstance(x, dict):
        for k in sorted(x):
            walk(x[k], path + "." + k if path else k)
    elif isinstance(x, list):
        for i, y in enumerate(x):
            walk(y, "%s[%d]" % (path, i))
    elif x not in (0, None, "", False):
        print("    %-40s %s" % (path, x))
walk(v)
PY
kill -0 "$DP_PID" || fail "sluice-dp died"

echo
echo "demo: all steps passed."
if [ $KEEP = 1 ]; then
  echo "demo: running until Ctrl-C. Try:"
  echo "  ip netns exec ${PODS[0]} ping ${IPS[1]}"
  echo "  ip netns exec $NODE ping ${IPS[2]}"
  echo "  $PY tests/integration/dp_tel.py $PREFIX /sluice/stats"
  while kill -0 "$DP_PID" 2>/dev/null; do sleep 1; done
  fail "sluice-dp exited"
fi
