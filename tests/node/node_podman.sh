#!/usr/bin/env bash
# node_podman: the node agent with `--runtime podman` on one node, against
# a stand-in API server (tests/cli/fake_api.py). Pods are real podman
# containers on sluice-cni's network: podman runs the plugin, the plugin
# asks this same agent for the address, sluice-dp takes the veth. The test
# plays the scheduler (spec.nodeName) and the IPAM controller (podCIDR).
#
#   netns npn-$$ (the node)
#     fake_api.py https://127.0.0.1:PORT
#     sluice-dp --ctl (tap port only; pods attach at run time)
#     sluice-ctrl --role=worker --runtime podman --podman-network sl-np-$$
#       |  podman run -d --network sl-np-$$ --pull never localhost/sluice-bb:$$ ...
#       |    -> sluice-cni (agentSocket ipc://$DIR/agent.ipc) -> cni.add
#   containers: np$$-<pod>-<hash>, eth0 from the node's pod CIDR 10.81.1.0/24
#
# podman setup as in tests/cni/node_lib.sh: 4.3 with the CNI backend, runc,
# private CONTAINERS_CONF / CONTAINERS_STORAGE_CONF (exported: the agent
# passes its environment to podman), a busybox-static image imported
# locally. The conflist points sluice-cni at the agent's IPC socket.
#
# Asserts: a podman that is not there is refused at start; two pods (busybox httpd, sleep) reach Running with distinct pod
# IPs from the node CIDR, which are the agent's allocations; the client
# fetches a file from the server through sluice-dp with the same SHA-256;
# the server's log file has its output; a pod whose image is not local
# Fails with ErrImageNeverPull, one whose command does not exist Fails
# under Never with ContainerCannotRun; OnFailure restarts a crashing container
# (restartCount grows); deleting a pod removes its container and its log
# directory and frees its IP in the agent; a container removed by hand is
# created again; an agent restart removes the containers the previous run
# left and runs the pods again.
#
# Usage: node_podman.sh sluice-dp sluice-ctrl sluice-cni
set -euo pipefail
DP=${1:?usage: $0 sluice-dp sluice-ctrl sluice-cni}
CTRL=${2:?}
CNI=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FAKE=$ROOT/tests/cli/fake_api.py
EAL_MEM=$(bash "$ROOT/scripts/eal-mem.sh")

NODE=npn-$$
NODENAME=npt-$$
PREFIX=sl-npt-$$
NAMEPFX=np$$-
NET=sl-np-$$
IMG=localhost/sluice-bb:$$
DIR=$(mktemp -d /tmp/node_podman.XXXXXX)
DP_PID= CTRL_PID= API_PID=
MADE_NS=()
# podman_conf and busybox_rootfs; node_lib.sh (sourced second) owns fail().
source "$ROOT/tests/cni/node_lib.sh"
source "$HERE/node_lib.sh"
export CONTAINERS_CONF=$DIR/containers.conf CONTAINERS_STORAGE_CONF=$DIR/storage.conf
pm() { timeout 60 nsenter --net="/run/netns/$NODE" podman "$@"; }
ours() { pm ps -a -q --filter "label=io.sluice.node=$NODENAME" 2>/dev/null; }

