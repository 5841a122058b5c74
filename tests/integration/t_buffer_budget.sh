#!/bin/bash
# The worker's buffer budget ([limits] worker_buffer_budget, README
# Reliability): many slow peers each holding a large partly received
# ClientHello cannot raise a worker's memory past budget + baseline.
#   1. 40 sessions, each sending all but the last byte of a 1 MiB
#      ClientHello, budget 16 MiB (three quarters of it for holders past
#      64 KiB): the sessions that fit wait (no reply),
#      the rest get internal_error (referencing message 0) and are closed;
#      the worker's RSS stays under baseline + budget + 8 MiB; good mail
#      flows meanwhile; once the holders leave, new ClientHellos fit again.
#   1b. the same with complete 1 MiB ClientHellos held idle (the chains
#      stay for the session and stay charged).
#   2. the same without the budget (set to 1024G): RSS measured and
#      reported, showing what the budget saves (not asserted).
#   3. in-memory bodies: with a budget the Emails' bodies cannot all stay
#      in memory, so they go to the spool early and are still delivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

SINK=$BUILD/smtpsec-lmtpsink
HC="$(cd "$(dirname "$0")" && pwd)/hostile_client.py"
for b in "$GW" "$SEND" "$SINK"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
mkdir -p "$P/spool"
# under ASan freed memory is quarantined and every allocation has redzones:
# measure without the quarantine, and allow for the shadow memory
ASAN=0
ldd "$GW" 2>/dev/null | grep -q libasan && { ASAN=1; export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0"; }

"$SINK" --unix "$P/lmtp.sock" --max-seconds 600 >"$P/sink.log" 2>&1 &
t_track_pid $!
N=40
SIZE=$((1024 * 1024))
BUDGET_MIB=16
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$W/status" 2>/dev/null; }
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$W/status" 2>/dev/null; }
normal() {	# NAME [SIZE]: one ordinary Email is delivered meanwhile
	local out
	out=$("$SEND" "${GW_SENDER[@]}" --rcpt a@b.test --size "${2:-4000}" --from x@example.test --max-seconds 20 2>&1)
	t_check "$1" "$(tail -2 <<<"$out" | tr '\n' ' ')" grep -q "reply n=1 email_delivered" <<<"$out"
}
run_peers() {	# OUT NAME [MODE]: N big-hello sessions, each held HOLD s; the peak RSS while they hold
	local hold=${HOLD:-5}
	if [ "${3:-}" = full ]; then
		python3 "$HC" full-hello-n "$PORT" "$N" "$hold" >"$1" 2>&1 &
	else
		python3 "$HC" big-hello-n "$PORT" "$N" "$SIZE" "$hold" >"$1" 2>&1 &
	fi
	local hc=$! peak=0 r
	for _ in $(seq 1 $((hold * 10 + 20))); do
		r=$(rss)
		[ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
		kill -0 "$hc" 2>/dev/null || break
		sleep 0.1
	done
	echo "$peak" >"$1.peak"
	normal "$2"
	wait "$hc"
}

# --- 1. with a 16 MiB budget ---------------------------------------------------------
gw_conf gw "[lmtp]" "target = unix:$P/lmtp.sock" "spool_dir = $P/spool" \
	"[limits]" "worker_buffer_budget = ${BUDGET_MIB}M" "max_connections_per_ip = 200" "idle_timeout = 30s"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
normal baseline_delivered
base=$(rss)
run_peers "$P/b.out" delivered_during_budget
peak=$(cat "$P/b.out.peak")
held=$(grep -c 'replies= closed=0' "$P/b.out")
refused=$(grep -c 'replies=internal_error:0 closed=1' "$P/b.out")
echo "# budget ${BUDGET_MIB} MiB: worker RSS base ${base} KiB, peak ${peak} KiB (+$(( (peak - base) / 1024 )) MiB); sessions held ${held}, refused ${refused} of $N"
t_check budget_sessions_accounted "held $held + refused $refused != $N: $(sort "$P/b.out" | uniq -c | tr '\n' '|')" \
	test $((held + refused)) = "$N"
# a 1 MiB frame is charged whole when its header arrives, and large holders
# share three quarters of the budget: at most 12 fit
t_check budget_refuses_beyond "held $held, refused $refused" test "$held" -le $((BUDGET_MIB * 3 / 4)) -a "$refused" -ge $((N - BUDGET_MIB * 3 / 4))
t_check budget_refusal_logged "$(grep -m1 'buffer budget' "$P/gw.log")" \
	grep -q 'event=frame_error n=0 code=internal_error fatal=1 why="worker buffer budget exhausted" held=' "$P/gw.log"
SLACK_KIB=$((8 * 1024))
[ "$ASAN" = 1 ] && SLACK_KIB=$((40 * 1024))
t_check budget_rss_bounded "peak $peak KiB > base $base + budget + $SLACK_KIB KiB" \
	test "$peak" -le $((base + BUDGET_MIB * 1024 + SLACK_KIB))
# complete 1 MiB ClientHellos, held idle: their chains stay charged
run_peers "$P/f.out" delivered_during_full_hellos full
peakf=$(cat "$P/f.out.peak")
heldf=$(grep -c 'replies= closed=0' "$P/f.out")
echo "# budget ${BUDGET_MIB} MiB, complete hellos: worker RSS peak ${peakf} KiB (+$(( (peakf - base) / 1024 )) MiB); sessions held ${heldf} of $N"
t_check full_hello_refuses_beyond "held $heldf: $(sort "$P/f.out" | uniq -c | tr '\n' '|')" \
	test "$heldf" -ge 1 -a "$heldf" -le $((BUDGET_MIB * 3 / 4))
t_check full_hello_rss_bounded "peak $peakf KiB > base $base + budget + $SLACK_KIB KiB" \
	test "$peakf" -le $((base + BUDGET_MIB * 1024 + SLACK_KIB))
# the holders are gone: the budget is free again, a new ClientHello fits
N=4 HOLD=2 run_peers "$P/b2.out" delivered_after_budget_freed
t_check budget_freed_after_close "$(sort "$P/b2.out" | uniq -c | tr '\n' '|')" \
	test "$(grep -c 'replies= closed=0' "$P/b2.out")" = 4
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- 3. in-memory bodies past the budget go to the spool early --------------------------
gw_conf gw3 "[lmtp]" "target = unix:$P/lmtp.sock" "spool_dir = $P/spool" "memory_threshold = 1M" \
	"[limits]" "worker_buffer_budget = 2M" "max_connections_per_ip = 200"
gw_run gw3 || { t_fail gateway_start3 "no listener"; exit 1; }
for i in 1 2 3 4 5 6; do
	"$SEND" "${GW_SENDER[@]}" --rcpt a@b.test --size 900000 --from x@example.test --max-seconds 30 \
		>"$P/s3.$i.out" 2>&1 &
done
wait_ok=0
for i in 1 2 3 4 5 6; do
	for _ in $(seq 1 300); do grep -q 'reply n=1' "$P/s3.$i.out" 2>/dev/null && break; sleep 0.1; done
	grep -q 'reply n=1 email_delivered' "$P/s3.$i.out" && wait_ok=$((wait_ok + 1))
done
t_check spill_early_all_delivered "$wait_ok of 6 delivered" test "$wait_ok" = 6
t_check spill_early_logged "no event=body_to_spool" grep -q 'event=body_to_spool n=1 at=[0-9]* why="worker buffer budget"' "$P/gw3.log"
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- 2. without a budget (for the record) --------------------------------------------------
N=40
gw_conf gw2 "[lmtp]" "target = unix:$P/lmtp.sock" "spool_dir = $P/spool" \
	"[limits]" "worker_buffer_budget = 1024G" "max_connections_per_ip = 200" "idle_timeout = 30s"
gw_run gw2 || { t_fail gateway_start2 "no listener"; exit 1; }
normal baseline2_delivered
base2=$(rss)
run_peers "$P/n.out" delivered_without_budget
peak2=$(cat "$P/n.out.peak")
echo "# no budget: worker RSS base ${base2} KiB, peak ${peak2} KiB (+$(( (peak2 - base2) / 1024 )) MiB); sessions held $(grep -c 'replies= closed=0' "$P/n.out") of $N"
run_peers "$P/nf.out" delivered_without_budget_full full
peak2f=$(cat "$P/nf.out.peak")
echo "# no budget, complete hellos: worker RSS peak ${peak2f} KiB (+$(( (peak2f - base2) / 1024 )) MiB); sessions held $(grep -c 'replies= closed=0' "$P/nf.out") of $N"
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null
exit 0
