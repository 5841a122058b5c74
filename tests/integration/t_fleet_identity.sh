#!/bin/bash
# Fleet-safe identity (issue 17): three gateways sharing one Redis (with a
# password) and one Dovecot.
#   1. connection ids and the Received id carry 64 random bits (16 hex
#      digits): no collisions across a fleet at realistic volumes.
#   2. two gateways started with the same [redis] instance: both log
#      event=instance_duplicate once, smtpsec-stats --json shows the
#      instance_duplicate gauge; a third with its own name logs nothing;
#      after one of the pair stops, the other logs state=clear.
#   3. authserv_id: unset, the start warns and uses the hostname's parent;
#      forged Authentication-Results claiming authserv_id or one of
#      authserv_id_also are renamed, others kept.
#   5. a gateway with another authserv_id is logged (event=fleet_mismatch)
#      and counted in the fleet_mismatch gauge.
#   4. --print-dns: Ed25519, Ed448, P-256, RSA certificates; a non-FQDN
#      host name refused; a certificate not naming the host warned about.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_redis.sh"
. "$(dirname "$0")/lib_dovecot.sh"

ST=$BUILD/smtpsec-stats
for b in "$GW" "$SEND" "$ST"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
command -v redis-server >/dev/null || { t_skip redis "redis-server missing"; exit 0; }
gw_pki || { t_fail pki "openssl failed"; exit 1; }
redis_start fl33t || { t_fail redis_start "redis-server did not start"; exit 1; }
dovecot_start bob@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }

