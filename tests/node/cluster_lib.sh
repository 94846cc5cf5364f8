# cluster_lib.sh: a whole sluice cluster in network namespaces on one
# machine, for tests/node/node_cluster.sh and scripts/demo.sh (sourced).
#
#   netns ${CL_P}u-$ID: bridge ${CL_P}br-$ID, 192.168.$CL_NET.254 (where
#                       the operator's API calls and the CLI run from)
#     |-- netns ${CL_P}m1-$ID  192.168.$CL_NET.11  sluice-ctrl --role=master (m1)
#     |-- ... mN                192.168.$CL_NET.1N
#     |-- netns ${CL_P}w1-$ID  192.168.$CL_NET.1   the node's kernel keeps it on
#     |                         its uplink veth; sluice-dp shares that uplink
#     |                         (XDP steering, direct routing between nodes),
#     |                         sluice-ctrl --role=worker runs the node's pods
#     `-- ... wN                192.168.$CL_NET.N
#   pods: netns ${CL_P}p$ID-<pod>-<hash>, veth host end in their node's netns
#
# A worker starts in the order the cluster needs: the agent first (it
# registers the Node and the masters assign its spec.podCIDR), then
# sluice-dp with that CIDR as its pod_cidr, whose rings the agent attaches
# to and replays into.
#
# The caller sets CL_P (2-letter name prefix), CL_NET (third octet),
# CTRL, DP, and optionally CL_MASTER_ARGS (extra master flags),
# CL_INIT_ARGS (extra `sluice-ctrl init` flags, e.g. --api-vip),
# CL_CLUSTER_CIDR (dp's uplink.cluster_cidr: egress to the underlay, e.g.
# LB answers to hosts outside the cluster) and CL_LEASE (worker lease
# seconds); then cl_setup NMASTERS NWORKERS.
# cl_cleanup belongs in the caller's EXIT trap. Every name carries $ID
# ($$ of the caller); processes are stopped by PID.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/node_lib.sh" # api_curl
ID=${ID:-$$}
CL_LEASE=${CL_LEASE:-4}
CL_DIR=${CL_DIR:-$(mktemp -d /tmp/sluice-cluster.XXXXXX)}
CL_PKI=$CL_DIR/pki
CL_NM=0
CL_NW=0
CL_NS=()
declare -A CL_PID

cl_under() { echo "${CL_P}u-$ID"; }
cl_mns() { echo "${CL_P}m$1-$ID"; }
cl_wns() { echo "${CL_P}w$1-$ID"; }
cl_wname() { echo "${CL_P}w$1-$ID"; }
cl_mip() { echo "192.168.$CL_NET.$((10 + $1))"; }
cl_wip() { echo "192.168.$CL_NET.$1"; }
cl_podns_prefix() { echo "${CL_P}p$ID-"; }
cl_dp_prefix() { echo "sl-${CL_P}w$1-$ID"; }

cl_log() { echo "    $*"; }

