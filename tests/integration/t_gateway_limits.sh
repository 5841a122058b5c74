#!/bin/bash
# Gateway limits and transport options (SMTPSEC.md 1, 7) that need no
# mailstore: the global connection cap, the idle timeout's unreferenced
# service_unavailable, the accepted sockets' send buffer and TCP_NODELAY,
# running out of descriptors on accept (no busy loop),
# TLS 1.2 only when min_version = 1.2, and a worker that cannot start
# (spool_dir not a directory) stopping the gateway instead of a restart loop.
. "$(dirname "$0")/lib.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
P=$T_TMP
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/k.pem" -out "$P/c.pem" \
	-subj /CN=gw.b.test -addext subjectAltName=DNS:gw.b.test -days 2 2>/dev/null || { t_fail pki "openssl failed"; exit 1; }
PORT=$(t_free_port)
mkconf() {	# MIN-VERSION LIMITS...
	local v=$1; shift
	{
		printf '[server]\nlisten = 127.0.0.1:%s\nworkers = 1\nhostname = gw.b.test\n' "$PORT"
		printf '[tls]\ncertificate = %s\nkey = %s\nmin_version = %s\n' "$P/c.pem" "$P/k.pem" "$v"
		printf '[lmtp]\ntarget = unix:%s/nolmtp\nspool_dir = %s\n[limits]\n' "$P" "$P"
		printf '%s\n' "$@"
	} >"$P/gw.conf"
}
GW_PID=
gw_start() {	# [ulimit -n]
	if [ -n "${1:-}" ]; then
		(ulimit -n "$1"; exec "$GW" -f -c "$P/gw.conf" --insecure-skip-chain-checks) >>"$P/gw.log" 2>&1 &
	else
		"$GW" -f -c "$P/gw.conf" --insecure-skip-chain-checks >>"$P/gw.log" 2>&1 &
	fi
	GW_PID=$!
	t_track_pid "$GW_PID"
	t_wait_port "$PORT" 10
}
gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$GW_PID" 2>/dev/null
}
hold_and_probe() {	# HOLD: hold HOLD connections, then report what one more gets
	python3 - "$PORT" "$1" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(2)
try:
    print("refused" if s.recv(1) == b"" else "open")
except ConnectionResetError:
    print("refused")
except socket.timeout:
    print("open")
PY
}

# --- global cap ---
mkconf 1.3 "max_connections = 3" "max_connections_per_ip = 100" "idle_timeout = 2s" "handshake_timeout = 5s"
gw_start || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
out=$(hold_and_probe 3)
t_check global_cap_refused "$out" test "$out" = refused
t_check global_cap_logged "no log line" grep -q "event=refused ip=127.0.0.1 why=max_connections$" "$P/gw.log"
out=$(hold_and_probe 1)
t_check under_global_cap_open "$out" test "$out" = open

# --- idle timeout: service_unavailable without a reference, then close ---
start=$(date +%s)
out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/c.pem" --servername gw.b.test --no-hello --wait 6 2>&1)
took=$(( $(date +%s) - start ))
t_check idle_timeout_goodbye "$out" grep -q "reply n=none error=service_unavailable" <<<"$out"
t_check idle_timeout_closed_early "took ${took}s" test "$took" -lt 6
t_check idle_timeout_logged "no log" grep -q "event=close reason=idle_timeout" "$P/gw.log"

