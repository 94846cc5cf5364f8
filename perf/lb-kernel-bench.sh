#!/usr/bin/env bash
# lb-kernel-bench: one VIP served two ways in the same run, as a ratio:
#
#   kernel:  netns lkc (client) ─veth─ netns lkr: ip_forward, nftables DNAT
#            10.96.0.10:80 -> backend:8080 + masquerade, conntrack (what
#            kube-proxy's nftables mode does) ─veth─ netns lkb (backend)
#   sluice:  netns ldc (client) ─veth─ netns ldn: sluice-dp (AF_XDP on both
#            veths, service programmed by sluice-ctrl) ─veth─ netns ldb
#
# Same client, same backend server (tests/lb/lb_tool.py), same veths (tx
# checksum offload off in the pods on both sides: dp does not complete
# partial checksums). Figures, each path measured LB_ROUNDS times,
# alternating, median reported:
#   - short TCP connections/s through the VIP (connect, read a line, RST;
#     one client at a time, Python: the client and server, not the LB, are
#     the ceiling at these rates, which is why this is a ratio);
#   - iperf3 TCP throughput through the VIP (one stream, LB_SECONDS s).
#
# Env: LB_ROUNDS (3), LB_SECONDS (3), SLUICE_BUILD. Root. bash perf/lb-kernel-bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${LB_ROUNDS:-3}
SECS=${LB_SECONDS:-3}
CTRL_BIN=$SLUICE_BUILD/ctrl/sluice-ctrl
TOOL=$PERF_ROOT/tests/lb/lb_tool.py
VIP=10.96.0.10
MADE_NS=()

perf_need_root lb-kernel-bench
perf_need_bin "$DP_BIN" "$CTRL_BIN"
command -v nft >/dev/null || { echo "skip: nft missing" >&2; exit 77; }
command -v iperf3 >/dev/null || { echo "skip: iperf3 missing" >&2; exit 77; }
perf_setup lbk
trap 'perf_cleanup; for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done' EXIT
perf_log "machine: $(perf_load)"

n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mkns() {
  ip netns add "$1"; MADE_NS+=("$1")
  ip -n "$1" link set lo up
  n "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
}
pod() { # ns peer-ns veth ip/len gw [mac]
  mkns "$1"
  ip link add "$3" netns "$2" type veth peer name eth0 netns "$1"
  [ -n "${6:-}" ] && ip -n "$1" link set eth0 address "$6"
  ip -n "$1" addr add "$4" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$5"
  n "$1" ethtool -K eth0 tx off >/dev/null
  ip -n "$2" link set "$3" up
}
bg() { "$@" & PERF_PIDS+=($!); }

# --- kernel path ---------------------------------------------------------
mkns lkr-$$
pod lkc-$$ lkr-$$ lkrc-$$ 10.78.1.2/24 10.78.1.1
pod lkb-$$ lkr-$$ lkrb-$$ 10.78.2.2/24 10.78.2.1
ip -n lkr-$$ addr add 10.78.1.1/24 dev lkrc-$$
ip -n lkr-$$ addr add 10.78.2.1/24 dev lkrb-$$
n lkr-$$ sysctl -qw net.ipv4.ip_forward=1
n lkr-$$ nft -f - <<NFT
table ip lbk {
  chain pre { type nat hook prerouting priority dstnat; ip daddr $VIP tcp dport 80 dnat to 10.78.2.2:8080; }
  chain post { type nat hook postrouting priority srcnat; ip daddr 10.78.2.2 masquerade; }
}
NFT
bg ip netns exec lkb-$$ python3 "$TOOL" server kernel 10.78.2.2 8080 5353 > /dev/null
bg ip netns exec lkb-$$ iperf3 -s -p 5201 -B 10.78.2.2 > /dev/null 2>&1
n lkr-$$ nft add rule ip lbk pre ip daddr $VIP tcp dport 5201 dnat to 10.78.2.2:5201

