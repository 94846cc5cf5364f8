#!/usr/bin/env bash
# node_runtime: the node agent's cluster side and its netns pod runtime on
# one node, against a stand-in API server (tests/cli/fake_api.py), so it
# needs neither Raft masters nor the scheduler: the test plays the
# scheduler (pods are created with spec.nodeName) and the IPAM controller
# (it writes the Node's spec.podCIDR).
#
#   netns nrn-$$ (the node)
#     fake_api.py https://127.0.0.1:PORT (client certificates)
#     sluice-dp --ctl (tap port only; pods attach at run time)
#     sluice-ctrl --role=worker --api-config (entered with nsenter --net, so
#       the pods' netns it creates are visible in /run/netns)
#   pods: netns nrp$$-<name>-<hash>, eth0 from the node's pod CIDR
#         10.79.1.0/24, veth host end in nrn-$$ taken by sluice-dp
#
# Asserts: both watches relist after a 410; the Node is registered (InternalIP, capacity with cpu, memory,
# hugepages, pods; hostname label; taint) and its Lease renewed; a pod bound
# here reaches Running with a podIP from the CIDR and its command's output
# in its log; a second pod fetches a file from the first over HTTP through
# sluice-dp; OnFailure restarts with a growing restartCount; Never ends in
# Succeeded/Failed with the exit code; deleting a pod removes its netns,
# its log directory and its address from the agent; an agent restart cleans
# up and runs the pods again.
#
# Usage: node_runtime.sh sluice-dp sluice-ctrl
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FAKE=$ROOT/tests/cli/fake_api.py
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")

NODE=nrn-$$
NODENAME=nrt-$$
NSPREFIX=nrp$$-
PREFIX=sl-nrt-$$
DIR=$(mktemp -d /tmp/node_runtime.XXXXXX)
DP_PID= CTRL_PID= API_PID=
MADE_NS=()
source "$HERE/node_lib.sh"

