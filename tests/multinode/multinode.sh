#!/usr/bin/env bash
# multinode: the flat pod network across nodes (issue 7), in both cluster
# modes. Topology: see mn_lib.sh (an underlay netns with two bridged
# segments and a router between them, three node netns each with an uplink
# veth whose kernel keeps its IP, a sluice-dp per node with its own
# --file-prefix, one pod per node; node 3 is on the second segment).
#
# For each mode (direct, then vxlan), asserting on what arrives at the far
# side and on what crosses the underlay:
#   - the nodes' kernels still reach each other over the uplinks while dp
#     runs on them (ping + 256 KiB TCP, SHA-256 compared): the XDP program
#     passes everything that is not sluice traffic;
#   - pod1 <-> pod2 ping both ways, 1 MiB TCP pod1 -> pod2 SHA-256 compared;
#   - node1 -> pod2 and node2 -> pod1 ping (the node's route to the cluster
#     CIDR via its dp's tap; no NAT: pod2 sees node1's tap address);
#   - a sniffer on the underlay bridge port sees the pod packets in the
#     mode's form: plain IPv4 10.78.1.2 -> 10.78.2.2 to node2's MAC
#     (direct), or UDP 4789 between the node IPs with VNI 4242 around them
#     (vxlan);
#   - counters are exact: 10 echo requests move forwarded and to_uplink by
#     20 on each dp (requests + replies), vxlan_encap/vxlan_decap by 10 each;
#   - a route behind an underlay IP nobody answers ARP for: 3 pings are
#     exactly 3 drop_neigh_unresolved, nothing leaves the uplink;
#   - vxlan only: a DF packet that would exceed 1500 after encapsulation
#     gets ICMP fragmentation needed with next-hop MTU 1450, one that fits
#     crosses; node 3 (other segment, outer next hop = the uplink's
#     gateway) reaches and is reached by the others' pods and nodes.
# Then once more in VXLAN mode with no routes in the config: each node's
# sluice-ctrl agent (IPC route_add with a nexthop and no port, i.e. ROUTE_ADD
# via RING_PORT_UPLINK on the ring) installs them; pods cross; route_del
# takes the route away again (pings become drop_no_route, exactly).
# Usage: multinode.sh /path/to/sluice-dp [/path/to/sluice-ctrl]
set -euo pipefail

DP=${1:?usage: $0 /path/to/sluice-dp [/path/to/sluice-ctrl]}
CTRL=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mn_lib.sh
source "$HERE/mn_lib.sh"

BG_PIDS=()
pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() {
  echo "FAIL: $*" >&2
  for i in 1 2 3; do
    [ -f "$MN_DIR/dp$i.log" ] && sed "s/^/  dp$i.log: /" "$MN_DIR/dp$i.log" | tail -15 >&2
    [ -n "${MN_DP_PIDS[$i]}" ] && echo "  dp$i stats: $(mn_tel "$i" /sluice/stats 2>&1)" >&2
    [ -n "${MN_DP_PIDS[$i]}" ] && echo "  dp$i ports: $(mn_tel "$i" /sluice/ports 2>&1)" >&2
    [ -n "${MN_DP_PIDS[$i]}" ] && ip -n "$(mn_node "$i")" -o link show 2>&1 | grep -E "xdp|mh|ul" \
      | sed "s/^/  node$i link: /" >&2
  done
  exit 1
}
trap mn_cleanup_bg EXIT

[ "$(id -u)" = 0 ] || { echo "multinode: needs root"; exit 77; }
[ -x "$DP" ] || fail "$DP is not executable"

