#!/usr/bin/env bash
# dp_pod_network: one node, three pods, sluice-dp in the middle.
#
#   netns dpp1-$$             netns dpp2-$$             netns dpp3-$$
#   eth0 10.77.1.2            eth0 10.77.1.3            eth0 10.77.1.4
#   02:00:00:00:01:02         02:00:00:00:01:03         02:00:00:00:01:04
#        |  veth                   |  veth                   |  veth
#   dph1-$$ ------------+     dph2-$$ ------------+     dph3-$$ ----+
#                       |                         |                 |
#   netns dpn-$$ (the node)     sluice-dp (AF_XDP on dph1..3, gateway
#                               10.77.1.1 / 02:00:00:00:00:01)
#                                     |
#                               tap dpt-$$ 10.77.1.254/24 (host exception path)
#
# Asserts, each on what arrives at the far side:
#   pod <-> pod ping both ways; a TCP stream (1 MiB, SHA-256 compared at the
#   receiver) and a UDP exchange (every datagram echoed and compared) across
#   dp; node <-> pod ping through the tap; ping -t 1 gets ICMP time exceeded
#   from the gateway; an unknown pod-CIDR address gets host unreachable and
#   is counted as drop_no_pod, an address outside every route as
#   drop_no_route; dp's forwarded/ttl/drop counters move by exactly what was
#   sent; SIGTERM gives a clean exit 0 with the shutdown line. Then dp is
#   restarted without CAP_BPF: every af_xdp port must fall back to
#   af_packet and pods must still reach each other.
#
# Usage: dp_pod_network.sh /path/to/sluice-dp
set -euo pipefail

DP=${1:?usage: $0 /path/to/sluice-dp}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")

NODE=dpn-$$
PODS=(dpp1-$$ dpp2-$$ dpp3-$$)
HOSTENDS=(dph1-$$ dph2-$$ dph3-$$)
IPS=(10.77.1.2 10.77.1.3 10.77.1.4)
MACS=(02:00:00:00:01:02 02:00:00:00:01:03 02:00:00:00:01:04)
TAP=dpt-$$
GW_IP=10.77.1.1
GW_MAC=02:00:00:00:00:01
HOST_IP=10.77.1.254
PREFIX=sl-dppn-$$
DIR=$(mktemp -d /tmp/dp_pod_network.XXXXXX)
DP_PID=
BG_PIDS=()
MADE_NS=()

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() {
  echo "FAIL: $*" >&2
  [ -f "$DIR/dp.log" ] && sed 's/^/  dp.log: /' "$DIR/dp.log" | tail -20 >&2
  exit 1
}
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "$DP_PID" ] && kill -0 "$DP_PID" 2>/dev/null; then
    kill -TERM "$DP_PID"; wait "$DP_PID" 2>/dev/null
  fi
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

# Telemetry: one command over the SEQPACKET socket, print the value at a
# ","-separated key path (telemetry keys may contain "/").
tel() { # cmd [key]
  python3 - "$PREFIX" "$1" "${2:-}" <<'PY'
import json, socket, sys
prefix, cmd, key = sys.argv[1:4]
for attempt in range(3):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    try:
        s.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        hello = json.loads(s.recv(65536))
        s.send(cmd.encode())
        v = json.loads(s.recv(int(hello["max_output_len"]) + 1024))[cmd.split(",")[0]]
        break
    except TimeoutError:
        # seen once on a 2-core host at load 7: say so, retry
        print(f"tel: {cmd}: no answer in 10 s (attempt {attempt + 1})", file=sys.stderr)
        s.close()
else:
    sys.exit(1)
for k in key.split(",") if key else []:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
PY
}
stat() { tel /sluice/stats "$1"; }

[ "$(id -u)" = 0 ] || { echo "dp_pod_network: needs root"; exit 77; }
[ -x "$DP" ] || fail "$DP is not executable"

. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib/netns.sh" # tx_csum_off, mkns

mkns "$NODE"
for i in 0 1 2; do
  p=${PODS[$i]}
  mkns "$p"
  ip link add "${HOSTENDS[$i]}" netns "$NODE" type veth peer name eth0 netns "$p"
  ip -n "$p" link set eth0 address "${MACS[$i]}"
  ip -n "$p" addr add "${IPS[$i]}/24" dev eth0
  ip -n "$p" link set eth0 up
  ip -n "$p" route add default via "$GW_IP"
  # dp never touches L4 checksums and AF_XDP hands dp the frame as the
  # pod's kernel left it: with tx checksum offload on, TCP/UDP checksums
  # would still be partial. Compute them in the pod.
  n "$p" bash -c "$(declare -f tx_csum_off); tx_csum_off eth0"
  ip -n "$NODE" link set "${HOSTENDS[$i]}" up
done

cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "$GW_IP", "gateway_mac": "$GW_MAC",
            "icmp_rate": 1000, "icmp_burst": 100 },
  "ports": [
    { "name": "p1", "type": "af_xdp", "iface": "${HOSTENDS[0]}" },
    { "name": "p2", "type": "af_xdp", "iface": "${HOSTENDS[1]}" },
    { "name": "p3", "type": "af_xdp", "iface": "${HOSTENDS[2]}" },
    { "name": "tap0", "type": "tap", "iface": "$TAP" }
  ],
  "pods": [
    { "ip": "${IPS[0]}", "mac": "${MACS[0]}", "port": "p1" },
    { "ip": "${IPS[1]}", "mac": "${MACS[1]}", "port": "p2" },
    { "ip": "${IPS[2]}", "mac": "${MACS[2]}", "port": "p3" }
  ],
  "host": { "port": "tap0", "ip": "$HOST_IP" }
}
JSON

start_dp() { # [wrapper...]: start sluice-dp in $NODE, wait for its 4 ports
  # ip netns exec remounts /sys, hiding bpffs: mount one for libxdp inside
  # the private mount namespace it gives us.
  ip netns exec "$NODE" "$@" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
    -- --config "$DIR/dp.json" --idle-backoff-us 200 > "$DIR/dp.log" 2>&1 &
  DP_PID=$!
  for _ in $(seq 150); do
    kill -0 "$DP_PID" 2>/dev/null || fail "sluice-dp exited early"
    [ "$(tel /sluice/ports 2>/dev/null | grep -o '/type' | wc -l)" = 4 ] && break
    sleep 0.2
  done
  [ "$(tel /sluice/ports | grep -o '/type' | wc -l)" = 4 ] \
    || { tel /sluice/ports >&2; fail "sluice-dp did not come up with 4 ports"; }
}

stop_dp() { # SIGTERM, exit 0 and the one shutdown line
  kill -TERM "$DP_PID"
  local rc=0; wait "$DP_PID" || rc=$?
  DP_PID=
  [ "$rc" = 0 ] || fail "sluice-dp exited $rc"
  grep -q '^sluice-dp: shutdown: [0-9]* packets forwarded' "$DIR/dp.log" || fail "no shutdown line"
}

pretty dp "starting sluice-dp in $NODE"
start_dp
for p in p1 p2 p3; do
  t=$(tel /sluice/ports "$p/type")
  pretty dp "port $p attached as $t"
  [ "$t" = af_xdp ] || echo "NOTE: $p fell back to $t (kernel refused XDP)"
done
ip -n "$NODE" addr add "$HOST_IP/24" dev "$TAP"
ip -n "$NODE" link set "$TAP" up

# --- pod <-> pod ---------------------------------------------------------
ping_ok() { # ns dst [args]
  local ns=$1 dst=$2; shift 2
  n "$ns" ping -q -c 3 -i 0.2 -W 2 "$@" "$dst" | grep -q ' 3 received' \
    || fail "ping $ns -> $dst"
}
pretty ping "pod1 <-> pod2, pod2 -> pod3, pod3 -> pod1"
ping_ok "${PODS[0]}" "${IPS[1]}"
ping_ok "${PODS[1]}" "${IPS[0]}"
ping_ok "${PODS[1]}" "${IPS[2]}"
ping_ok "${PODS[2]}" "${IPS[0]}"

pretty ping "gateway answers echo"
ping_ok "${PODS[0]}" "$GW_IP"

# --- counters match what was sent -----------------------------------------
f0=$(stat forwarded)
n "${PODS[0]}" ping -q -c 10 -i 0.05 -W 2 "${IPS[2]}" | grep -q ' 10 received' || fail "ping x10"
f1=$(stat forwarded)
[ $((f1 - f0)) -eq 20 ] || fail "forwarded moved by $((f1 - f0)), want 20 (10 requests + 10 replies)"
pretty counters "forwarded +20 for 10 echo requests and their replies"

# --- TCP stream, bytes checked at the far side --------------------------------
pretty tcp "1 MiB pod1 -> pod2, SHA-256 compared at the receiver"
head -c 1048576 /dev/urandom > "$DIR/blob"
want=$(sha256sum < "$DIR/blob" | cut -d' ' -f1)
n "${PODS[1]}" python3 - "$DIR/tcp.out" <<'PY' &
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256(); total = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); total += len(b)
open(sys.argv[1], "w").write(f"{h.hexdigest()} {total}\n")
PY
srv=$!; BG_PIDS+=("$srv")
for _ in $(seq 50); do n "${PODS[1]}" ss -ltn | grep -q ':5001 ' && break; sleep 0.1; done
n "${PODS[0]}" python3 - "${IPS[1]}" "$DIR/blob" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 5001), timeout=20)
s.sendall(open(sys.argv[2], "rb").read()); s.shutdown(socket.SHUT_WR)
s.recv(1); s.close()
PY
wait "$srv" || fail "tcp receiver failed"
got=$(cat "$DIR/tcp.out")
[ "$got" = "$want 1048576" ] || fail "tcp: receiver saw '$got', want '$want 1048576'"

