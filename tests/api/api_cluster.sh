#!/bin/bash
# api_cluster.sh: the API of docs/api.md against three real masters.
#
#   m1 ─┐                      peers: nanomsg tcp://127.0.0.1:$BASE+{1,2,3}
#   m2 ─┼─ Raft over loopback  API:   https://127.0.0.1:$BASE+{11,12,13}
#   m3 ─┘                      curl with the admin cert of `sluice-ctrl init`
#   (tests/master/lib.sh starts and stops them; ports derived from $$)
#
# 1. REST through a follower (forwarded): create (201, uid), create again
#    (409 AlreadyExists), get, list with label and field selectors, update
#    with a stale resourceVersion (409 Conflict) and the current one (200),
#    /status, 400 and 422 Status objects, delete with a stale precondition
#    (409), delete (200), get (404).
# 2. Binding: two schedulers bind one pod at the same time through two
#    different masters: exactly one 201 and one 409, and the pod is bound
#    to the winner's node.
# 3. /v3: put, range, txn CAS on mod_revision (success then failure).
# 4. Watch across a leader kill: a selector watch on the leader, writes,
#    SIGKILL of the leader, more writes on the survivors, then the client
#    resumes on a survivor from the last resourceVersion it saw: the events
#    of both streams are exactly the expected ones, each once, in order
#    (a pod relabelled out of the selector is DELETED).
# 5. A watch from a compacted resourceVersion gets one ERROR 410 line.
#
# usage: api_cluster.sh path/to/sluice-ctrl
BIN=${1:?usage: api_cluster.sh path/to/sluice-ctrl}
NAME=api
. "$(dirname "$0")/../master/lib.sh"
NS=t$$
WPID=""
stop_watch() { # the background watch client, if one runs
	[ -n "$WPID" ] && { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
	WPID=""
}
cleanup_extra() { stop_watch; }
MEMBERS=$(members 1 2 3)

# req MASTER METHOD PATH [BODY]: sets CODE and BODY (the response).
req() {
	local data=()
	[ $# -ge 4 ] && data=(-H 'Content-Type: application/json' -d "$4")
	CODE=$("${C[@]}" -X "$2" "${data[@]}" -o "$WORK/resp" -w '%{http_code}' \
		"$(api "$1")$3")
	BODY=$(cat "$WORK/resp" 2>/dev/null)
}

expect() { # CODE-wanted what
	[ "$CODE" = "$1" ] || fail "$2: HTTP $CODE, want $1: $BODY"
}

field() { jq -r "$1" <<<"$BODY"; }

pod() { # name app [rv]
	local rv=""
	[ -n "${3:-}" ] && rv=",\"resourceVersion\":\"$3\""
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\"$rv,\"labels\":{\"app\":\"$2\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
}
PODS=/api/v1/namespaces/$NS/pods

init_pki "$MEMBERS"
for i in 1 2 3; do start "$i" "$MEMBERS"; done
L=$(wait_leader_not 0 1 2 3) || fail "no leader"
F=$((L % 3 + 1))
F2=$((F % 3 + 1))
[ "$F2" != "$L" ] || F2=$((F2 % 3 + 1))
echo "leader m$L, followers m$F m$F2"

# ------------------------------------------------------------------ 1. REST
req "$F" POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{"unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule"}]}}'
expect 201 "create node"
[[ "$(field .metadata.uid)" =~ ^[0-9a-f-]{36}$ ]] || fail "node uid: $BODY"
req "$F" POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}'
expect 409 "create node again"
[ "$(field .reason)" = AlreadyExists ] || fail "reason: $BODY"

req "$F" POST "$PODS" "$(pod web web)"
expect 201 "create pod"
RV1=$(field .metadata.resourceVersion)
UID1=$(field .metadata.uid)
req "$F" GET "$PODS/web"
expect 200 "get pod"
[ "$(field .status.phase)" = Pending ] && [ "$(field .metadata.uid)" = "$UID1" ] &&
	[ "$(field .metadata.resourceVersion)" = "$RV1" ] || fail "get pod: $BODY"
