#!/bin/bash
# make bench / make bench-quick: throughput, latency, CPU and memory of the
# gateway, measured against references taken in the same run on the same
# machine (these machines are shared and noisy; ratios mean more than
# absolute figures).  Every load is bounded in count and time, everything
# runs on loopback, and every server started here is stopped by PID
# (tests/integration/lib.sh).
#
#   1. end to end into Dovecot vs the same messages straight into the same
#      Dovecot over LMTP (16 concurrent senders, warm DNS cache)
#   2. gateway capacity with a do-nothing LMTP sink (smtpsec-lmtpsink):
#      Ed25519 and ECDSA P-256 (the gateway's TLS key and the sender's
#      signing key), 2 KiB and 10 KiB, many Emails per connection; one
#      Email per connection (handshake-bound) against the raw wolfSSL
#      handshake rate between two processes (smtpsec-hsbench)
#   3. DNS: cold cache (every Email from a new sender domain) vs warm, the
#      in-process cache vs Redis, resolver queries per Email
#   4. memory: RSS per idle TLS session; a 50 MiB Email's peak RSS vs idle
#   and always the crypto floor: what one 10 KiB Ed25519 Email's crypto
#      costs with this build's wolfSSL (smtpsec-cryptofloor: Ed25519 verify
#      + SHA-512 of the body + ChaCha20-Poly1305 decryption), the unit of
#      cpu_over_crypto_floor
#
# Output: a table, BENCH_OUT (default build/bench/results.json), a PNG plot
# next to it when gnuplot is installed, and one key=value line per target
# at the end.  BENCH_QUICK=1 makes it short; BENCH_PERF=1 also records
# perf profiles of the workers (build/bench/perf-*.txt; BENCH_PERF_FREQ, default
# 499 Hz; BENCH_N_E2E, BENCH_N_CAP, BENCH_N_HS, BENCH_IDLE override the counts).  BENCH_SECTIONS
# picks sections (default "1 2 2b 3 4"; "0" for the crypto floor alone,
# which every run measures), e.g. BENCH_SECTIONS="1" for the Dovecot runs only: the
# keys of sections left out print "na".
export BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_redis.sh"
. "$(dirname "$0")/../integration/lib_pki.sh"

QUICK=${BENCH_QUICK:-0}
SECTIONS=" ${BENCH_SECTIONS:-1 2 2b 3 4} "
for x in $SECTIONS; do
	case $x in 0 | 1 | 2 | 2b | 3 | 4) ;; *) echo "bench: BENCH_SECTIONS: unknown section '$x' (1 2 2b 3 4)"; exit 2 ;; esac
done
sec() { [[ "$SECTIONS" == *" $1 "* ]]; }
PERF=${BENCH_PERF:-0}	# 1: perf record -g the workers during the capacity and 1-per-connection loads
if [ "$PERF" = 1 ] && ! perf record -o /dev/null -- true >/dev/null 2>&1; then
	echo "bench: BENCH_PERF=1 but perf is missing or not permitted here; no profiles (valgrind --tool=callgrind is the fallback)"
	PERF=0
fi
OUT=${BENCH_OUT:-$BUILD/bench/results.json}
mkdir -p "$(dirname "$OUT")"
GW=$BUILD/smtpsec-gateway SEND=$BUILD/smtpsec-send LMTPQ=$BUILD/smtpsec-lmtpq SINK=$BUILD/smtpsec-lmtpsink
HSB=$BUILD/smtpsec-hsbench FLOOR=$BUILD/smtpsec-cryptofloor
D="$T_SRC/tests/unit/verify/data"
for b in "$GW" "$SEND" "$LMTPQ" "$SINK" "$HSB" "$FLOOR"; do [ -x "$b" ] || { echo "bench: $b not built"; exit 1; }; done
if [ "$QUICK" = 1 ]; then
	N_E2E=200 N_CAP=2000 N_HS=600 N_DOM=150 IDLE="100 1000"
else
	N_E2E=2000 N_CAP=40000 N_HS=4000 N_DOM=1000 IDLE="100 1000 5000"
fi
# counts for one lever's before/after profile (bounded like the rest)
N_E2E=${BENCH_N_E2E:-$N_E2E} N_CAP=${BENCH_N_CAP:-$N_CAP} N_HS=${BENCH_N_HS:-$N_HS} IDLE=${BENCH_IDLE:-$IDLE}
ulimit -n 20000 2>/dev/null || true
CONC=16
START=$(date +%s)

