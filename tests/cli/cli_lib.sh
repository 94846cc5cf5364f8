# cli_lib.sh: helpers shared by the sluice CLI test scripts (sourced).
# Needs SLUICE (the binary) and WORK (a scratch directory); a script may
# define fail_extra() to print more context (server logs) on failure.

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/out "$WORK"/err "$WORK"/watch.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	declare -F fail_extra >/dev/null && fail_extra
	exit 1
}

# run EXPECTED_RC sluice-args...: output in $WORK/out and $WORK/err
run() {
	local want=$1
	shift
	"$SLUICE" "$@" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	[ "$rc" = "$want" ] || fail "sluice $* exited $rc, expected $want"
}

# has out|err TEXT: the last command's output contains TEXT
has() { grep -q -- "$2" "$WORK/$1" || fail "$1 of the last command lacks \"$2\""; }

# jcheck EXPR: a python expression over d, the JSON in $WORK/out
jcheck() {
	python3 -c "import json,sys; d=json.load(open('$WORK/out')); sys.exit(0 if ($1) else 1)" ||
		fail "check failed: $1"
}

# watch_until FILE TEXT: wait (5 s at most) for TEXT to appear in FILE
watch_until() {
	for _ in $(seq 100); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.05
	done
	fail "\"$2\" never appeared in $1"
}

# ---- a 3-master cluster on loopback (cli_cluster3.sh, perf/apic-bench.sh) ----
# Needs BASE (port base), WORK, CTRL (sluice-ctrl), SLUICE, and `declare -A
# PID` in the caller; peers on BASE+1..3, APIs on BASE+11..13.
peer() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
api() { echo "https://127.0.0.1:$((BASE + 10 + $1))"; }
if [ -n "${BASE:-}" ]; then
	MEMBERS="1=m1,$(peer 1),$(api 1);2=m2,$(peer 2),$(api 2);3=m3,$(peer 3),$(api 3)"
	PKI=$WORK/pki
fi
start() { # N: start master mN
	"$CTRL" --role=master --name "m$1" --data-dir "$WORK/d$1" --pki-dir "$PKI" \
		--members "$MEMBERS" --api-listen "127.0.0.1:$((BASE + 10 + $1))" \
		--election-timeout-ms 500 --heartbeat-ms 50 --no-controllers \
		>>"$WORK/m$1.log" 2>&1 &
	PID[$1]=$!
}

# Wait until `cluster status` (asked through the config) names a leader
# other than $1; prints its id.
wait_leader() {
	local not=$1
	for _ in $(seq 150); do
		local l
		l=$("$SLUICE" cluster status -o json 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader",0))' 2>/dev/null)
		if [ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != "$not" ]; then
			echo "$l"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
