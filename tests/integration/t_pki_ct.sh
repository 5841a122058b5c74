#!/bin/bash
# The run-time test PKI (lib_pki.sh) and the test CT log (smtpsec-ctlog):
#  - the CT log's output checked with openssl, independently of our verifier:
#    the re-signed certificates verify, `x509 -text` shows the SCTs we say we
#    signed, and `s_client -ct` validates their signatures;
#  - SMTPSEC.md 4 step 9 through `smtpsec-verify --ct-only` on those leaves:
#    every key type, ct_min_scts, distinct logs, a corrupted, a future, an
#    unknown-log and a retired-log SCT;
#  - steps 5-9 with real DNSSEC (NSD + libunbound): PKIX + CT with no TLSA,
#    DANE-TA (usage 2) to a private CA with CT still required, DANE-EE
#    exempt, SRVName binding, and the PKIX failures of a real expired,
#    not-yet-valid, wrong-name, RSA-1024 and SHA-1 chain (no --at needed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_pki.sh"

V=$BUILD/smtpsec-verify
# a trust anchor unrelated to the run-time PKI: DANE-TA must not need ca_file
OTHER_CA="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)/root.pem"
for b in "$V" "$CTLOG"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
pki_init || { t_fail pki_init "could not make the test PKI"; exit 1; }
t_pass pki_init

SAN="DNS:mx.rt.test"
ALGS="ed25519 ed448 p256 p384 p521"
for a in $ALGS; do
	pki_leaf "ct_$a" "$a" valid "$SAN" "log1 log2" || t_fail "leaf_$a" "pki_leaf failed"
done
pki_leaf one p256 valid "$SAN" "log1"
pki_leaf nosct ed25519 valid "$SAN" ""
pki_leaf corrupt p256 valid "$SAN" "log1 log2" sha256 --corrupt 1
pki_leaf future p256 valid "$SAN" "log1" sha256 --timestamp $(( ($(date +%s) + 3600) * 1000 ))
pki_leaf unknown p256 valid "$SAN" "log4"
pki_leaf retired p256 valid "$SAN" "log3"
pki_leaf twice p256 valid "$SAN" "log1 log1"
pki_leaf srvname ed25519 valid "DNS:unrelated.other.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.srvn.rt.test" "log2"
pki_leaf wrong p256 valid "DNS:mx.other.test" "log1"
pki_leaf expired p256 expired "$SAN" "log1"
pki_leaf notyet p256 notyet "$SAN" "log1"
pki_leaf weak rsa1024 valid "$SAN" "log1"
pki_leaf rsa rsa2048 valid "$SAN" "log1"
pki_leaf sha1 p256 valid "$SAN" "" sha1

# --- the CT log's output, checked by openssl --------------------------------
for a in $ALGS; do
	out=$(openssl verify -CAfile "$PKI/root.pem" -untrusted "$PKI/inter.pem" "$PKI/ct_$a.pem" 2>&1)
	t_check "ca_resigned_$a" "$out" grep -q ': OK$' <<<"$out"
done
# the log ids and timestamps openssl reads from the certificate are the ones signed
text=$(openssl x509 -in "$PKI/ct_p256.pem" -noout -text)
ids=$(awk '/Log ID/{f=1} f{print} /Timestamp/{f=0}' <<<"$text" | grep -v Timestamp |
	sed 's/.*Log ID *://' | tr -d ' :\n' | tr 'A-F' 'a-f')
want=$(sed -n 's/.*log_id=\([0-9a-f]*\).*/\1/p' "$PKI/ct_p256.sct" | tr -d '\n')
t_check openssl_text_log_ids "openssl: $ids, ctlog: $want" test -n "$want" -a "$ids" = "$want"
ts=$(grep -m1 'Timestamp :' <<<"$text" | sed 's/.*Timestamp : //; s/ GMT//')
ms=$(sed -E 's/.*:[0-9]{2}\.([0-9]{3}) .*/\1/' <<<"$ts")
secs=$(date -u -d "$(sed -E 's/\.[0-9]{3}//' <<<"$ts")" +%s 2>/dev/null)
want=$(sed -n '1s/.*timestamp=\([0-9]*\).*/\1/p' "$PKI/ct_p256.sct")
t_check openssl_text_timestamp "openssl: $ts, ctlog: $want" test "$((secs * 1000 + 10#$ms))" = "$want"
t_check openssl_text_two_scts "$(grep -c 'Signed Certificate Timestamp' <<<"$text")" \
	test "$(grep -c 'Signed Certificate Timestamp:' <<<"$text")" = 2
t_check openssl_asn1_noncritical "the SCT list extension must not be critical" \
	bash -c '! grep -q "CT Precertificate SCTs: critical" <<<"$1"' _ "$text"
t_check precert_poison_gone "poison still present" bash -c '! grep -q "CT Precertificate Poison" <<<"$1"' _ "$text"

# OpenSSL's own CT validation of our SCT signatures, over a TLS handshake
sct_status() {	# LEAF -> the "SCT validation status" lines s_client prints
	local port pid out
	port=$(t_free_port)
	openssl s_server -accept "127.0.0.1:$port" -cert "$PKI/$1.pem" -key "$PKI/$1.key" \
		-cert_chain "$PKI/inter.pem" -naccept 2 -quiet >/dev/null 2>&1 </dev/null &
	pid=$!
	t_track_pid "$pid"
	t_wait_port "$port" 5 || { echo "s_server did not start"; return; }
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/root.pem" -ct \
		-ctlogfile "$PKI/ctlogs.cnf" </dev/null 2>&1)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -a 'SCT validation status' <<<"$out"	# -a: s_client output can carry binary bytes
}
st=$(sct_status ct_ed25519)
t_check openssl_ct_validates "$st" test "$(grep -c 'status: valid' <<<"$st")" = 2
st=$(sct_status corrupt)
t_check openssl_ct_sees_corruption "$st" bash -c '[ "$(grep -c "status: invalid" <<<"$1")" = 1 ] && [ "$(grep -c "status: valid" <<<"$1")" = 1 ]' _ "$st"

