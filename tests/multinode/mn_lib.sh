# mn_lib.sh: the netns cluster of tests/multinode and perf/mn-bench.sh.
# Sourced; the caller sets DP (sluice-dp path) and calls mn_setup, then
# mn_start_dp <node> <mode> per node, and mn_cleanup from a trap.
#
#   netns mnu-$$ (the underlay): bridge mnbr-$$ 192.168.77.254/24 and bridge
#   mnbs-$$ 192.168.78.254/24, IP forwarding on: a router between two L2
#   segments. Nodes 1 and 2 share the first segment, node 3 is alone on the
#   second (reached from the others only through the router: VXLAN only).
#                 ub1-$$ ----------+---------- ub2-$$          ub3-$$ (mnbs)
#                   | veth                        | veth          | veth
#   netns mnn1-$$  ul1-$$ 192.168.77.1   netns mnn2-$$  ul2-$$ 192.168.77.2
#     (the node's kernel keeps its IP;     (same; both sluice-dp uplinks are
#      sluice-dp's uplink is AF_XDP         AF_XDP on ulN with the steering
#      on ul1 with dp/xdp/uplink.bpf.c)     program)
#     sluice-dp  gw 10.78.1.1              sluice-dp  gw 10.78.2.1
#      |- tap mt1-$$ 10.78.1.254/24         |- tap mt2-$$ 10.78.2.254/24
#      |  (kernel: 10.78.0.0/16 via gw)     |  (kernel: 10.78.0.0/16 via gw)
#      `- veth mh1-$$ -- netns mp1-$$       `- veth mh2-$$ -- netns mp2-$$
#                        eth0 10.78.1.2                       eth0 10.78.2.2
#   netns mnn3-$$: ul3-$$ 192.168.78.3 (default via 192.168.78.254), dp,
#   tap mt3-$$ 10.78.3.254, pod mp3-$$ 10.78.3.2; the same shape.
#
# Each dp has its own --file-prefix and routes "10.78.<other>.0/24 via
# <other's underlay IP>" to every node it can reach in the mode under test
# (direct: its own segment; vxlan, VNI 4242: all, off-link ones through the
# uplink's gateway).

MN_ID=$$
MN_UNDER=mnu-$MN_ID
MN_BR=mnbr-$MN_ID
MN_DIR=$(mktemp -d /tmp/multinode.XXXXXX)
MN_NS=()
MN_DP_PIDS=(x "" "" "")
MN_VNI=4242
# EAL lcore argument per node (benchmarks put the two workers on two CPUs).
declare -A MN_LCORES=()

mn_node() { echo "mnn$1-$MN_ID"; }
mn_pod() { echo "mp$1-$MN_ID"; }
mn_node_ip() { if [ "$1" = 3 ]; then echo 192.168.78.3; else echo "192.168.77.$1"; fi; }
mn_gw_under() { if [ "$1" = 3 ]; then echo 192.168.78.254; else echo 192.168.77.254; fi; }
mn_segment() { if [ "$1" = 3 ]; then echo 2; else echo 1; fi; }
mn_pod_ip() { echo "10.78.$1.2"; }
mn_host_ip() { echo "10.78.$1.254"; }
mn_gw_ip() { echo "10.78.$1.1"; }
mn_prefix() { echo "sl-mn$1-$MN_ID"; }
n() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# EAL memory: hugepages when enough are free for two dps, else --no-huge
# (other dataplanes on this host may hold most of them).
mn_eal_mem() {
  local free
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if [ -z "$(cat /run/sluice/eal-mem 2>/dev/null)" ] && [ "${free:-0}" -ge 400 ]; then
    echo "-m 256"
  else
    echo "--no-huge -m 512"
  fi
}

