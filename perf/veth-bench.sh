#!/usr/bin/env bash
# veth-bench: pod-to-pod TCP throughput and RTT, sluice-dp vs a Linux bridge.
#
#   rig "sluice": node netns vn$$ runs sluice-dp (af_xdp on the host ends)
#     pod ns pa$$  eth0 10.77.1.2/24 ── veth ── xa$$ ┐
#                                                    ├─ sluice-dp (gw 10.77.1.1)
#     pod ns pb$$  eth0 10.77.1.3/24 ── veth ── xb$$ ┘
#
#   rig "bridge" (the CNI bridge plugin's shape): node netns bn$$
#     pod ns pc$$  eth0 10.78.1.2/24 ── veth ── bc$$ ┐
#                                                    ├─ br$$ 10.78.1.1/24
#     pod ns pd$$  eth0 10.78.1.3/24 ── veth ── bd$$ ┘
#
# Both rigs exist at once and are measured back to back in one run: iperf3
# TCP (client in the first pod, server in the second, VETH_TIME seconds,
# one stream) and ping (VETH_PINGS echo requests 10 ms apart; avg and p99
# of the per-packet RTTs). Prints both side by side.
#
# Env: VETH_TIME (10), VETH_PINGS (500), DUT_CPU (1), CTL_CPU (0), SLUICE_BUILD.
# Run as root: bash perf/veth-bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

T=${VETH_TIME:-10}
NP=${VETH_PINGS:-500}
S=$$
NS_DP=vn$S; NS_A=pa$S; NS_B=pb$S
NS_BR=bn$S; NS_C=pc$S; NS_D=pd$S
MADE_NS=()

perf_need_root veth-bench
command -v iperf3 >/dev/null || { echo "skip: iperf3 missing (scripts/deps.sh installs it)" >&2; exit 77; }
command -v ethtool >/dev/null || { echo "skip: ethtool missing (scripts/deps.sh installs it)" >&2; exit 77; }
perf_setup veth
have_dp=1
[ -x "$DP_BIN" ] || { have_dp=0; perf_log "sluice-dp not built: measuring the bridge rig only"; }

veth_cleanup() {
  perf_cleanup
  local n
  for n in "${MADE_NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "/var/run/dpdk/sv$S"
}
trap veth_cleanup EXIT

mkns() { ip netns add "$1"; MADE_NS+=("$1"); ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }

# pod NODE_NS POD_NS HOST_END IP GW MAC [csum_off]
mkpod() {
  mkns "$2"
  ip link add "$3" netns "$1" type veth peer name eth0 netns "$2"
  ip -n "$2" link set eth0 address "$6"
  ip -n "$2" addr add "$4/24" dev eth0
  ip -n "$2" link set eth0 up
  ip -n "$2" route add default via "$5"
  # sluice pods only: dp forwards frames as the pod's kernel left them and
  # never fills in L4 checksums, so the pod must compute them (this also
  # turns TSO off). Bridge pods keep the kernel defaults, as CNI leaves them.
  [ "${7:-}" = csum_off ] && ip netns exec "$2" ethtool -K eth0 tx off >/dev/null
  ip -n "$1" link set "$3" up
}

# --- bridge rig ---
mkns "$NS_BR"
ip -n "$NS_BR" link add "br$S" type bridge
ip -n "$NS_BR" addr add 10.78.1.1/24 dev "br$S"
ip -n "$NS_BR" link set "br$S" up
mkpod "$NS_BR" "$NS_C" "bc$S" 10.78.1.2 10.78.1.1 02:00:00:00:02:02
mkpod "$NS_BR" "$NS_D" "bd$S" 10.78.1.3 10.78.1.1 02:00:00:00:02:03
ip -n "$NS_BR" link set "bc$S" master "br$S"
ip -n "$NS_BR" link set "bd$S" master "br$S"

