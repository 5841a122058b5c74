#!/bin/bash
# Redis across hosts (issue 17): hiredis 0.14 has no TLS, so the README
# wraps the link in spiped (Debian package spiped).  Here on loopback:
# gateway -> spiped -e (127.0.0.1:PE) -> spiped -d (127.0.0.1:PD, the "wire")
# -> redis-server with a password.
#   1. through the pipe the gateway's stats writer is up and its stats
#      arrive (heartbeat, conn_accepted after one connection).
#   2. the wire does not speak Redis in clear: a plain PING to PD gets no
#      +PONG (nothing there but spiped's encrypted, authenticated stream).
#   3. an encrypting end with another key gets nowhere: that gateway's
#      Redis state is down (timeout or lost connection), mail unaffected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_redis.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
command -v redis-server >/dev/null || { t_skip redis "redis-server missing"; exit 0; }
command -v spiped >/dev/null || { t_fail spiped "spiped is not installed (make deps installs it)"; exit 1; }
gw_pki || { t_fail pki "openssl failed"; exit 1; }
redis_start p1pe || { t_fail redis_start "redis-server did not start"; exit 1; }
dd if=/dev/urandom bs=32 count=1 of="$T_TMP/pipe.key" 2>/dev/null
dd if=/dev/urandom bs=32 count=1 of="$T_TMP/other.key" 2>/dev/null
chmod 600 "$T_TMP/pipe.key" "$T_TMP/other.key"
PD=$(t_free_port)
PE=$(t_free_port)
PX=$(t_free_port)
spiped -d -F -s "[127.0.0.1]:$PD" -t "[127.0.0.1]:$REDIS_PORT" -k "$T_TMP/pipe.key" -p "$T_TMP/spd.pid" &
t_track_pid $!
spiped -e -F -s "[127.0.0.1]:$PE" -t "[127.0.0.1]:$PD" -k "$T_TMP/pipe.key" -p "$T_TMP/spe.pid" &
t_track_pid $!
spiped -e -F -s "[127.0.0.1]:$PX" -t "[127.0.0.1]:$PD" -k "$T_TMP/other.key" -p "$T_TMP/spx.pid" &
t_track_pid $!
t_wait_port "$PD" 5 && t_wait_port "$PE" 5 && t_wait_port "$PX" 5 || { t_fail spiped_start "spiped did not listen"; exit 1; }

gw_conf sp "[headers]" "authserv_id = b.test" "[redis]" "url = redis://:p1pe@127.0.0.1:$PE" \
	"stats_interval = 200ms" "instance = sp"
gw_run sp || { t_fail gw_start "no listener"; exit 1; }
t_wait_for 10 bash -c "grep -q 'event=redis_stats state=up' '$T_TMP/sp.log'"
t_check piped_stats_up "$(grep redis_stats "$T_TMP/sp.log" | tail -2)" grep -q 'event=redis_stats state=up' "$T_TMP/sp.log"
exec 3<>"/dev/tcp/127.0.0.1/$PORT" && exec 3>&-	# one connection, counted
t_wait_for 10 bash -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT -a p1pe --no-auth-warning HGET smtpsec:stats:sp conn_accepted)\" -ge 1 ] 2>/dev/null"
t_check piped_stats_arrive "conn_accepted=$(rcli HGET smtpsec:stats:sp conn_accepted) heartbeat=$(rcli HGET smtpsec:stats:sp meta.heartbeat)" \
	test "$(rcli HGET smtpsec:stats:sp conn_accepted)" -ge 1

out=$(python3 - "$PD" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"AUTH p1pe\r\nPING\r\n")
try:
    print(repr(s.recv(4096)))
except Exception as e:
    print("no reply:", type(e).__name__)
PY
)
t_check wire_not_plain_redis "$out" bash -c '! grep -q "PONG\|+OK" <<<"$1"' _ "$out"

gw_conf sx "[headers]" "authserv_id = b.test" "[redis]" "url = redis://:p1pe@127.0.0.1:$PX" \
	"stats_interval = 200ms" "instance = sx"
gw_run sx || { t_fail gw_start_sx "no listener"; exit 1; }
t_wait_for 10 bash -c "grep -q 'event=redis_stats state=down' '$T_TMP/sx.log'"
t_check other_key_down "$(grep redis_stats "$T_TMP/sx.log" | tail -2)" bash -c \
	"grep -q 'event=redis_stats state=down' '$T_TMP/sx.log' && ! grep -q 'event=redis_stats state=up' '$T_TMP/sx.log'"
t_check other_key_nothing_written "sx wrote stats" test -z "$(rcli HGET smtpsec:stats:sx meta.heartbeat)"
exit 0
