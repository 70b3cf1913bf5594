#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_lib_rpc.py: raw ONC RPC calls for t_lib*.sh (what no client makes).

  t_lib_rpc.py deliver PORT PROG SUBID      DELIVER, real id, wrong token
  t_lib_rpc.py ref PORT PROC SUBID          RENEW (6) / UNSUBSCRIBE (5) of
                                            bart, real id, wrong token
  t_lib_rpc.py null PORT PROG [SRC]         NULLPROC from address SRC
  t_lib_rpc.py partial PORT SECS [SRC]      14 bytes of a record, then hold
                                            the connection SECS; prints
                                            "closed after N s" or "held"

Prints the reply's bart_status as a number (or the RPC outcome in
words); exit 0 if an answer came, 1 if not.
"""
import os
import socket
import struct
import sys
import time

BART_PROG = 0x2000ba27


def rec(payload):
    return struct.pack(">I", 0x80000000 | len(payload)) + payload


def call_msg(xid, prog, vers, proc, args):
    # xid, CALL, rpcvers 2, prog, vers, proc, AUTH_NONE cred + verf
    return struct.pack(">IIIIIIIIII", xid, 0, 2, prog, vers, proc,
                       0, 0, 0, 0) + args


def connect(port, src=None, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_reply(s):
    hdr = b""
    while len(hdr) < 4:
        b = s.recv(4 - len(hdr))
        if not b:
            return None
        hdr += b
    n = struct.unpack(">I", hdr)[0] & 0x7fffffff
    body = b""
    while len(body) < n:
        b = s.recv(n - len(body))
        if not b:
            return None
        body += b
    return body


def outcome(body):
    if body is None:
        print("no reply (connection closed)")
        return 1
    xid, mtype, stat = struct.unpack(">III", body[:12])
    if stat != 0:
        print("denied")
        return 0
    flavor, vlen = struct.unpack(">II", body[12:20])
    off = 20 + ((vlen + 3) & ~3)
    accept = struct.unpack(">I", body[off:off + 4])[0]
    if accept != 0:
        print("accept_stat %d" % accept)
        return 0
    rest = body[off + 4:]
    print(struct.unpack(">I", rest[:4])[0] if len(rest) >= 4 else "void")
    return 0


def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def main():
    op = sys.argv[1]
    port = int(sys.argv[2])
    wrong = os.urandom(16)
    if op == "deliver":
        prog, sub = int(sys.argv[3], 0), int(sys.argv[4])
        msg = (struct.pack(">Qq", 999999, 0) + xdr_string("mallory") +
               xdr_string("evil") + xdr_string("forged with the real id"))
        args = wrong + struct.pack(">Q", sub) + struct.pack(">I", 1) + msg
        s = connect(port)
        s.sendall(rec(call_msg(1, prog, 1, 1, args)))
        return outcome(read_reply(s))
    if op == "ref":
        proc, sub = int(sys.argv[3]), int(sys.argv[4])
        s = connect(port)
        s.sendall(rec(call_msg(2, BART_PROG, 1, proc,
                               struct.pack(">Q", sub) + wrong)))
        return outcome(read_reply(s))
    if op == "null":
        prog = int(sys.argv[3], 0)
        src = sys.argv[4] if len(sys.argv) > 4 else None
        s = connect(port, src)
        s.sendall(rec(call_msg(3, prog, 1, 0, b"")))
        try:
            return outcome(read_reply(s))
        except (ConnectionResetError, socket.timeout):
            print("no reply (connection closed)")
            return 1
    if op == "partial":
        secs = float(sys.argv[3])
        src = sys.argv[4] if len(sys.argv) > 4 else None
        s = connect(port, src, timeout=secs)
        s.sendall(struct.pack(">I", 0x80000000 | 100) + b"\0" * 10)
        t0 = time.time()
        try:
            while True:
                if not s.recv(100):
                    break
        except socket.timeout:
            print("held %.1f s" % (time.time() - t0))
            return 1
        except ConnectionResetError:
            pass
        print("closed after %.1f s" % (time.time() - t0))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
