#!/usr/bin/env bash
# node_service: Services and Endpoints from the API programmed into every
# node's sluice-dp (ctrl/agent_svc.h): ClusterIP resolved in the source
# node's dp, backends on either node reached over the flat pod network.
#
#   netns svu-$$ (bridge, 192.168.N.254: API calls)
#     |-- svm1-$$  192.168.N.11  master: Raft, API, scheduler, Endpoints controller
#     |-- svw1-$$  192.168.N.1   agent + sluice-dp   pods: web-$$-* , cl1-$$
#     `-- svw2-$$  192.168.N.2   agent + sluice-dp   pods: web-$$-* , cl2-$$
#
#   cl1-$$ --HTTP--> 10.96.N.10:80 (ClusterIP) --w1's dp: Maglev + full NAT-->
#       web-$$ pod on w1 (local) or on w2 (over the uplinks)
#
# Asserts (on the bodies the pods answer with, each its own name):
#  1. a Deployment of 3 HTTP pods Running, a Service selecting them with a
#     clusterIP; both agents hold k8s/default/web-$$:80/tcp with the 3 pod
#     addresses at targetPort 8080 (the Endpoints controller's ready list);
#  2. 30 separate connections from a pod on w1 to ClusterIP:80 reach all 3
#     pods, including those on both nodes (when the scheduler spread them);
#  3. the same from a pod on w2;
#  4. the Deployment scaled to 1: within 30 s every request hits the pod left;
#  5. the Service deleted: the agents drop it and the VIP stops answering;
#  6. clusterIP allocation by the API server: a Service without one gets a
#     free address of 10.96.0.0/16 and is programmed like any other; one
#     asking for an address in use is refused (422); a deleted Service's
#     address can be taken again.
#
# Usage: node_service.sh sluice-dp sluice-ctrl
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?}
HERE=$(cd "$(dirname "$0")" && pwd)
CL_P=sv
CL_NET=$((100 + $$ % 100))
CL_LEASE=4
source "$HERE/cluster_lib.sh"
DIR=$CL_DIR
source "$HERE/node_lib.sh"
trap cl_cleanup EXIT
trap "exit 143" TERM INT # run the EXIT trap on a signal too

[ "$(id -u)" = 0 ] || { echo "node_service: needs root"; exit 77; }
for b in "$DP" "$CTRL"; do [ -x "$b" ] || fail "$b is not executable"; done
api() { cl_api "$@"; }
T0=$(date +%s)

cl_setup 1 2 || fail "cluster set-up"
cl_start_master 1
cl_wait 30 "the master to be ready" cl_ready 1 || fail "master not ready"
for i in 1 2; do cl_start_worker "$i" || fail "worker $i"; done
W1=$(cl_wname 1) W2=$(cl_wname 2)
pretty cluster "m1, $W1 $(cl_node_cidr 1), $W2 $(cl_node_cidr 2) ($(( $(date +%s) - T0 )) s)"

APP=web-$$
VIP=10.96.$CL_NET.10
SVC=k8s/default/$APP:80/tcp
agent_call() { # i JSON
  ip netns exec "$(cl_wns "$1")" "$CTRL" --ipc "ipc://$CL_DIR/$(cl_wname "$1")/agent.ipc" --call "$2"
}

# --- 1. Deployment + Service ---------------------------------------------
# Each pod answers every GET with its own name (HOSTNAME), one connection per request.
SERVER='import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = (os.environ["HOSTNAME"] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()'
api POST /apis/apps/v1/namespaces/default/deployments "$(python3 - "$APP" "$SERVER" <<'PY'
import json, sys
n, srv = sys.argv[1], sys.argv[2]
print(json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": n, "namespace": "default"},
  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": n}},
           "template": {"metadata": {"labels": {"app": n}},
                        "spec": {"containers": [{"name": "web", "image": "local",
                                 "command": ["python3", "-c", srv],
                                 "ports": [{"containerPort": 8080}]}],
                                 "terminationGracePeriodSeconds": 1}}}}))
