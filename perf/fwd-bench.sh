#!/usr/bin/env bash
# fwd-bench: sluice-dp forwarding rate against the memif ceiling (testpmd).
#
#   sluice-gen port0 ──memif g0──► DUT ──memif g1──► sluice-gen port1
#   (pod A 10.77.1.2)                                (pod B 10.77.1.3)
#
# DUT is first sluice-dp (g0, g1 are memif server ports; A and B are pods
# on them with the generator's MACs, so every frame is parsed, looked up,
# TTL-decremented and L2-rewritten), then dpdk-testpmd --forward-mode=io
# on the same two sockets, same CPUs, same generator settings, same run.
# The generator sends as fast as it can for FWD_DURATION seconds, then at a
# fixed FWD_LAT_RATE for the latency figures.
#
# Prints, for each DUT: Mpps received back, loss, frames the generator
# built but the DUT's rx ring refused (at max rate: the DUT is the
# bottleneck when this is large), latency p50/p99 (at max rate mostly ring
# queueing), and the
# ratio sluice-dp/testpmd (target >= 0.80). Cycles per packet are computed
# as TSC Hz / forwarded pps, i.e. assuming the DUT worker core is 100% busy
# (it busy-polls under load); this is an upper bound when the generator,
# not the DUT, is the bottleneck (then both DUTs show similar Mpps and the
# generator reports few tx ring-full drops).
#
# Env: FWD_DURATION (10 s), FWD_SIZE (64), FWD_FLOWS (16), FWD_ROUNDS (3;
#      the DUTs alternate and each reports its median round),
#      FWD_TESTPMD_MODE (io; or mac, macswap would send frames back),
#      FWD_LAT_RATE (100k pps) and FWD_LAT_DURATION (5 s) for the latency
#      pass each round runs below the ceiling, GEN_CPU (0),
#      DUT_CPU (1), SLUICE_BUILD. Run as root: bash perf/fwd-bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DUR=${FWD_DURATION:-10}
SIZE=${FWD_SIZE:-64}
FLOWS=${FWD_FLOWS:-16}
ROUNDS=${FWD_ROUNDS:-3}
TP_MODE=${FWD_TESTPMD_MODE:-io}
LAT_RATE=${FWD_LAT_RATE:-100k}
LAT_DUR=${FWD_LAT_DURATION:-5}

perf_need_root fwd-bench
perf_need_bin "$GEN_BIN" "$DP_BIN"
command -v dpdk-testpmd >/dev/null || { echo "skip: dpdk-testpmd missing (apt-get install dpdk)" >&2; exit 77; }
perf_setup fwd

perf_log "machine: $(perf_load)"
perf_log "rig: generator on CPU $GEN_CPU, DUT worker on CPU $DUT_CPU (control lcore on CPU $CTL_CPU), ${SIZE} B, $FLOWS flows, ${DUR} s"

run_one() { # name kind
  local name=$1 kind=$2
  if [ "$kind" = dp ]; then perf_start_dp "$name"; else perf_start_testpmd "$name" "$TP_MODE"; fi
  perf_log "$name: DUT pid $DUT_PID up, generator running"
  [ "$kind" = dp ] && { $PY "$TEL" "$DUT_PREFIX" /sluice/stats > "$PERF_DIR/tel0-$name.json" 2>/dev/null || true; }
  perf_run_gen "$name" --duration "$DUR" --size "$SIZE" --flows "$FLOWS"
  perf_log "$name: $(grep -m1 '^RESULT' "$PERF_DIR/gen-$name.log" | cut -d' ' -f2-7)"
  # Latency below the ceiling: at max rate it is mostly ring queueing.
  perf_run_gen "$name-lat" --duration "$LAT_DUR" --size "$SIZE" --flows "$FLOWS" --rate "$LAT_RATE"
  if [ "$kind" = dp ]; then
    # dp's own counters, to show the frames really took the routed path.
    $PY "$TEL" "$DUT_PREFIX" /sluice/stats > "$PERF_DIR/tel-$name.json" 2>/dev/null || true
  fi
  perf_stop "$DUT_PID"
}

# Alternate the two DUTs so a change in background load hits both alike;
# each DUT's figure is the median round (by rx Mpps).
for r in $(seq "$ROUNDS"); do
  run_one "dp$r" dp
  run_one "tp$r" testpmd
done

median_run() { # kind-prefix -> name of the median round
  local n
  for n in $(seq "$ROUNDS"); do echo "$(perf_field rx_mpps "$PERF_DIR/gen-$1$n.log") $1$n"; done \
    | sort -g | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }'
}
DP_RUN=$(median_run dp)
TP_RUN=$(median_run tp)

