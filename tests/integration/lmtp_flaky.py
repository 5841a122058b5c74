#!/usr/bin/env python3
"""lmtp_flaky.py: a mailstore stand-in for the spool tests.

An LMTP server on a unix socket that answers 451 after the data for the
first N attempts of each Email (by Message-ID), then 250.  Every answer
after the data is one line in the log, flushed at once:

    250 <message-id> pid=<peer pid> t=<unix time>     (stored)
    451 <message-id> pid=<peer pid> t=<unix time>     (not stored)

The peer pid comes from SO_PEERCRED, so a test can tell which gateway
worker delivered what.  A message counts as stored when the data is
complete, before the reply is written, as a real mailstore commits it:
a client that dies after the final dot still gets its message stored.

    lmtp_flaky.py --socket PATH --log FILE [--fail N] [--fail-match RE] [--delay S]

--store DIR writes each stored message to DIR/NNNNNN.eml.
--fail-match RE limits the 451s to Message-IDs that RE matches (re.search).

--delay S sleeps S seconds before answering DATA with 354 (a retry in
flight that a test can kill before the data ends).  SIGTERM stops it.
"""
import argparse
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

lock = threading.Lock()
attempts = {}
logf = None
opts = None


def record(code, mid, pid):
    with lock:
        logf.write("%d %s pid=%d t=%.6f\n" % (code, mid, pid, time.time()))
        logf.flush()


class Handler(socketserver.StreamRequestHandler):
    def say(self, s):
        self.wfile.write(s.encode())
        self.wfile.flush()

    def handle(self):
        try:
            cred = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                           struct.calcsize("3i"))
            pid = struct.unpack("3i", cred)[0]
        except OSError:
            pid = 0
        self.say("220 flaky LMTP ready\r\n")
        rcpts = []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.strip().decode("latin-1")
            up = cmd.upper()
            if up.startswith("LHLO"):
                self.say("250-flaky\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif up.startswith("MAIL FROM:"):
                rcpts = []
                self.say("250 2.1.0 OK\r\n")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:])
                self.say("250 2.1.5 OK\r\n")
            elif up == "DATA":
                if not rcpts:
                    self.say("503 5.5.1 no recipients\r\n")
                    continue
                if opts.delay > 0:
                    time.sleep(opts.delay)
                self.say("354 go ahead\r\n")
                mid = "-"
                in_head = True
                body = []
                while True:
                    d = self.rfile.readline(1 << 20)
                    if not d:
                        return      # the client went away before the end: nothing stored
                    if d == b".\r\n":
                        break
                    if opts.store:
                        body.append(d[1:] if d.startswith(b"..") else d)
                    if in_head:
                        if d in (b"\r\n", b"\n"):
                            in_head = False
                        elif d.lower().startswith(b"message-id:") and mid == "-":
                            mid = d.split(b":", 1)[1].strip().decode("latin-1")
                with lock:
                    n = attempts.get(mid, 0) + 1
                    attempts[mid] = n
                failing = opts.fail_match is None or re.search(opts.fail_match, mid)
                code = 451 if n <= opts.fail and failing else 250
                if code == 250 and opts.store:
                    with lock:
                        opts.stored += 1
                        with open(os.path.join(opts.store, "%06d.eml" % opts.stored), "wb") as f:
                            f.write(b"".join(body))
                for _ in rcpts:
                    record(code, mid, pid)
                for _ in rcpts:
                    if code == 451:
                        self.say("451 4.3.0 flaky: try again later\r\n")
                    else:
                        self.say("250 2.0.0 stored\r\n")
                rcpts = []
            elif up.startswith("RSET") or up.startswith("NOOP"):
                rcpts = []
                self.say("250 2.0.0 OK\r\n")
            elif up.startswith("QUIT"):
                self.say("221 bye\r\n")
                return
            else:
                self.say("500 5.5.1 what\r\n")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    global logf, opts
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--fail-match", default=None)
    ap.add_argument("--store", default=None, help="write each stored message to DIR/NNNNNN.eml")
    opts = ap.parse_args()
    opts.stored = 0
    logf = open(opts.log, "a")
    try:
        os.unlink(opts.socket)
    except FileNotFoundError:
        pass
    srv = Server(opts.socket, Handler)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
