#!/usr/bin/env bash
# sluice demo: the README's first command. As root:
#   bash scripts/demo.sh            run the demo, then tear everything down
#   bash scripts/demo.sh --keep     stay up at the end until Ctrl-C, to explore
#
# It installs dependencies, prepares the host, builds into build-demo/, and
# brings up a whole cluster in network namespaces on this one machine
# (topology in tests/node/cluster_lib.sh):
#
#   underlay bridge 192.168.N.0/24 (netns sdu-$$, where the `sluice` CLI runs)
#     masters m1 m2 m3   sluice-ctrl --role=master: Raft, HTTPS API, scheduler
#                        and controllers (3 netns, .11 .12 .13)
#     workers w1 w2      sluice-dp on the node's uplink (shared with the node's
#                        kernel by XDP steering) + sluice-ctrl --role=worker,
#                        which registers the Node and runs its pods as netns
#                        (2 netns, .1 .2)
#
# then: applies a Deployment of 4 HTTP servers with `sluice apply`, shows
# them spread over both workers (`sluice get pods -o wide`), fetches a page
# from a pod on worker 2 out of a pod on worker 1 (pod to pod across nodes,
# no NAT), puts a Service in front of the Deployment and reaches it through
# sluice-dp's load balancer (its ClusterIP from a pod, its external IP from
# the underlay through worker 1's uplink) and the API through its VIP (the
# Service default/kubernetes), kills worker 2 and watches its pods come back
# on worker 1, kills the leader master and shows a new leader and a scale-up
# to 6 that still works, and the Service and API VIPs still answering. Each step is a function; a failing step stops the demo with its
# name. Everything it made ($$ in every name) is removed on exit or Ctrl-C;
# processes are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
BUILD=build-demo
STEP=0
NSTEPS=10
CUR=""
ID=$$
CL_P=sd
CL_NET=$((100 + $$ % 100))
CL_LEASE=4
APP=web
# The API VIP (an externalIP of default/kubernetes, in the masters'
# certificates) and the web Service's external IP: on the underlay subnet,
# held by no host; the underlay routes them via worker 1 (ECMP over several
# LB nodes works too: Maglev picks the same backend on each).
API_VIP=192.168.$CL_NET.200
SVC_VIP=192.168.$CL_NET.100
CL_INIT_ARGS="--api-vip $API_VIP"
# dp egress to the underlay (answers to clients outside the cluster).
CL_CLUSTER_CIDR=10.244.0.0/16
CTRL=$BUILD/ctrl/sluice-ctrl
DP=$BUILD/dp/sluice-dp
SLUICE=$BUILD/ctrl/sluice

# The cluster's building blocks, shared with tests/node/node_cluster.sh.
source "$ROOT/tests/node/cluster_lib.sh"
source "$ROOT/tests/lib/netns.sh" # tx_csum_off

