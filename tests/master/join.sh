#!/bin/bash
# join.sh: grow a one-master cluster to three with `sluice-ctrl join`.
#
#   m1 (bootstrapped alone) <── join m2 (asked at m1)
#                           <── join m3 (asked at m2: forwarded to the leader)
#   loopback only; ports derived from $$.
#
# 1. m1 alone elects itself and takes a write;
# 2. m2 starts with --join (empty, no election timer), `sluice-ctrl join`
#    makes it a learner, then a voter once caught up: it serves the key;
# 3. m3 joins through m2's API (the follower forwards POST /cluster/members);
# 4. /cluster/status lists three voters with their API URLs;
# 5. SIGKILL m1: m2 and m3 form a quorum of 2 out of 3 and elect a leader,
#    which is only possible if both really are voters; writes continue;
# 6. DELETE /cluster/members/1 removes the dead m1 (an unknown id: 400);
#    m2 and m3 then stop cleanly (exit 0, no sanitizer report).
#
# usage: join.sh path/to/sluice-ctrl
BIN=${1:?usage: join.sh path/to/sluice-ctrl}
NAME=join
. "$(dirname "$0")/lib.sh"

init_pki "$(member 1)"
for i in 2 3; do
	"$BIN" cert --dir "$PKI" --kind master --name "m$i" --ip 127.0.0.1 >/dev/null ||
		fail "cert m$i"
done

# 1. one master
start 1 "$(member 1)"
wait_leader_not 0 1 >/dev/null || fail "m1 alone elected no leader"
[ -n "$(put 1 before join)" ] || fail "put on m1"

# 2. m2 joins through m1
start 2 "$(members 1 2)" --join
sleep 0.3
[ "$(status 2 | jq -r '.leader')" = 0 ] || fail "an unjoined m2 already knows a leader"
out=$("$BIN" join --dir "$PKI" --server "$(api 1)" --name m2 --peer-url "$(peer 2)" \
	--api-url "$(api 2)" --id 2) || fail "join m2: $out"
[ "$(echo "$out" | jq -r .id)" = 2 ] || fail "join m2 answered '$out'"
wait_value 2 before join || fail "m2 did not catch up"
# a retried join of a member that already is a voter succeeds at once
out=$("$BIN" join --dir "$PKI" --server "$(api 1)" --name m2 --peer-url "$(peer 2)" \
	--api-url "$(api 2)" --id 2) || fail "retried join m2: $out"
echo "m2 joined"

# 3. m3 joins through m2 (a follower: forwarded to m1)
start 3 "$(members 1 2 3)" --join
out=$("$BIN" join --dir "$PKI" --server "$(api 2)" --name m3 --peer-url "$(peer 3)" \
	--api-url "$(api 3)" --id 3) || fail "join m3 via m2: $out"
wait_value 3 before join || fail "m3 did not catch up"
echo "m3 joined through a follower"

# 4. three voters, and m1 learned the joiners' API URLs from the store
st=$(status 1)
echo "$st" | jq -e '(.members | length) == 3 and
	([.members[] | select(.role == "learner")] | length) == 0 and
	([.members[] | select(.apiURL | startswith("https://"))] | length) == 3' >/dev/null ||
	fail "status after joins: $st"

# 5. the joiners are voters: without m1 they still have a quorum
crash 1
L=$(wait_leader_not 1 2 3) || fail "m2+m3 elected no leader without m1"
echo "leader without m1: m$L"
[ -n "$(put 2 after failover)" ] || fail "put after failover"
wait_value 3 after failover || fail "m3 lacks the write after failover"

# 6. m1 is gone for good: remove it (through either master; a follower
#    relays the DELETE); the configuration shrinks to two and writes go on
F=$((L == 2 ? 3 : 2))
out=$("${C[@]}" -X DELETE "$(api "$F")/cluster/members/1")
[ "$(echo "$out" | jq -r .id)" = 1 ] || fail "remove m1: $out"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -X DELETE "$(api "$F")/cluster/members/99")
[ "$code" = 400 ] || fail "removing an unknown member answered $code"
status "$L" | jq -e '(.members | length) == 2 and ([.members[].id] | index(1)) == null' \
	>/dev/null || fail "m1 still in the configuration: $(status "$L")"
[ -n "$(put "$F" after removal)" ] || fail "put after removing m1"
wait_value "$L" after removal || fail "m$L lacks the write after removing m1"
echo "m1 removed; m2 and m3 carry on"
stop_all
echo "PASS"