# --- setup: PKI, zones ------------------------------------------------------------------
# Ed25519: the unit-test sender leaf (DANE-EE) and an Ed25519 gateway
# certificate.  P-256: a run-time leaf from lib_pki.sh and a P-256 gateway
# certificate.  Both leaves name mx1.example.test and *.w.example.test.
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")
P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool"
chmod 777 "$T_TMP/spool"
openssl genpkey -algorithm ED25519 -out "$P/gw-ed25519.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/gw-p256.key" 2>/dev/null
for k in ed25519 p256; do
	openssl req -x509 -new -key "$P/gw-$k.key" -subj "/CN=gw.b.test" -addext subjectAltName=DNS:gw.b.test \
		-days 30 -out "$P/gw-$k.pem" 2>/dev/null
done
cat "$D/leaf.pem" "$D/inter.pem" >"$P/chain-ed25519.pem"
cp "$D/leaf.key" "$P/sender-ed25519.key"
pki_init >/dev/null 2>&1 && pki_leaf s256 p256 valid "DNS:mx1.example.test,DNS:*.w.example.test" "" ||
	{ echo "bench: lib_pki could not make the P-256 sender leaf"; exit 1; }
cp "$PKI/s256.chain" "$P/chain-p256.pem"
cp "$PKI/s256.key" "$P/sender-p256.key"
LEAF256=$(pki_spki256 "$PKI/s256.pem")
cat "$D/root.pem" "$PKI/root.pem" >"$P/ca.pem"

dns_init
dns_zone example.test signed
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 10 4650 mx1.example.test."
dns_rr example.test "_4650._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $LEAF"
dns_rr example.test "_4650._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $LEAF256"
# sender domains for the cold-cache runs: dI.example.test, SRV to hI.w.example.test
# (the leaf's *.w.example.test), TLSA at the target: two new names per Email
for ((i = 0; i < 2 * N_DOM; i++)); do
	dns_rr example.test "_smtpsec._tcp.d$i.example.test. 300 IN SRV 10 10 4650 h$i.w.example.test."
	dns_rr example.test "_4650._tcp.h$i.w.example.test. 300 IN TLSA 3 1 1 $LEAF"
done
dns_start || { echo "bench: NSD did not start"; exit 1; }
# NSD's response rate limiting (on by default, 200 answers/s per class and
# /24) blocks the NODATA answers that a cold run's QNAME-minimising lookups
# draw from loopback; the resolver then times out and SERVFAILs, and the
# cold figures would measure NSD's limiter.  Off for the bench.
sed -i '/^server:/a\  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0' "$DNS_DIR/nsd.conf"
dns_restart || { echo "bench: NSD did not restart"; exit 1; }
dovecot_start bob@b.test || { echo "bench: Dovecot did not start"; exit 1; }
redis_start || { echo "bench: redis did not start"; exit 1; }
PORT=$(t_free_port)
echo "bench: setup done in $(( $(date +%s) - START )) s"

