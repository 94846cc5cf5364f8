#!/usr/bin/env python3
"""orch_cluster.py: the scheduler and controllers against a real master.

  masters (1 or 3, loopback, --no-controllers) <--HTTPS-- orch_run A
        ^                                      <--HTTPS-- orch_run B (phase 6)
        |  fake agents (this script): Node objects, Lease renewals every
        |  second, and a "kubelet" that marks bound pods Running + Ready
        +  with an IP from the node's podCIDR

Only loopback is used; ports derive from the PID; everything we start is
stopped by PID and the work directory removed on exit.

 1. IPAM: 4 nodes get 4 distinct /24s of the cluster CIDR.
 2. A Deployment of 8 replicas: all pods bound, spread 2 per node, and the
    Deployment status reaches 8 ready.
 3. Endpoints: a Service selecting the pods lists their 8 IPs.
 4. Node failure: n4 stops renewing its lease (grace 3 s, eviction 6 s):
    it becomes NotReady with the unreachable taint, its pods are deleted
    and recreated on the 3 others; renewing again makes it Ready.
 5. Rollout: a new image replaces all 8 pods, never more than 10 at once.
    A Node deleted by an operator: its pods are deleted after the grace
    period and recreated on the others. Deleting the Deployment deletes
    its pods, deleting the Service its Endpoints.
 6. Two competing schedulers (two orch_run, both leading) and 60 bare pods:
    every pod is bound exactly once (the sum of successful bindings of
    both is 60) and the losers saw 409s, never a second binding.
 7. Leadership gating: an orch_run that leads only while a file exists
    binds nothing once the file is gone, and binds again when it is back.
 8. FailedScheduling: a pod asking for 1000 cpus gets PodScheduled False,
    reason Unschedulable, with the "0/3 nodes are available" message.

With a 4th argument "embedded", the controllers are the masters' own (no
--no-controllers, no orch_run): 3 masters, a Deployment of 6 is bound 2 per
node by the leader's orch; the leader is killed; the Deployment scaled to 9
through a survivor is completed by the new leader's orch, exactly 9 pods.
When sluice-ctrl has --node-grace-seconds (3) and --pod-eviction-timeout
(6): 2 of the 3 nodes stop renewing, so more than half look dead and the
leader evicts nothing (and logs a partition); when one comes back, only the
other is evicted and its pods move. A node registered after the leader change
gets a podCIDR none of the others holds (the new leader claimed theirs).

usage: orch_cluster.py SLUICE_CTRL ORCH_RUN [MASTERS [embedded]]
"""
import http.client
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

CTRL, ORCH = sys.argv[1], sys.argv[2]
NMASTERS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
EMBEDDED = len(sys.argv) > 4 and sys.argv[4] == "embedded"
WORK = tempfile.mkdtemp(prefix="sluice-orch.")


def free_base():
    """A base port whose +1..+3 (Raft) and +11..+13 (API) are free now; below
    the ephemeral range (32768+) so outgoing connections do not take them."""
    import random
    import socket
    rnd = random.Random(os.getpid())
    for _ in range(50):
        base = 10000 + rnd.randrange(1100) * 20
        try:
            for off in (1, 2, 3, 11, 12, 13):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + off))
            return base
        except OSError:
            continue
    return base


BASE = free_base()
PROCS = []
LOGS = {}


def log(msg):
    print("orch_cluster: " + msg, flush=True)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if os.environ.get("ORCH_CLUSTER_KEEP"):
        print("orch_cluster: kept " + WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)


def fail(msg):
    log("FAIL: " + msg)
    for name, path in LOGS.items():
        print("--- %s (tail)" % name)
        try:
            with open(path) as f:
                print("".join(f.readlines()[-25:]))
        except OSError:
            pass
    cleanup()
    sys.exit(1)


def start(name, argv):
    path = os.path.join(WORK, name + ".log")
    LOGS[name] = path
    out = open(os.path.join(WORK, name + ".out"), "w")
    p = subprocess.Popen(argv, stdout=out, stderr=open(path, "w"))
    PROCS.append(p)
    return p


