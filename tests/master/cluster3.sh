#!/bin/bash
# cluster3.sh: three sluice-ctrl masters on loopback.
#
#   m1 ─┐                      peers: nanomsg tcp://127.0.0.1:$BASE+{1,2,3}
#   m2 ─┼─ Raft over loopback  API:   https://127.0.0.1:$BASE+{11,12,13}
#   m3 ─┘                      (ports derived from $$ so parallel runs differ)
#
# 1. a leader is elected and every master reports it in /cluster/status,
#    with all three members healthy (a dead one: unreachable);
# 2. a write sent to a FOLLOWER is forwarded to the leader, committed, and
#    read back (serializable, i.e. from each local store) on all three;
# 3. curl without a client cert, and with a cert from another CA, fails
#    in the TLS handshake;
# 4. SIGKILL the leader: the two others elect a new leader, and writes
#    through the survivors continue;
# 5. restart the killed master from its data dir: it catches up (it serves
#    every key, old and new, from its own store), through InstallSnapshot
#    since 200 writes went by while it was down (snapshots every 64
#    entries, 128 trailing ones kept);
# 6. a key attached to a 1 s lease is deleted everywhere once it expires;
# 7. SIGTERM shuts every master down with exit status 0 (the leader hands
#    leadership over first), and a full restart from the data dirs keeps
#    every key; the restarted masters stop cleanly too (exit 0, and no
#    sanitizer report in a sanitizer build).
# Snapshots are taken every 64 entries (--snapshot-entries) and checked.
#
# usage: cluster3.sh path/to/sluice-ctrl
BIN=${1:?usage: cluster3.sh path/to/sluice-ctrl}
NAME=cluster3
. "$(dirname "$0")/lib.sh"
MASTER_ARGS=(--snapshot-entries 64)
MEMBERS=$(members 1 2 3)

init_pki "$MEMBERS"
for i in 1 2 3; do start "$i" "$MEMBERS"; done

# 1. election
L=$(wait_leader_not 0 1 2 3) || fail "no leader agreed by all three"
echo "leader: m$L"
[ "$("${C[@]}" "$(api 1)/healthz")" = ok ] || fail "/healthz"
F=$((L % 3 + 1)) # a follower
"${C[@]}" "$(api "$F")/cluster/status" | jq -e ".self == $F and (.members | length) == 3" \
	>/dev/null || fail "/cluster/status on m$F"
# every master, followers included, sees all three healthy (a follower hears
# the other follower through its /healthz probes, not through Raft)
for i in 1 2 3; do
	wait_status "$i" '[.members[] | select(.health == "ok")] | length == 3' ||
		fail "m$i does not see three healthy members: $(status "$i")"
done

# 2. a write through a follower is forwarded and committed everywhere
rev=$(put "$F" greeting hello)
[ -n "$rev" ] || fail "put through follower m$F got no revision"
for i in 1 2 3; do
	wait_value "$i" greeting hello || fail "m$i does not have greeting=hello"
done
echo "forwarded write from m$F committed on all three (revision $rev)"
# linearizable read through a follower (forwarded) sees it too
v=$("${C[@]}" -X POST -d "{\"key\":\"$(b64 greeting)\"}" "$(api "$F")/v3/kv/range" |
	jq -r '.kvs[0].value' | base64 -d)
[ "$v" = hello ] || fail "linearizable read through m$F: '$v'"

# 3. no cert / foreign CA: refused in the handshake
if curl -s --max-time 5 --cacert "$PKI/ca.crt" "$(api 1)/healthz" >/dev/null; then
	fail "request without client cert succeeded"
fi
"$BIN" init --dir "$WORK/other" >/dev/null || fail "second init"
if curl -s --max-time 5 --cacert "$PKI/ca.crt" --cert "$WORK/other/admin.crt" \
	--key "$WORK/other/admin.key" "$(api 1)/healthz" >/dev/null; then
	fail "request with a cert from another CA succeeded"
fi
echo "no cert and foreign cert refused"

# enough writes to cross the snapshot threshold (64 entries)
for n in $(seq 1 80); do
	[ -n "$(put "$F" "k$n" "v$n")" ] || fail "put k$n"
done

# 4. kill the leader
crash "$L"
read -ra SURV <<<"$(others "$L" 1 2 3)"
L2=$(wait_leader_not "$L" "${SURV[@]}") || fail "no new leader after killing m$L"
[ "$L2" != "$L" ] || fail "dead m$L still reported as leader"
echo "new leader after SIGKILL of m$L: m$L2"
wait_status "$L2" ".members[] | select(.id == $L) | .health == \"unreachable\"" ||
	fail "dead m$L not reported unreachable by m$L2"
