#!/usr/bin/env bash
# cni_netns.sh: sluice-cni's veth attachment against a real kernel.
#
#   +------------------- node-$$ ------------------+      +---- pod-$$ -----+
#   | sluice-cni runs here (ip netns exec)         |      |                 |
#   | slXXXXXXXXXXXX (host end, dp would take it) =========== eth0          |
#   |   10.22.0.1/16 added by this test to answer  |      |   10.22.0.2/16  |
#   +----------------------------------------------+      | default via .1  |
#   fake agent on ipc://$dir/agent.ipc (filesystem, any netns)  +-----------+
#
# Asserts: ADD creates eth0 inside pod-$$ with the allocated address and a
# default route via the gateway, the pair carries packets (ping the host
# end from the pod), CHECK passes and then fails once the address is
# removed, DEL removes both ends, DEL again and DEL after the netns is gone
# both succeed. Usage: cni_netns.sh SLUICE_CNI FAKE_AGENT
set -u
CNI=$1
AGENT=$2
if [ "$(id -u)" != 0 ]; then echo "cni_netns: needs root"; exit 77; fi

node=node-$$ pod=pod-$$ pod2=pod2-$$
dir=$(mktemp -d /tmp/sluice-cni-netns-XXXXXX)
agent_pid=
pass=0 fail=0
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  ip netns del "$pod" 2>/dev/null; ip netns del "$pod2" 2>/dev/null; ip netns del "$node" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

ip netns add "$node"; ip netns add "$pod"; ip netns add "$pod2"
ip -n "$node" link set lo up

"$AGENT" "ipc://$dir/agent.ipc" "$dir/journal" > "$dir/agent.out" &
agent_pid=$!
for _ in $(seq 50); do grep -q ready "$dir/agent.out" 2>/dev/null && break; sleep 0.1; done