KEY=ed25519	# gateway TLS key and sender key of the next load()
conf() {	# LMTP-TARGET [DNS-CACHE [WORKERS]]
	cat >"$T_TMP/gw.conf" <<EOF
[server]
listen = 127.0.0.1:$PORT
workers = ${3:-auto}
hostname = gw.b.test
[tls]
certificate = $P/gw-$KEY.pem
key = $P/gw-$KEY.key
[dns]
unbound_conf = $DNS_UNBOUND_CONF
trust_anchor_file =
cache = ${2:-memory}
[verify]
ca_file = $P/ca.pem
ct_log_list =
[lmtp]
target = $1
connections = ${LMTP_CONN:-16}
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
	kill -KILL "$GW_PID" 2>/dev/null
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
HZ=$(getconf CLK_TCK)
# load COUNT SIZE [--opt...] [-- RCPTS...]: smtpsec-send load mode with
# KEY's sender key; prints its load line(s)
load() {
	local n=$1 size=$2; shift 2
	local r=() a=() x rc=0
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	for x in "${@:-bob@b.test}"; do r+=(--rcpt "$x"); done
	"$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/gw-$KEY.pem" --servername gw.b.test \
		--key "$P/sender-$KEY.key" --chain "$P/chain-$KEY.pem" "${r[@]}" --from alice@example.test \
		--size "$size" --count "$n" --concurrency "$CONC" --load --max-seconds 120 "${a[@]}" \
		>"$T_TMP/load.out" 2>"$T_TMP/load.err" || rc=$?
	grep '^load' "$T_TMP/load.out"
	if [ "$rc" != 0 ]; then
		echo "bench: smtpsec-send exit $rc: $(head -c 300 "$T_TMP/load.err" | tr '\n' ' ')" >&2
	fi
	return 0
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }
stat_total() { rcli HGET smtpsec:stats:total "$1" 2>/dev/null | grep -E '^[0-9]+$' || echo 0; }
stats_settle() {	# until the workers' counters stop moving (flushes every 200 ms; bounded: 6 s)
	local a b i
	a="$(stat_total dns_resolver_queries) $(stat_total emails_received)"
	for i in $(seq 20); do
		sleep 0.3
		b="$(stat_total dns_resolver_queries) $(stat_total emails_received)"
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}
per_email() {	# TICKS-BEFORE TICKS-AFTER EMAILS: gateway CPU us per Email
	awk -v t=$(($2 - $1)) -v hz="$HZ" -v n="$3" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "na" }'
}
ROWS=()
row() { ROWS+=("$(printf '%s|%s|%s|%s|%s|%s|%s|%s' "$@")"); }
row_load() {	# NAME LOAD-LINE CPU-US
	row "$1" "$(field msgs_per_s <<<"$2")" "$(field mb_per_s <<<"$2")" "$(field p50_ms <<<"$2")" \
		"$(field p90_ms <<<"$2")" "$(field p99_ms <<<"$2")" "$3" "$(rss_kib)"
}
# measured NAME COUNT SIZE [load args]: one load with the gateway's CPU
# taken around it; sets L (the load line) and CPU (us per Email)
measured() {
	local name=$1 n=$2 size=$3 t0 t1 done_n un perf_pid= stat_pid=; shift 3
	if [ "$PERF" = 1 ] && [[ "$name" == "capacity sink 10KiB"* || "$name" == "1 Email/conn"* || "$name" == "e2e dovecot "*" 1 rcpt" ]]; then
		# the gateway's workers profiled while this load runs (the
		# self-time table by symbol is the one to read for a lever)
		local pf="$(dirname "$OUT")/perf-$(tr -c 'A-Za-z0-9\n' _ <<<"$name")"
		# DWARF unwinding: Debian's libwolfssl has no frame pointers and no symbols,
		# so its time shows up under the gateway function that called it
		perf record --call-graph dwarf,16384 -F "${BENCH_PERF_FREQ:-499}" -o "$pf.data" -p "$(pgrep -P "$GW_PID" | paste -sd,)" \
			>/dev/null 2>"$pf.err" &
		perf_pid=$!
		t_track_pid "$perf_pid"
		# and the system calls the workers make, to count them per Email
		perf stat -e raw_syscalls:sys_enter -x, -o "$pf.syscalls" -p "$(pgrep -P "$GW_PID" | paste -sd,)" \
			>/dev/null 2>&1 &
		stat_pid=$!
		t_track_pid "$stat_pid"
		sleep 0.5
	fi
	t0=$(cpu_ticks)
	L=$(load "$n" "$size" "$@")
	t1=$(cpu_ticks)
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" "$stat_pid" 2>/dev/null
		wait "$perf_pid" "$stat_pid" 2>/dev/null
		local nsys
		nsys=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$pf.syscalls" 2>/dev/null)
		{
			echo "# system calls by the workers: ${nsys:-na}, per Email: $(awk -v s="${nsys:-0}" -v n="$(field messages <<<"$L")" \
				'BEGIN { if (s > 0 && n > 0) printf "%.1f", s / n; else print "na" }') (the 0.5 s before the load included)"
			echo "# by DSO (self)"
			perf report -i "$pf.data" --no-children --sort dso -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
			echo "# by symbol, self, top 40"
			perf report -i "$pf.data" --no-children --sort symbol -g none --stdio 2>/dev/null |
				grep -E '^ +[0-9]' | grep -v '\] 0x' | head -40
			echo "# by symbol, with callees (children), top 50"
			perf report -i "$pf.data" --children --sort symbol -g none --stdio 2>/dev/null |
				grep -E '^ +[0-9]' | grep -v '\] 0x' | head -50
		} >"$pf.txt"
		echo "bench: perf profile of '$name': $pf.txt (perf report -i $pf.data)"
	fi
	done_n=$(field messages <<<"$L")
	un=$(field unanswered <<<"$L")
	CPU=$(per_email "$t0" "$t1" "$(( ${done_n:-0} - ${un:-0} ))")
	[ "$(field delivered <<<"$L")" = "${done_n:-x}" ] ||
		echo "bench: $name: not every Email delivered: $L" >&2
	row_load "$name" "$L" "$CPU"
}

