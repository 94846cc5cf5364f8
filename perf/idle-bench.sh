#!/usr/bin/env bash
# idle-bench: does an idle sluice-dp give its core back?
#
#   sluice-gen ──memif g0──► sluice-dp ──memif g1──► sluice-gen
#
# Starts sluice-dp with two memif pod ports and the generator connected,
# then samples sluice-dp's CPU% (utime+stime from /proc/<pid>/stat) over a
# fixed window three times: idle before traffic, under load (generator at
# IDLE_RATE pps), and idle again after the load stops (back-off must
# re-engage). A busy-polling process shows ~100% on its worker core plus
# its control thread; the back-off target is a few %.
#
# Env: IDLE_WINDOW (5 s), IDLE_RATE (1M pps; "max" for line rate),
#      IDLE_BACKOFF_US (dp's --idle-backoff-us, default: dp's default),
#      GEN_CPU, DUT_CPU, SLUICE_BUILD. Run as root: bash perf/idle-bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WIN=${IDLE_WINDOW:-5}
RATE=${IDLE_RATE:-1M}

perf_need_root idle-bench
perf_need_bin "$GEN_BIN" "$DP_BIN"
perf_setup idle

perf_log "machine: $(perf_load)"
extra=()
[ -n "${IDLE_BACKOFF_US:-}" ] && extra=(--idle-backoff-us "$IDLE_BACKOFF_US")
perf_start_dp idle "${extra[@]}"
perf_log "sluice-dp pid $DUT_PID up; letting it settle"
sleep 2
idle1=$(perf_cpu_pct "$DUT_PID" "$WIN")
perf_log "idle: ${idle1}%"

# Load: the generator runs longer than the window; sample in the middle.
perf_start_gen load --rate "$RATE" --duration $((WIN + 4)) --flows 16
sleep 3
load=$(perf_cpu_pct "$DUT_PID" "$WIN")
perf_log "load: ${load}%"
perf_wait_gen load
sleep 1
idle2=$(perf_cpu_pct "$DUT_PID" "$WIN")
perf_log "idle after load: ${idle2}%"
kill -0 "$DUT_PID" || { echo "FAIL: sluice-dp died"; exit 1; }

echo
echo "sluice-dp CPU% over ${WIN} s windows (100% = one core; control + worker threads):"
printf '  %-22s %6s%%\n' "idle (before load)" "$idle1" "under load ($RATE pps)" "$load" "idle (after load)" "$idle2"
echo "  generator: $(grep -m1 '^RESULT' "$PERF_DIR/gen-load.log" | cut -d' ' -f2-5)"
echo "machine: $(perf_load)"
