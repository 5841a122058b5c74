#!/bin/bash
# Postfix -> smtpsec-send (pipe(8) transport) -> smtpsec-gateway -> Dovecot,
# with a real, private Postfix instance (lib_postfix.sh), DNSSEC-signed
# zones in NSD, the gateway verifying every Email for real (no test
# switch) and Dovecot LMTP.  smtpsec-send runs as Postfix runs it: as
# "nobody", with only the product options of the recipe (config/postfix/).
#
# DNS: b.test and c.test publish _smtpsec._tcp SRV records whose target is
# "localhost" (the sender finds addresses with getaddrinfo, and no test may
# edit /etc/hosts); the gateway's certificate is valid for the SRVNames
# _smtpsec.b.test and _smtpsec.c.test and carries SCTs of the test CT log,
# so the sender takes the PKIX + CT path with --cafile and --ct-log-list.
# The author domain a.test is DANE-EE (the static test leaf), as in
# t_e2e_verify.sh.
#
# Cases (issue 19): delivered with smtpsec=pass; deferred while the gateway
# is down, then delivered once after postqueue -f; unknown user bounced with
# the reason; From domain without a key bounced; two recipients in two
# domains delivered.  Plus smtpsec-send --pipe called directly: grouping,
# exit statuses, --timeout against a DNS server that never answers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_pki.sh"
. "$(dirname "$0")/lib_postfix.sh"
. "$(dirname "$0")/lib_vgw.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
for b in postfix sendmail postqueue; do
	command -v "$b" >/dev/null || { t_skip postfix "Debian's postfix package is not installed (make deps)"; exit 0; }
done
id nobody >/dev/null 2>&1 || { t_skip postfix "no user nobody"; exit 0; }
D="$(cd "$(dirname "$0")/../unit/verify/data" && pwd)"
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")
MX=mx1.example.test
RUNAS=nobody
RUNGRP=$(id -gn nobody)

chmod 755 "$T_TMP"
P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool" "$T_TMP/send" "$T_TMP/pipesan"
chmod 777 "$T_TMP/spool"
chmod 1777 "$T_TMP/pipesan"
pki_init || { t_fail pki_init "could not make the run-time PKI"; exit 1; }
pki_leaf gw p256 valid "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.b.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.c.test" "log1 log2" ||
	{ t_fail pki_leaf "gateway certificate"; exit 1; }