req "$F" POST "$PODS" "$(pod db db)"
expect 201 "create pod db"
req "$F" GET "$PODS?labelSelector=app%3Dweb"
expect 200 "list"
[ "$(field '.kind + " " + (.items | map(.metadata.name) | join(","))')" = "PodList web" ] ||
	fail "list app=web: $BODY"
req "$F" GET "/api/v1/pods?labelSelector=app%20in%20(web,db)&fieldSelector=metadata.name!%3Dweb"
[ "$(field '.items | map(.metadata.name) | join(",")')" = db ] || fail "list in/!=: $BODY"

req "$F" PUT "$PODS/web" "$(pod web web2 1)"
expect 409 "update with a stale resourceVersion"
[ "$(field .reason)" = Conflict ] || fail "reason: $BODY"
req "$F" PUT "$PODS/web" "$(pod web web2)"
expect 422 "update without resourceVersion"
req "$F" PUT "$PODS/web" "$(pod web web2 "$RV1")"
expect 200 "update"
RV2=$(field .metadata.resourceVersion)
[ "$RV2" -gt "$RV1" ] && [ "$(field .metadata.uid)" = "$UID1" ] || fail "update: $BODY"
req "$F" PUT "$PODS/web/status" "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"$RV2\"},\"status\":{\"phase\":\"Running\"}}"
expect 200 "status"
req "$F" GET "$PODS?fieldSelector=status.phase%3DRunning"
[ "$(field '.items | map(.metadata.name) | join(",")')" = web ] || fail "field selector: $BODY"

req "$F" POST "$PODS" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[{"name":"c"}]}}'
expect 422 "invalid pod"
[ "$(field .message)" = 'Pod "bad" is invalid: spec.containers[0].image: Required value' ] ||
	fail "422 message: $BODY"
req "$F" POST "$PODS" '{"apiVersion":"v1",'
expect 400 "bad JSON"
[ "$(field .kind)/$(field .reason)" = Status/BadRequest ] || fail "400 body: $BODY"
req "$F" GET "$PODS?labelSelector=a%20b"
expect 400 "bad selector"
req "$F" PATCH "$PODS/web" '{}'
expect 405 "PATCH"

req "$F" DELETE "$PODS/db?resourceVersion=1"
expect 409 "delete with stale precondition"
req "$F" DELETE "$PODS/db"
expect 200 "delete"
[ "$(field .metadata.name)" = db ] || fail "delete answers the last state: $BODY"
req "$F" GET "$PODS/db"
expect 404 "get deleted"
echo "REST: create/get/list/update/status/delete with the expected codes"

# ---------------------------------------------------------------- 2. binding
req "$F" POST "$PODS" "$(pod race race)"
expect 201 "create race pod"
bind() { # master node -> writes the HTTP code to $WORK/bind-$2
	"${C[@]}" -X POST -o /dev/null -w '%{http_code}' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"race\"},\"target\":{\"kind\":\"Node\",\"name\":\"$2\"}}" \
		"$(api "$1")$PODS/race/binding" >"$WORK/bind-$2"
}
bind "$F" n1 &
B1=$!
bind "$F2" n2 &
B2=$!
wait $B1 $B2
codes=$( (cat "$WORK/bind-n1"; echo; cat "$WORK/bind-n2"; echo) | sort | tr '\n' ' ')
[ "$codes" = "201 409 " ] || fail "two bindings answered '$codes', want one 201 and one 409"
winner=n1
[ "$(cat "$WORK/bind-n2")" = 201 ] && winner=n2
req "$L" GET "$PODS/race"
[ "$(field .spec.nodeName)" = "$winner" ] || fail "pod bound to '$(field .spec.nodeName)', want $winner"
req "$F" POST "$PODS/race/binding" '{"target":{"name":"n3"}}'
expect 409 "third binding"
echo "binding: two concurrent schedulers, one 201 ($winner) and one 409"

