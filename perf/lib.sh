#!/usr/bin/env bash
# perf/lib.sh: shared helpers for the dataplane benchmarks (sourced, not run).
#
# Every benchmark starts what it measures, records each PID it started in
# PERF_PIDS, and kills exactly those on exit (trap perf_cleanup EXIT), so a
# benchmark never leaves a polling process behind and never touches anyone
# else's. Scratch files live in one mktemp directory, removed on exit.
#
# Environment (all optional):
#   SLUICE_BUILD   build directory holding dp/sluice-dp and perf/sluice-gen
#                  (default: build-perf, else build)
#   GEN_CPU        CPU for the generator's lcores (default 0)
#   DUT_CPU        CPU for the device under test's worker lcore (default 1)
#   CTL_CPU        CPU for the DUT's control/main lcore (default GEN_CPU)

PERF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${SLUICE_BUILD:-}" ]; then
  if [ -x "$PERF_ROOT/build-perf/perf/sluice-gen" ]; then SLUICE_BUILD=$PERF_ROOT/build-perf
  else SLUICE_BUILD=$PERF_ROOT/build; fi
fi
GEN_BIN=$SLUICE_BUILD/perf/sluice-gen
DP_BIN=$SLUICE_BUILD/dp/sluice-dp
TEL=$PERF_ROOT/tests/integration/dp_tel.py
PY=/usr/bin/python3
GEN_CPU=${GEN_CPU:-0}
DUT_CPU=${DUT_CPU:-1}
CTL_CPU=${CTL_CPU:-$GEN_CPU}
EAL_MEM=$(bash "$PERF_ROOT/scripts/eal-mem.sh")
# With hugepages, cap each process so several can share the host's pool.
[ -z "$EAL_MEM" ] && EAL_MEM="-m 256"
PERF_PIDS=()
PERF_DIR=

perf_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

perf_need_root() {
  if [ "$(id -u)" != 0 ]; then echo "$1: needs root (hugepages, memif sockets, netns)" >&2; exit 77; fi
}

perf_need_bin() { # path... ; exit 77 (meson's skip) when one is missing
  local b
  for b in "$@"; do
    [ -x "$b" ] || { echo "skip: $b not built (ninja -C $SLUICE_BUILD)" >&2; exit 77; }
  done
}

perf_setup() { # name
  bash "$PERF_ROOT/scripts/host-setup.sh" >/dev/null
  EAL_MEM=$(bash "$PERF_ROOT/scripts/eal-mem.sh"); [ -z "$EAL_MEM" ] && EAL_MEM="-m 256"
  PERF_DIR=$(mktemp -d "/tmp/sluice-$1.XXXXXX")
  trap perf_cleanup EXIT
  trap 'exit 130' INT TERM
}

perf_cleanup() {
  local p
  for p in "${PERF_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PERF_PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PERF_PIDS=()
  # DPDK leaves its runtime dir behind; ours are sp<pid><name>/sg<pid><name>.
  rm -rf /var/run/dpdk/sp$$[a-z]* /var/run/dpdk/sg$$[a-z]*
  # A process killed before its EAL cleanup leaves its hugepage files,
  # which keep the pages from every later run.
  rm -f /dev/hugepages/sp$$[a-z]* /dev/hugepages/sg$$[a-z]*
  [ -n "$PERF_DIR" ] && rm -rf "$PERF_DIR"
  PERF_DIR=
}

perf_stop() { # pid: SIGINT, wait up to 3 s, then SIGKILL
  local p=$1 i
  kill -INT "$p" 2>/dev/null || true
  for i in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=()
  for i in "${PERF_PIDS[@]}"; do [ "$i" = "$p" ] || keep+=("$i"); done
  PERF_PIDS=("${keep[@]}")
}

perf_wait_file() { # path timeout_s
  local i
  for i in $(seq $(( $2 * 10 ))); do [ -e "$1" ] && return 0; sleep 0.1; done
  return 1
}

