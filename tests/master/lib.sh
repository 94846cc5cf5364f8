# tests/master/lib.sh: harness for scripts that run sluice-ctrl masters on
# loopback. Source it after setting BIN (sluice-ctrl) and NAME (used in the
# temporary directory name). It provides:
#   WORK, PKI, BASE          scratch dir, its pki/, a port base from $$
#   peer N / api N / member N   URLs and the --members item of master N
#   start N MEMBERS [ARGS..] start master N in the background (PID[N])
#   stop N                   SIGTERM master N, wait; fails on a non-0 exit
#   fail MSG                 print MSG and the masters' log tails, exit 1
#   C                        curl with the admin cert (an array)
#   status N                 /cluster/status of master N
#   wait_leader_not X N...   the leader all of N... agree on, != X (0: any)
#   put N KEY VALUE          /v3/kv/put through master N; prints revision
#   get_local N KEY          serializable read of master N's own store
#   wait_value N KEY VALUE   until get_local gives VALUE (10 s)
#   gone N KEY               until master N's store has no KEY (10 s)
# Everything started is stopped by PID and WORK removed on exit.
set -u
WORK=$(mktemp -d "/tmp/sluice-$NAME.XXXXXX")
PKI=$WORK/pki
BASE=$((20000 + ($$ % 2000) * 20))
declare -A PID

master_cleanup() {
	local i
	for i in "${!PID[@]}"; do
		if [ -n "${PID[$i]}" ]; then
			kill "${PID[$i]}" 2>/dev/null
			wait "${PID[$i]}" 2>/dev/null
		fi
	done
	rm -rf "$WORK"
}
trap master_cleanup EXIT

fail() {
	echo "FAIL: $*"
	local f
	for f in "$WORK"/m*.log; do
		[ -e "$f" ] || continue
		echo "--- $(basename "$f") (tail)"
		tail -n 15 "$f"
	done
	exit 1
}

peer() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
api() { echo "https://127.0.0.1:$((BASE + 10 + $1))"; }
member() { echo "$1=m$1,$(peer "$1"),$(api "$1")"; }
C=(curl -s --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
b64() { printf '%s' "$1" | base64 -w0; }

start() { # N MEMBERS [extra args...]
	local n=$1 members=$2
	shift 2
	"$BIN" --role=master --name "m$n" --data-dir "$WORK/d$n" --pki-dir "$PKI" \
		--members "$members" --api-listen "127.0.0.1:$((BASE + 10 + n))" \
		--election-timeout-ms 500 --heartbeat-ms 50 --no-controllers "$@" \
		>>"$WORK/m$n.log" 2>&1 &
	PID[$n]=$!
}

stop() { # N: SIGTERM, and the exit status must be 0
	local rc
	kill "${PID[$1]}"
	wait "${PID[$1]}"
	rc=$?
	PID[$1]=""
	[ $rc = 0 ] || fail "m$1 exited $rc on SIGTERM"
}

status() { "${C[@]}" "$(api "$1")/cluster/status"; }

wait_leader_not() { # X N...: the leader every N agrees on, other than X
	local not=$1 l x i
	shift
	for _ in $(seq 150); do
		l=""
		for i in "$@"; do
			x=$(status "$i" | jq -r 'select(.leader > 0) | .leader' 2>/dev/null)
			if [ -z "$x" ] || { [ -n "$l" ] && [ "$x" != "$l" ]; }; then
				l=""
				break
			fi
			l=$x
		done
		if [ -n "$l" ] && [ "$l" != "$not" ]; then
			echo "$l"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

put() { # N KEY VALUE -> revision
	"${C[@]}" -X POST -d "{\"key\":\"$(b64 "$2")\",\"value\":\"$(b64 "$3")\"}" \
		"$(api "$1")/v3/kv/put" | jq -r '.header.revision // empty'
}

get_local() { # N KEY -> value from master N's own store
	"${C[@]}" -X POST -d "{\"key\":\"$(b64 "$2")\",\"serializable\":true}" \
		"$(api "$1")/v3/kv/range" | jq -r '.kvs[0].value // empty' | base64 -d 2>/dev/null
}

wait_value() { # N KEY VALUE
	for _ in $(seq 100); do
		[ "$(get_local "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

gone() { # N KEY: the answer has a header and no kvs
	for _ in $(seq 100); do
		"${C[@]}" -X POST -d "{\"key\":\"$(b64 "$2")\",\"serializable\":true}" \
			"$(api "$1")/v3/kv/range" |
			jq -e '.header and ((.kvs // []) | length) == 0' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
