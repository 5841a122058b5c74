#!/bin/bash
# make demo: the gateway doing its job, on loopback, in one command.
#
# Starts NSD with DNSSEC-signed zones for a sender domain (example.test) and
# a receiving domain (b.test), a Dovecot LMTP with the mailbox bob@b.test,
# Redis, and smtpsec-gateway; sends three signed Emails with smtpsec-send
# (a good one, a tampered one, one to an unknown user); shows each reply,
# the delivered message with its prepended headers, the gateway's log lines
# and smtpsec-stats; then stops everything it started and removes its files.
#
# The sender's certificate is the test PKI's Ed25519 leaf
# (tests/unit/verify/data), published as TLSA 3 1 1 (DANE-EE) under a
# DNSSEC-signed SRV record, so it verifies without any public CA.
export BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_redis.sh"

GW=$BUILD/smtpsec-gateway
SEND=$BUILD/smtpsec-send
STATS=$BUILD/smtpsec-stats
D="$T_SRC/tests/unit/verify/data"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
for b in "$GW" "$SEND" "$STATS"; do [ -x "$b" ] || die "$b is not built (run make)"; done

say "Test PKI: the sender's Ed25519 certificate"
openssl x509 -in "$D/leaf.pem" -noout -subject -ext subjectAltName 2>/dev/null | sed 's/^/   /'
LEAF=$(sed -n 's/^leaf_spki_sha256 //p' "$D/tlsa.txt")

say "The gateway's own certificate (b.test's MX)"
P=$T_TMP/pki
mkdir -p "$P" "$T_TMP/spool"
chmod 777 "$T_TMP/spool"
openssl genpkey -algorithm ED25519 -out "$P/gw.key" 2>/dev/null
openssl req -x509 -new -key "$P/gw.key" -subj "/CN=gw.b.test" -addext subjectAltName=DNS:gw.b.test \
	-days 30 -out "$P/gw.pem" 2>/dev/null || die "openssl failed"
cat "$D/leaf.pem" "$D/inter.pem" >"$P/chain.pem"
PORT=$(t_free_port)
echo "   gw.b.test, listening on 127.0.0.1:$PORT"

say "DNS: NSD on loopback serving DNSSEC-signed zones"
dns_init
dns_zone example.test signed
dns_rr example.test "_smtpsec._tcp.example.test. 300 IN SRV 10 10 4650 mx1.example.test."
dns_rr example.test "_4650._tcp.mx1.example.test. 300 IN TLSA 3 1 1 $LEAF"
dns_zone b.test signed
cat >"$T_TMP/gw.conf" <<EOF
[server]
listen = 127.0.0.1:$PORT
workers = 1
hostname = gw.b.test
[tls]
certificate = $P/gw.pem
key = $P/gw.key
[dns]
unbound_conf = $T_TMP/dns/unbound.conf
trust_anchor_file =
timeout = 3s
[verify]
ca_file = $D/root.pem
ct_log_list =
[lmtp]
target = unix:$T_TMP/dovecot/base/lmtp
spool_dir = $T_TMP/spool
[headers]
authserv_id = gw.b.test
EOF
# what b.test publishes for its gateway, as --print-dns says
"$GW" -c "$T_TMP/gw.conf" --print-dns b.test 2>/dev/null | grep -E 'SRV|TLSA' | while read -r line; do
	dns_rr b.test "$line"
done
dns_start || die "NSD did not start"
echo "   zones: test. (trust anchor), example.test (sender), b.test (receiver); records published:"
grep -h -E 'SRV|TLSA' "$DNS_DIR/example.test.rr" "$DNS_DIR/b.test.rr" | sed 's/^/     /'

say "Dovecot LMTP with the mailbox bob@b.test, and Redis"
dovecot_start bob@b.test || die "Dovecot did not start"
redis_start || die "redis-server did not start"
cat >>"$T_TMP/gw.conf" <<EOF
[redis]
url = redis://127.0.0.1:$REDIS_PORT
stats_interval = 200ms
instance = gw.b.test:$PORT
EOF
"$GW" -t -c "$T_TMP/gw.conf" | sed 's/^/   /'

say "smtpsec-gateway"
"$GW" -f -c "$T_TMP/gw.conf" >>"$T_TMP/gw.log" 2>&1 &
t_track_pid $!
t_wait_port "$PORT" 10 || die "the gateway did not start: $(tail -3 "$T_TMP/gw.log")"
echo "   running (pid $!)"

send() {	# LABEL MESSAGE-FILE RCPT [extra smtpsec-send options]
	local label=$1 msg=$2 rcpt=$3
	shift 3
	say "Email: $label"
	"$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/gw.pem" --servername gw.b.test \
		--key "$D/leaf.key" --chain "$P/chain.pem" --rcpt "$rcpt" --message "$msg" \
		--trace "X-Demo: $label" --max-seconds 20 "$@" 2>&1 | sed 's/^/   /'
}
mk() {	# FILE SUBJECT
	printf 'From: Alice <alice@example.test>\r\nTo: bob@b.test\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nHello Bob, this is %s.\r\n' \
		"$2" "$(date -R)" "$RANDOM$RANDOM" "$2" >"$1"
}
mk "$T_TMP/good.eml" "a signed Email"
mk "$T_TMP/tampered.eml" "an Email changed after signing"
mk "$T_TMP/unknown.eml" "an Email to nobody"
send "good (expect email_delivered)" "$T_TMP/good.eml" bob@b.test
send "tampered (expect authentication_failed)" "$T_TMP/tampered.eml" bob@b.test --tamper
send "unknown user (expect unknown_address)" "$T_TMP/unknown.eml" nobody@b.test

say "Bob's mailbox: $(dovecot_mail_count bob@b.test) message(s); the delivered copy"
f=$(dovecot_mail_files bob@b.test | tail -1)
[ -n "$f" ] && sed 's/\r$//; s/^/   | /' "$f"

say "Gateway log"
sed 's/^/   /' "$T_TMP/gw.log"

say "smtpsec-stats"
sleep 0.5
"$STATS" --url "redis://127.0.0.1:$REDIS_PORT" --interval 0.5 2>&1 | sed 's/^/   /'
# for tests/integration/t_demo.sh: the same numbers as JSON
[ -n "${DEMO_JSON:-}" ] && "$STATS" --url "redis://127.0.0.1:$REDIS_PORT" --interval 0.2 --json >"$DEMO_JSON" 2>&1

say "Stopping everything (NSD, Dovecot, Redis, the gateway) and removing $T_TMP"
exit 0