# CPU ticks (utime + stime) of a process, from /proc/<pid>/stat fields 14-15.
# Fields are counted after the ')' closing the command name.
perf_ticks() {
  local s; s=$(cat "/proc/$1/stat") || return 1
  s=${s##*) }
  set -- $s
  echo $(( ${12} + ${13} ))
}

# CPU% of a process over a window: perf_cpu_pct pid seconds
perf_cpu_pct() {
  local hz a b; hz=$(getconf CLK_TCK)
  a=$(perf_ticks "$1"); sleep "$2"; b=$(perf_ticks "$1")
  awk -v d=$((b - a)) -v hz="$hz" -v w="$2" 'BEGIN { printf "%.1f", 100.0 * d / hz / w }'
}

perf_tsc_hz() { # from the generator's own banner, else /proc/cpuinfo's MHz
  local f=$1 ghz
  ghz=$(sed -n 's/.*TSC \([0-9.]*\) GHz.*/\1/p' "$f" 2>/dev/null | head -1)
  if [ -n "$ghz" ]; then awk -v g="$ghz" 'BEGIN { printf "%.0f", g * 1e9 }'
  else awk '/cpu MHz/ { printf "%.0f", $4 * 1e6; exit }' /proc/cpuinfo; fi
}

perf_field() { # key file: value of key= on the RESULT line
  sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p; s/^RESULT $1=\([^ ]*\).*/\1/p" "$2" | head -1
}

perf_load() { # one line describing what else runs on the machine (top, 0.5 s sample)
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, busiest: $(top -b -n2 -d0.5 -w 200 \
    | awk '/^ *PID/ { blk++; next } blk == 2 && NF >= 12 && n < 4 { printf "%s(%s%%) ", $12, $9; n++ }')"
}

# Generator MACs: the DUT routes to them (pods on memif ports).
GEN_MAC0=02:00:00:00:aa:01
GEN_MAC1=02:00:00:00:aa:02
GW_MAC=02:00:00:00:00:01
POD_A=10.77.1.2
POD_B=10.77.1.3

# Start sluice-dp with two memif server ports g0/g1 whose pods are the
# generator's two ports, so gen port 0 -> dp -> gen port 1 is pod A -> pod B.
# perf_start_dp name [extra dp args...]; sets DUT_PID and DUT_PREFIX.
perf_start_dp() {
  local name=$1; shift
  DUT_PREFIX=sp$$${name}
  cat > "$PERF_DIR/dp-$name.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "10.77.1.1", "gateway_mac": "$GW_MAC" },
  "ports": [
    { "name": "g0", "type": "memif", "socket": "$PERF_DIR/g0.sock", "role": "server", "id": 0 },
    { "name": "g1", "type": "memif", "socket": "$PERF_DIR/g1.sock", "role": "server", "id": 0 }
  ],
  "pods": [
    { "ip": "$POD_A", "mac": "$GEN_MAC0", "port": "g0" },
    { "ip": "$POD_B", "mac": "$GEN_MAC1", "port": "g1" }
  ]
}
JSON
  rm -f "$PERF_DIR/g0.sock" "$PERF_DIR/g1.sock"
  "$DP_BIN" --lcores "0@$CTL_CPU,1@$DUT_CPU" --file-prefix "$DUT_PREFIX" --no-pci $EAL_MEM \
    -- --config "$PERF_DIR/dp-$name.json" "$@" > "$PERF_DIR/dp-$name.log" 2>&1 &
  DUT_PID=$!
  PERF_PIDS+=("$DUT_PID")
  perf_wait_file "$PERF_DIR/g1.sock" 20 || { tail -20 "$PERF_DIR/dp-$name.log" >&2; return 1; }
}

# Same rig with dpdk-testpmd (io forwarding: port 0 rx -> port 1 tx) as DUT.
perf_start_testpmd() {
  local name=$1 mode=${2:-io}
  DUT_PREFIX=sp$$${name}
  rm -f "$PERF_DIR/g0.sock" "$PERF_DIR/g1.sock"
  dpdk-testpmd --lcores "0@$CTL_CPU,1@$DUT_CPU" --file-prefix "$DUT_PREFIX" --no-pci $EAL_MEM \
    --vdev="net_memif0,role=server,socket=$PERF_DIR/g0.sock,socket-abstract=no,id=0" \
    --vdev="net_memif1,role=server,socket=$PERF_DIR/g1.sock,socket-abstract=no,id=0" \
    -- --forward-mode="$mode" --nb-cores=1 --stats-period 3600 --no-mlockall \
    > "$PERF_DIR/dut-$name.log" 2>&1 &
  DUT_PID=$!
  PERF_PIDS+=("$DUT_PID")
  perf_wait_file "$PERF_DIR/g1.sock" 20 || { tail -20 "$PERF_DIR/dut-$name.log" >&2; return 1; }
}

# Start the generator against the DUT's two sockets in the background;
# output in $PERF_DIR/gen-NAME.log, PID in GEN_PID.
# perf_start_gen name [sluice-gen options...]
perf_start_gen() {
  local name=$1; shift
  "$GEN_BIN" --lcores "0@$GEN_CPU,1@$GEN_CPU" --file-prefix "sg$$${name}" --no-pci $EAL_MEM \
    --vdev="net_memif0,role=client,socket=$PERF_DIR/g0.sock,socket-abstract=no,id=0,mac=$GEN_MAC0" \
    --vdev="net_memif1,role=client,socket=$PERF_DIR/g1.sock,socket-abstract=no,id=0,mac=$GEN_MAC1" \
    -- --tx-port 0 --rx-port 1 --src-ip "$POD_A" --dst-ip "$POD_B" --dst-mac "$GW_MAC" "$@" \
    > "$PERF_DIR/gen-$name.log" 2>&1 &
  GEN_PID=$!
  PERF_PIDS+=("$GEN_PID")
}

# Wait for the generator started as NAME and check it printed its RESULT.
perf_wait_gen() { # name
  wait "$GEN_PID" || true
  local keep=() i
  for i in "${PERF_PIDS[@]}"; do [ "$i" = "$GEN_PID" ] || keep+=("$i"); done
  PERF_PIDS=("${keep[@]}")
  grep -q '^RESULT' "$PERF_DIR/gen-$1.log" || { tail -20 "$PERF_DIR/gen-$1.log" >&2; return 1; }
}

perf_run_gen() { # name [sluice-gen options...]
  perf_start_gen "$@"
  perf_wait_gen "$1"
}
