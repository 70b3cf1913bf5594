#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# t_review_rpc.py: raw bart COUNT calls for t_review_pg.sh.
#
#   tcp HOST PORT PROG CLIENT:SEQ:UP... [--close]
#       (say:CLIENT:SEQ: a CHAT_SEND of "line" as "rev" instead)
#       every call in one write on one connection (one round, one group
#       of the database worker); prints "CLIENT:SEQ status total" per
#       reply in arrival order, each within 15 s; --close: close right
#       after sending, print nothing
#   order HOST TCPPORT UDPPORT PROG
#       COUNT xid 1 on a connection, 300 UDP counts (the bound of 256
#       calls waiting filled while the database is silent), then COUNT
#       xid 2 on the connection: "XID:STATUS XID:STATUS" in arrival order
#   udp HOST PORT PROG XID CLIENT:SEQ:UP N
#       the same datagram N times, a reply awaited after each (5 s);
#       prints "status total hexdigest" per reply
import hashlib
import os
import socket
import struct
import sys
import time


def call(xid, prog, client, seq, up):
    c = struct.pack(">IIIIII", xid, 0, 2, prog, 1, 1)
    c += struct.pack(">IIII", 0, 0, 0, 0)
    c += struct.pack(">QQi", client, seq, up)
    return c


def xstr(b):
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def say(xid, prog, client, seq):
    c = struct.pack(">IIIIII", xid, 0, 2, prog, 1, 2)
    c += struct.pack(">IIII", 0, 0, 0, 0)
    c += struct.pack(">QQ", client, seq) + xstr(b"rev") + xstr(b"line")
    return c


def parse(rep):
    xid = struct.unpack(">I", rep[0:4])[0]
    st = struct.unpack(">I", rep[24:28])[0]
    total = struct.unpack(">q", rep[28:36])[0] if st == 0 else "-"
    return xid, st, total


def do_tcp(host, port, prog, specs, close):
    s = socket.create_connection((host, port), timeout=15)
    xids = {}
    buf = b""
    for i, sp in enumerate(specs):
        xid = 0x5000 + i
        if sp.startswith("say:"):
            client, seq = (int(x, 0) for x in sp[4:].split(":"))
            xids[xid] = "say:%d:%d" % (client, seq)
            body = say(xid, prog, client, seq)
        else:
            client, seq, up = (int(x, 0) for x in sp.split(":"))
            xids[xid] = "%d:%d" % (client, seq)
            body = call(xid, prog, client, seq, up)
        buf += struct.pack(">I", 0x80000000 | len(body)) + body
    s.sendall(buf)
    if close:
        s.close()
        return
    got, data = 0, b""
    end = time.monotonic() + 15
    while got < len(specs) and time.monotonic() < end:
        while len(data) >= 4:
            n = struct.unpack(">I", data[:4])[0] & 0x7fffffff
            if len(data) < 4 + n:
                break
            xid, st, total = parse(data[4:4 + n])
            print(xids.get(xid, "?"), st, total, flush=True)
            data = data[4 + n:]
            got += 1
        if got == len(specs):
            break
        try:
            more = s.recv(65536)
        except socket.timeout:
            break
        if not more:
            break
        data += more


def do_udp(host, port, prog, xid, spec, n):
    client, seq, up = (int(x, 0) for x in spec.split(":"))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    for _ in range(n):
        s.sendto(call(xid, prog, client, seq, up), (host, port))
        try:
            rep = s.recv(9000)
        except socket.timeout:
            print("timeout")
            continue
        _, st, total = parse(rep)
        print(st, total, hashlib.sha1(rep).hexdigest()[:12], flush=True)


def do_order(host, tport, uport, prog):
    """A on a connection, the bound filled over UDP, then B on the same
    connection: prints the xids of the two replies in arrival order."""
    rec = lambda b: struct.pack(">I", 0x80000000 | len(b)) + b
    t = socket.create_connection((host, tport), timeout=10)
    t.sendall(rec(call(1, prog, 90, 1, 1)))
    time.sleep(0.2)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = int.from_bytes(os.urandom(8), "big") | 1
    for i in range(300):
        u.sendto(call(0x7000 + i, prog, client, i + 1, 1), (host, uport))
        if i % 25 == 24:
            time.sleep(0.005)
    time.sleep(0.2)
    t.sendall(rec(call(2, prog, 90, 2, 1)))
    data, out = b"", []
    end = time.monotonic() + 10
    while len(out) < 2 and time.monotonic() < end:
        try:
            more = t.recv(65536)
        except socket.timeout:
            break
        if not more:
            break
        data += more
        while len(data) >= 4:
            n = struct.unpack(">I", data[:4])[0] & 0x7fffffff
            if len(data) < 4 + n:
                break
            xid, st, _ = parse(data[4:4 + n])
            out.append("%d:%d" % (xid, st))
            data = data[4 + n:]
    print(" ".join(out))


def main():
    a = sys.argv[1:]
    if a[0] == "tcp":
        close = "--close" in a
        a = [x for x in a if x != "--close"]
        do_tcp(a[1], int(a[2]), int(a[3]), a[4:], close)
    elif a[0] == "order":
        do_order(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif a[0] == "udp":
        do_udp(a[1], int(a[2]), int(a[3]), int(a[4]), a[5], int(a[6]))


main()
