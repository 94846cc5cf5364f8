#!/usr/bin/env bash
# lb_netns: the service load balancer of sluice-dp, end to end (issue #7).
#
#  LB node "a" (node "b" is the same with a/b swapped, its own sluice-dp
#  --file-prefix, its own agent, and backends at the same addresses):
#
#   netns lbca-$$ client      netns lbba1..4-$$ backends b1..b4
#   eth0 10.77.1.2            eth0 10.77.1.11..14, lb_tool.py server
#        | veth                    | veth (TCP 8080: name + echo; UDP 5353:
#   lhca-$$ --------+         lhba1..4-$$       name len sha256)
#                   |              |
#   netns lbna-$$: sluice-dp --ctl (AF_XDP on the veths, gateway 10.77.1.1 =
#                  the LB's SNAT address; tap lbta-$$ 10.77.1.254 = host)
#                  sluice-ctrl --role=worker: ports, pods, services
#                  web 10.96.0.10:80/tcp -> :8080 (TCP health checks, run
#                  by the agent from the node through the tap) and
#                  dns 10.96.0.10:53/udp -> :5353
#
# Asserts, on what the client and the backends see:
#   1. 400 connections to the VIP spread over the 4 backends (each 50..150);
#   2. LB node b, given the same services, sends the same 60 5-tuples
#      (fixed client source ports) to the same backends as node a;
#   3. 20 UDP datagrams of 4000 bytes (3 fragments each) reach one backend
#      whole: its answer carries the datagram's length and SHA-256;
#   4. a SYN flood of spoofed sources (30,000 SYNs, the conntrack holds
#      4096 flows) does not break an established connection, and makes
#      conntrack evict embryonic entries; new connections still succeed;
#   5. draining that connection's backend (backend.set weight 0) keeps the
#      connection alive while 100 new connections all avoid the backend;
#   3b. a ClientIP-affinity service sends all of a client's connections to
#      one backend; a backend's ICMP port unreachable reaches the client's
#      connected UDP socket as ECONNREFUSED (ICMP mapped through conntrack);
#   6. a killed backend is found unhealthy by the agent's health check
#      (weight 0 in dp), new connections all succeed elsewhere; restarted,
#      it is healthy again and gets connections.
#
# Usage: lb_netns.sh /path/to/sluice-dp /path/to/sluice-ctrl
set -euo pipefail

DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?usage: $0 sluice-dp sluice-ctrl}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")
TOOL="$HERE/lb_tool.py"
DIR=$(mktemp -d /tmp/lb_netns.XXXXXX)

GW_IP=10.77.1.1
GW_MAC=02:00:00:00:00:01
HOST_IP=10.77.1.254
CLIENT_IP=10.77.1.2
VIP=10.96.0.10
BE_IPS=(10.77.1.11 10.77.1.12 10.77.1.13 10.77.1.14)
DP_PIDS=()
CTRL_PIDS=()
BG_PIDS=()
MADE_NS=()
PREFIXES=()

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib/netns.sh" # tx_csum_off, mkns
fail() { fail_with_logs "$DIR" "$@"; }
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${CTRL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for p in "${DP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
  rm -rf "$DIR"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "lb_netns: needs root"; exit 77; }
[ -x "$DP" ] || fail "$DP is not executable"
[ -x "$CTRL" ] || fail "$CTRL is not executable"

# A pod netns $1 on veth $2 (host end in node $3) with address $4, MAC $5.
mkpod() {
  mkns "$1"
  ip link add "$2" netns "$3" type veth peer name eth0 netns "$1"
  ip -n "$1" link set eth0 address "$5"
  ip -n "$1" addr add "$4/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$GW_IP"
  ip -n "$1" neigh replace "$GW_IP" lladdr "$GW_MAC" dev eth0 nud permanent
  n "$1" bash -c "$(declare -f tx_csum_off); tx_csum_off eth0"
  ip -n "$3" link set "$2" up
}

call() { # node-letter json
  n "lbn$1-$$" "$CTRL" --ipc "ipc://$DIR/agent-$1.ipc" --call "$2"
}

