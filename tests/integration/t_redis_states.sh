#!/bin/bash
# Redis states that mean something (issue 16), with a verifying gateway
# (NSD + DNSSEC, DANE-EE, Dovecot) and a real redis-server with
# requirepass, used by both Redis users: the DNS cache ([dns] cache = redis)
# and the stats writer.
#   1. wrong password: one error line per user (fault=auth), never state=up,
#      nothing written, errors counted; every Email delivered;
#      smtpsec-stats with that password: a clear error, non-zero exit.
#   2. Redis down at start: one warn line per user (fault=unreachable), mail
#      delivered; Redis started: state=up for both, stats flow (errors
#      counter and up gauges in Redis).
#   3. Redis killed and restarted under traffic: one down and one up line
#      per user (not one per retry), every Email delivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_redis.sh"
. "$(dirname "$0")/lib_vgw.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
ST=$BUILD/smtpsec-stats
for b in "$GW" "$SEND" "$ST"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
command -v redis-server >/dev/null || { t_skip redis "redis-server missing"; exit 0; }
D="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)"
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")
MX=mx1.example.test
P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool"
chmod 777 "$T_TMP/spool"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/gw.key" 2>/dev/null
openssl req -x509 -new -key "$P/gw.key" -subj "/CN=gw.dest.test" -addext subjectAltName=DNS:gw.dest.test \
	-days 30 -out "$P/gw.pem" 2>/dev/null
cat "$D/leaf.pem" "$D/inter.pem" >"$P/chain.pem"

dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.$MX. 300 IN TLSA 3 1 1 $LEAF"
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 $MX."
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
dovecot_start bob@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }
redis_start s3cret || { t_fail redis_start "redis-server did not start"; exit 1; }

PORT=$(t_free_port)
mkconf() {	# PASSWORD
	vgw_conf gw.dest.test "$P/gw.pem" "$P/gw.key" "$D/root.pem" "" gw.b.test \
		'[dns]' 'cache = redis' \
		'[redis]' "url = redis://:$1@127.0.0.1:$REDIS_PORT" 'stats_interval = 200ms' 'instance = gwr'
	: >"$T_TMP/gw.log"	# each start logs afresh
}
N_SENT=0
N_OK=0
send1() {	# TAG: one Email from a.test (DANE-EE); counts sent and email_delivered
	local m=$T_TMP/m.$1.$N_SENT out
	printf 'From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: %s\r\nMessage-ID: <%s.%s@a.test>\r\n\r\nBody.\r\n' \
		"$1" "$1" "$N_SENT" >"$m"
	out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/gw.pem" --servername gw.dest.test --key "$D/leaf.key" \
		--chain "$P/chain.pem" --rcpt bob@b.test --message "$m" --max-seconds 20 2>&1)
	N_SENT=$((N_SENT + 1))
	if grep -q 'reply n=1 email_delivered' <<<"$out"; then
		N_OK=$((N_OK + 1))
	else
		echo "send $1: $(grep -E 'reply|fail' <<<"$out" | tr '\n' ' ')" >>"$T_TMP/send_fail.log"
	fi
}
lines() { grep -c "event=$1 state=$2" "$T_TMP/gw.log"; }

# --- 1. wrong password -------------------------------------------------------------
mkconf wrong
gw_start || { t_fail gateway_start "no listener: $(tail -3 "$T_TMP/gw.log" | tr '\n' '|')"; exit 1; }
for i in 1 2 3; do send1 wrongpw; done
sleep 4		# several reconnects (backoff 0.5 s / 1 s, doubling)
t_check wrongpw_cache_error "$(grep redis_cache "$T_TMP/gw.log" | tr '\n' '|')" \
	grep -q ' err conn=- event=redis_cache state=down fault=auth why="AUTH refused: WRONGPASS' "$T_TMP/gw.log"
t_check wrongpw_stats_error "$(grep redis_stats "$T_TMP/gw.log" | tr '\n' '|')" \
	grep -q ' err conn=- event=redis_stats state=down fault=auth why="AUTH refused: WRONGPASS' "$T_TMP/gw.log"
t_check wrongpw_logged_once "cache $(lines redis_cache down), stats $(lines redis_stats down) down lines" \
	test "$(lines redis_cache down)/$(lines redis_stats down)" = 1/1
t_check wrongpw_never_up "$(grep 'state=up' "$T_TMP/gw.log" | head -2 | tr '\n' '|')" \
	bash -c "! grep -q 'state=up' '$T_TMP/gw.log'"
t_check wrongpw_nothing_written "keys: $(rcli KEYS '*' | tr '\n' ' ')" test -z "$(rcli KEYS '*')"
t_check wrongpw_mail_delivered "$N_OK of $N_SENT; $(cat "$T_TMP/send_fail.log" 2>/dev/null)" \
	test "$N_OK/$(dovecot_mail_count bob@b.test)" = "$N_SENT/$N_SENT"
out=$("$ST" --url "redis://:wrong@127.0.0.1:$REDIS_PORT" --interval 0.1 2>&1)
rc=$?
t_check stats_reader_wrong_password "rc $rc: $out" \
	bash -c "[ $rc -ne 0 ] && grep -q 'refused the password: WRONGPASS' <<<'$out'"