cleanup() {
  set +e
  [ -n "$CTRL_PID" ] && kill -TERM "$CTRL_PID" 2>/dev/null && wait "$CTRL_PID" 2>/dev/null
  [ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null
  [ -n "$API_PID" ] && kill -TERM "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
  # Pods the agent made (it leaves them running on exit, like a kubelet).
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NSPREFIX"); do
    for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT
trap "exit 143" TERM INT # run the EXIT trap on a signal too

[ "$(id -u)" = 0 ] || { echo "node_runtime: needs root"; exit 77; }
[ -f "$FAKE" ] || { echo "node_runtime: $FAKE missing"; exit 77; }
for b in "$DP" "$CTRL"; do [ -x "$b" ] || fail "$b is not executable"; done

ip netns add "$NODE"; MADE_NS+=("$NODE")
ip -n "$NODE" link set lo up
ip netns exec "$NODE" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

# The API, inside the node netns (the agent reaches it on 127.0.0.1).
# --compacted 8: watches from below revision 8 get a 410 ERROR event, so
# the agent's first watches (from its first lists) must relist.
ip netns exec "$NODE" python3 "$FAKE" --certs "$DIR/certs" --port-file "$DIR/api.port" \
  --compacted 8 > "$DIR/api.log" 2>&1 &
API_PID=$!
wait_for 30 "the fake API" test -s "$DIR/api.port"
API_URL=https://127.0.0.1:$(cat "$DIR/api.port")
API_CA=$DIR/certs/ca.crt API_CERT=$DIR/certs/admin.crt API_KEY=$DIR/certs/admin.key API_NS=$NODE
printf '{"servers":["%s"],"ca":"certs/ca.crt","cert":"certs/admin.crt","key":"certs/admin.key"}\n' \
  "$API_URL" > "$DIR/api.json"

# dp: pod_cidr is the cluster's, so it answers ARP for any node gateway.
cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.79.0.0/16", "gateway_ip": "10.79.0.1", "gateway_mac": "02:00:00:00:00:01" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "nrt-$$" } ]
}
JSON
ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
  "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
  -- --config "$DIR/dp.json" --ctl "$DIR/dp-ctl.shm" > "$DIR/dp.log" 2>&1 &
DP_PID=$!

start_agent() {
  nsenter --net=/run/netns/"$NODE" "$CTRL" --role=worker --state "$DIR/agent.json" \
    --segment "$DIR/dp-ctl.shm" --ipc "ipc://$DIR/agent.ipc" --cni-state "$DIR/cni" \
    --api-config "$DIR/api.json" --node-name "$NODENAME" --node-ip 192.0.2.10 \
    --labels "sluice.test/run=$$" --register-taint "sluice.test/dedicated=node:PreferNoSchedule" \
    --lease-seconds 4 --pod-dir "$DIR/pods" --pod-netns-prefix "$NSPREFIX" \
    --restart-backoff-ms 200 >> "$DIR/ctrl.log" 2>&1 &
  CTRL_PID=$!
}
start_agent
wait_for 30 "sluice-ctrl to sync with sluice-dp" grep -q "agent: replayed" "$DIR/ctrl.log"

# --- registration and lease ---------------------------------------------
wait_for 20 "the Node to be registered" api GET "/api/v1/nodes/$NODENAME/status"
node=$(api GET "/api/v1/nodes/$NODENAME")
[ "$(jget '[a["address"] for a in d["status"]["addresses"] if a["type"]=="InternalIP"][0]' <<< "$node")" = 192.0.2.10 ] \
  || fail "InternalIP not 192.0.2.10: $node"
for r in cpu memory hugepages-2Mi hugepages-1Gi pods; do
  [ -n "$(jget "d['status']['capacity']['$r']" <<< "$node")" ] || fail "capacity.$r missing: $node"
  [ -n "$(jget "d['status']['allocatable']['$r']" <<< "$node")" ] || fail "allocatable.$r missing"
done
[ "$(jget 'd["status"]["capacity"]["cpu"]' <<< "$node")" = "$(nproc --all)" ] || \
  [ "$(jget 'd["status"]["capacity"]["cpu"]' <<< "$node")" = "$(nproc)" ] || fail "cpu capacity: $node"
[ "$(jget 'd["metadata"]["labels"]["kubernetes.io/hostname"]' <<< "$node")" = "$NODENAME" ] || fail "hostname label: $node"
[ "$(jget 'd["metadata"]["labels"]["sluice.test/run"]' <<< "$node")" = "$$" ] || fail "--labels: $node"
[ "$(jget 'd["spec"]["taints"][0]["effect"]' <<< "$node")" = PreferNoSchedule ] || fail "taint: $node"
[ "$(jget '[c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready"][0]' <<< "$node")" = True ] \
  || fail "Ready condition: $node"
pretty node "registered: $(jget 'd["status"]["capacity"]' <<< "$node")"

LEASE=/apis/coordination.k8s.io/v1/namespaces/sluice-node-lease/leases/$NODENAME
wait_for 10 "the Lease" api GET "$LEASE"
t1=$(api GET "$LEASE" | jget 'd["spec"]["renewTime"]')
sleep 2.5
t2=$(api GET "$LEASE" | jget 'd["spec"]["renewTime"]')
[ "$t1" != "$t2" ] || fail "lease not renewed in 2.5 s (renewTime $t1)"
[ "$(api GET "$LEASE" | jget 'd["spec"]["leaseDurationSeconds"]')" = 4 ] || fail "leaseDurationSeconds"
pretty lease "renewed: $t1 -> $t2"
wait_for 20 "the pod watch to relist after a 410" grep -q "pods?fieldSelector=spec.nodeName%3D$NODENAME: resourceVersion .* compacted; listing again" "$DIR/ctrl.log"
wait_for 20 "the node watch to relist after a 410" grep -q "/api/v1/nodes: resourceVersion .* compacted; listing again" "$DIR/ctrl.log"
pretty watch "both watches relisted after 410 Expired (fake API compacted below revision 8)"

# --- pods wait for the pod CIDR, then run -------------------------------
api POST /api/v1/namespaces/default/pods \
  "$(pod_json default web-$$ "$NODENAME" Always sh -c "echo hello-from-\$HOSTNAME; exec python3 -m http.server 8080")" > /dev/null
sleep 1
[ "$(pod_field default web-$$ 'd["status"]["phase"]')" = Pending ] || fail "pod not Pending without a pod CIDR"
node=$(api GET "/api/v1/nodes/$NODENAME")
api PUT "/api/v1/nodes/$NODENAME" "$(jget 'dict(d, spec=dict(d.get("spec",{}), podCIDR="10.79.1.0/24"))' <<< "$node")" > /dev/null
running() { [ "$(pod_field default "$1" 'd["status"]["phase"]')" = Running ] && [ -n "$(pod_field default "$1" 'd["status"].get("podIP","")')" ]; }
wait_for 30 "web-$$ Running" running web-$$
ipA=$(pod_field default web-$$ 'd["status"]["podIP"]')
[[ "$ipA" == 10.79.1.* ]] && [ "$ipA" != 10.79.1.1 ] || fail "podIP $ipA not a host of 10.79.1.0/24"
[ "$(pod_field default web-$$ 'd["status"]["hostIP"]')" = 192.0.2.10 ] || fail "hostIP"
[ "$(pod_field default web-$$ '[c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready"][0]')" = True ] || fail "Ready"
nsA=$(ip netns list | awk '{print $1}' | grep "^${NSPREFIX}web-$$-" || true)
[ -n "$nsA" ] || fail "no netns for web-$$ in /run/netns"
wait_for 10 "web-$$'s log" grep -q "hello-from-web-$$" "$DIR/pods/$nsA/main.log"
ip netns exec "$nsA" ethtool -k eth0 | grep -q '^tx-checksumming: off' || fail "tx checksumming on in $nsA"
pretty pod "web-$$ Running at $ipA in netns $nsA; log: $(head -1 "$DIR/pods/$nsA/main.log")"

api POST /api/v1/namespaces/default/pods \
  "$(pod_json default client-$$ "$NODENAME" Always sleep 3600)" > /dev/null
wait_for 30 "client-$$ Running" running client-$$
ipB=$(pod_field default client-$$ 'd["status"]["podIP"]')
nsB=$(ip netns list | awk '{print $1}' | grep "^${NSPREFIX}client-$$-")
[ "$ipA" != "$ipB" ] || fail "two pods got $ipA"
echo "payload-$$" > "$DIR/payload.txt"
# web-$$ serves / from its working directory "/": fetch a known file instead.
ok=
for _ in $(seq 25); do
  if ip netns exec "$nsB" curl -s --max-time 2 "http://$ipA:8080/etc/hostname" -o /dev/null -w '%{http_code}' | grep -q 200; then ok=1; break; fi
  sleep 0.4
done
[ -n "$ok" ] || fail "client-$$ ($ipB) cannot fetch from web-$$ ($ipA):8080 through sluice-dp"
grep -q "GET /etc/hostname" "$DIR/pods/$nsA/main.log" || fail "web-$$ log does not show the request"
pretty traffic "client-$$ $ipB -> web-$$ $ipA:8080 over HTTP through sluice-dp (request in web's log)"

# --- restart policies -----------------------------------------------------
api POST /api/v1/namespaces/default/pods "$(pod_json default crash-$$ "$NODENAME" OnFailure sh -c 'echo crash; exit 3')" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pod_json default done-$$ "$NODENAME" Never sh -c 'echo done; exit 0')" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pod_json default fail-$$ "$NODENAME" Never sh -c 'exit 4')" > /dev/null
restarts() { [ "$(pod_field default crash-$$ 'd["status"]["containerStatuses"][0]["restartCount"]')" -ge 2 ]; }
wait_for 20 "crash-$$ to restart twice" restarts
[ "$(pod_field default crash-$$ 'd["status"]["phase"]')" = Running ] || fail "crash-$$ phase should stay Running in back-off"
phase_is() { [ "$(pod_field default "$1" 'd["status"]["phase"]')" = "$2" ]; }
wait_for 20 "done-$$ Succeeded" phase_is done-$$ Succeeded
wait_for 20 "fail-$$ Failed" phase_is fail-$$ Failed
[ "$(pod_field default fail-$$ 'd["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]')" = 4 ] || fail "exit code 4 not reported"
rc=$(pod_field default crash-$$ 'd["status"]["containerStatuses"][0]["restartCount"]')
pretty restart "OnFailure restarted $rc times; Never: Succeeded, and Failed with exit code 4"

