#!/bin/bash
# The fleet (issue 17): two real gateway processes behind one SRV set, one
# Dovecot, one Redis with a password, DNSSEC-signed zones in NSD, and
# smtpsec-send in discovery mode (--pipe: SRV lookup, RFC 2782 order).
#
# SRV targets are "localhost" on two ports (the sender finds addresses with
# getaddrinfo and no test may edit /etc/hosts), so the receiving gateways
# are authenticated by PKIX + CT on SRVName certificates (one leaf per
# gateway, as in t_postfix.sh); TLSA for "localhost" cannot be published in
# the test zones.  Both gateways verify every Email for real (no test
# switch) and share the DNS cache in Redis, sealed with one cache key.
#
#   1. equal weights (b.test: 50/50) and 75/25 (w.test): FLEET_RUNS
#      separate runs each, gw1's share of the deliveries within 5 sd of
#      the binomial mean.
#   2. a sender domain first verified at gw1 is a Redis hit at gw2: gw2's
#      resolver counter does not move, its dns_redis_hits does.
#   3. smtpsec-stats --json lists both, per-instance emails_delivered equal
#      to each gateway's log lines, live totals their sum.
#   4. priorities (p.test: 10 -> gw1, 20 -> gw2): all to gw1; gw1 SIGKILLed:
#      every following Email to gw2 (failover time printed).
#   5. gw1 turns stale in smtpsec-stats (time printed) and leaves the live
#      totals.
#   6. one DNS cache per host: gw3 (2 workers, memory cache) resolves the
#      sender's records once for both workers (shared-memory cache).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_pki.sh"
. "$(dirname "$0")/lib_redis.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
ST=$BUILD/smtpsec-stats
for b in "$GW" "$SEND" "$ST"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
command -v redis-server >/dev/null || { t_skip redis "redis-server missing"; exit 0; }
N=${FLEET_RUNS:-30}
D="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)"
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")
MX=mx1.example.test
P=$T_TMP/pki
S=$T_TMP/send
mkdir -p "$P" "$S" "$T_TMP/spool1" "$T_TMP/spool2"
chmod 777 "$T_TMP/spool1" "$T_TMP/spool2"
pki_init || { t_fail pki_init "could not make the run-time PKI"; exit 1; }
SAN="otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.b.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.p.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.w.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.m.test"
pki_leaf gw1 p256 valid "$SAN" "log1 log2" || { t_fail pki_leaf "gateway 1 certificate"; exit 1; }
pki_leaf gw2 p256 valid "$SAN" "log1 log2" || { t_fail pki_leaf "gateway 2 certificate"; exit 1; }
cp "$D/leaf.key" "$S/a.key"
cat "$D/leaf.pem" "$D/inter.pem" >"$S/a.chain"
printf 'a.test %s %s\n' "$S/a.key" "$S/a.chain" >"$S/keys"
head -c 32 /dev/urandom >"$T_TMP/cache.key"
chmod 600 "$T_TMP/cache.key"

P1=$(t_free_port)
P2=$(t_free_port)
while [ "$P2" = "$P1" ]; do P2=$(t_free_port); done
P3=$(t_free_port)
while [ "$P3" = "$P1" ] || [ "$P3" = "$P2" ]; do P3=$(t_free_port); done
dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.$MX. 300 IN TLSA 3 1 1 $LEAF"
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 $MX."
dns_zone b.test signed
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 50 $P1 localhost."
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 50 $P2 localhost."
dns_zone w.test signed
dns_rr w.test "_smtpsec._tcp.w.test. 300 IN SRV 10 75 $P1 localhost."
dns_rr w.test "_smtpsec._tcp.w.test. 300 IN SRV 10 25 $P2 localhost."
dns_zone m.test signed
dns_rr m.test "_smtpsec._tcp.m.test. 300 IN SRV 10 0 $P3 localhost."
dns_zone p.test signed
dns_rr p.test "_smtpsec._tcp.p.test. 300 IN SRV 10 0 $P1 localhost."
dns_rr p.test "_smtpsec._tcp.p.test. 300 IN SRV 20 0 $P2 localhost."
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
dovecot_start bob@b.test bob@p.test bob@w.test bob@m.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }
redis_start fl33t || { t_fail redis_start "redis-server did not start"; exit 1; }
# the README's ACLs: the gateways get exactly the commands and keys they use,
# smtpsec-stats read-only access; any denied command would count as a
# dns_redis_errors / stats_redis_errors below (checked to stay 0)
rcli ACL SETUSER smtpsec-gateway on '>gwpass' resetkeys '~smtpsec:dns:*' '~smtpsec:stats:*' \
	'~smtpsec:instances' '~smtpsec:owners:*' '~smtpsec:fleet' '~smtpsec:batch:*' resetchannels -@all +auth +select \
	+ping +get +set +multi +exec +eval +hincrby +hset +zadd +expire +hgetall +hdel >/dev/null