conf() { # version
  printf '{"cniVersion":"%s","name":"sl-int","type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":1000,"stateDir":"%s/state","mtu":1400%s}' \
    "$1" "$dir" "$dir" "${2:-}"
}
cni() { # command netns-path container-id version [extra]
  echo "$(conf "$4" "${5:-}")" | ip netns exec "$node" env -i CNI_COMMAND="$1" CNI_NETNS="$2" \
    CNI_CONTAINERID="$3" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin \
    CNI_ARGS="K8S_POD_NAME=p$$;K8S_POD_NAMESPACE=default" "$CNI"
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# The plugin's own netns is never a pod netns in veth mode.
out=$(cni ADD "/var/run/netns/$node" "own-$$" 1.1.0); rc=$?
check "ADD into the plugin's own netns fails" [ "$rc" != 0 ]
check "... with code 4" [ "$(echo "$out" | jget 'd["code"]')" = 4 ]

# ADD
res=$(cni ADD "/var/run/netns/$pod" "ctr-$$" 1.1.0); rc=$?
check "ADD exits 0" [ "$rc" = 0 ]
addr=$(echo "$res" | jget 'd["ips"][0]["address"]')
hostif=$(echo "$res" | jget 'd["interfaces"][0]["name"]')
check "result ips[0] is pod eth0's (interface index 1)" [ "$(echo "$res" | jget 'd["ips"][0]["interface"]')" = 1 ]
check "result sandbox is the netns" [ "$(echo "$res" | jget 'd["interfaces"][1]["sandbox"]')" = "/var/run/netns/$pod" ]
check "eth0 exists in pod netns" ip -n "$pod" link show eth0
check "eth0 is up with mtu 1400" bash -c "ip -n $pod link show eth0 | grep -q 'mtu 1400.*state UP'"
check "eth0 has $addr" bash -c "ip -n $pod -o addr show dev eth0 | grep -q 'inet $addr'"
check "default route via 10.22.0.1 dev eth0" bash -c "ip -n $pod route show default | grep -q 'default via 10.22.0.1 dev eth0'"
# sluice-dp does not complete L4 checksums: the plugin turns tx offload off.
check "eth0 tx checksumming off" bash -c "ip netns exec $pod ethtool -k eth0 | grep -q '^tx-checksumming: off'"
check "lo is up in pod" bash -c "ip -n $pod link show lo | grep -q UP"
check "host end $hostif exists in node netns" ip -n "$node" link show "$hostif"
check "pod mac in result matches kernel" [ "$(echo "$res" | jget 'd["interfaces"][1]["mac"]')" = "$(ip -n "$pod" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')" ]

# Packets cross the pair: stand in for dp by putting the gateway address on the host end.
ip -n "$node" addr add 10.22.0.1/16 dev "$hostif"
check "pod reaches the gateway over the veth" ip netns exec "$pod" ping -c 1 -W 2 10.22.0.1

# CHECK, then break the pod and CHECK again
cni CHECK "/var/run/netns/$pod" "ctr-$$" 1.1.0 ",\"prevResult\":$(echo "$res" | tr -d '\n')" >/dev/null; rc=$?
check "CHECK passes" [ "$rc" = 0 ]
ip -n "$pod" addr del "$addr" dev eth0
out=$(cni CHECK "/var/run/netns/$pod" "ctr-$$" 1.1.0 ",\"prevResult\":$(echo "$res" | tr -d '\n')"); rc=$?
check "CHECK fails after the address is removed" [ "$rc" != 0 ]
check "CHECK error names the address" bash -c "echo '$out' | grep -q 'lacks address'"

# duplicate ADD is refused and does not touch the existing pair
out=$(cni ADD "/var/run/netns/$pod" "ctr-$$" 1.1.0); rc=$?
check "duplicate ADD fails" [ "$rc" != 0 ]
check "duplicate ADD left the host end" ip -n "$node" link show "$hostif"

# DEL, DEL again
cni DEL "/var/run/netns/$pod" "ctr-$$" 1.1.0 >/dev/null; rc=$?
check "DEL exits 0" [ "$rc" = 0 ]
check "host end gone" bash -c "! ip -n $node link show $hostif 2>/dev/null"
check "pod eth0 gone" bash -c "! ip -n $pod link show eth0 2>/dev/null"
cni DEL "" "ctr-$$" 1.1.0 >/dev/null; rc=$?
check "second DEL (empty CNI_NETNS) exits 0" [ "$rc" = 0 ]

# 0.3.1 ADD, then the netns disappears before DEL
res=$(cni ADD "/var/run/netns/$pod2" "ctr2-$$" 0.3.1); rc=$?
check "ADD 0.3.1 exits 0" [ "$rc" = 0 ]
check "0.3.1 result has ips[].version" [ "$(echo "$res" | jget 'd["ips"][0]["version"]')" = 4 ]
ip netns del "$pod2"
cni DEL "/var/run/netns/$pod2" "ctr2-$$" 0.3.1 >/dev/null; rc=$?
check "DEL after netns deleted exits 0" [ "$rc" = 0 ]
check "no sl* interface left in node netns" bash -c "! ip -n $node -o link | grep -q ' sl'"

# GC in veth mode: only the listed attachment keeps its pair.
ip netns add "$pod2"
resa=$(cni ADD "/var/run/netns/$pod" "gca-$$" 1.1.0)
resb=$(cni ADD "/var/run/netns/$pod2" "gcb-$$" 1.1.0)
hosta=$(echo "$resa" | jget 'd["interfaces"][0]["name"]')
hostb=$(echo "$resb" | jget 'd["interfaces"][0]["name"]')
echo "$(conf 1.1.0 ",\"cni.dev/valid-attachments\":[{\"containerID\":\"gca-$$\",\"ifname\":\"eth0\"}]")" |
  ip netns exec "$node" env -i CNI_COMMAND=GC CNI_PATH=/opt/cni/bin "$CNI" >/dev/null; rc=$?
check "GC exits 0" [ "$rc" = 0 ]
check "GC kept the valid attachment's host end" ip -n "$node" link show "$hosta"
check "GC removed the other host end" bash -c "! ip -n $node link show $hostb 2>/dev/null"
check "GC removed the other pod's eth0" bash -c "! ip -n $pod2 link show eth0 2>/dev/null"
cni DEL "/var/run/netns/$pod" "gca-$$" 1.1.0 >/dev/null
check "no sl* interface left after GC + DEL" bash -c "! ip -n $node -o link | grep -q ' sl'"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
