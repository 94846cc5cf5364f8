#!/usr/bin/env python3
"""fake_api.py: a small in-memory stand-in for a sluice master's HTTPS API
(docs/api.md), for the apic and CLI tests that must not need a Raft cluster.

It serves HTTPS with a client certificate required (like the masters), keeps
objects in a dict with a revision counter, and implements get/list/watch/
create/update/delete with the same Status errors (404, 409 AlreadyExists,
409 Conflict, 422 Invalid, 400), label and field selectors, /cluster/status
and /healthz. Knobs for failure paths:
  --no-leader     every answer is 503 NoLeader (a master cut from quorum)
  --chunk N       watch output is written in N-byte pieces, so event lines
                  straddle chunk boundaries
  /_test/badwatch a watch stream with one good event, then a line of garbage
  /_test/hang     accepts the request and never answers
  /_test/nasty    a 400 Status whose message holds an escape and a newline
  /_test/conns    {"connections": N, "watches": W, "conflicts": C}: TLS
                  connections accepted, watch requests served, injected
                  conflicts still to come
  POST /_test/conflicts {"n": N}: the next N updates (PUT) fail with 409
                  Conflict, as if another client had written just before
  --watch-seconds N  a watch stream ends (cleanly) after N seconds

  fake_api.py --certs DIR [--port 0] --port-file FILE [--no-leader] [--chunk N]
--certs DIR makes (once) ca.crt, server.{crt,key}, admin.{crt,key} and
rogue.{crt,key} (signed by another CA) with openssl.
"""
import argparse
import ctypes
import http.server
import json
import os
import re
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

# resource -> (kind, namespaced)
RESOURCES = {
    "pods": ("Pod", True), "services": ("Service", True),
    "endpoints": ("Endpoints", True), "nodes": ("Node", False),
    "deployments": ("Deployment", True), "leases": ("Lease", True),
}
GROUPS = {"deployments": "apps/v1", "leases": "coordination.k8s.io/v1"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "admin.key")):
        return

    def run(*a):
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def p(n):
        return os.path.join(d, n)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "rogue-ca"):
        run("openssl", "req", "-x509", *ec, "-keyout", p(ca + ".key"), "-out", p(ca + ".crt"),
            "-subj", "/CN=" + ca, "-days", "2")
    ext = p("san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn, ca in (("server", "master:m1", "ca"), ("admin", "admin", "ca"),
                         ("rogue", "admin", "rogue-ca")):
        run("openssl", "req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
            "-subj", "/CN=" + cn)
        args = ["openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"),
                "-CAkey", p(ca + ".key"), "-CAcreateserial", "-out", p(name + ".crt"),
                "-days", "2"]
        if name == "server":
            args += ["-extfile", ext]
        run(*args)


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rev = 1
        self.objs = {}     # (res, ns, name) -> obj
        self.events = []   # (rev, type, res, ns, obj)

    def commit(self, etype, res, ns, obj):
        """Caller holds the lock."""
        self.rev += 1
        obj["metadata"]["resourceVersion"] = str(self.rev)
        self.events.append((self.rev, etype, res, ns, json.loads(json.dumps(obj))))
        self.lock.notify_all()