hz=$(perf_tsc_hz "$PERF_DIR/gen-$DP_RUN.log")
printf '\nmedian of %d rounds, %d B, %d flows, %d s each\n' "$ROUNDS" "$SIZE" "$FLOWS" "$DUR"
printf '%-10s %10s %10s %10s %12s %10s %10s  %s\n' DUT "rx Mpps" "tx Mpps" "loss %" "tx-refused" "p50 us" "p99 us" "all rounds (rx Mpps)"
for kind in dp tp; do
  n=$([ $kind = dp ] && echo "$DP_RUN" || echo "$TP_RUN")
  f=$PERF_DIR/gen-$n.log
  tx=$(perf_field tx_pkts "$f"); lost=$(perf_field lost "$f")
  full=$(sed -n 's/.*ring-full drops \([0-9]*\).*/\1/p' "$f")
  all=$(for r in $(seq "$ROUNDS"); do printf '%s ' "$(perf_field rx_mpps "$PERF_DIR/gen-$kind$r.log")"; done)
  printf '%-10s %10s %10s %10s %12s %10s %10s  %s\n' "$([ $kind = dp ] && echo sluice-dp || echo testpmd)" \
    "$(perf_field rx_mpps "$f")" "$(perf_field tx_mpps "$f")" \
    "$(awk -v l="$lost" -v t="$tx" 'BEGIN { printf "%.3f", t ? 100 * l / t : 0 }')" "$full" \
    "$(perf_field lat_p50_us "$f")" "$(perf_field lat_p99_us "$f")" "$all"
done
printf '\nlatency at %s pps (same rounds), one-way through the DUT incl. generator rx/tx:\n' "$LAT_RATE"
printf '%-10s %10s %10s %10s %10s %10s\n' DUT "min us" "p50 us" "p99 us" "max us" "loss %"
for kind in dp tp; do
  n=$([ $kind = dp ] && echo "$DP_RUN" || echo "$TP_RUN")
  f=$PERF_DIR/gen-$n-lat.log
  tx=$(perf_field tx_pkts "$f"); lost=$(perf_field lost "$f")
  printf '%-10s %10s %10s %10s %10s %10s\n' "$([ $kind = dp ] && echo sluice-dp || echo testpmd)" \
    "$(perf_field lat_min_us "$f")" "$(perf_field lat_p50_us "$f")" "$(perf_field lat_p99_us "$f")" \
    "$(perf_field lat_max_us "$f")" "$(awk -v l="$lost" -v t="$tx" 'BEGIN { printf "%.3f", t ? 100 * l / t : 0 }')"
done
dp_m=$(perf_field rx_mpps "$PERF_DIR/gen-$DP_RUN.log")
tp_m=$(perf_field rx_mpps "$PERF_DIR/gen-$TP_RUN.log")
awk -v d="$dp_m" -v t="$tp_m" -v hz="$hz" -v s="$SIZE" 'BEGIN {
  r = t > 0 ? d / t : 0
  printf "\nsluice-dp / testpmd: %.1f%% (target >= 80%%) %s\n", 100 * r, (r >= 0.8 ? "OK" : "BELOW TARGET")
  if (d > 0) printf "sluice-dp cycles/packet at %d B on 1 core: %.0f (computed: TSC %.3f GHz / %.3f Mpps, DUT core assumed 100%% busy)\n", s, hz / (d * 1e6), hz / 1e9, d
  if (t > 0) printf "testpmd   cycles/packet at %d B on 1 core: %.0f (same method)\n", s, hz / (t * 1e6)
}'
# Measured cycles/packet, if sluice-dp exports its workers' busy cycles
# (a "busy_cycles" counter in /sluice/stats: TSC cycles spent in bursts
# that carried packets); otherwise only the computed figure above exists.
if [ -s "$PERF_DIR/tel0-$DP_RUN.json" ] && [ -s "$PERF_DIR/tel-$DP_RUN.json" ]; then
  $PY - "$PERF_DIR/tel0-$DP_RUN.json" "$PERF_DIR/tel-$DP_RUN.json" "$SIZE" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
if "busy_cycles" in b:
    fw = b.get("forwarded", 0) - a.get("forwarded", 0)
    cy = b["busy_cycles"] - a.get("busy_cycles", 0)
    if fw > 0:
        print("sluice-dp cycles/packet at %s B: %.0f (measured: busy_cycles from /sluice/stats / forwarded)" % (sys.argv[3], cy / fw))
PY
fi
if [ -s "$PERF_DIR/tel-$DP_RUN.json" ]; then
  echo "sluice-dp /sluice/stats ($DP_RUN, non-zero): $($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (k, v) for k, v in sorted(d.items()) if v))' "$PERF_DIR/tel-$DP_RUN.json")"
fi
echo "machine during run: $(perf_load)"
