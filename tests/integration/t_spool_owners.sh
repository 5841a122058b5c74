#!/bin/bash
# One owner per spool entry (lmtp/lmtp_spool.c), with workers = 4, the real
# gateway, Redis for the stats and a mailstore stand-in (lmtp_flaky.py) that
# answers 451 after the data for the first attempts of each Email, then 250.
# Every Email is tracked by its Message-ID in the stand-in's log.
#   A  Emails spooled at run time (451 on the direct delivery and on the first
#      retry): each stored exactly once; one event=spool line per retry
#   B  entries already in the spool when the gateway starts: each stored once;
#      the spool_depth gauge is per host (not multiplied by the workers)
#   C  a worker SIGKILLed with retries in flight: its claims are free at once,
#      each Email stored once; a duplicate is only allowed inside the window
#      README names (the mailstore had the whole Email, the entry not yet
#      removed), and then it must be one the killed worker sent
# Short form here (40 Emails); make robustness runs it with 200.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_redis.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_spool.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
if [ "${ROBUSTNESS_LONG:-0}" = 1 ]; then N=200; else N=40; fi
GW_WORKERS=4
SPOOL=$T_TMP/spool
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
redis_start || { t_fail redis_start "redis-server did not start"; exit 1; }
flaky_start 2 || { t_fail flaky_start "stand-in did not start: $(cat "$T_TMP/flaky.err")"; exit 1; }
gw_conf gw "[lmtp]" "target = unix:$FLAKY_SOCK" "connections = 4" "timeout = 10s" \
	"spool_dir = $SPOOL" "spool_retry = 1s" \
	"[redis]" "url = redis://127.0.0.1:$REDIS_PORT" "stats_interval = 200ms"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }

once() {	# PREFIX: every one of the N Emails stored exactly once
	local c
	c=$(sp_stored_counts "$1")
	[ "$(wc -l <<<"$c")" = "$N" ] && ! awk '$2 != 1 { bad = 1 } END { exit !bad }' <<<"$c"
}
all_stored() { [ "$(sp_stored_counts "$1" | wc -l)" = "$N" ] && [ "$(sp_entries)" = 0 ]; }
summary() { sp_stored_counts "$1" | awk '{ c[$2]++ } END { for (k in c) printf "%d stored %dx; ", c[k], k }'; }

# --- A: spooled at run time ---------------------------------------------------
sp_msgs a "$N"
out=$(sp_send a 1 "$N")
t_check a_acknowledged "$(grep -c 'email_delivered$' <<<"$out") of $N: $(grep -v email_delivered <<<"$out" | head -3)" \
	test "$(grep -c 'email_delivered$' <<<"$out")" = "$N"
t_wait_for 90 all_stored a
t_check a_each_stored_once "$(summary a), $(sp_entries) entries left" once a
t_check a_delivered_logged "$(grep -c 'event=spool .*result=delivered' "$P/gw.log") delivered lines" \
	test "$(grep -c 'event=spool .*result=delivered' "$P/gw.log")" = "$N"
t_check a_deferred_logged "$(grep -c 'event=spool .*attempt=1 result=deferred' "$P/gw.log") deferred lines" \
	test "$(grep -c 'event=spool .*attempt=1 result=deferred' "$P/gw.log")" = "$N"
pids=$(grep '^250 <a-' "$FLAKY_LOG" | sed 's/.*pid=\([0-9]*\).*/\1/' | sort -u | wc -l)
t_check a_shared_by_workers "retries from $pids worker(s)" test "$pids" -ge 2
# the counters: retries = deferred + delivered, summed over the workers
sleep 0.5
sum() { rcli HGET "smtpsec:stats:gw.b.test:$PORT" "$1"; }
t_check a_stats "retries=$(sum spool_retries) delivered=$(sum spool_delivered) deferred=$(sum spool_deferred)" \
	test "$(sum spool_retries)/$(sum spool_delivered)/$(sum spool_deferred)" = "$((2 * N))/$N/$N"