# A pod whose command does not exist fails cleanly under Never.
api POST /api/v1/namespaces/default/pods "$(pod_json default nocmd-$$ "$NODENAME" Never /nonexistent/cmd)" > /dev/null
wait_for 20 "nocmd-$$ Failed" phase_is nocmd-$$ Failed

# --- delete frees netns, log dir and address -----------------------------
api DELETE /api/v1/namespaces/default/pods/web-$$ > /dev/null
gone() { ! ip netns list | awk '{print $1}' | grep -qx "$nsA"; }
wait_for 15 "web-$$'s netns to go" gone
[ ! -d "$DIR/pods/$nsA" ] || fail "log dir of web-$$ left behind"
ip netns exec "$NODE" "$CTRL" --ipc "ipc://$DIR/agent.ipc" --call '{"op":"pods"}' > "$DIR/pods.json"
grep -q "\"$ipA\"" "$DIR/pods.json" && fail "agent still holds $ipA: $(cat "$DIR/pods.json")"
grep -q "\"$ipB\"" "$DIR/pods.json" || fail "agent lost client-$$'s $ipB"
pretty delete "web-$$: netns $nsA, its log dir and $ipA released"

# --- an agent restart cleans up and runs the pods again ------------------
kill -TERM "$CTRL_PID"; wait "$CTRL_PID" || true
oldpid=$(ip netns pids "$nsB" | head -1)
start_agent
restarted() { [ -n "$(ip netns list | awk '{print $1}' | grep "^${NSPREFIX}client-$$-")" ] && running client-$$ && \
  [ "$(ip netns pids "$nsB" | head -1)" != "$oldpid" ] && [ -n "$(ip netns pids "$nsB")" ]; }
wait_for 30 "client-$$ to run again after the agent restart" restarted
pretty restart "agent restarted: client-$$ runs again (pid $oldpid -> $(ip netns pids "$nsB" | head -1))"
pretty done "all node_runtime checks passed"
