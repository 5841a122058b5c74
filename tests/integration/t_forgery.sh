#!/bin/bash
# Forgery paths found by the security review, end to end through the real
# gateway with every check on: NSD serving ldns-signed zones, libunbound with
# the test trust anchor, the run-time PKI and CT log of lib_pki.sh, Dovecot.
#
# Every attack sends "From: ceo@<victim>" signed with the attacker's leaf key
# and must get authentication_failed, store nothing, and be logged with the
# step= that SMTPSEC.md 4 says catches it.  Every scenario has a positive
# control: the legitimate variant IS delivered, so a case cannot pass just
# because everything fails.  Where OpenSSL's verdict is a reference (DNS name
# constraints, path building), a ref_* case checks the same chain with
# `openssl verify`, independently of the code under test.
#
#   1. DANE PKIX-TA (usage 0) names CA X; the attacker's leaf comes from
#      another trusted CA Y: X sent but not on the path matches nothing (4.7)
#   2. SRVName under name constraints (4.8, RFC 4985; the Name part is also
#      held to the CA's dNSName subtrees: project decision)
#   3. the name constraints of a CA above the issuer apply (RFC 5280 6.1)
#   4. sent CAs in any order, unneeded ones included: the path is built, and
#      the SCT issuer is the leaf's issuer on that path (4.8, 4.9)
#   5. PKIX-TA naming the store's anchor, not sent; PKIX-TA off the path
#   6. the subject CN is never used: not for the name (4.6), not in name
#      constraints
#
# Constraints use "other.test" (no leading dot): RFC 5280 and OpenSSL agree
# that it covers other.test and every name below it, so the SRVName
# _smtpsec.other.test (Name part other.test) is inside it whichever way a
# leading dot is read; the dotted form is used only where the answer is a
# refusal either way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_pki.sh"
. "$(dirname "$0")/lib_vgw.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
for b in "$GW" "$SEND" "$CTLOG"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
SRV_OID=1.3.6.1.5.5.7.8.7
srvname() { echo "otherName:$SRV_OID;IA5STRING:_smtpsec.$1"; }
LOGS="log1 log2"
RCPT=bob@dest.test

