#!/usr/bin/env bash
# bench_cni.sh: BENCHMARK, not a test. It is registered in no meson suite and
# asserts nothing. It prints the latency of sluice-cni ADD and DEL (p50, p99,
# max, in ms) over N pods against the fake agent. The latency counts the
# whole exec, as a runtime sees it: process start, stdin parse, the agent
# round trip over nanomsg ipc, state files and, in veth mode, netlink.
#
#   bash tests/cni/bench_cni.sh SLUICE_CNI FAKE_AGENT [N=200] [MODE=memif|veth]
#
# memif mode needs no root: there is no kernel interface, and CNI_NETNS is
# /proc/self/ns/net. veth mode needs root. It creates one node netns and N pod
# netns, all suffixed with $$, and removes them on exit.
set -u
CNI=$1 AGENT=$2 N=${3:-200} MODE=${4:-memif}
dir=$(mktemp -d /tmp/sluice-cni-bench-XXXXXX)
node=bnode-$$
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  if [ "$MODE" = veth ]; then
    for i in $(seq "$N"); do ip netns del "bpod$i-$$" 2>/dev/null; done
    ip netns del "$node" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$AGENT" "ipc://$dir/agent.ipc" "$dir/journal" > "$dir/agent.out" &
agent_pid=$!
for _ in $(seq 50); do grep -q ready "$dir/agent.out" 2>/dev/null && break; sleep 0.1; done

conf=$(printf '{"cniVersion":"1.1.0","name":"bench","type":"sluice-cni","mode":"%s","agentSocket":"ipc://%s/agent.ipc","timeoutMs":2000,"socketDir":"%s/s","deviceInfoDir":"%s/d","stateDir":"%s/st"}' \
  "$MODE" "$dir" "$dir" "$dir" "$dir")
wrap=()
if [ "$MODE" = veth ]; then
  [ "$(id -u)" = 0 ] || { echo "bench_cni: veth mode needs root" >&2; exit 2; }
  ip netns add "$node"
  for i in $(seq "$N"); do ip netns add "bpod$i-$$"; done
  wrap=(ip netns exec "$node")
fi

run() { # cmd i
  local ns=/proc/self/ns/net
  [ "$MODE" = veth ] && ns=/var/run/netns/bpod$2-$$
  echo "$conf" | "${wrap[@]}" env -i CNI_COMMAND="$1" CNI_CONTAINERID="bench$2" CNI_NETNS="$ns" \
    CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "$CNI" >/dev/null
}

measure() { # cmd -> one latency (ns) per line in $dir/$cmd
  local cmd=$1 fails=0
  : > "$dir/$cmd"
  for i in $(seq "$N"); do
    t0=$(date +%s%N)
    run "$cmd" "$i" || fails=$((fails+1))
    t1=$(date +%s%N)
    echo $((t1 - t0)) >> "$dir/$cmd"
  done
  echo "$fails"
}

report() { # cmd fails
  sort -n "$dir/$1" | awk -v cmd="$1" -v n="$N" -v fails="$2" -v mode="$MODE" '
    { v[NR] = $1 }
    END {
      p50 = v[int((NR + 1) * 0.50)]; p99 = v[int(NR * 0.99 + 0.5)]; if (p99 == "") p99 = v[NR];
      printf "sluice-cni %-7s mode=%s pods=%d  p50=%.2f ms  p99=%.2f ms  max=%.2f ms  failures=%d\n",
        cmd, mode, n, p50 / 1e6, p99 / 1e6, v[NR] / 1e6, fails
    }'
}

# VERSION touches neither the agent nor the kernel: the exec + wrapper floor.
fv=$(measure VERSION); report VERSION "$fv"
fa=$(measure ADD); report ADD "$fa"
fd=$(measure DEL); report DEL "$fd"