tel() { # node-letter cmd [key]: the value at a ","-separated key path
  python3 "$ROOT/tests/integration/dp_tel.py" "sl-lb$1-$$" "$2" --timeout 5 ${3:+--get "${3//,/.}"}
}

# Start backend server i (0-based) of node $1.
start_server() {
  # ip netns exec, not n(): $! must be python itself so that kill stops it
  local log="$DIR/server-$1$2.log"
  : > "$log"
  ip netns exec "lbb$1$(( $2 + 1 ))-$$" python3 "$TOOL" server "b$(( $2 + 1 ))" "${BE_IPS[$2]}" \
    8080 5353 >> "$log" 2>&1 &
  SERVER_PID[$1$2]=$!
  BG_PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$log" && return 0; sleep 0.1; done
  fail "backend server b$(( $2 + 1 )) of node $1 did not start"
}
declare -A SERVER_PID

# Build and start LB node $1 (a or b) with EAL lcores $2: namespaces, dp,
# agent, pods, services.
setup_node() {
  local k=$1 node="lbn$1-$$" prefix="sl-lb$1-$$"
  mkns "$node"
  mkpod "lbc$k-$$" "lhc$k-$$" "$node" "$CLIENT_IP" 02:00:00:00:01:02
  for i in 0 1 2 3; do
    mkpod "lbb$k$(( i + 1 ))-$$" "lhb$k$(( i + 1 ))-$$" "$node" "${BE_IPS[$i]}" \
      "02:00:00:00:01:1$(( i + 1 ))"
  done
  cat > "$DIR/dp-$k.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "$GW_IP", "gateway_mac": "$GW_MAC" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "lbt$k-$$" } ],
  "host": { "port": "tap0", "ip": "$HOST_IP" }
}
JSON
  PREFIXES+=("$prefix")
  # 4096 flows per worker: small enough for the SYN flood to overflow it.
  ip netns exec "$node" env SLUICE_LB_CT_CAPACITY=4096 \
    sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" --lcores "$2" --file-prefix "$prefix" --no-pci $EAL_MEM \
    -- --config "$DIR/dp-$k.json" --idle-backoff-us 100 --ctl "$DIR/seg-$k.shm" \
    > "$DIR/dp-$k.log" 2>&1 &
  DP_PIDS+=($!)
  local pid=$!
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || fail "sluice-dp $k exited early"
    grep -q "ctl: segment .* up" "$DIR/dp-$k.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "ctl: segment .* up" "$DIR/dp-$k.log" || fail "sluice-dp $k did not publish its segment"
  ip -n "$node" addr add "$HOST_IP/24" dev "lbt$k-$$"
  ip -n "$node" link set "lbt$k-$$" up
  ip netns exec "$node" "$CTRL" --role=worker --state "$DIR/agent-$k.json" \
    --segment "$DIR/seg-$k.shm" --ipc "ipc://$DIR/agent-$k.ipc" > "$DIR/ctrl-$k.log" 2>&1 &
  CTRL_PIDS+=($!)
  for _ in $(seq 100); do
    call "$k" '{"op":"status"}' >/dev/null 2>&1 && break
    sleep 0.1
  done
  local ops="{\"op\":\"port_add\",\"name\":\"pc\",\"kind\":\"af_xdp\",\"ifname\":\"lhc$k-$$\"},"
  ops+="{\"op\":\"pod_add\",\"name\":\"client\",\"ip\":\"$CLIENT_IP\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"pc\"},"
  for i in 1 2 3 4; do
    ops+="{\"op\":\"port_add\",\"name\":\"pb$i\",\"kind\":\"af_xdp\",\"ifname\":\"lhb$k$i-$$\"},"
    ops+="{\"op\":\"pod_add\",\"name\":\"b$i\",\"ip\":\"${BE_IPS[$(( i - 1 ))]}\",\"mac\":\"02:00:00:00:01:1$i\",\"port\":\"pb$i\"},"
  done
  call "$k" "{\"op\":\"batch\",\"ops\":[${ops%,}]}" > "$DIR/batch-$k.out" \
    || { cat "$DIR/batch-$k.out" >&2; fail "node $k: adding pods"; }
  for i in 0 1 2 3; do start_server "$k" "$i"; done
  call "$k" '{"op":"svc.add","name":"default/web","vip":"'$VIP'","port":80,"proto":"tcp","health":{"type":"tcp","interval_ms":1000,"timeout_ms":900,"fall":3,"rise":2}}' \
    > "$DIR/svc-$k.out" || { cat "$DIR/svc-$k.out" >&2; fail "node $k: svc.add web"; }
  call "$k" '{"op":"svc.add","name":"default/dns","vip":"'$VIP'","port":53,"proto":"udp"}' \
    > "$DIR/svc-$k.out" || { cat "$DIR/svc-$k.out" >&2; fail "node $k: svc.add dns"; }
  set_web "$k" 1 1 1 1
  local bes=""
  for ip in "${BE_IPS[@]}"; do bes+="{\"ip\":\"$ip\",\"port\":5353},"; done
  call "$k" "{\"op\":\"backend.set\",\"service\":\"default/dns\",\"backends\":[${bes%,}]}" \
    > "$DIR/be-$k.out" || { cat "$DIR/be-$k.out" >&2; fail "node $k: backend.set dns"; }
}