# --- the PKI --------------------------------------------------------------
mk() {	# pki_ca / pki_leaf_ca arguments; a failure is a test failure
	"$@" || { t_fail "pki_$2" "$1 failed"; exit 1; }
}
pki_init || { t_fail pki_init "could not make the run-time PKI"; exit 1; }
# 1: two trusted CAs under the same root
mk pki_ca danex root
mk pki_ca daney root
mk pki_leaf_ca atk1 daney "DNS:mx.ta.bank.test" mx.ta.bank.test "$LOGS"
mk pki_leaf_ca ok1 danex "DNS:mx.ta.bank.test" mx.ta.bank.test "$LOGS"
mk pki_leaf_ca atk1f daney "DNS:mx.tafull.bank.test" mx.tafull.bank.test "$LOGS"
mk pki_leaf_ca ok1f danex "DNS:mx.tafull.bank.test" mx.tafull.bank.test "$LOGS"
# 2 and 6: constrained CAs; the attacker's CN is inside the permitted subtree
NC_DNS="permitted;DNS:other.test"
mk pki_ca ncsrv root "nameConstraints=critical,$NC_DNS,permitted;$(srvname other.test)"
mk pki_ca ncdns root "nameConstraints=critical,$NC_DNS"
mk pki_ca ncdot root "nameConstraints=critical,permitted;DNS:.other.test"
mk pki_leaf_ca atk2a ncsrv "$(srvname bank.test)" mx.other.test "$LOGS"
mk pki_leaf_ca ok2a ncsrv "$(srvname other.test)" mx.other.test "$LOGS"
mk pki_leaf_ca atk2b ncdns "$(srvname bank.test)" mx.other.test "$LOGS"
mk pki_leaf_ca atk2c ncdot "$(srvname bank.test)" mx.other.test "$LOGS"
mk pki_leaf_ca ok6b ncdns "$(srvname other.test)" "not a dns name!" "$LOGS"
mk pki_leaf_ca ok6bc ncdns "$(srvname other.test)" mx.other.test "$LOGS"
mk pki_leaf_ca ok6c ncdns "DNS:mx.other.test" mx.bank.test "$LOGS"
# 3: constrained CA -> unconstrained sub-CA -> leaf.  The attacker's sub-CA
# has a CN inside the subtree, so that nothing but the constraint of the CA
# above can refuse it; subB's CN is no DNS name at all (6: CN not used)
mk pki_ca ncA root "nameConstraints=critical,$NC_DNS"
mk pki_ca subA ncA -subj /CN=ca.other.test
mk pki_ca subB ncA
mk pki_leaf_ca atk3 subA "DNS:mx.bank.test" mx.bank.test "$LOGS"
mk pki_leaf_ca ok3 subA "DNS:mx.other.test" mx.other.test "$LOGS"
mk pki_leaf_ca ok6s subB "DNS:mx.other.test" mx.other.test "$LOGS"
# 4: two intermediates; an unneeded trusted CA; an unneeded untrusted CA
mk pki_ca ch1 root
mk pki_ca ch2 ch1
mk pki_ca unrel root
mk pki_ca selfu self
mk pki_leaf_ca ok4 ch2 "DNS:mx.other.test" mx.other.test "$LOGS"
mk pki_leaf_ca ok4u inter "DNS:mx.other.test" mx.other.test "$LOGS"
# 5: PKIX-TA to the root (not sent) and to a CA off the path
mk pki_leaf_ca ok5 inter "DNS:mx.anchor.bank.test" mx.anchor.bank.test "$LOGS"
mk pki_leaf_ca atk5 inter "DNS:mx.offpath.bank.test" mx.offpath.bank.test "$LOGS"
mk pki_leaf_ca ok5o unrel "DNS:mx.offpath.bank.test" mx.offpath.bank.test "$LOGS"
# 6a: the name only in the CN
mk pki_leaf_ca atk6a inter "" mx.bank.test "$LOGS"
mk pki_leaf_ca ok6a inter "DNS:mx.bank.test" mx.bank.test "$LOGS"

cat_pem() {	# OUT FILE...: one PEM bundle
	local out=$1
	shift
	cat "$@" >"$PKI/$out"
	echo "$PKI/$out"
}
C1_YX=$(cat_pem atk1.yx "$PKI/atk1.pem" "$PKI/daney.pem" "$PKI/danex.pem")
C1_XY=$(cat_pem atk1.xy "$PKI/atk1.pem" "$PKI/danex.pem" "$PKI/daney.pem")
C1F_YX=$(cat_pem atk1f.yx "$PKI/atk1f.pem" "$PKI/daney.pem" "$PKI/danex.pem")
C3_REV=$(cat_pem atk3.rev "$PKI/atk3.pem" "$PKI/ncA.pem" "$PKI/subA.pem")
C4_REV=$(cat_pem ok4.rev "$PKI/ok4.pem" "$PKI/ch1.pem" "$PKI/ch2.pem")
C4_UNREL=$(cat_pem ok4u.unrel "$PKI/ok4u.pem" "$PKI/unrel.pem" "$PKI/inter.pem")
C4_SELF=$(cat_pem ok4u.self "$PKI/ok4u.pem" "$PKI/selfu.pem" "$PKI/inter.pem")
C4_LAST=$(cat_pem ok4u.last "$PKI/ok4u.pem" "$PKI/inter.pem" "$PKI/unrel.pem")
C5_ROOT=$(cat_pem ok5.root "$PKI/ok5.pem" "$PKI/inter.pem" "$PKI/root.pem")
C5_SENT=$(cat_pem atk5.sent "$PKI/atk5.pem" "$PKI/inter.pem" "$PKI/unrel.pem")

