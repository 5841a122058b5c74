#!/bin/bash
# make soak SOAK_MINUTES=N: mixed good, bad and hostile traffic against a
# whole gateway (real NSD, Dovecot, Redis; every check done) for N minutes,
# normally the AddressSanitizer build.  Each round sends, on parallel
# connections:
#   G  good Emails (600 B, 3 KB or 40 KB: in memory and spilled to the spool)
#   K  good Emails from a sender domain not seen yet (cold DNS cache, while
#      there are new ones; then warm)
#   X  Emails signed with the wrong key: authentication_failed, never stored
#   U  Emails to bob and to an unknown user: unknown_address, stored once
# plus one hostile client (slowloris mid-frame, idle sessions, a handshake
# flood, a client that never reads, an error flood), and a SIGHUP every
# tenth round.  Afterwards:
#   - every acknowledged Email is in the mailbox exactly once; what failed
#     is retried and then the mailbox holds exactly the full set;
#   - the workers' RSS, measured when the traffic pauses, is back to its
#     level at half time (within 10% + 4 MiB): the first rounds grow the
#     heap to its working size, the second half must not grow it;
#   - no LeakSanitizer, ASan or UBSan report from any process (the workers
#     run the leak check when they exit), no worker died.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_nsd.sh"
. "$(dirname "$0")/../integration/lib_dovecot.sh"
. "$(dirname "$0")/../integration/lib_redis.sh"
. "$(dirname "$0")/lib_rb.sh"

HC=$T_SRC/tests/integration/hostile_client.py
for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
MINUTES=${SOAK_MINUTES:-10}
ASAN=0
if ldd "$GW" 2>/dev/null | grep -q libasan; then
	ASAN=1
	# a bounded quarantine: use-after-free still caught, RSS comparable
	export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8"
fi
ulimit -n 8192 2>/dev/null || true
RB_IDLE_TIMEOUT=5s RB_HANDSHAKE_TIMEOUT=3s
rb_setup || { t_fail setup "servers did not start: $(tail -3 "$RB/gw.log" 2>/dev/null)"; exit 1; }
openssl genpkey -algorithm ED25519 -out "$RB/pki/other.key" 2>/dev/null
printf 'From: x@example.test\r\nTo: a@b.test\r\nSubject: never read\r\n\r\nbody\r\n' >"$RB/nr.eml"
NRSIG=$(openssl pkeyutl -sign -inkey "$RB_DATA/leaf.key" -rawin -in "$RB/nr.eml" | od -An -tx1 | tr -d ' \n')

rss() {	# the workers' resident memory, KiB
	local p t=0 v
	for p in $(rb_workers); do
		v=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
quiet() {	# wait until hostile sessions are gone (idle timeout + grace)
	sleep 12
}

hostile() {	# ROUND: one hostile client, bounded in time
	case $(($1 % 5)) in
	0) python3 "$HC" slow-frame "$RB_PORT" 8 ;;
	1) python3 "$HC" idle "$RB_PORT" 40 4 ;;
	2) python3 "$HC" flood "$RB_PORT" 40 ;;
	3) python3 "$HC" noread "$RB_PORT" 8 "$RB_DATA/leaf.pem" "$RB_DATA/inter.pem" "$RB/nr.eml" "$NRSIG" ;;
	4) python3 "$HC" errors "$RB_PORT" 300 ;;
	esac >>"$RB/hostile.out" 2>&1
}

SIZES=(600 3000 40000)
round() {	# R
	local r=$1 hp
	rb_msgs "G$r" 30 example.test "${SIZES[$((r % 3))]}"
	rb_msgs "K$r" 3 "s$(((r - 1) % RB_DOMAINS + 1)).example.test"
	rb_msgs "X$r" 3
	rb_msgs "U$r" 2
	echo "G$r K$r" >>"$RB/good.list"
	echo "X$r" >>"$RB/bad.list"
	echo "U$r" >>"$RB/unknown.list"
	hostile "$r" &
	hp=$!
	rb_send_bg "G$r" "K$r"
	rb_send "X$r" --key "$RB/pki/other.key" &
	RB_PIDS+=($!)
	rb_send "U$r" --rcpt nobody@b.test &
	RB_PIDS+=($!)
	rb_wait
	wait "$hp"
	echo "$r $SECONDS $(rss)" >>"$RB/rss.log"
	[ $((r % 10)) = 0 ] && kill -HUP "$GW_PID"
	return 0
}

: >"$RB/good.list"
: >"$RB/bad.list"
: >"$RB/unknown.list"
t0=$SECONDS
end=$((SECONDS + MINUTES * 60))
# warm-up: three rounds (every message size and hostile kind's buffers,
# TLS, LMTP connections, allocator and ASan quarantine at steady state)
for r in 1 2 3; do round "$r"; done
quiet
base=$(rss)
echo "# workers' RSS after the warm-up: $base KiB"
r=3
half=$(((SECONDS + end) / 2))
mid=
while [ "$SECONDS" -lt "$end" ] && [ "$r" -lt 100000 ]; do
	r=$((r + 1))
	round "$r"
	if [ -z "$mid" ] && [ "$SECONDS" -ge "$half" ]; then
		quiet
		mid=$(rss)
		echo "# workers' RSS at half time (round $r): $mid KiB"
	fi
