#!/usr/bin/env python3
"""lb_tool: the processes of tests/lb/lb_netns.sh, run inside its netns.

  server NAME IP TCPPORT UDPPORT   backend: each TCP connection gets "NAME\\n"
                                    then every line echoed as "NAME <line>";
                                    each UDP datagram is answered with
                                    "NAME <len> <sha256 of the datagram>"
  conns VIP PORT N [SPORT0]         N sequential TCP connections; prints one
                                    backend name per line (source port
                                    SPORT0+i if given, so a run is repeatable)
  hold VIP PORT CTLFILE OUT         one connection kept open: a line every
                                    0.1 s until CTLFILE says "stop"; OUT gets
                                    the backend name then "ok N" or "broken"
  udpfrag VIP PORT N SIZE           N datagrams of SIZE bytes (fragmented,
                                    DF off), from distinct source ports;
                                    checks each answer's source (VIP:PORT),
                                    length and hash;
                                    prints the backend name per datagram
  udprefused VIP PORT               a connected UDP socket must see ECONNREFUSED
                                    (the backend's ICMP port unreachable, mapped)
  rate VIP PORT SECONDS             connections per second, one at a time
  synflood VIP PORT N               N spoofed SYNs (sources in 198.18.0.0/15,
                                    RFC 2544 benchmarking space) via a raw
                                    socket; prints how many were sent
"""
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time


def server(name, ip, tport, uport):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((ip, int(tport)))
    t.listen(512)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((ip, int(uport)))

    def udp_loop():
        while True:
            data, peer = u.recvfrom(65535)
            h = hashlib.sha256(data).hexdigest()
            u.sendto(f"{name} {len(data)} {h}".encode(), peer)

    def conn(c):
        try:
            c.sendall(f"{name}\n".encode())
            f = c.makefile("rb")
            for line in f:
                c.sendall(f"{name} ".encode() + line)
        except OSError:
            pass
        finally:
            c.close()

    threading.Thread(target=udp_loop, daemon=True).start()
    print("ready", flush=True)
    while True:
        c, _ = t.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()


def conns(vip, port, n, sport0=None):
    for i in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(3)
        if sport0 is not None:
            s.bind(("0.0.0.0", int(sport0) + i))
        try:
            s.connect((vip, int(port)))
            name = s.makefile("rb").readline().decode().strip()
            print(name or "EMPTY", flush=True)
        except OSError as e:
            print(f"ERROR:{e.__class__.__name__}", flush=True)
        finally:
            # RST instead of FIN: no TIME_WAIT, so a fixed source port can
            # be reused right away by the next run
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()


def hold(vip, port, ctl, out):
    s = socket.create_connection((vip, int(port)), timeout=3)
    f = s.makefile("rb")
    name = f.readline().decode().strip()
    with open(out, "w") as o:
        o.write(name + "\n")
    n = 0
    while True:
        try:
            if open(ctl).read().strip() == "stop":
                break
        except OSError:
            pass
        try:
            s.sendall(f"ping {n}\n".encode())
            line = f.readline().decode().strip()
        except OSError:
            line = ""
        if line != f"{name} ping {n}":
            with open(out, "a") as o:
                o.write(f"broken at {n}: {line!r}\n")
            return 1
        n += 1
        # atomic: the test reads the count while we run
        with open(out + ".n.tmp", "w") as o:
            o.write(str(n))
        os.replace(out + ".n.tmp", out + ".n")
        time.sleep(0.1)
    with open(out, "a") as o:
        o.write(f"ok {n}\n")
    s.close()
    return 0


def rate(vip, port, seconds):
    """Connections per second, one at a time (connect, read the name, RST)."""
    n, t0 = 0, time.time()
    end = t0 + float(seconds)
    while time.time() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect((vip, int(port)))
            if s.recv(64):
                n += 1
        except OSError:
            pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print("%.0f" % (n / (time.time() - t0)))


def udprefused(vip, port):
    """A connected UDP socket learns of the backend's port unreachable
    (ICMP mapped back through the LB) as ECONNREFUSED."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((vip, int(port)))
    for _ in range(3):
        try:
            s.send(b"anyone?")
            s.recv(100)
        except ConnectionRefusedError:
            print("refused")
            return 0
        except socket.timeout:
            continue
    print("no ICMP error came back")
    return 1


def udpfrag(vip, port, n, size):
    bad = 0
    for i in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: let the kernel fragment
        s.setsockopt(socket.IPPROTO_IP, 10, 0)
        s.settimeout(2)
        data = os.urandom(int(size))
        want = hashlib.sha256(data).hexdigest()
        ans = None
        for _ in range(3):
            s.sendto(data, (vip, int(port)))
            try:
                msg, peer = s.recvfrom(4096)
                ans = msg.decode().split()
                break
            except socket.timeout:
                continue
        if ans is not None and peer != (vip, int(port)):
            # full NAT: the client must only ever see the VIP
            print(f"BAD answer from {peer}", flush=True)
            bad += 1
        elif ans is None or len(ans) != 3 or ans[1] != str(len(data)) or ans[2] != want:
            print(f"BAD {ans}", flush=True)
            bad += 1
        else:
            print(ans[0], flush=True)
        s.close()
    return 1 if bad else 0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def synflood(vip, port, n):
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    dst = socket.inet_aton(vip)
    rnd = random.Random(7)
    sent = 0
    for _ in range(int(n)):
        src = struct.pack("!I", (198 << 24 | 18 << 16) + rnd.randrange(1 << 17))
        sport = rnd.randrange(1024, 65536)
        seq = rnd.randrange(1 << 32)
        tcp = struct.pack("!HHIIBBHHH", sport, int(port), seq, 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rnd.randrange(65536), 0, 64, 6,
                          0, src, dst)
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        r.sendto(iph + tcp, (vip, 0))
        sent += 1
    print(sent)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    rc = {"server": server, "conns": conns, "hold": hold, "udpfrag": udpfrag,
          "synflood": synflood, "rate": rate, "udprefused": udprefused}[cmd](*args)
    sys.exit(rc or 0)
