#!/usr/bin/env bash
# node-bench: how fast the node agents run what the masters decide, on a
# 1-master, 2-worker netns cluster (tests/node/cluster_lib.sh) with real
# sluice-dp dataplanes. Prints:
#   1. pod start latency, one pod at a time: POST sent (taken here, since
#      creationTimestamp has whole seconds) -> container started
#      (containerStatuses[0].state.running.startedAt, microseconds, written
#      by the agent), p50/max;
#   2. a burst of BURST pods bound to the two nodes at once: the same
#      latency p50/p95/max and the wall time until all are Running in the API;
#   3. a Deployment of REPLICAS through the scheduler: create -> all Running;
#   4. first HTTP answer across nodes after the server pod is Running;
#   5. a worker killed: time to NotReady and until its pods run elsewhere,
#      with the masters' --node-grace-seconds 6 --pod-eviction-timeout 3.
# Both timestamps come from the same host clock (all processes run here).
#
# Usage: SLUICE_BUILD=build bash perf/node-bench.sh [BURST] [REPLICAS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${SLUICE_BUILD:-$ROOT/build}
CTRL=$B/ctrl/sluice-ctrl
DP=$B/dp/sluice-dp
BURST=${1:-30}
REPLICAS=${2:-20}
CL_P=nb
CL_NET=$((60 + $$ % 20))
CL_LEASE=4
source "$ROOT/tests/node/cluster_lib.sh"
DIR=$CL_DIR
source "$ROOT/tests/node/node_lib.sh"
trap cl_cleanup EXIT
trap "exit 143" TERM INT # run the EXIT trap on a signal too
[ "$(id -u)" = 0 ] || { echo "node-bench: needs root"; exit 77; }
for b in "$CTRL" "$DP"; do [ -x "$b" ] || { echo "node-bench: build $b first"; exit 77; }; done

CL_MASTER_ARGS=$(cl_fast_failover_args)
cl_setup 1 2 || fail "cluster"
cl_start_master 1
cl_wait 30 "master" cl_ready 1 || fail "master"
cl_start_worker 1 || fail "worker 1"
cl_start_worker 2 || fail "worker 2"
W1=$(cl_wname 1) W2=$(cl_wname 2)
api() { cl_api "$@"; }

# latencies SELECTOR: "p50 p95 max n" in ms of startedAt - the POST time
# recorded in $DIR/posted ("name ms" lines).
latencies() {
  api GET "/api/v1/namespaces/default/pods?labelSelector=$1" | python3 -c '
import json, sys, datetime
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
sent = dict(l.split() for l in open(sys.argv[1]))
v = []
for p in json.load(sys.stdin)["items"]:
    cs = (p.get("status", {}).get("containerStatuses") or [{}])[0]
    r = cs.get("state", {}).get("running")
    n = p["metadata"]["name"]
    if r and n in sent: v.append(t(r["startedAt"]) * 1000 - float(sent[n]))
v.sort()
if not v: print("- - - 0"); sys.exit()
q = lambda f: v[min(len(v) - 1, int(f * len(v)))]
print("%.0f %.0f %.0f %d" % (q(0.5), q(0.95), v[-1], len(v)))' "$DIR/posted"
}
running_count() {
  api GET "/api/v1/namespaces/default/pods?labelSelector=$1" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["items"] if p.get("status", {}).get("phase") == "Running"))'
}
all_running() { [ "$(running_count "$1")" -ge "$2" ]; }
now_ms() { date +%s%3N; }
mkpod() { # name node label
  pod_json default "$1" "$2" Always sleep 3600 | python3 -c '
import json, sys
p = json.load(sys.stdin); p["metadata"]["labels"] = {"bench": sys.argv[1]}; print(json.dumps(p))' "$3"
}

echo "node-bench: 1 master, 2 workers ($W1, $W2), sluice-dp on shared uplinks, $(nproc) CPUs"

# 1. one at a time
for i in $(seq 10); do
  echo "seq-$i-$$ $(now_ms)" >> "$DIR/posted"
  api POST /api/v1/namespaces/default/pods "$(mkpod seq-$i-$$ "$W1" seq)" > /dev/null
  cl_wait 30 "seq-$i Running" all_running "bench%3Dseq" "$i" || fail "seq-$i"
done
read -r p50 p95 max n < <(latencies "bench%3Dseq")
printf '  %-44s p50 %5s ms  max %5s ms  (n=%s)\n' "pod start, one at a time (create->started)" "$p50" "$max" "$n"