# --- sluice-dp path --------------------------------------------------------
mkns ldn-$$
pod ldc-$$ ldn-$$ ldhc-$$ 10.77.1.2/24 10.77.1.1 02:00:00:00:01:02
pod ldb-$$ ldn-$$ ldhb-$$ 10.77.1.11/24 10.77.1.1 02:00:00:00:01:11
for p in ldc-$$ ldb-$$; do n "$p" ip neigh replace 10.77.1.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent; done
DUT_PREFIX=sp$$lbk
cat > "$PERF_DIR/dp.json" <<JSON
{ "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "10.77.1.1", "gateway_mac": "02:00:00:00:00:01" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "ldt-$$" } ] }
JSON
bg ip netns exec ldn-$$ sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
  "$DP_BIN" --lcores "0@$CTL_CPU,1@$DUT_CPU" --file-prefix "$DUT_PREFIX" --no-pci $EAL_MEM \
  -- --config "$PERF_DIR/dp.json" --ctl "$PERF_DIR/seg.shm" > "$PERF_DIR/dp.log" 2>&1
for _ in $(seq 100); do grep -q "ctl: segment .* up" "$PERF_DIR/dp.log" && break; sleep 0.1; done
bg ip netns exec ldn-$$ "$CTRL_BIN" --role=worker --state "$PERF_DIR/agent.json" \
  --segment "$PERF_DIR/seg.shm" --ipc "ipc://$PERF_DIR/agent.ipc" > "$PERF_DIR/ctrl.log" 2>&1
call() { n ldn-$$ "$CTRL_BIN" --ipc "ipc://$PERF_DIR/agent.ipc" --call "$1" > /dev/null; }
for _ in $(seq 50); do call '{"op":"status"}' 2>/dev/null && break; sleep 0.1; done
call '{"op":"batch","ops":[
  {"op":"port_add","name":"pc","kind":"af_xdp","ifname":"ldhc-'$$'"},
  {"op":"pod_add","name":"c","ip":"10.77.1.2","mac":"02:00:00:00:01:02","port":"pc"},
  {"op":"port_add","name":"pb","kind":"af_xdp","ifname":"ldhb-'$$'"},
  {"op":"pod_add","name":"b","ip":"10.77.1.11","mac":"02:00:00:00:01:11","port":"pb"}]}'
call '{"op":"svc.add","name":"web","vip":"'$VIP'","port":80,"proto":"tcp"}'
call '{"op":"backend.set","service":"web","backends":[{"ip":"10.77.1.11","port":8080}]}'
call '{"op":"svc.add","name":"iperf","vip":"'$VIP'","port":5201,"proto":"tcp"}'
call '{"op":"backend.set","service":"iperf","backends":[{"ip":"10.77.1.11","port":5201}]}'
bg ip netns exec ldb-$$ python3 "$TOOL" server sluice 10.77.1.11 8080 5353 > /dev/null
bg ip netns exec ldb-$$ iperf3 -s -p 5201 -B 10.77.1.11 > /dev/null 2>&1
sleep 1

measure() { # client-ns -> "conn/s gbit/s"
  local c i
  c=$(n "$1" python3 "$TOOL" rate "$VIP" 80 "$SECS")
  i=$(n "$1" iperf3 -c "$VIP" -p 5201 -t "$SECS" -J 2>/dev/null \
      | python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' \
      || echo 0)
  echo "$c $i"
}
: > "$PERF_DIR/k"; : > "$PERF_DIR/d"
for r in $(seq "$ROUNDS"); do
  measure lkc-$$ >> "$PERF_DIR/k"
  measure ldc-$$ >> "$PERF_DIR/d"
  perf_log "round $r: kernel $(tail -1 "$PERF_DIR/k"), sluice-dp $(tail -1 "$PERF_DIR/d") (conn/s Gbit/s)"
done
med() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
kc=$(cut -d' ' -f1 "$PERF_DIR/k" | med); kg=$(cut -d' ' -f2 "$PERF_DIR/k" | med)
dc=$(cut -d' ' -f1 "$PERF_DIR/d" | med); dg=$(cut -d' ' -f2 "$PERF_DIR/d" | med)
printf '\nVIP %s:80 -> one backend, median of %d rounds, %s s each\n' "$VIP" "$ROUNDS" "$SECS"
printf '%-40s %14s %14s\n' "" "TCP conn/s" "iperf3 Gbit/s"
printf '%-40s %14s %14s\n' "kernel: nftables DNAT + conntrack" "$kc" "$kg"
printf '%-40s %14s %14s\n' "sluice-dp: Maglev + ct + full NAT" "$dc" "$dg"
awk -v kc="$kc" -v dc="$dc" -v kg="$kg" -v dg="$dg" 'BEGIN {
  printf "%-40s %14.2f %14.2f\n", "ratio sluice-dp / kernel", kc ? dc / kc : 0, kg ? dg / kg : 0 }'
echo "sluice-dp: 1 worker on CPU $DUT_CPU, AF_XDP (copy mode) on veths; kernel: softirq on any CPU"
echo "machine during run: $(perf_load)"
