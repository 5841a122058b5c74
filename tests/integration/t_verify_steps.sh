#!/bin/bash
# smtpsec-verify against real DNSSEC-signed zones on NSD (steps 5-9 of
# SMTPSEC.md 4 through libunbound): DANE-EE, DANE-TA, PKIX, SRVName with
# two targets, insecure SRV, bogus TLSA, name and PKIX failures, and a
# signed message (steps 3-4, decided before any resolver set-up).
# Certificates: tests/unit/verify/data (gen.sh); their leaves carry no SCTs,
# so wherever CT is required step 9 fails, and that is what is checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"

D="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)"
V="$BUILD/smtpsec-verify"
val() { sed -n "s/^$1 //p" "$D/tlsa.txt"; }
spki256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

LEAF=$(val leaf_spki_sha256)
INTER=$(val inter_spki_sha256)
WEAK=$(spki256 "$D/weak.pem")
SHA1=$(spki256 "$D/sha1.pem")
BOG=$(spki256 "$D/bog.pem")
JUNK=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
MX=mx1.example.test

dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.$MX. 300 IN TLSA 3 1 1 $LEAF"
dns_rr example.test "_26._tcp.$MX. 300 IN TLSA 2 1 1 $INTER"
dns_rr example.test "_28._tcp.$MX. 300 IN TLSA 3 1 1 $JUNK"
dns_rr example.test "_31._tcp.$MX. 300 IN TLSA 1 1 1 $LEAF"
dns_rr example.test "_32._tcp.$MX. 300 IN TLSA 1 1 1 $WEAK"
dns_rr example.test "_33._tcp.$MX. 300 IN TLSA 1 1 1 $SHA1"
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 0 29 a.example.test."
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 20 0 30 b.example.test."
dns_rr example.test "_29._tcp.a.example.test. 300 IN TLSA 3 1 1 $JUNK"
dns_rr example.test "_30._tcp.b.example.test. 300 IN TLSA 3 1 1 $LEAF"
for z in a b c d f g h i j; do
	dns_zone $z.test signed
done
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 $MX."
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 0 26 $MX."
dns_rr c.test "_smtpsec._tcp.c.test. 300 IN SRV 10 0 27 $MX."
dns_rr d.test "_smtpsec._tcp.d.test. 300 IN SRV 10 0 28 $MX."
dns_rr f.test "_smtpsec._tcp.f.test. 300 IN SRV 10 0 25 mx.f.test."
dns_rr g.test "_smtpsec._tcp.g.test. 300 IN SRV 10 0 31 $MX."
dns_rr h.test "_smtpsec._tcp.h.test. 300 IN SRV 10 0 32 $MX."
dns_rr i.test "_smtpsec._tcp.i.test. 300 IN SRV 10 0 33 $MX."
dns_rr j.test "_smtpsec._tcp.j.test. 300 IN SRV 10 0 25 mx.bog.test."
dns_zone bog.test bogus
dns_rr bog.test "_25._tcp.mx.bog.test. 300 IN TLSA 3 1 1 $BOG"
dns_zone ins.test unsigned
dns_rr ins.test "_smtpsec._tcp.ins.test. 300 IN SRV 10 0 25 $MX."
if ! dns_start; then
	t_fail nsd_start "NSD did not start"
	exit 1
fi

# run NAME WANT_RC GREP_RE [smtpsec-verify args...]
run() {
	local name=$1 want=$2 re=$3
	shift 3
	t_expect "$name" "$want" "$re" "$V" --unbound-conf "$DNS_UNBOUND_CONF" --ca-file "$D/root.pem" "$@"
}

cat "$D/leaf.pem" "$D/inter.pem" >"$T_TMP/chain.pem"
C="--chain $T_TMP/chain.pem"

