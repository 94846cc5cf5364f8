#!/usr/bin/env bash
# apic-bench.sh: the API client (ctrl/apic.h) against 3 sluice masters on
# loopback (controllers off). perf/apic_bench prints, per row, requests/s,
# p50 and p99 of one closed-loop client: GETs over one keep-alive
# connection (linearizable and serializable), GETs with a new TLS
# connection each, pod creates (Raft commit), and the delay from a create
# to its watch event. Starts and stops everything itself (by PID).
#
# Usage: apic-bench.sh [N]   (requests per row, default 500)
# Env: SLUICE_BUILD (build dir)
set -u
case ${1:-} in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
N=${1:-500}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${SLUICE_BUILD:-$HERE/../build}
CTRL=$BUILD/ctrl/sluice-ctrl
SLUICE=$BUILD/ctrl/sluice
BENCH=$BUILD/perf/apic_bench
WORK=$(mktemp -d /tmp/sluice-apic-bench.XXXXXX)
BASE=$((42000 + ($$ % 500) * 20))
declare -A PID

cleanup() {
	for i in 1 2 3; do
		[ -n "${PID[$i]:-}" ] && { kill "${PID[$i]}" 2>/dev/null; wait "${PID[$i]}" 2>/dev/null; }
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
. "$HERE/../tests/cli/cli_lib.sh"

"$CTRL" init --dir "$PKI" --members "$MEMBERS" >"$WORK/init.log" 2>&1 || fail "init failed"
export SLUICE_CONFIG=$PKI/admin.conf
for i in 1 2 3; do start $i; done
L=$(wait_leader 0) || fail "no leader"
echo "apic-bench: 3 masters on loopback (leader m$L), election 500 ms, heartbeat 50 ms, $(nproc) CPUs"
"$BENCH" "$PKI/admin.conf" "$N" || fail "apic_bench failed"
