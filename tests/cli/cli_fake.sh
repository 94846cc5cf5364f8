#!/bin/bash
# cli_fake.sh: the `sluice` binary end to end against fake_api.py, an
# in-memory HTTPS API that requires client certificates, on loopback.
#
#   sluice ──HTTPS──► 127.0.0.1:DEAD      (nothing listens: connect refused)
#          ──HTTPS──► 127.0.0.1:NOLEADER  (fake_api.py --no-leader: 503 NoLeader)
#          ──HTTPS──► 127.0.0.1:GOOD      (fake_api.py: the answers)
#
# The config file lists the three in that order, so every command also
# proves failover. Checked: multi-document apply (created / unchanged /
# configured), get -o json|yaml|name|wide, -l, -A, get -o yaml piped back
# into apply -f -, get -w printing a change made by another process,
# describe, delete, cordon/drain/uncordon, cluster status, and the exit
# codes: 1 NotFound/AlreadyExists, 2 bad manifest (with line:col) and bad
# usage, 3 unreachable (every endpoint named), 4 no client certificate.
#
# usage: cli_fake.sh path/to/sluice path/to/fake_api.py
set -u
SLUICE=${1:?usage: cli_fake.sh SLUICE FAKE_API_PY}
FAKE=${2:?usage: cli_fake.sh SLUICE FAKE_API_PY}
WORK=$(mktemp -d /tmp/sluice-cli-fake.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

. "$(dirname "$0")/cli_lib.sh"

start_fake() { # name args...
	local name=$1
	shift
	python3 "$FAKE" --certs "$WORK/pki" --port-file "$WORK/$name.port" "$@" \
		>>"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 200); do
		[ -s "$WORK/$name.port" ] && return 0
		sleep 0.05
	done
	fail "fake_api.py $name did not start"
}

# Watch streams end after 1 s so `get -w` has to resume.
start_fake good --watch-seconds 1
start_fake noleader --no-leader
GOOD=https://127.0.0.1:$(cat "$WORK/good.port")
NOLEADER=https://127.0.0.1:$(cat "$WORK/noleader.port")
DEAD=https://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Relative paths in the config are relative to its directory.
cat >"$WORK/pki/admin.conf" <<EOF
{"servers": ["$DEAD", "$NOLEADER", "$GOOD"],
 "ca": "ca.crt", "cert": "admin.crt", "key": "admin.key"}
EOF
export SLUICE_CONFIG=$WORK/pki/admin.conf

cat >"$WORK/app.yaml" <<'EOF'
# two documents and a List
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {node-role.kubernetes.io/worker: ""}
spec:
  podCIDR: 10.244.1.0/24
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, labels: {app: web}}
  spec:
    nodeName: n1
    containers: [{name: c, image: busybox}]
- apiVersion: v1
  kind: Pod
  metadata: {name: db-1, namespace: data, labels: {app: db}}
  spec:
    nodeName: n1
    containers: [{name: c, image: busybox}]
EOF

echo "1. apply a multi-document manifest through failover"
run 0 apply -f "$WORK/app.yaml"
has out "node/n1 created"
has out "service/web created"
has out "pod/web-1 created"
has out "pod/db-1 created"

echo "2. get: table, -o json, -o name, -l, -A, -o wide"
run 0 get pods
has out "NAME    READY   STATUS    RESTARTS   AGE"
has out "web-1"
grep -q db-1 "$WORK/out" && fail "db-1 is in namespace data, not default"
run 0 get pods -o json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="PodList"; assert [i["metadata"]["name"] for i in d["items"]]==["web-1"], d' "$WORK/out" ||
	fail "get -o json: wrong list"
run 0 get pods -A -o name
[ "$(cat "$WORK/out")" = "$(printf 'pod/db-1\npod/web-1')" ] || fail "get -A -o name: $(cat "$WORK/out")"
run 0 get po -A -l app=db
has out "data        db-1"
run 0 get pod web-1 -o wide
has out "n1"
run 0 get svc/web -o json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="Service" and d["metadata"]["name"]=="web"' "$WORK/out" ||
	fail "get svc/web -o json"

echo "3. apply again: unchanged; then changed: configured (GET + PUT at the stored resourceVersion)"
run 0 apply -f "$WORK/app.yaml"
has out "pod/web-1 unchanged"
has out "service/web unchanged"
sed -i 's/port: 80, targetPort: 8080/port: 80, targetPort: 9090/' "$WORK/app.yaml"
run 0 get svc web -o json
RV1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$WORK/out")
run 0 apply -f "$WORK/app.yaml"
has out "service/web configured"
run 0 get svc web -o json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["spec"]["ports"][0]["targetPort"]==9090; assert d["metadata"]["resourceVersion"]!=sys.argv[2]' "$WORK/out" "$RV1" ||
	fail "apply did not update the service"

