#!/usr/bin/env bash
# ring_fwd_bench: sluice-dp's forwarding rate while ring updates stream in,
# side by side with the same rig idle.
#
#   sluice-gen port0 ──memif g0──► sluice-dp --ctl ──memif g1──► sluice-gen port1
#                                       ▲
#                         ring_bench stream (plays sluice-ctrl: route and
#                         pod add/del churn on a port of its own)
#
# Rig and generator come from perf/lib.sh (the fwd-bench set-up). Each
# round runs the generator flat out for RF_DURATION seconds twice on the
# same dp: once idle, once while ring_bench streams RF_RATE commands/s
# (default 50000; RF_RATE=0 means as fast as the ring takes them, which
# stresses dp's on-demand slot reclaim). Prints rx
# Mpps and loss for both, the update rate achieved and refused, and the
# machine load: on a 2-CPU box the streamer shares a CPU with the
# generator, which is part of what is measured.
#
# Env: RF_DURATION (8 s), RF_RATE (50000), RF_ROUNDS (2), SLUICE_BUILD,
#      GEN_CPU, DUT_CPU. Run as root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DUR=${RF_DURATION:-8}
RATE=${RF_RATE:-50000}
ROUNDS=${RF_ROUNDS:-2}
BENCH=$SLUICE_BUILD/perf/ring_bench

perf_need_root ring_fwd_bench
perf_need_bin "$GEN_BIN" "$DP_BIN" "$BENCH"
perf_setup ringfwd
perf_log "machine: $(perf_load)"

printf '%-8s %-8s %10s %10s %12s %s\n' round mode "rx Mpps" "loss %" "updates/s" "refused"
for r in $(seq "$ROUNDS"); do
  perf_start_dp "r$r" --ctl "$PERF_DIR/ctl.shm"
  perf_wait_file "$PERF_DIR/ctl.shm" 10 || { tail "$PERF_DIR/dp-r$r.log" >&2; exit 1; }
  perf_run_gen "idle$r" --duration "$DUR" --size 64 --flows 16
  perf_start_gen "busy$r" --duration "$DUR" --size 64 --flows 16
  "$BENCH" stream "$PERF_DIR/ctl.shm" "$DUR" "$RATE" > "$PERF_DIR/stream$r.log" 2>&1 &
  SPID=$!; PERF_PIDS+=("$SPID")
  perf_wait_gen "busy$r"
  wait "$SPID" || { cat "$PERF_DIR/stream$r.log" >&2; exit 1; }
  perf_stop "$DUT_PID"
  for m in idle busy; do
    f=$PERF_DIR/gen-$m$r.log
    tx=$(perf_field tx_pkts "$f"); lost=$(perf_field lost "$f")
    ups=-; ref=-
    if [ $m = busy ]; then
      ups=$(sed -n 's/.* rate=\([0-9]*\) cmd.*/\1/p' "$PERF_DIR/stream$r.log")
      ref=$(sed -n 's/.* refused=\([0-9]*\).*/\1/p' "$PERF_DIR/stream$r.log")
    fi
    printf '%-8s %-8s %10s %10s %12s %s\n' "$r" "$m" "$(perf_field rx_mpps "$f")" \
      "$(awk -v l="$lost" -v t="$tx" 'BEGIN { printf "%.3f", t ? 100 * l / t : 0 }')" "$ups" "$ref"
  done
done
echo "machine during run: $(perf_load)"
