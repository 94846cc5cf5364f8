#!/usr/bin/env bash
# node_apivip: the API behind the Service default/kubernetes, the way pods
# reach kube-apiserver: the masters keep the Service (10.96.0.1:443, and the
# API VIP as its externalIP) and its Endpoints (the masters), every node's
# agent programs it into sluice-dp like any Service (ctrl/ctlr_apisvc.h,
# ctrl/agent_svc.h).
#
#   netns avu-$$ (bridge, 192.168.N.254: API calls from the underlay)
#     |-- avm1-$$ .. avm3-$$  192.168.N.11-13  masters (--api-vip 192.168.N.200)
#     |-- avw1-$$  192.168.N.1   agent + sluice-dp   pod cl1-$$
#     `-- avw2-$$  192.168.N.2   agent + sluice-dp
#
#   cl1-$$ --HTTPS--> 10.96.0.1:443 --w1's dp: Maglev + full NAT (source
#       = w1's pod gateway address)--> 192.168.N.1x:6443 (a master)
#
#   client netns avx-$$ 192.168.N.50 on the underlay (neither pod nor node),
#   VIP routed via w1's underlay IP --HTTPS--> VIP:443 --w1's uplink (XDP
#   steers the VIP to dp), same LB path--> a master; the answer leaves w1's
#   dp by its uplink egress (uplink.cluster_cidr).
#
# The masters are not pod-network nodes here (no sluice-dp): like an
# underlay router announcing the pod CIDRs (BGP from the nodes), each master
# netns gets a route to each worker's pod CIDR via that worker's underlay
# IP, so the replies to the full-NAT'd source (the worker's pod gateway
# address) come back through the worker's dp. The dps reach the masters on
# the shared segment by their uplink egress (uplink.cluster_cidr set: dp
# adds an on-link /32 for each after the first packet, which TCP resends).
#
# Asserts:
#  1. default/kubernetes exists with clusterIP 10.96.0.1, port 443/TCP
#     "https" -> 6443 and externalIPs [the VIP]; its Endpoints list the 3
#     masters at 6443; both agents hold k8s/default/kubernetes:443/tcp and
#     k8s/default/kubernetes@VIP:443/tcp with the 3 masters as backends and
#     a TCP health check;
#  2. from cl1-$$, 30 HTTPS requests to https://10.96.0.1/cluster/status
#     with certificate verification against the cluster CA (curl --cacert
#     and the admin client cert, no -k) all succeed, answered by more than
#     one master (the answer names the master);
#  3. the leader killed (SIGKILL, by PID): requests through 10.96.0.1 keep
#     succeeding after at most a few retries, the Endpoints drop the dead
#     master to notReadyAddresses, and 20 more requests all succeed;
#  4. an operator's extra port on default/kubernetes survives the
#     reconciler, which puts back the https port when it is edited;
#  5. from the underlay client: curl https://VIP/cluster/status verified
#     against the cluster CA (the VIP is in the masters' certificates) and
#     `sluice --config admin-vip.conf get nodes` (and --server
#     https://VIP:443 get svc) succeed; no host holds the VIP, the client
#     only routes it via w1.
#
# Usage: node_apivip.sh sluice-dp sluice-ctrl (the CLI `sluice` beside it)
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?}
HERE=$(cd "$(dirname "$0")" && pwd)
CL_P=av
CL_NET=$((100 + $$ % 100))
CL_LEASE=4
VIP=192.168.$CL_NET.200
CL_INIT_ARGS="--api-vip $VIP"
CL_MASTER_ARGS="--api-vip $VIP"
CL_CLUSTER_CIDR=10.244.0.0/16
SLUICE=$(dirname "$CTRL")/sluice
source "$HERE/cluster_lib.sh"
DIR=$CL_DIR
source "$HERE/node_lib.sh"
trap cl_cleanup EXIT
trap "exit 143" TERM INT # run the EXIT trap on a signal too