echo "3b. a concurrent writer between our GET and PUT: apply and cordon retry"
fake_stat() { # [N]: print a stat field after optionally arming N conflicts
	python3 "$FAKE" --certs "$WORK/pki" --stat "$GOOD" ${2:+--set-conflicts "$2"} |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
fake_stat conflicts 2 >/dev/null
sed -i 's/targetPort: 9090/targetPort: 9191/' "$WORK/app.yaml"
run 0 apply -f "$WORK/app.yaml"
has out "service/web configured"
[ "$(fake_stat conflicts)" = 0 ] || fail "apply did not meet the injected conflicts"
run 0 get svc web -o json
jcheck 'd["spec"]["ports"][0]["targetPort"] == 9191'
fake_stat conflicts 2 >/dev/null
run 0 cordon n1
has out "node/n1 cordoned"
[ "$(fake_stat conflicts)" = 0 ] || fail "cordon did not meet the injected conflicts"
run 0 uncordon n1
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {replicas: 1}\n' |
	"$SLUICE" apply -f - >/dev/null || fail "apply deployment api"
fake_stat conflicts 3 >/dev/null
run 0 scale deploy/api --replicas 4
has out "deployment/api scaled"
[ "$(fake_stat conflicts)" = 0 ] || fail "scale did not meet the injected conflicts"
run 0 get deploy api -o json
jcheck 'd["spec"]["replicas"] == 4'
run 0 scale deployment api --replicas=4
has out "deployment/api already at that scale"
run 1 scale deploy nope --replicas 2
has err "NotFound"
# A writer that always wins: apply gives up after 5 attempts, exit 1.
fake_stat conflicts 100 >/dev/null
sed -i 's/targetPort: 9191/targetPort: 9292/' "$WORK/app.yaml"
run 1 apply -f "$WORK/app.yaml"
has err "service/web: still conflicting after 5 attempts"
fake_stat conflicts 0 >/dev/null

echo "4. get -o yaml | apply -f - is a no-op (the YAML printer reads back)"
"$SLUICE" get pod web-1 -o yaml >"$WORK/web.yaml" || fail "get -o yaml"
run 0 apply -f - <"$WORK/web.yaml"
has out "pod/web-1 unchanged"

echo "5. get -w prints a change made by another process, across stream ends"
"$SLUICE" get pods -w --no-headers >"$WORK/watch.out" 2>"$WORK/watch.err" &
WPID=$!
PIDS+=($WPID)
watch_until "$WORK/watch.out" web-1
# Let the server end the stream at least once: get -w resumes from the last
# revision it printed, so nothing below may appear twice.
for _ in $(seq 100); do [ "$(fake_stat watches)" -ge 2 ] && break; sleep 0.05; done
[ "$(fake_stat watches)" -ge 2 ] || fail "get -w did not reconnect after the stream ended"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: late-1}\nspec: {containers: [{name: c, image: x}]}\n' |
	"$SLUICE" apply -f - >/dev/null || fail "apply late-1"
watch_until "$WORK/watch.out" late-1
[ "$(grep -c web-1 "$WORK/watch.out")" = 1 ] || fail "get -w printed web-1 twice after resuming"
[ "$(grep -c late-1 "$WORK/watch.out")" = 1 ] || fail "get -w printed late-1 twice"
kill -INT $WPID
wait $WPID
WRC=$?
[ $WRC = 0 ] || fail "get -w exited $WRC on SIGINT"

echo "6. describe, cordon, drain, uncordon"
run 0 describe node n1
has out "PodCIDR:               10.244.1.0/24"
has out "(2 on this node)"
run 0 describe svc web
has out "Selector:              app=web"
run 0 cordon n1
has out "node/n1 cordoned"
run 0 get nodes
has out "Ready\|Unknown"
has out "SchedulingDisabled"
run 0 drain node/n1
has out "node/n1 already cordoned"
has out "evicting pod data/db-1"
has out "pod/web-1 evicted"
has out "node/n1 drained"
run 0 get pods -A -o name
[ "$(cat "$WORK/out")" = "pod/late-1" ] || fail "drain left: $(cat "$WORK/out")"
run 0 uncordon n1
has out "node/n1 uncordoned"

echo "7. cluster status"
run 0 cluster status
has out "m1     leader"
[ "$(grep -c -E '^[0-9]+ ' "$WORK/out")" = 3 ] || fail "cluster status: not 3 members"
has out "Term:          4"
run 0 cluster status -o json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["members"])==3' "$WORK/out" ||
	fail "cluster status -o json"

echo "8. delete, and the server's refusals (exit 1)"
run 0 delete pod late-1
has out 'pod "late-1" deleted'
run 1 delete pod late-1
has err 'Error from server (NotFound): pods "late-1" not found'
run 0 delete pod late-1 --ignore-not-found
run 1 get pod late-1
has err "NotFound"
run 1 create -f "$WORK/app.yaml"
has err "Error from server (AlreadyExists)"
run 0 delete -f "$WORK/app.yaml" --ignore-not-found
has out 'service "web" deleted'

echo "9. usage and manifest errors (exit 2)"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n labels: x\n' >"$WORK/bad.yaml"
run 2 apply -f "$WORK/bad.yaml"
has err "bad.yaml:5:"
printf 'apiVersion: v1\nkind: Widget\nmetadata: {name: a}\n' >"$WORK/widget.yaml"
run 2 apply -f "$WORK/widget.yaml"
has err 'unknown kind "Widget"'
run 2 get widgets
has err 'unknown resource type "widgets"'
run 2 get pods --output=xml
has err "--output"
run 2 frobnicate
run 2 apply
has err "-f FILE"
run 0 get --help
has out "Usage: sluice get"

echo "10. unreachable (exit 3) and TLS (exit 4)"
DEAD2=https://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run 3 get pods --server "$DEAD,$DEAD2" --timeout 2s
has err "cluster unreachable"
has err "$DEAD"
has err "$DEAD2"
run 3 get pods --server "$NOLEADER" --timeout 1s
has err "retrying"
has err "NoLeader"
SLUICE_CONFIG= run 4 get pods --server "$GOOD" --cacert "$WORK/pki/ca.crt"
has err "no client certificate"
SLUICE_CONFIG= run 4 get pods --server "$GOOD" --cacert "$WORK/pki/rogue-ca.crt" \
	--cert "$WORK/pki/admin.crt" --key "$WORK/pki/admin.key"
has err "TLS"

echo "PASS"
