#!/usr/bin/env bash
# lb_ext: a client outside the cluster reaches a service VIP through a
# node's uplink (issue #7; docs/lb.md, "External clients").
#
# The netns cluster of tests/multinode/mn_lib.sh (nodes 1 and 2 on the
# underlay bridge, one sluice-dp each with --ctl, one sluice-ctrl
# --role=worker each) plus an external client netns mnx-$$ on the same
# bridge (192.168.77.50: neither pod nor node), which routes the VIP via
# node 1's underlay IP, later via node 2's:
#
#   mnx-$$ 192.168.77.50 --+-- ul1 192.168.77.1 [dp1] -- pod mp1 10.78.1.2 (backend b1)
#     10.96.0.10 via .1/.2 +-- ul2 192.168.77.2 [dp2] -- pod mp2 10.78.2.2 (backend b2)
#
# Both agents program web 10.96.0.10:80/tcp -> :8080 and dns
# 10.96.0.10:53/udp -> :5353 on both pods; the dps run with
# uplink.cluster_cidr 10.78.0.0/16, so the reverse-NATed answers (VIP ->
# 192.168.77.50) leave by the uplink to the client (on-link, by ARP).
#
# Per mode (direct, then VXLAN), asserts on what the client receives:
#   1. both dps steer the VIP (/sluice/uplink vips_steered 1);
#   2. 200 TCP connections through node 1 all succeed and spread over the
#      backends on both nodes (each 60..140); a connect() to the VIP only
#      completes if the SYN-ACK comes from VIP:80;
#   3. 60 fixed 5-tuples (source ports) reach the same backend each
#      through node 1 and then through node 2 (Maglev is deterministic);
#   4. 20 UDP datagrams of 4000 bytes (3 fragments) reach one backend
#      whole (answer: length + SHA-256) and the answer's source is VIP:53;
#   5. the nodes' kernels still ping each other over the uplinks and the
#      XDP program passed that traffic to them (xdp_pass_host grows);
#   5b. (VXLAN, whose dps have uplink.gateway) a client on the other
#      segment, behind the underlay router that routes the VIP via node 1,
#      gets its answers through the gateway;
#   6. an agent restart (replay + SYNC_END) keeps the VIP steered and
#      connections working; deleting both services unsteers it.
#
# Usage: lb_ext.sh /path/to/sluice-dp /path/to/sluice-ctrl
set -euo pipefail

DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?usage: $0 sluice-dp sluice-ctrl}
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL="$HERE/lb_tool.py"
VIP=10.96.0.10
EXT=mnx-$$
EXT_IP=192.168.77.50
EXT2=mny-$$
BG_PIDS=()
CTRL_PIDS=(x "" "")

. "$HERE/../multinode/mn_lib.sh"
. "$HERE/../lib/netns.sh" # fail_with_logs

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() { fail_with_logs "$MN_DIR" "$@"; }
cleanup() {
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for i in 1 2; do
    [ -n "${CTRL_PIDS[$i]}" ] && { kill -TERM "${CTRL_PIDS[$i]}"; wait "${CTRL_PIDS[$i]}"; }
  done 2>/dev/null
  mn_cleanup
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "lb_ext: needs root"; exit 77; }
[ -x "$DP" ] || fail "$DP is not executable"
[ -x "$CTRL" ] || fail "$CTRL is not executable"

