# ring_lib.sh: shared set-up of the ring integration tests (sourced).
#
#   netns rpa-$$ 10.77.1.2    netns rpb-$$ 10.77.1.3    netns rpc-$$ 10.77.1.4
#        eth0                      eth0                      eth0
#         | veth                    | veth                    | veth
#   rha-$$ ---------------+   rhb-$$ --------------+   rhc-$$ ----+
#                         |                        |              |
#   netns rn-$$ (the node):  sluice-dp --ctl $DIR/dp-ctl.shm (AF_XDP on the
#                            veths, attached at runtime by ring commands)
#                            sluice-ctrl --role=worker (state $DIR/agent.json,
#                            requests on ipc://$DIR/agent.ipc)
#
# sluice-dp starts with only a tap port in its config file; every pod port,
# pod and route reaches it over the rings from sluice-ctrl.
# Callers set DP and CTRL (binaries) and source this file.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")
UDP="$HERE/ring_udp.py"

NODE=rn-$$
PODS=(rpa-$$ rpb-$$ rpc-$$)
HOSTENDS=(rha-$$ rhb-$$ rhc-$$)
NAMES=(a b c)
IPS=(10.77.1.2 10.77.1.3 10.77.1.4)
MACS=(02:00:00:00:01:02 02:00:00:00:01:03 02:00:00:00:01:04)
GW_IP=10.77.1.1
GW_MAC=02:00:00:00:00:01
PREFIX=sl-ring-$$
DIR=$(mktemp -d /tmp/ring_it.XXXXXX)
SEG=$DIR/dp-ctl.shm
IPC=ipc://$DIR/agent.ipc
STATE=$DIR/agent.json
DP_PID=
CTRL_PID=
BG_PIDS=()
MADE_NS=()

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() {
  echo "FAIL: $*" >&2
  for f in dp ctrl; do
    [ -f "$DIR/$f.log" ] && sed "s/^/  $f.log: /" "$DIR/$f.log" | tail -25 >&2
  done
  exit 1
}
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$CTRL_PID" ] && kill -TERM "$CTRL_PID" 2>/dev/null && wait "$CTRL_PID" 2>/dev/null
  if [ -n "$DP_PID" ] && kill -0 "$DP_PID" 2>/dev/null; then
    kill -TERM "$DP_PID"; wait "$DP_PID" 2>/dev/null
  fi
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "ring test: needs root"; exit 77; }
[ -x "$DP" ] || fail "$DP is not executable"
[ -x "$CTRL" ] || fail "$CTRL is not executable"

. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib/netns.sh" # tx_csum_off, mkns

setup_topology() {
  mkns "$NODE"
  for i in 0 1 2; do
    local p=${PODS[$i]}
    mkns "$p"
    ip link add "${HOSTENDS[$i]}" netns "$NODE" type veth peer name eth0 netns "$p"
    ip -n "$p" link set eth0 address "${MACS[$i]}"
    ip -n "$p" addr add "${IPS[$i]}/16" dev eth0
    ip -n "$p" link set eth0 up
    ip -n "$p" route add default via "$GW_IP"
    # Static neighbour for the gateway: the stream must not depend on ARP
    # timing across a dp restart.
    ip -n "$p" neigh replace "$GW_IP" lladdr "$GW_MAC" dev eth0 nud permanent
    n "$p" bash -c "$(declare -f tx_csum_off); tx_csum_off eth0"
    ip -n "$NODE" link set "${HOSTENDS[$i]}" up
  done
  cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.77.0.0/16", "gateway_ip": "$GW_IP", "gateway_mac": "$GW_MAC" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "rt-$$" } ]
}
JSON
}

start_dp() {
  ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
    -- --config "$DIR/dp.json" --idle-backoff-us 200 --ctl "$SEG" >> "$DIR/dp.log" 2>&1 &
  DP_PID=$!
  for _ in $(seq 150); do
    kill -0 "$DP_PID" 2>/dev/null || fail "sluice-dp exited early"
    grep -q "ctl: segment .* up" "$DIR/dp.log" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "sluice-dp did not publish its ring segment"
}

