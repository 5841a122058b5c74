#!/bin/bash
# smtpsec-gateway -t loads everything the gateway would at start and reports
# every problem as FILE:LINE on stderr, exit 78 (EX_CONFIG); a good file is
# exit 0 with one "ok" line.  One case per problem, then a file with several
# problems (all reported); -n/-d print the configuration in the file's
# syntax (-n re-read is valid and prints the same; -d re-read is valid).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_pki.sh"

gw_pki || { t_fail setup "openssl"; exit 1; }
pki_init >/dev/null 2>&1 || { t_fail setup "pki_init"; exit 1; }
TA=/usr/share/dns/root.key
[ -r "$TA" ] || { t_skip all "no $TA (dns-root-data)"; exit 0; }
mkdir -p "$T_TMP/spool"
C=$T_TMP/t.conf

# good FILE: a configuration where everything it names loads
good() {
	cat <<-EOF
	[server]
	listen = 127.0.0.1:4650
	hostname = gw.b.test
	[tls]
	certificate = $T_TMP/c.pem
	key = $T_TMP/k.pem
	[dns]
	trust_anchor_file = $TA
	unbound_conf = /dev/null
	[verify]
	ca_file = $PKI/root.pem
	ct_log_list = $PKI/log_list.json
	[lmtp]
	target = 127.0.0.1:24
	spool_dir = $T_TMP/spool
	[limits]
	max_message_size = 10M
	[headers]
	authserv_id = b.test
	EOF
}

# chk NAME WANT-LINE-REGEX: -t on $C exits 78, prints nothing on stdout and
# the regex (anchored at "$C:") on stderr
chk() {
	local name=$1 re=$2 out err rc
	out=$("$GW" -t -c "$C" 2>"$T_TMP/err")
	rc=$?
	err=$(cat "$T_TMP/err")
	if [ "$rc" != 78 ]; then
		t_fail "$name" "exit $rc, want 78: $err"
	elif [ -n "$out" ]; then
		t_fail "$name" "stdout: $out"
	elif ! grep -qE "^$(printf '%s' "$C" | sed 's/[.[\*^$/]/\\&/g')$re" <<<"$err"; then
		t_fail "$name" "no /$re/ in: $(tr '\n' '|' <<<"$err")"
	else
		t_pass "$name"
	fi
}

# edit SED-EXPR: $C = the good file with one change
edit() { good | sed "$1" >"$C"; }

good >"$C"
out=$("$GW" -t -c "$C" 2>"$T_TMP/err")
rc=$?
t_check good "exit $rc, stdout '$out', stderr $(cat "$T_TMP/err")" \
	test "$rc" = 0 -a "$out" = "$C: ok" -a ! -s "$T_TMP/err"

# warnings: what the gateway warns about at start, and settings seldom
# meant; exit 0, "ok, N warnings"
# wchk NAME WANT-REGEX: -t on $C exits 0 with one warning matching
wchk() {
	local name=$1 re=$2 out rc
	out=$("$GW" -t -c "$C" 2>"$T_TMP/err")
	rc=$?
	if [ "$rc" != 0 ] || [ "$out" != "$C: ok, 1 warning" ]; then
		t_fail "$name" "exit $rc, stdout '$out': $(cat "$T_TMP/err")"
	elif ! grep -qE "^$(printf '%s' "$C" | sed 's/[.[\*^$/]/\\&/g')$re" "$T_TMP/err"; then
		t_fail "$name" "no /$re/ in: $(cat "$T_TMP/err")"
	else
		t_pass "$name"
	fi
}
edit '/^authserv_id/d'
wchk warn_authserv_id ": warning: \[headers\] authserv_id \(default\): not set: the gateway uses b.test"
edit "s|^target = .*|target = unix:$T_TMP/no-lmtp.sock|"
wchk warn_lmtp_socket ":14: warning: \[lmtp\] target: .*is not a socket"
edit "s|^key = .*|&\nmin_version = 1.2|"
wchk warn_tls12 ":7: warning: \[tls\] min_version: TLS 1.2 accepted"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_TMP/cache.key"
chmod 644 "$T_TMP/cache.key"
{ good; printf '[redis]\ncache_key_file = %s\n' "$T_TMP/cache.key"; } >"$C"
wchk warn_key_world_readable ":21: warning: \[redis\] cache_key_file: .* is world-readable"
chmod 600 "$T_TMP/cache.key"
out=$("$GW" -t -c "$C" 2>&1)
t_check key_private_no_warning "$out" test "$out" = "$C: ok"
printf 'short' >"$T_TMP/cache.key"
chk key_bad ":21: \[redis\] cache_key_file: .*must hold 32 random bytes or 64 hex digits"

# the certificate, the key, and that they match
edit "s|^certificate = .*|certificate = $T_TMP/nope.pem|"
chk cert_missing ':5: \[tls\] certificate: cannot load certificate chain'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_TMP/k2.pem" \
	-out "$T_TMP/c2.pem" -subj /CN=other.b.test -days 2 2>/dev/null
