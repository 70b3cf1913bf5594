#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""rpcprobe.py: an ONC RPC client written from the RFCs alone (RFC 5531
calls and record marking, RFC 4506 XDR, RFC 1833 rpcbind), sharing no
code with bart, for the acceptance tests (t_audit*.sh).  It finds bart
through rpcbind (PMAPPROC_GETPORT, version 2, port 111) unless -p gives
the port, and talks to it over its own sockets.

  rpcprobe.py [-p PORT] [-u SOCKPATH] [-t SECS] CMD ...

  frags N PROC         one call (NULL=0, STATS=7) in N record fragments
                       of equal size, the last one marked last
  bytefrags PROC ZERO  one call in 1-byte fragments, ZERO empty
                       non-final fragments before each of them
  mark HEX             a record mark HEX (e.g. 7fffffff), then 64 bytes
  over N               one call whose record is N bytes in all (marks
                       included), in fragments of 1024 bytes
  pipeline N CLIENT    N COUNT(1) calls, identities CLIENT/1..N, sent at
                       once, then shutdown(SHUT_WR); reads every reply
  noread N SECS        N connections that send CHAT_SINCE calls as fast
                       as their sockets take them and never read, for
                       SECS at most: prints how many the server closed
  dribble ZERO SECS    for SECS, calls of ZERO empty fragments each and
                       a last one, sent 4 bytes per send(): prints the
                       replies and this process's CPU seconds
  says N CLIENT        N CHAT_SENDs on one connection, one at a time:
                       prints how many were stored (BART_OK)
  fakesvc MODE SECS    a hostile bart server for SECS: registers bart
                       version 1 (tcp, and udp with MODE udp-*) with
                       rpcbind (RPCBPROC_SET over /run/rpcbind.sock),
                       reads calls and answers each as MODE says:
                       dribble  (one byte of the reply every 0.3 s),
                       huge     (a fragment claiming 2 GB, then zeros),
                       silent   (never), udp-silent (never, over udp),
                       udp-junk (a reply with another xid every 0.2 s),
                       unknown  (the first COUNT BART_EUNKNOWN, every
                                 later one BART_EUNAVAIL)
  deaf N PROG SECS     N chat subscribers (callback programs PROG,
                       PROG+1, ...) that answer the server's NULLPROC
                       probe and then never read again, for SECS;
                       prints "subscribed=K"
  stats                STATS: prints the counter
  count CLIENT SEQ UP  COUNT with this identity: prints its total
  getport PROG VERS PROTO  PMAPPROC_GETPORT (6 tcp, 17 udp)

Prints one line: "reply N" (N replies, or a value), "closed" (the
server closed the connection before answering), "noreply" (nothing
within -t); exit 0 if the expected answer came.
"""
import getopt
import os
import socket
import struct
import sys

BART_PROG = 0x2000ba27
BART_VERS = 1
PMAP_PROG, PMAP_VERS, PMAPPROC_GETPORT = 100000, 2, 3
LAST = 0x80000000


def u32(v):
    return struct.pack(">I", v & 0xffffffff)


def u64(v):
    return struct.pack(">Q", v & 0xffffffffffffffff)


def call(xid, prog, vers, proc, args=b""):
    """RFC 5531 section 9: rpc_msg CALL, AUTH_NONE credential and verifier."""
    return (u32(xid) + u32(0) + u32(2) + u32(prog) + u32(vers) + u32(proc) +
            u32(0) + u32(0) + u32(0) + u32(0) + args)


def count_args(client, seq, up):
    """count_args: bart_reqid { unsigned hyper client, seq }, int up."""
    return u64(client) + u64(seq) + u32(up)


def xdr_string(b):
    """RFC 4506 section 4.11: length, bytes, zero padding to 4."""
    return u32(len(b)) + b + b"\0" * (-len(b) % 4)


def record(payload, frag=None):
    """RFC 5531 section 11: fragments of FRAG bytes, the last marked."""
    if not frag or frag >= len(payload):
        return u32(LAST | len(payload)) + payload
    out = b""
    for i in range(0, len(payload), frag):
        part = payload[i:i + frag]
        last = LAST if i + frag >= len(payload) else 0
        out += u32(last | len(part)) + part
    return out


class Reader:
    """Reads whole reply records from a stream socket."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def need(self, n):
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                return False
            self.buf += b
        return True

    def record(self):
        body = b""
        while True:
            if not self.need(4):
                return None
            mark = struct.unpack(">I", self.buf[:4])[0]
            n = mark & ~LAST & 0xffffffff
            if not self.need(4 + n):
                return None
            body += self.buf[4:4 + n]
            self.buf = self.buf[4 + n:]
            if mark & LAST:
                return body