rcli ACL SETUSER smtpsec-stats on '>stpass' resetkeys '%R~smtpsec:*' resetchannels -@all +auth \
	+select +ping +zrange +hgetall >/dev/null

conf() {	# N PORT [WORKERS [CACHE]]
	cat >"$T_TMP/gw$1.conf" <<EOF
[server]
listen = 127.0.0.1:$2
workers = ${3:-1}
hostname = gw$1.b.test
[tls]
certificate = $PKI/gw$(( $1 == 3 ? 1 : $1 )).chain
key = $PKI/gw$(( $1 == 3 ? 1 : $1 )).key
[dns]
unbound_conf = $DNS_UNBOUND_CONF
trust_anchor_file =
timeout = 2s
cache = ${4:-redis}
[verify]
ca_file = $PKI/ca_file.pem
ct_log_list = $PKI/log_list.json
[lmtp]
target = unix:$DOVECOT_SOCKET
spool_dir = $T_TMP/spool$1
[headers]
authserv_id = b.test
[redis]
url = redis://smtpsec-gateway:gwpass@127.0.0.1:$REDIS_PORT
stats_interval = 200ms
instance = gw$1
cache_key_file = $T_TMP/cache.key
EOF
}
GWPID=()
gw_start() {	# N PORT [WORKERS [CACHE]]
	conf "$@"
	"$GW" -f -c "$T_TMP/gw$1.conf" >>"$T_TMP/gw$1.log" 2>&1 &
	GWPID[$1]=$!
	t_track_pid "${GWPID[$1]}"
	t_wait_port "$2" 15
}
gw_start 1 "$P1" || { t_fail gw1_start "no listener on $P1"; tail -5 "$T_TMP/gw1.log"; exit 1; }
gw_start 2 "$P2" || { t_fail gw2_start "no listener on $P2"; tail -5 "$T_TMP/gw2.log"; exit 1; }

SENDARGS=(--pipe --keys "$S/keys" --unbound-conf "$DNS_UNBOUND_CONF" --cafile "$PKI/ca_file.pem"
	--ct-log-list "$PKI/log_list.json" --timeout 20)
send() {	# NAME RCPT: one smtpsec-send run in discovery mode; its exit status
	printf 'From: Alice <alice@a.test>\nTo: %s\nSubject: %s\nMessage-ID: <%s@a.test>\n\nBody of %s.\n' \
		"$2" "$1" "$1" "$1" | "$SEND" "${SENDARGS[@]}" -- "$2" >>"$T_TMP/send.log" 2>&1
}
delivered() { grep -c 'event=email .*delivery=delivered' "$T_TMP/gw$1.log"; }
stats() { "$ST" --url "redis://smtpsec-stats:stpass@127.0.0.1:$REDIS_PORT" --interval 0.2 --json "$@" 2>&1; }
# jget JSON-FILE EXPR: a python expression over d (the JSON) and i (by instance)
jget() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); i={x["instance"]:x for x in d["instances"]}
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

: >"$T_TMP/send.log"