edit "s|^key = .*|key = $T_TMP/k2.pem|"
chk key_mismatch ':6: \[tls\] key: private key .* does not match certificate'
edit "s|^key = .*|key = $T_TMP/nope.key|"
chk key_missing ':6: \[tls\] key: cannot load private key'
edit '/^key = /d'
chk key_required ': \[tls\] key is required'
# the CA file, the DNS trust anchor, the CT log list, unbound_conf
echo "not a certificate" >"$T_TMP/garbage"
edit "s|^ca_file = .*|ca_file = $T_TMP/garbage|"
chk ca_file ':11: \[verify\] ca_file: '
edit "s|^trust_anchor_file = .*|trust_anchor_file = $T_TMP/nope.key|"
chk trust_anchor_missing ':8: \[dns\] trust_anchor_file: '
printf '. 3600 IN A 192.0.2.1\n' >"$T_TMP/ta.key"
edit "s|^trust_anchor_file = .*|trust_anchor_file = $T_TMP/ta.key|"
chk trust_anchor_no_ds ':8: \[dns\] trust_anchor_file: .*(no DS|DNSKEY|syntax)'
edit "s|^ct_log_list = .*|ct_log_list = $T_TMP/garbage|"
chk ct_log_list ':12: \[verify\] ct_log_list: '
printf 'server:\n\tno-such-option: yes\n' >"$T_TMP/unbound.conf"
edit "s|^unbound_conf = .*|unbound_conf = $T_TMP/unbound.conf|"
chk unbound_conf ':9: \[dns\] unbound_conf: '
# with no trust anchor file, a default one that is missing names the default
good | sed '/^trust_anchor_file/d; /^unbound_conf/d' >"$C"
printf '[dns]\ntrust_anchor_file =\nunbound_conf = /dev/null\n' >>"$C"
out=$("$GW" -t -c "$C" 2>&1)
t_check unbound_conf_alone "$out" test $? = 0

# the spool directory: exists, is a directory, writable by the service user
edit "s|^spool_dir = .*|spool_dir = $T_TMP/nospool|"
chk spool_missing ':15: \[lmtp\] spool_dir: .*No such file'
edit "s|^spool_dir = .*|spool_dir = $T_TMP/garbage|"
chk spool_not_dir ':15: \[lmtp\] spool_dir: .*not a directory'
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -p "$T_TMP/rootspool"
	chmod 700 "$T_TMP/rootspool"
	chmod 755 "$T_TMP"
	edit "s|^spool_dir = .*|spool_dir = $T_TMP/rootspool|; s|^hostname = .*|&\nuser = nobody|"
	chk spool_not_writable_by_user ':16: \[lmtp\] spool_dir: .*not writable by user nobody'
	chown nobody "$T_TMP/rootspool"
	out=$("$GW" -t -c "$C" 2>&1)
	t_check spool_writable_by_user "$out" test $? = 0
	edit "s|^hostname = .*|&\nuser = no-such-user-smtpsec|"
	chk unknown_user ':4: \[server\] user: unknown user no-such-user-smtpsec'
else
	t_skip spool_not_writable_by_user "not root or no user nobody"
fi
# the LMTP target, listen addresses, sizes
edit "s|^target = .*|target = 127.0.0.1:notaport|"
chk lmtp_port ':14: \[lmtp\] target: .*notaport'
edit "s|^target = .*|target = dovecot|"
chk lmtp_no_colon ':14: \[lmtp\] target: '
edit "s|^listen = .*|&\nlisten = 127.0.0.1:4650|"
chk listen_twice ':3: listen: 127.0.0.1:4650 given twice \(first on line 2\)'
edit "s|^max_message_size = .*|max_message_size = 50Mbb|"
chk size_strict ":17: max_message_size: '50Mbb' is not a size"
edit "s|^max_message_size = .*|max_message_size = 50MiB|"
out=$("$GW" -t -c "$C" 2>&1)
t_check size_mib "$out" test $? = 0

# several problems: every one reported, each with its line, then a count
edit "s|^certificate = .*|certificate = $T_TMP/nope.pem|; s|^target = .*|target = 127.0.0.1:notaport|; s|^max_message_size = .*|max_message_size = 1Q|; s|^ca_file = .*|ca_file = $T_TMP/garbage|"
"$GW" -t -c "$C" >/dev/null 2>"$T_TMP/err"
rc=$?
n=$(grep -cE "^$C:[0-9]+: " "$T_TMP/err")
t_check all_problems "exit $rc, $n lines: $(tr '\n' '|' <"$T_TMP/err")" \
	test "$rc" = 78 -a "$n" = 4
t_check all_problems_count "$(tail -1 "$T_TMP/err")" grep -qx "$C: 4 problems" <(tail -1 "$T_TMP/err")
# as an ExecStartPre= whose stderr is the journal: every line at priority err
: >"$T_TMP/jerr"
JOURNAL_STREAM=$(stat -L -c %d:%i "$T_TMP/jerr") "$GW" -t -c "$C" >/dev/null 2>>"$T_TMP/jerr"
n=$(grep -c "^<3>$C:" "$T_TMP/jerr")
t_check journal_priority "$n of 5 lines with <3>: $(head -2 "$T_TMP/jerr" | tr '\n' '|')" \
	test "$n" = 5 -a "$(wc -l <"$T_TMP/jerr")" = 5