def reply_body(rec, xid=None):
    """The results of an accepted, successful reply; None otherwise."""
    rxid, mtype, stat = struct.unpack(">III", rec[:12])
    if mtype != 1 or stat != 0 or (xid is not None and rxid != xid):
        return None
    vlen = struct.unpack(">I", rec[16:20])[0]
    off = 20 + ((vlen + 3) & ~3)
    if struct.unpack(">I", rec[off:off + 4])[0] != 0:   # accept_stat
        return None
    return rec[off + 4:]


def getport(prog, vers, proto, timeout):
    """RFC 1833 section 3: PMAPPROC_GETPORT over UDP to port 111."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    args = u32(prog) + u32(vers) + u32(proto) + u32(0)
    s.sendto(call(0x1833, PMAP_PROG, PMAP_VERS, PMAPPROC_GETPORT, args),
             ("127.0.0.1", 111))
    body = reply_body(s.recv(512), 0x1833)
    s.close()
    return struct.unpack(">I", body[:4])[0] if body else 0


def connect(opt):
    if opt["u"]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(opt["t"])
        s.connect(opt["u"])
        return s
    port = opt["p"] or getport(BART_PROG, BART_VERS, 6, opt["t"])
    s = socket.create_connection(("127.0.0.1", port), timeout=opt["t"])
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def one(opt, data, xid):
    """Send DATA, read one reply: its results, or "closed"/"noreply"."""
    s = connect(opt)
    try:
        s.sendall(data)
        rec = Reader(s).record()
    except socket.timeout:
        return "noreply"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    finally:
        s.close()
    if rec is None:
        return "closed"
    body = reply_body(rec, xid)
    return body if body is not None else "rejected"


def show(r, ok):
    if isinstance(r, bytes):
        print("reply", ok(r))
        return 0
    print(r)
    return 1


def noread(opt, n, secs):
    """Pipeline CHAT_SINCE(0, 64) on N connections, never reading."""
    import select
    import time
    socks = []
    for _ in range(n):
        s = connect(opt)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        socks.append(s)
    msg = record(call(3, BART_PROG, BART_VERS, 3, u64(0) + u32(64)))
    print("opened=%d" % n, flush=True)
    closed, sent, end = set(), 0, time.monotonic() + secs
    while len(closed) < n and time.monotonic() < end:
        live = [s for s in socks if s not in closed]
        _, w, x = select.select([], live, live, 0.2)
        for s in w + x:
            try:
                sent += s.send(msg)
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed.add(s)
        # A closed peer shows as readable EOF/RST; peek, never consume.
        for s in live:
            try:
                if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    closed.add(s)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed.add(s)
    print("closed=%d sent=%d" % (len(closed), sent))
    return 0 if len(closed) == n else 1


def dribble(opt, zero, secs):
    """Calls made of ZERO empty fragments, sent a mark at a time."""
    import time
    s = connect(opt)
    msg = call(0xd1b, BART_PROG, BART_VERS, 0)
    data = u32(0) * zero + u32(LAST | len(msg)) + msg
    rd, n, end = Reader(s), 0, time.monotonic() + secs
    try:
        while time.monotonic() < end:
            for i in range(0, len(data), 4):
                s.send(data[i:i + 4])
            if rd.record() is None:
                break
            n += 1
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    s.close()
    t = os.times()
    print("reply %d cpu %.2f" % (n, t.user + t.system))
    return 0 if n > 0 else 1


def rpcb_set(proc, netid, uaddr, prog=BART_PROG):
    """RFC 1833 RPCBPROC_SET (1) / UNSET (2), version 3, over AF_LOCAL."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect("/run/rpcbind.sock")
    args = (u32(prog) + u32(1) + xdr_string(netid.encode()) +
            xdr_string(uaddr.encode()) + xdr_string(b"0"))
    s.sendall(record(call(0x5e7 + proc, 100000, 3, proc, args)))
    body = reply_body(Reader(s).record())
    s.close()
    return body is not None and struct.unpack(">I", body[:4])[0] == 1


