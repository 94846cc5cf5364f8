# tests/master/lib.sh: the one harness for scripts that run sluice-ctrl
# masters on loopback (tests/master, tests/api, tests/cli, perf/apic-bench).
# Source it after setting BIN (sluice-ctrl) and NAME (names the scratch
# directory and picks the port slot below); optionally MASTER_ARGS, an
# array of flags every `start` adds. It provides:
#   WORK, PKI, ADMIN_CONF    scratch dir, its pki/, the admin.conf of init
#   BASE                     port base: peers BASE+N, APIs BASE+10+N
#   peer N / api N / member N   URLs and the --members item of master N
#   members N...             the --members list of masters N...
#   init_pki MEMBERS         `sluice-ctrl init` into PKI (fails the test)
#   start N MEMBERS [ARGS..] start master N in the background (PID[N])
#   stop N                   SIGTERM master N, wait; fails on a non-0 exit
#   stop_all                 stop every running master, then no_sanitizer
#   crash N                  SIGKILL master N and reap it
#   others X N...            the N... other than X (one line)
#   no_sanitizer             fails if a master's log has a sanitizer report
#   fail MSG                 print MSG and the masters' log tails, exit 1
#   master_logs              the log tails alone (for a caller's own fail)
#   C                        curl with the admin cert (an array)
#   status N                 /cluster/status of master N
#   wait_status N FILTER     until that status passes `jq -e FILTER` (5 s)
#   wait_leader_not X N...   the leader all of N... agree on, != X (0: any)
#   put N KEY VALUE          /v3/kv/put through master N; prints revision
#   get_local N KEY          serializable read of master N's own store
#   wait_value N KEY VALUE   until get_local gives VALUE (10 s)
#   gone N KEY               until master N's store has no KEY (10 s)
# Everything started is stopped by PID and WORK removed on exit; a caller
# that starts other processes defines cleanup_extra, which runs first.
#
# Ports: BASE = 10000 + ($$ % 220) * 100 + 20 * slot, where NAME picks the
# slot, so the scripts meson runs in parallel never share a port whatever
# their PIDs, and every port stays below the kernel's ephemeral range
# (32768+) that clients and nanomsg draw their local ports from. A block
# where anything already listens (a concurrent run from another build
# directory with the same PID residue) is skipped for the next one.
set -u
WORK=$(mktemp -d "/tmp/sluice-$NAME.XXXXXX")
PKI=$WORK/pki
ADMIN_CONF=$PKI/admin.conf
declare -A PID

case $NAME in
cluster3) master_slot=0 ;;
join) master_slot=1 ;;
api) master_slot=2 ;;
cli-cluster3) master_slot=3 ;;
*) master_slot=4 ;;
esac
master_port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
master_block=$(($$ % 220))
for _ in $(seq 220); do
	BASE=$((10000 + master_block * 100 + master_slot * 20))
	master_free=1
	for master_p in 1 2 3 4 5 11 12 13 14 15 19; do
		if master_port_busy $((BASE + master_p)); then
			master_free=0
			break
		fi
	done
	[ $master_free = 1 ] && break
	master_block=$(((master_block + 1) % 220))
done

master_cleanup() {
	local i
	declare -F cleanup_extra >/dev/null && cleanup_extra
	for i in "${!PID[@]}"; do
		if [ -n "${PID[$i]}" ]; then
			kill "${PID[$i]}" 2>/dev/null
			wait "${PID[$i]}" 2>/dev/null
		fi
	done
	rm -rf "$WORK"
}
trap master_cleanup EXIT

master_logs() {
	local f
	for f in "$WORK"/m*.log; do
		[ -e "$f" ] || continue
		echo "--- $(basename "$f") (tail)"
		tail -n 15 "$f"
	done
}

fail() {
	echo "FAIL: $*"
	master_logs
	exit 1
}

peer() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
api() { echo "https://127.0.0.1:$((BASE + 10 + $1))"; }
member() { echo "$1=m$1,$(peer "$1"),$(api "$1")"; }
members() {
	local i out=""
	for i in "$@"; do out+="${out:+;}$(member "$i")"; done
	echo "$out"
}
C=(curl -s --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
b64() { printf '%s' "$1" | base64 -w0; }

init_pki() { # MEMBERS
	"$BIN" init --dir "$PKI" --members "$1" >"$WORK/init.log" 2>&1 ||
		fail "init: $(cat "$WORK/init.log")"
	[ -f "$ADMIN_CONF" ] || fail "init wrote no admin.conf"
}

start() { # N MEMBERS [extra args...]
	local n=$1 members=$2
	shift 2
	"$BIN" --role=master --name "m$n" --data-dir "$WORK/d$n" --pki-dir "$PKI" \
		--members "$members" --api-listen "127.0.0.1:$((BASE + 10 + n))" \
		--election-timeout-ms 500 --heartbeat-ms 50 --no-controllers \
		${MASTER_ARGS[@]+"${MASTER_ARGS[@]}"} "$@" >>"$WORK/m$n.log" 2>&1 &
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

# A sanitizer build (meson -Db_sanitize=...) reports into the logs.
no_sanitizer() {
	if grep -l "Sanitizer\|runtime error:" "$WORK"/m*.log; then
		grep -h -A20 "Sanitizer\|runtime error:" "$WORK"/m*.log | head -60
		fail "sanitizer report"
	fi
}

stop_all() {
	local i
	for i in "${!PID[@]}"; do
		[ -n "${PID[$i]}" ] && stop "$i"
	done
	no_sanitizer
}

crash() { # N: SIGKILL
	kill -9 "${PID[$1]}"
	wait "${PID[$1]}" 2>/dev/null
	PID[$1]=""
}

others() { # X N...
	local not=$1 i out=()
	shift
	for i in "$@"; do [ "$i" != "$not" ] && out+=("$i"); done
	echo "${out[*]}"
}

status() { "${C[@]}" "$(api "$1")/cluster/status"; }

wait_status() { # N FILTER
	for _ in $(seq 50); do
		status "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

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