def stop_orch(p, name):
    """SIGTERM an orch_run and return its counters (printed on exit)."""
    p.send_signal(signal.SIGTERM)
    p.wait(15)
    with open(os.path.join(WORK, name + ".out")) as f:
        return json.loads(f.read().strip().splitlines()[-1])


class Api:
    """A tiny HTTPS client with the admin certificate (one per thread)."""

    def __init__(self, port):
        # A list of ports fails over on connection errors (a killed master).
        self.ports = port if isinstance(port, list) else [port]
        self.port = self.ports[0]
        self.ctx = ssl.create_default_context(cafile=os.path.join(WORK, "pki/ca.crt"))
        self.ctx.load_cert_chain(os.path.join(WORK, "pki/admin.crt"),
                                 os.path.join(WORK, "pki/admin.key"))
        self.conn = None

    def req(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                                            context=self.ctx, timeout=10)
                data = json.dumps(body) if body is not None else None
                self.conn.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"})
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, None
            except (OSError, http.client.HTTPException):
                self.conn = None
                self.port = self.ports[(self.ports.index(self.port) + 1) % len(self.ports)]
                time.sleep(0.2)
        return 0, None

    def get(self, path):
        st, b = self.req("GET", path)
        return b if st == 200 else None


def wait_until(what, fn, timeout=30):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.25)
    fail("timed out after %ds waiting for %s (last: %r)" % (timeout, what, last))


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


LEASES = "/apis/coordination.k8s.io/v1/namespaces/sluice-node-lease/leases"
NODES = ["n1", "n2", "n3", "n4"]


