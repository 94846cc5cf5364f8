#!/usr/bin/env bash
# dp-memif: run sluice-dp with two memif server ports for an external
# generator (pktgen-dpdk, sluice-gen, testpmd) until Ctrl-C.
#
#   generator port 0 ──memif $DIR/g0.sock──► sluice-dp ──memif $DIR/g1.sock──► generator port 1
#   pod A 10.77.1.2 (MAC 02:00:00:00:aa:01)             pod B 10.77.1.3 (MAC 02:00:00:00:aa:02)
#
# The generator must be the memif *client* on both sockets, set its port
# MACs to the two pod MACs above (memif devarg mac=...), and send
# 10.77.1.2 -> 10.77.1.3 to the gateway MAC 02:00:00:00:00:01.
# Env: MEMIF_DIR (default /run/sluice/perf-memif), DUT_CPU (1), CTL_CPU (0).
# Usage: bash perf/dp-memif.sh   (prints the socket paths, then waits)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
perf_need_root dp-memif
perf_need_bin "$DP_BIN"
bash "$PERF_ROOT/scripts/host-setup.sh" >/dev/null
PERF_DIR=${MEMIF_DIR:-/run/sluice/perf-memif}
mkdir -p "$PERF_DIR"
trap 'perf_cleanup' EXIT
trap 'exit 0' INT TERM
perf_start_dp memif
echo "sluice-dp pid $DUT_PID (telemetry prefix $DUT_PREFIX) serving:"
echo "  $PERF_DIR/g0.sock  pod A $POD_A  client MAC $GEN_MAC0"
echo "  $PERF_DIR/g1.sock  pod B $POD_B  client MAC $GEN_MAC1"
echo "  gateway MAC $GW_MAC; stats: $PY $TEL $DUT_PREFIX /sluice/stats"
echo "Ctrl-C to stop."
wait "$DUT_PID"