[ -s "$WORK/d$L2/snapshot" ] || fail "m$L2 took no Raft snapshot after 80+ entries"
for i in "${SURV[@]}"; do
	[ -n "$(put "$i" "after-$i" "x$i")" ] || fail "put through m$i after failover"
done
for i in "${SURV[@]}"; do
	for j in "${SURV[@]}"; do
		wait_value "$i" "after-$j" "x$j" || fail "m$i lacks after-$j"
	done
done

# 200 more writes while m$L is down: more than a snapshot interval (64)
# plus the trailing entries kept after it (128), so the leader no longer
# has the entries m$L misses and must send its snapshot (InstallSnapshot)
for n in $(seq 1 200); do
	echo "{\"key\":\"$(b64 "bulk-$n")\",\"value\":\"$(b64 v)\"}"
done >"$WORK/bulk"
xargs -P 8 -d '\n' -I{} "${C[@]}" -o /dev/null -X POST -d {} "$(api "$L2")/v3/kv/put" \
	<"$WORK/bulk"
[ -n "$(put "$L2" bulk-last done)" ] || fail "bulk writes"
bulk_count() { # N: keys bulk-* in master N's own store
	"${C[@]}" -X POST -d "{\"key\":\"$(b64 bulk-)\",\"range_end\":\"$(b64 bulk.)\",\"serializable\":true,\"count_only\":true}" \
		"$(api "$1")/v3/kv/range" | jq -r '.count // "0"'
}
[ "$(bulk_count "$L2")" = 201 ] || fail "leader has $(bulk_count "$L2") bulk keys, want 201"

# 5. restart the killed master: it catches up from its data dir + the
#    leader's snapshot
start "$L" "$MEMBERS"
for k in greeting k1 k80 "after-${SURV[0]}" "after-${SURV[1]}" bulk-1 bulk-200 bulk-last; do
	want=$(get_local "$L2" "$k")
	wait_value "$L" "$k" "$want" || fail "restarted m$L lacks $k=$want"
done
for _ in $(seq 100); do [ "$(bulk_count "$L")" = 201 ] && break; sleep 0.1; done
[ "$(bulk_count "$L")" = 201 ] || fail "restarted m$L has $(bulk_count "$L") bulk keys, want 201"
L3=$(wait_leader_not 0 1 2 3) || fail "no leader agreed after restart"
echo "restarted m$L caught up (leader m$L3)"

# 6. leases expire on the leader's clock: a key attached to a 1 s lease
#    disappears from every store
lease=$("${C[@]}" -X POST -d '{"TTL":"1"}' "$(api "$L3")/v3/lease/grant" | jq -r '.ID // empty')
[ -n "$lease" ] || fail "lease grant"
"${C[@]}" -X POST -d "{\"key\":\"$(b64 ephemeral)\",\"value\":\"$(b64 x)\",\"lease\":\"$lease\"}" \
	"$(api "$L3")/v3/kv/put" | jq -e '.header.revision' >/dev/null || fail "put with lease"
for i in 1 2 3; do wait_value "$i" ephemeral x || fail "m$i lacks the leased key"; done
for i in 1 2 3; do gone "$i" ephemeral || fail "leased key still on m$i after its TTL"; done
echo "lease expired and its key was deleted everywhere"

# 7. clean shutdown of all three, then a full restart keeps every key
# the leader goes first: on SIGTERM it hands leadership over (TimeoutNow)
L4=$(wait_leader_not 0 1 2 3) || fail "no leader before shutdown"
stop "$L4"
grep -q "handed leadership to" "$WORK/m$L4.log" || fail "m$L4 stopped without handing leadership over"
read -ra REST <<<"$(others "$L4" 1 2 3)"
wait_leader_not "$L4" "${REST[@]}" >/dev/null || fail "no leader after m$L4 handed over"
for i in "${REST[@]}"; do stop "$i"; done
for i in 1 2 3; do start "$i" "$MEMBERS"; done
wait_leader_not 0 1 2 3 >/dev/null || fail "no leader after a full restart"
for i in 1 2 3; do
	for k in greeting k1 k40 k80; do
		wait_value "$i" "$k" "$(case $k in greeting) echo hello ;; *) echo "v${k#k}" ;; esac)" ||
			fail "m$i lost $k across a full restart"
	done
done
echo "full restart: nothing lost"
stop_all
echo "PASS"