def fakesvc(mode, secs):
    """Answer bart's clients as a hostile server would (see MODE)."""
    import select
    import time
    udp = mode.startswith("udp")
    ls = socket.socket(socket.AF_INET,
                       socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    if not udp:
        ls.listen(16)
    port = ls.getsockname()[1]
    netid = "udp" if udp else "tcp"
    uaddr = "127.0.0.1.%d.%d" % (port >> 8, port & 255)
    rpcb_set(2, netid, "")
    if not rpcb_set(1, netid, uaddr):
        print("rpcbind SET refused")
        return 1
    print("registered %s port %d" % (netid, port), flush=True)
    # Any call is answered as a COUNT: BART_OK, total 5, its words.
    res = u32(0) + u64(5) + xdr_string(b"I was called 5 times.")
    inbuf, outbuf = {}, {}          # per connection
    junk = []                       # udp-junk: (peer, wrong xid)
    calls = 0                       # unknown: calls answered
    end = time.monotonic() + secs
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([ls] + list(inbuf), [], [], 0.3)
            for s in r:
                if s is ls and udp:
                    b, peer = s.recvfrom(9000)   # never answered
                    if mode == "udp-junk" and len(b) >= 4:
                        junk.append((peer, (struct.unpack(">I", b[:4])[0]
                                            + 1) & 0xffffffff))
                elif s is ls:
                    c, _ = ls.accept()
                    inbuf[c], outbuf[c] = b"", b""
                    continue
                else:
                    b = s.recv(65536)
                    if not b:
                        del inbuf[s], outbuf[s]
                        s.close()
                        continue
                    inbuf[s] += b
                    while len(inbuf[s]) >= 8:   # mark + xid of a call
                        n = struct.unpack(">I", inbuf[s][:4])[0] & ~LAST
                        if len(inbuf[s]) < 4 + n:
                            break
                        xid = struct.unpack(">I", inbuf[s][4:8])[0]
                        inbuf_call = inbuf[s][4:4 + n]
                        inbuf[s] = inbuf[s][4 + n:]
                        rep = u32(xid) + u32(1) + u32(0) * 4 + res
                        proc = struct.unpack(">I", inbuf_call[20:24])[0] \
                            if len(inbuf_call) >= 24 else 0
                        if mode == "unknown" and proc == 1:   # COUNT
                            calls += 1
                            s.sendall(record(u32(xid) + u32(1) + u32(0) * 4
                                             + u32(15 if calls == 1 else 18)))
                        elif mode == "dribble":
                            outbuf[s] += record(rep)
                        elif mode == "huge":
                            s.sendall(u32(0x7fffffff) + rep)
                            outbuf[s] = b"\0" * 65536
            for peer, xid in junk:
                ls.sendto(u32(xid) + u32(1) + u32(0) * 4 + res, peer)
            if junk:
                time.sleep(0.2)
            for s in outbuf:
                if mode == "huge" and outbuf[s]:
                    try:                    # zeros, as fast as taken
                        s.setblocking(False)
                        s.send(outbuf[s])
                    except (BlockingIOError, ConnectionError):
                        pass
                elif outbuf[s]:             # one byte each per turn
                    s.send(outbuf[s][:1])
                    outbuf[s] = outbuf[s][1:]
    finally:
        rpcb_set(2, netid, "")
    return 0


def deaf(opt, n, prog0, secs):
    """Subscribers whose callback stops reading after the probe."""
    import select
    import time
    lsn, cbs, subs = {}, {}, 0
    for i in range(n):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        ua = "127.0.0.1.%d.%d" % (port >> 8, port & 255)
        rpcb_set(2, "tcp", "", prog0 + i)
        if rpcb_set(1, "tcp", ua, prog0 + i):
            lsn[ls] = prog0 + i
    # CHAT_SUBSCRIBE(cb_prog, cb_vers 1, last_seen 0) for each, while
    # answering the probes (NULLPROC) that each SUBSCRIBE makes.
    s = connect(opt)
    rd = Reader(s)
    for ls, prog in lsn.items():
        s.sendall(record(call(prog, BART_PROG, BART_VERS, 4,
                              u32(prog) + u32(1) + u64(0))))
        s.setblocking(False)
        end = time.monotonic() + 5
        body = None
        while body is None and time.monotonic() < end:
            r, _, _ = select.select([s] + list(lsn) + list(cbs), [], [], 0.1)
            for x in r:
                if x is s:
                    try:
                        s.setblocking(True)
                        body = reply_body(rd.record())
                    finally:
                        s.setblocking(False)
                elif x in lsn:
                    c, _ = x.accept()
                    cbs[c] = b""
                elif x in cbs and cbs[x] is not None:
                    cbs[x] += x.recv(65536)
                    if len(cbs[x]) >= 8:     # the probe: answer, go deaf
                        xid = cbs[x][4:8]
                        x.sendall(record(xid + u32(1) + u32(0) * 4))
                        cbs[x] = None
        s.setblocking(True)
        subs += body is not None and struct.unpack(">I", body[:4])[0] == 0
    s.close()
    print("subscribed=%d" % subs, flush=True)
    time.sleep(secs)
    for prog in lsn.values():
        rpcb_set(2, "tcp", "", prog)
    return 0 if subs == n else 1


def main():
    opts, args = getopt.getopt(sys.argv[1:], "p:u:t:")
    opt = {"p": 0, "u": "", "t": 5.0}
    for o, v in opts:
        opt[o[1]] = float(v) if o == "-t" else int(v) if o == "-p" else v
    cmd = args[0]
    # NULL's reply has no results: "reply void".
    stat = lambda b: struct.unpack(">I", b[:4])[0] if b else "void"
    if cmd == "frags":
        n, proc = int(args[1]), int(args[2])
        msg = call(0xf3a9, BART_PROG, BART_VERS, proc)
        return show(one(opt, record(msg, -(-len(msg) // n)), 0xf3a9), stat)
    if cmd == "bytefrags":
        proc, zero = int(args[1]), int(args[2])
        msg = call(0xb17e, BART_PROG, BART_VERS, proc)
        data = b""
        for i, c in enumerate(msg):
            data += u32(0) * zero
            data += u32((LAST if i == len(msg) - 1 else 0) | 1) + bytes([c])
        print("# %d bytes on the wire for a %d-byte call" % (len(data),
              len(msg)), file=sys.stderr)
        return show(one(opt, data, 0xb17e), stat)
    if cmd == "mark":
        data = u32(int(args[1], 16)) + b"\0" * 64
        return show(one(opt, data, None), stat)
    if cmd == "over":
        total = int(args[1])
        nfrag = -(-total // 1028)
        msg = call(0x0ca9, BART_PROG, BART_VERS, 0)
        msg += b"\0" * (total - 4 * nfrag - len(msg))
        return show(one(opt, record(msg, 1024), 0x0ca9), stat)
    if cmd == "pipeline":
        n, client = int(args[1]), int(args[2], 0)
        s = connect(opt)
        data = b"".join(record(call(i, BART_PROG, BART_VERS, 1,
                                    count_args(client, i, 1)))
                        for i in range(1, n + 1))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        rd, got = Reader(s), set()
        try:
            while len(got) < n:
                rec = rd.record()
                if rec is None:
                    break
                got.add(struct.unpack(">I", rec[:4])[0])
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        print("reply", len(got))
        return 0 if len(got) == n else 1
    if cmd == "noread":
        return noread(opt, int(args[1]), float(args[2]))
    if cmd == "dribble":
        return dribble(opt, int(args[1]), float(args[2]))
    if cmd == "says":
        n, client = int(args[1]), int(args[2], 0)
        s, okn = connect(opt), 0
        rd = Reader(s)
        for i in range(1, n + 1):
            a = (u64(client) + u64(i) + xdr_string(b"audit") +
                 xdr_string(b"line %d" % i))
            s.sendall(record(call(i, BART_PROG, BART_VERS, 2, a)))
            body = reply_body(rd.record(), i)
            okn += body is not None and stat(body) == 0
        s.close()
        print("reply", okn)
        return 0
    if cmd == "fakesvc":
        return fakesvc(args[1], float(args[2]))
    if cmd == "deaf":
        return deaf(opt, int(args[1]), int(args[2], 0), float(args[3]))
    if cmd == "stats":
        r = one(opt, record(call(7, BART_PROG, BART_VERS, 7)), 7)
        return show(r, lambda b: struct.unpack(">q", b[4:12])[0])
    if cmd == "count":
        a = count_args(int(args[1], 0), int(args[2]), int(args[3]))
        r = one(opt, record(call(0xc0, BART_PROG, BART_VERS, 1, a)), 0xc0)
        return show(r, lambda b: "%d %d" % (stat(b),
                    struct.unpack(">q", b[4:12])[0] if stat(b) == 0 else 0))
    if cmd == "getport":
        print("reply", getport(int(args[1], 0), int(args[2]), int(args[3]),
                               opt["t"]))
        return 0
    print("rpcprobe.py: unknown command", cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
