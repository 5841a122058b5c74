# lib_rb.sh: the set-up and bookkeeping shared by the robustness scripts
# (r_*.sh, soak.sh).  Source after lib.sh, lib_nsd.sh, lib_dovecot.sh and
# lib_redis.sh.
#
# A whole gateway with real parts on loopback: NSD serving a signed zone
# (the sender example.test with SRV and DANE-EE, and sender domains
# s1..sN.example.test for cold-cache traffic), Dovecot LMTP with the mailbox
# bob@b.test, Redis for the stats, and the gateway doing every check.
#
#   rb_setup [EXTRA-CONF-LINES]   everything above, gateway started (RB_PORT, GW_PID);
#                                 RB_IDLE_TIMEOUT, RB_HANDSHAKE_TIMEOUT override [limits]
#   rb_gw_start / rb_gw_stop      (re)start, stop (SIGTERM, wait)
#   rb_workers                    the worker PIDs
#   rb_msgs NAME COUNT [DOMAIN [SIZE]]  COUNT messages, Message-ID <NAME.I@rb.test>
#   rb_send NAME [SEND-ARGS...]   send NAME's messages not acknowledged yet, on
#                                 one connection; records the outcome of each:
#                                 $RB/NAME.acked, .failed (id reply), .noans
#   rb_send_bg NAME...            rb_send each NAME in the background (RB_PIDS)
#   rb_wait                       wait for those senders (not for servers
#                                 a test restarted in the background)
#   rb_live_acked NAME...         acknowledgements so far of running senders
#   rb_live_at_least COUNT NAME...
#   rb_retry NAME ROUNDS          resend what is not acknowledged, up to ROUNDS times
#   rb_mailbox                    "count id" for every Message-ID in bob's INBOX
#   rb_stored_of NAME FILE        how many ids listed in FILE are in the mailbox
#
# The bookkeeping is per message: a reply email_delivered for message K of
# a connection acknowledges the K-th message file sent on it.

RB=$T_TMP/rb
RB_DATA=$T_SRC/tests/unit/verify/data
RB_DOMAINS=${RB_DOMAINS:-40}
GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
RB_PORT=
GW_PID=

rb_setup() {
	local leaf i
	mkdir -p "$RB/pki" "$RB/m" "$T_TMP/spool"
	chmod 777 "$T_TMP/spool"
	leaf=$(sed -n 's/^leaf_spki_sha256 //p' "$RB_DATA/tlsa.txt")
	openssl genpkey -algorithm ED25519 -out "$RB/pki/gw.key" 2>/dev/null
	openssl req -x509 -new -key "$RB/pki/gw.key" -subj "/CN=gw.b.test" \
		-addext subjectAltName=DNS:gw.b.test -days 30 -out "$RB/pki/gw.pem" 2>/dev/null
	cat "$RB_DATA/leaf.pem" "$RB_DATA/inter.pem" >"$RB/pki/chain.pem"
	dns_init
	dns_zone example.test signed
	dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 10 4650 mx1.example.test."
	dns_rr example.test "_4650._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $leaf"
	for ((i = 1; i <= RB_DOMAINS; i++)); do
		# new sender domains for cold-cache traffic; the same target (the
		# certificate carries its name), so only the SRV lookup is new
		dns_rr example.test "_smtpsec._tcp.s$i.example.test. 300 IN SRV 10 10 4650 mx1.example.test."
	done
	dns_start || return 1
	dovecot_start bob@b.test || return 1
	redis_start || return 1
	RB_PORT=$(t_free_port)
	cat >"$RB/gw.conf" <<EOF
[server]
listen = 127.0.0.1:$RB_PORT
workers = 2
hostname = gw.b.test
[tls]
certificate = $RB/pki/gw.pem
key = $RB/pki/gw.key
[dns]
unbound_conf = $DNS_UNBOUND_CONF
trust_anchor_file =
[verify]
ca_file = $RB_DATA/root.pem
ct_log_list =
[lmtp]
target = unix:$DOVECOT_SOCKET
connections = 4
timeout = 10s
spool_dir = $T_TMP/spool
spool_retry = 1s
memory_threshold = 16K
[redis]
url = redis://127.0.0.1:$REDIS_PORT
stats_interval = 200ms
instance = rb
[limits]
max_connections_per_ip = 2000
max_connections = 4000
idle_timeout = ${RB_IDLE_TIMEOUT:-20s}
handshake_timeout = ${RB_HANDSHAKE_TIMEOUT:-10s}
${1:-}
EOF
	rb_gw_start
}

rb_gw_start() {
	"$GW" -f -c "$RB/gw.conf" >>"$RB/gw.log" 2>&1 &
	GW_PID=$!
	t_track_pid "$GW_PID"
	t_wait_port "$RB_PORT" 15
}

rb_gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$GW_PID" 2>/dev/null
}

rb_workers() { pgrep -P "$GW_PID"; }

