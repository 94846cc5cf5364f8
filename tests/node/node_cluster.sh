#!/usr/bin/env bash
# node_cluster: one master and two workers, each in its own netns on an
# underlay bridge (topology in cluster_lib.sh). The master runs Raft, the
# API and the controllers (scheduler, pod CIDR IPAM, node lifecycle,
# Deployments); each worker runs sluice-dp on its shared uplink and the node
# agent with its netns pod runtime.
#
# Asserts:
#  1. both Nodes register, get a spec.podCIDR from the masters, and their
#     agents program a route to the other node's CIDR via its underlay IP;
#  2. a pod bound to worker 1 reaches Running with an IP from w1's CIDR,
#     its command's output in its log;
#  3. a pod on w1 fetches a file over HTTP from a pod on w2 and pings it,
#     across nodes through both dataplanes (the request shows in the
#     server's log);
#  4. deleting a pod frees its netns and its address on the agent;
#  5. a Deployment's pods land on the nodes; the worker holding some is
#     killed: its Node goes NotReady (short grace flags on the master) and
#     the Deployment's pods come back Running on the other worker.
#
# Usage: node_cluster.sh sluice-dp sluice-ctrl
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?}
HERE=$(cd "$(dirname "$0")" && pwd)
CL_P=nc
CL_NET=$((80 + $$ % 100))
CL_LEASE=4
source "$HERE/cluster_lib.sh"
DIR=$CL_DIR
source "$HERE/node_lib.sh"
trap cl_cleanup EXIT
trap "exit 143" TERM INT # run the EXIT trap on a signal too

[ "$(id -u)" = 0 ] || { echo "node_cluster: needs root"; exit 77; }
for b in "$DP" "$CTRL"; do [ -x "$b" ] || fail "$b is not executable"; done

# Short failure detection, if this master build offers the flags.
CL_MASTER_ARGS=$(cl_fast_failover_args)
api() { cl_api "$@"; }

cl_setup 1 2 || fail "cluster set-up"
cl_start_master 1
cl_wait 30 "the master to be ready" cl_ready 1 || fail "master not ready"
pretty master "m1 ready at https://$(cl_mip 1):6443 (extra flags:${CL_MASTER_ARGS:- none})"

for i in 1 2; do cl_start_worker "$i" || fail "worker $i"; done
W1=$(cl_wname 1) W2=$(cl_wname 2)
C1=$(cl_node_cidr 1) C2=$(cl_node_cidr 2)
[ "$C1" != "$C2" ] || fail "both nodes got $C1"
pretty nodes "$W1 $C1 and $W2 $C2 registered, sluice-dp up on their uplinks"

route_ok() { # i cidr: agent i holds the route
  ip netns exec "$(cl_wns "$1")" "$CTRL" --ipc "ipc://$CL_DIR/$(cl_wname "$1")/agent.ipc" --call '{"op":"status"}' | grep -q '"routes":1'
}
cl_wait 20 "w1's route to $C2" route_ok 1 || fail "w1 has no route to $C2"
cl_wait 20 "w2's route to $C1" route_ok 2 || fail "w2 has no route to $C1"
grep -q "route $C2 via node $W2 (192.168.$CL_NET.2)" "$CL_DIR/$W1.agent.log" || fail "w1 log lacks the route line"
pretty routes "w1: $C2 via 192.168.$CL_NET.2; w2: $C1 via 192.168.$CL_NET.1"

# --- a pod on each node --------------------------------------------------
api POST /api/v1/namespaces/default/pods \
  "$(pod_json default srv-$$ "$W2" Always sh -c 'echo serving-on-$HOSTNAME; exec python3 -m http.server 8080')" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pod_json default cli-$$ "$W1" Always sleep 3600)" > /dev/null
pfield() { api GET "/api/v1/namespaces/default/pods/$1" | jget "$2"; }
running() { [ "$(pfield "$1" 'd["status"]["phase"]')" = Running ] && [ -n "$(pfield "$1" 'd["status"].get("podIP","")')" ]; }
cl_wait 40 "srv-$$ Running" running srv-$$ || fail "srv-$$ not Running"
cl_wait 40 "cli-$$ Running" running cli-$$ || fail "cli-$$ not Running"
ipS=$(pfield srv-$$ 'd["status"]["podIP"]')
ipC=$(pfield cli-$$ 'd["status"]["podIP"]')
python3 -c 'import ipaddress,sys; assert ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2])' "$ipS" "$C2" \
  || fail "srv-$$ $ipS is not in $W2's $C2"
