#!/bin/bash
# cli_cluster3.sh: the `sluice` CLI against a real 3-master cluster on
# loopback (sluice-ctrl --role=master, Raft, the HTTPS API).
#
#   sluice ──► DEAD (nothing listens)   config order: DEAD, m1, m2, m3
#          ──► m1 ─┐
#          ──► m2 ─┼─ Raft   peers tcp://127.0.0.1:$BASE+{1,2,3}
#          ──► m3 ─┘         API   https://127.0.0.1:$BASE+{11,12,13}
#
# 1. `cluster status` lists 3 members and one leader, through a dead first
#    endpoint;
# 2. apply a multi-document manifest; get -o json returns what was stored;
# 3. apply a changed manifest: the AlreadyExists -> GET -> PUT path at the
#    stored resourceVersion ("configured"), then "unchanged";
# 4. `get -w` prints a pod created by another process;
# 5. cordon + drain delete the pods bound to the node; delete; NotFound = 1;
# 6. kill the leader: a write sent at once waits out the election (every
#    master answers 503 NoLeader meanwhile); once the two others have elected a new one, the same
#    config (whose first two endpoints may now be dead) still reads and
#    writes; `cluster status` from a survivor shows the new leader; a
#    `get -w` started before the crash prints a pod created after it;
#    the survivors stop cleanly (exit 0, no sanitizer report).
# tests/master/lib.sh starts and stops the masters (ports derived from $$).
# The controllers are off (--no-controllers) so only this test writes.
#
# usage: cli_cluster3.sh path/to/sluice path/to/sluice-ctrl
SLUICE=${1:?usage: cli_cluster3.sh SLUICE SLUICE_CTRL}
BIN=${2:?usage: cli_cluster3.sh SLUICE SLUICE_CTRL}
NAME=cli-cluster3
. "$(dirname "$0")/../master/lib.sh"
WPID=
cleanup_extra() {
	[ -n "$WPID" ] && { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
}
. "$(dirname "$0")/cli_lib.sh" # its fail() prints the CLI's output, then:
fail_extra() { master_logs; }
MEMBERS=$(members 1 2 3)

DEAD=https://127.0.0.1:$((BASE + 19))

init_pki "$MEMBERS"
# The CLI reads init's own admin.conf, with a dead endpoint put in front.
python3 - "$ADMIN_CONF" "$DEAD" <<'EOF' || fail "cannot edit admin.conf"
import json, sys
p, dead = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["servers"].insert(0, dead)
json.dump(c, open(p + ".test", "w"))
EOF
export SLUICE_CONFIG=$ADMIN_CONF.test

for i in 1 2 3; do start "$i" "$MEMBERS"; done
LEADER=$(wait_leader_not 0 1 2 3) || fail "no leader elected"
echo "leader is m$LEADER"

echo "1. cluster status: 3 members, one leader, through a dead first endpoint"
run 0 cluster status
[ "$(grep -c -E '^[0-9]+ ' "$WORK/out")" = 3 ] || fail "cluster status: not 3 members"
[ "$(grep -c ' leader ' "$WORK/out")" = 1 ] || fail "cluster status: not exactly one leader"
has out "Leader:        m$LEADER"
run 0 cluster status -o json
jcheck 'len(d["members"]) == 3 and d["term"] >= 1 and d["commitIndex"] >= 1'

cat >"$WORK/app.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: n1}
spec: {podCIDR: 10.244.1.0/24}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  nodeName: n1
  containers: [{name: c, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
EOF

echo "2. apply a multi-document manifest; get -o json"
run 0 apply -f "$WORK/app.yaml"
has out "node/n1 created"
has out "service/web created"
has out "pod/web-1 created"
has out "deployment/web created"
run 0 get pods -o json
jcheck '[i["metadata"]["name"] for i in d["items"]] == ["web-1"] and d["items"][0]["spec"]["nodeName"] == "n1"'
run 0 get deploy web -o json
jcheck 'd["spec"]["replicas"] == 2 and d["metadata"]["uid"] != ""'
run 0 get nodes
has out "n1"

echo "3. update: AlreadyExists -> GET -> PUT at the stored resourceVersion"
run 0 get deploy web -o json
RV1=$(python3 -c "import json; print(json.load(open('$WORK/out'))['metadata']['resourceVersion'])")
sed -i 's/replicas: 2/replicas: 3/' "$WORK/app.yaml"
run 0 apply -f "$WORK/app.yaml"
has out "deployment/web configured"
has out "pod/web-1 unchanged"
run 0 get deploy web -o json
jcheck "d['spec']['replicas'] == 3 and int(d['metadata']['resourceVersion']) > $RV1"
run 0 apply -f "$WORK/app.yaml"
has out "deployment/web unchanged"
run 0 scale deploy web --replicas 5
has out "deployment/web scaled"
run 0 get deploy web -o json
jcheck 'd["spec"]["replicas"] == 5'
run 0 apply -f "$WORK/app.yaml"
has out "deployment/web configured"
run 1 create -f "$WORK/app.yaml"
has err "Error from server (AlreadyExists)"

echo "4. get -w prints a pod created by another process"
"$SLUICE" get pods -w --no-headers >"$WORK/watch.out" 2>"$WORK/watch.err" &
WPID=$!
watch_until "$WORK/watch.out" web-1
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: web-2, labels: {app: web}}\nspec: {nodeName: n1, containers: [{name: c, image: busybox}]}\n' |
	"$SLUICE" apply -f - >/dev/null || fail "apply web-2"
watch_until "$WORK/watch.out" web-2
kill -INT "$WPID"
wait "$WPID"
WRC=$?
WPID=
[ $WRC = 0 ] || fail "get -w exited $WRC on SIGINT"

echo "5. cordon, drain, delete"
run 0 cordon n1
has out "node/n1 cordoned"
run 0 get node n1 -o json
jcheck 'd["spec"]["unschedulable"] is True'
run 0 drain n1
has out "pod/web-1 evicted"
has out "pod/web-2 evicted"
has out "node/n1 drained"
run 0 get pods -o name
[ -s "$WORK/out" ] && fail "pods left after drain: $(cat "$WORK/out")"
run 0 uncordon n1
run 0 get node n1 -o json
jcheck '"unschedulable" not in d["spec"]'
run 0 delete svc web
has out 'service "web" deleted'
run 1 get svc web
has err "NotFound"

echo "6. kill the leader m$LEADER; the CLI keeps working through the survivors"
# A watch started before the crash must go on printing after it.
"$SLUICE" get pods -w --no-headers >"$WORK/watch.out" 2>"$WORK/watch.err" &
WPID=$!
sleep 0.5
crash "$LEADER"
# Right away, during the election: the CLI waits for the new leader.
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: in-election}\nspec: {containers: [{name: c, image: busybox}]}\n' >"$WORK/e.yaml"
run 0 apply -f "$WORK/e.yaml"
has out "pod/in-election created"
NEW=$(wait_leader_not "$LEADER" $(others "$LEADER" 1 2 3)) ||
	fail "no new leader after killing m$LEADER"
echo "new leader is m$NEW"
run 0 get deploy web -o json
jcheck 'd["spec"]["replicas"] == 3'
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: after-failover}\nspec: {containers: [{name: c, image: busybox}]}\n' >"$WORK/p.yaml"
run 0 apply -f "$WORK/p.yaml"
has out "pod/after-failover created"
watch_until "$WORK/watch.out" after-failover
[ "$(grep -c after-failover "$WORK/watch.out")" = 1 ] || fail "the watch printed after-failover twice"
kill -INT "$WPID"
wait "$WPID"
WRC=$?
WPID=
[ $WRC = 0 ] || fail "get -w exited $WRC after the failover"
run 0 cluster status
has out "Leader:        m$NEW"
# Only dead endpoints left: exit 3 naming both.
run 3 get pods --server "$DEAD,$(api "$LEADER")" --timeout 2s
has err "cluster unreachable"
has err "$DEAD"
stop_all

echo "PASS"
