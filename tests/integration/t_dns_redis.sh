#!/bin/bash
# The shared DNS cache in a real redis-server: two resolver processes share
# entries, Redis with AUTH, garbage values are misses, values sealed with
# the fleet's cache key (a forged one is never used), and a Redis that dies
# mid-run changes no lookup result.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_redis.sh"

q="$BUILD/smtpsec-dnsq"
dns_init
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 10 4650 mx1.a.test."
dns_rr a.test "_smtpsec._tcp.b2.a.test. 300 IN SRV 10 10 4650 mx1.a.test."
dns_rr a.test "_4650._tcp.mx1.a.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
redis_start s3cret || { t_fail redis_start "redis did not start"; exit 1; }

run() { "$q" --unbound-conf "$DNS_UNBOUND_CONF" --timeout-ms 3000 --cache redis \
	--redis-host 127.0.0.1 --redis-port "$REDIS_PORT" --redis-password "$REDIS_PASS" "$@" 2>&1; }

# Process 1 resolves and stores; process 2 gets it from Redis.
out1=$(run SRV:_smtpsec._tcp.a.test TLSA:_4650._tcp.mx1.a.test)
key=$(rcli --raw EXISTS smtpsec:dns:SRV:_smtpsec._tcp.a.test)
t_check redis_key_written "EXISTS=$key" test "$key" = 1
ttl=$(rcli TTL smtpsec:dns:SRV:_smtpsec._tcp.a.test)
t_check redis_key_expires "TTL=$ttl" test "$ttl" -gt 0 -a "$ttl" -le 300
before=$(dns_query_count)
out2=$(run SRV:_smtpsec._tcp.a.test TLSA:_4650._tcp.mx1.a.test)
after=$(dns_query_count)
t_check shared_between_processes "$out2" grep -q 'resolver_queries=0 mem_hits=0 redis_hits=2' <<<"$out2"
t_check shared_no_nsd_queries "NSD queries $before -> $after" test "$before" = "$after"
a1=$(echo "$out1" | grep -v '^redis state=' | head -1 | sed 's/ ttl=[0-9]* cache=[a-z]* ms=[0-9]*//')
a2=$(echo "$out2" | grep -v '^redis state=' | head -1 | sed 's/ ttl=[0-9]* cache=[a-z]* ms=[0-9]*//')
t_check same_answer "$a1 vs $a2" test "$a1" = "$a2"

# Garbage in Redis is a miss, resolved again and overwritten.
rcli SET smtpsec:dns:SRV:_smtpsec._tcp.b2.a.test "SDC\x01garbage" EX 300 >/dev/null
out=$(run SRV:_smtpsec._tcp.b2.a.test)
t_check garbage_is_miss "$out" grep -q 'result=data status=secure .*cache=resolver' <<<"$out"
t_check garbage_counted "$out" grep -q 'redis_garbage=1' <<<"$out"