# --- 2 first, while the cache is cold: gw1 alone verifies a.test ----------
# (b.test's SRV set would pick either gateway: p.test's priority 10 is gw1)
t_check first_at_gw1 "exit $?; $(tail -2 "$T_TMP/send.log")" send warm bob@p.test
t_wait_for 5 bash -c "[ \$(grep -c 'event=email .*delivery=delivered' '$T_TMP/gw1.log') = 1 ]"
sleep 0.6	# two stats intervals: the counters are in Redis
stats >"$T_TMP/j0.json"
q2_before=$(jget "$T_TMP/j0.json" 'i["gw2"]["counters"]["dns_resolver_queries"]')
h2_before=$(jget "$T_TMP/j0.json" 'i["gw2"]["counters"]["dns_redis_hits"]')
q1=$(jget "$T_TMP/j0.json" 'i["gw1"]["counters"]["dns_resolver_queries"]')

# --- 1. equal weights ------------------------------------------------------
fails=0
for ((k = 0; k < N; k++)); do
	send "w$k" bob@b.test || fails=$((fails + 1))
done
t_check equal_all_sent "$fails of $N runs failed: $(tail -3 "$T_TMP/send.log")" test "$fails" = 0
c1=$(( $(delivered 1) - 1 ))
c2=$(delivered 2)
echo "# equal weights: gw1 $c1 / gw2 $c2 of $N runs ($(awk -v a="$c1" -v n="$N" 'BEGIN { printf "%.0f%%", 100 * a / n }') to gw1)"
t_check equal_share_binomial "gw1 $c1 gw2 $c2 of $N: outside 5 sd of $N/2" awk -v c="$c1" -v d="$c2" -v n="$N" 'BEGIN {
	m = n / 2; sd = sqrt(n) / 2; exit !(c + d == n && c >= m - 5 * sd && c <= m + 5 * sd) }'
t_check equal_both_used "gw1 $c1 gw2 $c2" test "$c1" -gt 0 -a "$c2" -gt 0
t_check equal_stored "$(dovecot_mail_count bob@b.test) of $N in Dovecot" test "$(dovecot_mail_count bob@b.test)" = "$N"

# 75/25: gw1 comes first with p = (0.5 * 76 + 0.5 * 75) / 101 (the
# resolver's order decides; see t_send_srv.sh)
b1=$(delivered 1)
b2=$(delivered 2)
fails=0
for ((k = 0; k < N; k++)); do
	send "x$k" bob@w.test || fails=$((fails + 1))
done
c1=$(( $(delivered 1) - b1 ))
c2=$(( $(delivered 2) - b2 ))
echo "# weights 75/25: gw1 $c1 / gw2 $c2 of $N runs ($(awk -v a="$c1" -v n="$N" 'BEGIN { printf "%.0f%%", 100 * a / n }') to gw1, expected 75%)"
t_check weighted_share_binomial "failed $fails; gw1 $c1 gw2 $c2 of $N: outside 5 sd" awk -v c="$c1" -v d="$c2" -v n="$N" -v f="$fails" 'BEGIN {
	p = 75.5 / 101; m = n * p; sd = sqrt(n * p * (1 - p)); exit !(f == 0 && c + d == n && c >= m - 5 * sd && c <= m + 5 * sd) }'

