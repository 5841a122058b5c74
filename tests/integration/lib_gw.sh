# lib_gw.sh: a gateway that needs no DNS, for tests of transport, limits
# and delivery: steps 5-9 are skipped with --insecure-skip-chain-checks
# (accepted because lib.sh sets SMTPSEC_TEST_MODE=1).  Source after lib.sh.
#
#   gw_pki                  $T_TMP/c.pem + k.pem: a P-256 certificate for gw.b.test;
#                           $T_TMP/chain.pem: the sender chain of $GW_DATA
#                           (its leaf.key signs the test Emails)
#   gw_conf NAME [LINE...]  $T_TMP/NAME.conf: [server] on 127.0.0.1:$PORT (a new
#                           free port), $GW_WORKERS workers (1), hostname gw.b.test;
#                           [tls] with that certificate; [dns] unbound_conf =
#                           /dev/null; then each LINE (more sections)
#   gw_run NAME             start the gateway on NAME.conf, log NAME.log; sets GW_PID
#                           and W (its first worker); fails when no listener comes up
#   GW_SENDER               smtpsec-send arguments for that server and sender:
#                           "${GW_SENDER[@]}" --rcpt ... --message ...

GW=${GW:-$BUILD/smtpsec-gateway}
SEND=${SEND:-$BUILD/smtpsec-send}
GW_DATA=$T_SRC/tests/unit/verify/data
GW_WORKERS=${GW_WORKERS:-1}
GW_PID=
W=
PORT=
GW_SENDER=()

gw_pki() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_TMP/k.pem" \
		-out "$T_TMP/c.pem" -subj /CN=gw.b.test -addext subjectAltName=DNS:gw.b.test -days 2 2>/dev/null ||
		return 1
	cat "$GW_DATA/leaf.pem" "$GW_DATA/inter.pem" >"$T_TMP/chain.pem"
}

gw_conf() {	# NAME [LINE...]
	local name=$1
	shift
	PORT=$(t_free_port)
	{
		printf '[server]\nlisten = 127.0.0.1:%s\nworkers = %s\nhostname = gw.b.test\n' "$PORT" "$GW_WORKERS"
		printf '[tls]\ncertificate = %s\nkey = %s\n' "$T_TMP/c.pem" "$T_TMP/k.pem"
		printf '[dns]\nunbound_conf = /dev/null\n'
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >"$T_TMP/$name.conf"
	GW_SENDER=(--connect "127.0.0.1:$PORT" --cafile "$T_TMP/c.pem" --servername gw.b.test
		--key "$GW_DATA/leaf.key" --chain "$T_TMP/chain.pem")
}

gw_run() {	# NAME
	"$GW" -f -c "$T_TMP/$1.conf" --insecure-skip-chain-checks >>"$T_TMP/$1.log" 2>&1 &
	GW_PID=$!
	t_track_pid "$GW_PID"
	t_wait_port "$PORT" 15 || return 1
	W=$(pgrep -P "$GW_PID" | head -1)
}
