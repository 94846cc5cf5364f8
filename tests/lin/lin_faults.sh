#!/usr/bin/env bash
# lin_faults.sh: linearizability of the master group under faults.
#
#   host (driver: lin_driver, N clients, https to every member)
#     | 10.213.X.254/24
#   [ lnbPID bridge ]
#     |               |               |
#   lnv1PID         lnv2PID         lnv3PID          (veth, host ends)
#     |               |               |
#   ns lin1-PID     ns lin2-PID     ns lin3-PID
#   10.213.X.1      10.213.X.2      10.213.X.3
#   master m1       master m2       master m3        (or etcd 3.4 members)
#
# While the driver runs, a nemesis cycles three faults on a random member:
#   kill:      SIGKILL, wait for the PID, restart it after a few seconds
#   partition: an nftables table (lin_PID) inside that member's netns drops
#              everything to and from the other members (clients still reach
#              it), removed a few seconds later
#   pause:     SIGSTOP, SIGCONT a few seconds later (a paused leader wakes up
#              still believing it leads: the classic stale-read trap)
# It stops well before the driver's load phase ends, everything heals, and the
# driver checks the history (linearizable, no acknowledged write lost, all
# replicas agree). As a control, a copy of the recorded history with one read
# corrupted must be rejected by the checker.
#
# Usage: lin_faults.sh [--target sluice|etcd] [--duration S] [--clients N]
#                      [--keep DIR] [--serializable-reads]
# --serializable-reads makes the driver read members' local copies: a
# negative control, expected to FAIL (stale reads) once a member is cut off.
# Env: SLUICE_BUILD (build dir with ctrl/sluice-ctrl, tests/lin/lin_driver).
# Needs root (netns, nft). Everything it creates carries the suffix $$.
set -u

TARGET=sluice
DURATION=60
CLIENTS=8
KEEP=
EXTRA=()
usage() {
	sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
	case $1 in
	--target) TARGET=${2:-}; shift 2 ;;
	--target=*) TARGET=${1#*=}; shift ;;
	--duration) DURATION=${2:-}; shift 2 ;;
	--clients) CLIENTS=${2:-}; shift 2 ;;
	--keep) KEEP=${2:-}; shift 2 ;;
	--serializable-reads) EXTRA+=(--serializable-reads); shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "lin_faults: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $TARGET in sluice|etcd) ;; *) echo "lin_faults: --target: want sluice or etcd, got '$TARGET'" >&2; exit 2 ;; esac
case $DURATION in ''|*[!0-9]*) echo "lin_faults: --duration: want whole seconds" >&2; exit 2 ;; esac
[ "$DURATION" -ge 20 ] || { echo "lin_faults: --duration: at least 20 s" >&2; exit 2; }
case $CLIENTS in ''|*[!0-9]*) echo "lin_faults: --clients: want a number" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
BUILD=${SLUICE_BUILD:-$HERE/../../build}
DRIVER=$BUILD/tests/lin/lin_driver
CTRL=$BUILD/ctrl/sluice-ctrl

[ "$(id -u)" = 0 ] || { echo "lin_faults: SKIP: needs root" >&2; exit 77; }
[ -x "$DRIVER" ] || { echo "lin_faults: $DRIVER missing (ninja lin_driver)" >&2; exit 2; }
command -v nft >/dev/null || { echo "lin_faults: nft missing (apt-get install nftables)" >&2; exit 2; }
if [ $TARGET = etcd ]; then
	command -v etcd >/dev/null || { echo "lin_faults: etcd missing (apt-get install etcd-server)" >&2; exit 2; }
else
	[ -x "$CTRL" ] || { echo "lin_faults: $CTRL missing" >&2; exit 2; }
fi

S=$$
NET=10.213.$((S % 200 + 20))
BR=lnb$S
TMP=$(mktemp -d /tmp/lin-faults.XXXXXX)
HB=100
ELECT=1000
declare -a PID=(0 0 0 0)
NEM_LOG=$TMP/nemesis.log
: > "$NEM_LOG"

