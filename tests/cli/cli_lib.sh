# cli_lib.sh: helpers shared by the sluice CLI test scripts (sourced).
# Needs SLUICE (the binary) and WORK (a scratch directory); a script may
# define fail_extra() to print more context (server logs) on failure. Real
# masters come from tests/master/lib.sh (source it first).

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