# the sender's side, readable by the pipe(8) user and nobody else
S=$T_TMP/send
cp "$D/leaf.key" "$S/a.key"
cat "$D/leaf.pem" "$D/inter.pem" >"$S/a.chain"
cp "$PKI/ca_file.pem" "$S/ca.pem"
cp "$PKI/log_list.json" "$S/log_list.json"
cat >"$S/keys" <<EOF
# DOMAIN   KEY.pem        CHAIN.pem
a.test     $S/a.key       $S/a.chain
EOF
chown -R "root:$RUNGRP" "$S"
chmod 750 "$S"
chmod 640 "$S"/*

PORT=$(t_free_port)
dns_init
dns_zone example.test signed
dns_rr example.test "_25._tcp.$MX. 300 IN TLSA 3 1 1 $LEAF"
dns_zone a.test signed
dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 0 25 $MX."
dns_zone b.test signed
dns_rr b.test "_smtpsec._tcp.b.test. 300 IN SRV 10 0 $PORT localhost."
dns_zone c.test signed
dns_rr c.test "_smtpsec._tcp.c.test. 300 IN SRV 10 0 $PORT localhost."
dns_zone plain.test unsigned
dns_rr plain.test "_smtpsec._tcp.plain.test. 300 IN SRV 10 0 $PORT localhost."
dns_dead_zone dead.test
# a target that accepts TCP and never speaks TLS
HANG_PORT=$(t_free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(600)' "$HANG_PORT" &
t_track_pid $!
dns_zone hang.test signed
dns_rr hang.test "_smtpsec._tcp.hang.test. 300 IN SRV 10 0 $HANG_PORT localhost."
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }
cp "$DNS_UNBOUND_CONF" "$S/unbound.conf"
chown "root:$RUNGRP" "$S/unbound.conf"
chmod 640 "$S/unbound.conf"
dovecot_start bob@b.test carol@c.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }

vgw_conf gw.b.test "$PKI/gw.chain" "$PKI/gw.key" "$PKI/ca_file.pem" "$PKI/log_list.json" gw.b.test

# The recipe's lines (config/postfix/), with this test's paths.  The pipe
# command gets the sanitizer settings through import/export_environment.
SENDARGS="--pipe --keys $S/keys --unbound-conf $S/unbound.conf --cafile $S/ca.pem --ct-log-list $S/log_list.json --timeout 20"
# The service line of config/postfix/master.cf, with this test's paths
RECIPE=$T_SRC/config/postfix
svc=$(grep -v '^#' "$RECIPE/master.cf" | grep . | sed -e "s|user=smtpsec-send|user=$RUNAS|" \
	-e "s|/usr/local/bin/smtpsec-send --pipe --keys /etc/smtpsec/send-keys --timeout 300|$SEND $SENDARGS|")
[[ "$svc" == *"argv=$SEND $SENDARGS -- \${recipient}"* ]] ||
	{ t_fail recipe_master_cf "config/postfix/master.cf changed: $svc"; exit 1; }
pf_init "$svc" || { t_fail pf_init "config"; exit 1; }
printf 'b.test      smtpsec:\nc.test      smtpsec:\nplain.test  smtpsec:\n' >"$PF_DIR/etc/transport"
# and its main.cf lines
while read -r line; do
	pf_main "${line//hash:\/etc\/postfix\/smtpsec-transport/texthash:$PF_DIR/etc/transport}"
done < <(grep -v '^#' "$RECIPE/main.cf" | grep .)
pf_main "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME ASAN_OPTIONS=log_path=$T_TMP/pipesan/sanitizer:detect_leaks=1 UBSAN_OPTIONS=log_path=$T_TMP/pipesan/sanitizer:print_stacktrace=1" \
	"export_environment = TZ MAIL_CONFIG LANG ASAN_OPTIONS UBSAN_OPTIONS"
pf_start || { t_fail postfix_start "postfix did not start: $(tail -3 "$PF_DIR/postfix.out" | tr '\n' ' ')"; exit 1; }
gw_start || { t_fail gateway_start "no listener; $(tail -3 "$T_TMP/gw.log")"; exit 1; }

# msg NAME FROM TO...: the message file $T_TMP/m.NAME (LF line ends, as a
# user agent hands it to sendmail)
msg() {
	local name=$1 from=$2
	shift 2
	printf 'From: Alice <%s>\nTo: %s\nSubject: %s\nMessage-ID: <%s@a.test>\n\nBody of %s.\n' \
		"$from" "$(IFS=,; echo "$*")" "$name" "$name" "$name" >"$T_TMP/m.$name"
}
submit() {	# NAME RCPT...
	local name=$1
	shift
	pf_sendmail -f "$RUNAS@localhost" -- "$@" <"$T_TMP/m.$name"
}
# wait_count USER N SECONDS
wait_count() {
	t_wait_for "$3" bash -c '[ "$(find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l)" -ge "$2" ]' _ \
		"$DOVECOT_DIR/mail/$1/Maildir" "$2"
}
# the bounce mailbox of the envelope sender (local(8), mbox)
BOX=$PF_DIR/mail/$RUNAS
bounces() { grep -c '^From MAILER-DAEMON' "$BOX" 2>/dev/null || echo 0; }
wait_bounces() { t_wait_for "$2" bash -c '[ "$(grep -c "^From MAILER-DAEMON" "$1" 2>/dev/null)" -ge "$2" ]' _ "$BOX" "$1"; }
# the bounce mailbox with folded lines joined (bounces wrap their text)
box_text() { sed -e ':a' -e 'N;$!ba' -e 's/\n    / /g' "$BOX"; }
# the last message in USER's mailbox
last_mail() { cat "$(dovecot_mail_files "$1" | tail -1)"; }

T0=$(date +%s)

# 1. delivered with smtpsec=pass and the right header.from
msg one alice@a.test bob@b.test
submit one bob@b.test
if wait_count bob@b.test 1 20; then
	m=$(last_mail bob@b.test)
	t_check 1_delivered_pass "$(grep -i '^Authentication-Results' <<<"$m")" \
		grep -q "smtpsec=pass header.from=a.test" <<<"$m"
	t_check 1_subject "no Subject: one" grep -q '^Subject: one' <<<"$m"
	t_check 1_via_pipe "no status=sent via smtpsec in the maillog" bash -c \
		'grep -q "to=<bob@b.test>, relay=smtpsec, .*status=sent" "$1"' _ "$PF_DIR/maillog"
else
	t_fail 1_delivered_pass "not delivered: $(pf_log | grep -E 'status=' | tail -2 | tr '\n' ' ')"
fi
pf_wait_idle 10

# 2. gateway down: deferred with the reason; up again + postqueue -f: delivered once
gw_stop
before=$(dovecot_mail_count bob@b.test)
msg two alice@a.test bob@b.test
submit two bob@b.test
t_wait_for 20 bash -c 'postqueue -c "$1" -j 2>/dev/null | grep -q "delay_reason"' _ "$PF_DIR/etc"
q=$(pf_queue)
t_check 2_deferred_reason "queue: $q" bash -c \
	'[[ "$1" == *"\"queue_name\": \"deferred\""* && "$1" == *"no SRV target of b.test could be used"* && "$1" == *"cannot connect"* ]]' _ "$q"
gw_start || t_fail 2_gateway_restart "no listener"
pf_flush
wait_count bob@b.test $((before + 1)) 20
pf_wait_idle 10
sleep 1
t_check 2_delivered_once "count $(dovecot_mail_count bob@b.test), want $((before + 1))" \
	test "$(dovecot_mail_count bob@b.test)" = $((before + 1))
t_check 2_is_two "last is not message two" bash -c 'grep -q "^Subject: two" "$1"' _ "$(dovecot_mail_files bob@b.test | tail -1)"

# 3. unknown user: bounced, the bounce carries the reason
nb=$(bounces)
msg three alice@a.test nosuch@b.test
submit three nosuch@b.test
if wait_bounces $((nb + 1)) 20; then
	t_check 3_bounce_reason "$(box_text | grep -iE 'Diagnostic' | tail -1)" \
		bash -c 'grep -q "^Diagnostic-Code: x-unix; smtpsec-send: nosuch@b.test: localhost:$1 replied unknown_address" <<<"$2"' _ "$PORT" "$(box_text)"
	t_check 3_bounce_status "no 5.1.1 (EX_NOUSER)" bash -c 'grep -q "Status: 5.1.1" "$1"' _ "$BOX"
else
	t_fail 3_bounce_reason "no bounce: $(pf_log | grep status= | tail -1)"
fi

# 4. From domain without a key line: bounced, the reason says so
nb=$(bounces)
msg four eve@z.test bob@b.test
submit four bob@b.test
if wait_bounces $((nb + 1)) 20; then
	t_check 4_no_key_bounced "$(box_text | grep -iE 'Diagnostic' | tail -1)" \
		bash -c 'grep -q "^Diagnostic-Code: x-unix; smtpsec-send: bob@b.test: no signing key for the author domain z.test in " <<<"$1"' _ "$(box_text)"
	t_check 4_status_5_3_0 "no 5.3.0 (EX_UNAVAILABLE)" bash -c 'grep -c "^Status: 5.3.0" "$1" | grep -q 1' _ "$BOX"
else
	t_fail 4_no_key_bounced "no bounce: $(pf_log | grep status= | tail -1)"
fi

# 5. two recipients in two SMTPsec domains: both delivered
bb=$(dovecot_mail_count bob@b.test)
cb=$(dovecot_mail_count carol@c.test)
msg five alice@a.test bob@b.test carol@c.test
submit five bob@b.test carol@c.test
wait_count bob@b.test $((bb + 1)) 20
wait_count carol@c.test $((cb + 1)) 20
t_check 5_both_delivered "bob $(dovecot_mail_count bob@b.test) (was $bb), carol $(dovecot_mail_count carol@c.test) (was $cb)" \
	test "$(dovecot_mail_count bob@b.test)" = $((bb + 1)) -a "$(dovecot_mail_count carol@c.test)" = $((cb + 1))
t_check 5_carol_pass "no smtpsec=pass" bash -c 'grep -q "smtpsec=pass header.from=a.test" "$1"' _ "$(dovecot_mail_files carol@c.test | tail -1)"
pf_wait_idle 10
t_check postfix_queue_empty "$(pf_queue)" test -z "$(pf_queue)"
t_check postfix_cases_time "took $(($(date +%s) - T0)) s" test $(($(date +%s) - T0)) -lt 60

# smtpsec-send --pipe directly, as user nobody, without SMTPSEC_TEST_MODE
pipe() {	# MESSAGE-NAME ARGS...
	local m=$T_TMP/m.$1
	shift
	setpriv --reuid="$RUNAS" --regid="$RUNGRP" --clear-groups env -u SMTPSEC_TEST_MODE \
		ASAN_OPTIONS="log_path=$T_TMP/pipesan/sanitizer:detect_leaks=1" \
		UBSAN_OPTIONS="log_path=$T_TMP/pipesan/sanitizer:print_stacktrace=1" \
		"$SEND" $SENDARGS "$@" <"$m"
}
bb=$(dovecot_mail_count bob@b.test)
cb=$(dovecot_mail_count carol@c.test)
msg six alice@a.test bob@b.test carol@c.test
t_expect direct_two_domains 0 '^$' pipe six -- bob@b.test carol@c.test
t_check direct_two_domains_stored "bob $(dovecot_mail_count bob@b.test)/$bb carol $(dovecot_mail_count carol@c.test)/$cb" \
	test "$(dovecot_mail_count bob@b.test)" = $((bb + 1)) -a "$(dovecot_mail_count carol@c.test)" = $((cb + 1))
printf 'From: alice@a.test\r\nTo: bob@b.test\r\nSubject: crlf\r\n\r\nCRLF already, no final line end' >"$T_TMP/m.crlf"
t_expect direct_crlf_input 0 '^$' pipe crlf -- bob@b.test
t_check direct_crlf_stored "stored copy does not end with the CRLF-terminated body" bash -c \
	'tail -c 33 "$1" | cmp -s - <(printf "CRLF already, no final line end\r\n")' _ "$(dovecot_mail_files bob@b.test | tail -1)"
t_expect direct_all_unknown 67 'nosuch@b.test: .* replied unknown_address' pipe six -- nosuch@b.test
t_expect direct_some_unknown 69 'nosuch@b.test: .* replied unknown_address' pipe six -- bob@b.test nosuch@b.test
t_expect direct_not_smtpsec 69 'plain.test does not speak SMTPsec' pipe six -- bob@plain.test
t_expect direct_nxdomain_not_smtpsec 69 'nx.b.test does not speak SMTPsec' pipe six -- bob@nx.b.test
t_expect direct_no_key 69 'no signing key for the author domain z.test' pipe four -- bob@b.test
printf 'To: bob@b.test\n\nno From\n' >"$T_TMP/m.nofrom"
t_expect direct_no_from 69 'no usable From field' pipe nofrom -- bob@b.test
t0=$(date +%s.%N)
t_expect direct_timeout 75 'bob@dead.test: ' pipe six --timeout 3 -- bob@dead.test
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
t_check direct_timeout_bounded "took $el s with --timeout 3" awk -v e="$el" 'BEGIN { exit !(e < 4.5) }'
t0=$(date +%s.%N)
t_expect direct_hanging_target 75 "bob@hang.test: no SRV target of hang.test could be used \\(last: localhost:$HANG_PORT: TLS handshake timed out\\)" \
	pipe six --timeout 3 -- bob@hang.test
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
t_check direct_hanging_bounded "took $el s with --timeout 3" awk -v e="$el" 'BEGIN { exit !(e < 4.5) }'
t_expect direct_refuses_test_option 75 'refusing the test-only option --resolve' \
	pipe six --resolve localhost:1:127.0.0.1 -- bob@b.test
gw_stop
t_expect direct_gateway_down 75 "bob@b.test: no SRV target of b.test could be used \\(last: localhost:$PORT: cannot connect\\)" \
	pipe six -- bob@b.test
n=$(pipe six -- bob@b.test 2>&1 | wc -l)
t_check direct_one_line "$n lines" test "$n" = 1

pf_stop
left=$(pgrep -u postfix 2>/dev/null | tr '\n' ' ')
t_check postfix_stopped "postfix processes left: $left" test -z "$left"
if ls "$T_TMP"/pipesan/sanitizer.* >/dev/null 2>&1; then
	t_fail pipe_sanitizer "$(head -20 "$T_TMP"/pipesan/sanitizer.* | tr '\n' ' ')"
fi
exit 0