def field_of(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def matches(obj, q):
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, q.get("labelSelector", [""])[0].split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term not in labels:
            return False
    for term in filter(None, q.get("fieldSelector", [""])[0].split(",")):
        neg = "!=" in term
        k, v = term.split("!=" if neg else "=", 1)
        if (field_of(obj, k) == v) == neg:
            return False
    return True


def parse_path(path):
    """-> (res, ns or None, name or None, sub or None) or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        rest = parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns = rest[1]
        rest = rest[2:]
    if not rest or rest[0] not in RESOURCES or len(rest) > 3:
        return None
    res = rest[0]
    if RESOURCES[res][1] is False and ns is not None:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    return res, ns, name, sub


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if self.server.verbose:
            sys.stderr.write("fake_api: " + (fmt % a) + "\n")

    def send_json(self, code, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, reason, msg):
        self.send_json(code, status(code, reason, msg))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            self.rfile.read(n)
            return None, (413, "RequestEntityTooLarge", "body over 1 MiB")
        raw = self.rfile.read(n)
        try:
            obj = json.loads(raw)
        except ValueError as e:
            return None, (400, "BadRequest", "body is not JSON: %s" % e)
        if not isinstance(obj, dict):
            return None, (400, "BadRequest", "body must be a JSON object")
        return obj, None

    def handle_any(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if self.server.no_leader:
            if method in ("POST", "PUT"):
                self.body()
            return self.fail(503, "NoLeader", "no leader: this master is not in a quorum")
        if u.path == "/healthz":
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            return self.wfile.write(data)
        if u.path == "/cluster/status":
            return self.send_json(200, self.server.cluster_status())
        if u.path == "/_test/conns":
            return self.send_json(200, {"connections": self.server.conns,
                                        "watches": self.server.watches,
                                        "conflicts": self.server.conflicts})
        if u.path == "/_test/conflicts" and method == "POST":
            obj, err = self.body()
            if err or not isinstance(obj.get("n"), int):
                return self.fail(400, "BadRequest", "want {\"n\": N}")
            self.server.conflicts = obj["n"]
            return self.send_json(200, {"conflicts": self.server.conflicts})
        if u.path == "/_test/hang":
            time.sleep(30)
            return
        if u.path == "/_test/badwatch":
            return self.stream([b'{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a"}}}\n',
                                b'{"type":"ADDED","object":\n'], close=False)
        if u.path == "/_test/nasty":
            return self.fail(400, "BadRequest", "bad\x1b[31m red\nsecond line")
        if u.path == "/_test/notobject":
            return self.stream([b'["type","ADDED"]\n'], close=False)
        p = parse_path(u.path)
        if p is None:
            return self.fail(404, "NotFound", "no such path %s" % u.path)
        res, ns, name, sub = p
        st = self.server.store
        if method == "GET" and name is None:
            if q.get("watch", ["0"])[0] in ("1", "true"):
                return self.watch(res, ns, q)
            return self.list(res, ns, q)
        if name is None and method != "POST":
            return self.fail(405, "MethodNotAllowed", "%s not allowed on a collection" % method)
        if name is not None and method == "POST" and sub != "binding":
            return self.fail(405, "MethodNotAllowed", "POST not allowed on an object")
        kind = RESOURCES[res][0]
        if method == "GET":
            with st.lock:
                o = st.objs.get((res, ns, name))
            if o is None:
                return self.fail(404, "NotFound", '%s "%s" not found' % (res, name))
            return self.send_json(200, o)
        if method == "DELETE":
            with st.lock:
                o = st.objs.get((res, ns, name))
                if o is None:
                    return self.fail(404, "NotFound", '%s "%s" not found' % (res, name))
                want = q.get("resourceVersion", [None])[0]
                if want is not None and want != o["metadata"]["resourceVersion"]:
                    return self.fail(409, "Conflict", "resourceVersion %s is stale" % want)
                del st.objs[(res, ns, name)]
                st.commit("DELETED", res, ns, o)
            return self.send_json(200, o)
        obj, err = self.body()
        if err:
            return self.fail(*err)
        md = obj.get("metadata")
        if not isinstance(md, dict) or not isinstance(md.get("name"), str):
            return self.fail(422, "Invalid", "metadata.name: Required value")
        if not NAME_RE.match(md["name"]):
            return self.fail(422, "Invalid", 'metadata.name: Invalid value: "%s"' % md["name"])
        if obj.get("kind") not in (None, kind):
            return self.fail(400, "BadRequest", "kind %s does not match %s" % (obj.get("kind"), res))
        if kind == "Pod" and not isinstance(obj.get("spec", {}).get("containers", [{}]), list):
            return self.fail(422, "Invalid", "spec.containers: must be a list")
        obj["kind"] = kind
        obj["apiVersion"] = GROUPS.get(res, "v1")
        if RESOURCES[res][1]:
            if md.get("namespace") not in (None, ns):
                return self.fail(400, "BadRequest", "metadata.namespace does not match the path")
            md["namespace"] = ns
        with st.lock:
            if method == "POST":
                key = (res, ns, md["name"])
                if key in st.objs:
                    return self.fail(409, "AlreadyExists", '%s "%s" already exists' % (res, md["name"]))
                md["uid"] = str(uuid.uuid4())
                md["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                st.objs[key] = obj
                st.commit("ADDED", res, ns, obj)
                return self.send_json(201, obj)
            # PUT
            if md["name"] != name:
                return self.fail(400, "BadRequest", "metadata.name does not match the path")
            cur = st.objs.get((res, ns, name))
            if cur is None:
                return self.fail(404, "NotFound", '%s "%s" not found' % (res, name))
            rv = md.get("resourceVersion")
            if not isinstance(rv, str):
                return self.fail(422, "Invalid", "metadata.resourceVersion: Required value")
            if self.server.conflicts > 0:
                # Another writer got there first: its write bumps the revision.
                self.server.conflicts -= 1
                st.commit("MODIFIED", res, ns, cur)
            if rv != cur["metadata"]["resourceVersion"]:
                return self.fail(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                                 "the object has been modified" % (res, name))
            if sub == "status":
                new = json.loads(json.dumps(cur))
                new["status"] = obj.get("status")
                obj = new
            else:
                md["uid"] = cur["metadata"].get("uid")
                md["creationTimestamp"] = cur["metadata"].get("creationTimestamp")
            st.objs[(res, ns, name)] = obj
            st.commit("MODIFIED", res, ns, obj)
            return self.send_json(200, obj)

    def list(self, res, ns, q):
        st = self.server.store
        with st.lock:
            items = [o for (r, n, _), o in sorted(st.objs.items())
                     if r == res and (ns is None or n == ns) and matches(o, q)]
            rev = st.rev
        self.send_json(200, {"kind": RESOURCES[res][0] + "List",
                             "apiVersion": GROUPS.get(res, "v1"),
                             "metadata": {"resourceVersion": str(rev)}, "items": items})

    def stream(self, lines, close=True, source=None):
        """Chunked response; lines is a list, or source() yields lines."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = self.server.chunk

        def put(data):
            for i in range(0, len(data), step or len(data) or 1):
                piece = data[i:i + step] if step else data
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                if step:
                    time.sleep(0.002)
        try:
            for line in lines:
                put(line)
            if source:
                for line in source():
                    put(line)
            if close:
                self.wfile.write(b"0\r\n\r\n")
            else:
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True

    def watch(self, res, ns, q):
        st = self.server.store
        with self.server.conns_lock:
            self.server.watches += 1
        try:
            since = int(q.get("resourceVersion", ["0"])[0] or 0)
        except ValueError:
            return self.fail(400, "BadRequest", "resourceVersion must be an integer")
        if since == 0:
            with st.lock:
                since = st.rev
        if since < self.server.compacted:
            line = json.dumps({"type": "ERROR", "object": status(
                410, "Expired", "too old resource version: %d (%d)" % (since, self.server.compacted))})
            return self.stream([line.encode() + b"\n"])

        def source():
            pos = since
            deadline = time.time() + self.server.watch_seconds
            while time.time() < deadline:
                out = []
                with st.lock:
                    evs = [e for e in st.events if e[0] > pos]
                    if not evs:
                        st.lock.wait(0.2)
                        continue
                pos = evs[-1][0]
                for rev, et, r, n, o in evs:
                    if r == res and (ns is None or n == ns) and matches(o, q):
                        out.append((json.dumps({"type": et, "object": o}) + "\n").encode())
                if out:
                    yield b"".join(out)
        self.stream([], source=source)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # Handshake in the connection's thread, so a stuck client cannot
        # hold up accept() for everyone.
        try:
            request.settimeout(10)
            conn = self.ctx.wrap_socket(request, server_side=True)
            conn.settimeout(None)
            with self.conns_lock:
                self.conns += 1
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write("fake_api: handshake: %s\n" % e)
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def cluster_status(self):
        port = self.server_address[1]
        return {"members": [
            {"id": 1, "name": "m1", "peerURL": "tcp://127.0.0.1:7001",
             "apiURL": "https://127.0.0.1:%d" % port, "health": "ok", "role": "leader"},
            {"id": 2, "name": "m2", "peerURL": "tcp://127.0.0.1:7002",
             "apiURL": "https://127.0.0.1:1", "health": "ok", "role": "follower"},
            {"id": 3, "name": "m3", "peerURL": "tcp://127.0.0.1:7003",
             "apiURL": "https://127.0.0.1:2", "health": "unreachable", "role": "follower"}],
            "leader": 1, "term": 4, "commitIndex": 120, "appliedIndex": 120,
            "revision": self.store.rev, "self": 1}


def print_stat(url, certs, conflicts=None):
    import http.client
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
    ctx.load_cert_chain(os.path.join(certs, "admin.crt"), os.path.join(certs, "admin.key"))
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    if conflicts is not None:
        c.request("POST", "/_test/conflicts", body=json.dumps({"n": conflicts}))
        c.getresponse().read()
    c.request("GET", "/_test/conns")
    print(c.getresponse().read().decode().strip())


def die_with_parent():
    """A test that fails half-way (cmocka longjmps past its teardown) must
    not leave us running: meson waits for our inherited stdout to close."""
    ppid = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != ppid:  # the parent died before prctl took effect
        sys.exit(0)


def main():
    die_with_parent()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--certs", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--no-leader", action="store_true")
    ap.add_argument("--chunk", type=int, default=0)
    ap.add_argument("--compacted", type=int, default=0,
                    help="watches from below this revision get a 410 ERROR event")
    ap.add_argument("--watch-seconds", type=float, default=60)
    ap.add_argument("--stat", metavar="URL",
                    help="print /_test/conns of a running fake_api.py and exit")
    ap.add_argument("--set-conflicts", type=int, metavar="N",
                    help="with --stat: first make the next N updates conflict")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    make_certs(a.certs)
    if a.stat:
        return print_stat(a.stat, a.certs, a.set_conflicts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(a.certs, "server.crt"), os.path.join(a.certs, "server.key"))
    ctx.load_verify_locations(os.path.join(a.certs, "ca.crt"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.ctx = ctx
    srv.store = Store()
    srv.no_leader = a.no_leader
    srv.chunk = a.chunk
    srv.compacted = a.compacted
    srv.verbose = a.verbose
    srv.watch_seconds = a.watch_seconds
    srv.conns = 0
    srv.watches = 0
    srv.conflicts = 0
    srv.conns_lock = threading.Lock()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
