#!/bin/bash
# sched_e2e.sh: end-to-end scheduler benchmark (perf suite, never in the
# default run). Starts 1 and then 3 sluice-ctrl masters on loopback with
# --no-controllers, so the only scheduler is the orch that
# `sched_bench e2e` runs in process, and prints its figures:
#
#   masters (loopback, Raft, fsync) <--HTTPS-- sched_bench e2e
#                                              (fake agents: Node + Lease
#                                               objects; orch in process)
#
# usage: sched_e2e.sh [NODES] [PODS]   (default 1000 10000)
# env:   SLUICE_BUILD (build dir), SCHED_E2E_MASTERS ("1 3" by default)
set -u
B=${SLUICE_BUILD:?set SLUICE_BUILD to the build directory}
NODES=${1:-1000}
PODS=${2:-10000}
WORK=$(mktemp -d /tmp/sluice-sched-e2e.XXXXXX)
BASE=$((10000 + ($$ % 1100) * 20))
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT

run() { # $1 = number of masters
	local n=$1 dir=$WORK/c$1 members="" i
	mkdir -p "$dir"
	for i in $(seq "$n"); do
		members+="${members:+;}$i=m$i,tcp://127.0.0.1:$((BASE + i)),https://127.0.0.1:$((BASE + 10 + i))"
	done
	"$B/ctrl/sluice-ctrl" init --dir "$dir/pki" --members "$members" >/dev/null || return 1
	for i in $(seq "$n"); do
		"$B/ctrl/sluice-ctrl" --role=master --name "m$i" --data-dir "$dir/d$i" \
			--pki-dir "$dir/pki" --members "$members" \
			--api-listen "127.0.0.1:$((BASE + 10 + i))" --no-controllers \
			>"$dir/m$i.log" 2>&1 &
		PIDS+=($!)
	done
	for _ in $(seq 100); do
		curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
			--key "$dir/pki/admin.key" "https://127.0.0.1:$((BASE + 11))/readyz" \
			>/dev/null && break
		sleep 0.1
	done
	echo "sched_e2e: $n master(s), $NODES nodes, $PODS pods (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	"$B/perf/sched_bench" e2e --config "$dir/pki/admin.conf" --nodes "$NODES" --pods "$PODS"
	local rc=$?
	cleanup
	BASE=$((BASE + 100))
	return $rc
}

rc=0
for m in ${SCHED_E2E_MASTERS:-1 3}; do
	run "$m" || rc=1
done
exit $rc
