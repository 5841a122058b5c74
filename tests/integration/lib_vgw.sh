# A verifying gateway for the integration tests: real DNS (lib_nsd.sh's
# libunbound configuration), PKIX + CT, Dovecot's LMTP socket
# (lib_dovecot.sh).  lib_gw.sh's gateway, by contrast, runs with
# --insecure-skip-chain-checks and no DNS.  Source after lib.sh,
# lib_nsd.sh and lib_dovecot.sh; set GW and PORT first.
#
#   vgw_conf HOSTNAME CERT KEY CA_FILE CT_LIST AUTHSERV [LINE...]
#       writes $T_TMP/gw.conf: one worker on 127.0.0.1:$PORT, DNS timeout
#       2 s, spool in $T_TMP/spool; each LINE is appended (a section may
#       be opened again, e.g. "[dns]" "cache = redis")
#   gw_start    the gateway in the foreground mode, log $T_TMP/gw.log,
#               GW_PID; waits for the port
#   gw_stop     SIGTERM, then waits for it (bounded)

GW_PID=

vgw_conf() {
	local host=$1 cert=$2 key=$3 ca=$4 ct=$5 authserv=$6
	shift 6
	mkdir -p "$T_TMP/spool" && chmod 777 "$T_TMP/spool"
	{
		printf '[server]\nlisten = 127.0.0.1:%s\nworkers = 1\nhostname = %s\n' "$PORT" "$host"
		printf '[tls]\ncertificate = %s\nkey = %s\n' "$cert" "$key"
		printf '[dns]\nunbound_conf = %s\ntrust_anchor_file =\ntimeout = 2s\n' "$DNS_UNBOUND_CONF"
		printf '[verify]\nca_file = %s\nct_log_list = %s\n' "$ca" "$ct"
		printf '[lmtp]\ntarget = unix:%s\nspool_dir = %s\n' "$DOVECOT_SOCKET" "$T_TMP/spool"
		printf '[headers]\nauthserv_id = %s\n' "$authserv"
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >"$T_TMP/gw.conf"
}

gw_start() {
	"$GW" -f -c "$T_TMP/gw.conf" >>"$T_TMP/gw.log" 2>&1 &
	GW_PID=$!
	t_track_pid "$GW_PID"
	t_wait_port "$PORT" 10
}

gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$GW_PID" 2>/dev/null
}
