#!/bin/bash
# Hostile clients against a real gateway (short forms; tests/robustness has
# the long ones).  Each gets its defined reply or a close within its
# timeout, while a normal sender is served, and the worker's memory stays
# within a stated bound:
#  - slowloris in the TLS handshake: closed at handshake_timeout;
#  - slowloris mid-frame (one byte a second): no longer restarts the idle
#    timer, so service_unavailable and a close at idle_timeout;
#  - idle sessions beyond max_connections_per_ip: the extras refused, the
#    rest closed at idle_timeout, another address still served meanwhile;
#  - a handshake flood: every handshake completes, nothing leaks;
#  - a client that never reads its replies: reading stops (in-flight,
#    queued-reply and unsent-output bounds), then idle_timeout closes it;
#  - endless illegal_message: closed after 100 protocol errors;
# and after it all the worker's RSS is within 16 MiB of where it started.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

SINK=$BUILD/smtpsec-lmtpsink
HC="$(cd "$(dirname "$0")" && pwd)/hostile_client.py"
for b in "$GW" "$SEND" "$SINK"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
D=$GW_DATA
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
mkdir -p "$P/spool"
# under ASan freed memory is quarantined: measure without it
ldd "$GW" 2>/dev/null | grep -q libasan && export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0"

"$SINK" --unix "$P/lmtp.sock" --max-seconds 600 >"$P/sink.log" 2>&1 &
t_track_pid $!
gw_conf gw "[lmtp]" "target = unix:$P/lmtp.sock" "spool_dir = $P/spool" \
	"[limits]" "handshake_timeout = 2s" "idle_timeout = 3s" "max_connections_per_ip = 40" "max_connections = 500"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$W/status" 2>/dev/null; }
normal() {	# NAME: one ordinary Email is delivered meanwhile
	local out
	out=$("$SEND" "${GW_SENDER[@]}" --rcpt a@b.test --size 4000 --from x@example.test --max-seconds 20 2>&1)
	t_check "$1" "$(tail -2 <<<"$out" | tr '\n' ' ')" grep -q "reply n=1 email_delivered" <<<"$out"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }
export -f field
normal baseline_delivered
base=$(rss)

# --- slowloris in the handshake: handshake_timeout (2 s) --------------------
python3 "$HC" slow-handshake "$PORT" 12 >"$P/slowhs.out" 2>&1 &
hs=$!
sleep 0.5
normal served_during_slow_handshake
wait "$hs"
r=$(cat "$P/slowhs.out")
t_check slowloris_handshake_closed "$r" bash -c '[ "$(field closed <<<"$1")" = 1 ] && awk -v a="$(field after <<<"$1")" "BEGIN{exit !(a >= 1.5 && a <= 6)}"' _ "$r"

# --- slowloris mid-frame: idle_timeout (3 s) ---------------------------------
python3 "$HC" slow-frame "$PORT" 15 >"$P/slowfr.out" 2>&1 &
fr=$!
sleep 0.5
normal served_during_slow_frame
wait "$fr"
r=$(cat "$P/slowfr.out")
t_check slowloris_frame_closed "$r" bash -c '[ "$(field closed <<<"$1")" = 1 ] && awk -v a="$(field after <<<"$1")" "BEGIN{exit !(a <= 10)}"' _ "$r"
# the goodbye is service_unavailable without a reference (SMTPSEC.md 2.5)
t_check slowloris_frame_goodbye "$r" grep -q "idle_timeout" "$P/gw.log"

# --- idle sessions beyond the per-IP cap ---------------------------------------
python3 "$HC" idle "$PORT" 60 6 >"$P/idle.out" 2>&1 &
ip=$!
for _ in $(seq 100); do grep -q '^up=' "$P/idle.out" 2>/dev/null && break; sleep 0.1; done
r=$(head -1 "$P/idle.out")
t_check idle_cap_refuses_extras "$r" bash -c '[ "$(field up <<<"$1")" = 40 ] && [ "$(field refused <<<"$1")" = 20 ]' _ "$r"
# another client address is not affected by 127.0.0.1's cap
out=$(python3 - "$PORT" <<'PY'
import socket, ssl, sys
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5, source_address=("127.0.0.2", 0))
t = c.wrap_socket(s)
print("server_hello=" + t.recv(12).hex())
PY
)
t_check idle_cap_other_address_served "$out" grep -q "server_hello=00000000000000" <<<"$out"
wait "$ip"
r=$(tail -1 "$P/idle.out")
t_check idle_sessions_closed_at_timeout "$r" test "$(field alive_after <<<"$r")" = 0
normal served_after_idle_flood

# --- handshake flood -----------------------------------------------------------
for k in 1 2 3 4; do
	python3 "$HC" flood "$PORT" 75 >"$P/flood.$k" 2>&1 &
	fl[$k]=$!
done
normal served_during_flood
for k in 1 2 3 4; do wait "${fl[$k]}"; done
total=$(cat "$P"/flood.* | field handshakes | paste -sd+ | bc)
failed=$(cat "$P"/flood.* | field failed | paste -sd+ | bc)
t_check handshake_flood_all_complete "handshakes=$total failed=$failed: $(cat "$P"/flood.* | tr '\n' ' ')" \
	test "${total:-0}" = 300 -a "${failed:-1}" = 0
t_check gateway_alive_after_flood "worker gone" kill -0 "$W"

# --- a client that never reads -------------------------------------------------
printf 'From: x@example.test\r\nTo: a@b.test\r\nSubject: never read\r\n\r\nbody\r\n' >"$P/nr.eml"
sig=$(openssl pkeyutl -sign -inkey "$D/leaf.key" -rawin -in "$P/nr.eml" | od -An -tx1 | tr -d ' \n')
python3 "$HC" noread "$PORT" 30 "$D/leaf.pem" "$D/inter.pem" "$P/nr.eml" "$sig" >"$P/noread.out" 2>&1 &
nr=$!
sleep 1
normal served_during_noread
wait "$nr"
r=$(cat "$P/noread.out")
# reading stops (64 Emails in flight, 1024 queued replies or 256 KiB unsent),
# no byte arrives, so idle_timeout (3 s) and its 5 s grace close it (about
# 13 s; 20 s allows for a loaded machine and the sanitizer build)
t_check never_reading_client_closed "$r" bash -c '[ "$(field closed <<<"$1")" = 1 ] && awk -v a="$(field after <<<"$1")" "BEGIN{exit !(a <= 20)}"' _ "$r"
t_check never_reading_emails_sent "$r" test "$(field emails_sent <<<"$r")" -gt 0

# --- endless protocol errors: closed after 100 ------------------------------------
r=$(python3 "$HC" errors "$PORT" 5000 2>&1)
t_check error_flood_closed "$r" bash -c '[ "$(field replies <<<"$1")" = 101 ]' _ "$r"
t_check error_flood_logged "no too_many_errors line" grep -q "event=too_many_errors errors=101" "$P/gw.log"
t_check error_flood_log_bounded "$(grep -c event=illegal_message "$P/gw.log") illegal_message lines" \
	test "$(grep -c event=illegal_message "$P/gw.log")" -le 101

sleep 1
now=$(rss)
echo "# worker RSS: start ${base} KiB, after the hostile clients ${now} KiB"
t_check memory_bounded "RSS ${base} -> ${now} KiB" test -n "$now" -a $(( ${now:-0} - ${base:-0} )) -le 16384
t_check no_crash "$(grep -E 'worker_died|worker_init_failed' "$P/gw.log" | head -2)" bash -c '! grep -qE "worker_died|worker_init_failed" "$1"' _ "$P/gw.log"
kill -TERM "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
exit 0
