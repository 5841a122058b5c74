#!/bin/bash
# A 50 MiB Email through the gateway into an LMTP sink: delivered whole, and
# the worker's peak resident memory (VmHWM) rises by at most 8 MiB.  The
# body goes to an unlinked spool file past memory_threshold, the signature
# is checked while it arrives, and the pages of the mapped file are dropped
# as they are sent over LMTP (SMTPSEC.md 7: bodies are never held whole).
#
# Under AddressSanitizer freed memory sits in a quarantine (every 16 KiB TLS
# record of the body would stay resident), so the gateway runs with
# quarantine_size_mb=0 and the bound is 16 MiB for the shadow and allocator
# caches; the figure is printed either way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

SINK=$BUILD/smtpsec-lmtpsink
for b in "$GW" "$SEND" "$SINK"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
mkdir -p "$P/spool"
BOUND_KIB=8192
if ldd "$GW" 2>/dev/null | grep -q libasan; then
	export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0"
	BOUND_KIB=16384
fi

"$SINK" --unix "$P/lmtp.sock" --max-seconds 300 >"$P/sink.log" 2>&1 &
SINK_PID=$!
t_track_pid "$SINK_PID"
gw_conf gw "[lmtp]" "target = unix:$P/lmtp.sock" "spool_dir = $P/spool" "memory_threshold = 1M" \
	"[limits]" "max_message_size = 64M"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }
# warm up: one small Email, so TLS, LMTP and the allocator are at steady state
"$SEND" "${GW_SENDER[@]}" --rcpt a@b.test --size 20000 --from x@example.test --max-seconds 30 >"$P/warm.out" 2>&1
t_check warm_up_delivered "$(tail -2 "$P/warm.out")" grep -q "reply n=1 email_delivered" "$P/warm.out"
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$W/status" 2>/dev/null; }
before=$(hwm)

size=$((50 * 1024 * 1024))
out=$("$SEND" "${GW_SENDER[@]}" --rcpt a@b.test --size "$size" --from x@example.test --max-seconds 120 2>&1)
after=$(hwm)
t_check big_delivered "$(tail -3 <<<"$out")" grep -q "reply n=1 email_delivered" <<<"$out"
t_check big_logged "no summary line" grep -Eq "event=email n=1 .*size=$size .*reply=email_delivered" "$P/gw.log"
delta=$(( ${after:-0} - ${before:-0} ))
echo "# worker VmHWM before=${before} KiB after=${after} KiB delta=${delta} KiB bound=${BOUND_KIB} KiB"
t_check big_rss_bounded "peak RSS rose by $delta KiB (bound $BOUND_KIB KiB), before=$before after=$after" \
	test -n "$before" -a -n "$after" -a "$delta" -le "$BOUND_KIB"
kill -TERM "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
kill -TERM "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null
# the sink counts what it was given: both Emails, the big one whole plus our headers
bytes=$(sed -n 's/.*sink messages=2 bytes=\([0-9]*\).*/\1/p' "$P/sink.log")
t_check sink_got_all "sink: $(tail -1 "$P/sink.log")" test -n "$bytes" -a "${bytes:-0}" -gt $((size + 20000))
exit 0
