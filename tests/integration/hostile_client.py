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
  slow-handshake-n PORT N SECONDS  N slow-handshake clients at once (threads)
  slow-frame-n PORT N SECONDS      N slow-frame clients at once (threads)
  big-hello-n PORT N SIZE SECONDS [RATE]
                                   N sessions at once, each sending a ClientHello frame of SIZE
                                   bytes except its last byte (RATE bytes/s each, 0 = at once),
                                   then holding it open until SECONDS; one line per session:
                                   "big_hello sent=B replies=internal_error:0 closed=0|1"
  full-hello-n PORT N SECONDS      N sessions at once, each sending a complete ClientHello of
                                   about 1 MiB (16 chains of one 65000-byte certificate of
                                   zeros), then holding it open until SECONDS; lines as above
  case PORT NAME LEAF INTER MSG SIGHEX [ARG]
                                   one protocol case (see CASES), its replies decoded:
                                   "case=NAME replies=delivered:1,illegal_parameter:0,.. closed=0|1"
"""
import select
import socket
import ssl
import sys
import threading
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


def email_ex(sig, rcpts, msg, chain=0, trace=()):
    """An Ed25519 Email with chain index, several recipients, trace headers."""
    r = b"".join(u(len(a), 2) + a for a in rcpts)
    t = b"".join(u(len(n), 2) + n + u(len(v), 3) + v for n, v in trace)
    body = (u(0, 2) + u(chain, 3) + u(0x0807, 2) + u(0, 2) + sig + u(len(t), 3) + t +
            u(len(r), 3) + r + u(len(msg), 8) + msg)
    return u(8 + 1 + len(body), 8) + b"\x03" + body


def hello_chains(chains):
    """A ClientHello from a list of chains, each a list of DER certificates."""
    cc = b""
    for ch in chains:
        c = b"".join(u(len(d), 3) + d for d in ch)
        cc += u(len(c), 2) + c
    body = u(0, 2) + u(0, 1) + u(len(cc), 3) + cc
    return u(8 + 1 + len(body), 8) + b"\x02" + body


ERRS = ["internal_error", "service_unavailable", "illegal_message", "illegal_parameter",
        "too_large", "authentication_failed", "insufficient_security", "unknown_address"]


def exchange(t, data, want, secs, wait_close=0.0):
    """Send data while reading replies, in one thread (an SSL object must not
    be read and written from two at once), until `want` replies arrived (then
    up to wait_close seconds more for a close) or secs passed.  Returns (list
    of "code:ref" / "delivered:n", closed)."""
    got, out, is_closed, sent, lingering = b"", [], False, 0, False
    t.setblocking(False)
    deadline = time.time() + secs
    while time.time() < deadline:
        if len(out) >= want and sent >= len(data) and not lingering:
            if wait_close <= 0:
                break
            deadline = min(deadline, time.time() + wait_close)
            lingering = True
        busy = False
        if sent < len(data):
            try:
                sent += t.send(data[sent:sent + 65536])
                busy = True
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
            except OSError:
                sent = len(data)    # the gateway closed: read what it said
        try:
            d = t.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            d = None
        except OSError:
            is_closed = True
            break
        if d == b"":
            is_closed = True
            break
        if d:
            got += d
            busy = True
        while len(got) >= 9:
            n = int.from_bytes(got[:8], "big")
            if n < 11 or len(got) < n:
                break
            f, got = got[:n], got[n:]
            body = f[11 + int.from_bytes(f[9:11], "big"):]
            if f[8] == 4:
                out.append("delivered:%d" % int.from_bytes(body[:3], "big"))
            elif f[8] == 0:
                name = ERRS[body[0]] if body[0] < len(ERRS) else "code%d" % body[0]
                ref = "%d" % int.from_bytes(body[2:5], "big") if body[1] == 1 else "-"
                out.append("%s:%s" % (name, ref))
            else:
                out.append("type%d:-" % f[8])
        if not busy:
            select.select([t], [t] if sent < len(data) else [], [], 0.05)
    return out, is_closed


def case(port, name, leaf, inter, msgfile, sighex, arg=None):
    """Protocol cases of SMTPSEC.md 2 and 7 (hostile sizes and counts)."""
    ders = [ssl.PEM_cert_to_DER_cert(open(p).read()) for p in (leaf, inter)]
    msg = open(msgfile, "rb").read()
    sig = bytes.fromhex(sighex)
    hello = hello_chains([ders])
    ok = email_ex(sig, [b"a@b.test"], msg)
    t = tls(port, timeout=30)
    t0 = time.time()
    want, secs, wait_close, data = 1, 20, 0.0, b""
    if name == "huge-email":        # size 2^64-1, type email: too_large at once, no close
        data = hello + u(2**64 - 1, 8) + b"\x03" + bytes(4096)
        wait_close = 1.5
    elif name == "huge-other":      # size 2^64-1, a second ClientHello: too_large, close
        data = hello + u(2**64 - 1, 8) + b"\x02" + bytes(4096)
        wait_close = 5
    elif name == "hello-max":       # 16 chains x 10 certificates; an Email with chain 15
        chains = [ders + [ders[1]] * 8 for _ in range(16)]
        data = hello_chains(chains) + email_ex(sig, [b"a@b.test"], msg, chain=15)
    elif name == "hello-17-chains":
        data = hello_chains([ders] * 17)
    elif name == "hello-11-certs":
        data = hello_chains([ders + [ders[1]] * 9])
    elif name == "hello-big-cert":
        # a chain is at most 2^16-1 bytes, so a certificate over 64 KiB can
        # only be claimed: a length prefix of 64 KiB + 1 in a full chain
        chain = u(64 * 1024 + 1, 3) + b"\x30" + bytes(65535 - 4)
        cc = u(len(ders[0]) + 3 + len(ders[1]) + 3, 2) + b"".join(u(len(d), 3) + d for d in ders)
        cc += u(len(chain), 2) + chain
        body = u(0, 2) + u(0, 1) + u(len(cc), 3) + cc
        data = u(8 + 1 + len(body), 8) + b"\x02" + body
    elif name == "rcpts":           # ARG recipients, all valid: delivered
        n = int(arg)
        data = hello + email_ex(sig, [b"r%d@b.test" % i for i in range(n)], msg)
        secs = 60
    elif name == "rcpts-huge":      # 65535-byte addresses filling the 2^24-1 vector
        full, left, rc = 2 + 65535, 2**24 - 1, []
        while left >= full:
            rc.append(b"x" * 65535)
            left -= full
        if left > 2:
            rc.append(b"y" * (left - 2))
        assert sum(2 + len(a) for a in rc) == 2**24 - 1
        data = hello + email_ex(sig, rc, msg) + ok     # and then a good one
        want, secs = 2, 60
    elif name == "trace":           # ARG: NAMEHEX:VALUEHEX, then a good Email
        n, v = (bytes.fromhex(x) for x in arg.split(":"))
        data = hello + email_ex(sig, [b"a@b.test"], msg, trace=[(n, v)]) + ok
        want = 2
    else:
        sys.exit("unknown case " + name)
    out, is_closed = exchange(t, data, want, secs, wait_close)
    print("case=%s replies=%s closed=%d after=%.1f sent=%d" %
          (name, ",".join(out) or "-", is_closed, time.time() - t0, len(data)), flush=True)


def many(fn, n, *a):
    """Run fn(*a) in n threads at once; each prints one line."""
    ths = [threading.Thread(target=fn, args=a) for _ in range(n)]
    for th in ths:
        th.start()
        time.sleep(0.01)
    for th in ths:
        th.join()


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
    # one write per line: many() runs this in threads
    sys.stdout.write("closed=%d after=%.1f bytes=%d\n" % (is_closed, time.time() - t0, sent))


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
    sys.stdout.write("closed=%d after=%.1f bytes=%d reply=%s\n" %
                     (is_closed, time.time() - t0, sent, got.hex() or "-"))


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


OUT_LOCK = threading.Lock()


def say(line):
    """One whole line from one of many threads."""
    with OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def big_hello(port, size, secs, rate=0.0, full=False):
    """A ClientHello of `size` bytes, all but its last byte: a partly received
    non-Email Message the gateway must buffer (or refuse), then silence.
    full: a complete ClientHello of 16 chains of 65000 bytes instead."""
    t0 = time.time()
    try:
        t = tls(port, timeout=30)
    except OSError as e:
        say("big_hello sent=0 replies= closed=1 err=%s" % type(e).__name__)
        return
    data = hello_chains([[bytes(65000)]] * 16) if full else u(size, 8) + b"\x02" + bytes(size - 10)
    out, is_closed, sent = [], False, 0
    chunk = 65536 if rate <= 0 else max(1024, int(rate / 10))
    while sent < len(data) and time.time() - t0 < secs:
        part = data[sent:sent + chunk]
        r, c = exchange(t, part, 0, 5.0)
        out += r
        sent += len(part)
        if c:
            is_closed = True
            break
        if rate > 0:
            time.sleep(len(part) / rate)
    if not is_closed:
        r, is_closed = exchange(t, b"", 1, max(0.1, secs - (time.time() - t0)), wait_close=2.0)
        out += r
    say("big_hello sent=%d replies=%s closed=%d" % (sent, ",".join(out), int(is_closed)))
    try:
        t.close()
    except OSError:
        pass


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
    elif mode == "slow-handshake-n":
        many(slow_handshake, int(a[0]), port, float(a[1]))
    elif mode == "slow-frame-n":
        many(slow_frame, int(a[0]), port, float(a[1]))
    elif mode == "big-hello-n":
        many(big_hello, int(a[0]), port, int(a[1]), float(a[2]), float(a[3]) if len(a) > 3 else 0.0)
    elif mode == "full-hello-n":
        many(big_hello, int(a[0]), port, 0, float(a[1]), 0.0, True)
    elif mode == "case":
        case(port, *a)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
