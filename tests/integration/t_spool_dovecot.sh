#!/bin/bash
# One owner per spool entry against real Dovecot with quota (issue 16; the
# stand-in variant is t_spool_owners.sh): workers = 4, Dovecot's quota
# plugin answering 452 after the data (quota_full_tempfail) while bob is
# over quota, then taking everything once the quota is raised.  Every Email
# is tracked by its Message-ID in bob's maildir.
#   A  Emails acknowledged while bob is over quota (spooled), then the quota
#      raised: each stored exactly once; one event=spool delivered line each
#   B  entries already in the spool when the gateway starts: each stored once
#   C  Dovecot frozen (SIGSTOP), the gateway started, a worker SIGKILLed
#      with its retries waiting on the mailstore, Dovecot resumed: each
#      stored exactly once
# Short form here (40 Emails); make robustness runs it with 200
# (tests/robustness/r_spool_dovecot.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_spool.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
if [ "${ROBUSTNESS_LONG:-0}" = 1 ]; then N=200; else N=40; fi
CONNS=4
GW_WORKERS=4
SPOOL=$T_TMP/spool
P=$T_TMP
mkdir -p "$SPOOL"
gw_pki || { t_fail pki "openssl failed"; exit 1; }
dovecot_start bob@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }
chmod 777 "$SPOOL"
gw_conf gw "[lmtp]" "target = unix:$DOVECOT_SOCKET" "connections = $CONNS" "timeout = 10s" \
	"spool_dir = $SPOOL" "spool_retry = 1s"

stored_counts() {	# PREFIX: "ID COUNT" for every Email of PREFIX in bob's maildir
	dovecot_mail_files bob@b.test | xargs -r grep -h "^Message-ID: <$1-[0-9]*@sp.test>" 2>/dev/null |
		tr -d '\r' | awk '{print $2}' | sort | uniq -c | awk '{print $2, $1}'
}
once() {	# PREFIX
	local c
	c=$(stored_counts "$1")
	[ "$(wc -l <<<"$c")" = "$N" ] && ! awk '$2 != 1 { bad = 1 } END { exit !bad }' <<<"$c"
}
all_stored() { [ "$(stored_counts "$1" | wc -l)" = "$N" ] && [ "$(sp_entries)" = 0 ]; }
summary() { stored_counts "$1" | awk '{ c[$2]++ } END { for (k in c) printf "%d stored %dx; ", c[k], k }'; }
entries() {	# PREFIX TAG: N spool entries for PREFIX-1..N, written whole then renamed in
	local now i
	now=$(date +%s)
	sp_msgs "$1" "$N"
	for ((i = 1; i <= N; i++)); do
		{ printf 'SMTPSEC-SPOOL 1\ncreated %s\nattempts 0\nnext 0\nfrom alice@example.test\nrcpt bob@b.test\n\n' "$now"
		  cat "$T_TMP/m/$1-$i"; } >"$SPOOL/$now-$2-$i.msg.tmp"
	done
	for ((i = 1; i <= N; i++)); do mv "$SPOOL/$now-$2-$i.msg.tmp" "$SPOOL/$now-$2-$i.msg"; done
}
gw_stop() {
	kill -TERM "$GW_PID"
	t_wait_for 15 bash -c "! kill -0 $GW_PID"
}

# --- A: over quota at the direct delivery, spooled, quota raised ------------------
dovecot_stop
dovecot_quota bob@b.test 10
dovecot_restart || { t_fail dovecot_restart "Dovecot did not come back"; exit 1; }
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
sp_msgs a "$N"
out=$(sp_send a 1 "$N")
t_check a_acknowledged "$(grep -c 'email_delivered$' <<<"$out") of $N: $(grep -v email_delivered <<<"$out" | head -3)" \
	test "$(grep -c 'email_delivered$' <<<"$out")" = "$N"
t_check a_spooled_over_quota "$(sp_entries) entries, $(stored_counts a | wc -l) stored" \
	test "$(stored_counts a | wc -l)" = 0 -a "$(sp_entries)" -gt 0
dovecot_stop
dovecot_quota bob@b.test 1000000000
dovecot_restart || { t_fail dovecot_restart2 "Dovecot did not come back"; exit 1; }
t_wait_for 60 all_stored a
t_check a_each_stored_once "$(summary a), $(sp_entries) entries left" once a
t_check a_delivered_logged "$(grep -c 'event=spool .*result=delivered' "$P/gw.log") delivered lines" \
	test "$(grep -c 'event=spool .*result=delivered' "$P/gw.log")" = "$N"
w=$(grep 'event=spool .*result=delivered' "$P/gw.log" | sed 's/.*smtpsec-gateway\[\([0-9]*\)\].*/\1/' | sort -u | wc -l)
t_check a_shared_by_workers "delivered by $w worker(s)" test "$w" -ge 2
gw_stop

# --- B: entries in the spool at start ----------------------------------------------
entries b 1
gw_run gw || { t_fail gateway_restart "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
t_wait_for 60 all_stored b
t_check b_each_stored_once "$(summary b), $(sp_entries) entries left" once b
gw_stop

# --- C: a worker SIGKILLed with retries in flight -----------------------------------------
# Dovecot frozen (SIGSTOP, master and its processes, by PID) before the
# gateway starts: every worker claims entries and waits on the mailstore;
# one of them is SIGKILLed there, then Dovecot resumes.  The dead worker's
# flocks are gone with it, the others take its entries.  (The duplicate
# window itself, 250 received and entry not yet removed, is timed with the
# stand-in that can stall after the data: t_spool_owners.sh, t_crash.sh.)
entries c 2
logstart=$(wc -l <"$P/gw.log")
dpids="$DOVECOT_PID $(pgrep -P "$DOVECOT_PID" | tr '\n' ' ')"
kill -STOP $dpids 2>/dev/null
gw_run gw || { kill -CONT $dpids; t_fail gateway_restart2 "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
sleep 1
victim=$(pgrep -P "$GW_PID" | head -1)
claims=$(ls -l /proc/"$victim"/fd 2>/dev/null | grep -c "$SPOOL/.*\.msg$")	# entries it holds (flock)
at_kill=$(stored_counts c | wc -l)
kill -KILL "$victim"
sleep 0.2
kill -CONT $dpids 2>/dev/null
t_wait_for 60 all_stored c
t_check c_each_stored_once "$(summary c), $(sp_entries) entries left" once c
t_check c_worker_killed "$(grep -c worker_died "$P/gw.log") worker_died lines" \
	grep -q "worker_died pid=$victim" "$P/gw.log"
t_check c_victim_held_claims "the victim held $claims entries at the kill" test "$claims" -ge 1
t_check c_victim_logged_nothing "the victim finished a retry before the kill" \
	bash -c "! tail -n +$((logstart + 1)) '$P/gw.log' | grep -q 'smtpsec-gateway\[$victim\].*event=spool'"
echo "# C: $N entries, worker $victim killed holding $claims of them ($at_kill stored at the kill); $(summary c)"
gw_stop
exit 0
