#!/usr/bin/env bash
# lb-bench: the service load balancer in sluice-dp, one worker core, memif.
#
#   sluice-gen port0 ──memif g0──► sluice-dp ──memif g1──► sluice-gen port1
#   UDP to VIP 10.96.0.10:5001       lb: ct + Maglev + NAT   backend = pod B
#                                    (--ctl; sluice-ctrl programs the service)
#
# 1. baseline: the same generator to pod B directly (no LB), max rate;
# 2. fill: LB_PASSES generator passes of 65,536 new UDP flows each (source
#    10.1.<pass>.0-255, source ports scattered over 1025-65535 by a hash of
#    the flow, as many clients' ephemeral ports are: sluice-gen --vary
#    spread; with 256 consecutive ports instead, nearly every new flow's
#    first SNAT port choice collides), so conntrack ends up tracking
#    LB_PASSES x 65,536 flows (16 -> 1,048,576; two entries each, 4M-entry
#    table); each pass sends every flow exactly once (sluice-gen --once,
#    a frame the full ring refuses is sent again) as fast as dp takes them
#    (LB_FILL_RATE, default max), so every packet is a new flow and the
#    worker is saturated with them: cycles per new flow, new flows/s/core;
# 3. established: the last pass's 65,536 flows (all conntrack hits, spread
#    over the 1M-flow table) at max rate for LB_DURATION s: Mpps and
#    cycles/packet (target <= 300);
# 4. Maglev rebuild for 1000 backends (perf/lb_bench, no EAL).
#
# Cycles/packet are measured: the worker's busy_cycles (TSC in bursts that
# carried packets, /sluice/stats) over the packets it forwarded in the same
# window; per new flow likewise over /sluice/lb new_flows.
#
# Env: LB_PASSES (16), LB_FILL_RATE (max), LB_DURATION (5 s), GEN_CPU (0),
#      DUT_CPU (1), SLUICE_BUILD. Run as root: bash perf/lb-bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PASSES=${LB_PASSES:-16}
FILL_RATE=${LB_FILL_RATE:-max}
DUR=${LB_DURATION:-5}
CTRL_BIN=$SLUICE_BUILD/ctrl/sluice-ctrl
LB_BENCH_BIN=$SLUICE_BUILD/perf/lb_bench
VIP=10.96.0.10
FLOWS=65536

perf_need_root lb-bench
perf_need_bin "$GEN_BIN" "$DP_BIN" "$CTRL_BIN"
perf_setup lb
perf_log "machine: $(perf_load)"

# 4M conntrack entries (1M flows x 2, under the 88% two-choice bound) and
# unanswered UDP flows kept for the whole run.
export SLUICE_LB_CT_CAPACITY=4194304 SLUICE_LB_UDP_NEW_TIMEOUT_MS=3600000
# perf_start_dp's rig plus NB_BE backend pods behind g1 (the generator's
# port 1 MAC): full NAT gives each backend ip:port ~64K SNAT ports, so 1M
# concurrent flows need at least 16 backends.
NB_BE=${LB_BACKENDS:-32}
DUT_PREFIX=sp$$lb
pods=""
for i in $(seq 0 $(( NB_BE - 1 ))); do
  pods+="{ \"ip\": \"10.77.1.$(( 100 + i ))\", \"mac\": \"$GEN_MAC1\", \"port\": \"g1\" },"
done
cat > "$PERF_DIR/dp-lb.json" <<JSON
{
  "node": { "pod_cidr": "10.77.1.0/24", "gateway_ip": "10.77.1.1", "gateway_mac": "$GW_MAC" },
  "ports": [
    { "name": "g0", "type": "memif", "socket": "$PERF_DIR/g0.sock", "role": "server", "id": 0 },
    { "name": "g1", "type": "memif", "socket": "$PERF_DIR/g1.sock", "role": "server", "id": 0 }
  ],
  "pods": [ $pods
    { "ip": "$POD_A", "mac": "$GEN_MAC0", "port": "g0" },
    { "ip": "$POD_B", "mac": "$GEN_MAC1", "port": "g1" }
  ]
}
JSON
"${LB_DP_WRAP:-$DP_BIN}" --lcores "0@$CTL_CPU,1@$DUT_CPU" --file-prefix "$DUT_PREFIX" --no-pci $EAL_MEM \
  -- --config "$PERF_DIR/dp-lb.json" --ctl "$PERF_DIR/seg.shm" --idle-backoff-us 1000 \
  > "$PERF_DIR/dp-lb.log" 2>&1 &