# --- 2. the sender's records came from Redis at gw2 ------------------------
sleep 0.6
stats >"$T_TMP/j1.json"
q2_after=$(jget "$T_TMP/j1.json" 'i["gw2"]["counters"]["dns_resolver_queries"]')
h2_after=$(jget "$T_TMP/j1.json" 'i["gw2"]["counters"]["dns_redis_hits"]')
l2=$(jget "$T_TMP/j1.json" 'i["gw2"]["counters"]["dns_lookups"]')
f2=$(jget "$T_TMP/j1.json" 'i["gw2"]["counters"]["dns_redis_forged"]')
echo "# gw1 resolver queries for a.test: $q1; gw2: resolver queries $q2_before -> $q2_after, redis hits $h2_before -> $h2_after, lookups $l2 (memory hits the rest)"
t_check cache_redis_hit_at_gw2 "gw2 redis hits $h2_before -> $h2_after" test "${h2_after:-0}" -gt "${h2_before:-0}"
t_check cache_resolver_flat_at_gw2 "gw2 resolver queries $q2_before -> $q2_after" test "${q2_after:-x}" = "${q2_before:-y}"
t_check cache_gw1_resolved "gw1 resolver queries: $q1" test "${q1:-0}" -gt 0
t_check cache_no_forged "gw2 dns_redis_forged=$f2" test "${f2:-x}" = 0
t_check acl_enough "redis errors: $(jget "$T_TMP/j1.json" '[(k, i[k]["counters"]["dns_redis_errors"], i[k]["counters"]["stats_redis_errors"]) for k in sorted(i)]')" \
	test "$(jget "$T_TMP/j1.json" 'sum(i[k]["counters"]["dns_redis_errors"] + i[k]["counters"]["stats_redis_errors"] for k in i)')" = 0
t_check acl_stats_read_only "smtpsec-stats user could write" bash -c \
	'redis-cli -h 127.0.0.1 -p "$1" --user smtpsec-stats --pass stpass --no-auth-warning HSET smtpsec:stats:gw1 x 1 2>&1 | grep -q NOPERM' _ "$REDIS_PORT"

# --- 3. per-instance counts equal the logs ---------------------------------
t_check stats_both_listed "$(head -c 300 "$T_TMP/j1.json")" test "$(jget "$T_TMP/j1.json" 'sorted(i)')" = "['gw1', 'gw2']"
e1=$(jget "$T_TMP/j1.json" 'i["gw1"]["counters"]["emails_delivered"]')
e2=$(jget "$T_TMP/j1.json" 'i["gw2"]["counters"]["emails_delivered"]')
t_check stats_counts_match_logs "stats gw1 $e1 gw2 $e2, logs $(delivered 1) $(delivered 2)" \
	test "$e1" = "$(delivered 1)" -a "$e2" = "$(delivered 2)"
t_check stats_live_total "$(jget "$T_TMP/j1.json" 'd["totals_live"]["emails_delivered"]')" \
	test "$(jget "$T_TMP/j1.json" 'd["totals_live"]["emails_delivered"]')" = $((e1 + e2))
t_check fleet_consistent "$(grep -h fleet_mismatch "$T_TMP"/gw[12].log | head -2)" bash -c \
	"! grep -q 'event=fleet_mismatch' '$T_TMP/gw1.log' '$T_TMP/gw2.log' && [ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(x[\"counters\"][\"fleet_mismatch\"] + x[\"counters\"][\"instance_duplicate\"] for x in d[\"instances\"]))' '$T_TMP/j1.json')\" = 0 ]"
t_check stats_both_live "$(jget "$T_TMP/j1.json" '[i[k]["state"] for k in sorted(i)]')" \
	test "$(jget "$T_TMP/j1.json" '[i[k]["state"] for k in sorted(i)]')" = "['live', 'live']"

# --- 4. priorities and failover --------------------------------------------
b1=$(delivered 1)
b2=$(delivered 2)
for k in 1 2 3 4 5; do send "p$k" bob@p.test; done
t_check prio_all_first "gw1 +$(( $(delivered 1) - b1 )) gw2 +$(( $(delivered 2) - b2 ))" \
	test $(( $(delivered 1) - b1 )) = 5 -a "$(delivered 2)" = "$b2"
{ kill -KILL "${GWPID[1]}"; t_kill=$(date +%s.%N); wait "${GWPID[1]}"; } 2>/dev/null
echo "# gw1 (pid ${GWPID[1]}) SIGKILLed"
# the worker follows its master (PR_SET_PDEATHSIG): wait until nothing listens
t_wait_for 10 bash -c "! exec 3<>/dev/tcp/127.0.0.1/$P1" 2>/dev/null
b2=$(delivered 2)
fails=0
t0=$EPOCHREALTIME
send f1 bob@p.test || fails=$((fails + 1))
t1=$EPOCHREALTIME
for k in 2 3 4 5; do send "f$k" bob@p.test || fails=$((fails + 1)); done
t2=$EPOCHREALTIME
echo "# failover: the first Email after SIGKILL of gw1 took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s to gw2 (one smtpsec-send run whose connect to gw1 is refused), the next 4: $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", (b - a) / 4 }') s each"
t_check failover_all_second "failed $fails; gw2 +$(( $(delivered 2) - b2 ))" test "$fails" = 0 -a $(( $(delivered 2) - b2 )) = 5
t_check failover_stored "$(dovecot_mail_count bob@p.test) in bob@p.test" test "$(dovecot_mail_count bob@p.test)" = 11