done
rounds=$r
secs=$((SECONDS - t0))
quiet
final=$(rss)
echo "# $rounds rounds in $secs s; workers' RSS: after warm-up $base KiB, at the end $final KiB"

# --- replies and the mailbox -------------------------------------------------------
good=$(cat "$RB/good.list" | tr '\n' ' ')
bad=$(cat "$RB/bad.list" | tr '\n' ' ')
unk=$(cat "$RB/unknown.list" | tr '\n' ' ')
cnt() { local n t=0; for n in $1; do t=$((t + $(wc -l <"$RB/$n.$2"))); done; echo "$t"; }
sent_good=0
for n in $good; do sent_good=$((sent_good + $(ls "$RB/m/$n" | wc -l))); done
acked=$(cnt "$good" acked)
failed=$(cnt "$good" failed)
noans=$(cnt "$good" noans)
echo "# good Emails: sent $sent_good, acknowledged $acked, failed $failed, unanswered $noans"
for n in $good; do cat "$RB/$n.failed"; done | awk '{ print $2 }' | sort | uniq -c | sed 's/^/# failed: /'
stored_acked=0
for n in $good; do stored_acked=$((stored_acked + $(rb_stored_of "$n" "$RB/$n.acked"))); done
t_check acknowledged_all_stored "$stored_acked of $acked acknowledged Emails stored" test "$stored_acked" = "$acked"
t_check good_not_authfail "$(for n in $good; do cat "$RB/$n.failed"; done | grep authentication_failed | head -2)" \
	bash -c "! cat $(for n in $good; do printf '%q ' "$RB/$n.failed"; done) | grep -q authentication_failed"
ok=1
for n in $good; do rb_retry "$n" 5 || ok=0; done
t_check retries_acknowledged "not every good Email acknowledged after retries" test "$ok" = 1
# shellcheck disable=SC2086
r=$(rb_exact $good)
t_check good_exactly_once "$r" grep -q 'missing=0 duplicated=0 unexpected=0' <<<"$r"

xs=$(cnt "$bad" failed)
xa=$(for n in $bad; do cat "$RB/$n.failed"; done | grep -c ' authentication_failed$')
xstored=0
for n in $bad; do xstored=$((xstored + $(rb_stored_of "$n" "$RB/$n.failed"))); done
t_check wrong_key_authentication_failed "$xa of $xs replies authentication_failed ($(cnt "$bad" acked) acknowledged)" \
	test "$xa" = "$xs" -a "$xs" -gt 0 -a "$(cnt "$bad" acked)" = 0
t_check wrong_key_not_stored "$xstored stored" test "$xstored" = 0

ua=$(for n in $unk; do cat "$RB/$n.failed"; done | grep -c ' unknown_address$')
us=0
for n in $unk; do us=$((us + $(ls "$RB/m/$n" | wc -l))); done
t_check unknown_address_replies "$ua of $us replies unknown_address" test "$ua" = "$us"
# shellcheck disable=SC2086
r=$(rb_exact $unk)
t_check unknown_address_delivered_once "$r" grep -q 'missing=0 duplicated=0 unexpected=0' <<<"$r"

echo "# hostile clients: $(wc -l <"$RB/hostile.out") result lines"
t_check hostile_clients_ran "$(head -3 "$RB/hostile.out")" test "$(grep -c '=' "$RB/hostile.out")" -ge "$rounds"

# --- memory, crashes, leaks -----------------------------------------------------------
# the first rounds grow the heap (every message size and hostile kind once,
# new sender domains cached); the second half must not
t_check rss_back_to_baseline "RSS after warm-up $base KiB, at half time ${mid:-none} KiB, at the end $final KiB" \
	test -n "$mid" -a "$final" -le $((${mid:-0} + ${mid:-0} / 10 + 4096))
t_check no_worker_died "$(grep worker_died "$RB/gw.log" | head -2)" bash -c "! grep -q worker_died '$RB/gw.log'"
rb_gw_stop
t_check gateway_exit_clean "$(tail -3 "$RB/gw.log")" bash -c "! kill -0 $GW_PID 2>/dev/null"
if [ "$ASAN" = 1 ]; then
	t_check no_sanitizer_reports "$(head -20 "$T_TMP"/sanitizer.* 2>/dev/null)" \
		bash -c "! ls '$T_TMP'/sanitizer.* >/dev/null 2>&1"
else
	t_skip no_sanitizer_reports "gateway not built with AddressSanitizer (make soak uses build-san)"
fi
{
	echo "soak minutes=$MINUTES seconds=$secs rounds=$rounds asan=$ASAN"
	echo "good sent=$sent_good acked=$acked failed=$failed noans=$noans"
	echo "wrong_key replies=$xs unknown_address replies=$ua"
	echo "rss_kib warm=$base half=${mid:-na} end=$final"
} | tee "$RB/soak.txt" | sed 's/^/# /'
exit 0