# ------------------------------------------------------------------- 3. /v3
k=$(printf 'lin/x' | base64 -w0)
req "$F" POST /v3/kv/put "{\"key\":\"$k\",\"value\":\"$(printf 1 | base64 -w0)\"}"
expect 200 "kv put"
req "$F" POST /v3/kv/range "{\"key\":\"$k\"}"
MR=$(field '.kvs[0].mod_revision')
[ "$(field .count)" = 1 ] && [ -n "$MR" ] || fail "kv range: $BODY"
TXN="{\"compare\":[{\"key\":\"$k\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"$MR\"}],\"success\":[{\"request_put\":{\"key\":\"$k\",\"value\":\"Mg==\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k\"}}]}"
req "$F2" POST /v3/kv/txn "$TXN"
[ "$(field .succeeded)" = true ] || fail "txn CAS: $BODY"
req "$F2" POST /v3/kv/txn "$TXN"
[ "$(field .succeeded)" = false ] &&
	[ "$(field '.responses[0].response_range.kvs[0].value')" = Mg== ] || fail "txn CAS again: $BODY"
# /v3/watch from the revision of the first put: created line, then events.
req "$F" POST /v3/kv/range "{\"key\":\"$k\"}"
CR=$(field '.kvs[0].create_revision')
W0=$WORK/watch0
"${C[@]}" --max-time 20 -N -X POST -d "{\"create_request\":{\"key\":\"$k\",\"start_revision\":\"$CR\"}}" \
	"$(api "$F2")/v3/watch" >"$W0" &
WPID=$!
req "$F" POST /v3/kv/deleterange "{\"key\":\"$k\"}"
[ "$(field .deleted)" = 1 ] || fail "deleterange: $BODY"
want="true|PUT MQ==|PUT Mg==|DELETE -|"
for _ in $(seq 100); do
	got=$(jq -rj '(.result.created // "" | tostring) + (.result.events // [] | map((.type // "PUT") + " " + (.kv.value // "-")) | join("|")) + "|"' <"$W0" 2>/dev/null)
	[ "$got" = "$want" ] && break
	sleep 0.1
done
[ "$got" = "$want" ] || fail "/v3/watch: got '$got' want '$want': $(cat "$W0")"
stop_watch
# Leases: grant, attach, timetolive lists the key, keepalive, revoke
# deletes it.
req "$F" POST /v3/lease/grant '{"TTL":"60"}'
LID=$(field .ID)
[ -n "$LID" ] && [ "$(field .TTL)" = 60 ] || fail "lease grant: $BODY"
lk=$(printf 'lease/k' | base64 -w0)
req "$F" POST /v3/kv/put "{\"key\":\"$lk\",\"value\":\"eA==\",\"lease\":\"$LID\"}"
expect 200 "put with lease"
req "$F2" POST /v3/lease/timetolive "{\"ID\":\"$LID\",\"keys\":true}"
[ "$(field '.grantedTTL + " " + .keys[0]')" = "60 $lk" ] || fail "timetolive: $BODY"
req "$F2" POST /v3/lease/keepalive "{\"ID\":\"$LID\"}"
[ "$(field .result.TTL)" = 60 ] || fail "keepalive: $BODY"
req "$F" POST /v3/lease/revoke "{\"ID\":\"$LID\"}"
expect 200 "revoke"
req "$F" POST /v3/kv/range "{\"key\":\"$lk\"}"
[ "$(field .count)" = 0 ] || fail "key of a revoked lease: $BODY"
req "$F" POST /v3/lease/keepalive "{\"ID\":\"$LID\"}"
expect 404 "keepalive of a revoked lease"
[ "$(field .code)" = 5 ] || fail "keepalive error: $BODY"
echo "/v3: put, range, txn CAS, deleterange, watch, leases"

# ------------------------------------------- 4. watch across a leader kill
req "$L" GET "$PODS"
R0=$(field .metadata.resourceVersion)
W1=$WORK/watch1
"${C[@]}" --max-time 120 -N "$(api "$L")$PODS?watch=1&resourceVersion=$R0&labelSelector=app%3Dw" >"$W1" &
WPID=$!
for n in 1 2 3 4 5; do
	req "$F" POST "$PODS" "$(pod "w$n" w)"
	expect 201 "create w$n"
