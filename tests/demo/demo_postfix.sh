#!/bin/bash
# make demo-postfix: Postfix -> smtpsec-send -> smtpsec-gateway -> Dovecot,
# on loopback, in one command.
#
# Starts NSD with DNSSEC-signed zones (a.test: the sender; b.test: the
# receiver, whose SRV target is "localhost" so that the sender's system
# resolver finds it), a run-time test PKI with a CT log (the gateway's
# certificate names _smtpsec.b.test and carries SCTs), Dovecot with
# bob@b.test, the gateway, and a private Postfix instance whose master.cf
# and main.cf take the lines of config/postfix/.  Mails one message to bob
# and one to an unknown user with Postfix's sendmail, shows Postfix's log
# lines, the delivered copy and the bounce reason, then stops everything it
# started and removes its files.  About 5 seconds.
export BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_pki.sh"
. "$(dirname "$0")/../integration/lib_postfix.sh"
. "$(dirname "$0")/../integration/lib_vgw.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
D="$T_SRC/tests/unit/verify/data"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo-postfix: $*" >&2; exit 1; }
for b in "$GW" "$SEND" "$BUILD/smtpsec-ctlog"; do [ -x "$b" ] || die "$b is not built (run make)"; done
command -v postfix >/dev/null || die "Postfix is not installed (make deps)"
# the pipe(8) command runs as nobody and must not inherit the test switch
unset SMTPSEC_TEST_MODE

say "Test PKI, CT log, and the gateway's certificate (SRVName _smtpsec.b.test)"
chmod 755 "$T_TMP"
pki_init || die "pki_init failed"
pki_leaf gw p256 valid "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.b.test" "log1 log2" || die "pki_leaf failed"
S=$T_TMP/send
mkdir -p "$S" "$T_TMP/spool"
chmod 777 "$T_TMP/spool"
cp "$D/leaf.key" "$S/a.key"
cat "$D/leaf.pem" "$D/inter.pem" >"$S/a.chain"
cp "$PKI/ca_file.pem" "$S/ca.pem"
cp "$PKI/log_list.json" "$S/log_list.json"
printf 'a.test  %s  %s\n' "$S/a.key" "$S/a.chain" >"$S/keys"
echo "   sender keys ($S/keys):"
sed 's/^/     /' "$S/keys"

say "DNS: NSD serving DNSSEC-signed zones"
PORT=$(t_free_port)
dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")"
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 mx1.example.test."
dns_zone b.test signed
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 0 $PORT localhost."
dns_start || die "NSD did not start"
cp "$DNS_UNBOUND_CONF" "$S/unbound.conf"
chown -R "root:$(id -gn nobody)" "$S"
chmod 750 "$S"
chmod 640 "$S"/*
grep -h -E 'SRV|TLSA' "$DNS_DIR/a.test.rr" "$DNS_DIR/example.test.rr" "$DNS_DIR/b.test.rr" | sed 's/^/     /'

say "Dovecot (bob@b.test) and smtpsec-gateway on 127.0.0.1:$PORT"
dovecot_start bob@b.test || die "Dovecot did not start"
vgw_conf gw.b.test "$PKI/gw.chain" "$PKI/gw.key" "$PKI/ca_file.pem" "$PKI/log_list.json" gw.b.test
"$GW" -f -c "$T_TMP/gw.conf" >>"$T_TMP/gw.log" 2>&1 &
t_track_pid $!
t_wait_port "$PORT" 10 || die "the gateway did not start: $(tail -3 "$T_TMP/gw.log")"

say "A private Postfix with the recipe of config/postfix/"
ARGS="--pipe --keys $S/keys --unbound-conf $S/unbound.conf --cafile $S/ca.pem --ct-log-list $S/log_list.json --timeout 20"
svc=$(grep -v '^#' "$T_SRC/config/postfix/master.cf" | grep . | sed -e "s|user=smtpsec-send|user=nobody|" \
	-e "s|/usr/local/bin/smtpsec-send --pipe --keys /etc/smtpsec/send-keys --timeout 300|$SEND $ARGS|")
pf_init "$svc" || die "postfix config"
echo "b.test  smtpsec:" >"$PF_DIR/etc/transport"
while read -r line; do
	pf_main "${line//hash:\/etc\/postfix\/smtpsec-transport/texthash:$PF_DIR/etc/transport}"
done < <(grep -v '^#' "$T_SRC/config/postfix/main.cf" | grep .)
echo "   master.cf:"
echo "$svc" | sed 's/^/     /'
echo "   main.cf:"
grep -v '^#' "$T_SRC/config/postfix/main.cf" | grep . | sed 's/^/     /'
pf_start || die "postfix did not start: $(tail -3 "$PF_DIR/postfix.out")"

say "sendmail: alice@a.test -> bob@b.test, and -> nosuch@b.test"
printf 'From: Alice <alice@a.test>\nTo: bob@b.test\nSubject: via Postfix and SMTPsec\n\nHello Bob.\n' |
	pf_sendmail -f nobody@localhost bob@b.test
printf 'From: Alice <alice@a.test>\nTo: nosuch@b.test\nSubject: to nobody\n\nHello?\n' |
	pf_sendmail -f nobody@localhost nosuch@b.test
t_wait_for 20 bash -c '[ "$(find "$1/new" "$1/cur" -type f | wc -l)" -ge 1 ]' _ "$DOVECOT_DIR/mail/bob@b.test/Maildir"
t_wait_for 20 grep -q 'status=bounced' "$PF_DIR/maillog"
pf_wait_idle 10
echo "   Postfix's log:"
grep -E 'status=' "$PF_DIR/maillog" | sed 's/^[^:]*:[^:]*:[^:]*: /     /'

say "Bob's mailbox: $(dovecot_mail_count bob@b.test) message(s); the delivered copy"
f=$(dovecot_mail_files bob@b.test | tail -1)
[ -n "$f" ] && sed 's/\r$//; s/^/   | /' "$f"

say "Stopping everything (Postfix, the gateway, Dovecot, NSD) and removing $T_TMP"
pf_stop
exit 0
