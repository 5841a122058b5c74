#!/bin/bash
# End to end with every verification step of SMTPSEC.md 4 for real: NSD
# serving DNSSEC-signed, unsigned and bogus zones, libunbound in the gateway,
# the test PKI of tests/unit/verify/data, Dovecot LMTP.  Each case checks the
# reply on the wire and the maildir.
#
# Step 9 (CT) for real: the static leaf (tests/unit/verify/data) has no
# SCTs, so every case with it that needs CT is "missing SCT"; the run-time
# PKI of lib_pki.sh gives leaves of every key type with SCTs from the test
# CT log, which must be ACCEPTED on the PKIX + CT and DANE-TA + CT paths.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_pki.sh"
. "$(dirname "$0")/lib_vgw.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
D="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)"
val() { sed -n "s/^$1 //p" "$D/tlsa.txt"; }
spki256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
LEAF=$(val leaf_spki_sha256)
INTER=$(val inter_spki_sha256)
BOG=$(spki256 "$D/bog.pem")
JUNK=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
MX=mx1.example.test

P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool"
pki_init || { t_fail pki_init "could not make the run-time PKI"; exit 1; }
for a in ed25519 ed448 p256 p384 p521; do
	pki_leaf "ct_$a" "$a" valid "DNS:mx.rt.test" "log1 log2" || t_fail "pki_leaf_$a" "pki_leaf failed"
done
pki_leaf rt_nosct p256 valid "DNS:mx.rt.test" ""
pki_leaf rt_corrupt p256 valid "DNS:mx.rt.test" "log1" sha256 --corrupt 1
# both test PKIs are trusted: the static one and the run-time one
cat "$(cd "$(dirname "$0")/../unit/verify/data" && pwd)/root.pem" "$PKI/root.pem" >"$P/ca_bundle.pem"
chmod 777 "$T_TMP/spool"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/gw.key" 2>/dev/null
openssl req -x509 -new -key "$P/gw.key" -subj "/CN=gw.dest.test" -addext subjectAltName=DNS:gw.dest.test -days 30 -out "$P/gw.pem" 2>/dev/null
cat "$D/leaf.pem" "$D/inter.pem" >"$P/chain.pem"
cat "$D/bog.pem" "$D/inter.pem" >"$P/bog.chain"

PORT=$(t_free_port)
# the records an operator publishes for this gateway, as --print-dns gives them
printf '[server]\nlisten = 127.0.0.1:%s\nhostname = gw.dest.test\n[tls]\ncertificate = %s\nkey = %s\n[lmtp]\ntarget = unix:/nonexistent\n' \
	"$PORT" "$P/gw.pem" "$P/gw.key" >"$T_TMP/print.conf"
"$GW" -c "$T_TMP/print.conf" --print-dns dest.test >"$T_TMP/publish" 2>&1

dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.$MX. 300 IN TLSA 3 1 1 $LEAF"
dns_rr example.test "_26._tcp.$MX. 300 IN TLSA 2 1 1 $INTER"
dns_rr example.test "_28._tcp.$MX. 300 IN TLSA 3 1 1 $JUNK"
dns_rr example.test "_31._tcp.$MX. 300 IN TLSA 1 1 1 $LEAF"
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 0 29 a.example.test."
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 20 0 30 b.example.test."
dns_rr example.test "_29._tcp.a.example.test. 300 IN TLSA 3 1 1 $JUNK"
dns_rr example.test "_30._tcp.b.example.test. 300 IN TLSA 3 1 1 $LEAF"
for z in a b c d f g j k; do
	dns_zone $z.test signed
done
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 $MX."
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 0 26 $MX."
dns_rr c.test "_smtpsec._tcp.c.test. 300 IN SRV 10 0 27 $MX."
dns_rr d.test "_smtpsec._tcp.d.test. 300 IN SRV 10 0 28 $MX."
dns_rr f.test "_smtpsec._tcp.f.test. 300 IN SRV 10 0 25 mx.f.test."
dns_rr g.test "_smtpsec._tcp.g.test. 300 IN SRV 10 0 31 $MX."
dns_rr j.test "_smtpsec._tcp.j.test. 300 IN SRV 10 0 25 mx.bog.test."
dns_rr k.test "_smtpsec._tcp.k.test. 300 IN SRV 10 0 25 $MX."
dns_zone bog.test bogus
dns_rr bog.test "_25._tcp.mx.bog.test. 300 IN TLSA 3 1 1 $BOG"
dns_zone dest.test signed
while read -r owner rest; do dns_rr dest.test "$owner 300 $rest"; done <"$T_TMP/publish"
dns_zone ins.test unsigned
dns_rr ins.test "_smtpsec._tcp.ins.test. 300 IN SRV 10 0 25 $MX."
dns_zone rt.test signed
dns_rr rt.test "_smtpsec._tcp.pkix.rt.test. 300 IN SRV 10 0 40 mx.rt.test."
dns_rr rt.test "_smtpsec._tcp.ta.rt.test. 300 IN SRV 10 0 41 mx.rt.test."
dns_rr rt.test "_41._tcp.mx.rt.test. 300 IN TLSA 2 1 1 $(pki_spki256 "$PKI/inter.pem")"
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
dovecot_start bob@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }

mkconf() {	# CA-FILE
	vgw_conf gw.dest.test "$P/gw.pem" "$P/gw.key" "$1" "$T_TMP/live_log_list.json" gw.b.test
}
cp "$PKI/log_list.json" "$T_TMP/live_log_list.json"
mkconf "$P/ca_bundle.pem"
gw_start || { t_fail gateway_start "no listener; $(tail -3 "$T_TMP/gw.log")"; exit 1; }

# case NAME DOMAIN WANT-REPLY WANT-STORED [key chain]
case_() {
	local name=$1 dom=$2 want=$3 stored=$4 key=${5:-$D/leaf.key} chain=${6:-$P/chain.pem}
	local before after out
	printf 'From: Alice <alice@%s>\r\nTo: bob@b.test\r\nSubject: %s\r\nMessage-ID: <%s@%s>\r\n\r\nBody of %s.\r\n' \
		"$dom" "$name" "$name" "$dom" "$name" >"$T_TMP/m.$name"
	before=$(dovecot_mail_count bob@b.test)
	out=$("$SEND" --connect 127.0.0.1:$PORT --cafile "$P/gw.pem" --servername gw.dest.test --key "$key" \
		--chain "$chain" --rcpt bob@b.test --message "$T_TMP/m.$name" --max-seconds 20 2>&1)
	after=$(dovecot_mail_count bob@b.test)
	if ! grep -q "reply n=1 $want" <<<"$out"; then
		t_fail "$name" "want '$want': $(grep -E 'reply|fail' <<<"$out" | tr '\n' ' ') $(grep "event=email" "$T_TMP/gw.log" | tail -1 | sed 's/.*step=/step=/')"
	elif [ $((after - before)) != "$stored" ]; then
		t_fail "$name" "stored $((after - before)), want $stored"
	else
		t_pass "$name"
	fi
}

case_ dane_ee_delivered a.test email_delivered 1
f=$(dovecot_mail_files bob@b.test | tail -1)
t_check dane_ee_auth_results "$(head -c 400 "$f")" grep -q "smtp.cert=dane-ee" "$f"
t_check dane_ee_received_target "$(head -c 400 "$f")" grep -q "^Received: from $MX " "$f"
t_check dane_ee_exact "body differs" bash -c 'tail -c "$(stat -c %s "$1")" "$2" | cmp -s - "$1"' _ "$T_TMP/m.dane_ee_delivered" "$f"
case_ srvname_second_target example.test email_delivered 1
case_ pkix_ee_usage1_delivered g.test email_delivered 1
case_ no_srv nx.a.test error=authentication_failed 0
case_ insecure_srv ins.test error=authentication_failed 0
case_ name_mismatch f.test error=authentication_failed 0
case_ tlsa_mismatch d.test error=authentication_failed 0
case_ missing_sct_pkix c.test error=authentication_failed 0
case_ missing_sct_dane_ta b.test error=authentication_failed 0
case_ bogus_tlsa j.test error=service_unavailable 0 "$D/bog.key" "$P/bog.chain"
# PKIX + CT (no TLSA) and DANE-TA + CT: accepted, with every key type
for a in ed25519 ed448 p256 p384 p521; do
	case_ "pkix_ct_delivered_$a" pkix.rt.test email_delivered 1 "$PKI/ct_$a.key" "$PKI/ct_$a.chain"
done
f=$(dovecot_mail_files bob@b.test | tail -1)
t_check pkix_ct_auth_results "$(head -c 400 "$f")" grep -q "smtp.cert=pkix" "$f"
case_ dane_ta_ct_delivered ta.rt.test email_delivered 1 "$PKI/ct_p384.key" "$PKI/ct_p384.chain"
f=$(dovecot_mail_files bob@b.test | tail -1)
t_check dane_ta_ct_auth_results "$(head -c 400 "$f")" grep -q "smtp.cert=dane-ta" "$f"
case_ pkix_rt_no_sct pkix.rt.test error=authentication_failed 0 "$PKI/rt_nosct.key" "$PKI/rt_nosct.chain"
case_ dane_ta_rt_no_sct ta.rt.test error=authentication_failed 0 "$PKI/rt_nosct.key" "$PKI/rt_nosct.chain"
case_ pkix_corrupt_sct pkix.rt.test error=authentication_failed 0 "$PKI/rt_corrupt.key" "$PKI/rt_corrupt.chain"
t_check ct_fail_step_logged "no ct step in the log" grep -Eq 'from_domain=pkix.rt.test .*verdict=fail step=ct' "$T_TMP/gw.log"
t_check summary_logged "no summary" grep -Eq 'event=email n=1 from_domain=a.test rcpts=1 size=[0-9]+ verdict=pass step=- trust=dane-ee delivery=delivered reply=email_delivered' "$T_TMP/gw.log"
t_check fail_step_logged "no step in the log" grep -Eq 'from_domain=d.test .*verdict=fail step=dane' "$T_TMP/gw.log"