# --- OpenSSL as the reference ---------------------------------------------
# ref NAME CHAIN WANT [OPENSSL-VERIFY-ARGS...]: `openssl verify -show_chain`
# of the chain's leaf with the rest as untrusted certificates, root.pem the
# only anchor.  WANT "ok": it verifies; "ok CN [!CN]": it verifies through
# the CA named CN (and not through !CN); else a regex its output matches.
ref() {
	local name=$1 chain=$2 want=$3 out ok=1 w
	shift 3
	awk 'n{print} /END CERTIFICATE/{n=1}' "$chain" >"$chain.unt"
	openssl x509 -in "$chain" -out "$chain.leaf"
	out=$(openssl verify -CAfile "$PKI/root.pem" -untrusted "$chain.unt" -show_chain "$@" "$chain.leaf" 2>&1)
	case $want in
	ok*)
		grep -q ': OK$' <<<"$out" || ok=0
		for w in ${want#ok}; do
			case $w in
			!*) grep -qE "CN = ${w#!}( \(untrusted\))?\$" <<<"$out" && ok=0 ;;
			*) grep -qE "CN = $w( \(untrusted\))?\$" <<<"$out" || ok=0 ;;
			esac
		done ;;
	*) grep -qE "$want" <<<"$out" || ok=0 ;;
	esac
	if [ $ok = 1 ]; then t_pass "ref_$name"; else t_fail "ref_$name" "openssl: $(tr '\n' ' ' <<<"$out")"; fi
}
ref dane_pkixta_path_not_through_x "$C1_YX" "ok RT-Test-CA-daney !RT-Test-CA-danex"
ref dane_pkixta_x_first_path_not_through_x "$C1_XY" "ok RT-Test-CA-daney !RT-Test-CA-danex"
ref pkixta_off_path_sent_not_through_ca "$C5_SENT" "ok RT-Test-Inter !RT-Test-CA-unrel"
ref nc_above_issuer_violation "$PKI/atk3.chain" "permitted subtree violation"
ref nc_above_issuer_reversed_violation "$C3_REV" "permitted subtree violation"
ref nc_above_issuer_control "$PKI/ok3.chain" ok -verify_hostname mx.other.test
ref chain_reversed "$C4_REV" "ok RT-Test-CA-ch2 RT-Test-CA-ch1" -verify_hostname mx.other.test
ref chain_unneeded_trusted_ca_second "$C4_UNREL" "ok RT-Test-Inter !RT-Test-CA-unrel" -verify_hostname mx.other.test
ref chain_unneeded_untrusted_ca_second "$C4_SELF" "ok RT-Test-Inter !RT-Test-CA-selfu" -verify_hostname mx.other.test
ref pkixta_root_not_sent "$PKI/ok5.chain" "ok RT-Test-Inter RT-Test-Root" -verify_hostname mx.anchor.bank.test
ref cn_ignored_in_constraints "$PKI/ok6c.chain" ok -verify_hostname mx.other.test
ref cn_subca_ignored_in_nc "$PKI/ok6s.chain" ok -verify_hostname mx.other.test
# the certificates are what the cases say (OpenSSL is no reference for the
# SRVName cases: 3.0 has no SRVName constraints and checks no SRVName SAN;
# nor for 6a: its hostname check falls back to the CN when there is no SAN)
t_check pki_cn_only_has_no_san "atk6a has a subjectAltName" \
	bash -c '[ -z "$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null)" ]' _ "$PKI/atk6a.pem"
t_check pki_srvname_only_san "atk2a: $(openssl x509 -in "$PKI/atk2a.pem" -noout -ext subjectAltName 2>&1 | tr '\n' ' ')" \
	bash -c '[ "$(openssl x509 -in "$1" -noout -ext subjectAltName | sed -n 2p | tr -d " ")" = othername:SRVName::_smtpsec.bank.test ]' _ "$PKI/atk2a.pem"