[ "$(id -u)" = 0 ] || { echo "node_apivip: needs root"; exit 77; }
for b in "$DP" "$CTRL" "$SLUICE"; do [ -x "$b" ] || fail "$b is not executable"; done
api() { cl_api "$@"; }
T0=$(date +%s)
SVC=k8s/default/kubernetes:443/tcp
XSVC=k8s/default/kubernetes@$VIP:443/tcp
MASTERS="$(cl_mip 1):6443 $(cl_mip 2):6443 $(cl_mip 3):6443 "

cl_setup 3 2 || fail "cluster set-up"
for i in 1 2 3; do cl_start_master "$i"; done
for i in 1 2 3; do cl_wait 30 "master $i ready" cl_ready "$i" || fail "master $i not ready"; done
for i in 1 2; do cl_start_worker "$i" || fail "worker $i"; done
W1=$(cl_wname 1) W2=$(cl_wname 2)
pretty cluster "m1-m3, $W1 $(cl_node_cidr 1), $W2 $(cl_node_cidr 2) ($(( $(date +%s) - T0 )) s)"

agent_call() { # i JSON
  ip netns exec "$(cl_wns "$1")" "$CTRL" --ipc "ipc://$CL_DIR/$(cl_wname "$1")/agent.ipc" --call "$2"
}
# The underlay router's part (see the header): pod CIDRs to the masters.
for w in 1 2; do
  for m in 1 2 3; do ip -n "$(cl_mns "$m")" route add "$(cl_node_cidr "$w")" via "$(cl_wip "$w")"; done
done

# --- 1. Service, Endpoints, programmed ------------------------------------
svc_ok() {
  api GET /api/v1/namespaces/default/services/kubernetes 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["spec"]
assert s["clusterIP"] == "10.96.0.1", s
assert {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443} in s["ports"], s
assert s.get("externalIPs") == [sys.argv[1]], s' "$VIP" 2>/dev/null
}
cl_wait 30 "default/kubernetes" svc_ok || fail "default/kubernetes: $(api GET /api/v1/namespaces/default/services/kubernetes)"
ep_addrs() { # "ip:port ..." of the ready addresses
  api GET /api/v1/namespaces/default/endpoints/kubernetes 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(" ".join(sorted("%s:%d" % (a["ip"], s["ports"][0]["port"]) for s in e.get("subsets", []) for a in s.get("addresses", []))) + " ")' 2>/dev/null
}
ep_are() { [ "$(ep_addrs)" = "$1" ]; }
cl_wait 30 "Endpoints default/kubernetes = the 3 masters" ep_are "$MASTERS" ||
  fail "Endpoints default/kubernetes: [$(ep_addrs)], want [$MASTERS]"
agent_bes() { # i SVC VIP: "ip:port ..." of the service in agent i ("-" if absent)
  agent_call "$1" '{"op":"services"}' | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["name"] == sys.argv[1]:
        assert s["vip"] == sys.argv[2] and s["port"] == 443 and s["proto"] == "tcp", s
        assert s["health"]["type"] == "tcp", s
        print(" ".join(sorted("%s:%d" % (b["ip"], b["port"]) for b in s["backends"])) + " ")
        break
else:
    print("-")' "$2" "$3"
}
bes_are() { [ "$(agent_bes "$1" "$3" "$4")" = "$2" ]; }
for i in 1 2; do
  cl_wait 20 "agent $i to program $SVC" bes_are "$i" "$MASTERS" "$SVC" 10.96.0.1 ||
    fail "agent $i holds [$(agent_bes "$i" "$SVC" 10.96.0.1)] for $SVC, want [$MASTERS]"
  cl_wait 20 "agent $i to program $XSVC" bes_are "$i" "$MASTERS" "$XSVC" "$VIP" ||
    fail "agent $i holds [$(agent_bes "$i" "$XSVC" "$VIP")] for $XSVC, want [$MASTERS]"
done
pretty programmed "default/kubernetes 10.96.0.1:443 + $VIP:443 -> $MASTERS(both agents, TCP health check)"