class Agents(threading.Thread):
    """Fake node agents: renew the leases of the alive nodes and act as the
    kubelet of their pods (Running, Ready, an IP from the podCIDR)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.api = Api(port)
        self.alive = set(NODES)
        self.stop = False
        self.next_ip = {}

    def renew(self, n):
        lease = self.api.get(LEASES + "/" + n)
        if lease is None:
            return
        lease["spec"]["renewTime"] = now_rfc3339()
        self.api.req("PUT", LEASES + "/" + n, lease)

    def kubelet(self):
        pods = self.api.get("/api/v1/pods")
        nodes = {n["metadata"]["name"]: n for n in (self.api.get("/api/v1/nodes") or {}).get("items", [])}
        for p in (pods or {}).get("items", []):
            node = p["spec"].get("nodeName")
            if node not in self.alive:
                continue
            st = p.get("status") or {}
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in st.get("conditions", [])):
                continue
            cidr = nodes.get(node, {}).get("spec", {}).get("podCIDR")
            if not cidr:
                continue
            k = self.next_ip.get(node, 2)
            self.next_ip[node] = k + 1
            st["phase"] = "Running"
            st["podIP"] = str(ipaddress.ip_network(cidr)[k])
            st["conditions"] = [c for c in st.get("conditions", []) if c.get("type") != "Ready"]
            st["conditions"].append({"type": "Ready", "status": "True"})
            p["status"] = st
            ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
            self.api.req("PUT", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name), p)

    def run(self):
        while not self.stop:
            for n in sorted(self.alive):
                self.renew(n)
            self.kubelet()
            time.sleep(0.7)


def pods(api, ns="default", label=None):
    q = "/api/v1/namespaces/%s/pods" % ns
    if label:
        q += "?labelSelector=" + label
    b = api.get(q)
    return b["items"] if b else []


def master_flags():
    """Short lifecycle timers for the masters' own controllers, when this
    sluice-ctrl has the flags."""
    h = subprocess.run([CTRL, "--role=master", "--help"], capture_output=True, text=True).stdout
    if "--node-grace-seconds" not in h:
        return []
    return ["--node-grace-seconds", "3", "--pod-eviction-timeout", "6"]


def start_masters(controllers, extra=()):
    members = ";".join("%d=m%d,tcp://127.0.0.1:%d,https://127.0.0.1:%d" %
                       (i, i, BASE + i, BASE + 10 + i) for i in range(1, NMASTERS + 1))
    subprocess.run([CTRL, "init", "--dir", os.path.join(WORK, "pki"), "--members", members],
                   check=True, stdout=subprocess.DEVNULL)
    masters = {}
    for i in range(1, NMASTERS + 1):
        masters[i] = start("m%d" % i, [CTRL, "--role=master", "--name", "m%d" % i,
                                       "--data-dir", os.path.join(WORK, "d%d" % i),
                                       "--pki-dir", os.path.join(WORK, "pki"), "--members", members,
                                       "--api-listen", "127.0.0.1:%d" % (BASE + 10 + i),
                                       "--election-timeout-ms", "500", "--heartbeat-ms", "50"]
                           + ([] if controllers else ["--no-controllers"]) + list(extra))
    return masters


def register_nodes(api, names):
    for n in names:
        st, _ = api.req("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": n},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}})
        if st != 201:
            fail("create node %s: HTTP %d" % (n, st))
        st, _ = api.req("POST", LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": n, "namespace": "sluice-node-lease"},
            "spec": {"holderIdentity": n, "renewTime": now_rfc3339(),
                     "leaseDurationSeconds": 3}})
        if st != 201:
            fail("create lease %s: HTTP %d" % (n, st))


def web_deployment(replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "srv:1",
                                                           "ports": [{"containerPort": 8080}],
                                                           "resources": {"requests": {"cpu": "100m"}}}]}}}}


def spread(ps):
    per = {}
    for p in ps:
        per[p["spec"]["nodeName"]] = per.get(p["spec"]["nodeName"], 0) + 1
    return per


def embedded_partition(api, agents, leader, bound):
    """2 of 3 nodes stop renewing: more than half look dead, so the leader
    assumes it is the one cut off and evicts nothing; when one comes back,
    only the other is evicted and its pods move."""
    agents.alive -= {"n2", "n3"}

    def not_ready(n):
        node = api.get("/api/v1/nodes/" + n) or {}
        return any(c["type"] == "Ready" and c["status"] != "True"
                   for c in node.get("status", {}).get("conditions", []))
    wait_until("n2 and n3 NotReady", lambda: not_ready("n2") and not_ready("n3"), 20)
    time.sleep(9)  # past grace + eviction timeout
    on = spread(pods(api, label="app%3Dweb"))
    if on.get("n2", 0) != 3 or on.get("n3", 0) != 3:
        fail("pods evicted while 2 of 3 nodes were stale: %s" % on)
    with open(LOGS["m%d" % leader]) as f:
        if "assuming a partition" not in f.read():
            fail("m%d did not log the partition" % leader)
    log("embedded: 2 of 3 nodes stale: nothing evicted, partition logged")
    agents.alive.add("n2")
    def moved():
        ps = bound(9)
        return ps if ps and "n3" not in spread(ps) else None
    ps = wait_until("n3's pods moved once only n3 is stale", moved, 40)
    log("embedded: n2 back: n3 evicted, pods now %s" % spread(ps))


def main_embedded():
    """The masters' own controllers, across a leader change."""
    flags = master_flags()
    masters = start_masters(True, flags)
    ports = [BASE + 10 + i for i in range(1, NMASTERS + 1)]
    api = Api(ports)
    wait_until("a leader", lambda: (api.get("/cluster/status") or {}).get("leader", 0) > 0)
    register_nodes(api, NODES[:3])
    agents = Agents(ports)
    agents.alive = set(NODES[:3])
    agents.start()
    if api.req("POST", "/apis/apps/v1/namespaces/default/deployments", web_deployment(6))[0] != 201:
        fail("create deployment")

    def bound(n):
        ps = pods(api, label="app%3Dweb")
        return ps if len(ps) == n and all(p["spec"].get("nodeName") for p in ps) else None
    ps = wait_until("6 pods bound by the leader's controllers", lambda: bound(6))
    if sorted(spread(ps).values()) != [2, 2, 2]:
        fail("not spread 2 per node: %s" % spread(ps))
    leader = api.get("/cluster/status")["leader"]
    log("embedded: leader m%d's orch bound 6 pods %s" % (leader, spread(ps)))
    masters[leader].kill()
    masters[leader].wait()
    api.ports = [p for p in ports if p != BASE + 10 + leader]
    api.port, api.conn = api.ports[0], None
    agents.api.ports, agents.api.port, agents.api.conn = api.ports, api.ports[0], None
    new = wait_until("a new leader", lambda: (lambda l: l if l and l != leader else None)(
        (api.get("/cluster/status") or {}).get("leader", 0)))
    cur = api.get("/apis/apps/v1/namespaces/default/deployments/web")
    cur["spec"]["replicas"] = 9
    if api.req("PUT", "/apis/apps/v1/namespaces/default/deployments/web", cur)[0] != 200:
        fail("scale deployment")
    ps = wait_until("9 pods bound by the new leader's controllers", lambda: bound(9), 40)
    time.sleep(1.5)
    if len(pods(api, label="app%3Dweb")) != 9:
        fail("more than 9 pods after the scale-up")
    log("embedded: m%d killed, m%d leads; its orch scaled to 9 pods %s" % (leader, new, spread(ps)))
    if flags:
        embedded_partition(api, agents, new, bound)
    # IPAM across the leader change: the new leader claimed the blocks the
    # Nodes hold before giving n4 one, so all four differ.
    register_nodes(api, ["n4"])

    def four_cidrs():
        c = [(n["metadata"]["name"], n.get("spec", {}).get("podCIDR"))
             for n in (api.get("/api/v1/nodes") or {}).get("items", [])]
        return c if len(c) == 4 and all(x for _, x in c) else None
    c = wait_until("a podCIDR for n4 from the new leader", four_cidrs)
    if len({x for _, x in c}) != 4:
        fail("duplicate podCIDR after the leader change: %s" % c)
    log("embedded: n4 registered after the leader change: %s" % dict(c))
    agents.stop = True
    log("PASS")