done
req "$F" POST "$PODS" "$(pod x1 x)"
req "$F" GET "$PODS/w1"
req "$F" PUT "$PODS/w1" "$(jq -c '.metadata.annotations = {"a": "b"}' <<<"$BODY")"
expect 200 "modify w1"
req "$F" GET "$PODS/w2"
req "$F" PUT "$PODS/w2" "$(jq -c '.metadata.labels.app = "x"' <<<"$BODY")"
expect 200 "relabel w2"
for _ in $(seq 100); do [ "$(wc -l <"$W1")" -ge 4 ] && break; sleep 0.1; done
[ "$(wc -l <"$W1")" -ge 4 ] || fail "watch on m$L got $(wc -l <"$W1") lines"

crash "$L"
wait "$WPID" 2>/dev/null
WPID=""
read -ra SURV <<<"$(others "$L" 1 2 3)"
L2=$(wait_leader_not "$L" "${SURV[@]}") || fail "no leader after killing m$L"
req "$L2" POST "$PODS" "$(pod w6 w)"
expect 201 "create w6 after failover"
req "$L2" DELETE "$PODS/w3"
expect 200 "delete w3"
req "$L2" GET "$PODS/w4"
req "$L2" PUT "$PODS/w4" "$(jq -c '.metadata.annotations = {"c": "d"}' <<<"$BODY")"
expect 200 "modify w4"

# Resume from the last complete event line the client saw.
LAST=$(grep '^{.*}$' "$W1" | tail -n 1 | jq -r .object.metadata.resourceVersion)
# (a BOOKMARK line, if last, carries a resourceVersion to resume from too)
R=${SURV[0]}
[ "$R" = "$L2" ] && R=${SURV[1]}
W2=$WORK/watch2
"${C[@]}" --max-time 60 -N "$(api "$R")$PODS?watch=1&resourceVersion=$LAST&labelSelector=app%3Dw" >"$W2" &
WPID=$!
WANT="ADDED w1;ADDED w2;ADDED w3;ADDED w4;ADDED w5;MODIFIED w1;DELETED w2;ADDED w6;DELETED w3;MODIFIED w4;"
got=""
for _ in $(seq 150); do
	got=$(cat "$W1" "$W2" | grep '^{.*}$' |
		jq -rj 'select(.type != "BOOKMARK") | .type + " " + .object.metadata.name + ";"')
	[ "$got" = "$WANT" ] && break
	sleep 0.1
done
[ "$got" = "$WANT" ] || fail "events across the leader kill:
 got  $got
 want $WANT"
revs=$(cat "$W1" "$W2" | grep '^{.*}$' | jq -r 'select(.type != "BOOKMARK") | .object.metadata.resourceVersion')
[ "$(sort -n -u <<<"$revs")" = "$revs" ] || fail "resourceVersions not strictly increasing: $revs"
stop_watch
echo "watch: resumed on m$R from $LAST after SIGKILL of leader m$L: 10 events, once each, in order"
# One object's watch (name in the path) sees only that object.
got=$("${C[@]}" --max-time 3 -N "$(api "$R")$PODS/w4?watch=1&resourceVersion=$R0" |
	jq -rj 'select(.type != "BOOKMARK") | .type + " " + .object.metadata.name + ";"')
[ "$got" = "ADDED w4;MODIFIED w4;" ] || fail "watch of one pod: $got"
# A watch whose selector matches nothing still learns that time moved on:
# a BOOKMARK at or past the revision of a write it filtered out.
req "$R" GET "$PODS?consistency=serializable"
WB=$WORK/watchb
"${C[@]}" --max-time 20 -N "$(api "$R")$PODS?watch=1&resourceVersion=$(field .metadata.resourceVersion)&labelSelector=app%3Dnone" >"$WB" &
WPID=$!
req "$L2" POST "$PODS" "$(pod bm w)"
expect 201 "create bm"
BM=$(field .metadata.resourceVersion)
b=0
for _ in $(seq 100); do
	b=$(jq -r 'select(.type == "BOOKMARK") | .object.metadata.resourceVersion' <"$WB" 2>/dev/null | tail -n 1)
	[ -n "$b" ] && [ "$b" -ge "$BM" ] && break
	sleep 0.1
