#!/bin/bash
# smtpsec-spool on a real spool: the gateway (workers = 2) spools Emails the
# mailstore stand-in answers 451 for, with a 1 h retry so they wait; the
# tool lists and shows them, refuses to touch an entry whose claim is held
# (flock, as a worker's retry holds it), makes one due now (delivered at the
# next scan while the others keep waiting), removes one (never delivered),
# brings one back from failed/, and retries the rest with --all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_spool.sh"

SP=$BUILD/smtpsec-spool
for b in "$GW" "$SEND" "$SP"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
GW_WORKERS=2
SPOOL=$T_TMP/spool
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
flaky_start 1000 || { t_fail flaky_start "stand-in did not start: $(cat "$T_TMP/flaky.err")"; exit 1; }
gw_conf gw "[lmtp]" "target = unix:$FLAKY_SOCK" "connections = 2" "timeout = 10s" \
	"spool_dir = $SPOOL" "spool_retry = 1h"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }

sp_msgs t 4
out=$(sp_send t 1 4)
t_check acknowledged "$out" test "$(grep -c 'email_delivered$' <<<"$out")" = 4
t_check four_entries "$(sp_entries) entries" test "$(sp_entries)" = 4

# the entry that holds Message-ID <t-I@sp.test>
id_of() { basename "$(grep -l "^Message-ID: <t-$1@sp.test>" "$SPOOL"/*.msg "$SPOOL"/failed/*.msg 2>/dev/null | head -1)" .msg; }
I1=$(id_of 1) I2=$(id_of 2) I3=$(id_of 3) I4=$(id_of 4)

"$SP" -d "$SPOOL" list >"$T_TMP/list.out" 2>&1
t_check list "$(cat "$T_TMP/list.out")" bash -c "[ \$(grep -c ' waiting .* alice@example.test -> bob@b.test\$' '$T_TMP/list.out') = 4 ] &&
	grep -q '^$I1 *waiting ' '$T_TMP/list.out' && grep -q '^-- 4 in the spool, 0 in failed/' '$T_TMP/list.out'"
# -c CONFIG finds the same directory
t_check list_from_config "$("$SP" -c "$P/gw.conf" list 2>&1 | tail -1)" \
	bash -c "'$SP' -c '$P/gw.conf' list | grep -q '^-- 4 in the spool'"

"$SP" -d "$SPOOL" show "$I1" >"$T_TMP/show.out" 2>&1
t_check show "$(head -12 "$T_TMP/show.out" | tr '\n' '|')" bash -c "grep -qx 'id: $I1' '$T_TMP/show.out' &&
	grep -qx 'rcpt: bob@b.test' '$T_TMP/show.out' && grep -qx 'attempts: 0' '$T_TMP/show.out' &&
	grep -q '^Subject: t-1' '$T_TMP/show.out' && ! grep -q '^body 1' '$T_TMP/show.out'"
t_check show_body "" bash -c "'$SP' -d '$SPOOL' show --body '$I1' | grep -q '^body 1'"

# a held claim (a worker delivering it): retry and remove refuse, list says so
flock -x "$SPOOL/$I2.msg" sleep 4 &
lockpid=$!
t_track_pid "$lockpid"
sleep 0.5
out=$("$SP" -d "$SPOOL" remove "$I2" 2>&1); rc=$?
t_check busy_remove_refused "rc $rc: $out" bash -c "[ $rc = 75 ] && grep -q 'being delivered right now' <<<'$out' && [ -f '$SPOOL/$I2.msg' ]"
out=$("$SP" -d "$SPOOL" retry "$I2" 2>&1); rc=$?
t_check busy_retry_refused "rc $rc: $out" test "$rc" = 75
t_check busy_listed "" bash -c "'$SP' -d '$SPOOL' list | grep -q '^$I2 *delivering '"
wait "$lockpid"