conf() {	# NAME INSTANCE [HEADERS-LINE...]
	local n=$1 i=$2
	shift 2
	gw_conf "$n" "[lmtp]" "target = unix:$DOVECOT_SOCKET" "[headers]" "$@" \
		"[redis]" "url = redis://:fl33t@127.0.0.1:$REDIS_PORT" "stats_interval = 200ms" \
		"instance = $i"
}
# 4. --print-dns for every key type the gateway serves; a non-FQDN host
#    name is refused (an SRV target "vm." is a TLD to every sender)
pd() {	# KEYALG HOSTNAME DOMAIN
	local k=$T_TMP/pd-$1
	case $1 in
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k.key" 2>/dev/null ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k.key" 2>/dev/null ;;
	*) openssl genpkey -algorithm "$1" -out "$k.key" 2>/dev/null ;;
	esac
	openssl req -x509 -new -key "$k.key" -subj "/CN=mx1.b.test" -addext subjectAltName=DNS:mx1.b.test \
		-days 3 -out "$k.pem" 2>/dev/null
	printf '[server]\nlisten = 127.0.0.1:4650\nhostname = %s\n[tls]\ncertificate = %s\nkey = %s\n[dns]\nunbound_conf = /dev/null\n' \
		"$2" "$k.pem" "$k.key" >"$k.conf"
	"$GW" -c "$k.conf" --print-dns "$3" 2>&1
}
for alg in ed25519 ed448 ec rsa; do
	out=$(pd $alg mx1.b.test b.test)
	want=$(openssl x509 -in "$T_TMP/pd-$alg.pem" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
	t_check "print_dns_$alg" "$out (want $want)" bash -c 'grep -qx "_4650._tcp.mx1.b.test. IN TLSA 3 1 1 $2" <<<"$1" &&
		grep -qx "_smtpsec._tcp.b.test. IN SRV 10 10 4650 mx1.b.test." <<<"$1" && ! grep -q warning <<<"$1"' _ "$out" "$want"
done
t_expect print_dns_refuses_vm 78 "hostname 'vm\\.?' is not a fully qualified domain name" pd ec vm b.test
t_expect print_dns_refuses_vm_dot 78 "hostname 'vm\\.' is not a fully qualified domain name" pd ec vm. b.test
t_expect print_dns_warns_unnamed 0 "warning: certificate .* does not name mx2.b.test" pd ec mx2.b.test b.test

head -c 32 /dev/urandom >"$T_TMP/cache.key"
chmod 600 "$T_TMP/cache.key"
printf 'short' >"$T_TMP/bad.key"
conf bad bad "[dns]" "cache = redis" "[redis]" "cache_key_file = $T_TMP/bad.key"
t_expect cache_key_bad_refused 78 'cache_key_file .*bad.key: must hold 32 random bytes or 64 hex digits' \
	"$GW" -f -c "$T_TMP/bad.conf" --insecure-skip-chain-checks
# the key in hex (64 digits and a newline) is taken as well; 64 characters
# that are not all hex digits are refused
{ od -An -tx1 -v "$T_TMP/cache.key" | tr -d " \n"; echo; } >"$T_TMP/hex.key" && chmod 600 "$T_TMP/hex.key"
printf '%064d\n' 0 | tr 0 z >"$T_TMP/nothex.key"
conf nothex nothex "[dns]" "cache = redis" "[redis]" "cache_key_file = $T_TMP/nothex.key"
t_expect cache_key_nothex_refused 78 'cache_key_file .*nothex.key: not 64 hex digits' \
	"$GW" -f -c "$T_TMP/nothex.conf" --insecure-skip-chain-checks
conf hex hex "[dns]" "cache = redis" "[redis]" "cache_key_file = $T_TMP/hex.key"
if gw_run hex; then
	t_check cache_key_hex_taken "$(tail -3 "$T_TMP/hex.log")" bash -c "! grep -q 'cache_key_file' '$T_TMP/hex.log'"
	kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null
else
	t_fail cache_key_hex_taken "no listener: $(tail -3 "$T_TMP/hex.log")"
fi
conf a same "authserv_id = b.test" "authserv_id_also = mx2.b.test, old.b.test" "[dns]" "cache = redis" \
	"[redis]" "cache_key_file = $T_TMP/cache.key"
gw_run a || { t_fail start_a "no listener"; exit 1; }; PA=$GW_PID; SA=("${GW_SENDER[@]}")
conf b same "authserv_id = b.test"; gw_run b || { t_fail start_b "no listener"; exit 1; }; PB=$GW_PID
conf c other "[dns]" "cache = redis"; gw_run c || { t_fail start_c "no listener"; exit 1; }; PC=$GW_PID
conf d dd "authserv_id = c.test"; gw_run d || { t_fail start_d "no listener"; exit 1; }
t_check cache_key_missing_warned "no warning in c.log" grep -q 'event=start warning="\[dns\] cache = redis without \[redis\] cache_key_file: Redis is trusted' "$T_TMP/c.log"
t_check cache_key_set_quiet "a warned about the cache key" bash -c "! grep -q 'without \[redis\] cache_key_file' '$T_TMP/a.log'"

# 3. authserv_id: one per fleet; c has none and says so at start
t_check authserv_default_warned "no warning in c.log" grep -q 'event=start warning="\[headers\] authserv_id not set: using b.test (from hostname gw.b.test)' "$T_TMP/c.log"
t_check authserv_set_quiet "a warned about authserv_id" bash -c "! grep -q 'authserv_id not set' '$T_TMP/a.log'"

printf 'Authentication-Results: mx2.b.test; smtpsec=pass header.from=bank.test\r\nAuthentication-Results: b.test; smtpsec=pass\r\nAuthentication-Results: other.test; spf=pass\r\nFrom: a@a.test\r\nTo: bob@b.test\r\nSubject: id\r\n\r\nhello\r\n' >"$T_TMP/m.eml"
"$SEND" "${SA[@]}" --from a@a.test --rcpt bob@b.test --message "$T_TMP/m.eml" >"$T_TMP/send.out" 2>&1
t_check conn_id_64 "no 16-hex-digit conn id in a.log" \
	grep -Eq 'conn=[0-9a-f]{16} event=email n=1 ' "$T_TMP/a.log"
t_wait_for 10 bash -c "ls '$DOVECOT_DIR'/mail/bob@b.test/Maildir/new/* >/dev/null 2>&1"
f=$(dovecot_mail_files bob@b.test | head -1)
t_check received_id_64 "Received id is not 16 hex digits: $(grep -A3 '^Received: from' "${f:-/dev/null}" | tr '\r\n' '  ')" \
	grep -Eq 'id [0-9a-f]{16}\.1' "${f:-/dev/null}"
t_check authres_renamed "forged fields: $(grep -i 'authentication-results' "${f:-/dev/null}" | tr '\r\n' '  ')" bash -c '
	grep -q "^X-Untrusted-Authentication-Results: mx2.b.test; smtpsec=pass header.from=bank.test" "$1" &&
	grep -q "^X-Untrusted-Authentication-Results: b.test; smtpsec=pass" "$1" &&
	grep -q "^Authentication-Results: other.test; spf=pass" "$1" &&
	[ "$(grep -c "^Authentication-Results: b.test;" "$1")" = 1 ]' _ "${f:-/dev/null}"

t_wait_for 10 bash -c "grep -q 'event=instance_duplicate instance=same' '$T_TMP/a.log' && grep -q 'event=instance_duplicate instance=same' '$T_TMP/b.log'"
t_check dup_logged_by_both "a: $(grep -c instance_duplicate "$T_TMP/a.log") b: $(grep -c instance_duplicate "$T_TMP/b.log")" \
	bash -c "[ \$(grep -c 'event=instance_duplicate instance=same' '$T_TMP/a.log') = 1 ] && [ \$(grep -c 'event=instance_duplicate instance=same' '$T_TMP/b.log') = 1 ]"
t_check dup_not_other "c logged a duplicate" bash -c "! grep -q instance_duplicate '$T_TMP/c.log'"
"$ST" --url "redis://:fl33t@127.0.0.1:$REDIS_PORT" --interval 0.2 --json >"$T_TMP/j.out" 2>&1
t_check dup_in_stats "$(head -c 400 "$T_TMP/j.out")" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i={x["instance"]:x for x in d["instances"]}
assert i["same"]["counters"]["instance_duplicate"]>=1, i["same"]
assert i["other"]["counters"]["instance_duplicate"]==0, i["other"]
' "$T_TMP/j.out"
# the table marks it, and the health check warns
"$ST" --url "redis://:fl33t@127.0.0.1:$REDIS_PORT" --interval 0.2 >"$T_TMP/t.out" 2>&1
t_check dup_in_table "$(cat "$T_TMP/t.out")" grep -Eq '^same +dup ' "$T_TMP/t.out"
"$ST" --url "redis://:fl33t@127.0.0.1:$REDIS_PORT" --check >"$T_TMP/c.out" 2>&1
rc=$?
t_check dup_check_warns "rc=$rc $(cat "$T_TMP/c.out")" bash -c '[ "$1" = 1 ] && grep -q "WARNING.*used by two gateways" "$2"' _ "$rc" "$T_TMP/c.out"

# 5. settings that must be equal across the fleet: d states another
#    authserv_id, a another cache key than b and c
t_wait_for 10 bash -c "grep -q 'event=fleet_mismatch setting=authserv_id ours=c.test' '$T_TMP/d.log'"
t_check fleet_mismatch_authserv "d.log: $(grep fleet_mismatch "$T_TMP/d.log" | head -2)" \
	grep -q 'event=fleet_mismatch setting=authserv_id ours=c.test instance=[a-z]* theirs=b.test' "$T_TMP/d.log"
t_check fleet_mismatch_once "d logged $(grep -c 'event=fleet_mismatch setting' "$T_TMP/d.log") times" \
	test "$(grep -c 'event=fleet_mismatch setting' "$T_TMP/d.log")" -le 3
"$ST" --url "redis://:fl33t@127.0.0.1:$REDIS_PORT" --interval 0.2 --json >"$T_TMP/j5.out" 2>&1
t_check fleet_mismatch_gauge "$(head -c 300 "$T_TMP/j5.out")" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
i={x["instance"]:x for x in d["instances"]}
assert i["dd"]["counters"]["fleet_mismatch"]>=1, i["dd"]
' "$T_TMP/j5.out"

# a quick restart is not a duplicate: c stopped and started again at once
conf c other "[dns]" "cache = redis"
kill -TERM "$PC"; wait "$PC" 2>/dev/null
gw_run c || { t_fail restart_c "no listener"; exit 1; }
sleep 1.5
t_check restart_not_duplicate "$(grep instance_duplicate "$T_TMP/c.log")" bash -c "! grep -q 'event=instance_duplicate' '$T_TMP/c.log'"

t0=$(date +%s.%N)
kill -TERM "$PB"; wait "$PB" 2>/dev/null
t_wait_for 15 bash -c "grep -q 'event=instance_duplicate state=clear instance=same' '$T_TMP/a.log'"
t1=$(date +%s.%N)
t_check dup_clears "a never logged state=clear" grep -q 'event=instance_duplicate state=clear instance=same' "$T_TMP/a.log"
echo "# duplicate cleared $(python3 -c "print(round($t1-$t0,1))") s after the second gateway stopped"
exit 0