# --- 1. end to end into Dovecot vs direct LMTP ---------------------------------------
e2e_ratio_10k= e2e_ratio_100k=
if sec 1; then
# 8 LMTP connections per worker: 16 into Dovecot in all, as the direct runs
LMTP_CONN=8 conf "unix:$DOVECOT_SOCKET"
gw_start || { echo "bench: gateway did not start: $(tail -3 "$T_TMP/gw.log")"; exit 1; }
load 20 10240 >/dev/null	# warm the DNS and verdict caches
for size in 10240 102400; do
	measured "e2e dovecot $((size / 1024))KiB 1 rcpt" "$N_E2E" "$size"
	gw_rate=$(field msgs_per_s <<<"$L")
	# the ceiling: the same kind of message straight into Dovecot, 16 at once
	head -c "$size" /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/' |
		{ printf 'From: alice@example.test\r\nTo: bob@b.test\r\nSubject: direct\r\n\r\n'; cat; } >"$T_TMP/direct.eml"
	# two smtpsec-lmtpq at once, each a pool of 8 LMTP sessions (its default;
	# at most 1000 copies each): 16 concurrent deliveries, as the gateway's
	# two workers with 8 LMTP connections each
	s0=$(date +%s%N)
	qp=()
	for j in 1 2; do
		"$LMTPQ" --target "unix:$DOVECOT_SOCKET" --from alice@example.test --rcpt bob@b.test \
			--message "$T_TMP/direct.eml" --copies "$((N_E2E / 2))" --timeout-ms 60000 >"$T_TMP/direct.$j.out" &
		qp+=($!)
		t_track_pid $!
	done
	wait "${qp[@]}"
	s1=$(date +%s%N)
	ok=$(cat "$T_TMP/direct.1.out" "$T_TMP/direct.2.out" | grep -c 'status=delivered')
	direct_rate=$(awk -v n="$ok" -v ns=$((s1 - s0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
	if [ "$ok" != "$N_E2E" ]; then
		echo "bench: direct LMTP delivered $ok of $N_E2E: $(grep -v 'status=delivered' "$T_TMP/direct.1.out" | head -2 | tr '\n' ' ')"
		direct_rate=0
	fi
	row "direct lmtp $((size / 1024))KiB 1 rcpt" "$direct_rate" "-" "-" "-" "-" "-" "-"
	ratio=$(awk -v a="$gw_rate" -v b="$direct_rate" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "na" }')
	[ "$size" = 10240 ] && e2e_ratio_10k=$ratio
	[ "$size" = 102400 ] && e2e_ratio_100k=$ratio
	row "  ratio gateway/direct" "$ratio" "" "" "" "" "" ""
done
measured "e2e dovecot 10KiB 10 rcpts" "$((N_E2E / 2))" 10240 -- bob@b.test bob@b.test bob@b.test \
	bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test bob@b.test
gw_stop
fi
dovecot_stop

# --- the crypto floor ------------------------------------------------------------------------
# CPU time of the crypto one 10 KiB Ed25519 Email needs, with this build's
# wolfSSL, measured now (same machine, same load): the gateway's CPU per
# Email over it is cpu_over_crypto_floor.
FLOOR_LINE=$("$FLOOR" --size 10240 --min-ms 500) || echo "bench: smtpsec-cryptofloor failed"
floor_us=$(field floor_us <<<" $FLOOR_LINE")
echo "bench: $FLOOR_LINE"
row "crypto floor 10KiB (Ed25519+SHA-512+ChaCha20-Poly1305)" "-" "-" "-" "-" "-" "${floor_us:-na}" "-"

# --- 2. capacity with a do-nothing LMTP sink; handshakes ------------------------------------
"$SINK" --unix "$T_TMP/sink.sock" --max-seconds 3000 >"$T_TMP/sink.out" 2>&1 &
t_track_pid $!
t_wait_for 5 test -S "$T_TMP/sink.sock"
cap= cpu_email= gw_hs= raw_hs= HS_LINE= HS_X25519= HS_NAGLE= handshake_ratio_x25519=
KEYS="ed25519 p256"
sec 2 || KEYS=
for KEY in $KEYS; do
	conf "unix:$T_TMP/sink.sock"
	gw_start || { echo "bench: gateway did not start: $(tail -3 "$T_TMP/gw.log")"; exit 1; }
	load 100 2048 >/dev/null
	for size in 2048 10240; do
		measured "capacity sink $((size / 1024))KiB $KEY" "$N_CAP" "$size"
		if [ "$size" = 10240 ] && [ "$KEY" = ed25519 ]; then cap=$(field msgs_per_s <<<"$L"); cpu_email=$CPU; fi
	done
	# a lever, not a target figure: this wolfSSL build has no AES-NI, so its
	# AES-GCM is table-driven C; a sender that offers only ChaCha20-Poly1305
	# gets it (what a server preference for ChaCha20 would give every sender)
	[ "$KEY" = ed25519 ] && measured "capacity sink 10KiB $KEY chacha20" "$N_CAP" 10240 \
		--cipher TLS13-CHACHA20-POLY1305-SHA256
	# one Email per connection: a full TLS handshake (no resumption: smtpsec-send
	# never resumes) with wolfSSL's default key share, plus a verified 2 KiB
	# Email; the client sets TCP_NODELAY, as smtpsec-hsbench's client does.
	# Per connection the load generator (one smtpsec-send process, CONC
	# connections at a time) connects (a blocking connect on loopback), does
	# the TLS 1.3 handshake checking the gateway's certificate (--cafile, SNI,
	# name), writes the SMTPsec ClientHello frame (with its two-certificate
	# chain) and the Email frame, reads the ServerHello frame and the reply,
	# sends close_notify and closes.  The Email is signed once, before the
	# timer starts (build_frame in sender/snd_main.c), and the same signed
	# frame is sent on every connection: SMTPsec has no replay check, and the
	# gateway verifies each copy in full.  smtpsec-hsbench's client (also one
	# process, CONC at a time) connects, does the same handshake and checks,
	# reads 12 bytes, sends close_notify and closes.  Both clients are single
	# processes: hsbench's runs at about one full core (~220 us of CPU per
	# handshake), which bounds the raw rate near 4500/s on this machine.
	measured "1 Email/conn sink 2KiB $KEY" "$N_HS" 2048 --per-conn 1 --nodelay
	[ "$KEY" = ed25519 ] && gw_hs=$(field msgs_per_s <<<"$L")
	gw_stop
	# the raw rate: the same certificate and key, the same client set-up,
	# concurrency and number of server processes, no Email; TCP_NODELAY on
	# both sides (wolfSSL's own rate, not a Nagle stall)
	h=$("$HSB" --cert "$P/gw-$KEY.pem" --key "$P/gw-$KEY.key" --cafile "$P/gw-$KEY.pem" \
		--servername gw.b.test --workers "$(nproc)" --concurrency "$CONC" --count "$N_HS" --max-seconds 60)
	echo "bench: $h"
	row "raw wolfSSL handshakes $KEY" "$(field hs_per_s <<<"$h")" "-" "-" "-" "-" "$(field server_cpu_us_per_hs <<<"$h")" "-"
	if [ "$KEY" = ed25519 ]; then
		# the same with Nagle left on for the server's sockets, as the
		# gateway leaves it: the session ticket and the next write wait
		# for the client's delayed ACK (~40 ms per handshake)
		hn=$("$HSB" --cert "$P/gw-$KEY.pem" --key "$P/gw-$KEY.key" --cafile "$P/gw-$KEY.pem" \
			--servername gw.b.test --workers "$(nproc)" --concurrency "$CONC" --count "$((N_HS / 4))" \
			--max-seconds 60 --nodelay client)
		echo "bench: $hn"
		row "raw wolfSSL handshakes $KEY server Nagle" "$(field hs_per_s <<<"$hn")" "-" "-" "-" "-" \
			"$(field server_cpu_us_per_hs <<<"$hn")" "-"
		HS_NAGLE=$hn
	fi
	[ "$KEY" = ed25519 ] && { raw_hs=$(field hs_per_s <<<"$h"); HS_LINE=$h; }
	r=$(awk -v a="$(field msgs_per_s <<<"$L")" -v b="$(field hs_per_s <<<"$h")" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	row "  ratio gateway/raw $KEY" "$r" "" "" "" "" "" ""
	if [ "$KEY" = ed25519 ]; then
		# the same pair with an X25519 key share instead of wolfSSL's default
		# P-256 one (the sender's choice; both sides' ECDHE gets cheaper)
		gw_start || { echo "bench: gateway did not start"; exit 1; }
		load 50 2048 >/dev/null
		measured "1 Email/conn sink 2KiB $KEY x25519" "$N_HS" 2048 --per-conn 1 --group x25519 --nodelay
		gw_stop
		h=$("$HSB" --cert "$P/gw-$KEY.pem" --key "$P/gw-$KEY.key" --cafile "$P/gw-$KEY.pem" \
			--servername gw.b.test --workers "$(nproc)" --concurrency "$CONC" --count "$N_HS" \
			--max-seconds 60 --group x25519)
		echo "bench: $h"
		row "raw wolfSSL handshakes $KEY x25519" "$(field hs_per_s <<<"$h")" "-" "-" "-" "-" \
			"$(field server_cpu_us_per_hs <<<"$h")" "-"
		HS_X25519=$h
		r=$(awk -v a="$(field msgs_per_s <<<"$L")" -v b="$(field hs_per_s <<<"$h")" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		row "  ratio gateway/raw $KEY x25519" "$r" "" "" "" "" "" ""
		handshake_ratio_x25519=$(awk -v a="$(field msgs_per_s <<<"$L")" -v b="$(field hs_per_s <<<"$h")" \
			'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')
	fi
done
KEY=ed25519
handshake_ratio=$(awk -v a="${gw_hs:-0}" -v b="${raw_hs:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')

# --- 2b. wolfSSL: the project's build vs Debian's library ----------------------------
# The same capacity row and raw handshakes with the gateway (and
# smtpsec-hsbench) built against each; the load generator stays the same
# program.  Needs `make` (project wolfSSL) and `make WOLFSSL=system`.
SYS=${BENCH_SYSWOLF:-$(dirname "$BUILD")/build-syswolf}
wolf_cap_ratio= wolf_cpu_ratio= wolf_hs_ratio=
if ! sec 2b; then
	:
elif [ "$(cut -d' ' -f1 "$BUILD/wolfssl.stamp" 2>/dev/null)" = project ] && [ -x "$SYS/smtpsec-gateway" ]; then
	declare -A wcap wcpu whs
	GW_PROJECT=$GW HSB_PROJECT=$HSB
	for v in project system; do
		[ "$v" = system ] && { GW=$SYS/smtpsec-gateway; HSB=$SYS/smtpsec-hsbench; }
		conf "unix:$T_TMP/sink.sock"
		gw_start || { echo "bench: $v gateway did not start: $(tail -3 "$T_TMP/gw.log")"; exit 1; }
		load 100 2048 >/dev/null
		measured "wolfssl $v: capacity sink 10KiB ed25519" "$N_CAP" 10240
		wcap[$v]=$(field msgs_per_s <<<"$L")
		wcpu[$v]=$CPU
		gw_stop
		h=$("$HSB" --cert "$P/gw-$KEY.pem" --key "$P/gw-$KEY.key" --cafile "$P/gw-$KEY.pem" \
			--servername gw.b.test --workers "$(nproc)" --concurrency "$CONC" --count "$N_HS" --max-seconds 60)
		whs[$v]=$(field hs_per_s <<<"$h")
		row "wolfssl $v: raw handshakes ed25519" "${whs[$v]}" "-" "-" "-" "-" "$(field server_cpu_us_per_hs <<<"$h")" "-"
	done
	GW=$GW_PROJECT HSB=$HSB_PROJECT
	wolf_cap_ratio=$(awk -v a="${wcap[project]:-0}" -v b="${wcap[system]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')
	wolf_cpu_ratio=$(awk -v a="${wcpu[project]:-0}" -v b="${wcpu[system]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')
	wolf_hs_ratio=$(awk -v a="${whs[project]:-0}" -v b="${whs[system]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')
	row "  ratio project/system capacity" "$wolf_cap_ratio" "" "" "" "" "$wolf_cpu_ratio" ""
	if [ -x "$SYS/smtpsec-cryptofloor" ]; then
		fs=$("$SYS/smtpsec-cryptofloor" --size 10240 --min-ms 500)
		echo "bench: system wolfSSL: $fs"
		row "wolfssl system: crypto floor 10KiB" "-" "-" "-" "-" "-" "$(field floor_us <<<" $fs")" "-"
	fi
else
	echo "bench: wolfSSL comparison skipped: needs the project build in $BUILD and 'make WOLFSSL=system' ($SYS)"
fi

# --- 3. DNS: cold vs warm, in-process vs Redis -----------------------------------------------
# Each cold pass sends one Email from each of N_DOM new sender domains; the
# warm pass sends the same again.  With the in-process cache each worker
# has its own cache, so a domain first seen by the other worker is a miss.
warm_q=
dns_pass() {	# NAME FIRST-DOMAIN
	local q0 e0 q1 e1 q n0 n1 nq
	stats_settle
	q0=$(stat_total dns_resolver_queries) e0=$(stat_total emails_received) n0=$(dns_query_count)
	measured "$1" "1" 2048 --from-domains "$N_DOM" --from-first "$2"
	stats_settle
	q1=$(stat_total dns_resolver_queries) e1=$(stat_total emails_received) n1=$(dns_query_count)
	q=$(awk -v q=$((q1 - q0)) -v e=$((e1 - e0)) 'BEGIN { if (e > 0) printf "%.3f", q / e; else print "na" }')
	nq=$(awk -v q=$(( ${n1:-0} - ${n0:-0} )) -v e=$((e1 - e0)) 'BEGIN { if (e > 0) printf "%.2f", q / e; else print "na" }')
	row "  resolver queries/Email" "$q" "" "" "" "" "" ""
	row "  NSD queries/Email (after libunbound)" "$nq" "" "" "" "" "" ""
	Q=$q
}
CACHES="memory redis"
sec 3 || CACHES=
for cache in $CACHES; do
	conf "unix:$T_TMP/sink.sock" "$cache"
	gw_start || { echo "bench: gateway did not start"; exit 1; }
	first=0
	[ "$cache" = redis ] && first=$N_DOM
	dns_pass "dns cold $cache cache ${N_DOM} domains" "$first"
	dns_pass "dns warm $cache cache ${N_DOM} domains" "$first"
	# the steady state: one sender domain, caches warm
	load 100 2048 >/dev/null
	stats_settle
	q0=$(stat_total dns_resolver_queries) e0=$(stat_total emails_received)
	measured "dns warm $cache cache 1 domain" "$((N_CAP / 10))" 2048
	stats_settle
	q1=$(stat_total dns_resolver_queries) e1=$(stat_total emails_received)
	q=$(awk -v q=$((q1 - q0)) -v e=$((e1 - e0)) 'BEGIN { if (e > 0) printf "%.3f", q / e; else print "na" }')
	row "  resolver queries/Email" "$q" "" "" "" "" "" ""
	[ "$cache" = memory ] && warm_q=$q
	gw_stop
done

# --- 4. memory: idle TLS sessions, and one 50 MiB Email ----------------------------------
per_conn= big_delta=
if sec 4; then
conf "unix:$T_TMP/sink.sock"
gw_start || { echo "bench: gateway did not start"; exit 1; }
load 50 2048 >/dev/null
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
t0 = time.time()
def one(_):
    if time.time() - t0 > 150:
        return None
    s = socket.create_connection(("127.0.0.1", port))
    t = ctx.wrap_socket(s)
    t.recv(12)                     # the ServerHello frame: the session is up
    t.sendall(bytes.fromhex("000000000000000f02000000000000"))   # ClientHello, no chains
    return t
# 32 at a time: each handshake can wait ~40 ms for a delayed ACK (the
# gateway's ServerHello frame follows the session ticket under Nagle)
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(32) as ex:
    conns = [t for t in ex.map(one, range(n)) if t is not None]
open(flag, "w").write("%d\n" % len(conns))
time.sleep(30)
PY
	ppid=$!
	t_wait_for 160 test -s "$T_TMP/idle.$n"
	sleep 1
	got=$(cat "$T_TMP/idle.$n" 2>/dev/null || echo 0)
	rss=$(rss_kib)
	kib=$(awk -v r="$rss" -v b="$idle_base" -v n="${got:-0}" 'BEGIN { if (n > 0) printf "%.1f", (r - b) / n; else print "na" }')
	row "idle TLS sessions: $got" "-" "-" "-" "-" "-" "-" "$rss"
	row "  KiB per idle session" "$kib" "" "" "" "" "" ""
	per_conn=$kib
	kill "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	sleep 1
done
gw_stop
# The 50 MiB Email as t_big_email.sh sends it: one worker (so its peak is
# the one that took the Email), a warm-up Email first, then the worker's
# VmHWM before and after.  A fresh gateway, so the idle sessions above are
# not its peak.
conf "unix:$T_TMP/sink.sock" memory 1
gw_start || { echo "bench: gateway did not start"; exit 1; }
big_delta=
"$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/gw-$KEY.pem" --servername gw.b.test --key "$P/sender-$KEY.key" \
	--chain "$P/chain-$KEY.pem" --rcpt bob@b.test --size 20000 --from alice@example.test --max-seconds 30 >"$T_TMP/warm.out" 2>&1
W=$(pgrep -P "$GW_PID" | head -1)
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$W/status" 2>/dev/null; }
before=$(hwm)
s0=$(date +%s%N)
"$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/gw-$KEY.pem" --servername gw.b.test --key "$P/sender-$KEY.key" \
	--chain "$P/chain-$KEY.pem" --rcpt bob@b.test --size $((50 * 1024 * 1024)) --from alice@example.test \
	--max-seconds 120 >"$T_TMP/big.out" 2>&1
s1=$(date +%s%N)
after=$(hwm)
if ! grep -q 'reply n=1 email_delivered' "$T_TMP/warm.out"; then
	echo "bench: no 50 MiB figure: the warm-up Email was not delivered: $(tail -2 "$T_TMP/warm.out" | tr '\n' ' ')"
elif ! grep -q 'reply n=1 email_delivered' "$T_TMP/big.out"; then
	echo "bench: no 50 MiB figure: the 50 MiB Email was not delivered: $(tail -3 "$T_TMP/big.out" | tr '\n' ' ')"
elif [ -z "$before" ] || [ -z "$after" ]; then
	echo "bench: no 50 MiB figure: cannot read the worker's VmHWM"
else
	big_delta=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
fi
big_mbs=$(awk -v ns=$((s1 - s0)) 'BEGIN { printf "%.1f", 52428800 / (ns / 1e9) / 1e6 }')
row "one 50 MiB Email: worker peak - idle" "${big_delta:-na}MiB" "$big_mbs" "" "" "" "" "$after"
gw_stop
fi

# --- report -----------------------------------------------------------------------------
echo
fmt='%-40s %10s %8s %8s %8s %8s %12s %10s\n'
printf "$fmt" scenario msgs/s MB/s p50_ms p90_ms p99_ms cpu_us/Email rss_KiB
for r in "${ROWS[@]}"; do
	IFS='|' read -r a b c d e f g h <<<"$r"
	printf "$fmt" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
done
echo "handshakes (Ed25519, no resumption on either side): gateway $gw_hs/s (1 Email per connection), raw wolfSSL $raw_hs/s"
echo "  raw:        $HS_LINE"
echo "  raw x25519: $HS_X25519"
echo "  raw, server Nagle: $HS_NAGLE"
cpu_floor=$(awk -v a="${cpu_email:-0}" -v b="${floor_us:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "na" }')
echo "crypto floor (10 KiB Ed25519 Email, this build's wolfSSL, CPU time): ${floor_us:-na} us: $FLOOR_LINE"
keys=(e2e_ratio="${e2e_ratio_10k:-na}" e2e_ratio_100k="${e2e_ratio_100k:-na}" capacity_msgs_per_s="${cap:-na}"
	cpu_us_per_email="${cpu_email:-na}" crypto_floor_us="${floor_us:-na}" cpu_over_crypto_floor="${cpu_floor}"
	handshake_ratio="${handshake_ratio:-na}" handshake_ratio_x25519="${handshake_ratio_x25519:-na}"
	rss_kib_per_idle_conn="${per_conn:-na}"
	big_email_rss_delta_mib="${big_delta:-na}" warm_resolver_queries_per_email="${warm_q:-na}"
	wolfssl_capacity_ratio="${wolf_cap_ratio:-na}" wolfssl_cpu_ratio="${wolf_cpu_ratio:-na}"
	wolfssl_handshake_ratio="${wolf_hs_ratio:-na}")
python3 - "$OUT" "${#ROWS[@]}" "${ROWS[@]}" "${keys[@]}" <<'PY'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
rows, keys = sys.argv[3:3 + n], sys.argv[3 + n:]
cols = ["scenario", "msgs_per_s", "mb_per_s", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_email", "rss_kib"]
json.dump({"rows": [dict(zip(cols, r.split("|"))) for r in rows],
           "keys": dict(k.split("=", 1) for k in keys)}, open(out, "w"), indent=1)
PY
echo "results: $OUT"
# the plot: throughput and latency of the load scenarios
PNG=${OUT%.json}.png
if command -v gnuplot >/dev/null 2>&1; then
	: >"$T_TMP/plot.dat"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r a b c d e f g h <<<"$r"
		[[ "$d" =~ ^[0-9.]+$ ]] || continue
		printf '"%s" %s %s %s\n' "$a" "$b" "$d" "$f"
	done >"$T_TMP/plot.dat"
	if [ ! -s "$T_TMP/plot.dat" ]; then
		echo "bench: plot skipped: no load scenario in the sections run"
	else
	gnuplot <<EOF 2>"$T_TMP/gnuplot.err" && echo "plot: $PNG" || echo "bench: plot skipped: gnuplot failed: $(head -2 "$T_TMP/gnuplot.err")"
set terminal pngcairo size 1400,900 noenhanced font ",9"
set output "$PNG"
set multiplot layout 2,1 title "smtpsec-gateway bench $(date -u +%Y-%m-%dT%H:%MZ) ($([ "$QUICK" = 1 ] && echo quick || echo full))"
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set grid ytics
set xtics rotate by -30 left
set bmargin 9
set rmargin 14
set ylabel "Emails/s"
plot "$T_TMP/plot.dat" using 2:xtic(1) title "throughput" lc rgb "#3b6ea5"
set ylabel "latency ms"
set logscale y
plot "$T_TMP/plot.dat" using 3:xtic(1) title "p50" lc rgb "#6aa84f", "" using 4 title "p99" lc rgb "#cc4125"
unset multiplot
EOF
	fi
else
	echo "bench: plot skipped: gnuplot is not installed (apt-get install gnuplot-nox)"
fi
echo "bench: $(( $(date +%s) - START )) s"
echo
for k in "${keys[@]}"; do
	case $k in *=na) echo "bench: ${k%=na}: no figure (see the bench: lines above${BENCH_SECTIONS:+; BENCH_SECTIONS=$BENCH_SECTIONS})" ;; esac
done
for k in "${keys[@]}"; do echo "$k"; done
