#!/bin/bash
# The unit's SystemCallFilter= takes away @privileged and @resources (EPERM):
# run the gateway the way the unit runs it (foreground, [server] user empty,
# workers = 2) under strace, deliver Emails through it (one through the
# spool), reload it with SIGHUP and stop it, and check that it made no
# system call of those groups.  No systemd needed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"
. "$(dirname "$0")/lib_spool.sh"

for c in strace systemd-analyze; do
	command -v "$c" >/dev/null || { t_skip tools "$c not installed"; exit 0; }
done
for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
# a sanitizer runtime makes system calls of its own, and LeakSanitizer
# cannot run under ptrace: the plain build only
if grep -q __asan_init "$GW" 2>/dev/null; then
	t_skip sanitizer_build "strace of a sanitizer build measures the sanitizer"
	exit 0
fi
unit="$T_SRC/systemd/smtpsec-gateway.service"
groups=$(sed -n 's/^SystemCallFilter=~//p' "$unit")
t_check unit_filter "no SystemCallFilter=~ in the unit" test -n "$groups"

# every system call of those groups (nested groups expanded)
todo=$groups seen="" denied=""
for _ in 1 2 3 4 5; do
	next=""
	for g in $todo; do
		case " $seen " in *" $g "*) continue ;; esac
		seen="$seen $g"
		for w in $(systemd-analyze syscall-filter --no-pager "$g" 2>/dev/null | sed 's/#.*//' | tail -n +2); do
			case "$w" in @*) next="$next $w" ;; *) denied="$denied $w" ;; esac
		done
	done
	todo=$next
	[ -z "$todo" ] && break
done
t_check filter_expanded "no calls found for$groups" test -n "$denied"

GW_WORKERS=2
SPOOL=$T_TMP/spool
gw_pki || { t_fail pki "openssl failed"; exit 1; }
flaky_start 1 || { t_fail flaky_start "stand-in did not start"; exit 1; }
gw_conf gw "[lmtp]" "target = unix:$FLAKY_SOCK" "spool_dir = $SPOOL" "spool_retry = 1s"
strace -f -qq -o "$T_TMP/strace.out" "$GW" -f -c "$T_TMP/gw.conf" --insecure-skip-chain-checks \
	>>"$T_TMP/gw.log" 2>&1 &
ST_PID=$!
t_track_pid "$ST_PID"
t_wait_port "$PORT" 30 || { t_fail gateway_start "$(tail -3 "$T_TMP/gw.log")"; exit 1; }
sp_msgs s 3
out=$(sp_send s 1 3)
t_check delivered "$out" test "$(grep -c 'email_delivered$' <<<"$out")" = 3
# the 451 sent each first attempt to the spool: wait for the retries
t_wait_for 20 bash -c "[ \$(grep -c '^250 <s-' '$FLAKY_LOG') = 3 ]"
t_check spool_retries "$(grep -c 'event=spool .*result=delivered' "$T_TMP/gw.log") spool deliveries" \
	test "$(grep -c 'event=spool .*result=delivered' "$T_TMP/gw.log")" = 3
gwpid=$(pgrep -P "$ST_PID" -x smtpsec-gateway | head -1)
[ -n "$gwpid" ] && kill -HUP "$gwpid"
sleep 1
[ -n "$gwpid" ] && kill -TERM "$gwpid"
for _ in $(seq 100); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ST_PID" 2>/dev/null
t_check reloaded "$(grep -c 'event=reload result=ok' "$T_TMP/gw.log") reload lines" grep -q 'event=reload result=ok' "$T_TMP/gw.log"

used=$(sed -n 's/^[0-9]* \([a-z_0-9]*\)(.*/\1/p' "$T_TMP/strace.out" | sort -u)
bad=""
for c in $used; do
	case " $denied " in *" $c "*) bad="$bad $c" ;; esac
done
echo "# $(wc -w <<<"$used") distinct system calls made, $(wc -w <<<"$denied") filtered (e.g.$(tr ' ' '\n' <<<"$denied" | grep -E '^(setuid|setrlimit|chown|sched_setaffinity)$' | tr '\n' ' '))"
t_check no_filtered_syscall "the gateway called:$bad (filtered by SystemCallFilter=~$groups)" test -z "$bad"

# ProcSubset=pid hides everything in /proc but the process directories
procfiles=$(grep -o 'open[a-z]*([^"]*"/proc/[^"]*"' "$T_TMP/strace.out" | sed 's/.*"\(\/proc\/[^"]*\)"/\1/' |
	grep -Ev '^/proc/(self|thread-self|[0-9]+)(/|$)' | sort -u | tr '\n' ' ')
t_check proc_subset_pid "opened: $procfiles" test -z "$procfiles"
