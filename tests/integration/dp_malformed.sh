#!/usr/bin/env bash
# dp_malformed: sluice-dp survives malformed frames, counts each under its
# drop reason, and still forwards good traffic afterwards.
#
#   node netns nd$$ runs sluice-dp (af_xdp, or its af_packet fallback)
#
#   pod ns ma$$  eth0 10.77.1.2/24 ── veth ── ma$$h ┐
#                02:00:00:00:01:02                  ├─ sluice-dp  gw 10.77.1.1
#   pod ns mb$$  eth0 10.77.1.3/24 ── veth ── mb$$h ┘             02:00:00:00:00:01
#                02:00:00:00:01:03
#
# 1. pkt_craft.py, inside pod A, sends ~30 kinds of bad frames (truncated
#    IPv4, lying total lengths, IHL < 5 and past the frame, versions 0/6/15,
#    bad checksum, fragment garbage, short and non-Ethernet ARP, VLAN/QinQ,
#    unknown ethertype at max size, IPv6 and a lying IPv6, wrong unicast
#    MAC, IPv4 in broadcast, TTL 1) plus a few good ones, each 3 times, and
#    checks the delta of every drop_* counter in /sluice/stats per case.
# 2. dp's PID is alive and its telemetry answers.
# 3. Good traffic still crosses: ping A -> B, and a UDP datagram A -> B
#    whose payload is read back at B.
# Usage: dp_malformed.sh [path/to/sluice-dp]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DP=${1:-${SLUICE_DP:-$ROOT/build/dp/sluice-dp}}
PY=/usr/bin/python3
S=$$
NS_N=nd$S; NS_A=ma$S; NS_B=mb$S
PREFIX=smal$S
GW_MAC=02:00:00:00:00:01
A_MAC=02:00:00:00:01:02; B_MAC=02:00:00:00:01:03
DIR=$(mktemp -d /tmp/sluice-malformed.XXXXXX)
DP_PID=
PIDS=()

pretty() { echo "[dp_malformed] $*"; }
die() { pretty "FAIL: $*"; [ -f "$DIR/dp.log" ] && { echo "--- dp log:"; tail -30 "$DIR/dp.log"; }; exit 1; }

cleanup() {
  set +e
  local p
  for p in "${PIDS[@]}" $DP_PID; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" $DP_PID; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  for n in "$NS_A" "$NS_B" "$NS_N"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "dp_malformed: needs root"; exit 77; }
[ -x "$DP" ] || { echo "dp_malformed: $DP not built"; exit 77; }
$PY -c 'import scapy' 2>/dev/null || { echo "dp_malformed: python3-scapy missing"; exit 77; }
command -v ethtool >/dev/null || { echo "dp_malformed: ethtool missing"; exit 77; }
bash "$ROOT/scripts/host-setup.sh" >/dev/null
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")
[ -z "$EAL_MEM" ] && EAL_MEM="-m 256"

mkns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  # No IPv6: the kernel's router solicitations and MLD reports would land
  # in dp's ipv6 drop counter and blur the per-case deltas.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
mkpod() { # ns host_end ip mac
  mkns "$1"
  ip link add "$2" netns "$NS_N" type veth peer name eth0 netns "$1"
  ip -n "$1" link set eth0 address "$4"
  ip -n "$1" addr add "$3/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via 10.77.1.1
  # dp forwards frames as the pod's kernel left them and never touches L4
  # checksums: with tx checksum offload on they would stay partial.
  ip netns exec "$1" ethtool -K eth0 tx off >/dev/null
  ip -n "$NS_N" link set "$2" up
}

pretty "topology: node $NS_N, pods $NS_A (10.77.1.2) $NS_B (10.77.1.3)"
mkns "$NS_N"
mkpod "$NS_A" "ma${S}h" 10.77.1.2 "$A_MAC"
mkpod "$NS_B" "mb${S}h" 10.77.1.3 "$B_MAC"

cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "10.77.1.1", "gateway_mac": "$GW_MAC" },
  "ports": [
    { "name": "pa", "type": "af_xdp", "iface": "ma${S}h" },
    { "name": "pb", "type": "af_xdp", "iface": "mb${S}h" }
  ],
  "pods": [
    { "ip": "10.77.1.2", "mac": "$A_MAC", "port": "pa" },
    { "ip": "10.77.1.3", "mac": "$B_MAC", "port": "pb" }
  ]
}
JSON

