#!/usr/bin/env bash
# cni_podman.sh: sluice-cni driven by a real runtime, podman 4.3 with its CNI
# backend, against the fake agent. Skips (77) when podman, runc or
# busybox-static is not installed.
#
#   +------------------ node-$$ (podman runs here via nsenter --net) -----------+
#   |  sl<12 hex> host end  ===veth===  eth0 in podman's pod netns (10.22.x/16) |
#   +---------------------------------------------------------------------------+
#   fake agent on ipc://$dir/agent.ipc; every podman file is private under $dir.
#
# podman facts this relies on (4.3): network_backend="cni", runtime runc,
# default_ulimits nofile 20000 / nproc 32768, private CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF (vfs), image made with `podman import` from a
# busybox-static rootfs. podman sends lower-case portMappings.
#
# Asserts: `podman run --rm -p` gives eth0 the agent's address and a default
# route, the agent got one cni.add carrying the port mapping and then one
# cni.del; a detached container keeps its host end while it runs and loses it
# on `podman rm -f`; a memif network writes the NPWG device-info file during
# the container's life and removes it after; nothing is left behind.
# Usage: cni_podman.sh SLUICE_CNI FAKE_AGENT
set -u
CNI=$1
AGENT=$2
if [ "$(id -u)" != 0 ]; then echo "cni_podman: needs root"; exit 77; fi
for p in podman runc busybox nsenter; do
  command -v "$p" >/dev/null || { echo "cni_podman: $p not installed, skipping"; exit 77; }
done
file -L "$(command -v busybox)" 2>/dev/null | grep -q dynamic && { echo "cni_podman: busybox is not static"; exit 77; }

node=node-$$ img=localhost/sluice-bb:$$ ctr=sl-ctr-$$
dir=$(mktemp -d /tmp/sluice-cni-podman-XXXXXX)
agent_pid=
pass=0 fail=0
export CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf
. "$(dirname "$0")/node_lib.sh" # podman_conf
pm() { timeout 120 nsenter --net="/var/run/netns/$node" podman "$@"; }
cleanup() {
  pm rm -f -t 0 "$ctr" >/dev/null 2>&1
  pm rmi -f "$img" >/dev/null 2>&1
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  ip netns del "$node" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

mkdir -p "$dir/bin" "$dir/net.d" "$dir/rootfs/bin"
podman_conf "$dir"
[storage]
driver = "vfs"
runroot = "$dir/run"
graphroot = "$dir/root"
EOC
cp "$(command -v busybox)" "$dir/rootfs/bin/busybox"
for c in sh ip cat sleep ls; do ln -s busybox "$dir/rootfs/bin/$c"; done
cp "$CNI" "$dir/bin/sluice-cni"
for mode in veth memif; do
  printf '{"cniVersion":"1.0.0","name":"sl-%s-%s","plugins":[{"type":"sluice-cni","mode":"%s","agentSocket":"ipc://%s/agent.ipc","stateDir":"%s/state","socketDir":"%s/sock","deviceInfoDir":"%s/devinfo","capabilities":{"portMappings":true}}]}\n' \
    "$mode" "$$" "$mode" "$dir" "$dir" "$dir" "$dir" > "$dir/net.d/sl-$mode.conflist"
done
ip netns add "$node"
ip -n "$node" link set lo up

"$AGENT" "ipc://$dir/agent.ipc" "$dir/journal" > "$dir/agent.out" &
agent_pid=$!
for _ in $(seq 50); do grep -q ready "$dir/agent.out" 2>/dev/null && break; sleep 0.1; done

tar -C "$dir/rootfs" -c . | pm import - "$img" >/dev/null 2>&1
check "podman import of the busybox-static rootfs" pm image exists "$img"

# 1. run --rm with a port mapping
out=$(pm run --rm --network "sl-veth-$$" -p 18080:80 "$img" sh -c 'ip -o addr show eth0; ip route')
check "eth0 has an agent address" grep -q 'inet 10\.22\.0\.[0-9]*/16' <<<"$out"
check "default route via 10.22.0.1" grep -q 'default via 10.22.0.1 dev eth0' <<<"$out"
check "agent got one cni.add with the port mapping" [ "$(grep -c "^add sl-veth-$$ .* veth ports=1" "$dir/journal")" = 1 ]
check "agent got the matching cni.del" [ "$(grep -c "^del sl-veth-$$ " "$dir/journal")" = 1 ]
check "no attachment record left" [ "$(ls "$dir/state/att" 2>/dev/null | wc -l)" = 0 ]

# 2. detached container: host end lives with it
pm run -d --name "$ctr" --network "sl-veth-$$" "$img" sleep 60 >/dev/null
check "host end exists while the container runs" bash -c "ip -n $node -o link | grep -q ': sl[0-9a-f]\{12\}@'"
check "podman exec sees the address" bash -c "CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF nsenter --net=/var/run/netns/$node podman exec $ctr ip -o addr show eth0 | grep -q 'inet 10.22.0'"
pm rm -f -t 0 "$ctr" >/dev/null
check "host end gone after podman rm -f" bash -c "! ip -n $node -o link | grep -q ': sl'"

# 3. memif network: device-info file during the container's life only
pm run -d --name "$ctr" --network "sl-memif-$$" "$img" sleep 60 >/dev/null
check "device-info written while the container runs" bash -c "grep -q '\"type\": \"memif\"' $dir/devinfo/sl-memif-$$-*-eth0-device.json"
check "device-info names the socket under socketDir" bash -c "grep -q '\"path\": \"$dir/sock/sl' $dir/devinfo/sl-memif-$$-*-eth0-device.json"
pm rm -f -t 0 "$ctr" >/dev/null
check "device-info removed after" bash -c "! ls $dir/devinfo/*.json"
check "agent released both networks' attachments" [ "$(grep -c '^add ' "$dir/journal")" = "$(grep -c '^del ' "$dir/journal")" ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
