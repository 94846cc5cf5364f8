#!/usr/bin/env python3
"""Send malformed frames into sluice-dp and check each is counted as the
right drop reason.

Runs inside a pod's network namespace (the frames leave its interface and
arrive on dp's port for that pod). For every case it reads dp's
/sluice/stats over DPDK telemetry, sends the case's frame COUNT times on a
raw AF_PACKET socket (bytes exactly as built, no kernel stack involved),
waits until dp's rx counter has moved past them, reads the stats again and
compares every drop_* counter's delta (and the named events) with what the
case expects. Any mismatch fails the case with the full delta.

Usage: pkt_craft.py --prefix FILE_PREFIX --iface eth0 --src-mac M --gw-mac M
                    --src-ip A --dst-ip B [--count N]
Prints one line per case and "malformed: N cases, M failed"; exits 1 on any
failure. Frames are built with scapy (Debian's python3-scapy).
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_tel  # noqa: E402

from scapy.layers.l2 import ARP, Dot1Q, Ether  # noqa: E402
from scapy.layers.inet import ICMP, IP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.packet import Raw  # noqa: E402


def counters(reply):
    """Flatten /sluice/stats into {name: total}.

    Leaves named the same at different places (per-lcore blocks) are
    summed, except that a block named "total" is preferred when present so
    totals are not counted twice.
    """
    if isinstance(reply, dict) and isinstance(reply.get("total"), dict):
        reply = reply["total"]
    out = {}

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, (int, float)) and not isinstance(x, bool):
                    out[k] = out.get(k, 0) + x
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(reply)
    return out


def build_cases(a):
    gw, me = a.gw_mac, a.src_mac
    E = Ether(dst=gw, src=me)
    ip_ok = IP(src=a.src_ip, dst=a.dst_ip, ttl=64) / UDP(sport=4000, dport=4001) / Raw(b"x" * 18)
    good = bytes(E / ip_ok)
    eth_ip = bytes(E)[:12] + b"\x08\x00"
    eth_arp = bytes(E)[:12] + b"\x08\x06"

    def ip_bytes(**kw):
        return bytes(IP(src=a.src_ip, dst=a.dst_ip, **kw) / UDP(sport=4000, dport=4001) / Raw(b"y" * 18))

    def patch(b, off, val):
        b = bytearray(b)
        b[off:off + len(val)] = val
        return bytes(b)

    def fix_csum(hdr):
        # Recompute the IPv4 header checksum over the header as it is, so
        # a case tests the one lie it names and not a checksum error.
        h = bytearray(hdr)
        ihl = (h[0] & 0xF) * 4
        n = max(20, min(ihl, len(h)))
        h[10:12] = b"\0\0"
        s = 0
        for i in range(0, n, 2):
            s += (h[i] << 8) + (h[i + 1] if i + 1 < n else 0)
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        h[10:12] = (~s & 0xFFFF).to_bytes(2, "big")
        return bytes(h)

    ipb = ip_bytes()
    # (name, frame, expected deltas of drop_* and events; every other drop_* must stay 0)
    cases = [
        ("ip_truncated_10B", eth_ip + ipb[:10], {"drop_ip_malformed": 1}),
        ("eth_header_only_ipv4", eth_ip, {"drop_ip_malformed": 1}),
        ("ip_totlen_past_frame", eth_ip + fix_csum(patch(ipb, 2, (1000).to_bytes(2, "big"))),
         {"drop_ip_malformed": 1}),
        ("ip_totlen_65535", eth_ip + fix_csum(patch(ipb, 2, b"\xff\xff")), {"drop_ip_malformed": 1}),
        ("ip_totlen_below_ihl", eth_ip + fix_csum(patch(ipb, 2, (12).to_bytes(2, "big"))),
         {"drop_ip_malformed": 1}),
        ("ihl_0", eth_ip + fix_csum(patch(ipb, 0, b"\x40")), {"drop_ip_malformed": 1}),
        ("ihl_4", eth_ip + fix_csum(patch(ipb, 0, b"\x44")), {"drop_ip_malformed": 1}),
        ("ihl_15_past_frame", eth_ip + fix_csum(patch(ipb[:40], 0, b"\x4f")), {"drop_ip_malformed": 1}),
        ("version_6_in_ipv4", eth_ip + fix_csum(patch(ipb, 0, b"\x65")), {"drop_ip_malformed": 1}),
        ("version_0", eth_ip + fix_csum(patch(ipb, 0, b"\x05")), {"drop_ip_malformed": 1}),
        ("version_15", eth_ip + fix_csum(patch(ipb, 0, b"\xf5")), {"drop_ip_malformed": 1}),
        ("bad_header_checksum", eth_ip + patch(ipb, 10, b"\xde\xad"), {"drop_ip_csum": 1}),
        ("frag_totlen_lie", eth_ip + fix_csum(patch(ip_bytes(flags="MF", frag=100), 2, b"\x05\xdc")),
         {"drop_ip_malformed": 1}),
        # A non-first fragment to a pod that does not exist: dropped as
        # no_pod, and RFC 1812 4.3.2.7 forbids an ICMP error about it.
        ("frag_nonfirst_no_pod",
         bytes(E / IP(src=a.src_ip, dst=a.absent_ip, flags="MF", frag=8191) / Raw(b"z" * 24)),
         {"drop_no_pod": 1, "icmp_error_sent": 0}),
        # Fragment garbage to a real pod is still a well-formed IPv4 header:
        # a router forwards it (the pod's kernel discards it).
        ("frag_garbage_forwarded",
         bytes(E / IP(src=a.src_ip, dst=a.dst_ip, flags="MF", frag=8191, proto=200) / Raw(b"\xff" * 40)),
         {"forwarded": 1}),
        ("arp_body_10B", eth_arp + bytes(ARP(op=1, psrc=a.src_ip, pdst=a.gw_ip))[:10],
         {"drop_arp_malformed": 1}),
        ("arp_header_only", eth_arp, {"drop_arp_malformed": 1}),
        ("arp_hwtype_6", bytes(E / ARP(hwtype=6, op=1, psrc=a.src_ip, pdst=a.gw_ip)),
         {"drop_arp_malformed": 1}),
        ("arp_hwlen_8", eth_arp + patch(bytes(ARP(op=1, psrc=a.src_ip, pdst=a.gw_ip)), 4, b"\x08"),
         {"drop_arp_malformed": 1}),
        ("vlan_tagged", bytes(E / Dot1Q(vlan=5) / ip_ok), {"drop_vlan": 1}),
        ("qinq_tagged", bytes(Ether(dst=gw, src=me, type=0x88A8) / Dot1Q(vlan=5) / ip_ok), {"drop_vlan": 1}),
        ("unknown_ethertype_max_size", bytes(Ether(dst=gw, src=me, type=0x88B5) / Raw(b"\0" * 1500)),
         {"drop_ethertype": 1}),
        ("ipv6", bytes(E / IPv6(src="fd00::2", dst="fd00::3") / UDP(sport=1, dport=2) / Raw(b"q" * 8)),
         {"drop_ipv6": 1}),
        ("ipv6_payload_len_lie",
         patch(bytes(E / IPv6(src="fd00::2", dst="fd00::3") / Raw(b"q" * 8)), 14 + 4, b"\x10\x00"),
         {"drop_ip_malformed": 1}),
        ("unicast_other_mac", bytes(Ether(dst="02:00:00:00:09:09", src=me) / ip_ok), {"drop_l2_other_host": 1}),
        ("ipv4_in_broadcast", bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=me) / ip_ok), {"drop_l2_mcast_ip": 1}),
        ("no_such_pod", bytes(E / IP(src=a.src_ip, dst=a.absent_ip) / UDP(sport=1, dport=2) / Raw(b"n" * 18)),
         {"drop_no_pod": 1}),
        ("ttl_1", bytes(E / IP(src=a.src_ip, dst=a.dst_ip, ttl=1) / UDP(sport=1, dport=2) / Raw(b"t" * 18)),
         {"drop_ttl_exceeded": 1}),
        ("good_max_size_forwarded", bytes(E / IP(src=a.src_ip, dst=a.dst_ip) / UDP(sport=4000, dport=4001)
                                          / Raw(b"m" * (1500 - 28))),
         {"forwarded": 1}),
        ("good_min_size_forwarded", good, {"forwarded": 1}),
    ]
    return cases


def wait_rx(a, before_rx, n):
    """Wait (bounded, 20 s) until dp's rx counter moved by n and the
    counters then hold still across two reads 50 ms apart: the worker
    counts rx before it classifies, so the first read after rx moves may
    still miss the drop it is about to count."""
    prev = None
    c = {}
    for _ in range(400):
        c = counters(dp_tel.query(a.prefix, "/sluice/stats"))
        if c.get("rx", 0) - before_rx >= n and c == prev:
            break
        prev = c
        time.sleep(0.05)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--gw-mac", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--dst-ip", required=True)
    ap.add_argument("--gw-ip", required=True)
    ap.add_argument("--absent-ip", required=True)
    ap.add_argument("--count", type=int, default=3)
    a = ap.parse_args()

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    failed = 0
    cases = build_cases(a)
    for name, frame, exp in cases:
        before = counters(dp_tel.query(a.prefix, "/sluice/stats"))
        for _ in range(a.count):
            s.send(frame)
        after = wait_rx(a, before.get("rx", 0), a.count)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
        want = {k: v * a.count for k, v in exp.items()}
        bad = []
        # drop_total is the sum of the reasons: it must move by exactly the
        # drops this case expects, so no frame is counted twice or missed.
        want_total = sum(v for k, v in want.items() if k.startswith("drop_"))
        if "drop_total" in after and delta.get("drop_total", 0) != want_total:
            bad.append("drop_total %+d (want %+d)" % (delta.get("drop_total", 0), want_total))
        for k in sorted(delta):
            if k == "drop_total":
                continue
            if k.startswith("drop_") and delta[k] != want.get(k, 0):
                bad.append("%s %+d (want %+d)" % (k, delta[k], want.get(k, 0)))
        for k, v in want.items():
            if not k.startswith("drop_") and delta.get(k, 0) != v:
                bad.append("%s %+d (want %+d)" % (k, delta.get(k, 0), v))
            if k not in after and k not in before:
                bad.append("%s missing from /sluice/stats" % k)
        if delta.get("rx", 0) < a.count:
            bad.append("rx %+d (want >= %d)" % (delta.get("rx", 0), a.count))
        if bad:
            failed += 1
            print("FAIL %-28s %4d B x%d: %s" % (name, len(frame), a.count, "; ".join(bad)))
        else:
            print("ok   %-28s %4d B x%d: %s" % (name, len(frame), a.count,
                                                 ", ".join("%s %+d" % kv for kv in sorted(want.items()))))
        sys.stdout.flush()
    print("malformed: %d cases, %d failed" % (len(cases), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
