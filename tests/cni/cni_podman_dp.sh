#!/usr/bin/env bash
# cni_podman_dp.sh: podman 4.3 (CNI backend) runs two containers on the
# sluice network of a real node (node_lib.sh: sluice-dp + sluice-ctrl
# --role=worker in netns $NODE), and they talk through sluice-dp.
#
# podman facts this relies on (see cni_podman.sh): network_backend "cni",
# runtime runc, default_ulimits nofile 20000 / nproc 32768, private
# CONTAINERS_CONF and CONTAINERS_STORAGE_CONF (vfs), image from
# `podman import` of a busybox-static rootfs; podman runs in $NODE
# (nsenter --net) so the veth host ends land where dp takes them.
#
# Asserts: both containers get agent addresses; they ping each other and a
# 1 MiB HTTP download (busybox httpd -> wget) arrives with the same SHA-256
# while dp's `forwarded` counter moves by at least the segments it needs;
# `podman rm -f` calls DEL: the agent and dp drop the pod, and a new
# container gets the freed address back (the agent hands out the lowest
# free one); nothing is left behind.
# Usage: cni_podman_dp.sh SLUICE_DP SLUICE_CTRL SLUICE_CNI
set -u
DP=$1 CTRL=$2 CNI=$3
[ "$(id -u)" = 0 ] || { echo "cni_podman_dp: needs root"; exit 77; }
for p in podman runc busybox nsenter python3; do
  command -v "$p" >/dev/null || { echo "cni_podman_dp: $p not installed"; exit 1; }
done

NODE=pdn-$$ PREFIX=sl-pdp-$$ POD_CIDR=10.80.1.0/24 GW_IP=10.80.1.1
DIR=$(mktemp -d /tmp/sluice-pdp-XXXXXX)
. "$(dirname "$0")/node_lib.sh"
img=localhost/sluice-bb:$$ net=sl-pdp-$$
pass=0 failed=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
export CONTAINERS_CONF=$DIR/containers.conf CONTAINERS_STORAGE_CONF=$DIR/storage.conf
pm() { timeout 120 nsenter --net="/var/run/netns/$NODE" podman "$@"; }
cleanup() {
  set +e
  pm rm -f -t 0 "pa-$$" "pb-$$" "pc-$$" >/dev/null 2>&1
  pm rmi -f "$img" >/dev/null 2>&1
  node_down
  rm -rf "$DIR"
}
trap cleanup EXIT

mkdir -p "$DIR/bin" "$DIR/net.d" "$DIR/rootfs"
podman_conf "$DIR"
[storage]
driver = "vfs"
runroot = "$DIR/run"
graphroot = "$DIR/root"
EOC
cp "$CNI" "$DIR/bin/sluice-cni"
printf '{"cniVersion":"1.0.0","name":"%s","plugins":[{"type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/cni"}]}\n' \
  "$net" "$DIR" "$DIR" > "$DIR/net.d/$net.conflist"
node_up
busybox_rootfs "$DIR/rootfs"
tar -C "$DIR/rootfs" -c . | pm import - "$img" >/dev/null 2>&1
check "podman import of the busybox-static rootfs" pm image exists "$img"

pm run -d --name "pb-$$" --network "$net" "$img" \
  sh -c 'mkdir -p /www; dd if=/dev/urandom of=/www/data bs=1024 count=1024 2>/dev/null; httpd -f -p 8080 -h /www' >/dev/null \
  || fail "podman run (server)"
pm run -d --name "pa-$$" --network "$net" "$img" sleep 600 >/dev/null || fail "podman run (client)"
addr() { pm exec "$1" ip -o -4 addr show eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p'; }
agent_pods() { call '{"op":"status"}' | sed -n 's/.*"pods":\([0-9]*\).*/\1/p'; }
a_ip=$(addr "pa-$$") b_ip=$(addr "pb-$$")
check "client has an address from $POD_CIDR ($a_ip)" bash -c "[[ '$a_ip' == 10.80.1.* ]]"
check "server has an address from $POD_CIDR ($b_ip)" bash -c "[[ '$b_ip' == 10.80.1.* && '$b_ip' != '$a_ip' ]]"
check "agent holds both pods" [ "$(agent_pods)" = 2 ]

fwd0=$(dp_counter forwarded)
pinged() { pm exec "pa-$$" ping -c 3 -W 2 "$b_ip" | grep -q ' 3 packets received'; }
check "client pings server through sluice-dp" pinged
for _ in $(seq 20); do pm exec "pb-$$" sh -c '[ -s /www/data ]' && break; sleep 0.2; done
pm exec "pa-$$" wget -q -O /tmp/got "http://$b_ip:8080/data" >/dev/null 2>&1
sent=$(pm exec "pb-$$" sha256sum /www/data | cut -d' ' -f1)
got=$(pm exec "pa-$$" sha256sum /tmp/got | cut -d' ' -f1)
same_sum() { [ -n "$sent" ] && [ "$sent" = "$got" ]; }
check "1 MiB over HTTP/TCP arrives intact (sha256 ${sent:0:12})" same_sum
fwd1=$(dp_counter forwarded)
# 1 MiB is at least 725 full-size segments one way, plus the ACKs back.
check "dp forwarded the transfer ($((fwd1 - fwd0)) packets)" [ $((fwd1 - fwd0)) -ge 725 ]

pm rm -f -t 0 "pb-$$" >/dev/null
check "podman rm called DEL: the agent holds one pod" [ "$(agent_pods)" = 1 ]
dp_lacks_b() {
  for _ in $(seq 30); do
    python3 "$NODE_ROOT/tests/integration/dp_tel.py" "$PREFIX" /sluice/pods | grep -q "\"$b_ip " || return 0
    sleep 0.1
  done
  return 1
}
check "dp dropped the removed pod" dp_lacks_b
pm run -d --name "pc-$$" --network "$net" "$img" sleep 600 >/dev/null || fail "podman run (third)"
c_ip=$(addr "pc-$$")
check "the freed address is handed out again ($c_ip)" [ "$c_ip" = "$b_ip" ]
pm rm -f -t 0 "pa-$$" "pc-$$" >/dev/null
check "all pods released" [ "$(agent_pods)" = 0 ]
check "no veth host end left in the node" bash -c "! ip -n $NODE -o link | grep -q ': sl[0-9a-f]\{12\}@'"

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