cleanup() {
	local rc=$? i
	# A failed run keeps its history and logs for a post-mortem.
	if [ $rc != 0 ] && [ -z "$KEEP" ] && [ -d "$BUILD" ]; then
		KEEP=$BUILD/lin-faults-fail-$TARGET-$S
		echo "lin_faults: history and logs kept in $KEEP" >&2
	fi
	for i in 1 2 3; do
		if [ "${PID[$i]}" != 0 ]; then
			kill -9 "${PID[$i]}" 2>/dev/null
			lin_wait_pid "${PID[$i]}" 20
		fi
	done
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	for i in 1 2 3; do
		ip netns del lin$i-$S 2>/dev/null
		ip link del lnv$i$S 2>/dev/null
	done
	ip link del $BR 2>/dev/null
	if [ -n "$KEEP" ]; then
		mkdir -p "$KEEP" && cp -r "$TMP"/. "$KEEP"/
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---------------------------------------------------------------- topology
ip link add $BR type bridge || exit 1
ip addr add $NET.254/24 dev $BR
ip link set $BR up
for i in 1 2 3; do
	ip netns add lin$i-$S
	ip link add lnv$i$S type veth peer name eth0 netns lin$i-$S
	ip link set lnv$i$S master $BR up
	ip -n lin$i-$S addr add $NET.$i/24 dev eth0
	ip -n lin$i-$S link set eth0 up
	ip -n lin$i-$S link set lo up
done

# ---------------------------------------------------------------- members
if [ $TARGET = etcd ]; then
	lin_mkcerts "$TMP/pki" $NET.1 $NET.2 $NET.3 || { echo "lin_faults: openssl failed" >&2; exit 1; }
	CLUSTER="m1=https://$NET.1:2380,m2=https://$NET.2:2380,m3=https://$NET.3:2380"
	ENDPOINTS="https://$NET.1:2379,https://$NET.2:2379,https://$NET.3:2379"
	CLIENT_ARGS=(--cacert "$TMP/pki/ca.crt" --cert "$TMP/pki/admin.crt" --key "$TMP/pki/admin.key")
	start_member() {
		local i=$1
		etcd_start m$i "$TMP/m$i" https://$NET.$i:2379 https://$NET.$i:2380 \
			"$CLUSTER" "$TMP/pki" $HB $ELECT lin$i-$S
		PID[$i]=$LIN_PID
	}
else
	MEMBERS="1=m1,tcp://$NET.1:2380,https://$NET.1:6443;2=m2,tcp://$NET.2:2380,https://$NET.2:6443;3=m3,tcp://$NET.3:2380,https://$NET.3:6443"
	ENDPOINTS="https://$NET.1:6443,https://$NET.2:6443,https://$NET.3:6443"
	"$CTRL" init --dir "$TMP/pki" --members "$MEMBERS" >"$TMP/init.log" 2>&1 ||
		{ echo "lin_faults: sluice-ctrl init failed:" >&2; cat "$TMP/init.log" >&2; exit 1; }
	CLIENT_ARGS=(--config "$TMP/pki/admin.conf")
	start_member() {
		local i=$1
		ip netns exec lin$i-$S "$CTRL" --role=master --name m$i \
			--data-dir "$TMP/m$i" --pki-dir "$TMP/pki" --members "$MEMBERS" \
			--peer-listen tcp://$NET.$i:2380 --api-listen $NET.$i:6443 --no-controllers \
			--heartbeat-ms $HB --election-timeout-ms $ELECT \
			>>"$TMP/m$i.log" 2>&1 &
		PID[$i]=$!
		disown "${PID[$i]}"
	}
fi

for i in 1 2 3; do start_member $i; done
ready_url() {
	# Any member answering a linearizable read means there is a quorum.
	local i
	for i in 1 2 3; do
		if curl -sf -o /dev/null --max-time 2 \
			--cacert "$TMP/pki/ca.crt" --cert "$TMP/pki/admin.crt" --key "$TMP/pki/admin.key" \
			-X POST -d '{"key":"cmVhZHk="}' https://$NET.$i:$([ $TARGET = etcd ] && echo 2379 || echo 6443)/v3/kv/range; then
			return 0
		fi
	done
	return 1
}
for ((t = 0; t < 300; t++)); do ready_url && break; sleep 0.2; done
ready_url || { echo "lin_faults: FAIL: the $TARGET cluster never became ready" >&2; tail -5 "$TMP"/m*.log >&2; exit 1; }
lin_log "lin_faults: $TARGET cluster up (pids ${PID[*]:1}), net $NET.0/24"

# ---------------------------------------------------------------- nemesis
partition() {
	local i=$1 others="" j
	for j in 1 2 3; do [ $j != $i ] && others="$others${others:+, }$NET.$j"; done
	ip netns exec lin$i-$S nft -f - <<EOF
table inet lin_$S {
	chain in { type filter hook input priority 0; policy accept; ip saddr { $others } drop; }
	chain out { type filter hook output priority 0; policy accept; ip daddr { $others } drop; }
}
EOF
}
heal() { ip netns exec lin$1-$S nft delete table inet lin_$S 2>/dev/null; }

"$DRIVER" --endpoints "$ENDPOINTS" "${CLIENT_ARGS[@]}" --clients "$CLIENTS" \
	--duration "$DURATION" --history "$TMP/history.txt" --final-timeout 60 \
	--timeout-ms 1500 "${EXTRA[@]}" >"$TMP/driver.out" 2>"$TMP/driver.err" &
DPID=$!

# Faults only while the driver is loading, and not in its last 12 s: the
# cluster must be whole again before the final reads.
T_END=$(( $(date +%s) + DURATION - 12 ))
round=0
kills=0
parts=0
pauses=0
sleep 3
while [ "$(date +%s)" -lt "$T_END" ] && kill -0 $DPID 2>/dev/null; do
	i=$(( RANDOM % 3 + 1 ))
	case $((round % 3)) in
	0)
		lin_log "nemesis: SIGKILL m$i (pid ${PID[$i]})" 2>>"$NEM_LOG"
		kill -9 "${PID[$i]}"
		lin_wait_pid "${PID[$i]}" 30 || { echo "lin_faults: m$i survived SIGKILL" >&2; exit 1; }
		sleep $(( RANDOM % 2 + 2 ))
		start_member $i
		lin_log "nemesis: restarted m$i (pid ${PID[$i]})" 2>>"$NEM_LOG"
		kills=$((kills + 1))
		;;
	1)
		lin_log "nemesis: partition m$i from its peers" 2>>"$NEM_LOG"
		partition $i || { echo "lin_faults: nft failed" >&2; exit 1; }
		sleep $(( RANDOM % 3 + 3 ))
		heal $i
		lin_log "nemesis: healed m$i" 2>>"$NEM_LOG"
		parts=$((parts + 1))
		;;
	2)
		lin_log "nemesis: SIGSTOP m$i (pid ${PID[$i]})" 2>>"$NEM_LOG"
		kill -STOP "${PID[$i]}"
		sleep $(( RANDOM % 2 + 3 ))
		kill -CONT "${PID[$i]}"
		lin_log "nemesis: SIGCONT m$i" 2>>"$NEM_LOG"
		pauses=$((pauses + 1))
		;;
	esac
	round=$((round + 1))
	sleep $(( RANDOM % 2 + 1 ))