# --- B: entries in the spool at start -------------------------------------------
kill -TERM "$GW_PID"
t_wait_for 15 bash -c "! kill -0 $GW_PID"
flaky_stop
flaky_start 1 || t_fail flaky_restart "stand-in did not start"
sp_msgs b "$N"
now=$(date +%s)
for ((i = 1; i <= N; i++)); do
	{ printf 'SMTPSEC-SPOOL 1\ncreated %s\nattempts 0\nnext 0\nfrom alice@example.test\nrcpt bob@b.test\n\n' "$now"
	  cat "$T_TMP/m/b-$i"; } >"$SPOOL/$now-1-$i.msg"
done
rcli DEL "smtpsec:stats:gw.b.test:$PORT" >/dev/null
gw_run gw || { t_fail gateway_restart "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
gauges() { rcli HGETALL "smtpsec:stats:gw.b.test:$PORT" | paste - - | grep '^spool_depth\.w'; }
depth_sum() { gauges | awk '{ s += $2 } END { print s + 0 }'; }
t_wait_for 10 test "$(depth_sum)" -gt 0
d=$(depth_sum)
t_check b_gauge_per_host "spool_depth over workers: $(gauges | tr '\n\t' ' =') (entries $N)" \
	test "$d" -le "$N"
nz=$(gauges | awk '$1 != "spool_depth.w0" && $2 != 0' | wc -l)
t_check b_gauge_from_worker0 "$(gauges | tr '\n\t' ' =')" test "$nz" = 0
t_wait_for 90 all_stored b
t_check b_each_stored_once "$(summary b), $(sp_entries) entries left" once b

# --- C: a worker SIGKILLed with retries in flight --------------------------------
flaky_stop
flaky_start 1 0.3 || t_fail flaky_restart "stand-in did not start"
logstart=$(wc -l <"$P/gw.log")
sp_msgs c "$N"
now=$(date +%s)
for ((i = 1; i <= N; i++)); do
	{ printf 'SMTPSEC-SPOOL 1\ncreated %s\nattempts 0\nnext 0\nfrom alice@example.test\nrcpt bob@b.test\n\n' "$now"
	  cat "$T_TMP/m/c-$i"; } >"$SPOOL/$now-2-$i.msg.tmp"
done
for ((i = 1; i <= N; i++)); do mv "$SPOOL/$now-2-$i.msg.tmp" "$SPOOL/$now-2-$i.msg"; done
t_wait_for 30 bash -c "[ \$(grep -c '^[0-9]* <c-' '$FLAKY_LOG') -ge $((N / 4)) ]"
victim=$(pgrep -P "$GW_PID" | head -1)
kill -KILL "$victim"
t_wait_for 90 all_stored c
c=$(sp_stored_counts c)
dups=$(awk '$2 > 1' <<<"$c" | wc -l)
# inside the window: the first copy was the killed worker's, and it never
# logged that retry as delivered (it died between the data and the update)
by_victim=$(grep "^250 <c-.*pid=$victim " "$FLAKY_LOG" | wc -l)
logged_victim=$(tail -n +$((logstart + 1)) "$P/gw.log" | grep "smtpsec-gateway\[$victim\].*event=spool.*result=delivered" | wc -l)
t_check c_all_stored "$(summary c), $(sp_entries) entries left" test "$(wc -l <<<"$c")" = "$N"
t_check c_dups_only_in_window "$dups duplicate(s); killed worker stored $by_victim, logged $logged_victim" \
	test "$dups" -le $((by_victim - logged_victim))
t_check c_worker_restarted "$(grep -c worker_died "$P/gw.log") worker_died lines" grep -q "worker_died pid=$victim" "$P/gw.log"
echo "# C: $N entries, worker $victim killed mid-retry: $dups duplicate(s), window held $((by_victim - logged_victim)) Email(s)"
echo "# record_us (250 -> entry removed, durable): max $(grep -o 'result=delivered.*record_us=[0-9]*' "$P/gw.log" | sed 's/.*=//' | sort -n | tail -1) us over $(grep -c 'result=delivered' "$P/gw.log") retries"
exit 0