# One echo per ping run, each allowed 10 s: once it has a reply, iputils
# ping waits only about two RTTs for the rest, and on a loaded 2-CPU host
# (RTT spikes from 200 ms to seconds measured at load 20-40, dp counting
# no drop) a late reply would count as lost.
ping1() { # ns dst [args]: one echo request, its reply within 10 s
  local ns=$1 dst=$2; shift 2
  n "$ns" ping -q -c 1 -W 10 "$@" "$dst" 2>&1 | grep -q ' 1 received'
}
ping_ok() { # ns dst [args]: 3 echoes, every one answered
  local k
  for k in 1 2 3; do ping1 "$@" || fail "ping $1 -> $2: echo $k not answered in 10 s"; done
}

# Wait (<= 5 s) for dp i's counter to move by want from base, then check
# it moved by exactly that.
wait_delta() { # i counter base want
  local d
  for _ in $(seq 50); do
    d=$(( $(mn_stat "$1" "$2") - $3 ))
    [ "$d" -ge "$4" ] && break
    sleep 0.1
  done
  [ "$d" = "$4" ] || fail "dp$1 $2 moved by $d, want $4"
}

# TCP: send SZ random bytes from ns $1 to $3:$4 (server in ns $2), the
# receiver hashes what it got; must equal the sender's hash. Timeouts are
# generous (60 s): this host is shared and was seen at load 43.
tcp_ok() { # src_ns dst_ns dst_ip port size
  local src=$1 dst=$2 ip=$3 port=$4 size=$5 want got srv
  head -c "$size" /dev/urandom > "$MN_DIR/blob"
  want=$(sha256sum < "$MN_DIR/blob" | cut -d' ' -f1)
  rm -f "$MN_DIR/tcp.out"
  n "$dst" python3 - "$MN_DIR/tcp.out" "$port" <<'PY' &
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(1); s.settimeout(60)
c, a = s.accept(); c.settimeout(60); h = hashlib.sha256(); total = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); total += len(b)
open(sys.argv[1], "w").write(f"{h.hexdigest()} {total} {a[0]}\n")
PY
  srv=$!; BG_PIDS+=("$srv")
  for _ in $(seq 50); do n "$dst" ss -ltn | grep -q ":$port " && break; sleep 0.1; done
  n "$src" python3 - "$ip" "$port" "$MN_DIR/blob" <<'PY' || fail "tcp sender $src -> $ip"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(open(sys.argv[3], "rb").read()); s.shutdown(socket.SHUT_WR)
s.recv(1); s.close()
PY
  wait "$srv" || fail "tcp receiver in $dst failed"
  got=$(cat "$MN_DIR/tcp.out")
  [ "${got% *}" = "$want $size" ] || fail "tcp $src -> $ip: receiver saw '$got', want '$want $size'"
  TCP_PEER=${got##* }
}

# Sniff the underlay bridge port of node 1 for pod1 -> pod2 echo requests
# and classify their form. Prints "<direct> <vxlan>" counts when done.
sniff_start() {
  n "$MN_UNDER" env PYTHONPATH="$MN_LIBDIR" python3 - "ub1-$MN_ID" "$MN_DIR/sniff.out" "$MN_VNI" <<'PY' &
import socket, struct, sys
import mn_sniff
dev, out, vni = sys.argv[1], sys.argv[2], int(sys.argv[3])
src, dst = socket.inet_aton("10.78.1.2"), socket.inet_aton("10.78.2.2")
def echo_req(ip):  # IPv4 ICMP echo request pod1 -> pod2?
    ihl = (ip[0] & 15) * 4
    return len(ip) > ihl and ip[9] == 1 and ip[12:16] == src and ip[16:20] == dst and ip[ihl] == 8
direct = vx = 0
for ip in mn_sniff.ipv4(dev, 15, out + ".ready"):
    if echo_req(ip):
        direct += 1
    elif ip[9] == 17 and ip[12:16] == socket.inet_aton("192.168.77.1") and \
         ip[16:20] == socket.inet_aton("192.168.77.2"):
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        sport, dport = struct.unpack("!HH", udp[:4])
        vx_hdr = udp[8:16]
        inner = udp[16 + 14:]
        if dport == 4789 and 49152 <= sport and vx_hdr[0] == 8 and \
           int.from_bytes(vx_hdr[4:7], "big") == vni and \
           (ip[6] & 0x40) and echo_req(inner):
            vx += 1
    if direct + vx >= 10:
        break
open(out, "w").write(f"{direct} {vx}\n")
PY
  SNIFF=$!; BG_PIDS+=("$SNIFF")
  for _ in $(seq 50); do [ -f "$MN_DIR/sniff.out.ready" ] && break; sleep 0.1; done
}

