#!/usr/bin/env bash
# ring_headless: sluice-ctrl programs sluice-dp over the rings, and either
# process can die without the other losing its mind. Topology: see
# ring_lib.sh (three pods, AF_XDP veths attached at runtime by ring
# commands, a UDP sequence-numbered stream pod a -> pod b whose losses are
# counted by the receiver).
#
# (a) ctrl SIGKILLed while the stream runs: zero loss; dp logs that it
#     forwards headless; ctrl restarted replays under a new generation and
#     the stream still loses nothing.
# (b) ctrl stopped, pod c removed from its state file meanwhile (as the
#     store would), ctrl restarted: c is swept by dp (unreachable, dp logs
#     "swept 1"), a and b untouched: zero loss for the a -> b stream.
# (c) dp SIGKILLed and restarted: ctrl notices, reprograms the new dp,
#     the stream resumes; prints the recovery time (longest silence seen
#     by the receiver, and dp start -> ctrl's replay line).
#
# Usage: ring_headless.sh /path/to/sluice-dp /path/to/sluice-ctrl
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl}
CTRL=${2:?usage: $0 sluice-dp sluice-ctrl}
source "$(dirname "$0")/ring_lib.sh"

setup_topology
pretty setup "sluice-dp --ctl, then sluice-ctrl --role=worker"
start_dp
start_ctrl
wait_logged "replayed 0 ports" ctrl 1 10
add_pods
grep -q '"dp_errors":0' "$DIR/batch.out" || { cat "$DIR/batch.out"; fail "dp refused a pod"; }
ping_ok 0 "${IPS[1]}"
ping_ok 0 "${IPS[2]}"
pretty pods "3 pods attached and reachable through ring commands"

# Events back from dp: link state and the per-second stats snapshot.
ok=
for _ in $(seq 40); do
  call '{"op":"ports"}' > "$DIR/ports.json" || true
  if python3 - "$DIR/ports.json" <<'PY'
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))["ports"]}
sys.exit(0 if p["pa"]["link"] == 1 and p["pa"]["rx_pkts"] > 0 and p["pb"]["tx_pkts"] > 0 else 1)
PY
  then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { cat "$DIR/ports.json"; fail "no LINK up / STATS events from dp for the pod ports"; }
grep -q "agent: port pa (id 1) link up" "$DIR/ctrl.log" || fail "ctrl did not log pa's link up"
pretty events "LINK up and STATS snapshots of the pod ports reached sluice-ctrl"

# --- (a) ctrl killed ---------------------------------------------------------
pretty "(a)" "SIGKILL sluice-ctrl during a 1000 pps a -> b stream"
start_stream 7001 1000 6
sleep 2
kill -KILL "$CTRL_PID"; wait "$CTRL_PID" 2>/dev/null || true; CTRL_PID=
wait_logged "sluice-ctrl gone, forwarding headless" dp 1 5
sleep 1
start_ctrl
wait_logged "agent: replayed 3 ports, 3 pods" ctrl 1 10
finish_stream 7001
[ "$(jget "$DIR/stream-7001.json" lost)" = 0 ] || fail "(a) lost packets while ctrl was dead"
[ "$(jget "$DIR/stream-7001.json" bad)" = 0 ] || fail "(a) malformed datagrams"
grep -q "sync end, generation 2: swept 0" "$DIR/dp.log" || fail "(a) replay under generation 2 should sweep nothing"
pretty "(a)" "0 lost of $(jget "$DIR/stream-7001.json" sent); replay under generation 2 swept nothing"

# --- (b) ctrl restarts without pod c ----------------------------------------------
pretty "(b)" "stop sluice-ctrl, remove pod c from its state, restart it"
start_stream 7002 1000 6
sleep 1
kill -TERM "$CTRL_PID"; wait "$CTRL_PID" 2>/dev/null || true; CTRL_PID=
python3 - "$STATE" <<'PY'
import json, os, sys
p = sys.argv[1]
s = json.load(open(p))
s["pods"] = [x for x in s["pods"] if x["name"] != "c"]
json.dump(s, open(p + ".new", "w"))
os.rename(p + ".new", p)
PY
start_ctrl
wait_logged "agent: replayed 3 ports, 2 pods" ctrl 1 10
wait_logged "sync end, generation 3: swept 1 stale" dp 1 10
finish_stream 7002
[ "$(jget "$DIR/stream-7002.json" lost)" = 0 ] || fail "(b) a -> b lost packets across the resync"
# dp's table no longer has c, and nothing sent to c arrives at c.
pods=$(tel /sluice/pods pods)
grep -q "${IPS[2]} " <<< "$pods" && fail "(b) dp still holds pod c: $pods"
grep -q "${IPS[0]} " <<< "$pods" && grep -q "${IPS[1]} " <<< "$pods" || fail "(b) dp lost a or b: $pods"
n "${PODS[2]}" python3 "$UDP" sniff eth0 7099 "$DIR/sniff-c.json" 3 &
SNIFF=$!; BG_PIDS+=($SNIFF)
sleep 0.5
n "${PODS[0]}" python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", (sys.argv[1], 7099)) for _ in range(5)]' "${IPS[2]}"
wait "$SNIFF" || true
[ "$(jget "$DIR/sniff-c.json" hits)" = 0 ] || fail "(b) datagrams to swept pod c still delivered to it"
ping_ok 0 "${IPS[1]}"
pretty "(b)" "pod c swept (gone from dp, nothing reaches it), a -> b lost 0 of $(jget "$DIR/stream-7002.json" sent)"

# --- (c) dp killed and restarted ------------------------------------------------------
pretty "(c)" "SIGKILL sluice-dp during the stream, start a new one"
start_stream 7003 1000 8
sleep 2
kill -KILL "$DP_PID"; wait "$DP_PID" 2>/dev/null || true; DP_PID=
rm -rf "/var/run/dpdk/$PREFIX"
wait_logged "died; waiting for a new one" ctrl 1 5
t0=$(date +%s%N)
start_dp
wait_logged "agent: replayed 3 ports, 2 pods" ctrl 2 20
t1=$(date +%s%N)
grep -q "replaced stale segment of dead dp" "$DIR/dp.log" || fail "(c) new dp did not report the stale segment"
finish_stream 7003
[ "$(jget "$DIR/stream-7003.json" received)" -gt 0 ] || fail "(c) nothing received"
ping_ok 0 "${IPS[1]}"
gap=$(jget "$DIR/stream-7003.json" max_gap_ms)
lost=$(jget "$DIR/stream-7003.json" lost)
pretty "(c)" "traffic resumed; dp start -> ctrl replayed: $(( (t1 - t0) / 1000000 )) ms; longest silence at the receiver: $gap ms ($lost of $(jget "$DIR/stream-7003.json" sent) lost while no dp ran)"
echo "ring_headless: recovery after dp restart: replay done $(( (t1 - t0) / 1000000 )) ms after dp start; forwarding gap $gap ms; machine load $(cut -d' ' -f1 /proc/loadavg)"
pretty done "all ring_headless checks passed"