done
[ -n "$b" ] && [ "$b" -ge "$BM" ] || fail "no BOOKMARK at or past $BM: $(cat "$WB")"
[ "$(jq -r 'select(.type != "BOOKMARK") | .type' <"$WB")" = "" ] || fail "filtered watch got events: $(cat "$WB")"
stop_watch
echo "watch: BOOKMARK $b past a filtered-out write at $BM"

# ------------------------------------------- 4b. a client that stops reading
# 80 pods of ~200 KB (16 MB of events: more than the kernel's socket
# buffers and the master's 4 MiB send threshold) to a watcher whose reader
# is stalled: the master keeps answering others, and once the reader
# drains, every event arrives, once, in order.
BIG=$(head -c 150000 /dev/zero | tr '\0' 'x')
req "$R" GET "$PODS?consistency=serializable"
WS=$WORK/watchs
( "${C[@]}" --max-time 120 -N "$(api "$R")$PODS?watch=1&resourceVersion=$(field .metadata.resourceVersion)&labelSelector=app%3Dbig" |
	{ until [ -e "$WORK/go" ]; do sleep 0.1; done; cat >"$WS"; } ) &
WPID=$!
for n in $(seq 1 80); do
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big%d","labels":{"app":"big"},"annotations":{"pad":"%s"}},"spec":{"containers":[{"name":"c","image":"i"}]}}' \
		"$n" "$BIG" >"$WORK/big.json"
	CODE=$("${C[@]}" -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/big.json" \
		-o /dev/null -w '%{http_code}' "$(api "$L2")$PODS")
	[ "$CODE" = 201 ] || fail "create big$n: HTTP $CODE"
done
req "$R" GET "$PODS/w4?consistency=serializable"
expect 200 "GET on the master of a stalled watcher"
touch "$WORK/go"
want=$(seq 1 80 | sed 's/^/ADDED big/' | tr '\n' ';')
for _ in $(seq 300); do
	got=$(grep '^{.*}$' "$WS" 2>/dev/null |
		jq -rj 'select(.type != "BOOKMARK") | .type + " " + .object.metadata.name + ";"')
	[ "$got" = "$want" ] && break
	sleep 0.1
done
[ "$got" = "$want" ] || fail "stalled watcher got $(grep -c . "$WS") lines: ${got:0:200}"
stop_watch
echo "watch: a stalled reader got all 80 events (16 MB) once in order; the master kept serving"

# ------------------------------------------------------ 5. compacted watch
req "$L2" GET "$PODS"
NOW=$(field .metadata.resourceVersion)
req "$L2" POST /v3/kv/compaction "{\"revision\":\"$NOW\"}"
expect 200 "compaction"
# Followers apply it a moment later: wait until m$R has.
for _ in $(seq 100); do
	req "$R" POST /v3/kv/range "{\"key\":\"$k\",\"revision\":\"$R0\",\"serializable\":true}"
	[ "$(field .code)" = 11 ] && break
	sleep 0.1
done
[ "$(field .code)" = 11 ] || fail "m$R never applied the compaction: $BODY"
out=$("${C[@]}" --max-time 10 -N "$(api "$R")$PODS?watch=1&resourceVersion=$R0")
[ "$(jq -r '.type + " " + (.object.code | tostring) + " " + .object.reason' <<<"$out")" = "ERROR 410 Expired" ] ||
	fail "watch from compacted $R0: $out"
req "$R" GET "$PODS?resourceVersion=$R0"
expect 410 "list at a compacted resourceVersion"
echo "compacted resourceVersion: watch ERROR 410 line, list 410"

# Clean shutdown (exit 0); a sanitizer build reports into the logs.
stop_all
echo "PASS"