# the mailstore is well again; nothing is due for an hour
flaky_stop
flaky_start 0 || { t_fail flaky_restart "stand-in did not restart"; exit 1; }
out=$("$SP" -d "$SPOOL" retry "$I1" 2>&1); rc=$?
t_check retry_now "rc $rc: $out" test "$rc" = 0
t_wait_for 25 test ! -e "$SPOOL/$I1.msg"
t_check retried_delivered "$(cat "$FLAKY_LOG" | tail -3 | tr '\n' '|')" \
	bash -c "grep -q '^250 <t-1@sp.test>' '$FLAKY_LOG' && [ ! -e '$SPOOL/$I1.msg' ]"
t_check others_still_waiting "$(sp_entries) entries" \
	bash -c "[ $(sp_entries) = 3 ] && ! grep -q '^250 <t-[234]@sp.test>' '$FLAKY_LOG'"
grep -q "event=spool entry=$I1.msg .*result=delivered" "$P/gw.log" && t_pass retry_logged ||
	t_fail retry_logged "$(grep event=spool "$P/gw.log" | tail -2)"

out=$("$SP" -d "$SPOOL" remove "$I2" 2>&1); rc=$?
t_check remove "rc $rc: $out" bash -c "[ $rc = 0 ] && [ ! -e '$SPOOL/$I2.msg' ]"
out=$("$SP" -d "$SPOOL" remove "$I2" 2>&1); rc=$?
t_check remove_again_not_found "rc $rc: $out" test "$rc" = 66

# an entry in failed/ (as spool_max_age leaves it) comes back with retry
mv "$SPOOL/$I3.msg" "$SPOOL/failed/"
t_check failed_listed "" bash -c "'$SP' -d '$SPOOL' list | grep -q '^$I3 *failed '"
if command -v strace >/dev/null; then
	# the unlink from failed/ is made durable there (fsync of failed/
	# itself), or after a crash the entry could be back in failed/ as well
	# (LeakSanitizer cannot run under ptrace: off for this one run)
	out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=openat,fsync \
		-o "$T_TMP/retry.strace" "$SP" -d "$SPOOL" retry "$I3" 2>&1); rc=$?
	# the openat of failed/ itself, then an fsync of the descriptor it returned
	synced=$(awk -v dir="\"$SPOOL/failed\"," '
		index($0, "openat(AT_FDCWD, " dir) && /O_DIRECTORY/ { fd = $NF; next }
		fd != "" && index($0, "fsync(" fd ")") && / = 0$/ { print "yes"; exit }' "$T_TMP/retry.strace")
	t_check failed_requeue_syncs_failed_dir "$(tr '\n' ' ' <"$T_TMP/retry.strace" | tail -c 600)" \
		test "$synced" = yes
else
	out=$("$SP" -d "$SPOOL" retry "$I3" 2>&1); rc=$?
	t_skip failed_requeue_syncs_failed_dir "strace is not installed"
fi
t_check failed_requeued "rc $rc: $out" bash -c "[ $rc = 0 ] && [ ! -e '$SPOOL/failed/$I3.msg' ]"
"$SP" -d "$SPOOL" retry --all >"$T_TMP/all.out" 2>&1
t_wait_for 25 bash -c "[ \$(ls '$SPOOL' | grep -c '\.msg\$') = 0 ]"
t_check retry_all_delivered "$(sp_entries) left; $(grep '^250' "$FLAKY_LOG" | tr '\n' ' ')" bash -c "
	[ $(sp_entries) = 0 ] && grep -q '^250 <t-3@sp.test>' '$FLAKY_LOG' && grep -q '^250 <t-4@sp.test>' '$FLAKY_LOG' &&
	! grep -q '^250 <t-2@sp.test>' '$FLAKY_LOG' && [ \$(grep -c '^250 <t-1@sp.test>' '$FLAKY_LOG') = 1 ]"

# usage and names
"$SP" -d "$SPOOL" >/dev/null 2>&1; rc=$?
t_check usage_no_command "rc $rc" test "$rc" = 64
"$SP" -d "$SPOOL" show ../gw.conf >/dev/null 2>&1; rc=$?
t_check no_path_escape "rc $rc" test "$rc" = 66
"$SP" -c "$T_TMP/none.conf" list >/dev/null 2>&1; rc=$?
t_check bad_config "rc $rc" test "$rc" = 78