DUT_PID=$!
PERF_PIDS+=("$DUT_PID")
perf_wait_file "$PERF_DIR/g1.sock" 20 || { tail -20 "$PERF_DIR/dp-lb.log" >&2; exit 1; }
# the LB (and its 300 MB of conntrack) exists once the ring segment is up
for _ in $(seq 300); do grep -q "ctl: segment .* up" "$PERF_DIR/dp-lb.log" && break; sleep 0.1; done
grep -q "ctl: segment .* up" "$PERF_DIR/dp-lb.log" || { tail -20 "$PERF_DIR/dp-lb.log" >&2; exit 1; }
"$CTRL_BIN" --role=worker --state "$PERF_DIR/agent.json" --segment "$PERF_DIR/seg.shm" \
  --ipc "ipc://$PERF_DIR/agent.ipc" > "$PERF_DIR/ctrl.log" 2>&1 &
PERF_PIDS+=($!)
call() { "$CTRL_BIN" --ipc "ipc://$PERF_DIR/agent.ipc" --call "$1" >/dev/null; }
for _ in $(seq 50); do call '{"op":"status"}' 2>/dev/null && break; sleep 0.1; done
call '{"op":"svc.add","name":"bench","vip":"'$VIP'","port":5001,"proto":"udp"}'
bes=""
for i in $(seq 0 $(( NB_BE - 1 ))); do bes+="{\"ip\":\"10.77.1.$(( 100 + i ))\",\"port\":5001},"; done
call '{"op":"backend.set","service":"bench","backends":['"${bes%,}"']}'

snap() { # name: /sluice/stats and /sluice/lb (retried: a reply can be lost under load)
  local c f
  for c in stats lb; do
    f=$PERF_DIR/${c:0:1}-$1.json
    for _ in 1 2 3 4 5; do
      $PY "$TEL" "$DUT_PREFIX" "/sluice/$c" > "$f" 2>/dev/null && grep -q '{' "$f" && break
      sleep 0.2
    done
    grep -q '{' "$f" || { echo "lb-bench: no /sluice/$c from sluice-dp: $(cat "$f")" >&2; tail -20 "$PERF_DIR/dp-lb.log" >&2; exit 1; }
  done
}
delta() { # a b: "busy forwarded new_flows ct_entries lb_drops"
  $PY - "$PERF_DIR" "$1" "$2" <<'PY'
import json, sys
d, a, b = sys.argv[1:4]
sa, sb = (json.load(open(f"{d}/s-{x}.json")) for x in (a, b))
la, lb = (json.load(open(f"{d}/l-{x}.json")) for x in (a, b))
why = {k[5:]: sb[k] - sa[k] for k in sb if k.startswith("drop_") and k != "drop_total" and sb[k] != sa[k]}
drops = sum(v for k, v in why.items() if k.startswith("lb_"))
print(sb["busy_cycles"] - sa["busy_cycles"], sb["forwarded"] - sa["forwarded"],
      lb["new_flows"] - la["new_flows"], lb["ct_entries"], drops)
print("drops " + (" ".join("%s=%d" % kv for kv in sorted(why.items())) or "none"), file=sys.stderr)
ev = {k: lb[k] - la[k] for k in lb if k not in ("services", "backends", "ct_entries", "ct_capacity") and lb[k] != la[k]}
print("lb " + " ".join("%s=%d" % kv for kv in sorted(ev.items())), file=sys.stderr)
PY
}

