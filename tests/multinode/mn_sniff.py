"""mn_sniff: the IPv4 packets seen on an interface, for the sniffers of the
netns tests (tests/multinode/multinode.sh, tests/lb/lb_dsr.sh).

    for ip in mn_sniff.ipv4(dev, seconds, ready_file, stop_file=None): ...

Opens an AF_PACKET socket on dev (all protocols), creates ready_file once
it listens, and yields each IPv4 packet (bytes after the Ethernet header)
until `seconds` have passed or stop_file exists.
"""
import os
import socket
import time


def ipv4(dev, seconds, ready, stop=None):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    s.settimeout(0.2)
    end = time.time() + seconds
    open(ready, "w").close()
    while time.time() < end and not (stop and os.path.exists(stop)):
        try:
            f = s.recv(65535)
        except socket.timeout:
            continue
        if len(f) >= 34 and f[12:14] == b"\x08\x00":
            yield f[14:]
