#!/usr/bin/env bash
# gen-check: sluice-gen against dpdk-testpmd, the generator's own baseline.
#
#   sluice-gen port0 ──memif g0──► testpmd (io) ──memif g1──► sluice-gen port1
#
# Two passes: a fixed rate (GENCHK_RATE, default 1M pps) where nothing
# should be lost or reordered, and max rate (the memif ceiling of this
# machine with one generator core and one forwarding core). Prints both
# summaries; exits 1 if the fixed-rate pass saw reordering or duplicates
# (io forwarding never reorders, so that would be a generator bug) and
# warns if it lost more than 0.1%.
# Env: GENCHK_RATE, GENCHK_DURATION (5 s), GEN_CPU, DUT_CPU, SLUICE_BUILD.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RATE=${GENCHK_RATE:-1M}
DUR=${GENCHK_DURATION:-5}
perf_need_root gen-check
perf_need_bin "$GEN_BIN"
command -v dpdk-testpmd >/dev/null || { echo "skip: dpdk-testpmd missing" >&2; exit 77; }
perf_setup gencheck
perf_log "machine: $(perf_load)"

# A fresh testpmd per pass: Debian's testpmd 22.11 crashes when a memif
# client disconnects, so it cannot serve a second generator run.
perf_start_testpmd gc1 io
perf_run_gen fixed --duration "$DUR" --rate "$RATE" --flows 16
perf_stop "$DUT_PID"
perf_start_testpmd gc2 io
perf_run_gen max --duration "$DUR" --flows 16
perf_stop "$DUT_PID"

for n in fixed max; do
  echo; echo "== $n rate =="
  sed -n '/^sluice-gen summary/,/^RESULT/p' "$PERF_DIR/gen-$n.log"
done
echo "machine: $(perf_load)"

f=$PERF_DIR/gen-fixed.log
# Reordering and duplicates are deterministic for io forwarding; loss is
# not (a loaded machine starves the pollers), so it only warns.
if [ "$(perf_field reordered "$f")" != 0 ] || [ "$(perf_field dup "$f")" != 0 ]; then
  echo "FAIL: testpmd io forwarding reordered or duplicated frames: the generator's checks are wrong"; exit 1
fi
tx=$(perf_field tx_pkts "$f"); lost=$(perf_field lost "$f")
awk -v l="$lost" -v t="$tx" 'BEGIN { exit !(t == 0 || l * 1000 > t) }' && \
  echo "warning: fixed-rate pass lost more than 0.1% (machine load?)"
echo "gen-check: no reordering, no duplicates"