# --- 1. baseline: plain forwarding, same rig ---------------------------------
snap b0
perf_run_gen base --duration "$DUR" --flows "$FLOWS" --vary both
snap b1
read -r bb bf _ _ _ <<< "$(delta b0 b1)"
hz=$(perf_tsc_hz "$PERF_DIR/gen-base.log")
perf_log "baseline: $(grep -m1 '^RESULT' "$PERF_DIR/gen-base.log" | cut -d' ' -f2-6)"

# --- 2. fill: every packet a new flow -----------------------------------------
snap f0
t0=$(date +%s.%N)
for p in $(seq 0 $(( PASSES - 1 ))); do
  perf_run_gen "fill$p" --dst-ip "$VIP" --src-ip "10.1.$p.0" --vary spread --sport $(( 1024 + p )) --flows "$FLOWS" \
    --rate "$FILL_RATE" --once --duration 20 --drain-ms 50 --link-wait 5 \
    || { tail -40 "$PERF_DIR/dp-lb.log" >&2; exit 1; }
done
t1=$(date +%s.%N)
snap f1
read -r fb ff fn fct fdrop <<< "$(delta f0 f1)"
perf_log "fill: $PASSES passes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $fn new flows, conntrack entries $fct, LB drops $fdrop"

# --- 3. established: conntrack hits over the 1M-flow table -------------------
snap e0
perf_run_gen est --dst-ip "$VIP" --src-ip "10.1.$(( PASSES - 1 )).0" --vary spread \
  --sport $(( 1024 + PASSES - 1 )) --flows "$FLOWS" \
  --duration "$DUR"
snap e1
read -r eb ef en ect edrop <<< "$(delta e0 e1)"
perf_log "established: $(grep -m1 '^RESULT' "$PERF_DIR/gen-est.log" | cut -d' ' -f2-6)"

# --- 4. Maglev rebuild ----------------------------------------------------------
maglev=""
if [ -x "$LB_BENCH_BIN" ]; then
  maglev=$("$LB_BENCH_BIN" --quick 2>&1 | grep -i "maglev build" | head -4 || true)
fi

printf '\nsluice-dp service LB, 1 worker core (CPU %s), memif, 64 B UDP, TSC %.3f GHz\n' "$DUT_CPU" \
  "$(awk -v h="$hz" 'BEGIN { print h / 1e9 }')"
awk -v bb="$bb" -v bf="$bf" -v fb="$fb" -v fn="$fn" -v eb="$eb" -v ef="$ef" -v hz="$hz" \
  -v bm="$(perf_field rx_mpps "$PERF_DIR/gen-base.log")" -v em="$(perf_field rx_mpps "$PERF_DIR/gen-est.log")" \
  -v fct="$fct" -v ect="$ect" -v edrop="$edrop" -v fdrop="$fdrop" -v passes="$PASSES" 'BEGIN {
  printf "%-44s %10s %14s\n", "", "Mpps", "cycles/packet"
  printf "%-44s %10s %14.0f\n", "baseline: pod A -> pod B (no LB)", bm, bf ? bb / bf : 0
  printf "%-44s %10s %14.0f   (target <= 300) %s\n", "LB established, " ect / 2 " flows tracked", em, ef ? eb / ef : 0, (ef && eb / ef <= 300 ? "OK" : "ABOVE TARGET")
  c = fn ? fb / fn : 0
  printf "LB new flows: %d in %d passes, %.0f cycles each (measured) = %.2f M new flows/s per core (target >= 2) %s\n", fn, passes, c, c ? hz / c / 1e6 : 0, (c && hz / c >= 2e6 ? "OK" : "BELOW TARGET")
  printf "conntrack after fill: %d entries (2 per flow); LB drops during fill %d, established %d\n", fct, fdrop, edrop
}'
[ -n "$maglev" ] && printf 'Maglev rebuild (perf/lb_bench --quick, control thread, no EAL):\n%s\n' "$maglev"
echo "how: busy_cycles (/sluice/stats, TSC in bursts that carried packets) / packets forwarded"
echo "     in the same window; new-flow cost = busy_cycles / /sluice/lb new_flows over the fill"
echo "machine during run: $(perf_load)"