# --- UDP exchange -------------------------------------------------------------
udp_exchange() { # extra sizes...: 200 datagrams of 16..1409 bytes, then "$@"
  local sizes="[16 + i * 7 for i in range(200)] + [$(IFS=,; echo "$*")]"
  local count=$((200 + $#))
  n "${PODS[2]}" python3 - "$count" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5002)); s.settimeout(20)
for _ in range(int(sys.argv[1])):
    b, a = s.recvfrom(65536); s.sendto(b[::-1], a)
PY
  local srv=$!; BG_PIDS+=("$srv")
  for _ in $(seq 50); do n "${PODS[2]}" ss -lun | grep -q ':5002 ' && break; sleep 0.1; done
  n "${PODS[0]}" python3 - "${IPS[2]}" "$sizes" <<'PY' || fail "udp exchange"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for i, n in enumerate(eval(sys.argv[2])):
    msg = i.to_bytes(4, "big") + os.urandom(n)
    s.sendto(msg, (sys.argv[1], 5002))
    try:
        b = s.recv(65536)
    except TimeoutError:
        sys.exit(f"datagram {i} ({len(msg)} bytes): no echo in 2 s")
    if b != msg[::-1]:
        sys.exit(f"datagram {i}: wrong echo")
PY
  wait "$srv" || fail "udp echo server failed"
}
# The last five exceed the MTU: their IPv4 fragments cross dp one by one.
pretty udp "200 datagrams + 5 fragmented ones (up to 8000 B) pod1 -> pod3, echoed and compared"
udp_exchange 1473 2000 3000 5000 8000

# --- node (tap) <-> pod ---------------------------------------------------------
pretty tap "node -> pod1 and pod2 -> node through the tap"
ping_ok "$NODE" "${IPS[0]}"
ping_ok "${PODS[1]}" "$HOST_IP"
h=$(stat to_host)
[ "$h" -ge 3 ] || fail "to_host counter is $h"

# --- TTL 1 -> ICMP time exceeded ---------------------------------------------
pretty ttl "ping -t 1 gets time exceeded from the gateway"
t0=$(stat drop_ttl_exceeded)
out=$(n "${PODS[0]}" ping -c 1 -t 1 -W 2 "${IPS[1]}" || true)
echo "$out" | grep -q "From $GW_IP icmp_seq=1 Time to live exceeded" \
  || fail "no time exceeded: $out"
t1=$(stat drop_ttl_exceeded)
[ $((t1 - t0)) -eq 1 ] || fail "drop_ttl_exceeded moved by $((t1 - t0)), want 1"

# --- unknown destinations --------------------------------------------------------
pretty unknown "10.77.1.99 -> host unreachable, counted as drop_no_pod"
u0=$(stat drop_no_pod)
out=$(n "${PODS[0]}" ping -c 3 -i 0.2 -W 1 10.77.1.99 || true)
echo "$out" | grep -q "From $GW_IP icmp_seq=1 Destination Host Unreachable" \
  || fail "no host unreachable: $out"
u1=$(stat drop_no_pod)
[ $((u1 - u0)) -eq 3 ] || fail "drop_no_pod moved by $((u1 - u0)), want 3"

pretty unknown "5 datagrams to 10.200.0.1 counted as drop_no_route"
r0=$(stat drop_no_route)
n "${PODS[0]}" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5): s.sendto(b"x" * 32, ("10.200.0.1", 9))'
for _ in $(seq 20); do [ $(( $(stat drop_no_route) - r0 )) -ge 5 ] && break; sleep 0.1; done
r1=$(stat drop_no_route)
[ $((r1 - r0)) -eq 5 ] || fail "drop_no_route moved by $((r1 - r0)), want 5"

# --- pods table ------------------------------------------------------------------
[ "$(tel /sluice/pods count)" = 3 ] || fail "/sluice/pods count"
[ "$(tel "/sluice/pod,${IPS[1]}" port)" = p2 ] || fail "/sluice/pod port of pod2"
tel /sluice/pods pods | grep -q "\"${IPS[2]} ${MACS[2]} p3 1\"" || fail "/sluice/pods entry of pod3"

# --- clean shutdown -------------------------------------------------------------
pretty dp "SIGTERM"
stop_dp

# --- AF_XDP refused -> AF_PACKET ----------------------------------------------------
# Without CAP_BPF/CAP_SYS_ADMIN the kernel refuses the XDP program, so every
# af_xdp port must come up as af_packet on the same veth, and still forward.
pretty fallback "restart without CAP_BPF: ports fall back to af_packet"
start_dp setpriv --inh-caps=-bpf,-sys_admin,-perfmon --bounding-set=-bpf,-sys_admin,-perfmon
for p in p1 p2 p3; do
  t=$(tel /sluice/ports "$p/type")
  [ "$t" = af_packet ] || fail "port $p is $t without CAP_BPF, want af_packet"
done
grep -q 'falling back to af_packet' "$DIR/dp.log" || fail "no fallback log line"
ping_ok "${PODS[0]}" "${IPS[1]}"
ping_ok "${PODS[2]}" "${IPS[0]}"
[ "$(tel /sluice/port,p1 rx)" -ge 3 ] || fail "p1 rx counter after fallback"
udp_exchange
stop_dp
pretty ok "all dp_pod_network checks passed"