# One worker lcore; CPUs are whatever the test host has (no pinning
# assumptions beyond two lcores on the first two CPUs).
# ip netns exec remounts /sys, hiding bpffs; mount one in its private
# mount namespace so libxdp can pin its dispatcher.
ip netns exec "$NS_N" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
  -- --config "$DIR/dp.json" > "$DIR/dp.log" 2>&1 &
DP_PID=$!
pretty "sluice-dp pid $DP_PID"

tel() { $PY "$HERE/dp_tel.py" "$PREFIX" "$@"; }
up=0
for _ in $(seq 150); do
  kill -0 "$DP_PID" 2>/dev/null || die "sluice-dp exited during start-up"
  if tel /sluice/stats >/dev/null 2>&1; then up=1; break; fi
  sleep 0.2
done
[ $up = 1 ] || die "telemetry did not answer within 30 s"
grep 'falling back to af_packet' "$DIR/dp.log" || true

# Pod B's sink for the good frames pkt_craft sends to UDP 4001 (3 of 1514 B
# and 3 of 60 B): the far side must see them, and a listener keeps B's
# kernel from answering with ICMP port unreachable, which dp would forward
# and count, blurring the per-case deltas.
ip netns exec "$NS_B" $PY - > "$DIR/sink.out" 2>&1 <<'PY' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.1.3", 4001))
s.settimeout(60)
sizes = []
try:
    while len(sizes) < 6:
        d, src = s.recvfrom(4096)
        if src[0] == "10.77.1.2":
            sizes.append(len(d))
except socket.timeout:
    pass
print(" ".join(str(n) for n in sorted(sizes)))
PY
PIDS+=($!)
sink=${PIDS[-1]}
sleep 0.5

pretty "sending malformed frames from pod A"
ip netns exec "$NS_A" $PY "$HERE/pkt_craft.py" --prefix "$PREFIX" --iface eth0 \
  --src-mac "$A_MAC" --gw-mac "$GW_MAC" --src-ip 10.77.1.2 --dst-ip 10.77.1.3 \
  --gw-ip 10.77.1.1 --absent-ip 10.77.1.99 --count 3 | tee "$DIR/craft.log" || craft_rc=$?
kill -0 "$DP_PID" 2>/dev/null || die "sluice-dp died on malformed input"
tel /sluice/stats >/dev/null || die "telemetry stopped answering"
[ "${craft_rc:-0}" = 0 ] || die "drop counters did not match what was sent (see above)"
pretty "dp alive (pid $DP_PID), telemetry answers"
wait "$sink" || true
[ "$(cat "$DIR/sink.out")" = "18 18 18 1472 1472 1472" ] || \
  die "pod B did not receive the good frames sent among the bad ones: '$(cat "$DIR/sink.out")'"
pretty "pod B received the 6 good datagrams (3 x 18 B, 3 x 1472 B payload)"

pretty "good traffic after the malformed burst"
ip netns exec "$NS_A" ping -c 3 -W 2 10.77.1.3 > "$DIR/ping.log" || { cat "$DIR/ping.log"; die "ping A -> B failed"; }
grep -q '3 received' "$DIR/ping.log" || { cat "$DIR/ping.log"; die "ping A -> B lost replies"; }

# UDP: B binds, A sends a token; B prints what arrived and from whom.
ip netns exec "$NS_B" $PY - > "$DIR/udp.out" 2>&1 <<'PY' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.1.3", 7777))
s.settimeout(10)
d, src = s.recvfrom(2048)
print(src[0], d.decode())
PY
PIDS+=($!)
rcv=${PIDS[-1]}
sleep 0.5
token="sluice-$S-$RANDOM"
ip netns exec "$NS_A" $PY -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'$token', ('10.77.1.3', 7777))"
wait "$rcv" || true
grep -qx "10.77.1.2 $token" "$DIR/udp.out" || { cat "$DIR/udp.out"; die "UDP A -> B did not arrive intact"; }
pretty "ping and UDP A -> B cross sluice-dp"
kill -0 "$DP_PID" 2>/dev/null || die "sluice-dp died"
pretty "PASS"