# --- 2. HTTPS through 10.96.0.1 from a pod, certificate verified -----------
api POST /api/v1/namespaces/default/pods "$(pod_json default cl1-$$ "$W1" Always sleep 3600)" > /dev/null
running() { [ "$(api GET "/api/v1/namespaces/default/pods/$1" | jget 'd["status"]["phase"]')" = Running ]; }
cl_wait 40 "cl1-$$ Running" running cl1-$$ || fail "cl1-$$ not Running"
PODNS=$(cl_pod_ns cl1-$$)
P=$CL_PKI
# via URL: one verified request; prints the answering master's name, or "-".
via() {
  ip netns exec "$PODNS" curl -sS --max-time 3 --cacert "$P/ca.crt" --cert "$P/admin.crt" \
    --key "$P/admin.key" "$1/cluster/status" 2>>"$DIR/curl.err" | jget 'd["name"]' 2>/dev/null || echo "-"
}
for i in $(seq 30); do via https://10.96.0.1; done > "$DIR/hits"
seen=$(grep -v '^-$' "$DIR/hits" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}' || true)
fails=$(grep -c '^-$' "$DIR/hits" || true)
[ "$fails" -eq 0 ] || fail "$fails of 30 verified requests to https://10.96.0.1 failed (seen: $seen): $(tail -3 "$DIR/curl.err")"
[ "$(grep -v '^-$' "$DIR/hits" | sort -u | wc -l)" -ge 2 ] || fail "30 requests all answered by one master: $seen"
# The same name the certificate was checked against: kubernetes.default.svc.
got=$(ip netns exec "$PODNS" curl -sS --max-time 3 --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
  --resolve kubernetes.default.svc:443:10.96.0.1 https://kubernetes.default.svc/readyz) || fail "https://kubernetes.default.svc/readyz: $got"
[ "$got" = ok ] || fail "https://kubernetes.default.svc/readyz answered '$got'"
pretty clusterip "30 verified HTTPS requests from cl1-$$ to https://10.96.0.1: all answered ($seen); kubernetes.default.svc verifies too"

# --- 3. the leader killed ---------------------------------------------------
LEADER=$(cl_leader)
[ -n "$LEADER" ] || fail "no leader"
LI=${LEADER#m}
t_kill=$(date +%s%N)
cl_kill "m$LI" KILL
# The first request after the kill may land on the dead master before the
# nodes' health checks (2 x 500 ms) drain it: at most a few retries.
tries=0
until [ "$(via https://10.96.0.1)" != "-" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 5 ] || fail "10.96.0.1 still failing after 5 retries since $LEADER was killed: $(tail -3 "$DIR/curl.err")"
  sleep 0.5
done
t_ok=$(date +%s%N)
ALIVE=""
for m in 1 2 3; do [ "$m" = "$LI" ] || ALIVE+="$(cl_mip "$m"):6443 "; done
ALIVE=$(echo "$ALIVE" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
cl_wait 30 "Endpoints without $LEADER" ep_are "$ALIVE" || fail "Endpoints after killing $LEADER: [$(ep_addrs)], want [$ALIVE]"
nr=$(api GET /api/v1/namespaces/default/endpoints/kubernetes | jget '[a["ip"] for s in d["subsets"] for a in s.get("notReadyAddresses", [])]')
[ "$nr" = "[\"$(cl_mip "$LI")\"]" ] || fail "notReadyAddresses after killing $LEADER: $nr"
for i in 1 2; do
  cl_wait 20 "agent $i down to the 2 live masters" bes_are "$i" "$ALIVE" "$SVC" 10.96.0.1 ||
    fail "agent $i holds [$(agent_bes "$i" "$SVC" 10.96.0.1)] after killing $LEADER, want [$ALIVE]"
done
for i in $(seq 20); do via https://10.96.0.1; done > "$DIR/hits2"
fails=$(grep -c '^-$' "$DIR/hits2" || true)
grep -qx "$LEADER" "$DIR/hits2" && fail "the killed $LEADER answered"
[ "$fails" -eq 0 ] || fail "$fails of 20 requests failed after the Endpoints dropped $LEADER: $(tail -3 "$DIR/curl.err")"
pretty failover "$LEADER (leader) killed: 10.96.0.1 answered again after $tries retries ($(( (t_ok - t_kill) / 1000000 )) ms); Endpoints: [$ALIVE] ready, $nr not ready; 20 more requests all answered"

# --- 4. an operator's edits ------------------------------------------------
edit() { # python statement on d (the Service)
  local cur
  cur=$(api GET /api/v1/namespaces/default/services/kubernetes)
  api PUT /api/v1/namespaces/default/services/kubernetes "$(echo "$cur" | python3 -c "import json,sys; d=json.load(sys.stdin); $1; print(json.dumps(d))")" > /dev/null
}
edit 'd["spec"]["ports"] = [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 1}, {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}]' ||
  fail "operator's edit of default/kubernetes"
restored() {
  api GET /api/v1/namespaces/default/services/kubernetes 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["spec"]["ports"]
sys.exit(0 if p == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443},
                    {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}] else 1)'
}
cl_wait 20 "the https port put back, the metrics port kept" restored ||
  fail "default/kubernetes ports: $(api GET /api/v1/namespaces/default/services/kubernetes | jget 'd["spec"]["ports"]')"
[ "$(via https://10.96.0.1)" != "-" ] || fail "10.96.0.1 after the operator's edit"
pretty ownership "an edited https port is put back (targetPort 6443), the operator's metrics port stays"

# --- 5. an external client through the VIP ---------------------------------
XNS=${CL_P}x-$ID
cl_mkns "$XNS"
cl_join "$XNS" "${CL_P}x-$ID" "${CL_P}bx-$ID" "192.168.$CL_NET.50"
# No host holds the VIP: the client routes it via w1, as an underlay
# router would.
ip -n "$XNS" route add "$VIP/32" via "$(cl_wip 1)"
xvia() {
  ip netns exec "$XNS" curl -sS --max-time 4 --cacert "$P/ca.crt" --cert "$P/admin.crt" \
    --key "$P/admin.key" "https://$VIP/cluster/status" 2>>"$DIR/curl.err" | jget 'd["name"]' 2>/dev/null || echo "-"
}
# The first SYN of the client's first flow waits for w1's dp to learn the
# client's MAC (egress to an on-link host): a retry at most.
tries=0
until [ "$(xvia)" != "-" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 3 ] || fail "https://$VIP from the underlay client: $(tail -3 "$DIR/curl.err")"
done
for i in $(seq 10); do xvia; done > "$DIR/xhits"
xfails=$(grep -c '^-$' "$DIR/xhits" || true)
xseen=$(grep -v '^-$' "$DIR/xhits" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}' || true)
[ "$xfails" -eq 0 ] || fail "$xfails of 10 requests from the underlay client to https://$VIP failed (seen: $xseen)"
ip netns exec "$XNS" "$SLUICE" --config "$P/admin-vip.conf" get nodes > "$DIR/xnodes" 2>&1 ||
  fail "sluice --config admin-vip.conf get nodes from the underlay client: $(cat "$DIR/xnodes")"
grep -q "$W1" "$DIR/xnodes" && grep -q "$W2" "$DIR/xnodes" || fail "sluice get nodes through $VIP: $(cat "$DIR/xnodes")"
ip netns exec "$XNS" "$SLUICE" --server "https://$VIP:443" --cacert "$P/ca.crt" --cert "$P/admin.crt" \
  --key "$P/admin.key" get svc kubernetes > "$DIR/xsvc" 2>&1 || fail "sluice --server https://$VIP:443 get svc: $(cat "$DIR/xsvc")"
grep -q "10.96.0.1" "$DIR/xsvc" || fail "sluice get svc kubernetes through $VIP: $(cat "$DIR/xsvc")"
pretty external "underlay client 192.168.$CL_NET.50 -> https://$VIP (via $W1): 10 verified requests answered ($xseen, $tries retries first); sluice get nodes / get svc through the VIP"

pretty done "all node_apivip checks passed in $(( $(date +%s) - T0 )) s"