# --- sluice rig ---
if [ $have_dp = 1 ]; then
  mkns "$NS_DP"
  mkpod "$NS_DP" "$NS_A" "xa$S" 10.77.1.2 10.77.1.1 02:00:00:00:01:02 csum_off
  mkpod "$NS_DP" "$NS_B" "xb$S" 10.77.1.3 10.77.1.1 02:00:00:00:01:03 csum_off
  cat > "$PERF_DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "10.77.1.1", "gateway_mac": "$GW_MAC" },
  "ports": [
    { "name": "pa", "type": "af_xdp", "iface": "xa$S" },
    { "name": "pb", "type": "af_xdp", "iface": "xb$S" }
  ],
  "pods": [
    { "ip": "10.77.1.2", "mac": "02:00:00:00:01:02", "port": "pa" },
    { "ip": "10.77.1.3", "mac": "02:00:00:00:01:03", "port": "pb" }
  ]
}
JSON
  # ip netns exec remounts /sys, hiding bpffs: mount one for libxdp.
  ip netns exec "$NS_DP" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh "$DP_BIN" --lcores "0@$CTL_CPU,1@$DUT_CPU" --file-prefix "sv$S" --no-pci \
    $EAL_MEM -- --config "$PERF_DIR/dp.json" > "$PERF_DIR/dp.log" 2>&1 &
  DP_PID=$!
  PERF_PIDS+=("$DP_PID")
  ok=0
  for _ in $(seq 100); do
    if ip netns exec "$NS_A" ping -c1 -W1 10.77.1.3 >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$DP_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ $ok = 0 ]; then
    tail -20 "$PERF_DIR/dp.log" >&2
    echo "FAIL: pods cannot reach each other through sluice-dp" >&2; exit 1
  fi
  grep 'falling back to af_packet' "$PERF_DIR/dp.log" >&2 || true
fi

# iperf3 TCP: prints Gbit/s (receiver side).
tcp_gbps() { # client_ns server_ns server_ip tag
  ip netns exec "$2" iperf3 -s -1 -B "$3" > "$PERF_DIR/iperf-s-$4.log" 2>&1 &
  local sp=$!
  PERF_PIDS+=("$sp")
  sleep 0.5
  ip netns exec "$1" iperf3 -c "$3" -t "$T" -J > "$PERF_DIR/iperf-$4.json" 2>&1 || true
  wait "$sp" 2>/dev/null || true
  $PY - "$PERF_DIR/iperf-$4.json" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    print("%.2f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception as e:
    print("error")
PY
}

# ping: prints "avg p99" in µs from the per-packet times.
rtt_us() { # ns ip tag
  ip netns exec "$1" ping -n -c "$NP" -i 0.01 -W 1 "$2" > "$PERF_DIR/ping-$3.log" 2>&1 || true
  sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$PERF_DIR/ping-$3.log" | sort -g | awk '
    { v[NR] = $1 * 1000; s += v[NR] }
    END { if (NR == 0) { print "error error 0"; exit }
          i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
          printf "%.0f %.0f %d\n", s / NR, v[i], NR }'
}

perf_log "machine: $(perf_load)"
perf_log "bridge rig: iperf3 ${T}s, ping x$NP"
br_tcp=$(tcp_gbps "$NS_C" "$NS_D" 10.78.1.3 br)
read -r br_avg br_p99 br_n < <(rtt_us "$NS_C" 10.78.1.3 br)
if [ $have_dp = 1 ]; then
  perf_log "sluice rig: iperf3 ${T}s, ping x$NP"
  dp_tcp=$(tcp_gbps "$NS_A" "$NS_B" 10.77.1.3 dp)
  read -r dp_avg dp_p99 dp_n < <(rtt_us "$NS_A" 10.77.1.3 dp)
  dp_cpu=$(perf_cpu_pct "$DP_PID" 2)
  kill -0 "$DP_PID" || { echo "FAIL: sluice-dp died during the benchmark"; exit 1; }
else
  dp_tcp=n/a; dp_avg=n/a; dp_p99=n/a; dp_n=0; dp_cpu=n/a
fi

echo
printf '%-28s %16s %16s\n' "pod -> pod, same node" "sluice-dp af_xdp" "linux bridge"
printf '%-28s %16s %16s\n' "TCP throughput (Gbit/s)" "$dp_tcp" "$br_tcp"
printf '%-28s %16s %16s\n' "ping RTT avg (us)" "$dp_avg" "$br_avg"
printf '%-28s %16s %16s\n' "ping RTT p99 (us)" "$dp_p99" "$br_p99"
printf '%-28s %16s %16s\n' "ping replies" "$dp_n/$NP" "$br_n/$NP"
echo "note: sluice pods run with tx checksum offload off (dp needs complete L4 checksums), so no TSO;"
echo "      bridge pods keep the kernel defaults (TSO/GSO on), as the CNI bridge plugin leaves them."
echo "sluice-dp CPU% when idle after the runs: $dp_cpu (worker on CPU $DUT_CPU)"
echo "machine: $(perf_load)"