t_check no_priority_outside_journal "$(head -1 "$T_TMP/err")" grep -q "^$C:" "$T_TMP/err"
"$GW" -t -c "$T_TMP/none.conf" >/dev/null 2>"$T_TMP/err"
rc=$?
t_check no_file "exit $rc: $(cat "$T_TMP/err")" \
	grep -q "^$T_TMP/none.conf: No such file or directory" "$T_TMP/err"
t_check no_file_exit "exit $rc" test "$rc" = 78

# -n: the changed keys; read back, valid and the same; -d: every key, valid
good >"$C"
"$GW" -n -c "$C" >"$T_TMP/n1.conf" 2>"$T_TMP/err"
t_check print_changed "$(cat "$T_TMP/err")" grep -qx "max_message_size = 10M" "$T_TMP/n1.conf"
t_check print_changed_no_defaults "$(cat "$T_TMP/n1.conf")" \
	bash -c "! grep -qE '^(min_version|timeout|workers) =' '$T_TMP/n1.conf'"
out=$("$GW" -t -c "$T_TMP/n1.conf" 2>&1)
t_check print_changed_valid "$out" test $? = 0
"$GW" -n -c "$T_TMP/n1.conf" >"$T_TMP/n2.conf" 2>&1
t_check print_changed_stable "$(diff "$T_TMP/n1.conf" "$T_TMP/n2.conf")" cmp -s "$T_TMP/n1.conf" "$T_TMP/n2.conf"
"$GW" -d -c "$C" >"$T_TMP/d.conf" 2>&1
out=$("$GW" -t -c "$T_TMP/d.conf" 2>&1)
t_check print_all_valid "$out" test $? = 0
# every key of the table: the generated smtpsec-gateway.conf(5) lists them
keys=$("$GW" --print-conf-man | sed -n 's/^\\fB\([a-z_]*\)\\fR = .*/\1/p' | sort -u)
missing=""
for k in $keys; do grep -q "^$k =" "$T_TMP/d.conf" || missing="$missing $k"; done
t_check print_all_every_key "missing:$missing" test -z "$missing" -a "$(wc -w <<<"$keys")" -ge 40
t_check print_all_default_comment "$(grep max_message_size "$T_TMP/d.conf")" \
	grep -qx "max_message_size = 10M  # default: 50M" "$T_TMP/d.conf"
printf '[redis]\nurl = redis://u:s3cret@127.0.0.1:6379\n' >>"$C"
t_check print_hides_password "$("$GW" -n -c "$C" | grep url)" \
	bash -c "'$GW' -n -c '$C' | grep -qx 'url = redis://u:\*\*\*\*\*@127.0.0.1:6379'"
t_check print_shows_password "$("$GW" -n -P -c "$C" | grep url)" \
	bash -c "'$GW' -n -P -c '$C' | grep -qx 'url = redis://u:s3cret@127.0.0.1:6379'"

# smtpsec-verify -c takes a gateway configuration for any step, with or
# without a [tls] section (it serves no TLS)
V=$BUILD/smtpsec-verify
pki_leaf vct p256 valid "DNS:mx.a.test" "log1" >/dev/null 2>&1 || t_fail verify_setup "pki_leaf"
printf '[dns]\nunbound_conf = /dev/null\ntimeout = 1s\n[verify]\nca_file = %s\nct_log_list = %s\n' \
	"$PKI/root.pem" "$PKI/log_list.json" >"$T_TMP/notls.conf"
t_expect verify_ct_only_without_tls 0 'step 9 ct: pass: 1 valid SCT' \
	"$V" -c "$T_TMP/notls.conf" --ct-only --chain "$PKI/vct.chain"
t_expect verify_pkix_only_without_tls 0 'step 8 pkix: pass' \
	"$V" -c "$T_TMP/notls.conf" --pkix-only --name mx.a.test --chain "$PKI/vct.chain"
# steps 5-9: the configuration is taken; the verdict depends on DNS here
# (no answer for a.test: tempfail, 75; or a resolver that proves it absent: 1)
out=$("$V" -c "$T_TMP/notls.conf" --chain "$PKI/vct.chain" --domain a.test 2>&1)
rc=$?
t_check verify_steps_without_tls "exit $rc: $out" \
	bash -c "[ $rc = 75 -o $rc = 1 ] && grep -q '^result: ' <<<'$out'"
good >"$C"
t_expect verify_ct_only_gateway_conf 0 'step 9 ct: pass' \
	"$V" -c "$C" --ct-only --chain "$PKI/vct.chain"
t_expect verify_bad_conf_is_78 78 'max_message_size' \
	"$V" -c <(good | sed 's/^max_message_size = .*/max_message_size = 50Mbb/') --ct-only --chain "$PKI/vct.chain"