set_web() { # node w1 w2 w3 w4
  local k=$1 bes="" i=0; shift
  for w in "$@"; do bes+="{\"ip\":\"${BE_IPS[$i]}\",\"port\":8080,\"weight\":$w},"; i=$(( i + 1 )); done
  call "$k" "{\"op\":\"backend.set\",\"service\":\"default/web\",\"backends\":[${bes%,}]}" \
    > "$DIR/be-$k.out" || { cat "$DIR/be-$k.out" >&2; fail "node $k: backend.set web"; }
  # The reply says whether dp acknowledged it (a slow ack is still sent):
  # before asserting on a drain, see the drained weights in dp itself.
  i=0
  for w in "$@"; do
    if [ "$w" = 0 ]; then
      local want="$VIP:80/tcp [0-9]* ${BE_IPS[$i]}:8080 0 "
      for _ in $(seq 100); do tel "$k" /sluice/lb_backends | grep -q "$want" && break; sleep 0.1; done
      tel "$k" /sluice/lb_backends | grep -q "$want" \
        || { tel "$k" /sluice/lb_backends >&2; fail "node $k: dp does not hold ${BE_IPS[$i]} at weight 0"; }
    fi
    i=$(( i + 1 ))
  done
}

conns() { # node count [sport0] -> backend names, one per line
  n "lbc$1-$$" python3 "$TOOL" conns "$VIP" 80 "$2" ${3:-}
}