done
for i in 1 2 3; do heal $i; done
lin_log "lin_faults: nemesis done: $kills kills, $parts partitions, $pauses pauses; waiting for the driver"

wait $DPID
RC=$?
DPID=
cat "$TMP/driver.out"
if [ $RC != 0 ]; then
	echo "lin_faults: FAIL ($TARGET): driver exit $RC; nemesis log and violations:" >&2
	cat "$NEM_LOG" >&2
	head -c 20000 "$TMP/driver.err" >&2
	exit 1
fi
[ $kills -ge 2 ] && [ $parts -ge 2 ] && [ $pauses -ge 1 ] ||
	{ echo "lin_faults: FAIL: too few faults injected ($kills kills, $parts partitions, $pauses pauses)" >&2; exit 1; }

# Control: the checker must reject the same history with one final read
# (client >= 256, after every other op) turned stale: it returns the value of
# an acked write W of its key although another acked write W2 began after W
# had returned. No linearization can end with W's value then.
awk '
	NR == FNR {
		if ($1 ~ /^#/ || $3 != "w" || $4 != "ok") next
		n[$2]++; inv[$2, n[$2]] = $8; ret[$2, n[$2]] = $9; val[$2, n[$2]] = $5
		next
	}
	!done && $1 !~ /^#/ && $1 >= 256 && $3 == "r" {
		k = $2
		for (a = 1; a <= n[k] && !done; a++)
			for (b = 1; b <= n[k] && !done; b++)
				if (inv[k, b] > ret[k, a] && val[k, a] != $5) {
					$5 = val[k, a]; done = 1
				}
	}
	{ print }' "$TMP/history.txt" "$TMP/history.txt" > "$TMP/history-corrupt.txt"
if cmp -s "$TMP/history.txt" "$TMP/history-corrupt.txt"; then
	echo "lin_faults: FAIL: could not build the corrupted control history" >&2
	exit 1
fi
"$DRIVER" --check "$TMP/history-corrupt.txt" >"$TMP/control.out" 2>"$TMP/control.err"
CRC=$?
if [ $CRC != 1 ]; then
	echo "lin_faults: FAIL: the checker did not reject a corrupted history (exit $CRC)" >&2
	exit 1
fi
echo "lin_faults: control: corrupted history rejected: $(head -1 "$TMP/control.out")"
echo "lin_faults: PASS ($TARGET, $kills kills, $parts partitions, $pauses pauses, $CLIENTS clients, ${DURATION}s)"
exit 0