rb_msgs() {	# NAME COUNT [DOMAIN [SIZE]]
	local name=$1 n=$2 dom=${3:-example.test} size=${4:-600} i pad
	mkdir -p "$RB/m/$name"
	pad=$(head -c "$size" /dev/zero | tr '\0' 'x' | fold -w 70 | sed 's/$/\r/')
	for ((i = 1; i <= n; i++)); do
		{
			printf 'From: Alice <alice@%s>\r\nTo: bob@b.test\r\nSubject: %s %d\r\n' "$dom" "$name" "$i"
			printf 'Message-ID: <%s.%d@rb.test>\r\n\r\n%s\r\n' "$name" "$i" "$pad"
		} >"$RB/m/$name/$i"
	done
	: >"$RB/$name.acked"
}

rb_send() {	# NAME [SEND-ARGS...]
	local name=$1 files=() f id k
	shift
	for f in $(ls "$RB/m/$name" | sort -n); do
		grep -qx "<$name.$f@rb.test>" "$RB/$name.acked" || files+=("$f")
	done
	: >"$RB/$name.failed"
	: >"$RB/$name.noans"
	[ ${#files[@]} -gt 0 ] || return 0
	local args=()
	for f in "${files[@]}"; do args+=(--message "$RB/m/$name/$f"); done
	(cd "$RB/m/$name" && "$SEND" --connect "127.0.0.1:$RB_PORT" --cafile "$RB/pki/gw.pem" \
		--servername gw.b.test --key "$RB_DATA/leaf.key" --chain "$RB/pki/chain.pem" \
		--rcpt bob@b.test --max-seconds 120 "$@" "${args[@]}") >"$RB/$name.out" 2>&1
	# reply n=K (K = 1 for the first Email after the ClientHello)
	for ((k = 1; k <= ${#files[@]}; k++)); do
		id="<$name.${files[$((k - 1))]}@rb.test>"
		if grep -q "^reply n=$k email_delivered$" "$RB/$name.out"; then
			echo "$id" >>"$RB/$name.acked"
		elif grep -q "^reply n=$k error=" "$RB/$name.out"; then
			echo "$id $(sed -n "s/^reply n=$k error=\([a-z_]*\).*/\1/p" "$RB/$name.out" | head -1)" >>"$RB/$name.failed"
		else
			echo "$id" >>"$RB/$name.noans"
		fi
	done
}

rb_send_bg() {
	local n
	RB_PIDS=()
	for n in "$@"; do
		rb_send "$n" &
		RB_PIDS+=($!)
	done
}

rb_wait() { wait "${RB_PIDS[@]}"; }

rb_live_acked() {
	local n
	for n in "$@"; do cat "$RB/$n.out" 2>/dev/null; done | grep -c ' email_delivered$'
}

rb_live_at_least() {	# COUNT NAME...
	local want=$1
	shift
	[ "$(rb_live_acked "$@")" -ge "$want" ]
}

rb_retry() {	# NAME ROUNDS
	local r
	for ((r = 0; r < $2; r++)); do
		[ "$(wc -l <"$RB/$1.acked")" -lt "$(ls "$RB/m/$1" | wc -l)" ] || return 0
		sleep 1
		rb_send "$1"
	done
	[ "$(wc -l <"$RB/$1.acked")" -ge "$(ls "$RB/m/$1" | wc -l)" ]
}

rb_mailbox() {
	dovecot_mail_files bob@b.test | xargs -r -d '\n' grep -h -m1 -i '^Message-ID:' |
		sed -n 's/^Message-I[Dd]: *\(<[^>]*>\).*/\1/p' | sort | uniq -c | awk '{ print $1, $2 }'
}

rb_stored_of() {	# NAME FILE: ids of FILE (first field) found in the mailbox
	rb_mailbox >"$RB/mbox.now"
	awk 'NR == FNR { have[$2] = 1; next } ($1 in have) { n++ } END { print n + 0 }' \
		"$RB/mbox.now" "$2"
}

# rb_exact NAME...: the mailbox holds every message of these batches exactly
# once (and nothing else of theirs); prints what differs
rb_exact() {
	local n want
	rb_mailbox >"$RB/mbox.now"
	for n in "$@"; do
		ls "$RB/m/$n" | sed "s/.*/<$n.&@rb.test>/"
	done | sort >"$RB/want"
	awk -v pats="$*" 'BEGIN { split(pats, p, " ") }
		{ id = $2; for (i in p) if (index(id, "<" p[i] ".") == 1) { print; break } }' "$RB/mbox.now" >"$RB/have"
	missing=$(awk 'NR == FNR { h[$2] = 1; next } !($1 in h)' "$RB/have" "$RB/want" | wc -l)
	dups=$(awk '$1 > 1' "$RB/have" | wc -l)
	extra=$(awk 'NR == FNR { w[$1] = 1; next } !($2 in w)' "$RB/want" "$RB/have" | wc -l)
	echo "missing=$missing duplicated=$dups unexpected=$extra wanted=$(wc -l <"$RB/want")"
	[ "$missing" = 0 ] && [ "$dups" = 0 ] && [ "$extra" = 0 ]
}