mn_mkns() {
  ip netns add "$1"; MN_NS+=("$1")
  ip -n "$1" link set lo up
  n "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# ethtool -K tx off: dp forwards L4 checksums as the sender left them.
mn_tx_off() { # ns dev
  n "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

mn_setup() {
  mn_mkns "$MN_UNDER"
  n "$MN_UNDER" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$MN_UNDER" link add "$MN_BR" type bridge
  ip -n "$MN_UNDER" link add "mnbs-$MN_ID" type bridge
  ip -n "$MN_UNDER" addr add 192.168.77.254/24 dev "$MN_BR"
  ip -n "$MN_UNDER" addr add 192.168.78.254/24 dev "mnbs-$MN_ID"
  ip -n "$MN_UNDER" link set "$MN_BR" up
  ip -n "$MN_UNDER" link set "mnbs-$MN_ID" up
  for i in 1 2 3; do
    local node pod br=$MN_BR
    [ "$(mn_segment $i)" = 2 ] && br=mnbs-$MN_ID
    node=$(mn_node $i); pod=$(mn_pod $i)
    mn_mkns "$node"; mn_mkns "$pod"
    ip link add "ul$i-$MN_ID" netns "$node" type veth peer name "ub$i-$MN_ID" netns "$MN_UNDER"
    ip -n "$MN_UNDER" link set "ub$i-$MN_ID" master "$br" up
    ip -n "$node" addr add "$(mn_node_ip $i)/24" dev "ul$i-$MN_ID"
    ip -n "$node" link set "ul$i-$MN_ID" up
    ip -n "$node" route add default via "$(mn_gw_under $i)"
    mn_tx_off "$node" "ul$i-$MN_ID"
    ip link add "mh$i-$MN_ID" netns "$node" type veth peer name eth0 netns "$pod"
    ip -n "$pod" link set eth0 address "02:00:00:00:0$i:02"
    ip -n "$pod" addr add "$(mn_pod_ip $i)/24" dev eth0
    ip -n "$pod" link set eth0 up
    ip -n "$pod" route add default via "$(mn_gw_ip $i)"
    mn_tx_off "$pod" eth0
    ip -n "$node" link set "mh$i-$MN_ID" up
  done
}

# Routes in the config: the other node's pod CIDR, and 10.78.9.0/24 behind
# 192.168.77.9, an underlay address nobody has (its ARP never resolves).
# MN_CFG_ROUTES=0 leaves routes to the agent (sluice-ctrl over the ring).
# MN_CLUSTER_CIDR (e.g. 10.78.0.0/16) sets uplink.cluster_cidr: packets to
# outside it leave by the uplink (tests/lb/lb_ext.sh).
mn_config() { # i mode
  local i=$1 mode=$2 extra="" routes="" o
  [ "$mode" = vxlan ] && extra=", \"vni\": $MN_VNI, \"gateway\": \"$(mn_gw_under "$i")\""
  [ -n "${MN_CLUSTER_CIDR:-}" ] && extra+=", \"cluster_cidr\": \"$MN_CLUSTER_CIDR\""
  if [ "${MN_CFG_ROUTES:-1}" = 1 ]; then
    for o in 1 2 3; do
      [ "$o" = "$i" ] && continue
      [ "$mode" = direct ] && [ "$(mn_segment "$o")" != "$(mn_segment "$i")" ] && continue
      routes+="{ \"prefix\": \"10.78.$o.0/24\", \"via\": \"$(mn_node_ip "$o")\" }, "
    done
    # an on-link address nobody has: its ARP never resolves
    routes+="{ \"prefix\": \"10.78.9.0/24\", \"via\": \"$(mn_node_ip "$i" | sed 's/\.[0-9]*$/.9/')\" }"
  fi
  cat > "$MN_DIR/dp$i.json" <<JSON
{
  "node": { "pod_cidr": "10.78.$i.0/24", "gateway_ip": "$(mn_gw_ip $i)",
            "gateway_mac": "02:00:00:00:0$i:01", "icmp_rate": 1000, "icmp_burst": 100 },
  "ports": [
    { "name": "p1", "type": "af_xdp", "iface": "mh$i-$MN_ID" },
    { "name": "tap0", "type": "tap", "iface": "mt$i-$MN_ID" },
    { "name": "up0", "type": "uplink", "iface": "ul$i-$MN_ID" }
  ],
  "pods": [ { "ip": "$(mn_pod_ip $i)", "mac": "02:00:00:00:0$i:02", "port": "p1" } ],
  "uplink": { "port": "up0", "ip": "$(mn_node_ip $i)", "mode": "$mode"$extra },
  "routes": [ $routes ],
  "host": { "port": "tap0", "ip": "$(mn_host_ip $i)" }
}
JSON
}

# Telemetry of node i's dp (tests/integration/dp_tel.py): [--get a.b].
MN_TEL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/dp_tel.py
# this directory (mn_sniff.py: PYTHONPATH="$MN_LIBDIR" for the sniffers)
MN_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mn_tel() { # i cmd [--get key]
  local i=$1; shift
  python3 "$MN_TEL" "$(mn_prefix "$i")" "$@"
}
# One counter; retried, because on an overloaded host (load 57 seen) the
# telemetry socket can miss dp_tel.py's 3 s timeout, and an empty value
# would turn a counter check into nonsense.
mn_stat() { # i counter
  mn_num "$1" /sluice/stats "$2"
}
mn_num() { # i telemetry-command key: one number (e.g. /sluice/lb dsr_encap)
  local v k
  for k in 1 2 3 4 5; do
    v=$(mn_tel "$1" "$2" --get "$3" 2>/dev/null) || v=
    case $v in ''|*[!0-9]*) sleep 0.2 ;; *) echo "$v"; return 0 ;; esac
  done
  echo "mn_stat: dp$1 $2 $3 unreadable" >&2
  return 1
}