call() { # node json
  n "$(mn_node "$1")" "$CTRL" --ipc "ipc://$MN_DIR/agent$1.ipc" --call "$2"
}
ul() { mn_tel "$1" /sluice/uplink --get "$2"; } # node key
# Wait until /sluice/uplink key of node $1 equals $2.
wait_ul() {
  for _ in $(seq 50); do [ "$(ul "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done
  fail "dp$1 /sluice/uplink $2 is $(ul "$1" "$2"), want $3"
}

start_agent() { # node
  local i=$1
  ip netns exec "$(mn_node "$i")" "$CTRL" --role=worker --state "$MN_DIR/agent$i.json" \
    --segment "$MN_DIR/ctl$i-$MODE.shm" --ipc "ipc://$MN_DIR/agent$i.ipc" >> "$MN_DIR/ctrl$i.log" 2>&1 &
  CTRL_PIDS[$i]=$!
  for _ in $(seq 100); do call "$i" '{"op":"status"}' >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "agent $i did not answer"
}
stop_agent() { # node
  kill -TERM "${CTRL_PIDS[$1]}"; wait "${CTRL_PIDS[$1]}" 2>/dev/null || true
  CTRL_PIDS[$1]=""
}

program() { # node: both services, both backends (one per node)
  local i=$1 r
  r=$(call "$i" '{"op":"svc.add","name":"default/web","vip":"'$VIP'","port":80,"proto":"tcp"}') ||
    fail "node $i svc.add web: $r"
  r=$(call "$i" '{"op":"svc.add","name":"default/dns","vip":"'$VIP'","port":53,"proto":"udp"}') ||
    fail "node $i svc.add dns: $r"
  r=$(call "$i" '{"op":"backend.set","service":"default/web","backends":[{"ip":"10.78.1.2","port":8080},{"ip":"10.78.2.2","port":8080}]}') ||
    fail "node $i backend.set web: $r"
  r=$(call "$i" '{"op":"backend.set","service":"default/dns","backends":[{"ip":"10.78.1.2","port":5353},{"ip":"10.78.2.2","port":5353}]}') ||
    fail "node $i backend.set dns: $r"
}

via() { ip -n "$EXT" route replace "$VIP/32" via "192.168.77.$1"; } # LB node
conns() { # n [sport0]
  n "$EXT" python3 "$TOOL" conns "$VIP" 80 "$@"
}
# The first connection through a node waits for dp's ARP of the client
# (its SYN-ACK is dropped as neigh_unresolved, the client's SYN is resent).
warm() {
  for _ in 1 2 3 4 5; do conns 1 | grep -q '^b' && return 0; done
  fail "no connection to $VIP through $(ip -n "$EXT" route get "$VIP" | head -1)"
}

setup_ext() {
  mn_mkns "$EXT"
  ip link add "ux-$$" netns "$EXT" type veth peer name "ubx-$$" netns "$MN_UNDER"
  ip -n "$MN_UNDER" link set "ubx-$$" master "$MN_BR" up
  ip -n "$EXT" addr add "$EXT_IP/24" dev "ux-$$"
  ip -n "$EXT" link set "ux-$$" up
  mn_tx_off "$EXT" "ux-$$"
  # a second one on the other segment, behind the underlay router
  mn_mkns "$EXT2"
  ip link add "uy-$$" netns "$EXT2" type veth peer name "uby-$$" netns "$MN_UNDER"
  ip -n "$MN_UNDER" link set "uby-$$" master "mnbs-$MN_ID" up
  ip -n "$EXT2" addr add 192.168.78.50/24 dev "uy-$$"
  ip -n "$EXT2" link set "uy-$$" up
  ip -n "$EXT2" route add default via 192.168.78.254
  mn_tx_off "$EXT2" "uy-$$"
}

start_servers() {
  local i log
  for i in 1 2; do
    log="$MN_DIR/server$i.log"
    : > "$log"
    ip netns exec "$(mn_pod "$i")" python3 "$TOOL" server "b$i" "$(mn_pod_ip "$i")" 8080 5353 \
      > "$log" 2>&1 &
    BG_PIDS+=($!)
    for _ in $(seq 50); do grep -q ready "$log" && break; sleep 0.1; done
    grep -q ready "$log" || fail "backend b$i did not start"
  done
}

run_mode() { # direct|vxlan
  local mode=$1 i out b1 b2 a b
  MODE=$mode
  pretty "$mode" "dps and agents on nodes 1 and 2"
  # VXLAN takes 50 bytes off the path MTU to a remote backend, and dp does
  # not fragment: the client's fragments must fit (docs/lb.md).
  if [ "$mode" = vxlan ]; then ip -n "$EXT" link set "ux-$$" mtu 1400; else ip -n "$EXT" link set "ux-$$" mtu 1500; fi
  for i in 1 2; do
    rm -f "$MN_DIR/agent$i.json"
    MN_CLUSTER_CIDR=10.78.0.0/16 mn_start_dp "$i" "$mode" --ctl "$MN_DIR/ctl$i-$mode.shm" ||
      fail "dp$i did not start"
    start_agent "$i"
    program "$i"
  done
  for i in 1 2; do wait_ul "$i" vips_steered 1; wait_ul "$i" egress 1; done

  pretty "$mode" "200 connections through node 1 spread over both nodes' backends"
  via 1
  warm
  out=$(conns 200)
  b1=$(grep -c '^b1$' <<< "$out" || true); b2=$(grep -c '^b2$' <<< "$out" || true)
  [ $((b1 + b2)) = 200 ] || fail "$((200 - b1 - b2)) of 200 connections failed: $(grep -v '^b' <<< "$out" | sort | uniq -c)"
  [ "$b1" -ge 60 ] && [ "$b1" -le 140 ] || fail "spread b1 $b1 b2 $b2"
  echo "    b1 $b1, b2 $b2"
  [ "$(ul 1 onlink_hosts)" -ge 1 ] || fail "dp1 has no on-link route to the client"
  [ "$(mn_stat 1 to_uplink)" -gt 0 ] || fail "dp1 sent nothing out its uplink"

  pretty "$mode" "the same 60 5-tuples through node 1 and node 2 reach the same backends"
  a=$(conns 60 41000)
  via 2
  warm
  b=$(conns 60 41000)
  [ "$(grep -c '^b' <<< "$a")" = 60 ] || fail "node 1: $(grep -v '^b' <<< "$a" | sort | uniq -c)"
  [ "$a" = "$b" ] || fail "node 1 and node 2 disagree: $(diff <(echo "$a") <(echo "$b") | head -5)"
  [ "$(grep -c '^b1$' <<< "$a")" -gt 0 ] && [ "$(grep -c '^b2$' <<< "$a")" -gt 0 ] ||
    fail "60 tuples all went to one backend"

  pretty "$mode" "4000-byte UDP datagrams (3 fragments) reach one backend whole, answered from the VIP"
  out=$(n "$EXT" python3 "$TOOL" udpfrag "$VIP" 53 20 4000) || fail "udpfrag: $(grep BAD <<< "$out" | head -3)"
  [ "$(grep -c '^b' <<< "$out")" = 20 ] || fail "udpfrag: $out"

  pretty "$mode" "the nodes' kernels still talk over the uplinks"
  a=$(ul 2 xdp_pass_host)
  n "$(mn_node 1)" ping -q -c 3 -i 0.2 -W 1 "$(mn_node_ip 2)" > /dev/null || fail "node1 -> node2 ping"
  [ "$(ul 2 xdp_pass_host)" -ge $((a + 3)) ] || fail "dp2's program did not pass the pings to the kernel"

  if [ "$mode" = vxlan ]; then
    pretty "$mode" "a client behind the underlay router: answers leave via uplink.gateway"
    ip -n "$MN_UNDER" route replace "$VIP/32" via "$(mn_node_ip 1)"
    [ "$(ul 1 gateway_resolved)" = 1 ] || fail "dp1 has not resolved its gateway"
    a=$(mn_stat 1 to_uplink)
    out=$(n "$EXT2" python3 "$TOOL" conns "$VIP" 80 20)
    [ "$(grep -c '^b' <<< "$out")" = 20 ] || fail "off-link client: $(grep -v '^b' <<< "$out" | sort | uniq -c)"
    [ "$(mn_stat 1 to_uplink)" -ge $((a + 40)) ] || fail "dp1 to_uplink moved by $(( $(mn_stat 1 to_uplink) - a ))"
  fi

  pretty "$mode" "an agent restart (replay + SYNC_END) keeps the VIP steered; svc.del unsteers it"
  # (the replay also sweeps the pods and routes of dp's config file, which
  # carry generation 1: node 1 forwards no more after this)
  via 1
  stop_agent 1
  start_agent 1
  for _ in $(seq 50); do grep -q "sync end, generation 2" "$MN_DIR/dp1.log" && break; sleep 0.1; done
  grep -q "sync end, generation 2" "$MN_DIR/dp1.log" || fail "no replay"
  [ "$(mn_tel 1 /sluice/lb --get services)" = 2 ] || fail "services lost in the replay"
  wait_ul 1 vips_steered 1
  call 1 '{"op":"svc.del","name":"default/web"}' > /dev/null || fail "svc.del web"
  wait_ul 1 vips_steered 1 # dns still holds the VIP
  call 1 '{"op":"svc.del","name":"default/dns"}' > /dev/null || fail "svc.del dns"
  wait_ul 1 vips_steered 0
  wait_ul 1 vips 0
  out=$(conns 1)
  [ "$out" != b1 ] && [ "$out" != b2 ] || fail "VIP still answers through node 1"

  for i in 1 2; do
    stop_agent "$i"
    mn_stop_dp "$i" || fail "dp$i exited non-zero"
  done
}

mn_setup
setup_ext
start_servers
run_mode direct
run_mode vxlan
pretty done "lb_ext: external client through the uplinks, direct and VXLAN"