# --- 5. the killed instance turns stale ------------------------------------
stale_at=
for ((k = 0; k < 100; k++)); do
	stats >"$T_TMP/j2.json"
	if [ "$(jget "$T_TMP/j2.json" 'i["gw1"]["state"]')" = stale ]; then
		stale_at=$(date +%s.%N)
		break
	fi
	sleep 0.1
done
t_check stale_after_kill "gw1 never stale: $(head -c 300 "$T_TMP/j2.json")" test -n "$stale_at"
[ -n "$stale_at" ] && echo "# gw1 stale in smtpsec-stats $(awk -v a="$t_kill" -v b="$stale_at" 'BEGIN { printf "%.1f", b - a }') s after SIGKILL (rule: 3 flush intervals, at least 3 s, after the last heartbeat)"
sleep 0.6
stats >"$T_TMP/j3.json"
e2=$(jget "$T_TMP/j3.json" 'i["gw2"]["counters"]["emails_delivered"]')
t_check stale_left_totals "totals_live $(jget "$T_TMP/j3.json" 'd["totals_live"]["emails_delivered"]'), gw2 $e2" \
	test "$(jget "$T_TMP/j3.json" 'd["totals_live"]["emails_delivered"]')" = "$e2" -a "$e2" = "$(delivered 2)"
t_check gw2_live "$(jget "$T_TMP/j3.json" 'i["gw2"]["state"]')" test "$(jget "$T_TMP/j3.json" 'i["gw2"]["state"]')" = live
# --- 6. one DNS cache per host: gw3 has 2 workers and the memory cache ---
# (no Redis cache): a value resolved by one worker is a hit for the other
gw_start 3 "$P3" 2 memory || { t_fail gw3_start "no listener on $P3"; exit 1; }
fails=0
for k in 1 2 3 4 5 6 7 8; do send "m$k" bob@m.test || fails=$((fails + 1)); done
sleep 0.6
stats >"$T_TMP/j4.json"
q3=$(jget "$T_TMP/j4.json" 'i["gw3"]["counters"]["dns_resolver_queries"]')
s3=$(jget "$T_TMP/j4.json" 'i["gw3"]["counters"]["dns_shared_hits"]')
m3=$(jget "$T_TMP/j4.json" 'i["gw3"]["counters"]["dns_mem_hits"]')
w3=$(grep -o 'smtpsec-gateway\[[0-9]*\] info conn=[0-9a-f]* event=email' "$T_TMP/gw3.log" | cut -d'[' -f2 | cut -d']' -f1 | sort | uniq -c | tr '\n' ' ')
echo "# gw3 (2 workers, memory cache): Emails per worker pid: $w3; resolver queries $q3, shared-cache hits $s3, memory hits $m3"
t_check shared_cache_sent "$fails failed" test "$fails" = 0
if [ "$(wc -w <<<"$w3")" -ge 4 ]; then	# both workers served Emails
	t_check shared_cache_hit "gw3 shared-cache hits $s3" test "${s3:-0}" -ge 1
else
	t_skip shared_cache_hit "one worker took every Email: $w3"
fi
t_check shared_cache_one_resolution "gw3 resolver queries $q3 (SRV + TLSA of a.test once for the host)" test "${q3:-x}" = 2
exit 0
