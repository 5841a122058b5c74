# lib_spool.sh: helpers for the spool ownership and crash tests.  Source
# after lib.sh and lib_gw.sh.
#
#   flaky_start FAIL [DELAY [RE]]  the LMTP stand-in (lmtp_flaky.py) on $T_TMP/flaky.sock:
#                             451 after the data for the first FAIL attempts of each
#                             Email (whose Message-ID matches RE, if given), then 250;
#                             log $T_TMP/flaky.log; FLAKY_PID
#   flaky_stop                stop it (SIGTERM, by PID)
#   sp_msgs PREFIX N          $T_TMP/m/PREFIX-1 .. -N, Message-ID <PREFIX-I@sp.test>
#   sp_send PREFIX FROM TO    send PREFIX-FROM..TO on one connection; the replies
#   sp_stored_counts PREFIX   "ID COUNT" for every Email of PREFIX stored (250)
#   sp_entries                .msg entries waiting in $SPOOL

FLAKY_PID=
FLAKY_SOCK=$T_TMP/flaky.sock
FLAKY_LOG=$T_TMP/flaky.log

flaky_start() {	# FAIL [DELAY]
	python3 "$T_SRC/tests/integration/lmtp_flaky.py" --socket "$FLAKY_SOCK" --log "$FLAKY_LOG" \
		--fail "$1" --delay "${2:-0}" ${3:+--fail-match "$3"} 2>>"$T_TMP/flaky.err" &
	FLAKY_PID=$!
	t_track_pid "$FLAKY_PID"
	t_wait_for 10 test -S "$FLAKY_SOCK"
}

flaky_stop() {
	[ -n "$FLAKY_PID" ] || return 0
	kill -TERM "$FLAKY_PID" 2>/dev/null
	wait "$FLAKY_PID" 2>/dev/null
	FLAKY_PID=
	rm -f "$FLAKY_SOCK"
}

sp_msgs() {	# PREFIX N
	local i
	mkdir -p "$T_TMP/m"
	for ((i = 1; i <= $2; i++)); do
		printf 'From: Alice <alice@example.test>\r\nTo: bob@b.test\r\nSubject: %s-%d\r\nMessage-ID: <%s-%d@sp.test>\r\n\r\nbody %d\r\n' \
			"$1" "$i" "$1" "$i" "$i" >"$T_TMP/m/$1-$i"
	done
}

sp_send() {	# PREFIX FROM TO
	local a=() i
	for ((i = $2; i <= $3; i++)); do a+=(--message "$T_TMP/m/$1-$i"); done
	"$SEND" "${GW_SENDER[@]}" --rcpt bob@b.test --max-seconds 120 "${a[@]}" 2>&1
}

sp_stored_counts() {	# PREFIX
	grep "^250 <$1-[0-9]*@sp.test>" "$FLAKY_LOG" 2>/dev/null | awk '{print $2}' | sort | uniq -c |
		awk '{print $2, $1}'
}

sp_entries() { ls "$SPOOL" 2>/dev/null | grep -c '\.msg$'; }