start_ctrl() {
  # Not through n(): a backgrounded shell function is a subshell, and $!
  # must be sluice-ctrl itself so that SIGKILL reaches it.
  ip netns exec "$NODE" "$CTRL" --role=worker --state "$STATE" --segment "$SEG" --ipc "$IPC" \
    >> "$DIR/ctrl.log" 2>&1 &
  CTRL_PID=$!
  for _ in $(seq 100); do
    kill -0 "$CTRL_PID" 2>/dev/null || fail "sluice-ctrl exited early"
    call '{"op":"status"}' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "sluice-ctrl does not answer on $IPC"
}

call() { n "$NODE" "$CTRL" --ipc "$IPC" --call "$1"; }

# Count of lines matching $1 in a log ($2), for "wait until logged" loops.
logged() { grep -c -- "$1" "$DIR/$2.log" 2>/dev/null || true; }

wait_logged() { # pattern log count timeout_s
  for _ in $(seq $(( $4 * 10 ))); do
    [ "$(logged "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "no \"$1\" (x$3) in $2.log within $4 s"
}

add_pods() { # the three pods, one batch
  local ops=""
  for i in 0 1 2; do
    ops+="{\"op\":\"port_add\",\"name\":\"p${NAMES[$i]}\",\"kind\":\"af_xdp\",\"ifname\":\"${HOSTENDS[$i]}\"},"
    ops+="{\"op\":\"pod_add\",\"name\":\"${NAMES[$i]}\",\"ip\":\"${IPS[$i]}\",\"mac\":\"${MACS[$i]}\",\"port\":\"p${NAMES[$i]}\"},"
  done
  call "{\"op\":\"batch\",\"ops\":[${ops%,}]}" > "$DIR/batch.out" || { cat "$DIR/batch.out" >&2; fail "adding pods"; }
}

ping_ok() { # from-index to-ip
  n "${PODS[$1]}" ping -q -c 3 -i 0.2 -W 2 "$2" | grep -q ' 3 received' || fail "ping ${PODS[$1]} -> $2"
}

ping_fails() { # from-index to-ip
  local out
  out=$(n "${PODS[$1]}" ping -c 2 -i 0.2 -W 1 "$2" 2>&1 || true)
  grep -q ' 0 received' <<< "$out" && return 0
  echo "$out" >&2
  tel /sluice/pods >&2 || true
  fail "ping ${PODS[$1]} -> $2 should fail"
}

# Stream pod a -> pod b: start_stream PORT RATE SECONDS; finish_stream PORT -> $DIR/stream-PORT.json
start_stream() {
  n "${PODS[1]}" python3 "$UDP" recv "${IPS[1]}" "$1" "$DIR/stream-$1.json" &
  BG_PIDS+=($!)
  sleep 0.3
  n "${PODS[0]}" python3 "$UDP" send "${IPS[1]}" "$1" "$2" "$3" > "$DIR/sent-$1" &
  STREAM_SENDER=$!
  BG_PIDS+=($STREAM_SENDER)
}

finish_stream() {
  wait "$STREAM_SENDER" || fail "stream sender failed"
  for _ in $(seq 50); do [ -s "$DIR/stream-$1.json" ] && break; sleep 0.1; done
  [ -s "$DIR/stream-$1.json" ] || fail "stream receiver wrote nothing (END lost?)"
  cat "$DIR/stream-$1.json"
}

# dp telemetry (docs/dp-telemetry.md): print the value at a ","-separated key path.
RING_TEL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dp_tel.py
tel() { # cmd [key]
  python3 "$RING_TEL" "$PREFIX" "$1" ${2:+--get "${2//,/.}"}
}

jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