# The fleet's cache key (issue 17): values are sealed with HMAC-SHA256 over
# value, Redis key and expiry; one with a valid layout but no valid MAC is
# never used (a miss, counted as redis_forged), whoever wrote it.
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
TK=TLSA:_4650._tcp.mx1.a.test
RK=smtpsec:dns:$TK
rcli FLUSHALL >/dev/null
run "$TK" >/dev/null	# no key: a plain value of the right layout
rcli --raw GET "$RK" | head -c -1 >"$T_TMP/plain"
plain_len=$(stat -c %s "$T_TMP/plain")
# the forgery: the same layout, another TLSA digest (ff..ff), a MAC trailer
# of the right length that nobody with the key computed
python3 - "$T_TMP/plain" "$T_TMP/forged" <<'PY'
import sys
v = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(v[:-32] + b'\xff' * 32 + b'MAC1' + b'\x00' * 32)
PY
rcli -x SET "$RK" <"$T_TMP/forged" >/dev/null
rcli EXPIRE "$RK" 300 >/dev/null
out=$(run --cache-key-hex "$K" "$TK")
t_check mac_forged_is_miss "$out" grep -q 'result=data status=secure .*cache=resolver' <<<"$out"
t_check mac_forged_not_used "$out" bash -c '! grep -qi ffffffff <<<"$1" && grep -q 0123456789abcdef <<<"$1"' _ "$out"
t_check mac_forged_counted "$out" grep -q 'redis_hits=0 .*redis_forged=1' <<<"$out"
sealed_len=$(rcli STRLEN "$RK")
t_check mac_sealed_written "plain $plain_len, sealed $sealed_len" test "$sealed_len" = $((plain_len + 36))
out=$(run --cache-key-hex "$K" "$TK")
t_check mac_sealed_hit "$out" grep -q 'redis_hits=1 .*redis_forged=0' <<<"$out"
# a gateway with another key (or a plain value where a key is expected)
out=$(run --cache-key-hex "ff${K#00}" "$TK")
t_check mac_other_key_miss "$out" grep -q 'result=data status=secure .*cache=resolver.*' <<<"$out"
t_check mac_other_key_counted "$out" grep -q 'redis_forged=1' <<<"$out"
rcli -x SET "$RK" <"$T_TMP/plain" >/dev/null
out=$(run --cache-key-hex "$K" "$TK")
t_check mac_plain_value_refused "$out" grep -q 'redis_hits=0 .*redis_forged=1' <<<"$out"

# Wrong password: Redis is useless but lookups still work.
out=$("$q" --unbound-conf "$DNS_UNBOUND_CONF" --cache redis --redis-host 127.0.0.1 \
	--redis-port "$REDIS_PORT" --redis-password wrong SRV:_smtpsec._tcp.a.test 2>&1)
t_check wrong_password_still_resolves "$out" grep -q 'result=data status=secure' <<<"$out"
t_check wrong_password_state "$out" grep -q '^redis state=down fault=auth why="AUTH refused: WRONGPASS' <<<"$out"
t_check wrong_password_counted "$out" grep -q 'redis_errors=[1-9].* redis_up=0' <<<"$out"

# Redis killed mid-run (between lookups): same results, from the resolver.
rcli FLUSHALL >/dev/null
run --pause-ms 1500 SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.b2.a.test TLSA:_4650._tcp.mx1.a.test >"$T_TMP/kill.out" &
pid=$!
sleep 0.8
redis_kill
wait "$pid"
t_check redis_killed_results_same "$(cat "$T_TMP/kill.out")" \
	test "$(grep -c 'result=data status=secure' "$T_TMP/kill.out")" = 3
# Redis down from the start: lookups work, uncached by Redis.
out=$(run SRV:_smtpsec._tcp.a.test)
t_check redis_down_resolves "$out" grep -q 'result=data status=secure .*cache=resolver' <<<"$out"
t_check redis_down_state "$out" grep -q '^redis state=down fault=unreachable why="connect: ' <<<"$out"

# A Redis that accepts connections and never answers: the handshake times
# out (fault=timeout, after 2 s), lookups go to the resolver meanwhile.
hp=$(t_free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
c = []
t = time.time()
s.settimeout(0.5)
while time.time() - t < 20:
    try: c.append(s.accept()[0])
    except socket.timeout: pass
' "$hp" &
t_track_pid $!
t_wait_port "$hp" 5
out=$("$q" --unbound-conf "$DNS_UNBOUND_CONF" --cache redis --redis-host 127.0.0.1 --redis-port "$hp" \
	--redis-password s3cret --pause-ms 2500 SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.b2.a.test 2>&1)
t_check hung_redis_timeout "$out" grep -q '^redis state=down fault=timeout why="no handshake reply within 2000 ms"' <<<"$out"
t_check hung_redis_resolves "$out" test "$(grep -c 'result=data status=secure .*cache=resolver' <<<"$out")" = 2