# the sender side (SMTPSEC.md 10): DNSSEC SRV, then DANE-EE on the gateway's certificate
t_check print_dns_two_records "$(cat "$T_TMP/publish")" test "$(grep -c ' IN SRV \| IN TLSA 3 1 1 ' "$T_TMP/publish")" = 2
printf 'From: alice@a.test\r\nTo: bob@dest.test\r\nSubject: discovered\r\n\r\nvia SRV.\r\n' >"$T_TMP/m.disc"
before=$(dovecot_mail_count bob@b.test)
out=$("$SEND" --to-domain dest.test --unbound-conf "$DNS_UNBOUND_CONF" --resolve "gw.dest.test:$PORT:127.0.0.1" \
	--key "$D/leaf.key" --chain "$P/chain.pem" --rcpt bob@b.test --message "$T_TMP/m.disc" 2>&1)
t_check discovery_dane_ee "$out" bash -c '[[ "$1" == *"server target=gw.dest.test port='"$PORT"' trust=dane-ee"* && "$1" == *"reply n=1 email_delivered"* ]]' _ "$out"
t_check discovery_stored "count" test "$(dovecot_mail_count bob@b.test)" = $((before + 1))
out=$("$SEND" --to-domain ins.test --unbound-conf "$DNS_UNBOUND_CONF" --key "$D/leaf.key" --chain "$P/chain.pem" \
	--rcpt bob@ins.test --message "$T_TMP/m.disc" 2>&1)
rc=$?
t_check discovery_not_smtpsec "rc $rc: $out" bash -c '[ "$1" = 2 ] && [[ "$2" == *"does not speak SMTPsec"* ]]' _ "$rc" "$out"
out=$("$SEND" --to-domain f.test --unbound-conf "$DNS_UNBOUND_CONF" --resolve "mx.f.test:25:127.0.0.1" --key "$D/leaf.key" \
	--chain "$P/chain.pem" --rcpt bob@f.test --message "$T_TMP/m.disc" 2>&1)
rc=$?
t_check discovery_target_down_aborts "rc $rc: $out" bash -c '[ "$1" = 2 ] && [[ "$2" == *"no SRV target"* ]]' _ "$rc" "$out"

# SIGHUP re-reads ct_log_list (and drops cached verdicts); a broken new list
# keeps the previous one
hup_wait() {	# WANT-LOG-REGEX
	local before n
	before=$(grep -cE "$1" "$T_TMP/gw.log")
	kill -HUP "$GW_PID"
	for n in $(seq 50); do
		[ "$(grep -cE "$1" "$T_TMP/gw.log")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
echo '{"operators": [' >"$T_TMP/live_log_list.json"
t_check ct_reload_broken_logged "no reload failure logged" hup_wait 'event=reload result=fail why="ct_log_list: .*kept=previous list'
case_ ct_reload_broken_keeps_previous pkix.rt.test email_delivered 1 "$PKI/ct_p521.key" "$PKI/ct_p521.chain"
cp /work/shared/ct-fixtures/loglist_real.json "$T_TMP/live_log_list.json"
t_check ct_reload_logged "no reload logged" hup_wait 'event=reload ct_log_list=.* logs=[1-9]'
case_ ct_reload_test_logs_gone pkix.rt.test error=authentication_failed 0 "$PKI/ct_p521.key" "$PKI/ct_p521.chain"
cp "$PKI/log_list.json" "$T_TMP/live_log_list.json"
hup_wait 'event=reload ct_log_list=.* logs=3$'
case_ ct_reload_test_logs_back pkix.rt.test email_delivered 1 "$PKI/ct_p521.key" "$PKI/ct_p521.chain"

# untrusted CA: the same chain with another trust store
gw_stop
mkconf /work/shared/ct-fixtures/extra_digicert_reddit_2026_issuer.pem
[ -f /work/shared/ct-fixtures/extra_digicert_reddit_2026_issuer.pem ] || mkconf "$P/gw.pem"
gw_start || { t_fail gateway_restart "no listener"; exit 1; }
case_ untrusted_ca g.test error=authentication_failed 0
t_check untrusted_ca_step "no pkix failure logged" grep -Eq 'from_domain=g.test .*verdict=fail step=pkix' "$T_TMP/gw.log"

# DNS down: temporary failure, nothing delivered
dns_stop
case_ dns_down_unavailable k.test error=service_unavailable 0
gw_stop
exit 0