# Counter deltas over 10 echo requests pod1 -> pod2.
declare -A C0
snap() { for i in 1 2; do for c in forwarded to_uplink vxlan_encap vxlan_decap; do
  C0[$i.$c]=$(mn_stat "$i" "$c"); done; done; }
delta() { echo $(( $(mn_stat "$1" "$2") - ${C0[$1.$2]} )); }

run_mode() { # mode
  local mode=$1
  # direct: the two nodes of one segment; vxlan: also node 3 behind the
  # underlay router
  local nodes="1 2"
  [ "$mode" = vxlan ] && nodes="1 2 3"
  pretty "$mode" "starting sluice-dp on nodes $nodes"
  for i in $nodes; do
    mn_start_dp "$i" "$mode" || fail "dp$i did not start"
  done
  for i in $nodes; do
    t=$(mn_tel "$i" /sluice/ports --get up0/type)
    [ "$t" = uplink ] || fail "dp$i: up0 attached as $t"
  done

  pretty "$mode" "node kernels still talk over the uplinks (XDP_PASS)"
  ping_ok "$(mn_node 1)" "$(mn_node_ip 2)"
  ping_ok "$(mn_node 2)" "$(mn_node_ip 1)"
  tcp_ok "$(mn_node 1)" "$(mn_node 2)" "$(mn_node_ip 2)" 5100 262144

  pretty "$mode" "pod <-> pod across nodes"
  ping_ok "$(mn_pod 1)" "$(mn_pod_ip 2)"
  ping_ok "$(mn_pod 2)" "$(mn_pod_ip 1)"
  tcp_ok "$(mn_pod 1)" "$(mn_pod 2)" "$(mn_pod_ip 2)" 5101 1048576
  [ "$TCP_PEER" = "$(mn_pod_ip 1)" ] || fail "pod2 saw the stream from $TCP_PEER, not pod1 (NAT?)"

  pretty "$mode" "node -> remote pod through dp (no NAT)"
  ping_ok "$(mn_node 1)" "$(mn_pod_ip 2)"
  ping_ok "$(mn_node 2)" "$(mn_pod_ip 1)"
  tcp_ok "$(mn_node 1)" "$(mn_pod 2)" "$(mn_pod_ip 2)" 5102 65536
  [ "$TCP_PEER" = "$(mn_host_ip 1)" ] || fail "pod2 saw node1 as $TCP_PEER, want $(mn_host_ip 1)"

  pretty "$mode" "10 echo requests: exact counters and the form on the underlay"
  rm -f "$MN_DIR/sniff.out" "$MN_DIR/sniff.out.ready"
  sniff_start
  snap
  local k
  for k in $(seq 10); do ping1 "$(mn_pod 1)" "$(mn_pod_ip 2)" || fail "echo $k of 10 not answered"; done
  wait "$SNIFF" || fail "sniffer failed"
  read -r sd sv < "$MN_DIR/sniff.out"
  for i in 1 2; do
    [ "$(delta $i forwarded)" = 20 ] || fail "dp$i forwarded +$(delta $i forwarded), want 20"
    [ "$(delta $i to_uplink)" = 10 ] || fail "dp$i to_uplink +$(delta $i to_uplink), want 10"
    if [ "$mode" = vxlan ]; then
      [ "$(delta $i vxlan_encap)" = 10 ] || fail "dp$i vxlan_encap +$(delta $i vxlan_encap)"
      [ "$(delta $i vxlan_decap)" = 10 ] || fail "dp$i vxlan_decap +$(delta $i vxlan_decap)"
    else
      [ "$(delta $i vxlan_encap)" = 0 ] || fail "dp$i encapsulated in direct mode"
    fi
  done
  if [ "$mode" = vxlan ]; then
    [ "$sd $sv" = "0 10" ] || fail "underlay saw $sd plain / $sv VXLAN requests, want 0 / 10"
  else
    [ "$sd $sv" = "10 0" ] || fail "underlay saw $sd plain / $sv VXLAN requests, want 10 / 0"
  fi
  pretty "$mode" "forwarded +20, to_uplink +10 per dp; underlay saw $sd plain, $sv VXLAN"

  pretty "$mode" "next hop that never answers ARP: counted drops, nothing sent"
  local u0 t0
  u0=$(mn_stat 1 drop_neigh_unresolved); t0=$(mn_stat 1 to_uplink)
  if n "$(mn_pod 1)" ping -q -c 3 -i 0.2 -W 1 10.78.9.2 >/dev/null; then fail "10.78.9.2 answered"; fi
  wait_delta 1 drop_neigh_unresolved "$u0" 3
  [ "$(mn_stat 1 to_uplink)" = "$t0" ] || fail "packets left for an unresolved next hop"

  if [ "$mode" = vxlan ]; then
    pretty vxlan "DF 1450-byte packet crosses, 1451 gets frag-needed mtu 1450"
    ping1 "$(mn_pod 1)" "$(mn_pod_ip 2)" -M do -s 1422 || fail "1450-byte DF ping did not cross"
    local e0 m0 out
    e0=$(mn_stat 1 icmp_error_sent); m0=$(mn_stat 1 drop_mtu_exceeded)
    # IP_PMTUDISC_PROBE: DF set and the pod's cached path MTU (the TCP
    # stream above already learnt 1450) ignored, so the 1451-byte packet
    # reaches dp; the ICMP error comes back on the socket's error queue.
    out=$(n "$(mn_pod 1)" python3 - "$(mn_pod_ip 2)" <<'PY' 2>&1 || true
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 3)      # IP_MTU_DISCOVER = IP_PMTUDISC_PROBE
s.setsockopt(socket.IPPROTO_IP, 11, 1)      # IP_RECVERR
s.sendto(b"x" * (1451 - 28), (sys.argv[1], 5200))
end = time.time() + 3
while time.time() < end:
    try:
        _, anc, _, _ = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE)
    except BlockingIOError:
        time.sleep(0.05); continue
    for lvl, typ, data in anc:
        if lvl == socket.IPPROTO_IP and typ == 11:   # IP_RECVERR: sock_extended_err
            errno_, origin, itype, icode, _, info, _ = struct.unpack("=IBBBBII", data[:16])
            print(f"origin={origin} type={itype} code={icode} mtu={info}")
            sys.exit(0)