# --- accepted sockets: the 32 KiB send buffer and TCP_NODELAY, set on the
# listener and inherited (rcv_server_bind); read from the worker's own
# descriptor with pidfd_getfd(2) ---
W=$(pgrep -P "$GW_PID" | head -1)
out=$(python3 - "$PORT" "$W" <<'PY' 2>&1
import ctypes, os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", port))
cport = c.getsockname()[1]
time.sleep(0.3)
inode = None
for line in open("/proc/%d/net/tcp" % pid).read().splitlines()[1:]:
    f = line.split()
    if int(f[1].split(":")[1], 16) == port and int(f[2].split(":")[1], 16) == cport:
        inode = f[9]
fd = None
for n in os.listdir("/proc/%d/fd" % pid):
    try:
        if os.readlink("/proc/%d/fd/%s" % (pid, n)) == "socket:[%s]" % inode:
            fd = int(n)
    except OSError:
        pass
if fd is None:
    sys.exit("the accepted socket was not found in worker %d" % pid)
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
mine = libc.syscall(438, pidfd, fd, 0)	# pidfd_getfd
if mine < 0:
    sys.exit("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
s = socket.socket(fileno=mine)
print("sndbuf=%d nodelay=%d" % (s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
    s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
s.detach()
os.close(mine)
PY
)
# the kernel doubles what SO_SNDBUF asks for: 32 KiB -> 65536
t_check accepted_socket_options "$out" test "$out" = "sndbuf=65536 nodelay=1"
gw_stop

# --- out of descriptors on accept: pause instead of spinning, then recover ---
mkconf 1.3 "max_connections = 10000" "max_connections_per_ip = 10000"
gw_start 48 || { t_fail gateway_start_emfile "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
w=$(pgrep -P "$GW_PID" | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu "$w")
python3 - "$PORT" <<'PY' &
import socket, sys, time
held = []
for _ in range(80):
    try:
        held.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1))
    except OSError:
        pass
time.sleep(3)
PY
hp=$!
t_track_pid "$hp"
sleep 2.5
c1=$(cpu "$w")
wait "$hp" 2>/dev/null
t_check emfile_logged "no accept error logged" grep -Eq 'event=accept result=error why="(Too many open files|connection setup failed)" pause_ms=100' "$P/gw.log"
# 2.5 s of a full descriptor table: a busy loop would burn ~250 ticks
t_check emfile_no_busy_loop "cpu ticks $c0 -> $c1" test $((c1 - c0)) -lt 60
sleep 1
out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/c.pem" --servername gw.b.test --no-hello --wait 0.5 2>&1)
t_check emfile_recovers "$out" grep -q "server_hello version=0" <<<"$out"
gw_stop

# --- TLS 1.2 only by configuration ---
mkconf 1.2
gw_start || { t_fail gateway_start_tls12 "no listener"; exit 1; }
out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/c.pem" --servername gw.b.test --tls12 --no-hello --wait 0.5 2>&1)
t_check tls12_when_configured "$out" bash -c '[[ "$1" == *"tls version=TLSv1.2"* && "$1" == *"server_hello version=0"* ]]' _ "$out"
out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/c.pem" --servername gw.b.test --no-hello --wait 0.5 2>&1)
t_check tls13_still_preferred "$out" grep -q "tls version=TLSv1.3" <<<"$out"
gw_stop

# --- a worker that cannot start stops the gateway (exit 78, EX_CONFIG), no restart loop ---
mkconf 1.3
: >"$P/notadir"
sed -i "s|^spool_dir = .*|spool_dir = $P/notadir|" "$P/gw.conf"
: >"$P/gw.log"
"$GW" -f -c "$P/gw.conf" --insecure-skip-chain-checks >>"$P/gw.log" 2>&1 &
GW_PID=$!
t_track_pid "$GW_PID"
for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$GW_PID" 2>/dev/null; then
	t_fail worker_init_failure_stops "gateway still running after 10 s: $(tail -2 "$P/gw.log" | tr '\n' ' ')"
	gw_stop
else
	wait "$GW_PID"
	rc=$?
	t_check worker_init_failure_stops "rc $rc: $(tail -3 "$P/gw.log" | tr '\n' ' ')" \
		bash -c '[ "$1" = 78 ] && grep -q "spool_dir .*Not a directory" "$2" && grep -q "event=worker_init_failed" "$2" && ! grep -q "event=worker_died" "$2"' _ "$rc" "$P/gw.log"
fi
exit 0