# --- DNS ------------------------------------------------------------------
P=4650
dns_init
dns_zone bank.test signed
dns_zone other.test signed
srv() { dns_rr "$1" "_smtpsec._tcp.$2. 300 IN SRV 10 0 $P mx.$2."; }
tlsa() { dns_rr "$1" "_$P._tcp.mx.$2. 300 IN TLSA $3"; }
srv bank.test bank.test				# no TLSA: PKIX + CT
srv other.test other.test
srv bank.test ta.bank.test
tlsa bank.test ta.bank.test "0 1 1 $(pki_spki256 "$PKI/danex.pem")"
srv bank.test tafull.bank.test
tlsa bank.test tafull.bank.test "0 0 1 $(pki_cert256 "$PKI/danex.pem")"
srv bank.test anchor.bank.test
tlsa bank.test anchor.bank.test "0 1 1 $(pki_spki256 "$PKI/root.pem")"
srv bank.test offpath.bank.test
tlsa bank.test offpath.bank.test "0 1 1 $(pki_spki256 "$PKI/unrel.pem")"
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
dovecot_start "$RCPT" || { t_fail dovecot_start "Dovecot did not start"; exit 1; }

# --- the gateway: every check on ----------------------------------------
# (lib_vgw.sh: lib_gw.sh's gateway runs with --insecure-skip-chain-checks
# and no DNS, which is what this test must not do)
PORT=$(t_free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_TMP/gw.key" \
	-out "$T_TMP/gw.pem" -subj /CN=gw.dest.test -addext subjectAltName=DNS:gw.dest.test -days 2 2>/dev/null
vgw_conf gw.dest.test "$T_TMP/gw.pem" "$T_TMP/gw.key" "$PKI/root.pem" "$PKI/log_list.json" gw.dest.test
gw_start || { t_fail gateway_start "no listener: $(tail -3 "$T_TMP/gw.log")"; exit 1; }

# --- sending --------------------------------------------------------------
# send NAME FROM-DOMAIN LEAF CHAIN WANT: one Email "From: ceo@FROM-DOMAIN"
# signed with LEAF's key (LEAF names $PKI/LEAF.key).  WANT "deliver": reply
# email_delivered, one message stored, verdict=pass.  WANT "refuse STEPS":
# reply authentication_failed, nothing stored, and the log's step= matches
# the extended regex STEPS.
N=0
send() {
	local name=$1 dom=$2 leaf=$3 chain=$4 want=$5 before after out logn line got
	N=$((N + 1))
	printf 'From: CEO <ceo@%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%s@%s>\r\n\r\nPay invoice %s.\r\n' \
		"$dom" "$RCPT" "$name" "$name" "$N" "$dom" "$name" >"$T_TMP/m.$name"
	before=$(dovecot_mail_count "$RCPT")
	logn=$(grep -c 'event=email ' "$T_TMP/gw.log")
	out=$("$SEND" --connect "127.0.0.1:$PORT" --cafile "$T_TMP/gw.pem" --servername gw.dest.test \
		--key "$PKI/$leaf.key" --chain "$chain" --rcpt "$RCPT" --message "$T_TMP/m.$name" \
		--max-seconds 20 2>&1)
	t_wait_for 3 test "$(grep -c 'event=email ' "$T_TMP/gw.log")" -gt "$logn"
	after=$(dovecot_mail_count "$RCPT")
	line=$(grep 'event=email ' "$T_TMP/gw.log" | sed -n "$((logn + 1))p")
	got="$(grep -oE 'reply n=1 [^ ]+' <<<"$out" | head -1) stored=$((after - before)) $(grep -oE 'verdict=.*' <<<"$line" | sed 's/ ms=[0-9]*$//')"
	case $want in
	deliver)
		if [[ "$out" == *"reply n=1 email_delivered"* && $((after - before)) = 1 &&
		    "$line" == *"from_domain=$dom "*"verdict=pass "* ]]; then
			t_pass "$name"
		else
			t_fail "$name" "want delivered; got: $got"
		fi ;;
	refuse\ *)
		if [[ "$out" == *"reply n=1 error=authentication_failed"* && $((after - before)) = 0 &&
		    "$line" == *"from_domain=$dom "*"verdict=fail "* ]] &&
		    grep -qE "step=(${want#refuse }) " <<<"$line"; then
			t_pass "$name"
		else
			t_fail "$name" "want authentication_failed at step ${want#refuse }; got: $got"
		fi ;;
	esac
}

