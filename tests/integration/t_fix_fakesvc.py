#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_fix_fakesvc.py: a fake bart_svc for t_fix_deliver.sh (issue 12 item 5).

  t_fix_fakesvc.py SECS

Registers bart (tcp) with this host's rpcbind, answers one chat
client's calls (CHAT_SINCE: newest 5 and no messages until the DELIVER
went out; CHAT_SUBSCRIBE: id 42 and a token; RENEW: active), then
pushes one DELIVER of message 7 (a gap: 6 is missing) to the client's
callback and watches which comes first: the DELIVER's reply or a
CHAT_SINCE on the client's connection.  A CHAT_SINCE then is answered
with messages 6 and 7.  Prints "reply-first" or "since-first" (and
"caught-up" once the client asked for 6 after the reply); exit 0 if a
DELIVER was answered, 1 if not within SECS.
"""
import os
import select
import socket
import struct
import sys
import time

BART_PROG = 0x2000ba27
RPCB_SOCK = "/run/rpcbind.sock"
TOKEN = bytes(range(1, 17))
SUB_ID = 42


def rec(payload):
    return struct.pack(">I", 0x80000000 | len(payload)) + payload


def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def call_msg(xid, prog, vers, proc, args):
    return struct.pack(">IIIIIIIIII", xid, 0, 2, prog, vers, proc,
                       0, 0, 0, 0) + args


def reply_msg(xid, res):
    # REPLY, MSG_ACCEPTED, verifier AUTH_NONE, SUCCESS
    return struct.pack(">IIIIII", xid, 1, 0, 0, 0, 0) + res


def read_record(s):
    """One whole record (all fragments), or None at EOF."""
    body = b""
    while True:
        hdr = recv_n(s, 4)
        if hdr is None:
            return None
        mark = struct.unpack(">I", hdr)[0]
        part = recv_n(s, mark & 0x7fffffff)
        if part is None:
            return None
        body += part
        if mark & 0x80000000:
            return body


def recv_n(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def rpc(sock, xid, prog, vers, proc, args):
    sock.sendall(rec(call_msg(xid, prog, vers, proc, args)))
    body = read_record(sock)
    # xid, REPLY, accepted, verf flavor, verf len 0, accept stat
    xid_, _, stat, _, vlen = struct.unpack(">IIIII", body[:20])
    off = 20 + ((vlen + 3) & ~3)
    return body[off + 4:]


def register(port):
    """rpcbind v3 SET over its AF_UNIX socket (root may)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(RPCB_SOCK)
    ua = "127.0.0.1.%d.%d" % (port >> 8, port & 255)
    for proc in (2, 1):		# UNSET any stale entry, then SET
        args = (struct.pack(">II", BART_PROG, 1) + xdr_string("tcp") +
                xdr_string(ua if proc == 1 else "") + xdr_string("0"))
        res = rpc(s, 100 + proc, 100000, 3, proc, args)
    s.close()
    return struct.unpack(">I", res[:4])[0] == 1


def getport(prog):
    """The callback's tcp port, from rpcbind's portmapper (v2 GETPORT)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", 111))
    res = rpc(s, 7, 100000, 2, 3, struct.pack(">IIII", prog, 1, 6, 0))
    s.close()
    return struct.unpack(">I", res[:4])[0]


def msg(seq, text):
    return (struct.pack(">Qq", seq, int(time.time())) + xdr_string("fake") +
            xdr_string("127.0.0.1") + xdr_string(text))


def main():
    secs = float(sys.argv[1])
    end = time.time() + secs
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    if not register(ls.getsockname()[1]):
        print("rpcbind SET refused")
        return 1
    print("registered", flush=True)
    clients = []
    cb = None		# our connection to the client's callback
    cb_prog = None
    delivered = replied = False
    order = None
    while time.time() < end:
        rset = [ls] + clients + ([cb] if cb else [])
        r, _, _ = select.select(rset, [], [], 0.1)
        # The callback first: a reply sent before a call is seen first.
        r.sort(key=lambda x: x is not cb)
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                clients.append(c)
                continue
            body = read_record(s)
            if body is None:
                s.close()
                if s is cb:
                    cb = None
                else:
                    clients.remove(s)
                continue
            if s is cb:		# the DELIVER's reply
                replied = True
                if order is None:
                    order = "reply-first"
                    print(order, flush=True)
                continue
            xid, _, _, prog, vers, proc = struct.unpack(">IIIIII", body[:24])
            cl, = struct.unpack(">I", body[28:32])
            off = 32 + ((cl + 3) & ~3)
            vl, = struct.unpack(">I", body[off + 4:off + 8])
            args = body[off + 8 + ((vl + 3) & ~3):]
            if proc == 3:			# CHAT_SINCE
                seq, = struct.unpack(">Q", args[:8])
                if delivered and not replied and order is None:
                    order = "since-first"
                    print(order, flush=True)
                if delivered and seq < 7:
                    ms = [msg(q, "message %d" % q) for q in (6, 7) if q > seq]
                    if replied and seq <= 5:
                        print("caught-up", flush=True)
                    res = (struct.pack(">IQI", 0, 7, len(ms)) + b"".join(ms))
                else:
                    res = struct.pack(">IQI", 0, 5, 0)
            elif proc == 4:			# CHAT_SUBSCRIBE
                cb_prog, = struct.unpack(">I", args[:4])
                res = struct.pack(">IQ", 0, SUB_ID) + TOKEN
            elif proc == 6:			# CHAT_RENEW: active
                res = struct.pack(">II", 0, 1)
            elif proc == 0:
                res = b""
            else:
                res = struct.pack(">I", 0)
            s.sendall(rec(reply_msg(xid, res)))
        if cb_prog is not None and not delivered:
            port = getport(cb_prog)
            if port:
                cb = socket.create_connection(("127.0.0.1", port), 2)
                args = (TOKEN + struct.pack(">QI", SUB_ID, 1) +
                        msg(7, "message 7"))
                cb.sendall(rec(call_msg(9, cb_prog, 1, 1, args)))
                delivered = True
        if replied and order == "since-first":
            break
    return 0 if replied else 1


if __name__ == "__main__":
    sys.exit(main())
