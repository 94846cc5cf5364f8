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
BIN=$BUILD/ctrl/sluice-ctrl
BENCH=$BUILD/perf/apic_bench
NAME=apic-bench
. "$HERE/../tests/master/lib.sh" # masters on loopback, stopped by PID at exit
MEMBERS=$(members 1 2 3)

init_pki "$MEMBERS"
export SLUICE_CONFIG=$ADMIN_CONF
for i in 1 2 3; do start "$i" "$MEMBERS"; done
L=$(wait_leader_not 0 1 2 3) || fail "no leader"
echo "apic-bench: 3 masters on loopback (leader m$L), election 500 ms, heartbeat 50 ms, $(nproc) CPUs"
"$BENCH" "$ADMIN_CONF" "$N" || fail "apic_bench failed"
