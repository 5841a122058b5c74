#!/bin/bash
# make bench / make bench-quick: throughput, latency, CPU and memory of the
# gateway, measured against references taken in the same run on the same
# machine (these machines are shared and noisy; ratios mean more than
# absolute figures).  Every load is bounded in count and time.
#
#   1. end to end into Dovecot vs the same messages straight into the same
#      Dovecot over LMTP (16 concurrent senders, warm DNS cache)
#   2. gateway capacity with a do-nothing LMTP sink (smtpsec-lmtpsink)
#   3. memory: RSS per idle TLS session; a 50 MiB Email vs idle
#   4. DNS: resolver queries per Email once the cache is warm
#
# Output: a table, BENCH_OUT (default build/bench/results.json), and one
# key=value line per target at the end.  BENCH_QUICK=1 makes it short.
export BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_redis.sh"

QUICK=${BENCH_QUICK:-0}
OUT=${BENCH_OUT:-$BUILD/bench/results.json}
mkdir -p "$(dirname "$OUT")"
GW=$BUILD/smtpsec-gateway SEND=$BUILD/smtpsec-send LMTPQ=$BUILD/smtpsec-lmtpq SINK=$BUILD/smtpsec-lmtpsink
D="$T_SRC/tests/unit/verify/data"
for b in "$GW" "$SEND" "$LMTPQ" "$SINK"; do [ -x "$b" ] || { echo "bench: $b not built"; exit 1; }; done
if [ "$QUICK" = 1 ]; then N_E2E=200 N_CAP=2000 IDLE="100 1000"; else N_E2E=2000 N_CAP=20000 IDLE="100 1000 5000"; fi
ulimit -n 20000 2>/dev/null || true
CONC=16

# --- setup: sender zone with DANE-EE, the gateway's certificate ---------------
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")
P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool"
chmod 777 "$T_TMP/spool"
openssl genpkey -algorithm ED25519 -out "$P/gw.key" 2>/dev/null
openssl req -x509 -new -key "$P/gw.key" -subj "/CN=gw.b.test" -addext subjectAltName=DNS:gw.b.test \
	-days 30 -out "$P/gw.pem" 2>/dev/null
cat "$D/leaf.pem" "$D/inter.pem" >"$P/chain.pem"
dns_init
dns_zone example.test signed
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 10 4650 mx1.example.test."
dns_rr example.test "_4650._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $LEAF"
dns_start || { echo "bench: NSD did not start"; exit 1; }
dovecot_start bob@b.test || { echo "bench: Dovecot did not start"; exit 1; }
redis_start || { echo "bench: redis did not start"; exit 1; }
PORT=$(t_free_port)

