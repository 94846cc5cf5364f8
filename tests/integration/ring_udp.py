#!/usr/bin/env python3
"""Sequence-numbered UDP stream for the ring integration tests.

  ring_udp.py send DST PORT RATE SECONDS     print the number sent
  ring_udp.py recv BIND PORT OUT             until END (or 120 s idle), JSON to OUT
  ring_udp.py sniff IFACE PORT OUT SECONDS   count frames to UDP PORT seen on IFACE

The receiver counts losses itself (what was sent comes in the END
marker), so loss is measured at the far side, not inferred from exit codes.
It also records the longest silence between two datagrams, which is how
long forwarding was interrupted.
"""
import json
import socket
import struct
import sys
import time


def send(dst, port, rate, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = 1.0 / rate
    n = 0
    start = time.monotonic()
    end = start + seconds
    nxt = start
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now < nxt:
            time.sleep(nxt - now)
        n += 1
        s.sendto(b"SEQ %d" % n, (dst, port))
        nxt += interval
    for _ in range(5):
        s.sendto(b"END %d" % n, (dst, port))
        time.sleep(0.05)
    print(n)


def recv(bind, port, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((bind, port))
    s.settimeout(120)
    seen = set()
    dups = bad = 0
    sent = None
    last = None
    max_gap = 0.0
    max_gap_at = 0
    first = None
    while True:
        try:
            b, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        now = time.monotonic()
        parts = b.split()
        if len(parts) != 2 or parts[0] not in (b"SEQ", b"END"):
            bad += 1
            continue
        if parts[0] == b"END":
            sent = int(parts[1])
            break
        seq = int(parts[1])
        if seq in seen:
            dups += 1
        seen.add(seq)
        if first is None:
            first = now
        if last is not None and now - last > max_gap:
            max_gap = now - last
            max_gap_at = seq
        last = now
    res = {
        "sent": sent,
        "received": len(seen),
        "lost": (sent - len(seen)) if sent is not None else None,
        "dups": dups,
        "bad": bad,
        "max_gap_ms": round(max_gap * 1000, 1),
        "max_gap_before_seq": max_gap_at,
    }
    with open(out, "w") as f:
        json.dump(res, f)


def sniff(iface, port, out, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    hits = 0
    while time.monotonic() < end:
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        if len(f) < 14 + 20 + 8 or f[14 + 9] != 17:
            continue
        ihl = (f[14] & 0xF) * 4
        dport = struct.unpack("!H", f[14 + ihl + 2:14 + ihl + 4])[0]
        if dport == port:
            hits += 1
    with open(out, "w") as f:
        json.dump({"hits": hits}, f)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "recv":
        recv(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "sniff":
        sniff(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit("usage: ring_udp.py send|recv|sniff ...")
