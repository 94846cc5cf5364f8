#!/usr/bin/env python3
"""Query a DPDK process's telemetry socket and print the JSON reply.

Usage: dp_tel.py FILE_PREFIX COMMAND [--get a.b.c] [--runtime-dir DIR] [--timeout S]

DPDK 22.11 serves telemetry on a SOCK_SEQPACKET unix socket,
<runtime dir>/<file prefix>/dpdk_telemetry.v2; on connect it sends one JSON
greeting, then answers each command with one JSON object keyed by the
command. With --get, only the value at that dotted path inside the reply is
printed (numbers plain, objects as JSON), so shell scripts can read one
counter without jq. Exits 1 if the socket is absent or the reply is not JSON.
"""
import json
import os
import socket
import sys


def query(prefix, cmd, runtime_dir="/var/run/dpdk", timeout=3.0):
    path = os.path.join(runtime_dir, prefix, "dpdk_telemetry.v2")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
        greeting = json.loads(s.recv(65536).decode())
        bufsz = int(greeting.get("max_output_len", 16384)) + 1024
        s.send(cmd.encode())
        reply = json.loads(s.recv(bufsz).decode())
    finally:
        s.close()
    # The reply is {"/cmd": value}; unwrap it so callers see the value.
    if isinstance(reply, dict) and len(reply) == 1:
        return next(iter(reply.values()))
    return reply


def main(argv):
    args = argv[1:]
    get = None
    rdir = "/var/run/dpdk"
    timeout = 3.0
    if "--get" in args:
        i = args.index("--get")
        get = args[i + 1]
        del args[i:i + 2]
    if "--runtime-dir" in args:
        i = args.index("--runtime-dir")
        rdir = args[i + 1]
        del args[i:i + 2]
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        v = query(args[0], args[1], rdir, timeout)
    except (OSError, ValueError) as e:
        print("dp_tel: %s: %s" % (args[1], e), file=sys.stderr)
        return 1
    if get:
        for k in get.split("."):
            if isinstance(v, list):
                v = v[int(k)]
            elif isinstance(v, dict) and k in v:
                v = v[k]
            else:
                print("dp_tel: no %s in reply" % get, file=sys.stderr)
                return 1
    print(v if isinstance(v, (int, float, str)) else json.dumps(v, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