cleanup() {
  set +e
  [ -n "$CTRL_PID" ] && kill -TERM "$CTRL_PID" 2>/dev/null && wait "$CTRL_PID" 2>/dev/null
  # The agent leaves its containers running on exit (like a kubelet).
  if [ -e "/run/netns/$NODE" ]; then
    for c in $(ours); do pm rm -f -t 0 "$c" >/dev/null 2>&1; done
    pm rmi -f "$IMG" >/dev/null 2>&1
  fi
  [ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null
  [ -n "$API_PID" ] && kill -TERM "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
  for ns in "${MADE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "/var/run/dpdk/$PREFIX"
  # dp's hugepage files, if it died before its EAL cleanup (seen in CI)
  rm -f "/dev/hugepages/${PREFIX}map_"*
}
trap cleanup EXIT
trap "exit 143" TERM INT

[ "$(id -u)" = 0 ] || { echo "node_podman: needs root"; exit 77; }
[ -f "$FAKE" ] || { echo "node_podman: $FAKE missing"; exit 77; }
for p in podman runc busybox nsenter; do
  command -v "$p" >/dev/null || { echo "node_podman: $p not installed"; exit 77; }
done
for b in "$DP" "$CTRL" "$CNI"; do [ -x "$b" ] || fail "$b is not executable"; done

ip netns add "$NODE"; MADE_NS+=("$NODE")
ip -n "$NODE" link set lo up
ip netns exec "$NODE" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

ip netns exec "$NODE" python3 "$FAKE" --certs "$DIR/certs" --port-file "$DIR/api.port" > "$DIR/api.out" 2>&1 &
API_PID=$!
wait_for 30 "the fake API" test -s "$DIR/api.port"
API_URL=https://127.0.0.1:$(cat "$DIR/api.port")
API_CA=$DIR/certs/ca.crt API_CERT=$DIR/certs/admin.crt API_KEY=$DIR/certs/admin.key API_NS=$NODE
printf '{"servers":["%s"],"ca":"certs/ca.crt","cert":"certs/admin.crt","key":"certs/admin.key"}\n' \
  "$API_URL" > "$DIR/api.json"

cat > "$DIR/dp.json" <<JSON
{
  "node": { "pod_cidr": "10.81.0.0/16", "gateway_ip": "10.81.0.1", "gateway_mac": "02:00:00:00:00:01" },
  "ports": [ { "name": "tap0", "type": "tap", "iface": "npt-$$" } ]
}
JSON
ip netns exec "$NODE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
  "$DP" -l 0,1 --file-prefix "$PREFIX" --no-pci $EAL_MEM \
  -- --config "$DIR/dp.json" --idle-backoff-us 200 --ctl "$DIR/dp-ctl.shm" > "$DIR/dp.log" 2>&1 &
DP_PID=$!

# podman: private configuration, sluice-cni as the network's only plugin,
# pointed at this agent's IPC socket; the image imported, never pulled.
podman_conf "$DIR"
cp "$CNI" "$DIR/bin/sluice-cni"
printf '{"cniVersion":"1.0.0","name":"%s","plugins":[{"type":"sluice-cni","mode":"veth","agentSocket":"ipc://%s/agent.ipc","timeoutMs":5000,"stateDir":"%s/cni"}]}\n' \
  "$NET" "$DIR" "$DIR" > "$DIR/net.d/$NET.conflist"
busybox_rootfs "$DIR/rootfs"
tar -C "$DIR/rootfs" -c . | pm import - "$IMG" >/dev/null 2>&1 || fail "podman import"
pm image exists "$IMG" || fail "image $IMG not imported"

# Flags the agent refuses at start, with one line naming the flag.
set +e
bad=$("$CTRL" --role=worker --state "$DIR/bad.json" --segment "$DIR/dp-ctl.shm" --ipc "ipc://$DIR/bad.ipc" \
  --api-config "$DIR/api.json" --node-name "$NODENAME" --node-ip 192.0.2.11 --runtime podman \
  --podman "$DIR/no-such-podman" 2>&1); rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--podman: ".*no-such-podman" is not an executable' <<< "$bad" || fail "missing podman: rc $rc: $bad"

start_agent() {
  nsenter --net=/run/netns/"$NODE" "$CTRL" --role=worker --state "$DIR/agent.json" \
    --segment "$DIR/dp-ctl.shm" --ipc "ipc://$DIR/agent.ipc" --cni-state "$DIR/cni" \
    --api-config "$DIR/api.json" --node-name "$NODENAME" --node-ip 192.0.2.11 --lease-seconds 8 \
    --runtime podman --podman-network "$NET" --pod-dir "$DIR/pods" --pod-netns-prefix "$NAMEPFX" \
    --restart-backoff-ms 200 >> "$DIR/ctrl.log" 2>&1 &
  CTRL_PID=$!
}
start_agent
wait_for 30 "sluice-ctrl to sync with sluice-dp" grep -q "agent: replayed" "$DIR/ctrl.log"
grep -q "runtime: podman 4\." "$DIR/ctrl.log" || fail "the agent did not start the podman runtime"
wait_for 20 "the Node to be registered" api GET "/api/v1/nodes/$NODENAME/status"
node=$(api GET "/api/v1/nodes/$NODENAME")
api PUT "/api/v1/nodes/$NODENAME" "$(jget 'dict(d, spec=dict(d.get("spec",{}), podCIDR="10.81.1.0/24"))' <<< "$node")" > /dev/null

# pm_pod NAME IMAGE RESTART CMD...: a Pod bound here running CMD in IMAGE.
pm_pod() {
  python3 - "$NODENAME" "$@" <<'PY'
import json, sys
node, name, image, restart, *cmd = sys.argv[1:]
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": name, "namespace": "default"},
  "spec": {"nodeName": node, "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "main", "image": image, "command": cmd}]}}))
PY
}
running() { [ "$(pod_field default "$1" 'd["status"]["phase"]')" = Running ] && [ -n "$(pod_field default "$1" 'd["status"].get("podIP","")')" ]; }
phase_is() { [ "$(pod_field default "$1" 'd["status"]["phase"]')" = "$2" ]; }
cname() { pm ps -a --filter "label=io.kubernetes.pod.name=$1" --filter "label=io.sluice.node=$NODENAME" --format '{{.Names}}'; }

# --- two pods: an HTTP server and a client ---------------------------------
api POST /api/v1/namespaces/default/pods "$(pm_pod web-$$ "$IMG" Always sh -c \
  'echo hello-from-$(cat /etc/hostname); mkdir -p /www; dd if=/dev/urandom of=/www/data bs=1024 count=512 2>/dev/null; exec httpd -f -v -p 8080 -h /www')" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pm_pod client-$$ "$IMG" Always sleep 3600)" > /dev/null
wait_for 60 "web-$$ Running" running web-$$
wait_for 60 "client-$$ Running" running client-$$
ipA=$(pod_field default web-$$ 'd["status"]["podIP"]')
ipB=$(pod_field default client-$$ 'd["status"]["podIP"]')
for ip in "$ipA" "$ipB"; do
  [[ "$ip" == 10.81.1.* ]] && [ "$ip" != 10.81.1.1 ] || fail "podIP $ip not a host of 10.81.1.0/24"
done
[ "$ipA" != "$ipB" ] || fail "both pods got $ipA"
[ "$(pod_field default web-$$ 'd["status"]["hostIP"]')" = 192.0.2.11 ] || fail "hostIP"
cA=$(cname web-$$) cB=$(cname client-$$)
[[ "$cA" == "${NAMEPFX}web-$$-"* ]] || fail "web-$$'s container is \"$cA\""
[ -n "$cB" ] || fail "no container for client-$$"
# The IPs are the agent's: what sluice-cni's cni.add got for the containers.
ip netns exec "$NODE" "$CTRL" --ipc "ipc://$DIR/agent.ipc" --call '{"op":"pods"}' > "$DIR/pods.json"
grep -q "\"$ipA\"" "$DIR/pods.json" && grep -q "\"$ipB\"" "$DIR/pods.json" || fail "agent does not hold $ipA and $ipB: $(cat "$DIR/pods.json")"
inA=$(pm exec "$cA" ip -o -4 addr show eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
[ "$inA" = "$ipA" ] || fail "web-$$'s eth0 has \"$inA\", the API says $ipA"
pretty pods "web-$$ ($cA) at $ipA, client-$$ ($cB) at $ipB, both Running"

# --- the client downloads a file from the server through sluice-dp -------
for _ in $(seq 40); do pm exec "$cA" sh -c '[ -s /www/data ]' 2>/dev/null && break; sleep 0.25; done
ok=
for _ in $(seq 20); do
  # (no -T: busybox 1.35 wget -T segfaults)
  if pm exec "$cB" wget -q -O /tmp/got "http://$ipA:8080/data" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.5
done
[ -n "$ok" ] || fail "client-$$ ($ipB) cannot fetch http://$ipA:8080/data through sluice-dp"
sent=$(pm exec "$cA" sha256sum /www/data | cut -d' ' -f1)
got=$(pm exec "$cB" sha256sum /tmp/got | cut -d' ' -f1)
[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "SHA-256 differ: served $sent, received $got"
pretty traffic "client-$$ fetched 512 KiB from web-$$ through sluice-dp (sha256 ${sent:0:16})"

# --- logs: the container's output in the pod's log file ----------------
LOG=$DIR/pods/$cA/main.log
wait_for 10 "web-$$'s log" grep -q "hello-from-web-$$" "$LOG"
# busybox httpd -v logs each answer on stderr: "[::ffff:CLIENT]:PORT: response:200"
wait_for 10 "the request in web-$$'s log" grep -q "$ipB\]:[0-9]*: response:200" "$LOG"
pretty logs "$LOG: $(grep -m1 hello-from "$LOG")"

# --- a missing image fails the pod, a crashing one restarts -------------
api POST /api/v1/namespaces/default/pods "$(pm_pod noimg-$$ localhost/absent-$$:1 Always true)" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pm_pod crash-$$ "$IMG" OnFailure sh -c 'echo crash; exit 3')" > /dev/null
api POST /api/v1/namespaces/default/pods "$(pm_pod nocmd-$$ "$IMG" Never /nonexistent/cmd)" > /dev/null
wait_for 30 "noimg-$$ Failed" phase_is noimg-$$ Failed
reason=$(pod_field default noimg-$$ 'd["status"]["containerStatuses"][0]["state"]["terminated"]["reason"]')
[ "$reason" = ErrImageNeverPull ] || fail "noimg-$$: reason \"$reason\", not ErrImageNeverPull"
wait_for 30 "nocmd-$$ Failed" phase_is nocmd-$$ Failed
reason=$(pod_field default nocmd-$$ 'd["status"]["containerStatuses"][0]["state"]["terminated"]["reason"]')
[ "$reason" = ContainerCannotRun ] || fail "nocmd-$$: reason \"$reason\", not ContainerCannotRun"
restarts() { [ "$(pod_field default crash-$$ 'd["status"]["containerStatuses"][0]["restartCount"]')" -ge 2 ]; }
wait_for 40 "crash-$$ to restart twice" restarts
phase_is crash-$$ Running || fail "crash-$$ should stay Running in back-off"
pretty policy "missing image: Failed/ErrImageNeverPull; missing command under Never: Failed/ContainerCannotRun; OnFailure restarted crash-$$ $(pod_field default crash-$$ 'd["status"]["containerStatuses"][0]["restartCount"]') times"

# --- delete removes the container and frees the IP ----------------------
api DELETE /api/v1/namespaces/default/pods/web-$$ > /dev/null
gone() { ! pm container exists "$cA"; }
wait_for 30 "web-$$'s container to go" gone
freed() { ip netns exec "$NODE" "$CTRL" --ipc "ipc://$DIR/agent.ipc" --call '{"op":"pods"}' > "$DIR/pods.json" && ! grep -q "\"$ipA\"" "$DIR/pods.json"; }
wait_for 10 "$ipA to be released" freed
grep -q "\"$ipB\"" "$DIR/pods.json" || fail "agent lost client-$$'s $ipB"
[ ! -d "$DIR/pods/$cA" ] || fail "log dir of web-$$ left behind"
pretty delete "web-$$: container $cA removed, $ipA released, log dir removed"
# --- a container removed behind the agent's back is created again ------
rcB=$(pod_field default client-$$ 'd["status"]["containerStatuses"][0]["restartCount"]')
idB=$(pm container inspect --format '{{.Id}}' "$cB")
pm rm -f -t 0 "$cB" > /dev/null
recreated() { running client-$$ && [ "$(pod_field default client-$$ 'd["status"]["containerStatuses"][0]["restartCount"]')" -gt "$rcB" ] && \
  [ -n "$(pm container inspect --format '{{.Id}}' "$cB" 2>/dev/null)" ] && [ "$(pm container inspect --format '{{.Id}}' "$cB")" != "$idB" ]; }
wait_for 30 "client-$$'s container to be created again" recreated
pretty recreate "client-$$: container removed by hand, created again (${idB:0:12} -> $(pm container inspect --format '{{.Id}}' "$cB" | cut -c1-12))"

# --- an agent restart removes its old containers and runs the pods again -
idB=$(pm container inspect --format '{{.Id}}' "$cB")
kill -TERM "$CTRL_PID"; wait "$CTRL_PID" || true
pm container exists "$cB" || fail "the agent's exit should leave client-$$'s container running"
start_agent
again() { [ "$(pm container inspect --format '{{.Id}}' "$cB" 2>/dev/null)" != "$idB" ] && \
  [ -n "$(pm container inspect --format '{{.Id}}' "$cB" 2>/dev/null)" ] && running client-$$; }
wait_for 40 "client-$$ to run in a new container after the agent restart" again
grep -q "removing container ${idB:0:12} left by an earlier run" "$DIR/ctrl.log" || fail "old container not cleaned up"
pretty restart "agent restarted: old container ${idB:0:12} removed, client-$$ runs again"
pretty done "all node_podman checks passed"