run dane_ee_ct_exempt 0 'result: pass at step dane: .*smtp.cert=dane-ee' $C --domain a.test
run dane_ee_shows_dns 0 'dns:   TLSA 3 1 1 '"$LEAF" $C --domain a.test
# with a log list, a leaf without SCTs is the sender's fault (permanent)
CTL="--ct-log-list $SHARED/ct-fixtures/loglist_testlog.json"
run dane_ta_ct_required 1 'result: fail at step ct' $C $CTL --domain b.test
run no_tlsa_pkix_then_ct 1 'result: fail at step ct' $C $CTL --domain c.test
# without one, step 9 cannot run here: ours, temporary (exit 75), never a fail
run no_ct_list_is_local_tempfail 75 'result: tempfail at step ct: .*(local)' $C --domain c.test
run tlsa_mismatch 1 'result: fail at step dane: no TLSA record matches' $C --domain d.test
run srvname_second_target 0 'target: b.example.test port 30, name matched: _smtpsec.example.test' $C --domain example.test
run srv_insecure 1 'result: fail at step srv-insecure' $C --domain ins.test
run srv_nxdomain 1 'result: fail at step srv: no SRV record' $C --domain nx.a.test
run wrong_name 1 'result: fail at step name' $C --domain f.test
run pkix_ee_pass 0 'result: pass at step pkix: .*smtp.cert=pkix-ee' $C --domain g.test
run expired 1 'result: fail at step pkix: certificate expired' $C --domain g.test --at 2090-01-01T00:00:00Z
run not_yet_valid 1 'result: fail at step pkix: certificate not yet valid' $C --domain g.test --at 946684800
run untrusted_ca 1 'result: fail at step pkix: no trust anchor' $C --domain g.test --ca-file /work/shared/ct-fixtures/extra_digicert_reddit_2026_issuer.pem
cat "$D/weak.pem" "$D/inter.pem" >"$T_TMP/weak.pem"
run weak_rsa 1 'result: fail at step pkix: RSA key under 2048' --chain "$T_TMP/weak.pem" --domain h.test
cat "$D/sha1.pem" "$D/inter.pem" >"$T_TMP/sha1.pem"
run sha1_signature 1 'result: fail at step pkix: MD5 or SHA-1' --chain "$T_TMP/sha1.pem" --domain i.test
cat "$D/bog.pem" "$D/inter.pem" >"$T_TMP/bog.pem"
run bogus_tlsa_tempfail 75 'result: tempfail at step dane' --chain "$T_TMP/bog.pem" --domain j.test

# steps 3-4: a message signed with the leaf's Ed25519 key
printf 'From: Alice <alice@A.test>\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nbody\r\n' >"$T_TMP/msg"
openssl pkeyutl -sign -inkey "$D/leaf.key" -rawin -in "$T_TMP/msg" -out "$T_TMP/sig" 2>/dev/null
SIG=$(xxd -p "$T_TMP/sig" | tr -d '\n')
run message_pass 0 'step 4 from: pass: alice@a.test \(F = a.test\)' $C --message "$T_TMP/msg" --signature "$SIG" --algorithm ed25519 2>/dev/null
run message_wrong_alg 1 'step 3 signature: fail: signature algorithm does not match' $C --message "$T_TMP/msg" --signature "$SIG" --algorithm ecdsa_secp256r1_sha256
BAD=$(printf '%s' "$SIG" | sed 's/^./f/;s/^ff/0f/')
run message_bad_sig 1 'step 3 signature: fail' $C --message "$T_TMP/msg" --signature "$BAD" --algorithm ed25519
run message_domain_differs 1 'differs from the From domain' $C --message "$T_TMP/msg" --signature "$SIG" --algorithm ed25519 --domain c.test
# steps 3-4 are decided and printed before the resolver and the CA file are
# set up: a bad signature is the verdict (1) whatever the rest of the
# configuration, never 69 or 78
t_expect message_bad_sig_no_config 1 '^step 3 signature: fail' "$V" $C --message "$T_TMP/msg" --signature "$BAD" --algorithm ed25519
run message_bad_sig_broken_ca_file 1 '^step 3 signature: fail' $C --message "$T_TMP/msg" --signature "$BAD" --algorithm ed25519 --ca-file "$T_TMP/no-such-ca.pem"
run message_bad_sig_broken_trust_anchor 1 '^step 3 signature: fail' $C --message "$T_TMP/msg" --signature "$BAD" --algorithm ed25519 --trust-anchor "$T_TMP/no-such.key"
run message_bad_sig_broken_unbound_conf 1 '^step 3 signature: fail' $C --message "$T_TMP/msg" --signature "$BAD" --algorithm ed25519 --unbound-conf "$T_TMP/no-such-unbound.conf"
# a --domain that is not the From domain is refused before any lookup: the
# resolver here sends every query to a port nothing answers on, so a lookup
# would print a dns: line (a timeout) before the verdict
DEAD=$(t_free_port)
printf 'server:\n  do-not-query-localhost: no\n  do-ip6: no\nstub-zone:\n  name: "."\n  stub-addr: 127.0.0.1@%s\n' "$DEAD" >"$T_TMP/dead.conf"
out=$("$V" $C --unbound-conf "$T_TMP/dead.conf" --ca-file "$D/root.pem" --message "$T_TMP/msg" --signature "$SIG" --algorithm ed25519 --domain c.test 2>&1)
rc=$?
if [ "$rc" != 1 ] || ! grep -q 'differs from the From domain' <<<"$out"; then
	t_fail message_domain_differs_no_lookup "exit $rc: $(tr '\n' ' ' <<<"$out")"
elif grep -qE '^dns|^result' <<<"$out"; then
	t_fail message_domain_differs_no_lookup "a lookup was made: $(tr '\n' ' ' <<<"$out")"
else
	t_pass message_domain_differs_no_lookup
fi
run usage_no_chain 64 'usage' --domain a.test
run usage_bad_time 64 'bad --at' $C --domain a.test --at yesterday