# --- step 9 alone: smtpsec-verify --ct-only ---------------------------------
conf() {	# MIN -> config file path (a gateway config: [tls] and [dns] are required)
	printf '[tls]\ncertificate = %s\nkey = %s\n[dns]\nunbound_conf = %s\n[verify]\nct_log_list = %s\nct_min_scts = %s\n' \
		"$PKI/root.pem" "$PKI/root.key" "${DNS_UNBOUND_CONF:-/nonexistent}" "$PKI/log_list.json" "$1" >"$T_TMP/ct$1.conf"
	echo "$T_TMP/ct$1.conf"
}
C1=$(conf 1)
C2=$(conf 2)
# ct NAME WANT_RC REGEX CONF LEAF
ct() { t_expect "$1" "$2" "$3" "$V" -c "$4" --ct-only --chain "$PKI/$5.chain"; }
for a in $ALGS; do
	ct "ct_only_$a" 0 'step 9 ct: pass: 2 valid SCT' "$C2" "ct_$a"
done
ct ct_rsa2048_leaf 0 'step 9 ct: pass' "$C1" rsa
ct ct_min2_one_log 1 'step 9 ct: fail: 1 valid SCT.*2 required' "$C2" one
ct ct_min1_one_log 0 'step 9 ct: pass: 1 valid SCT' "$C1" one
ct ct_no_scts 1 'step 9 ct: fail' "$C1" nosct
ct ct_corrupt_counts_other 0 'sct 1: log="Test log 1".*verdict=signature does not verify' "$C1" corrupt
ct ct_corrupt_min2 1 'step 9 ct: fail: 1 valid SCT' "$C2" corrupt
ct ct_future_timestamp 1 'verdict=.*future' "$C1" future
ct ct_unknown_log 1 'verdict=unknown log' "$C1" unknown
ct ct_retired_log 1 'log="Test log 3 \(retired\)".*verdict=.*retired' "$C1" retired
ct ct_same_log_twice 1 'step 9 ct: fail: 1 valid SCT.*2 required' "$C2" twice

# --- steps 5-9 with real DNSSEC ----------------------------------------------
INTER=$(pki_spki256 "$PKI/inter.pem")
EE=$(pki_spki256 "$PKI/nosct.pem")
dns_init
dns_zone rt.test signed
srv() { dns_rr rt.test "_smtpsec._tcp.$1.rt.test. 300 IN SRV 10 0 $2 $3."; }
srv pkix 40 mx.rt.test		# no TLSA: PKIX + CT
srv ta 41 mx.rt.test		# DANE-TA to the run-time intermediate: CT required
srv ee 42 mx.rt.test		# DANE-EE: CT exempt
srv srvn 40 mx.rt.test
srv wrong 40 mx.rt.test
dns_rr rt.test "_41._tcp.mx.rt.test. 300 IN TLSA 2 1 1 $INTER"
dns_rr rt.test "_42._tcp.mx.rt.test. 300 IN TLSA 3 1 1 $EE"
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
C1=$(conf 1)

# full NAME WANT_RC REGEX LEAF DOMAIN [CA-FILE]
full() {
	t_expect "$1" "$2" "$3" "$V" -c "$C1" --unbound-conf "$DNS_UNBOUND_CONF" \
		--ca-file "${6:-$PKI/root.pem}" --chain "$PKI/$4.chain" --domain "$5"
}
for a in $ALGS; do
	full "pkix_ct_pass_$a" 0 'result: pass at step ct: .*smtp.cert=pkix' "ct_$a" pkix.rt.test
done
full pkix_no_sct_fails 1 'result: fail at step ct' nosct pkix.rt.test
full pkix_ct_untrusted_root 1 'result: fail at step pkix' ct_p256 pkix.rt.test /work/shared/ct-fixtures/extra_digicert_reddit_2026_issuer.pem
full dane_ta_private_ca_ct_pass 0 'result: pass at step ct: .*smtp.cert=dane-ta' ct_p384 ta.rt.test "$OTHER_CA"
full dane_ta_private_ca_no_sct 1 'result: fail at step ct' nosct ta.rt.test "$OTHER_CA"
full dane_ee_no_sct_exempt 0 'result: pass at step dane: .*smtp.cert=dane-ee' nosct ee.rt.test
full srvname_binding 0 'name matched: _smtpsec.srvn.rt.test' srvname srvn.rt.test
full wrong_name 1 'result: fail at step name' wrong wrong.rt.test
full expired_now 1 'result: fail at step pkix: certificate expired' expired pkix.rt.test
full not_yet_valid_now 1 'result: fail at step pkix: certificate not yet valid' notyet pkix.rt.test
full weak_rsa1024 1 'result: fail at step pkix: RSA key under 2048' weak pkix.rt.test
full sha1_chain 1 'result: fail at step pkix: MD5 or SHA-1' sha1 pkix.rt.test
full rsa2048_pass 0 'result: pass at step ct' rsa pkix.rt.test
dns_stop
