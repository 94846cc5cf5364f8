#!/usr/bin/env bash
# cni_containerd.sh: containerd 1.6 puts containers on the sluice network
# with `ctr run --cni`, and they talk through sluice-dp.
#
#   private mount namespace (unshare -m): /etc/cni/net.d, /usr/lib/cni and
#   /opt/cni/bin are this test's own directories, so ctr finds sluice-cni and
#   the host's CNI configuration is never read or touched.
#     containerd (root, state and socket under $DIR), started and stopped here
#     netns $NODE: sluice-dp + sluice-ctrl --role=worker (node_lib.sh);
#                  ctr runs here (nsenter --net) so the veth host ends land
#                  where dp takes them
#
# Asserts: both containers get addresses from the agent's pod CIDR and a
# default route via the gateway; they ping each other and a 1 MiB HTTP
# download (busybox httpd -> wget) arrives with the same SHA-256,
# and dp's `forwarded` counter moved by at least the packets seen; after
# the tasks stop, containerd's DEL (issued twice) leaves the agent with no
# pod, dp with no pod and the node with no veth; nothing is left behind.
# Usage: cni_containerd.sh SLUICE_DP SLUICE_CTRL SLUICE_CNI
set -u
DP=$1 CTRL=$2 CNI=$3
[ "$(id -u)" = 0 ] || { echo "cni_containerd: needs root"; exit 77; }
for p in containerd ctr runc busybox nsenter unshare python3; do
  command -v "$p" >/dev/null || { echo "cni_containerd: $p not installed"; exit 1; }
done
if [ -z "${SLUICE_PRIVATE_MNT:-}" ]; then
  # Everything below runs in a private mount namespace: containerd must see
  # the netns bind mounts that ctr makes under /var/run/netns.
  SLUICE_PRIVATE_MNT=1 exec unshare -m --propagation private bash "$0" "$@"
fi

NODE=ctdn-$$ PREFIX=sl-ctd-$$ POD_CIDR=10.79.1.0/24 GW_IP=10.79.1.1
DIR=$(mktemp -d /tmp/sluice-ctd-XXXXXX)
. "$(dirname "$0")/node_lib.sh"
CTD_PID= CTR_PIDS=()
pass=0 failed=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
c() { timeout 60 nsenter --net="/var/run/netns/$NODE" ctr --address "$DIR/ctd.sock" -n "sl$$" "$@"; }
cleanup() {
  set +e
  for t in a b; do c task kill -s KILL "c$t-$$" >/dev/null 2>&1; done
  for p in "${CTR_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for t in a b; do c task delete "c$t-$$" >/dev/null 2>&1; c containers delete "c$t-$$" >/dev/null 2>&1; done
  [ -n "$CTD_PID" ] && kill "$CTD_PID" 2>/dev/null && wait "$CTD_PID" 2>/dev/null
  node_down
  rm -rf "$DIR"
}
trap cleanup EXIT

# --- private CNI directories and containerd -----------------------------
mkdir -p "$DIR/net.d" "$DIR/bin" "$DIR/rootfs" /etc/cni/net.d /usr/lib/cni
mount --bind "$DIR/net.d" /etc/cni/net.d
mount --bind "$DIR/bin" /usr/lib/cni
mount -t tmpfs tmpfs /opt && mkdir -p /opt/cni/bin && mount --bind "$DIR/bin" /opt/cni/bin
cp "$CNI" "$DIR/bin/sluice-cni"
printf '{"cniVersion":"1.0.0","name":"sl-ctd-%s","plugins":[{"type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/cni"}]}\n' \
  "$$" "$DIR" "$DIR" > "$DIR/net.d/10-sluice.conflist"
cat > "$DIR/ctd.toml" <<EOC
version = 2
root = "$DIR/ctd-root"
state = "$DIR/ctd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$DIR/ctd.sock"
[ttrpc]
  address = "$DIR/ctd-ttrpc.sock"
EOC
containerd --config "$DIR/ctd.toml" > "$DIR/containerd.log" 2>&1 &
CTD_PID=$!
node_up
for _ in $(seq 100); do c version >/dev/null 2>&1 && break; sleep 0.1; done
check "containerd answers on its private socket" c version

busybox_rootfs "$DIR/rootfs"
python3 "$(dirname "$0")/oci_image.py" "$DIR/rootfs" "localhost/sluice-bb:$$" "$DIR/img.tar"
c image import "$DIR/img.tar" >/dev/null
check "busybox image imported" bash -c "nsenter --net=/var/run/netns/$NODE ctr --address $DIR/ctd.sock -n sl$$ images ls -q | grep -q sluice-bb:$$"