cl_mkns() {
  ip netns add "$1"
  CL_NS+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# cl_join NS IFNAME PEERNAME IP: a veth from NS to the underlay bridge.
cl_join() {
  ip link add "$2" netns "$1" type veth peer name "$3" netns "$(cl_under)"
  ip -n "$(cl_under)" link set "$3" master "${CL_P}br-$ID" up
  ip -n "$1" addr add "$4/24" dev "$2"
  ip -n "$1" link set "$2" up
  # dp forwards L4 checksums as the sender left them.
  ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

cl_members() {
  local i out=""
  for i in $(seq "$CL_NM"); do
    out+="${out:+;}$i=m$i,tcp://$(cl_mip "$i"):7001,https://$(cl_mip "$i"):6443"
  done
  echo "$out"
}

cl_setup() { # nmasters nworkers
  CL_NM=$1 CL_NW=$2
  local i
  cl_mkns "$(cl_under)"
  ip -n "$(cl_under)" link add "${CL_P}br-$ID" type bridge
  ip -n "$(cl_under)" link set "${CL_P}br-$ID" up
  ip -n "$(cl_under)" addr add "192.168.$CL_NET.254/24" dev "${CL_P}br-$ID"
  for i in $(seq "$CL_NM"); do
    cl_mkns "$(cl_mns "$i")"
    cl_join "$(cl_mns "$i")" "${CL_P}m$i-$ID" "${CL_P}bm$i-$ID" "$(cl_mip "$i")"
  done
  for i in $(seq "$CL_NW"); do
    cl_mkns "$(cl_wns "$i")"
    cl_join "$(cl_wns "$i")" "${CL_P}l$i-$ID" "${CL_P}bw$i-$ID" "$(cl_wip "$i")"
  done
  # shellcheck disable=SC2086 # CL_INIT_ARGS: several flags
  "$CTRL" init --dir "$CL_PKI" --members "$(cl_members)" ${CL_INIT_ARGS:-} > "$CL_DIR/init.log" 2>&1 ||
    { cat "$CL_DIR/init.log"; return 1; }
  for i in $(seq "$CL_NW"); do
    "$CTRL" cert --dir "$CL_PKI" --kind node --name "$(cl_wname "$i")" \
      --servers "$(cl_servers)" >> "$CL_DIR/init.log" 2>&1 || { cat "$CL_DIR/init.log"; return 1; }
  done
}

cl_servers() {
  local i out=""
  for i in $(seq "$CL_NM"); do out+="${out:+,}https://$(cl_mip "$i"):6443"; done
  echo "$out"
}

cl_start_master() { # i
  local i=$1
  ip netns exec "$(cl_mns "$i")" "$CTRL" --role=master --name "m$i" --data-dir "$CL_DIR/m$i" \
    --pki-dir "$CL_PKI" --members "$(cl_members)" --api-listen "$(cl_mip "$i"):6443" \
    --election-timeout-ms 500 --heartbeat-ms 50 ${CL_MASTER_ARGS:-} >> "$CL_DIR/m$i.log" 2>&1 &
  CL_PID[m$i]=$!
}

# cl_api METHOD PATH [BODY]: one API call from the underlay, trying each
# live master until one answers with a status other than 503 (no leader).
# Prints the body; returns 0 for < 400 (or a code in API_OK_CODES).
cl_api() {
  local i code=000 out
  out=$(mktemp "$CL_DIR/api.XXXXXX")
  for i in $(seq "$CL_NM"); do
    [ -n "${CL_PID[m$i]:-}" ] || continue
    code=$(API_CA=$CL_PKI/ca.crt API_CERT=$CL_PKI/admin.crt API_KEY=$CL_PKI/admin.key \
      api_curl "$(cl_under)" "https://$(cl_mip "$i"):6443" "$1" "$2" "${3:-}" "$out")
    [ "$code" = 000 ] || [ "$code" = 503 ] || break
  done
  api_result "$out" "$code"
}

cl_ready() { # i: master i answers /readyz
  ip netns exec "$(cl_under)" curl -sf --max-time 3 --cacert "$CL_PKI/ca.crt" \
    --cert "$CL_PKI/admin.crt" --key "$CL_PKI/admin.key" "https://$(cl_mip "$1"):6443/readyz" >/dev/null 2>&1
}

cl_leader() { # name of the leader ("" if none)
  cl_api GET /cluster/status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next((m["name"] for m in d.get("members", []) if m.get("id") == d.get("leader")), ""))' 2>/dev/null
}

# cl_wait SECONDS DESCRIPTION COMMAND...: poll every 0.25 s; 1 on timeout.
cl_wait() { poll_until "$@"; }

cl_node_cidr() { # i: the Node's spec.podCIDR ("" until assigned)
  cl_api GET "/api/v1/nodes/$(cl_wname "$1")" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("spec",{}).get("podCIDR",""))' 2>/dev/null
}

cl_node_ready() { # i: the Node is Ready with its InternalIP
  cl_api GET "/api/v1/nodes/$(cl_wname "$1")" 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin).get("status", {})
ok = any(c.get("type") == "Ready" and c.get("status") == "True" for c in s.get("conditions", []))
ip = any(a.get("type") == "InternalIP" for a in s.get("addresses", []))
sys.exit(0 if ok and ip else 1)' 2>/dev/null
}

cl_start_agent() { # i
  local i=$1 w
  w=$(cl_wname "$i")
  mkdir -p "$CL_DIR/$w"
  # nsenter, not ip netns exec: the agent must share the host's mount
  # namespace so the pod netns it creates show in /run/netns for everyone.
  nsenter --net=/run/netns/"$(cl_wns "$i")" "$CTRL" --role=worker --state "$CL_DIR/$w/agent.json" \
    --segment "$CL_DIR/$w/dp-ctl.shm" --ipc "ipc://$CL_DIR/$w/agent.ipc" --cni-state "$CL_DIR/$w/cni" \
    --api-config "$CL_PKI/node-$w.conf" --node-name "$w" --node-ip "$(cl_wip "$i")" \
    --lease-seconds "$CL_LEASE" --pod-dir "$CL_DIR/$w/pods" --pod-netns-prefix "$(cl_podns_prefix)" \
    --restart-backoff-ms 500 --labels "sluice.demo/worker=$i" >> "$CL_DIR/$w.agent.log" 2>&1 &
  CL_PID[a$i]=$!
}

