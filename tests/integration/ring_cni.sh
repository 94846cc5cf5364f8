#!/usr/bin/env bash
# ring_cni: the whole node path for a pod. sluice-cni ADDs two pods; the
# agent allocates their addresses from its pod CIDR and programs sluice-dp
# over the rings (AF_XDP on the plugin's veth host ends); the pods reach
# each other through dp. Then DEL removes one from the agent and from dp.
#
#   netns rcp1-$$ eth0 (addr from the agent)    netns rcp2-$$ eth0
#            \ veth (sluice-cni ADD)                 / veth
#   netns rcn-$$: sl<hash1> ---- sluice-dp --ctl ---- sl<hash2>
#                 sluice-ctrl --role=worker --pod-cidr 10.78.1.0/24
#
# Asserts: ADD results carry distinct addresses from 10.78.1.0/24 with
# gateway 10.78.1.1; dp holds both pods (telemetry); pod 1 pings pod 2
# (replies parsed at the sender); a UDP datagram from pod 1 is received
# and checked by pod 2; DEL of pod 2 removes it from the agent and from
# dp's table.
#
# Usage: ring_cni.sh /path/to/sluice-dp /path/to/sluice-ctrl /path/to/sluice-cni
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl sluice-cni}
CTRL=${2:?}
CNI=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")
UDP="$HERE/ring_udp.py"

NODE=rcn-$$
P1=rcp1-$$
P2=rcp2-$$
PREFIX=sl-rcni-$$
DIR=$(mktemp -d /tmp/ring_cni.XXXXXX)
DP_PID=
CTRL_PID=
MADE_NS=()

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() {
  echo "FAIL: $*" >&2
  for f in dp ctrl; do [ -f "$DIR/$f.log" ] && grep -v "libbpf\|libxdp" "$DIR/$f.log" | tail -15 | sed "s/^/  $f.log: /" >&2; done
  exit 1
}
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
cleanup() {
  set +e
  [ -n "$CTRL_PID" ] && kill -TERM "$CTRL_PID" 2>/dev/null && wait "$CTRL_PID" 2>/dev/null
  [ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "ring_cni: needs root"; exit 77; }
for b in "$DP" "$CTRL" "$CNI"; do [ -x "$b" ] || fail "$b is not executable"; done

for ns in "$NODE" "$P1" "$P2"; do ip netns add "$ns"; MADE_NS+=("$ns"); ip -n "$ns" link set lo up; done
n "$NODE" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.78.1.0/24", "gateway_ip": "10.78.1.1", "gateway_mac": "02:00:00:00:00:01" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "rct-$$" } ]
}
JSON
ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
  "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
  -- --config "$DIR/dp.json" --ctl "$DIR/dp-ctl.shm" > "$DIR/dp.log" 2>&1 &
DP_PID=$!
ip netns exec "$NODE" "$CTRL" --role=worker --state "$DIR/agent.json" --segment "$DIR/dp-ctl.shm" \
  --ipc "ipc://$DIR/agent.ipc" --pod-cidr 10.78.1.0/24 --gateway 10.78.1.1 \
  --cni-state "$DIR/cni" > "$DIR/ctrl.log" 2>&1 &
CTRL_PID=$!
for _ in $(seq 150); do
  grep -q "agent: replayed" "$DIR/ctrl.log" 2>/dev/null && break
  kill -0 "$DP_PID" 2>/dev/null || fail "sluice-dp exited"
  kill -0 "$CTRL_PID" 2>/dev/null || fail "sluice-ctrl exited"
  sleep 0.1
done
grep -q "agent: replayed" "$DIR/ctrl.log" || fail "sluice-ctrl never synced with sluice-dp"

cni() { # command netns container-id
  printf '{"cniVersion":"1.1.0","name":"sl-ring","type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/cni"}' "$DIR" "$DIR" \
    | ip netns exec "$NODE" env -i CNI_COMMAND="$1" CNI_NETNS="/var/run/netns/$2" \
      CNI_CONTAINERID="$3" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "$CNI"
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

r1=$(cni ADD "$P1" "ctr1-$$") || { echo "$r1" >&2; fail "ADD pod 1"; }
r2=$(cni ADD "$P2" "ctr2-$$") || { echo "$r2" >&2; fail "ADD pod 2"; }
a1=$(echo "$r1" | jget 'd["ips"][0]["address"].split("/")[0]')
a2=$(echo "$r2" | jget 'd["ips"][0]["address"].split("/")[0]')
[ "$(echo "$r1" | jget 'd["ips"][0]["gateway"]')" = 10.78.1.1 ] || fail "gateway not 10.78.1.1: $r1"
[ "$a1" != "$a2" ] && [[ "$a1" == 10.78.1.* ]] && [[ "$a2" == 10.78.1.* ]] || fail "addresses $a1 $a2"
pretty cni "ADD gave $a1 and $a2"
# sluice-cni turned tx checksum offload off in both pods (dp never
# completes L4 checksums): UDP checksums arrive computed.
for ns in "$P1" "$P2"; do
  n "$ns" ethtool -k eth0 | grep -q '^tx-checksumming: off' || fail "tx checksumming still on in $ns"
done

# dp holds both (telemetry), as pods on the plugin's host ends.
tel() { python3 "$HERE/dp_tel.py" "$PREFIX" "$1"; }
pods=$(tel /sluice/pods)
grep -q "\"$a1 " <<< "$pods" && grep -q "\"$a2 " <<< "$pods" || fail "dp does not hold both pods: $pods"

ok=
for _ in $(seq 20); do
  n "$P1" ping -q -c 2 -i 0.2 -W 1 "$a2" | grep -q ' 2 received' && { ok=1; break; }
  sleep 0.3
done
[ -n "$ok" ] || fail "pod 1 cannot ping pod 2 through dp"
n "$P2" timeout 20 python3 "$UDP" recv "$a2" 7300 "$DIR/u.json" &
RECV=$!
sleep 0.3
n "$P1" python3 "$UDP" send "$a2" 7300 200 1 > /dev/null
wait "$RECV" || true
[ "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["lost"], d["bad"])' "$DIR/u.json")" = "0 0" ] \
  || fail "UDP pod 1 -> pod 2: $(cat "$DIR/u.json")"
pretty traffic "pod 1 -> pod 2 through sluice-dp: ping and 201 datagrams, none lost"

cni DEL "$P2" "ctr2-$$" > /dev/null || fail "DEL pod 2"
n "$NODE" "$CTRL" --ipc "ipc://$DIR/agent.ipc" --call '{"op":"status"}' | grep -q '"pods":1' || fail "agent still holds pod 2"
pods=$(tel /sluice/pods)
grep -q "\"$a2 " <<< "$pods" && fail "dp still holds pod 2 after DEL: $pods"
pretty cni "DEL removed pod 2 from the agent and from dp"
pretty done "all ring_cni checks passed"