s.setblocking(False)
print("no ICMP error")
PY
)
    [ "$out" = "origin=2 type=3 code=4 mtu=1450" ] \
      || fail "want ICMP frag-needed with next-hop MTU 1450, got: $out"
    [ $(( $(mn_stat 1 icmp_error_sent) - e0 )) = 1 ] || fail "icmp_error_sent did not move by 1"
    [ $(( $(mn_stat 1 drop_mtu_exceeded) - m0 )) = 1 ] || fail "drop_mtu_exceeded did not move by 1"
  fi

  if [ "$mode" = vxlan ]; then
    pretty vxlan "node 3 on the other segment: VXLAN through the underlay router"
    ping_ok "$(mn_node 1)" "$(mn_node_ip 3)"
    ping_ok "$(mn_pod 1)" "$(mn_pod_ip 3)"
    ping_ok "$(mn_pod 3)" "$(mn_pod_ip 2)"
    tcp_ok "$(mn_pod 3)" "$(mn_pod 1)" "$(mn_pod_ip 1)" 5104 262144
    [ "$TCP_PEER" = "$(mn_pod_ip 3)" ] || fail "pod1 saw pod3 as $TCP_PEER"
    ping_ok "$(mn_node 2)" "$(mn_pod_ip 3)"
  fi

  for i in $nodes; do
    [ "$(mn_stat $i drop_vxlan_malformed)" = 0 ] || fail "dp$i drop_vxlan_malformed"
    [ "$(mn_stat $i drop_encap_headroom)" = 0 ] || fail "dp$i drop_encap_headroom"
    mn_stop_dp "$i" || fail "dp$i exited non-zero"
  done
}

