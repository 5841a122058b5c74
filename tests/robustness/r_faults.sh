#!/bin/bash
# Long form of the fault tests (make robustness): a gateway doing every
# check, with real NSD, Dovecot and Redis on loopback, under load from
# several senders while its backends fail.  Every Email is tracked by its
# Message-ID: each reply is compared with the mailbox, and after retries of
# what failed the mailbox holds exactly the full set.
#   B  Dovecot SIGKILLed mid-transfer, down a while, restarted
#   C  redis-server killed and restarted: delivery continues, stats resume
#   D  NSD stopped: cold-cache Emails get temporary failures (never
#      authentication_failed), warm ones are delivered; NSD back: retries pass
#   E  a worker SIGKILLed mid-Email: restarted, no acknowledgement, retry delivers
#   F  SIGHUP under load: no connection dropped
#   G  SIGTERM under load: in-flight Emails finish; restart; retries deliver
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_redis.sh"
. "$(dirname "$0")/lib_rb.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
if [ "${ROBUSTNESS_LONG:-0}" = 1 ]; then N=250; else N=60; fi
rb_setup || { t_fail setup "servers did not start: $(tail -3 "$RB/gw.log" 2>/dev/null)"; exit 1; }

# no Email may ever get authentication_failed here: every one is authentic
no_authfail() { ! grep -h authentication_failed "$RB"/*.failed >/dev/null 2>&1; }
acked_stored() {	# NAME...: every acknowledged Email is in the mailbox
	local n a s
	for n in "$@"; do
		a=$(wc -l <"$RB/$n.acked")
		s=$(rb_stored_of "$n" "$RB/$n.acked")
		[ "$a" = "$s" ] || { echo "$n: $s of $a acknowledged Emails stored"; return 1; }
	done
}
acked_count() { cat "${@/#/$RB/}" 2>/dev/null | wc -l; }

# --- A: baseline -------------------------------------------------------------------
rb_msgs A 20
rb_send A
r=$(rb_exact A)
t_check baseline_exact "$r $(tail -2 "$RB/A.out")" rb_exact A

# --- B: Dovecot SIGKILL mid-transfer ---------------------------------------------
for i in 1 2 3 4; do rb_msgs B$i $((3 * N)) example.test 3000; done
rb_send_bg B1 B2 B3 B4
t_wait_for 30 rb_live_at_least 20 B1 B2 B3 B4
dovecot_kill
sleep 3
dovecot_restart || t_fail dovecot_restart "Dovecot did not come back"
rb_wait
# spooled recipients (4xx after the data) reach the mailbox on the next
# spool run (spool_retry = 1s)
t_wait_for 30 acked_stored B1 B2 B3 B4
t_check dovecot_kill_acked_stored "$(acked_stored B1 B2 B3 B4)" acked_stored B1 B2 B3 B4
nfail=$(cat "$RB"/B?.failed "$RB"/B?.noans | wc -l)
t_check dovecot_kill_some_failed "no Email failed: the kill came too late ($(acked_count B1.acked B2.acked B3.acked B4.acked) acked)" \
	test "$nfail" -gt 0
t_check dovecot_kill_no_authfail "$(cat "$RB"/B?.failed | sort -k2 | uniq -f1 -c)" no_authfail
# an Email that got an error may still have been stored when Dovecot died
# after its 250 and before the gateway read it (README, Delivery): at most
# one per LMTP connection (connections = 4)
amb=0
for i in 1 2 3 4; do amb=$((amb + $(rb_stored_of B$i "$RB/B$i.failed") + $(rb_stored_of B$i "$RB/B$i.noans"))); done
echo "# B: $nfail Emails failed or unanswered, $amb of them stored anyway (the 250-then-kill window)"
t_check dovecot_kill_errors_not_stored "$amb failed Emails were stored (bound 4)" test "$amb" -le 4
ok=1
for i in 1 2 3 4; do rb_retry B$i 8 || ok=0; done
t_check dovecot_kill_retries_acked "not all acknowledged after retries" test "$ok" = 1
r=$(rb_exact B1 B2 B3 B4)
dups=$(sed -n 's/.*duplicated=\([0-9]*\).*/\1/p' <<<"$r")
t_check dovecot_kill_full_set "$r" bash -c "grep -q 'missing=0 .* unexpected=0' <<<'$r' && [ $dups -le $amb ]"

# --- C: Redis killed and restarted during load ---------------------------------------
e0=$(rcli HGET smtpsec:stats:total emails_received)
for i in 1 2; do rb_msgs C$i "$N"; done
rb_send_bg C1 C2
sleep 0.5
redis_kill
sleep 2
redis_restart
rb_wait
t_check redis_kill_all_delivered "$(cat "$RB"/C?.failed "$RB"/C?.noans | head -3)" \
	test "$(acked_count C1.acked C2.acked)" = $((2 * N))
t_check redis_kill_exact "$(rb_exact C1 C2)" rb_exact C1 C2
# stats resume: the restarted Redis starts empty; the next batch is counted
e1=$(rcli HGET smtpsec:stats:total emails_received)
rb_msgs C3 10
rb_send C3
t_wait_for 10 bash -c "[ \"\$(redis-cli -p $REDIS_PORT HGET smtpsec:stats:total emails_received)\" -ge $((${e1:-0} + 10)) ]"
e2=$(rcli HGET smtpsec:stats:total emails_received)
t_check redis_stats_resume "emails_received before the kill ${e0:-none}, after the restart ${e1:-none}, after 10 more ${e2:-none}" \
	test "${e2:-0}" -ge $((${e1:-0} + 10))

# --- D: NSD stopped ----------------------------------------------------------------------
rb_msgs D_warm "$N"
rb_send_bg D_warm
sleep 0.3
dns_stop
rb_wait
rb_msgs D_cold 10 s1.example.test
rb_send D_cold
t_check nsd_down_warm_delivered "$(head -3 "$RB/D_warm.failed")" test "$(wc -l <"$RB/D_warm.acked")" = "$N"
t_check nsd_down_cold_tempfail "$(cat "$RB/D_cold.failed" "$RB/D_cold.acked" | head -3)" \
	bash -c "[ \$(wc -l <'$RB/D_cold.failed') = 10 ] && ! grep -qv ' service_unavailable$' '$RB/D_cold.failed'"
t_check nsd_down_no_authfail "$(cat "$RB/D_cold.failed" | head -3)" no_authfail
t_check nsd_down_nothing_stored "stored" test "$(rb_stored_of D_cold "$RB/D_cold.failed")" = 0
dns_restart || t_fail nsd_restart "NSD did not come back"
t_check nsd_back_retries_acked "$(tail -2 "$RB/D_cold.failed")" rb_retry D_cold 20
t_check nsd_exact "$(rb_exact D_warm D_cold)" rb_exact D_warm D_cold

# --- E: a worker SIGKILLed mid-Email ----------------------------------------------------
for i in 1 2; do rb_msgs E$i "$N" example.test 40000; done
rb_send_bg E1 E2
t_wait_for 30 rb_live_at_least 5 E1 E2
nw0=$(grep -c event=worker_ready "$RB/gw.log")
kill -KILL $(rb_workers)
rb_wait
t_wait_for 10 bash -c "[ \$(grep -c event=worker_ready '$RB/gw.log') -gt $nw0 ]"
t_check worker_kill_restarted "$(grep -E 'worker_(died|exit)' "$RB/gw.log" | tail -2)" \
	test "$(grep -c event=worker_ready "$RB/gw.log")" -gt "$nw0"
t_check worker_kill_dropped "every Email was answered" test "$(cat "$RB"/E?.noans | wc -l)" -gt 0
t_check worker_kill_acked_stored "$(acked_stored E1 E2)" acked_stored E1 E2
amb=$(( $(rb_stored_of E1 "$RB/E1.noans") + $(rb_stored_of E2 "$RB/E2.noans") ))
ok=1
for i in 1 2; do rb_retry E$i 5 || ok=0; done
t_check worker_kill_retries_acked "not all acknowledged" test "$ok" = 1
r=$(rb_exact E1 E2)
dups=$(sed -n 's/.*duplicated=\([0-9]*\).*/\1/p' <<<"$r")
t_check worker_kill_full_set "$r (ambiguous $amb)" bash -c "grep -q 'missing=0 .* unexpected=0' <<<'$r' && [ $dups -le $amb ]"

# --- F: SIGHUP under load: no connection dropped -------------------------------------------
for i in 1 2 3; do rb_msgs F$i "$N"; done
rb_send_bg F1 F2 F3
sleep 0.3
kill -HUP "$GW_PID"
sleep 0.5
kill -HUP "$GW_PID"
rb_wait
t_check sighup_none_dropped "$(cat "$RB"/F?.noans "$RB"/F?.failed | head -3)" \
	test "$(acked_count F1.acked F2.acked F3.acked)" = $((3 * N))
t_check sighup_exact "$(rb_exact F1 F2 F3)" rb_exact F1 F2 F3

# --- G: SIGTERM under load -------------------------------------------------------------------
for i in 1 2 3; do rb_msgs G$i "$N" example.test 3000; done
rb_send_bg G1 G2 G3
t_wait_for 30 rb_live_at_least 10 G1 G2 G3
kill -TERM "$GW_PID"
rb_wait
rb_gw_stop
t_check sigterm_acked_stored "$(acked_stored G1 G2 G3)" acked_stored G1 G2 G3
t_check sigterm_only_goodbye "$(grep -h 'error=' "$RB"/G?.out | sort | uniq -c | head -3)" \
	bash -c "! grep -h '^reply n=[0-9]* error=' '$RB'/G?.out | grep -qv service_unavailable"
amb=$(( $(rb_stored_of G1 "$RB/G1.noans") + $(rb_stored_of G2 "$RB/G2.noans") + $(rb_stored_of G3 "$RB/G3.noans") ))
t_check sigterm_unanswered_not_stored "$amb unanswered Emails stored" test "$amb" = 0
rb_gw_start || t_fail gateway_restart "no listener after restart"
ok=1
for i in 1 2 3; do rb_retry G$i 5 || ok=0; done
t_check sigterm_retries_acked "not all acknowledged" test "$ok" = 1
t_check sigterm_exact "$(rb_exact G1 G2 G3)" rb_exact G1 G2 G3

t_check no_worker_crash "$(grep -E 'worker_died' "$RB/gw.log" | grep -v 'status=9$' | head -2)" \
	bash -c "! grep -E 'worker_died' '$RB/gw.log' | grep -qv 'status=9$'"
rb_gw_stop
exit 0