# Wait for a line in a log.
wait_log() { # file pattern seconds
  for _ in $(seq $(( $3 * 10 ))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "no \"$2\" in $(basename "$1") within $3 s"
}

pretty setup "LB node a: sluice-dp, sluice-ctrl, client and 4 backends"
setup_node a "0@0,1@1"
# the agent's health checks have decided once every backend is healthy
for i in 1 2 3 4; do wait_log "$DIR/ctrl-a.log" "backend ${BE_IPS[$(( i - 1 ))]}:8080 healthy" 20; done

# --- 1. spread ---------------------------------------------------------
conns a 400 > "$DIR/spread"
grep -q ERROR "$DIR/spread" && { sort "$DIR/spread" | uniq -c >&2; fail "a connection failed"; }
for b in b1 b2 b3 b4; do
  c=$(grep -cx "$b" "$DIR/spread" || true)
  pretty spread "$b: $c of 400"
  [ "$c" -ge 50 ] && [ "$c" -le 150 ] || fail "$b got $c of 400 connections (want 50..150)"
done
[ "$(tel a /sluice/lb services)" = 2 ] || fail "/sluice/lb does not count 2 services"
[ "$(tel a /sluice/lb backends)" = 8 ] || fail "/sluice/lb does not count 8 backends"

# --- 2. a second LB node agrees ----------------------------------------
pretty setup "LB node b: the same services on a second sluice-dp, 2 workers"
# Two workers: dp spreads the ports over them, so some replies reach a
# worker that does not track their flow and are handed over (SNAT port).
setup_node b "0@0,1@1,2@0"
for i in 1 2 3 4; do wait_log "$DIR/ctrl-b.log" "backend ${BE_IPS[$(( i - 1 ))]}:8080 healthy" 20; done
conns a 60 40000 > "$DIR/tuples-a"
conns b 60 40000 > "$DIR/tuples-b"
grep -q ERROR "$DIR/tuples-a" "$DIR/tuples-b" && fail "a fixed-port connection failed"
cmp -s "$DIR/tuples-a" "$DIR/tuples-b" || { paste "$DIR/tuples-a" "$DIR/tuples-b" >&2; fail "nodes a and b picked different backends"; }
[ "$(sort -u "$DIR/tuples-a" | wc -l)" -ge 3 ] || fail "60 tuples reached fewer than 3 backends"
pretty maglev "60 fixed 5-tuples: node b picked the same backend as node a for every one"
ho=$(tel b /sluice/lb handoffs)
[ "$ho" -gt 0 ] || { tel b /sluice/ports >&2; fail "node b (2 workers) handed no reply to the flow's worker"; }
pretty workers "node b: $ho replies handed to the worker that tracks their flow"

# --- 3. fragments -------------------------------------------------------
n lbca-$$ python3 "$TOOL" udpfrag "$VIP" 53 20 4000 > "$DIR/frag" || {
  sort "$DIR/frag" | uniq -c >&2; tel a /sluice/stats >&2; tel a /sluice/lb >&2
  fail "fragmented datagrams did not arrive whole"; }
[ "$(tel a /sluice/lb frag_pkts)" -ge 40 ] || fail "fewer than 40 later fragments followed their first"
pretty fragments "20 datagrams of 4000 bytes (3 fragments each) arrived whole at one backend each"

# --- 3b. ClientIP affinity, ICMP errors back to the client -------------
call a '{"op":"svc.add","name":"default/sticky","vip":"'$VIP'","port":81,"proto":"tcp","affinity":"client_ip"}' >/dev/null \
  || fail "svc.add sticky"
call a '{"op":"svc.add","name":"default/closed","vip":"'$VIP'","port":54,"proto":"udp"}' >/dev/null \
  || fail "svc.add closed"
bes=""; bes2=""
for ip in "${BE_IPS[@]}"; do bes+="{\"ip\":\"$ip\",\"port\":8080},"; bes2+="{\"ip\":\"$ip\",\"port\":9999},"; done
call a "{\"op\":\"backend.set\",\"service\":\"default/sticky\",\"backends\":[${bes%,}]}" >/dev/null || fail "backend.set sticky"
call a "{\"op\":\"backend.set\",\"service\":\"default/closed\",\"backends\":[${bes2%,}]}" >/dev/null || fail "backend.set closed"
n lbca-$$ python3 "$TOOL" conns "$VIP" 81 40 > "$DIR/sticky"
grep -q ERROR "$DIR/sticky" && fail "a connection to the ClientIP-affinity service failed"
[ "$(sort -u "$DIR/sticky" | wc -l)" = 1 ] || { sort "$DIR/sticky" | uniq -c >&2; fail "ClientIP affinity: one client reached several backends"; }
pretty affinity "40 connections from one client, ClientIP affinity: all on $(head -1 "$DIR/sticky")"
i0=$(tel a /sluice/lb icmp_errors_mapped)
n lbca-$$ python3 "$TOOL" udprefused "$VIP" 54 > "$DIR/refused" || { cat "$DIR/refused" >&2; fail "the backend's port unreachable did not reach the client"; }
[ "$(tel a /sluice/lb icmp_errors_mapped)" -gt "$i0" ] || fail "no ICMP error counted as mapped"
pretty icmp "UDP to a closed backend port: the client's socket got ECONNREFUSED through the LB"

# --- 4. SYN flood against an established connection --------------------
echo run > "$DIR/hold.ctl"
n lbca-$$ python3 "$TOOL" hold "$VIP" 80 "$DIR/hold.ctl" "$DIR/hold.out" &
HOLD=$!; BG_PIDS+=($HOLD)
for _ in $(seq 50); do [ -s "$DIR/hold.out.n" ] && break; sleep 0.1; done
[ -s "$DIR/hold.out.n" ] || fail "the held connection did not start"
HELD=$(head -1 "$DIR/hold.out")
ev0=$(tel a /sluice/lb ct_evict_embryonic)
sent=$(n lbca-$$ python3 "$TOOL" synflood "$VIP" 80 30000)
before=$(cat "$DIR/hold.out.n"); sleep 1; after=$(cat "$DIR/hold.out.n")
kill -0 $HOLD 2>/dev/null || { cat "$DIR/hold.out" >&2; fail "SYN flood broke the established connection"; }
[ "$after" -gt "$before" ] || fail "the held connection stalled after the flood"
ev1=$(tel a /sluice/lb ct_evict_embryonic)
[ "$ev1" -gt "$ev0" ] || fail "the flood did not overflow conntrack (evictions $ev0 -> $ev1): test is too weak"
conns a 20 > "$DIR/after-flood"
grep -q ERROR "$DIR/after-flood" && fail "new connection failed after the flood"
pretty flood "$sent spoofed SYNs: $(( ev1 - ev0 )) embryonic evictions, the connection to $HELD kept going, new ones work"

# --- 5. drain ------------------------------------------------------------
w=(1 1 1 1); w[${HELD#b} - 1]=0
set_web a "${w[@]}"
before=$(cat "$DIR/hold.out.n")
conns a 100 > "$DIR/drained"
grep -q ERROR "$DIR/drained" && fail "a connection failed while $HELD drains"
grep -qx "$HELD" "$DIR/drained" && fail "a new connection went to draining $HELD"
sleep 1
after=$(cat "$DIR/hold.out.n")
[ "$after" -ge $(( before + 5 )) ] || fail "the connection to draining $HELD stalled ($before -> $after)"
echo stop > "$DIR/hold.ctl"
wait $HOLD || { cat "$DIR/hold.out" >&2; fail "held connection broke while draining"; }
grep -q '^ok ' "$DIR/hold.out" || fail "held connection did not end cleanly"
pretty drain "$HELD at weight 0: its open connection lived on ($(tail -1 "$DIR/hold.out")), 100 new ones avoided it"
set_web a 1 1 1 1

# --- 6. health checks -----------------------------------------------------
victim=2; vip_be=${BE_IPS[$(( victim - 1 ))]}
kill "${SERVER_PID[a$(( victim - 1 ))]}"
wait_log "$DIR/ctrl-a.log" "backend $vip_be:8080 unhealthy: weight 0" 20
conns a 100 > "$DIR/unhealthy"
grep -q ERROR "$DIR/unhealthy" && { sort "$DIR/unhealthy" | uniq -c >&2; fail "a connection failed with b$victim down"; }
grep -qx "b$victim" "$DIR/unhealthy" && fail "a connection reached dead b$victim"
pretty health "b$victim killed: drained by the agent's health check, 100 connections all elsewhere"
start_server a $(( victim - 1 ))
n=$(grep -c "backend $vip_be:8080 healthy" "$DIR/ctrl-a.log")
for _ in $(seq 100); do
  [ "$(grep -c "backend $vip_be:8080 healthy" "$DIR/ctrl-a.log")" -gt "$n" ] && break; sleep 0.1
done
[ "$(grep -c "backend $vip_be:8080 healthy" "$DIR/ctrl-a.log")" -gt "$n" ] || fail "b$victim not healthy again"
conns a 100 > "$DIR/healthy"
grep -qx "b$victim" "$DIR/healthy" || fail "b$victim gets no connections after it recovered"
pretty health "b$victim restarted: healthy again, weight restored, it gets connections"

pretty lb "$(tel a /sluice/lb)"
pretty stats "$(tel a /sluice/stats | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k:v for k,v in d.items() if k.startswith("drop_lb") or k in ("forwarded","rx")})')"
echo "lb_netns: all checks passed"