# Routes from the node agents, over the rings.
CTRL_PIDS=(x "" "" "")
ctrl_call() { # i json
  n "$(mn_node "$1")" "$CTRL" --ipc "ipc://$MN_DIR/agent$1.ipc" --call "$2"
}
run_agent() {
  pretty agent "vxlan, routes from sluice-ctrl over the ring"
  MN_CFG_ROUTES=0
  for i in 1 2; do
    mn_start_dp "$i" vxlan --ctl "$MN_DIR/ctl$i.shm" || fail "dp$i did not start"
    ip netns exec "$(mn_node "$i")" "$CTRL" --role=worker --state "$MN_DIR/agent$i.json" \
      --segment "$MN_DIR/ctl$i.shm" --ipc "ipc://$MN_DIR/agent$i.ipc" \
      > "$MN_DIR/ctrl$i.log" 2>&1 &
    CTRL_PIDS[$i]=$!; BG_PIDS+=("$!")
    for _ in $(seq 100); do ctrl_call "$i" '{"op":"status"}' >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if n "$(mn_pod 1)" ping -q -c 1 -W 1 "$(mn_pod_ip 2)" >/dev/null; then fail "crossed without routes"; fi
  for i in 1 2; do
    local o=$((3 - i)) r
    r=$(ctrl_call "$i" "{\"op\":\"route_add\",\"prefix\":\"10.78.$o.0/24\",\"node\":$o,\"nexthop\":\"$(mn_node_ip $o)\",\"encap\":\"vxlan\"}")
    echo "$r" | grep -q '"ok": *true' || fail "node$i route_add: $r"
    echo "$r" | grep -q '"applied": *true' || fail "node$i route_add not applied by dp: $r"
  done
  ping_ok "$(mn_pod 1)" "$(mn_pod_ip 2)"
  tcp_ok "$(mn_pod 2)" "$(mn_pod 1)" "$(mn_pod_ip 1)" 5103 262144
  [ "$(mn_stat 1 vxlan_decap)" -gt 0 ] || fail "dp1 decapsulated nothing"
  local r d0
  r=$(ctrl_call 1 '{"op":"route_del","prefix":"10.78.2.0/24"}')
  echo "$r" | grep -q '"ok": *true' || fail "route_del: $r"
  d0=$(mn_stat 1 drop_no_route)
  if n "$(mn_pod 1)" ping -q -c 3 -i 0.2 -W 1 "$(mn_pod_ip 2)" >/dev/null; then fail "route_del did not take"; fi
  wait_delta 1 drop_no_route "$d0" 3
  for i in 1 2; do
    kill -TERM "${CTRL_PIDS[$i]}"; wait "${CTRL_PIDS[$i]}" 2>/dev/null || true
    mn_stop_dp "$i" || fail "dp$i exited non-zero"
  done
}

mn_setup
run_mode direct
run_mode vxlan
if [ -n "$CTRL" ]; then run_agent; else echo "NOTE: no sluice-ctrl given, agent round skipped"; fi
pretty done "multinode: direct, vxlan and agent-programmed routes pass"