[ "$(pfield srv-$$ 'd["status"]["hostIP"]')" = "$(cl_wip 2)" ] || fail "srv-$$ hostIP"
nsS=$(cl_pod_ns srv-$$) nsC=$(cl_pod_ns cli-$$)
cl_wait 10 "srv-$$'s output in its log" grep -q "serving-on-srv-$$" "$CL_DIR/$W2/pods/$nsS/main.log" || fail "no output captured"
pretty pods "srv-$$ $ipS on $W2, cli-$$ $ipC on $W1; srv log: $(head -1 "$CL_DIR/$W2/pods/$nsS/main.log")"

# --- across nodes -------------------------------------------------------
ok=
for _ in $(seq 30); do
  code=$(ip netns exec "$nsC" curl -s --max-time 2 -o "$CL_DIR/fetched" -w '%{http_code}' "http://$ipS:8080/etc/hostname" || true)
  [ "$code" = 200 ] && { ok=1; break; }
  sleep 0.5
done
[ -n "$ok" ] || fail "cli-$$ ($W1) cannot fetch from srv-$$ ($W2) at $ipS:8080"
cmp -s "$CL_DIR/fetched" /etc/hostname || fail "fetched file differs"
grep -q "\"GET /etc/hostname" "$CL_DIR/$W2/pods/$nsS/main.log" || fail "srv-$$ log lacks the request"
grep -q "$ipC" "$CL_DIR/$W2/pods/$nsS/main.log" || fail "srv-$$ saw another source address than $ipC (NAT?)"
ip netns exec "$nsC" ping -c 3 -i 0.2 -W 2 "$ipS" > "$CL_DIR/ping.out" || fail "ping $ipS: $(cat "$CL_DIR/ping.out")"
pretty cross-node "cli-$$ $ipC ($W1) -> srv-$$ $ipS:8080 ($W2): HTTP 200, source address kept; $(tail -1 "$CL_DIR/ping.out")"

# --- delete frees netns and address --------------------------------------
api DELETE /api/v1/namespaces/default/pods/cli-$$ > /dev/null
gone() { [ -z "$(cl_pod_ns cli-$$)" ]; }
cl_wait 15 "cli-$$'s netns to go" gone || fail "netns $nsC left behind"
ip netns exec "$(cl_wns 1)" "$CTRL" --ipc "ipc://$CL_DIR/$W1/agent.ipc" --call '{"op":"pods"}' > "$CL_DIR/pods.json"
grep -q "\"$ipC\"" "$CL_DIR/pods.json" && fail "w1's agent still holds $ipC"
pretty delete "cli-$$: netns $nsC deleted, $ipC released"

# --- a worker dies ------------------------------------------------------
api POST /apis/apps/v1/namespaces/default/deployments "$(python3 - "$$" <<'PY'
import json, sys
n = "web-" + sys.argv[1]
print(json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": n, "namespace": "default"},
  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": n}},
           "template": {"metadata": {"labels": {"app": n}},
                        "spec": {"containers": [{"name": "web", "image": "local",
                                 "command": ["python3", "-m", "http.server", "8080"]}],
                                 "terminationGracePeriodSeconds": 1}}}}))
PY
)" > /dev/null
dep_pods() { # phase node: count of the Deployment's pods in phase on node
  api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb-$$" | python3 -c '
import json, sys
d = json.load(sys.stdin); ph, node = sys.argv[1], sys.argv[2]
print(sum(1 for p in d["items"] if p.get("status", {}).get("phase") == ph
          and (node == "*" or p["spec"].get("nodeName") == node)))' "$1" "$2"
}
four_running() { [ "$(dep_pods Running '*')" -ge 4 ]; }
cl_wait 60 "the Deployment's 4 pods Running" four_running || fail "Deployment pods not Running: $(dep_pods Running '*')"
on2=$(dep_pods Running "$W2")
pretty deployment "web-$$: 4 Running, $((4 - on2)) on $W1 and $on2 on $W2"
[ "$on2" -gt 0 ] || pretty note "no Deployment pod on $W2 (the scheduler put all on $W1); the kill still checks NotReady"

cl_stop_worker 2 KILL
not_ready() {
  [ "$(api GET "/api/v1/nodes/$W2" | jget '[c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready"][0]')" != True ]
}
cl_wait 40 "$W2 to go NotReady" not_ready || fail "$W2 still Ready after its agent died"
pretty node-lost "$W2 killed: NotReady after its lease went stale"
all_on_1() { [ "$(dep_pods Running "$W1")" -ge 4 ]; }
cl_wait 90 "the Deployment's pods back on $W1" all_on_1 || fail "pods not rescheduled: $(dep_pods Running "$W1") Running on $W1"
pretty rescheduled "web-$$: 4 pods Running on $W1"
pretty done "all node_cluster checks passed"