out=$("$ST" --url "redis://127.0.0.1:$REDIS_PORT" --interval 0.1 2>&1)
rc=$?
t_check stats_reader_no_password "rc $rc: $out" \
	bash -c "[ $rc -ne 0 ] && grep -q 'NOAUTH' <<<'$out'"
gw_stop

# --- 2. Redis down at start, then started --------------------------------------------
redis_stop
mkconf s3cret
gw_start || { t_fail gateway_start2 "no listener"; exit 1; }
t_wait_for 5 bash -c "[ \$(grep -c 'state=down fault=unreachable' '$T_TMP/gw.log') -ge 2 ]"
t_check down_at_start_logged "$(grep -E 'redis_(cache|stats)' "$T_TMP/gw.log" | tr '\n' '|')" \
	bash -c "grep -q ' warn conn=- event=redis_cache state=down fault=unreachable why=\"connect: ' '$T_TMP/gw.log' &&
		grep -q ' warn conn=- event=redis_stats state=down fault=unreachable' '$T_TMP/gw.log'"
before=$N_OK
for i in 1 2; do send1 downstart; done
t_check down_at_start_mail_delivered "$((N_OK - before)) of 2" test $((N_OK - before)) = 2
sleep 2
redis_restart
t_wait_for 40 bash -c "grep -q 'event=redis_cache state=up' '$T_TMP/gw.log' && grep -q 'event=redis_stats state=up' '$T_TMP/gw.log'"
t_check down_then_up "$(grep -E 'redis_(cache|stats)' "$T_TMP/gw.log" | tr '\n' '|')" \
	bash -c "grep -q 'event=redis_cache state=up' '$T_TMP/gw.log' && grep -q 'event=redis_stats state=up' '$T_TMP/gw.log'"
t_check down_logged_once_per_outage "cache $(lines redis_cache down), stats $(lines redis_stats down)" \
	test "$(lines redis_cache down)/$(lines redis_stats down)" = 1/1
send1 afterup
t_wait_for 5 bash -c "[ -n \"\$(rcli HGET smtpsec:stats:gwr emails_received)\" ]"
t_check stats_flow_after_up "emails_received=$(rcli HGET smtpsec:stats:gwr emails_received)" \
	test "$(rcli HGET smtpsec:stats:gwr emails_received)" -ge 3
se=$(rcli HGET smtpsec:stats:gwr stats_redis_errors)
de=$(rcli HGET smtpsec:stats:gwr dns_redis_errors)
t_check stats_redis_errors_counted "stats_redis_errors=$se dns_redis_errors=$de" test "${se:-0}" -ge 1 -a "${de:-0}" -ge 1
t_wait_for 3 bash -c "[ \"\$(rcli HGET smtpsec:stats:gwr dns_redis_up.w0)\" = 1 ]"
t_check state_gauges_up "dns_redis_up.w0=$(rcli HGET smtpsec:stats:gwr dns_redis_up.w0) stats_redis_up.w0=$(rcli HGET smtpsec:stats:gwr stats_redis_up.w0)" \
	test "$(rcli HGET smtpsec:stats:gwr dns_redis_up.w0)/$(rcli HGET smtpsec:stats:gwr stats_redis_up.w0)" = 1/1

# --- 3. Redis restarted under traffic ----------------------------------------------------
before=$N_OK
sent_before=$N_SENT
for i in $(seq 1 12); do
	send1 restart
	[ "$i" = 4 ] && redis_kill
	[ "$i" = 8 ] && redis_restart
done
t_check restart_mail_delivered "$((N_OK - before)) of $((N_SENT - sent_before)); $(tail -2 "$T_TMP/send_fail.log" 2>/dev/null)" \
	test $((N_OK - before)) = $((N_SENT - sent_before))
t_wait_for 40 bash -c "[ \$(grep -c 'event=redis_cache state=up' '$T_TMP/gw.log') -ge 2 ] && [ \$(grep -c 'event=redis_stats state=up' '$T_TMP/gw.log') -ge 2 ]"
t_check restart_one_down_one_up "cache down/up $(lines redis_cache down)/$(lines redis_cache up), stats $(lines redis_stats down)/$(lines redis_stats up)" \
	test "$(lines redis_cache down)/$(lines redis_cache up)/$(lines redis_stats down)/$(lines redis_stats up)" = 2/2/2/2
t_check restart_lost_logged "$(grep 'state=down' "$T_TMP/gw.log" | tail -2 | tr '\n' '|')" \
	grep -q 'event=redis_cache state=down fault=unreachable why="connection lost' "$T_TMP/gw.log"
# the restarted Redis is empty: the counts of the outage arrive with the
# next batches (deltas), with the errors of the outage
t_wait_for 5 bash -c "[ -n \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT -a $REDIS_PASS --no-auth-warning HGET smtpsec:stats:gwr stats_redis_errors)\" ]"
se=$(rcli HGET smtpsec:stats:gwr stats_redis_errors)
er=$(rcli HGET smtpsec:stats:gwr emails_received)
t_check restart_stats_flow "after the restart: emails_received=$er stats_redis_errors=$se" \
	test "${er:-0}" -ge 1 -a "${se:-0}" -ge 1
t_check every_email_stored "$(dovecot_mail_count bob@b.test) stored, $N_SENT sent" \
	test "$(dovecot_mail_count bob@b.test)" = "$N_SENT"
gw_stop
exit 0