PY
)" > /dev/null || fail "create Deployment"
svc_json() { # NAME CLUSTERIP ("" = let the API server allocate one)
  python3 - "$1" "$2" "$APP" <<'PY'
import json, sys
n, vip, app = sys.argv[1:]
spec = {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}
if vip:
    spec["clusterIP"] = vip
print(json.dumps({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": n, "namespace": "default"}, "spec": spec}))
PY
}
api POST /api/v1/namespaces/default/services "$(svc_json "$APP" "$VIP")" > /dev/null || fail "create Service"

api POST /api/v1/namespaces/default/pods "$(pod_json default cl1-$$ "$W1" Always sleep 3600)" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pod_json default cl2-$$ "$W2" Always sleep 3600)" > /dev/null

# Ready pods of the app: "name ip node" lines.
app_pods() {
  api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$APP" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    s = p.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in s.get("conditions", []))
    if s.get("phase") == "Running" and ready and s.get("podIP") and "deletionTimestamp" not in p["metadata"]:
        print(p["metadata"]["name"], s["podIP"], p["spec"]["nodeName"])'
}
n_ready() { [ "$(app_pods | wc -l)" -eq "$1" ]; }
cl_wait 60 "3 ready pods of $APP" n_ready 3 || fail "Deployment: $(app_pods | wc -l) ready pods"
running() { [ "$(api GET "/api/v1/namespaces/default/pods/$1" | jget 'd["status"]["phase"]')" = Running ]; }
cl_wait 40 "cl1-$$ Running" running cl1-$$ || fail "cl1-$$ not Running"
cl_wait 40 "cl2-$$ Running" running cl2-$$ || fail "cl2-$$ not Running"
app_pods > "$DIR/pods3"
NODES=$(awk '{print $3}' "$DIR/pods3" | sort -u | wc -l)
pretty deployment "$APP: $(awk '{printf "%s %s@%s  ", $1, $2, $3}' "$DIR/pods3")"

# The agent's view: the service and exactly the ready pods' ip:8080.
want_bes=$(awk '{print $2":8080"}' "$DIR/pods3" | sort | tr '\n' ' ')
agent_bes() { # i [SVC VIP]: "ip:port ..." of the service in agent i ("-" if absent)
  agent_call "$1" '{"op":"services"}' | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["name"] == sys.argv[1]:
        assert s["vip"] == sys.argv[2] and s["port"] == 80 and s["proto"] == "tcp", s
        print(" ".join(sorted("%s:%d" % (b["ip"], b["port"]) for b in s["backends"])) + " ")
        break
else:
    print("-")' "${2:-$SVC}" "${3:-$VIP}"
}
bes_are() { [ "$(agent_bes "$1" "${3:-$SVC}" "${4:-$VIP}")" = "$2" ]; }
for i in 1 2; do
  cl_wait 20 "agent $i to program $SVC" bes_are "$i" "$want_bes" ||
    fail "agent $i holds [$(agent_bes "$i")] for $SVC, want [$want_bes]"
done
grep -q "agent-svc: service $SVC $VIP:80/tcp" "$CL_DIR/$W1.agent.log" || fail "w1's log lacks the service line"
pretty programmed "both agents: $SVC -> $want_bes"

# Directly first (the flat network), so a failure below is the LB's.
while read -r p ip _; do
  got=$(ip netns exec "$(cl_pod_ns cl1-$$)" curl -s --max-time 2 "http://$ip:8080/" || true)
  [ "$got" = "$p" ] || fail "cl1-$$ -> $p at $ip:8080 directly: got '$got'"
done < "$DIR/pods3"

# --- 2, 3. ClusterIP from both nodes --------------------------------------
# hits CLIENT N: N requests, each a new connection; the answers, one a line.
hits() {
  local ns i
  ns=$(cl_pod_ns "$1")
  for i in $(seq "$2"); do
    ip netns exec "$ns" curl -s --max-time 2 "http://$VIP/" || echo "-"
  done
}
for c in cl1 cl2; do
  hits "$c-$$" 30 > "$DIR/$c.hits"
  seen=$(grep -v '^-$' "$DIR/$c.hits" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}' || true)
  fails=$(grep -c '^-$' "$DIR/$c.hits" || true)
  for p in $(awk '{print $1}' "$DIR/pods3"); do
    grep -qx "$p" "$DIR/$c.hits" || fail "$c-$$: 30 requests to $VIP:80 never reached $p (seen: $seen, failed: $fails)"
  done
  [ "$fails" -le 2 ] || fail "$c-$$: $fails of 30 requests to $VIP:80 failed (seen: $seen)"
  # Backends on both nodes answered, wherever the client runs.
  nodes_seen=$( (grep -v '^-$' "$DIR/$c.hits" || true) | sort -u | while read -r p; do awk -v p="$p" '$1 == p {print $3}' "$DIR/pods3"; done | sort -u | wc -l)
  [ "$nodes_seen" -eq "$NODES" ] || fail "$c-$$ reached backends on $nodes_seen nodes, pods are on $NODES"
  pretty "$c" "30 connections to $VIP:80 from $c-$$: $seen(failed: $fails; backends on $nodes_seen node(s))"
done
[ "$NODES" -eq 2 ] || pretty note "the scheduler put all 3 pods on one node; cross-node backends not exercised"

# --- 4. scale to 1 --------------------------------------------------------
dep=$(api GET "/apis/apps/v1/namespaces/default/deployments/$APP")
api PUT "/apis/apps/v1/namespaces/default/deployments/$APP" \
  "$(echo "$dep" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["spec"]["replicas"]=1; print(json.dumps(d))')" > /dev/null ||
  fail "scale $APP to 1"
t_scale=$(date +%s%N)
one_backend() { [ "$(agent_bes 1 | wc -w)" -eq 1 ] && [ "$(agent_bes 2 | wc -w)" -eq 1 ]; }
cl_wait 30 "both agents down to one backend" one_backend || fail "after scale to 1: w1 [$(agent_bes 1)], w2 [$(agent_bes 2)]"
t_one=$(date +%s%N)
left=$(agent_bes 1 | tr -d ' ')
lname=$(awk -v a="${left%:*}" '$2 == a {print $1}' "$DIR/pods3")
[ -n "$lname" ] || fail "the backend left ($left) is not one of the 3 pods"
for c in cl1 cl2; do
  hits "$c-$$" 15 > "$DIR/$c.hits1"
  others=$(grep -vx "$lname" "$DIR/$c.hits1" | sort | uniq -c | tr '\n' ' ' || true)
  [ -z "$others" ] || fail "$c-$$ after scale to 1: answers other than $lname: $others"
done
pretty scaled "replicas 1: agents down to $left in $(( (t_one - t_scale) / 1000000 )) ms; 30 requests all answered by $lname"

# --- 5. Service deleted ---------------------------------------------------
api DELETE "/api/v1/namespaces/default/services/$APP" > /dev/null || fail "delete Service"
gone() { bes_are 1 "-" && bes_are 2 "-"; }
cl_wait 20 "both agents to drop $SVC" gone || fail "$SVC still in an agent after the Service was deleted"
grep -q "agent-svc: service $SVC removed" "$CL_DIR/$W2.agent.log" || fail "w2's log lacks the removal line"
for c in cl1 cl2; do
  ip netns exec "$(cl_pod_ns "$c-$$")" curl -s --max-time 1 "http://$VIP/" > "$DIR/$c.after" 2>&1 &&
    fail "$c-$$: $VIP:80 still answers after the Service was deleted: $(cat "$DIR/$c.after")"
done
# The pod itself still serves: only the VIP went away.
ipL=$(awk -v n="$lname" '$1 == n {print $2}' "$DIR/pods3")
[ "$(ip netns exec "$(cl_pod_ns cl1-$$)" curl -s --max-time 2 "http://$ipL:8080/")" = "$lname" ] ||
  fail "$lname at $ipL:8080 stopped answering directly"
pretty deleted "Service $APP deleted: agents dropped $SVC, $VIP:80 no longer answers, $lname still does at $ipL:8080"
# --- 6. clusterIP allocation -----------------------------------------------
ipB=$(api POST /api/v1/namespaces/default/services "$(svc_json "$APP-b" "")" | jget 'd["spec"]["clusterIP"]') ||
  fail "create $APP-b without a clusterIP"
python3 -c 'import ipaddress,sys; assert ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network("10.96.0.0/16")' "$ipB" ||
  fail "$APP-b got clusterIP '$ipB', not an address of 10.96.0.0/16"
SVCB=k8s/default/$APP-b:80/tcp
for i in 1 2; do
  cl_wait 20 "agent $i to program $SVCB" bes_are "$i" "$left " "$SVCB" "$ipB" ||
    fail "agent $i holds [$(agent_bes "$i" "$SVCB" "$ipB")] for $SVCB at $ipB, want [$left ]"
done
[ "$(ip netns exec "$(cl_pod_ns cl2-$$)" curl -s --max-time 2 "http://$ipB/")" = "$lname" ] ||
  fail "the allocated clusterIP $ipB:80 does not reach $lname"
API_OK_CODES=422 api POST /api/v1/namespaces/default/services "$(svc_json "$APP-c" "$ipB")" > "$DIR/dup.json"
grep -q "provided IP is already allocated" "$DIR/dup.json" || fail "a second Service on $ipB was not refused: $(cat "$DIR/dup.json")"
API_OK_CODES=422 api PUT "/api/v1/namespaces/default/services/$APP-b" \
  "$(api GET "/api/v1/namespaces/default/services/$APP-b" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["spec"]["clusterIP"]="10.96.255.254"; print(json.dumps(d))')" > "$DIR/mut.json"
grep -q "field is immutable" "$DIR/mut.json" || fail "changing $APP-b's clusterIP was not refused: $(cat "$DIR/mut.json")"
api DELETE "/api/v1/namespaces/default/services/$APP-b" > /dev/null || fail "delete $APP-b"
ipC=$(api POST /api/v1/namespaces/default/services "$(svc_json "$APP-c" "$ipB")" | jget 'd["spec"]["clusterIP"]') ||
  fail "$ipB not free again after $APP-b was deleted"
[ "$ipC" = "$ipB" ] || fail "$APP-c got $ipC, asked for $ipB"
pretty allocator "$APP-b got $ipB from 10.96.0.0/16 and answers from $W2; $APP-c on $ipB refused (422) until $APP-b was deleted; clusterIP immutable"

pretty done "all node_service checks passed in $(( $(date +%s) - T0 )) s"
