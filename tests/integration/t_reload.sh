#!/bin/bash
# SIGHUP re-reads the whole configuration file (README, Reload).  With the
# real gateway (two workers) and the LMTP stand-in keeping what it stores:
#   - a limit, the trace allow-list, the LMTP target and the CT list path
#     changed, SIGHUP: new connections see the change; `workers` changed is
#     logged as ignored until a restart
#   - a broken file, SIGHUP: result=fail logged, nothing changes
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_spool.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
P=$T_TMP
GW_WORKERS=2
gw_pki || { t_fail pki "openssl failed"; exit 1; }
mkdir -p "$P/s1" "$P/s2" "$P/m"
python3 "$T_SRC/tests/integration/lmtp_flaky.py" --socket "$P/l1.sock" --log "$P/l1.log" --store "$P/s1" &
t_track_pid $!
python3 "$T_SRC/tests/integration/lmtp_flaky.py" --socket "$P/l2.sock" --log "$P/l2.log" --store "$P/s2" &
t_track_pid $!
t_wait_for 10 test -S "$P/l1.sock" -a -S "$P/l2.sock"
write_conf() {	# MAX-SIZE TRACE-ALLOW LMTP-SOCKET CT-PATH WORKERS
	gw_conf gw "[lmtp]" "target = unix:$3" "spool_dir = $P/spool" \
		"[verify]" "ct_log_list = $4" \
		"[headers]" "trace_allow = $2" "[limits]" "max_message_size = $1"
	sed -i "s|^listen = .*|listen = 127.0.0.1:${KEEP_PORT:-$PORT}|; s|^workers = .*|workers = $5|" "$P/gw.conf"
	PORT=${KEEP_PORT:-$PORT}
	GW_SENDER=(--connect "127.0.0.1:$PORT" --cafile "$T_TMP/c.pem" --servername gw.b.test
		--key "$GW_DATA/leaf.key" --chain "$T_TMP/chain.pem")
}
printf 'From: Alice <alice@example.test>\r\nTo: bob@b.test\r\nSubject: small\r\nMessage-ID: <small@rl.test>\r\n\r\nhi\r\n' >"$P/m/small"
{ printf 'From: Alice <alice@example.test>\r\nTo: bob@b.test\r\nSubject: big\r\nMessage-ID: <big@rl.test>\r\n\r\n'
  head -c 100000 /dev/zero | tr '\0' 'b' | fold -w 76 | sed 's/$/\r/'; } >"$P/m/big"
send() {	# MESSAGE: the reply line
	"$SEND" "${GW_SENDER[@]}" --rcpt bob@b.test --trace 'X-Reload: seen' --max-seconds 30 \
		--message "$P/m/$1" 2>&1 | grep '^reply'
}
hup_wait() {	# REGEX: SIGHUP, wait for the (count+1)th matching line
	local before
	before=$(grep -cE "$1" "$P/gw.log")
	kill -HUP "$GW_PID"
	t_wait_for 10 bash -c "[ \$(grep -cE '$1' '$P/gw.log') -ge $((before + 2)) ]"
}

write_conf 64K Received "$P/l1.sock" /etc/smtpsec/a.json 2
KEEP_PORT=$PORT
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
t_wait_for 10 grep -q 'event=ready' "$P/gw.log"
out=$(send big)
t_check before_limit "$out" grep -q 'error=too_large' <<<"$out"
out=$(send small)
t_check before_delivered_l1 "$out" bash -c "grep -q email_delivered <<<'$out' && ls '$P/s1' | grep -q eml"
t_check before_trace_dropped "X-Reload kept" bash -c "! grep -q '^X-Reload' '$P'/s1/*.eml"

# --- valid change: applied for new connections, `workers` ignored ------------------
write_conf 1M "Received, X-*" "$P/l2.sock" /etc/smtpsec/b.json 3
hup_wait 'event=reload result=ok'
t_check reload_ok_logged "$(grep 'event=reload' "$P/gw.log" | tail -3 | tr '\n' '|')" \
	grep -q 'event=reload result=ok .*ct_log_list=/etc/smtpsec/b.json lmtp=unix:.*l2.sock' "$P/gw.log"
t_check reload_workers_ignored "$(grep 'ignored=' "$P/gw.log" | tail -1)" \
	grep -q 'event=reload ignored=workers note="needs a restart"' "$P/gw.log"
out=$(send big)
t_check after_limit_raised "$out" grep -q 'email_delivered' <<<"$out"
out=$(send small)
t_check after_new_target "$(ls "$P/s2" | wc -l) in the new mailstore" test "$(ls "$P/s2" | wc -l)" = 2
t_check after_trace_kept "no X-Reload in the new copy" bash -c "grep -q '^X-Reload: seen' \$(ls -d '$P'/s2/*.eml | tail -1)"
t_check after_workers_unchanged "$(pgrep -P "$GW_PID" | wc -l) workers" test "$(pgrep -P "$GW_PID" | wc -l)" = 2

# --- broken file: nothing changes ---------------------------------------------------
cp "$P/gw.conf" "$P/gw.good"
write_conf 64K Received "$P/l1.sock" /etc/smtpsec/c.json 2
echo 'this line is not a key' >>"$P/gw.conf"
hup_wait 'event=reload .*result=fail'
t_check broken_logged "$(grep 'result=fail' "$P/gw.log" | tail -1)" \
	grep -q 'event=reload result=fail why=".*gw.conf:.*kept=previous configuration' "$P/gw.log"
t_check broken_master_logged "" grep -q 'event=reload process=master result=fail' "$P/gw.log"
out=$(send big)
t_check broken_limit_unchanged "$out" grep -q 'email_delivered' <<<"$out"
t_check broken_target_unchanged "$(ls "$P/s2" | wc -l) in the second mailstore" test "$(ls "$P/s2" | wc -l)" = 3
# a worker restarted after the failed reload runs the last good file
kill -KILL "$(pgrep -P "$GW_PID" | head -1)"
t_wait_for 10 bash -c "[ \$(pgrep -P $GW_PID | wc -l) = 2 ]"
sleep 0.5
for i in 1 2 3 4; do send big >/dev/null; done
t_check restarted_worker_last_good "$(ls "$P/s1" | wc -l) in the first mailstore" test "$(ls "$P/s1" | wc -l)" = 1
exit 0
