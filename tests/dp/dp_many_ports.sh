#!/usr/bin/env bash
# dp_many_ports: a node's worth of AF_XDP pods in one sluice-dp.
#
#   netns mpa-$$ (pod 1)  netns mpb-$$ (pod 2)  ...  netns mpy-$$ (pod N-1)  netns mpz-$$ (pod N)
#   eth0 10.83.0.2        eth0 10.83.0.3              eth0 ...               eth0 10.83.0.(N+1)
#        | veth                | veth                      | veth                 | veth
#   mp1-$$                mp2-$$      mp3-$$ .. mp(N-2)-$$     mp(N-1)-$$           mpN-$$
#        |                     |      (pod ends in netns       |                    |
#        +---------------------+------ mpr-$$, no address) ----+--------------------+
#                                      |
#   netns mpn-$$ (the node): sluice-dp (AF_XDP on every mpI-$$, tap host path)
#                            sluice-ctrl --role=worker (ports and pods via --call batch)
#
# Asserts: N af_xdp ports and N pods attached through two batch calls
# (every op ok, dp's /sluice/pods count == N, /sluice/ports lists them all
# as af_xdp, not the af_packet fallback); ping between pods 1 <-> 2,
# 1 <-> N and N-1 <-> N crosses dp (first and last port); one port more
# than the DPDK build holds is refused with a reason naming the limit and
# dp keeps forwarding; everything detaches (pods 0, ports 1: the tap);
# SIGTERM gives exit 0 and no sluice-dp of ours is left.
#
# N is 110 (Kubernetes' default max pods per node), capped by the ethdev
# ports of the installed DPDK (RTE_MAX_ETHPORTS, minus the tap): Debian's
# 22.11 build has 32, so this runs 31 pods there and says so.
#
# Usage: dp_many_ports.sh SLUICE_DP SLUICE_CTRL [N=110]
set -euo pipefail

DP=${1:?usage: $0 SLUICE_DP SLUICE_CTRL [N]}
CTRL=${2:?usage: $0 SLUICE_DP SLUICE_CTRL [N]}
WANT=${3:-110}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

NODE=mpn-$$ REST=mpr-$$ PREFIX=sl-mp-$$ POD_CIDR=10.83.0.0/16 GW_IP=10.83.0.1
DIR=$(mktemp -d /tmp/dp_many_ports.XXXXXX)
. "$ROOT/tests/cni/node_lib.sh"
PODNS=()
T0=$(date +%s)

pretty() { echo -e "\x1b[32m\x1b[1m[+] ${1}:\x1b[0m ${2}"; }
cleanup() {
  set +e
  node_down
  for ns in "${PODNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  ip netns del "$REST" 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT

# The ethdev table of the DPDK build is the hard bound: one is the tap.
MAXETH=
for d in $(pkg-config --cflags-only-I libdpdk 2>/dev/null); do
  f=${d#-I}/rte_build_config.h
  [ -f "$f" ] && MAXETH=$(sed -n 's/^#define RTE_MAX_ETHPORTS \([0-9]*\).*/\1/p' "$f") && break
done
MAXETH=${MAXETH:-32}
N=$WANT
[ "$N" -gt $((MAXETH - 1)) ] && N=$((MAXETH - 1))
[ "$N" -ge 4 ] || fail "need at least 4 pods, DPDK holds $MAXETH ethdevs"
pretty setup "$N pods (wanted $WANT; this DPDK has RTE_MAX_ETHPORTS=$MAXETH)"

ipof() { echo "10.83.$(( ($1 + 1) / 256 )).$(( ($1 + 1) % 256 ))"; }
macof() { printf '02:00:00:83:%02x:%02x' $(( $1 / 256 )) $(( $1 % 256 )); }
# Pods that ping get a netns each; the others share one, unaddressed.
nsof() {
  case $1 in
    1) echo mpa-$$ ;; 2) echo mpb-$$ ;; $((N - 1))) echo mpy-$$ ;; "$N") echo mpz-$$ ;;
    *) echo "$REST" ;;
  esac
}

node_up
ip netns add "$REST"
for i in 1 2 $((N - 1)) "$N"; do ns=$(nsof "$i"); ip netns add "$ns"; PODNS+=("$ns"); done
# ip -batch: 110 veths in one process each for the node and the pods.
{
  for i in $(seq "$N"); do
    echo "link add mp$i-$$ type veth peer name mpp$i-$$ netns $(nsof "$i")"
    echo "link set mp$i-$$ up"
  done
} | ip -n "$NODE" -batch - || fail "creating $N veths"
for i in $(seq "$N"); do
  ns=$(nsof "$i")
  if [ "$ns" = "$REST" ]; then
    echo "link set mpp$i-$$ up"
  fi
done | ip -n "$REST" -batch -
for i in 1 2 $((N - 1)) "$N"; do
  ns=$(nsof "$i")
  ip -n "$ns" link set "mpp$i-$$" name eth0
  ip -n "$ns" link set eth0 address "$(macof "$i")" up
  ip -n "$ns" addr add "$(ipof "$i")/16" dev eth0
  ip -n "$ns" route add default via "$GW_IP"
  ip -n "$ns" neigh add "$GW_IP" lladdr 02:00:00:00:00:01 dev eth0
done