# --- two containers -------------------------------------------------------
# `ctr run --cni` without -d sets the network up, waits for the task, then
# tears the network down (CNI DEL) and removes the container: the way
# containerd's own client drives a plugin end to end. Both run in the
# background and end when the test kills their tasks.
CTR_PIDS=()
c run --rm --cni --null-io "localhost/sluice-bb:$$" "cb-$$" \
  sh -c 'mkdir -p /www; dd if=/dev/urandom of=/www/data bs=1024 count=1024 2>/dev/null; httpd -f -p 8080 -h /www' > "$DIR/cb.out" 2>&1 &
CTR_PIDS+=($!)
c run --rm --cni --null-io "localhost/sluice-bb:$$" "ca-$$" sleep 600 > "$DIR/ca.out" 2>&1 &
CTR_PIDS+=($!)
for _ in $(seq 100); do
  [ "$(c task ls -q 2>/dev/null | grep -c -- "-$$\$")" = 2 ] && break
  sleep 0.1
done
agent_pods() { call '{"op":"status"}' | sed -n 's/.*"pods":\([0-9]*\).*/\1/p'; }
ex() { local ctr=$1; shift; c task exec --exec-id "x$RANDOM" "$ctr" "$@"; }
addr() { ex "$1" ip -o -4 addr show eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p'; }
a_ip=$(addr "ca-$$") b_ip=$(addr "cb-$$")
check "client has an address from $POD_CIDR ($a_ip)" bash -c "[[ '$a_ip' == 10.79.1.* ]]"
check "server has an address from $POD_CIDR ($b_ip)" bash -c "[[ '$b_ip' == 10.79.1.* && '$b_ip' != '$a_ip' ]]"
check "default route via $GW_IP" bash -c "nsenter --net=/var/run/netns/$NODE ctr --address $DIR/ctd.sock -n sl$$ task exec --exec-id r$$ ca-$$ ip route | grep -q 'default via $GW_IP dev eth0'"
check "agent holds both pods" [ "$(agent_pods)" = 2 ]

fwd0=$(dp_counter forwarded)
check "client pings server through sluice-dp" bash -c "nsenter --net=/var/run/netns/$NODE ctr --address $DIR/ctd.sock -n sl$$ task exec --exec-id p$$ ca-$$ ping -c 3 -W 2 $b_ip | grep -q ' 3 packets received'"
ex "ca-$$" wget -q -O /tmp/got "http://$b_ip:8080/data" >/dev/null 2>&1
sent=$(ex "cb-$$" sha256sum /www/data | cut -d' ' -f1)
got=$(ex "ca-$$" sha256sum /tmp/got | cut -d' ' -f1)
same_sum() { [ -n "$sent" ] && [ "$sent" = "$got" ]; }
check "1 MiB over HTTP/TCP arrives intact (sha256 ${sent:0:12})" same_sum
fwd1=$(dp_counter forwarded)
# 1 MiB is at least 725 full-size segments one way, plus the ACKs back.
check "dp forwarded the transfer ($((fwd1 - fwd0)) packets)" [ $((fwd1 - fwd0)) -ge 725 ]

# --- teardown: containerd's DEL, twice -----------------------------------
for t in a b; do c task kill -s KILL "c$t-$$" >/dev/null 2>&1; done
for p in "${CTR_PIDS[@]}"; do wait "$p"; done
CTR_PIDS=()
check "containers removed by ctr" bash -c "! nsenter --net=/var/run/netns/$NODE ctr --address $DIR/ctd.sock -n sl$$ containers ls -q | grep -q -- '-$$\$'"
check "containerd's DEL released both pods in the agent" [ "$(agent_pods)" = 0 ]
# Runtimes repeat DEL (containerd does after a stop), with no netns left:
# each must succeed and change nothing.
for t in a b; do
  for _ in 1 2; do
    printf '{"cniVersion":"1.0.0","name":"sl-ctd-%s","type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/cni"}' "$$" "$DIR" "$DIR" |
      nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND=DEL CNI_CONTAINERID="sl$$-c$t-$$" CNI_NETNS= CNI_IFNAME=eth0 CNI_PATH="$DIR/bin" "$DIR/bin/sluice-cni" >> "$DIR/del.out" 2>&1
    echo "rc=$?" >> "$DIR/del.out"
  done
done
check "repeated DEL succeeds every time" [ "$(grep -c '^rc=0$' "$DIR/del.out")" = 4 ]
check "agent still holds no pod" [ "$(agent_pods)" = 0 ]
check "dp holds no pod" bash -c "! python3 $NODE_ROOT/tests/integration/dp_tel.py $PREFIX /sluice/pods | grep -q '10\.79\.1\.'"
check "no veth host end left in the node" bash -c "! ip -n $NODE -o link | grep -q ': sl[0-9a-f]\{12\}@'"

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
