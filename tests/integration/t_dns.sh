#!/bin/bash
# DNS layer (verify/vfy_dns.c) against a real NSD serving DNSSEC-signed
# zones, through libunbound with a test trust anchor: secure, insecure,
# bogus, NXDOMAIN/NODATA, timeouts, TLSA, and the in-process cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"

q="$BUILD/smtpsec-dnsq"

dns_init
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 20 0 4650 mx3.a.test."
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 60 4650 mx1.a.test."
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 40 4651 MX2.a.test."
dns_rr a.test "_4650._tcp.mx1.a.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
dns_rr a.test "mx1.a.test. 300 IN A 127.0.0.1"
dns_rr a.test "short.a.test. 2 IN A 127.0.0.1"
dns_rr a.test "_smtpsec._tcp.short.a.test. 2 IN SRV 10 10 4650 mx1.a.test."
dns_zone none.test signed
dns_rr none.test "_smtpsec._tcp.none.test. 300 IN SRV 0 0 0 ."
dns_zone plain.test unsigned
dns_rr plain.test "_smtpsec._tcp.plain.test. 300 IN SRV 10 10 4650 mx.plain.test."
dns_rr plain.test "_4650._tcp.mx.plain.test. 300 IN TLSA 3 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
dns_zone broken.test bogus
dns_rr broken.test "_smtpsec._tcp.broken.test. 300 IN SRV 10 10 4650 mx.broken.test."
dns_rr broken.test "_4650._tcp.mx.broken.test. 300 IN TLSA 3 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
dns_dead_zone dead.test
if ! dns_start; then
	t_fail nsd_start "NSD did not start"
	exit 1
fi

run() { "$q" --unbound-conf "$DNS_UNBOUND_CONF" --timeout-ms "${TMO:-3000}" "$@" 2>&1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

out=$(run SRV:_smtpsec._tcp.a.test)
echo "$out" | head -1 | sed 's/^/# /'
t_check srv_secure "$out" grep -q 'result=data status=secure' <<<"$out"
srv=$(echo "$out" | head -1 | field srv)
first2=$(echo "$srv" | cut -d';' -f1-2 | tr ';' '\n' | cut -d, -f4 | sort | tr '\n' ' ')
t_check srv_priority_order "order was $srv" test "$first2" = "mx1.a.test mx2.a.test " -a "$(echo "$srv" | cut -d';' -f3)" = "20,0,4650,mx3.a.test"
t_check srv_target_lowercase "$srv" grep -q 'mx2.a.test' <<<"$srv"

out=$(run SRV:_smtpsec._tcp.nx.a.test)
t_check nxdomain_secure "$out" grep -q 'result=nxdomain status=secure' <<<"$out"
ttl=$(echo "$out" | head -1 | field ttl)
t_check nxdomain_ttl_from_soa "ttl $ttl" test "$ttl" -le 60 -a "$ttl" -gt 0

out=$(run SRV:mx1.a.test)
t_check nodata_secure "$out" grep -q 'result=nodata status=secure' <<<"$out"

out=$(run SRV:_smtpsec._tcp.none.test)
t_check srv_dot_target "$out" grep -q 'srv=0,0,0,\. ' <<<"$out"

out=$(run SRV:_smtpsec._tcp.plain.test TLSA:_4650._tcp.mx.plain.test)
t_check srv_insecure "$out" grep -q 'qname=_smtpsec._tcp.plain.test type=SRV result=data status=insecure' <<<"$out"
t_check tlsa_insecure "$out" grep -q 'type=TLSA result=data status=insecure' <<<"$out"

out=$(run SRV:_smtpsec._tcp.broken.test TLSA:_4650._tcp.mx.broken.test)
t_check srv_bogus_tempfail "$out" grep -q 'type=SRV result=tempfail status=bogus .*why="bogus: ' <<<"$out"
t_check tlsa_bogus_tempfail "$out" grep -q 'type=TLSA result=tempfail status=bogus' <<<"$out"

out=$(run TLSA:_4650._tcp.mx1.a.test TLSA:_25._tcp.mx1.a.test)
t_check tlsa_secure "$out" grep -q 'type=TLSA result=data status=secure .*tlsa=3,1,1,0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' <<<"$out"
t_check tlsa_absent "$out" grep -q 'qname=_25._tcp.mx1.a.test type=TLSA result=nxdomain status=secure' <<<"$out"

# A server that never answers: temporary failure within our own timeout.
start=$(date +%s%N)
out=$(TMO=1000 run SRV:_smtpsec._tcp.dead.test)
el=$(( ($(date +%s%N) - start) / 1000000 ))
t_check dead_server_tempfail "$out" grep -q 'result=tempfail .*why="timeout"' <<<"$out"
t_check dead_server_bounded "took ${el} ms" test "$el" -lt 3000

# Cache: the second lookup within the TTL is answered from memory and NSD
# sees no new query.
before=$(dns_query_count)
out=$(run SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.a.test)
after=$(dns_query_count)
second=$(echo "$out" | sed -n 2p)
t_check cache_hit "$second" grep -q 'cache=memory' <<<"$second"
t_check cache_resolver_once "$out" grep -q 'stats lookups=2 resolver_queries=1 mem_hits=1' <<<"$out"
out=$(run SRV:_smtpsec._tcp.a.test)
mid=$(dns_query_count)
out=$(run SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.a.test)
end=$(dns_query_count)
t_check cache_spares_nsd "NSD queries went $mid -> $end for 3 lookups (one resolver pass: $((after - before)))" \
	test $((end - mid)) -le $((after - before))

# Expiry: a 2-second TTL is honoured.
out=$(run --pause-ms 3000 SRV:_smtpsec._tcp.short.a.test SRV:_smtpsec._tcp.short.a.test)
t_check ttl_expiry "$out" grep -q 'stats lookups=2 resolver_queries=2 mem_hits=0' <<<"$out"
# The cap: cache_max_ttl 1 s cuts a 300 s TTL.
out=$(run --max-ttl 1 --pause-ms 1500 SRV:_smtpsec._tcp.a.test SRV:_smtpsec._tcp.a.test)
t_check max_ttl_cap "$out" grep -q 'stats lookups=2 resolver_queries=2' <<<"$out"
# Temporary failures are not cached.
out=$(TMO=500 run SRV:_smtpsec._tcp.dead.test SRV:_smtpsec._tcp.dead.test)
t_check tempfail_not_cached "$out" grep -q 'stats lookups=2 resolver_queries=2' <<<"$out"

# No trust anchor and no unbound_conf: refuse to start.
out=$("$q" --trust-anchor /nonexistent SRV:x.test 2>&1)
rc=$?
t_check refuses_without_dnssec "rc=$rc $out" test $rc -eq 1 -a -n "$(grep -Ei 'without DNSSEC|not a usable trust anchor' <<<"$out")"

# NSD down: temporary failure, never "no record"; back up: data again.
dns_stop
out=$(TMO=1500 run SRV:_smtpsec._tcp.a.test)
t_check nsd_down_tempfail "$out" grep -q 'result=tempfail' <<<"$out"
dns_restart
out=$(run SRV:_smtpsec._tcp.a.test)
t_check nsd_back "$out" grep -q 'result=data status=secure' <<<"$out"
