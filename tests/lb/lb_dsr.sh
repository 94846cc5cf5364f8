#!/usr/bin/env bash
# lb_dsr: DSR services across nodes (docs/lb.md "DSR"), on the netns
# cluster of tests/multinode/mn_lib.sh in VXLAN mode (node 3 is behind the
# underlay router): sluice-dp --ctl and a sluice-ctrl --role=worker agent
# per node, routes and services programmed through the agents.
#
#   client pod mp1 10.78.1.2 (node 1)  ->  VIP 10.96.0.10:80/tcp, :53/udp,
#   mode dsr, backends pod mp2 10.78.2.2 (node 2) and mp3 10.78.3.2 (node 3)
#   on :8080/tcp and :5353/udp (tests/lb/lb_tool.py servers "b2", "b3").
#   Every node's agent gets the same services (every dp holds every one).
#
# Asserts:
#   1. 40 TCP connections to the VIP all get a backend's greeting, and both
#      backends are hit; 20 UDP datagrams are answered with their length
#      and SHA-256, from the VIP (the client's socket is unconnected: the
#      answers' source is checked) and by both backends;
#   2. a sniffer on node 1's underlay port sees, inside VXLAN, IPIP from
#      node 1's gateway 10.78.1.1 to each backend pod (the client's packet
#      to the VIP inside), and replies from the VIP to the client that are
#      not IPIP, coming from node 2's and node 3's underlay IPs;
#   3. node 1's LB encapsulated (dsr_encap > 0) and reverse-NATed nothing
#      (reply_pkts = 0, dsr_reply_pkts = 0); nodes 2 and 3 decapsulated
#      and reverse-NATed (dsr_decap, dsr_reply_pkts > 0); no lb_dsr_ipip,
#      lb_no_flow drops anywhere.
#
# Usage: lb_dsr.sh /path/to/sluice-dp /path/to/sluice-ctrl  (root)
set -euo pipefail

DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?usage: $0 sluice-dp sluice-ctrl}
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL="$HERE/lb_tool.py"
VIP=10.96.0.10
BG_PIDS=()

[ "$(id -u)" = 0 ] || { echo "lb_dsr: needs root"; exit 77; }
. "$HERE/../multinode/mn_lib.sh"

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
fail() { mn_fail "$@"; }
trap mn_cleanup_bg EXIT
lb_stat() { mn_num "$1" /sluice/lb "$2" || fail "dp$1: /sluice/lb $2 unreadable"; }

mn_setup
MN_CFG_ROUTES=0
pretty setup "3 nodes (VXLAN), sluice-dp --ctl and an agent each"
for i in 1 2 3; do
  mn_start_dp "$i" vxlan --ctl "$MN_DIR/ctl$i.shm" || fail "dp$i did not start"
  mn_start_agent "$i" || fail "agent$i did not answer"
done
for i in 1 2 3; do
  for o in 1 2 3; do
    [ "$o" = "$i" ] && continue
    r=$(mn_call "$i" "{\"op\":\"route_add\",\"prefix\":\"10.78.$o.0/24\",\"node\":$o,\"nexthop\":\"$(mn_node_ip $o)\",\"encap\":\"vxlan\"}")
    echo "$r" | grep -q '"applied": *true' || fail "node$i route_add $o: $r"
  done
done
for i in 2 3; do
  ip netns exec "$(mn_pod $i)" python3 "$TOOL" server "b$i" "$(mn_pod_ip $i)" 8080 5353 \
    > "$MN_DIR/server$i.log" 2>&1 &
  BG_PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$MN_DIR/server$i.log" && break; sleep 0.1; done
  grep -q ready "$MN_DIR/server$i.log" || fail "server b$i did not start"
done
for i in 1 2 3; do
  for svc in "web 80 tcp 8080" "dns 53 udp 5353"; do
    set -- $svc
    r=$(mn_call "$i" "{\"op\":\"svc.add\",\"name\":\"default/$1\",\"vip\":\"$VIP\",\"port\":$2,\"proto\":\"$3\",\"mode\":\"dsr\"}")
    echo "$r" | grep -q '"ok": *true' || fail "node$i svc.add $1: $r"
    r=$(mn_call "$i" "{\"op\":\"backend.set\",\"service\":\"default/$1\",\"backends\":[{\"ip\":\"$(mn_pod_ip 2)\",\"port\":$4},{\"ip\":\"$(mn_pod_ip 3)\",\"port\":$4}]}")
    echo "$r" | grep -q '"ok": *true' || fail "node$i backend.set $1: $r"
  done
  mn_call "$i" '{"op":"services"}' | grep -q '"mode": *"dsr"' || fail "node$i: service not in dsr mode"
done
# the path works before we count (ARP on the underlay, first VXLAN)
for _ in $(seq 50); do
  n "$(mn_pod 1)" python3 "$TOOL" conns "$VIP" 80 1 | grep -q '^b[23]$' && break
  sleep 0.2
done