conf() {	# LMTP-TARGET
	cat >"$T_TMP/gw.conf" <<EOF
[server]
listen = 127.0.0.1:$PORT
workers = auto
hostname = gw.b.test
[tls]
certificate = $P/gw.pem
key = $P/gw.key
[dns]
unbound_conf = $DNS_UNBOUND_CONF
trust_anchor_file =
[verify]
ca_file = $D/root.pem
ct_log_list =
[lmtp]
target = $1
connections = 16
spool_dir = $T_TMP/spool
[redis]
url = redis://127.0.0.1:$REDIS_PORT
stats_interval = 200ms
instance = bench
[limits]
max_message_size = 64M
max_connections_per_ip = 10000
max_connections = 20000
EOF
}
GW_PID=
gw_start() {
	"$GW" -f -c "$T_TMP/gw.conf" >>"$T_TMP/gw.log" 2>&1 &
	GW_PID=$!
	t_track_pid "$GW_PID"
	t_wait_port "$PORT" 10
}
gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$GW_PID" 2>/dev/null
}
gw_pids() { echo "$GW_PID"; pgrep -P "$GW_PID"; }
cpu_ticks() {	# user+system clock ticks of the gateway's processes
	local t=0 p
	for p in $(gw_pids); do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
rss_kib() {	# resident memory of the gateway's processes
	local t=0 p
	for p in $(gw_pids); do
		[ -r "/proc/$p/status" ] && t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")))
	done
	echo "$t"
}
hwm_kib() {
	local t=0 p
	for p in $(gw_pids); do
		[ -r "/proc/$p/status" ] && t=$((t + $(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status")))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)
load() {	# COUNT SIZE [RCPTS...]: smtpsec-send load mode, prints its load line
	local n=$1 size=$2; shift 2
	local r=() x
	for x in "$@"; do r+=(--rcpt "$x"); done
	"$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/gw.pem" --servername gw.b.test \
		--key "$D/leaf.key" --chain "$P/chain.pem" "${r[@]}" --from alice@example.test \
		--size "$size" --count "$n" --concurrency "$CONC" --load --max-seconds 120 2>&1 | grep '^load '
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }
ROWS=()
row() { ROWS+=("$(printf '%-34s %10s %8s %8s %8s %8s %10s %10s' "$@")"); }

# --- 1. end to end into Dovecot vs direct LMTP ---------------------------------------
conf "unix:$DOVECOT_SOCKET"
gw_start || { echo "bench: gateway did not start: $(tail -3 "$T_TMP/gw.log")"; exit 1; }
load 20 10240 bob@b.test >/dev/null	# warm the DNS and verdict caches
e2e_ratio_10k=
for size in 10240 102400; do
	t0=$(cpu_ticks)
	l=$(load "$N_E2E" "$size" bob@b.test)
	t1=$(cpu_ticks)
	gw_rate=$(field msgs_per_s <<<"$l")
	cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$N_E2E" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
	row "e2e dovecot $((size / 1024))KiB 1 rcpt" "$gw_rate" "$(field mb_per_s <<<"$l")" \
		"$(field p50_ms <<<"$l")" "$(field p90_ms <<<"$l")" "$(field p99_ms <<<"$l")" "$cpu_us" "$(rss_kib)"
	# the ceiling: the same kind of message straight into Dovecot, 16 at once
	head -c "$size" /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/' |
		{ printf 'From: alice@example.test\r\nTo: bob@b.test\r\nSubject: direct\r\n\r\n'; cat; } >"$T_TMP/direct.eml"
	s0=$(date +%s%N)
	"$LMTPQ" --target "unix:$DOVECOT_SOCKET" --from alice@example.test --rcpt bob@b.test \
		--message "$T_TMP/direct.eml" --copies "$N_E2E" --timeout-ms 60000 >"$T_TMP/direct.out"
	s1=$(date +%s%N)
	direct_rate=$(awk -v n="$N_E2E" -v ns=$((s1 - s0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
	row "direct lmtp $((size / 1024))KiB 1 rcpt" "$direct_rate" "-" "-" "-" "-" "-" "-"
	ratio=$(awk -v a="$gw_rate" -v b="$direct_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	[ "$size" = 10240 ] && e2e_ratio_10k=$ratio
	row "  ratio gateway/direct" "$ratio" "" "" "" "" "" ""
done
l=$(load "$((N_E2E / 2))" 10240 bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test)
row "e2e dovecot 10KiB 10 rcpts" "$(field msgs_per_s <<<"$l")" "$(field mb_per_s <<<"$l")" \
	"$(field p50_ms <<<"$l")" "$(field p90_ms <<<"$l")" "$(field p99_ms <<<"$l")" "-" "$(rss_kib)"

# --- 4. DNS: resolver queries per Email with a warm cache --------------------------
q0=$(redis-cli -p "$REDIS_PORT" HGET smtpsec:stats:total dns_resolver_queries)
e0=$(redis-cli -p "$REDIS_PORT" HGET smtpsec:stats:total emails_received)
load 200 2048 bob@b.test >/dev/null
sleep 0.5
q1=$(redis-cli -p "$REDIS_PORT" HGET smtpsec:stats:total dns_resolver_queries)
e1=$(redis-cli -p "$REDIS_PORT" HGET smtpsec:stats:total emails_received)
warm_q=$(awk -v q=$(( ${q1:-0} - ${q0:-0} )) -v e=$(( ${e1:-0} - ${e0:-0} )) 'BEGIN { printf "%.3f", (e > 0 ? q / e : -1) }')
row "dns warm: resolver queries/Email" "$warm_q" "" "" "" "" "" ""
gw_stop

# --- 2. capacity with a do-nothing LMTP sink ---------------------------------------------
"$SINK" --unix "$T_TMP/sink.sock" --max-seconds 600 >"$T_TMP/sink.out" 2>&1 &
t_track_pid $!
t_wait_for 5 test -S "$T_TMP/sink.sock"
conf "unix:$T_TMP/sink.sock"
gw_start || { echo "bench: gateway did not start"; exit 1; }
load 50 2048 bob@b.test >/dev/null
cap=
cpu_email=
for size in 2048 10240; do
	t0=$(cpu_ticks)
	l=$(load "$N_CAP" "$size" bob@b.test)
	t1=$(cpu_ticks)
	cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$N_CAP" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
	row "capacity sink $((size / 1024))KiB ed25519" "$(field msgs_per_s <<<"$l")" "$(field mb_per_s <<<"$l")" \
		"$(field p50_ms <<<"$l")" "$(field p90_ms <<<"$l")" "$(field p99_ms <<<"$l")" "$cpu_us" "$(rss_kib)"
	if [ "$size" = 10240 ]; then cap=$(field msgs_per_s <<<"$l"); cpu_email=$cpu_us; fi
done

# --- 3. memory: idle TLS sessions, and one 50 MiB Email ----------------------------------
idle_base=$(rss_kib)
per_conn=
for n in $IDLE; do
	python3 - "$PORT" "$n" "$T_TMP/idle.$n" <<'PY' &
import socket, ssl, sys, time
port, n, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    t = ctx.wrap_socket(s)
    t.recv(12)                     # the ServerHello frame: the session is up
    t.sendall(bytes.fromhex("000000000000000f02000000000000"))   # ClientHello, no chains
    conns.append(t)
open(flag, "w").write("up\n")
time.sleep(30)
PY
	ppid=$!
	t_wait_for 120 test -f "$T_TMP/idle.$n"
	sleep 1
	rss=$(rss_kib)
	kib=$(awk -v r="$rss" -v b="$idle_base" -v n="$n" 'BEGIN { printf "%.1f", (r - b) / n }')
	row "idle TLS sessions: $n" "-" "-" "-" "-" "-" "-" "$rss"
	row "  KiB per idle session" "$kib" "" "" "" "" "" ""
	per_conn=$kib
	kill "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	sleep 1
done
# a fresh gateway, so its peak is not the idle sessions' above
gw_stop
gw_start || { echo "bench: gateway did not restart"; exit 1; }
load 2 2048 bob@b.test >/dev/null
sleep 0.5
idle_now=$(hwm_kib)
load 1 52428800 bob@b.test >"$T_TMP/big.out"
grep -q 'delivered=1' "$T_TMP/big.out" || echo "bench: the 50 MiB Email was not delivered: $(cat "$T_TMP/big.out" "$T_TMP/big.err" 2>/dev/null | tail -3)"
after=$(hwm_kib)
big_delta=$(awk -v a="$after" -v b="$idle_now" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
grep -q 'delivered=1' "$T_TMP/big.out" || big_delta=na	# no figure from a failed send
row "one 50 MiB Email: peak RSS - idle" "${big_delta}MiB" "$(field mb_per_s <"$T_TMP/big.out")" "" "" "" "" "$after"
gw_stop

# --- report -----------------------------------------------------------------------------
echo
printf '%-34s %10s %8s %8s %8s %8s %10s %10s\n' scenario msgs/s MB/s p50_ms p90_ms p99_ms cpu_us/Email rss_KiB
for r in "${ROWS[@]}"; do echo "$r"; done
python3 - "$OUT" "${ROWS[@]}" <<'PY'
import json, sys
rows = [r.split() for r in sys.argv[2:]]
json.dump({"rows": sys.argv[2:]}, open(sys.argv[1], "w"), indent=1)
PY
echo "results: $OUT"
echo
echo "e2e_ratio=${e2e_ratio_10k:-na}"
echo "capacity_msgs_per_s=${cap:-na}"
echo "cpu_us_per_email=${cpu_email:-na}"
echo "handshake_ratio=na"
echo "rss_kib_per_idle_conn=${per_conn:-na}"
echo "big_email_rss_delta_mib=${big_delta:-na}"
echo "warm_resolver_queries_per_email=${warm_q:-na}"