# 1. DANE PKIX-TA confusion
send dane_pkixta_ok_leaf_x ta.bank.test ok1 "$PKI/ok1.chain" deliver
send dane_pkixta_leaf_y_x ta.bank.test atk1 "$C1_YX" "refuse dane|pkix"
send dane_pkixta_leaf_y ta.bank.test atk1 "$PKI/atk1.chain" "refuse dane|pkix"
send dane_pkixta_leaf_x_y ta.bank.test atk1 "$C1_XY" "refuse dane|pkix"
send dane_pkixta_full_ok_leaf_x tafull.bank.test ok1f "$PKI/ok1f.chain" deliver
send dane_pkixta_full_leaf_y tafull.bank.test atk1f "$PKI/atk1f.chain" "refuse dane|pkix"
send dane_pkixta_full_leaf_y_x tafull.bank.test atk1f "$C1F_YX" "refuse dane|pkix"
# 2. SRVName name constraints
send srvname_nc_ok_other other.test ok2a "$PKI/ok2a.chain" deliver
send srvname_nc_srv_subtree bank.test atk2a "$PKI/atk2a.chain" "refuse pkix"
send srvname_nc_dns_subtree_only bank.test atk2b "$PKI/atk2b.chain" "refuse pkix"
send srvname_nc_dotted_dns_subtree bank.test atk2c "$PKI/atk2c.chain" "refuse pkix"
# 3. name constraints of a CA above the issuer
send nc_above_issuer_ok_other other.test ok3 "$PKI/ok3.chain" deliver
send nc_above_issuer bank.test atk3 "$PKI/atk3.chain" "refuse pkix"
send nc_above_issuer_sent_reversed bank.test atk3 "$C3_REV" "refuse pkix"
# 4. chain order and unneeded certificates
send chain_in_order other.test ok4 "$PKI/ok4.chain" deliver
send chain_reversed other.test ok4 "$C4_REV" deliver
send chain_unneeded_last other.test ok4u "$C4_LAST" deliver
send chain_unneeded_trusted_ca_second other.test ok4u "$C4_UNREL" deliver
send chain_unneeded_untrusted_ca_second other.test ok4u "$C4_SELF" deliver
# 5. PKIX-TA and the store's anchor; PKIX-TA off the path
send pkixta_root_not_sent anchor.bank.test ok5 "$PKI/ok5.chain" deliver
send pkixta_root_sent anchor.bank.test ok5 "$C5_ROOT" deliver
send pkixta_off_path_ok offpath.bank.test ok5o "$PKI/ok5o.chain" deliver
send pkixta_off_path offpath.bank.test atk5 "$PKI/atk5.chain" "refuse dane"
send pkixta_off_path_sent offpath.bank.test atk5 "$C5_SENT" "refuse dane|pkix"
# 6. no CN ever used
send cn_ok_san bank.test ok6a "$PKI/ok6a.chain" deliver
send cn_only_no_san bank.test atk6a "$PKI/atk6a.chain" "refuse name"
send cn_in_subtree_srvname_nc other.test ok6bc "$PKI/ok6bc.chain" deliver
send cn_not_a_name_srvname_nc other.test ok6b "$PKI/ok6b.chain" deliver
send cn_ignored_in_nc other.test ok6c "$PKI/ok6c.chain" deliver
send cn_of_subca_ignored_in_nc other.test ok6s "$PKI/ok6s.chain" deliver
send cn_victim_san_other bank.test ok6c "$PKI/ok6c.chain" "refuse name"
exit 0