pretty sniff "node 1's underlay port, inside VXLAN: tunnels out, plain replies in"
n "$MN_UNDER" env PYTHONPATH="$MN_LIBDIR" python3 - "ub1-$MN_ID" "$MN_DIR/sniff.out" "$VIP" <<'PY' &
import socket, struct, sys
import mn_sniff
dev, out, vip = sys.argv[1], sys.argv[2], socket.inet_aton(sys.argv[3])
a = socket.inet_aton
gw1, client = a("10.78.1.1"), a("10.78.1.2")
pods = {a("10.78.2.2"): "pod2", a("10.78.3.2"): "pod3"}
nodes = {a("192.168.77.2"): "node2", a("192.168.78.3"): "node3"}
seen = {}
for ip in mn_sniff.ipv4(dev, 60, out + ".ready", out + ".stop"):
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or len(ip) < ihl + 16 + 14 + 20:
        continue
    if struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != 4789:
        continue
    inner = ip[ihl + 16 + 14:]
    iihl = (inner[0] & 15) * 4
    if inner[9] == 4 and inner[12:16] == gw1 and inner[16:20] in pods:
        t = inner[iihl:]
        if len(t) >= 20 and t[16:20] == vip and t[12:16] == client:
            k = "ipip->" + pods[inner[16:20]]
            seen[k] = seen.get(k, 0) + 1
    elif inner[9] in (6, 17) and inner[12:16] == vip and inner[16:20] == client \
            and ip[12:16] in nodes:
        k = "reply<-" + nodes[ip[12:16]]
        seen[k] = seen.get(k, 0) + 1
    elif inner[9] == 4:
        seen["ipip-other"] = seen.get("ipip-other", 0) + 1
    elif inner[12:16] == client and inner[16:20] in pods:
        seen["plain-to-pod"] = seen.get("plain-to-pod", 0) + 1
open(out, "w").write(" ".join(f"{k}={v}" for k, v in sorted(seen.items())) + "\n")
PY
SNIFF=$!; BG_PIDS+=("$SNIFF")
for _ in $(seq 50); do [ -f "$MN_DIR/sniff.out.ready" ] && break; sleep 0.1; done

pretty tcp "40 connections from pod1 to the DSR VIP"
n "$(mn_pod 1)" python3 "$TOOL" conns "$VIP" 80 40 > "$MN_DIR/tcp.out"
[ "$(grep -c '^b[23]$' "$MN_DIR/tcp.out")" = 40 ] || fail "tcp: $(sort "$MN_DIR/tcp.out" | uniq -c | tr '\n' ' ')"
grep -q '^b2$' "$MN_DIR/tcp.out" && grep -q '^b3$' "$MN_DIR/tcp.out" || fail "tcp: one backend only"

pretty udp "20 datagrams, answered from the VIP"
n "$(mn_pod 1)" python3 - "$VIP" 53 20 > "$MN_DIR/udp.out" <<'PY' || fail "udp: $(cat "$MN_DIR/udp.out")"
import hashlib, os, socket, sys
vip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    data = os.urandom(200)
    ans = None
    for _ in range(3):
        s.sendto(data, (vip, port))
        try:
            b, src = s.recvfrom(4096)
            ans = b.decode().split() + [f"{src[0]}:{src[1]}"]
            break
        except socket.timeout:
            continue
    ok = ans is not None and len(ans) == 4 and ans[1] == str(len(data)) and \
        ans[2] == hashlib.sha256(data).hexdigest() and ans[3] == f"{vip}:{port}"
    print(ans[0] if ok else f"BAD {ans}", flush=True)
    bad += not ok
    s.close()
sys.exit(1 if bad else 0)
PY
grep -q '^b2$' "$MN_DIR/udp.out" && grep -q '^b3$' "$MN_DIR/udp.out" || fail "udp: $(sort "$MN_DIR/udp.out" | uniq -c | tr '\n' ' ')"

touch "$MN_DIR/sniff.out.stop"
wait "$SNIFF" || fail "sniffer failed"
sniffed=$(cat "$MN_DIR/sniff.out")
echo "    underlay: $sniffed"
for k in ipip-\>pod2 ipip-\>pod3 reply\<-node2 reply\<-node3; do
  echo " $sniffed " | grep -q " $k=[1-9]" || fail "sniffer: no $k ($sniffed)"
done
case " $sniffed " in *" ipip-other="*|*" plain-to-pod="*) fail "sniffer: unexpected ($sniffed)" ;; esac

pretty counters "node 1 tunnels and never reverse-NATs; nodes 2, 3 do"
[ "$(lb_stat 1 dsr_encap)" -ge 60 ] || fail "dp1 dsr_encap $(lb_stat 1 dsr_encap)"
[ "$(lb_stat 1 reply_pkts)" = 0 ] || fail "dp1 reply_pkts $(lb_stat 1 reply_pkts)"
[ "$(lb_stat 1 dsr_reply_pkts)" = 0 ] || fail "dp1 dsr_reply_pkts $(lb_stat 1 dsr_reply_pkts)"
for i in 2 3; do
  [ "$(lb_stat $i dsr_decap)" -gt 0 ] || fail "dp$i dsr_decap 0"
  [ "$(lb_stat $i dsr_reply_pkts)" -gt 0 ] || fail "dp$i dsr_reply_pkts 0"
done
for i in 1 2 3; do
  for c in drop_lb_dsr_ipip drop_lb_no_flow; do
    [ "$(mn_stat $i $c)" = 0 ] || fail "dp$i $c $(mn_stat $i $c)"
  done
done
pretty done "lb_dsr: DSR across nodes, tunnels out, direct replies"