cl_start_dp() { # i: needs the Node's pod CIDR
  local i=$1 w cidr gw host
  w=$(cl_wname "$i")
  cidr=$(cl_node_cidr "$i")
  [ -n "$cidr" ] || { echo "node $w has no spec.podCIDR" >&2; return 1; }
  local egress=""
  [ -z "${CL_CLUSTER_CIDR:-}" ] || egress=", \"cluster_cidr\": \"$CL_CLUSTER_CIDR\""
  read -r gw host < <(python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(n[1], n[-2])' "$cidr")
  cat > "$CL_DIR/$w/dp.json" <<JSON
{
  "node": { "pod_cidr": "$cidr", "gateway_ip": "$gw", "gateway_mac": "02:00:00:00:0$i:01" },
  "ports": [
    { "name": "tap0", "type": "tap", "iface": "${CL_P}t$i-$ID" },
    { "name": "up0", "type": "uplink", "iface": "${CL_P}l$i-$ID" }
  ],
  "uplink": { "port": "up0", "ip": "$(cl_wip "$i")", "mode": "direct"$egress },
  "host": { "port": "tap0", "ip": "$host" }
}
JSON
  # ip netns exec remounts /sys, hiding bpffs: mount one for libxdp.
  ip netns exec "$(cl_wns "$i")" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
    "$DP" -l 0,1 --file-prefix "$(cl_dp_prefix "$i")" --no-pci --no-huge -m 512 \
    -- --config "$CL_DIR/$w/dp.json" --idle-backoff-us 200 --ctl "$CL_DIR/$w/dp-ctl.shm" \
    > "$CL_DIR/$w.dp.log" 2>&1 &
  CL_PID[d$i]=$!
  cl_wait 30 "$w's agent to sync with its sluice-dp" grep -q "agent: replayed" "$CL_DIR/$w.agent.log" || return 1
  # The node reaches its pods (and, via dp's routes, every pod) over the tap.
  cl_wait 10 "$w's tap" ip -n "$(cl_wns "$i")" link show "${CL_P}t$i-$ID" || return 1
  ip -n "$(cl_wns "$i")" addr add "$host/${cidr#*/}" dev "${CL_P}t$i-$ID" 2>/dev/null || true
  ip -n "$(cl_wns "$i")" link set "${CL_P}t$i-$ID" up
  ip netns exec "$(cl_wns "$i")" ethtool -K "${CL_P}t$i-$ID" tx off >/dev/null 2>&1 || true
}

cl_start_worker() { # i: agent, wait for the pod CIDR, then dp
  cl_start_agent "$1"
  local t
  for t in $(seq 240); do
    [ -n "$(cl_node_cidr "$1")" ] && break
    kill -0 "${CL_PID[a$1]}" 2>/dev/null || { echo "agent of $(cl_wname "$1") exited" >&2; return 1; }
    sleep 0.25
  done
  [ -n "$(cl_node_cidr "$1")" ] || { echo "node $(cl_wname "$1") got no spec.podCIDR in 60 s" >&2; return 1; }
  cl_start_dp "$1" || return 1
  cl_wait 30 "node $(cl_wname "$1") Ready" cl_node_ready "$1"
}

cl_kill() { # key (m1, a2, d2 ...) [signal]
  local pid=${CL_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -"${2:-TERM}" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  CL_PID[$1]=""
}

cl_stop_worker() { # i [signal]: the node dies: agent, dp and its pods
  local ns p
  cl_kill "a$1" "${2:-KILL}"
  cl_kill "d$1" "${2:-KILL}"
  rm -rf "/var/run/dpdk/$(cl_dp_prefix "$1")"
  # A dead machine takes its pods with it (the runtime keeps one
  # directory per pod, named after its netns).
  for ns in $(ls "$CL_DIR/$(cl_wname "$1")/pods" 2>/dev/null); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}

# Master flags that make the controllers notice a dead node (lease older
# than 6 s, with workers renewing every second) and move its pods 3 s later.
cl_fast_failover_args() {
  echo "--node-grace-seconds 6 --pod-eviction-timeout 3"
}

cl_cleanup() {
  set +e
  local k ns p i
  for k in "${!CL_PID[@]}"; do [[ $k == a* ]] && cl_kill "$k"; done
  for k in "${!CL_PID[@]}"; do cl_kill "$k"; done
  # The pods the agents made (an agent leaves its pods running on exit).
  for ns in $(ip netns list | awk '{print $1}' | grep "^$(cl_podns_prefix)"); do
    for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  for ns in "${CL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for i in $(seq "$CL_NW"); do rm -rf "/var/run/dpdk/$(cl_dp_prefix "$i")"; done
  [ -n "${CL_KEEP_DIR:-}" ] || rm -rf "$CL_DIR"
}

# cl_pod_ns POD: the netns of a pod by name (the runtime names it
# prefix + name + hash).
cl_pod_ns() {
  ip netns list | awk '{print $1}' | grep "^$(cl_podns_prefix)$1-" | head -1
}