step() { STEP=$((STEP + 1)); CUR=$*; printf '\n\033[1m==> [%d/%d] %s\033[0m\n' "$STEP" "$NSTEPS" "$*"; }
say() { echo "    $*"; }
show() { sed 's/^/    | /'; }
fail() {
  echo >&2
  echo "demo: FAILED at step $STEP ($CUR): $*" >&2
  local f
  for f in "${CL_DIR:-/nonexistent}"/*.log; do
    [ -f "$f" ] && { echo "--- $(basename "$f") (last lines)"; grep -v "libbpf\|libxdp" "$f" | tail -8; } >&2
  done
  exit 1
}

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces and runs dataplanes)" >&2; exit 2; }

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  printf '\n==> tearing down\n'
  cl_cleanup
  echo "    removed the cluster's namespaces, processes and $CL_DIR"
  exit "$rc"
}
trap teardown EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

# sluice CLI from the underlay, with the admin certificate.
sl() { ip netns exec "$(cl_under)" "$SLUICE" --config "$CL_PKI/admin.conf" "$@"; }

# pods of the app: "name node phase ip" lines
app_pods() {
  cl_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$APP" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    print(p["metadata"]["name"], p["spec"].get("nodeName", "-"),
          p.get("status", {}).get("phase", "-"), p.get("status", {}).get("podIP", "-"))'
}
running_on() { # node|* : count of the app's Running pods there
  app_pods | awk -v n="$1" '$3 == "Running" && $4 != "-" && (n == "*" || $2 == n)' | wc -l
}
n_running_ge() { [ "$(running_on "$1")" -ge "$2" ]; }

manifest() { # replicas
  cat > "$CL_DIR/$APP.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $APP
  namespace: default
spec:
  replicas: $1
  selector:
    matchLabels:
      app: $APP
  template:
    metadata:
      labels:
        app: $APP
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: http
        image: python3-http-server
        command: ["sh", "-c"]
        args:
        - mkdir -p $CL_DIR/www/\$HOSTNAME && echo "hello from \$HOSTNAME (\$POD_IP)" > $CL_DIR/www/\$HOSTNAME/index.html && exec python3 -m http.server 8080 --directory $CL_DIR/www/\$HOSTNAME
YAML
}

# ---- steps ----------------------------------------------------------------

step_deps() {
  step "installing dependencies (scripts/deps.sh)"
  bash scripts/deps.sh > "$CL_DIR/deps.log" 2>&1 || { tail -20 "$CL_DIR/deps.log"; fail "scripts/deps.sh"; }
  bash scripts/host-setup.sh > "$CL_DIR/host.log" 2>&1 || { tail -20 "$CL_DIR/host.log"; fail "scripts/host-setup.sh"; }
  say "packages installed, hugepages and bpffs ready"
}

step_build() {
  step "building sluice-dp, sluice-ctrl and sluice into $BUILD/"
  [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" > "$CL_DIR/build.log" 2>&1 || { tail -30 "$CL_DIR/build.log"; fail "meson setup"; }
  ninja -C "$BUILD" dp/sluice-dp ctrl/sluice-ctrl ctrl/sluice >> "$CL_DIR/build.log" 2>&1 ||
    { tail -30 "$CL_DIR/build.log"; fail "build failed"; }
  for b in "$DP" "$CTRL" "$SLUICE"; do [ -x "$b" ] || fail "$b was not built"; done
  say "built $DP, $CTRL, $SLUICE"
}

step_masters() {
  step "starting 3 masters (Raft + API + controllers) on an underlay bridge"
  local fast
  fast=$(cl_fast_failover_args)
  CL_MASTER_ARGS="$fast --api-vip $API_VIP"
  cl_setup 3 2 || fail "namespaces, bridge or certificates"
  local i
  for i in 1 2 3; do cl_start_master "$i"; done
  for i in 1 2 3; do cl_wait 30 "master m$i /readyz" cl_ready "$i" || fail "master m$i not ready"; done
  say "certificates in $CL_PKI (sluice-ctrl init); masters at $(cl_servers)"
  [ -n "$fast" ] && say "fast failure detection for the demo:$fast"
  say "API VIP $API_VIP (Service default/kubernetes, in the masters' certificates)"
  sl cluster status | show || fail "sluice cluster status"
}

step_workers() {
  step "starting 2 workers: node agent first (registers the Node, gets a pod CIDR), then sluice-dp"
  local i
  for i in 1 2; do
    cl_start_worker "$i" || fail "worker $(cl_wname "$i")"
    say "$(cl_wname "$i"): underlay $(cl_wip "$i"), pod CIDR $(cl_node_cidr "$i"), sluice-dp pid ${CL_PID[d$i]}, agent pid ${CL_PID[a$i]}"
  done
  sl get nodes -o wide | show || fail "sluice get nodes"
}

step_deploy() {
  step "applying a Deployment of 4 HTTP servers with the sluice CLI"
  manifest 4
  sl apply -f "$CL_DIR/$APP.yaml" | show || fail "sluice apply"
  cl_wait 90 "4 pods Running" n_running_ge '*' 4 || { app_pods | show; fail "the Deployment's pods did not all run"; }
  sl get pods -o wide | show
  local on1 on2
  on1=$(running_on "$(cl_wname 1)") on2=$(running_on "$(cl_wname 2)")
  say "spread: $on1 on $(cl_wname 1), $on2 on $(cl_wname 2)"
}

step_cross_node() {
  step "pod to pod across nodes: a pod on worker 1 fetches a page from a pod on worker 2"
  local a b ipb nsa out ok=""
  a=$(app_pods | awk -v n="$(cl_wname 1)" '$2 == n && $3 == "Running" {print $1; exit}')
  b=$(app_pods | awk -v n="$(cl_wname 2)" '$2 == n && $3 == "Running" {print $1; exit}')
  [ -n "$a" ] && [ -n "$b" ] || fail "need a Running pod on each worker (the scheduler put them all on one)"
  ipb=$(app_pods | awk -v p="$b" '$1 == p {print $4}')
  nsa=$(cl_pod_ns "$a")
  [ -n "$nsa" ] || fail "no netns for pod $a"
  for _ in $(seq 20); do
    out=$(ip netns exec "$nsa" curl -s --max-time 2 "http://$ipb:8080/") && [ -n "$out" ] && { ok=1; break; }
    sleep 0.5
  done
  [ -n "$ok" ] || fail "curl from $a to $b ($ipb) got nothing"
  say "$a ($(cl_wname 1)) \$ curl http://$ipb:8080/"
  echo "$out" | show
  ip netns exec "$nsa" ping -c 3 -i 0.2 -W 2 "$ipb" | tail -2 | show || fail "ping $ipb"
}

svc_manifest() {
  cat > "$CL_DIR/$APP-svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: $APP
  namespace: default
spec:
  selector:
    app: $APP
  ports:
  - name: http
    port: 80
    targetPort: 8080
  externalIPs: [$SVC_VIP]
YAML
}

svc_ready_ge() { # n: the Service's Endpoints list at least n ready addresses
  [ "$(cl_api GET "/api/v1/namespaces/default/endpoints/$APP" 2>/dev/null | python3 -c '
import json, sys
print(sum(len(s.get("addresses") or []) for s in json.load(sys.stdin).get("subsets") or []))' 2>/dev/null || echo 0)" -ge "$1" ]
}

# n GETs of URL from netns NS: "count answer" lines (which pods answered).
fetch_spread() { # ns url n
  local i
  for i in $(seq "$3"); do
    ip netns exec "$1" curl -s --max-time 3 --retry 2 --retry-connrefused "$2" || echo "(no answer)"
  done | sort | uniq -c
}

step_service() {
  step "a Service in front of the Deployment: sluice-dp's Maglev load balancer, from inside and outside the cluster"
  svc_manifest
  sl apply -f "$CL_DIR/$APP-svc.yaml" | show || fail "sluice apply (Service)"
  cl_wait 30 "4 ready Endpoints" svc_ready_ge 4 || fail "the Service's Endpoints did not list the 4 pods"
  sl get svc | show
  local cip a nsa out
  cip=$(cl_api GET "/api/v1/namespaces/default/services/$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["clusterIP"])')
  a=$(app_pods | awk -v n="$(cl_wname 1)" '$2 == n && $3 == "Running" {print $1; exit}')
  nsa=$(cl_pod_ns "$a")
  say "from pod $a on $(cl_wname 1): 12 requests to the ClusterIP http://$cip/ (balanced in the pod's own node's dp)"
  out=$(fetch_spread "$nsa" "http://$cip/" 12)
  echo "$out" | show
  [ "$(echo "$out" | grep -vc 'no answer')" -ge 2 ] || fail "the ClusterIP did not spread over several pods"
  # The underlay's part: route the external IP via worker 1 (a router or
  # BGP would), and the pod CIDRs to the masters, which run no dp here.
  ip -n "$(cl_under)" route replace "$SVC_VIP/32" via "$(cl_wip 1)"
  # veth hands dp the sender's partial checksums (a NIC would fill them in);
  # this netns is the outside client, so it sends complete ones.
  ip netns exec "$(cl_under)" bash -c "$(declare -f tx_csum_off); tx_csum_off ${CL_P}br-$ID"
  ip -n "$(cl_under)" route replace "$API_VIP/32" via "$(cl_wip 1)"
  local w m
  for w in 1 2; do
    for m in 1 2 3; do ip -n "$(cl_mns "$m")" route replace "$(cl_node_cidr "$w")" via "$(cl_wip "$w")"; done
  done
  say "from the underlay (not a node, not a pod): 12 requests to the external IP http://$SVC_VIP/ via $(cl_wname 1)'s uplink"
  out=$(fetch_spread "$(cl_under)" "http://$SVC_VIP/" 12)
  echo "$out" | show
  [ "$(echo "$out" | grep -vc 'no answer')" -ge 2 ] || fail "the external IP did not spread over several pods"
  say "the API through its VIP (Service default/kubernetes, externalIP $API_VIP; TLS verified):"
  cl_wait 20 "the API VIP answering" api_vip_ok || fail "no answer from https://$API_VIP"
  ip netns exec "$(cl_under)" "$SLUICE" --config "$CL_PKI/admin-vip.conf" get svc | show
}
api_vip_ok() { ip netns exec "$(cl_under)" "$SLUICE" --config "$CL_PKI/admin-vip.conf" get nodes > /dev/null 2>&1; }

step_worker_loss() {
  step "worker 2 dies: its Node goes NotReady and its pods come back on worker 1"
  local w2 lost
  w2=$(cl_wname 2)
  lost=$(running_on "$w2")
  cl_stop_worker 2 KILL
  say "killed $w2's sluice-dp, agent and pods ($lost of the app's pods were there)"
  not_ready() {
    [ "$(cl_api GET "/api/v1/nodes/$w2" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready"][0])')" != True ]
  }
  cl_wait 40 "$w2 NotReady" not_ready || fail "$w2 still Ready"
  sl get nodes | show
  cl_wait 90 "4 pods Running on $(cl_wname 1)" n_running_ge "$(cl_wname 1)" 4 ||
    { app_pods | show; fail "the pods of $w2 were not rescheduled"; }
  sl get pods -o wide | show
}

step_leader_loss() {
  step "the leader master dies: a new leader, and a scale-up to 6 still works"
  local old i new
  old=$(cl_leader)
  [ -n "$old" ] || fail "no leader"
  i=${old#m}
  cl_kill "m$i" KILL
  say "killed the leader $old (pid gone); waiting for a new one"
  new_leader() { local l; l=$(cl_leader); [ -n "$l" ] && [ "$l" != "$old" ]; }
  cl_wait 30 "a new leader" new_leader || fail "no new leader after $old died"
  new=$(cl_leader)
  # Masters probe each other once a second and call a peer unreachable
  # after 3 s of silence: wait for that before showing the table.
  old_down() { sl cluster status 2>/dev/null | grep -E "^ *[0-9]+ +$old " | grep -q unreachable; }
  cl_wait 10 "$old shown unreachable" old_down || say "($old not yet shown unreachable)"
  sl cluster status | show
  say "leader: $old -> $new"
  sl scale deployment "$APP" --replicas 6 | show || fail "sluice scale deployment $APP --replicas 6"
  cl_wait 90 "6 pods Running" n_running_ge '*' 6 || { app_pods | show; fail "scale-up did not complete"; }
  sl get pods -o wide | show
}

# ---- main -----------------------------------------------------------------

echo "sluice demo: a 3-master, 2-worker cluster in network namespaces (logs in $CL_DIR)"
step_deps
step_build
step_masters
step_workers
step_deploy
step_cross_node
step_service
step_worker_loss
step_leader_loss
step "summary"
say "Deployment $APP: $(running_on '*') pods Running; leader $(cl_leader)"
say "the external IP after both failures (12 requests):"
cl_wait 20 "6 ready Endpoints" svc_ready_ge 6 || fail "the Service's Endpoints did not follow the scale-up"
out=$(fetch_spread "$(cl_under)" "http://$SVC_VIP/" 12)
echo "$out" | show
echo "$out" | grep -q 'no answer' && fail "the external IP did not answer every request"
cl_wait 20 "the API VIP answering" api_vip_ok || fail "the API VIP did not answer after the leader died"
say "the API VIP: $(ip netns exec "$(cl_under)" "$SLUICE" --config "$CL_PKI/admin-vip.conf" get nodes | tail -n +2 | wc -l) nodes listed through https://$API_VIP"
echo
echo "demo: all steps passed."
if [ $KEEP = 1 ]; then
  echo "demo: running until Ctrl-C; try:"
  echo "  ip netns exec $(cl_under) $SLUICE --config $CL_PKI/admin.conf get pods -o wide"
  echo "  ip netns exec \$(ip netns list | awk '{print \$1}' | grep ^$(cl_podns_prefix) | head -1) curl -s http://<pod IP>:8080/"
  while sleep 1; do :; done
fi
