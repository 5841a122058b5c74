#!/usr/bin/env python3
"""Hostile SMTPsec clients for t_hostile.sh and the long forms in
tests/robustness.  Loopback only; every mode is bounded in count and time and
prints one result line of key=value pairs.

  slow-handshake PORT SECONDS      one byte of a TLS ClientHello per second
  slow-frame PORT SECONDS          TLS up, ClientHello, then an Email frame one byte per second
  idle PORT N SECONDS [SRC]        N TLS sessions that say ClientHello and then nothing
  flood PORT N                     N complete handshakes, one after the other, each closed at once
  noread PORT SECONDS LEAF INTER MSG SIGHEX
                                   ClientHello with the chain, then the same signed Email
                                   (Ed25519) again and again, replies never read
  errors PORT N                    ClientHello, then N more ClientHellos (illegal_message each)
"""
import socket
import ssl
import sys
import time

HELLO = bytes.fromhex("%016x02000000000000" % 15)   # ClientHello, version 0, no chains


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.minimum_version = ssl.TLSVersion.TLSv1_3
    return c


def tls(port, src=None, timeout=10, rcvbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:      # set before connect: no window autotuning past it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    t = ctx().wrap_socket(s)
    t.recv(12)                      # the ServerHello frame
    return t


def closed(sock):
    """True when the peer has closed (EOF, reset): reads what is pending."""
    try:
        sock.setblocking(False)
        while True:
            d = sock.recv(65536)
            if d == b"":
                return True
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        return True
    finally:
        try:
            sock.setblocking(True)
        except OSError:
            pass


def u(v, n):
    return v.to_bytes(n, "big")


def hello_with_chain(pems):
    chain = b"".join(u(len(d), 3) + d for d in (ssl.PEM_cert_to_DER_cert(open(p).read()) for p in pems))
    body = u(0, 2) + u(0, 1) + u(2 + len(chain), 3) + u(len(chain), 2) + chain
    return u(8 + 1 + len(body), 8) + b"\x02" + body


def email(sig, rcpt, msg):
    r = u(len(rcpt), 2) + rcpt
    body = (u(0, 2) + u(0, 3) + u(0x0807, 2) + u(0, 2) + sig + u(0, 3) + u(len(r), 3) + r +
            u(len(msg), 8) + msg)
    return u(8 + 1 + len(body), 8) + b"\x03" + body


def slow_handshake(port, secs):
    # a real ClientHello's first bytes would do; any TLS record header works
    data = bytes.fromhex("16030100c8010000c40303") + bytes(200)
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    t0 = time.time()
    sent = 0
    is_closed = False
    while time.time() - t0 < secs:
        try:
            s.send(data[sent % len(data):sent % len(data) + 1])
            sent += 1
        except OSError:
            is_closed = True
            break
        time.sleep(1)
        if closed(s):
            is_closed = True
            break
    print("closed=%d after=%.1f bytes=%d" % (is_closed, time.time() - t0, sent))


def slow_frame(port, secs):
    t = tls(port)
    t.sendall(HELLO)
    # an Email frame header claiming 1000 bytes, then its bytes one per second
    frame = bytes.fromhex("%016x" % 1000) + b"\x03" + bytes(991)
    t0 = time.time()
    got = b""
    sent = 0
    is_closed = False
    while time.time() - t0 < secs:
        try:
            t.sendall(frame[sent:sent + 1])
            sent += 1
        except OSError:
            is_closed = True
            break
        time.sleep(1)
        t.settimeout(0.05)
        try:
            d = t.recv(4096)
            if d == b"":
                is_closed = True
                break
            got += d
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except OSError:
            is_closed = True
            break
    print("closed=%d after=%.1f bytes=%d reply=%s" % (is_closed, time.time() - t0, sent, got.hex() or "-"))


def idle(port, n, secs, src=None):
    conns, refused = [], 0
    t0 = time.time()
    for _ in range(n):
        if time.time() - t0 > 60:
            break
        try:
            t = tls(port, src)
            t.sendall(HELLO)
            conns.append(t)
        except OSError:
            refused += 1
    print("up=%d refused=%d" % (len(conns), refused), flush=True)
    time.sleep(secs)
    alive = sum(1 for c in conns if not closed(c))
    print("alive_after=%d" % alive, flush=True)


def flood(port, n):
    ok = fail = 0
    t0 = time.time()
    for _ in range(n):
        if time.time() - t0 > 120:
            break
        try:
            t = tls(port, timeout=5)
            t.close()
            ok += 1
        except OSError:
            fail += 1
    print("handshakes=%d failed=%d seconds=%.1f" % (ok, fail, time.time() - t0))


def noread(port, secs, leaf, inter, msgfile, sighex):
    """A valid signed Email, sent again and again, replies never read (a
    small receive buffer, so the kernel does not absorb megabytes of them)."""
    t = tls(port, rcvbuf=4096)
    t.settimeout(2)
    frame = email(bytes.fromhex(sighex), b"a@b.test", open(msgfile, "rb").read())
    t.sendall(hello_with_chain([leaf, inter]))
    t0 = time.time()
    sent = 0
    is_closed = False
    batch = frame * 16
    while time.time() - t0 < secs:
        try:
            sent += t.send(batch)    # bytes taken by the TLS layer
        except socket.timeout:
            if closed(t):
                is_closed = True
                break
            continue            # our send buffer is full: the gateway stopped reading
        except OSError:
            is_closed = True
            break
    print("closed=%d after=%.1f emails_sent=%d" % (is_closed, time.time() - t0, sent // len(frame)))


def errors(port, n):
    t = tls(port)
    t.sendall(HELLO)
    t0 = time.time()
    try:
        t.sendall(HELLO * n)
    except OSError:
        pass
    t.settimeout(10)
    got = b""
    try:
        while time.time() - t0 < 10:
            d = t.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    frames, off = 0, 0
    while off + 8 <= len(got):
        off += int.from_bytes(got[off:off + 8], "big")
        frames += 1
    print("replies=%d closed_after=%.1f" % (frames, time.time() - t0))


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "slow-handshake":
        slow_handshake(port, float(a[0]))
    elif mode == "slow-frame":
        slow_frame(port, float(a[0]))
    elif mode == "idle":
        idle(port, int(a[0]), float(a[1]), a[2] if len(a) > 2 else None)
    elif mode == "flood":
        flood(port, int(a[0]))
    elif mode == "noread":
        noread(port, float(a[0]), a[1], a[2], a[3], a[4])
    elif mode == "errors":
        errors(port, int(a[0]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