def main():
    if EMBEDDED:
        return main_embedded()
    # --- masters
    start_masters(False)
    api = Api(BASE + 11)
    wait_until("a leader", lambda: (api.get("/cluster/status") or {}).get("leader", 0) > 0)
    conf = os.path.join(WORK, "pki/admin.conf")

    # --- fake agents register their nodes
    register_nodes(api, NODES)
    agents = Agents(BASE + 11)
    agents.start()

    orch_args = ["--config", conf, "--grace", "3", "--evict-timeout", "6",
                 "--evict-rate", "10", "--cluster-cidr", "10.77.0.0/16"]
    a = start("orchA", [ORCH, "--name", "orchA"] + orch_args)

    # 1. IPAM
    def cidrs():
        b = api.get("/api/v1/nodes")
        c = [n.get("spec", {}).get("podCIDR") for n in b["items"]] if b else []
        return c if len(c) == 4 and all(c) else None
    c = wait_until("a podCIDR on every node", cidrs)
    if len(set(c)) != 4 or not all(ipaddress.ip_network(x).subnet_of(
            ipaddress.ip_network("10.77.0.0/16")) and x.endswith("/24") for x in c):
        fail("podCIDRs not distinct /24s of 10.77.0.0/16: %s" % c)
    log("1. IPAM: %s" % ", ".join(sorted(c)))

    # 2. Deployment: bound and spread
    dep = web_deployment(8)
    st, _ = api.req("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    if st != 201:
        fail("create deployment: HTTP %d" % st)

    def bound(n, exclude=()):
        ps = pods(api, label="app%3Dweb")
        ok = [p for p in ps if p["spec"].get("nodeName") and p["spec"]["nodeName"] not in exclude]
        return ps if len(ps) == n and len(ok) == n else None
    ps = wait_until("8 web pods bound", lambda: bound(8))
    per = spread(ps)
    if sorted(per.values()) != [2, 2, 2, 2]:
        fail("pods not spread 2 per node: %s" % per)
    wait_until("Deployment status readyReplicas 8", lambda: (api.get(
        "/apis/apps/v1/namespaces/default/deployments/web") or {}).get("status", {}).get(
        "readyReplicas") == 8)
    log("2. deployment: 8 pods bound, spread %s, status 8 ready" % per)

    # 3. Endpoints
    st, _ = api.req("POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    if st != 201:
        fail("create service: HTTP %d" % st)

    def ep_ips():
        ep = api.get("/api/v1/namespaces/default/endpoints/web")
        ips = sorted(a["ip"] for s in (ep or {}).get("subsets", []) for a in s.get("addresses", []))
        want = sorted(p["status"].get("podIP", "") for p in pods(api, label="app%3Dweb"))
        return ips if ips == want and len(ips) == 8 and ep["subsets"][0]["ports"][0]["port"] == 8080 else None
    ips = wait_until("Endpoints with the 8 pod IPs", ep_ips)
    log("3. endpoints: %s" % " ".join(ips))

    # 4. n4 stops renewing: NotReady, tainted, evicted, pods recreated elsewhere
    t0 = time.time()
    agents.alive.discard("n4")

    def n4_not_ready():
        n = api.get("/api/v1/nodes/n4")
        ready = [c for c in n["status"].get("conditions", []) if c["type"] == "Ready"]
        taints = n.get("spec", {}).get("taints", [])
        return ready and ready[0]["status"] != "True" and any(
            t["key"] == "node.kubernetes.io/unreachable" and t["effect"] == "NoExecute"
            for t in taints)
    wait_until("n4 NotReady and tainted", n4_not_ready, 20)
    t1 = time.time()
    ps = wait_until("8 pods bound off n4", lambda: bound(8, exclude=("n4",)), 40)
    t2 = time.time()
    log("4. n4 lease stopped: NotReady after %.1fs, pods recreated on %s after %.1fs" %
        (t1 - t0, sorted({p["spec"]["nodeName"] for p in ps}), t2 - t0))
    agents.alive.add("n4")
    wait_until("n4 Ready again, untainted", lambda: not n4_not_ready() and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in api.get("/api/v1/nodes/n4")["status"]["conditions"]), 20)
    log("4. n4 renewing again: Ready, taint removed")

    # 5. Rollout
    cur = api.get("/apis/apps/v1/namespaces/default/deployments/web")
    old_hash = {p["metadata"]["labels"]["pod-template-hash"] for p in ps}
    cur["spec"]["template"]["spec"]["containers"][0]["image"] = "srv:2"
    st, _ = api.req("PUT", "/apis/apps/v1/namespaces/default/deployments/web", cur)
    if st != 200:
        fail("update deployment: HTTP %d" % st)
    peak = [0]

    def rolled():
        ps = pods(api, label="app%3Dweb")
        peak[0] = max(peak[0], len(ps))
        new = [p for p in ps if p["metadata"]["labels"]["pod-template-hash"] not in old_hash
               and p["spec"].get("nodeName")]
        return len(ps) == 8 and len(new) == 8
    wait_until("rollout to srv:2", rolled, 60)
    if peak[0] > 10:
        fail("rollout ran %d pods at once (maxSurge 25%% of 8 allows 10)" % peak[0])
    log("5. rollout: 8 pods replaced, at most %d at once" % peak[0])
    wait_until("Endpoints follow the rollout", ep_ips, 30)

    # 5b. A deleted Node: its pods are deleted after the grace period and
    # recreated on the others (pod garbage collection).
    on_n3 = len([p for p in pods(api, label="app%3Dweb") if p["spec"].get("nodeName") == "n3"])
    agents.alive.discard("n3")
    if api.req("DELETE", "/api/v1/nodes/n3")[0] != 200:
        fail("delete node n3")
    ps = wait_until("8 pods bound off the deleted n3", lambda: bound(8, exclude=("n3",)), 30)
    log("5b. node n3 deleted: its %d pod(s) recreated on %s" %
        (on_n3, sorted({p["spec"]["nodeName"] for p in ps})))
    # 5c. Deleting the Deployment deletes its pods, and deleting the
    # Service its Endpoints (garbage collection).
    if api.req("DELETE", "/apis/apps/v1/namespaces/default/deployments/web")[0] != 200:
        fail("delete deployment")
    wait_until("the deleted Deployment's pods gone", lambda: not pods(api, label="app%3Dweb"), 30)
    if api.req("DELETE", "/api/v1/namespaces/default/services/web")[0] != 200:
        fail("delete service")
    wait_until("the deleted Service's Endpoints gone", lambda: api.req(
        "GET", "/api/v1/namespaces/default/endpoints/web")[0] == 404, 20)
    log("5c. deployment deleted: its pods deleted; service deleted: its endpoints deleted")
    ca = stop_orch(a, "orchA")
    log("   orchA counters: %s" % ca)

    # 6. Two competing schedulers
    a2 = start("orchA2", [ORCH, "--name", "orchA2"] + orch_args)
    b2 = start("orchB2", [ORCH, "--name", "orchB2"] + orch_args)
    time.sleep(1.5)
    for i in range(60):
        st, _ = api.req("POST", "/api/v1/namespaces/race/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "race-%d" % i},
            "spec": {"containers": [{"name": "c", "image": "x"}]}})
        if st != 201:
            fail("create race-%d: HTTP %d" % (i, st))
    wait_until("60 race pods bound", lambda: len([p for p in pods(api, "race")
                                                   if p["spec"].get("nodeName")]) == 60, 60)
    first = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(api, "race")}
    time.sleep(1)
    ca2, cb2 = stop_orch(a2, "orchA2"), stop_orch(b2, "orchB2")
    again = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(api, "race")}
    if first != again:
        fail("a race pod changed node after binding")
    total = ca2["bound"] + cb2["bound"]
    if total != 60:
        fail("bindings accepted: %d + %d = %d, want exactly 60" % (ca2["bound"], cb2["bound"], total))
    log("6. two schedulers: %d + %d bindings = 60 pods, each once; %d + %d conflicts (409)" %
        (ca2["bound"], cb2["bound"], ca2["bind_conflicts"], cb2["bind_conflicts"]))

    # 7. Leadership gating
    lf = os.path.join(WORK, "leader")
    open(lf, "w").close()
    g = start("orchG", [ORCH, "--name", "orchG", "--leader-file", lf] + orch_args)
    api.req("POST", "/api/v1/namespaces/gate/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "g1"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}})
    wait_until("g1 bound while leading", lambda: (api.get(
        "/api/v1/namespaces/gate/pods/g1") or {}).get("spec", {}).get("nodeName"))
    os.unlink(lf)
    time.sleep(1)  # the orch thread checks at least every 100 ms
    api.req("POST", "/api/v1/namespaces/gate/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "g2"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}})
    time.sleep(2.5)
    if api.get("/api/v1/namespaces/gate/pods/g2")["spec"].get("nodeName"):
        fail("g2 was bound by an orch that is not leading")
    open(lf, "w").close()
    wait_until("g2 bound after leadership came back", lambda: (api.get(
        "/api/v1/namespaces/gate/pods/g2") or {}).get("spec", {}).get("nodeName"))
    log("7. leadership gating: nothing bound while not leading; bound once leading again")

    # 8. FailedScheduling
    api.req("POST", "/api/v1/namespaces/gate/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge"},
        "spec": {"containers": [{"name": "c", "image": "x",
                                 "resources": {"requests": {"cpu": "1000"}}}]}})

    def failed():
        p = api.get("/api/v1/namespaces/gate/pods/huge") or {}
        for c in p.get("status", {}).get("conditions", []):
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                return c
        return None
    c = wait_until("PodScheduled False on the huge pod", failed)
    if c.get("reason") != "Unschedulable" or c.get("message") != \
            "0/3 nodes are available: 3 Insufficient cpu.":
        fail("condition %s" % c)
    log("8. FailedScheduling: %s" % c["message"])
    stop_orch(g, "orchG")
    agents.stop = True
    log("PASS")


try:
    main()
except SystemExit:
    raise
except BaseException as e:  # noqa: B902 - any error is a failure with logs
    fail("%s: %s" % (type(e).__name__, e))
cleanup()