# Ports, then pods: one batch call each.
ops() { # kind
  local sep=""
  printf '{"op":"batch","ops":['
  for i in $(seq "$N"); do
    if [ "$1" = port ]; then
      printf '%s{"op":"port_add","name":"mp%d","kind":"af_xdp","ifname":"mp%d-%d"}' "$sep" "$i" "$i" "$$"
    else
      printf '%s{"op":"pod_add","name":"mp/%d","ip":"%s","mac":"%s","port":"mp%d"}' "$sep" "$i" "$(ipof "$i")" "$(macof "$i")" "$i"
    fi
    sep=,
  done
  printf ']}'
}
t=$(date +%s%N)
call "$(ops port)" > "$DIR/ports.json" || fail "port_add batch: $(head -c 600 "$DIR/ports.json")"
t_ports=$(( ($(date +%s%N) - t) / 1000000 ))
call "$(ops pod)" > "$DIR/pods.json" || fail "pod_add batch: $(head -c 600 "$DIR/pods.json")"
okc=$(grep -o '"ok":true' "$DIR/ports.json" | wc -l)
[ "$okc" -ge $((N + 1)) ] || fail "only $((okc - 1)) of $N port_add ops ok"
pretty attach "$N af_xdp ports in $t_ports ms ($(( t_ports / N )) ms each, one batch)"

tel() { python3 "$ROOT/tests/integration/dp_tel.py" "$PREFIX" "$@"; }
cnt=$(tel /sluice/pods --get count)
[ "$cnt" = "$N" ] || fail "dp holds $cnt pods, want $N"
nx=$(tel /sluice/ports | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for k, v in d.items() if k.endswith("/type") and k.startswith("mp") and v == "af_xdp"))')
[ "$nx" = "$N" ] || fail "/sluice/ports lists $nx af_xdp pod ports, want $N"
pretty pods "dp holds $cnt pods on $nx af_xdp ports"
# Figure: DPDK heap in use with N af_xdp ports (mbuf pools dominate).
heap=$(tel /eal/heap_info,0 --get Alloc_size 2>/dev/null || echo 0)
pretty memory "DPDK heap in use with $N af_xdp ports: $(( heap / 1048576 )) MiB"

pingok() { # from to
  n "$(nsof "$1")" ping -c 2 -i 0.2 -W 2 -q "$(ipof "$2")" > /dev/null ||
    fail "ping pod $1 -> pod $2 ($(ipof "$2"))"
}
fwd0=$(dp_counter forwarded)
pingok 1 2; pingok 2 1; pingok 1 "$N"; pingok "$N" 1; pingok $((N - 1)) "$N"
fwd1=$(dp_counter forwarded)
# 5 pings x 2 requests x (request + reply), all through dp
[ $((fwd1 - fwd0)) -ge 20 ] || fail "dp forwarded $((fwd1 - fwd0)) packets for 20 ping packets"
pretty ping "1<->2, 1<->$N, $((N - 1))->$N through dp ($((fwd1 - fwd0)) forwarded)"

# One port beyond the ethdev table: refused with the reason, dp unharmed.
if [ "$N" -lt "$WANT" ]; then
  ip -n "$NODE" link add "mpx-$$" type veth peer name "mpxp-$$"
  ip -n "$NODE" link set "mpx-$$" up
  ip -n "$NODE" link set "mpxp-$$" up
  if call "{\"op\":\"port_add\",\"name\":\"mpx\",\"kind\":\"af_xdp\",\"ifname\":\"mpx-$$\"}" > "$DIR/over.json"; then
    fail "port $((N + 1)) accepted beyond RTE_MAX_ETHPORTS=$MAXETH"
  fi
  grep -q "RTE_MAX_ETHPORTS" "$DIR/over.json" "$DIR/dp.log" ||
    fail "over-limit refusal does not name the limit: $(cat "$DIR/over.json")"
  pingok 1 "$N"
  pretty limit "port $((N + 1)) refused naming RTE_MAX_ETHPORTS=$MAXETH; dp still forwards"
fi

# Detach everything.
dops() {
  local sep=""
  printf '{"op":"batch","ops":['
  for i in $(seq "$N"); do printf '%s{"op":"pod_del","name":"mp/%d"}' "$sep" "$i"; sep=,; done
  for i in $(seq "$N"); do printf ',{"op":"port_del","name":"mp%d"}' "$i"; done
  printf ']}'
}
call "$(dops)" > "$DIR/del.json" || fail "delete batch: $(head -c 600 "$DIR/del.json")"
cnt=$(tel /sluice/pods --get count)
[ "$cnt" = 0 ] || fail "dp still holds $cnt pods after the deletes"
np=$(tel /sluice/ports | python3 -c '
import json, sys
print(sum(1 for k in json.load(sys.stdin) if k.endswith("/type")))')
[ "$np" = 1 ] || fail "dp still has $np ports after the deletes, want 1 (the tap)"
pretty detach "all $N pods and ports gone; the tap remains"

# Clean exit, no process of ours left.
kill -TERM "$CTRL_PID"; wait "$CTRL_PID" 2>/dev/null || true; CTRL_PID=
kill -TERM "$DP_PID"
rc=0; wait "$DP_PID" || rc=$?
pid=$DP_PID; DP_PID=
[ "$rc" = 0 ] || fail "sluice-dp exited $rc on SIGTERM"
! kill -0 "$pid" 2>/dev/null || fail "sluice-dp $pid still running"
pretty done "$(( $(date +%s) - T0 )) s"
echo "1 passed, 0 failed"