# 2. burst
t0=$(now_ms)
posts=()
for i in $(seq "$BURST"); do
  node=$W1; [ $((i % 2)) = 0 ] && node=$W2
  echo "burst-$i-$$ $(now_ms)" >> "$DIR/posted"
  api POST /api/v1/namespaces/default/pods "$(mkpod burst-$i-$$ "$node" burst)" > /dev/null &
  posts+=($!)
done
wait "${posts[@]}" # not a bare wait: the cluster's daemons are our children too
cl_wait 120 "the burst Running" all_running "bench%3Dburst" "$BURST" || fail "burst"
t1=$(now_ms)
read -r p50 p95 max n < <(latencies "bench%3Dburst")
printf '  %-44s p50 %5s ms  p95 %5s ms  max %5s ms  (n=%s)\n' "pod start, burst of $BURST on 2 nodes" "$p50" "$p95" "$max" "$n"
printf '  %-44s %5s ms\n' "burst: first create -> all Running in the API" "$((t1 - t0))"
for p in $(api GET "/api/v1/namespaces/default/pods?labelSelector=bench" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]: print(p["metadata"]["name"])'); do
  api DELETE "/api/v1/namespaces/default/pods/$p" > /dev/null
done

# 3. deployment through the scheduler
t0=$(now_ms)
api POST /apis/apps/v1/namespaces/default/deployments "$(python3 - "$REPLICAS" <<'PY'
import json, sys
print(json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nbd", "namespace": "default"},
  "spec": {"replicas": int(sys.argv[1]), "selector": {"matchLabels": {"app": "nbd"}},
           "template": {"metadata": {"labels": {"app": "nbd"}},
                        "spec": {"terminationGracePeriodSeconds": 1,
                                 "containers": [{"name": "s", "image": "local", "command": ["sleep", "3600"]}]}}}}))
PY
)" > /dev/null
cl_wait 180 "the Deployment Running" all_running "app%3Dnbd" "$REPLICAS" || fail "deployment"
t1=$(now_ms)
printf '  %-44s %5s ms\n' "Deployment of $REPLICAS: create -> all Running" "$((t1 - t0))"

# 4. first HTTP answer across nodes
api POST /api/v1/namespaces/default/pods "$(pod_json default srv-$$ "$W2" Always python3 -m http.server 8080)" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pod_json default cli-$$ "$W1" Always sleep 3600)" > /dev/null
pr() { [ "$(api GET "/api/v1/namespaces/default/pods/$1" | jget 'd["status"]["phase"]')" = Running ]; }
cl_wait 30 "srv" pr srv-$$ || fail srv
cl_wait 30 "cli" pr cli-$$ || fail cli
t0=$(now_ms)
ip=$(api GET "/api/v1/namespaces/default/pods/srv-$$" | jget 'd["status"]["podIP"]')
ns=$(cl_pod_ns cli-$$)
until ip netns exec "$ns" curl -s -o /dev/null --max-time 1 "http://$ip:8080/"; do
  [ $(($(now_ms) - t0)) -lt 30000 ] || fail "no HTTP answer from $ip"
  sleep 0.05
done
printf '  %-44s %5s ms\n' "server Running -> first HTTP answer across nodes" "$(($(now_ms) - t0))"

# 5. worker loss
on2=$(api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dnbd" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["items"] if p["spec"].get("nodeName") == sys.argv[1]))' "$W2")
t0=$(now_ms)
cl_stop_worker 2 KILL
nr() { [ "$(api GET "/api/v1/nodes/$W2" | jget '[c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready"][0]')" != True ]; }
cl_wait 60 "NotReady" nr || fail "NotReady"
t1=$(now_ms)
on1() { [ "$(api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dnbd" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["items"] if p["spec"].get("nodeName") == sys.argv[1] and p.get("status", {}).get("phase") == "Running"))' "$W1")" -ge "$REPLICAS" ]; }
cl_wait 180 "pods back" on1 || fail "rescheduling"
t2=$(now_ms)
printf '  %-44s %5s ms\n' "worker killed -> its Node NotReady" "$((t1 - t0))"
printf '  %-44s %5s ms  (%s pods moved)\n' "worker killed -> all $REPLICAS Running on the other" "$((t2 - t0))" "$on2"
echo "node-bench: done"