mn_start_dp() { # i mode [extra dp args...]
  local i=$1 mode=$2 node
  shift 2
  node=$(mn_node "$i")
  mn_config "$i" "$mode"
  # ip netns exec remounts /sys, hiding bpffs: mount one for libxdp.
  ip netns exec "$node" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" ${MN_LCORES[$i]:--l 0,1} --file-prefix "$(mn_prefix "$i")" --no-pci $(mn_eal_mem) \
    -- --config "$MN_DIR/dp$i.json" --idle-backoff-us "${MN_BACKOFF:-200}" "$@" \
    > "$MN_DIR/dp$i.log" 2>&1 &
  MN_DP_PIDS[$i]=$!
  for _ in $(seq 150); do
    kill -0 "${MN_DP_PIDS[$i]}" 2>/dev/null || { cat "$MN_DIR/dp$i.log" >&2; return 1; }
    [ "$(mn_tel "$i" /sluice/ports 2>/dev/null | grep -o '/type' | wc -l)" = 3 ] && break
    sleep 0.2
  done
  [ "$(mn_tel "$i" /sluice/ports | grep -o '/type' | wc -l)" = 3 ] || return 1
  ip -n "$node" addr add "$(mn_host_ip "$i")/24" dev "mt$i-$MN_ID" 2>/dev/null || true
  ip -n "$node" link set "mt$i-$MN_ID" up
  mn_tx_off "$node" "mt$i-$MN_ID"
  # The node reaches every pod through its dp, never by NAT.
  ip -n "$node" route replace 10.78.0.0/16 via "$(mn_gw_ip "$i")" dev "mt$i-$MN_ID"
}

mn_stop_dp() { # i: SIGTERM, wait, exit status
  local i=$1 rc=0 pid=${MN_DP_PIDS[$1]}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" || rc=$?
  MN_DP_PIDS[$i]=""
  rm -rf "/var/run/dpdk/$(mn_prefix "$i")"
  return $rc
}

mn_cleanup() {
  set +e
  for i in 1 2 3; do
    local pid=${MN_AGENT_PIDS[$i]:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"; wait "$pid" 2>/dev/null
    fi
  done
  for i in 1 2 3; do
    local pid=${MN_DP_PIDS[$i]}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"; wait "$pid" 2>/dev/null
    fi
    rm -rf "/var/run/dpdk/$(mn_prefix "$i")"
  done
  for ns in "${MN_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$MN_DIR"
}

# Node i's agent (sluice-ctrl --role=worker) on the ring of a dp started
# with --ctl "$MN_DIR/ctl$i.shm"; MN_AGENT_PIDS[i] is its PID (stopped by
# mn_cleanup). mn_call i JSON: one IPC call to it.
MN_AGENT_PIDS=(x "" "" "")
mn_call() { # i json
  n "$(mn_node "$1")" "$CTRL" --ipc "ipc://$MN_DIR/agent$1.ipc" --call "$2"
}
mn_start_agent() { # i
  local i=$1
  ip netns exec "$(mn_node "$i")" "$CTRL" --role=worker --state "$MN_DIR/agent$i.json" \
    --segment "$MN_DIR/ctl$i.shm" --ipc "ipc://$MN_DIR/agent$i.ipc" \
    > "$MN_DIR/ctrl$i.log" 2>&1 &
  MN_AGENT_PIDS[$i]=$!
  for _ in $(seq 100); do mn_call "$i" '{"op":"status"}' >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# For test scripts: print the tail of every log in $MN_DIR, exit 1; and an
# EXIT trap that also stops the script's background PIDs (BG_PIDS).
mn_fail() {
  echo "FAIL: $*" >&2
  for f in "$MN_DIR"/*.log; do
    [ -f "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" | tail -15 >&2
  done
  exit 1
}
mn_cleanup_bg() {
  set +e
  local p
  for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  mn_cleanup
}
