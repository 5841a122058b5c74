#!/bin/bash
# The gateway's log lines in a real journald, at their priorities: a private
# systemd-journald in its own mount namespace (tmpfs over /run/systemd and
# /run/log, nothing of the host's touched), the gateway started under
# systemd-cat with JOURNAL_STREAM set as systemd sets it for a unit; then
# `journalctl -p err` shows the error line and none of the info lines, and
# each line's PRIORITY is that of its level.  Needs root (unshare -m).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

JD=/lib/systemd/systemd-journald
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || [ ! -x "$JD" ] || ! command -v systemd-cat >/dev/null; then
	t_skip journald "needs root, unshare, systemd-journald and systemd-cat"
	exit 0
fi
[ -x "$GW" ] || { t_skip build "$GW not built"; exit 0; }
GW_WORKERS=1
gw_pki || { t_fail pki "openssl failed"; exit 1; }
gw_conf good
gw_conf bad
# a spool directory that cannot be made: the start fails in the worker,
# logged through rcv_log at err
printf '[lmtp]\nspool_dir = /dev/null/spool\n' >>"$T_TMP/bad.conf"
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToWall=no\nForwardToConsole=no\n' \
	>"$T_TMP/journald.conf"

cat >"$T_TMP/inner.sh" <<INNER
set -u
mount -t tmpfs tmpfs /run/systemd || exit 90
mkdir -p /run/systemd/journal /run/log
mount -t tmpfs tmpfs /run/log || exit 91
[ -f /etc/systemd/journald.conf ] && mount --bind "$T_TMP/journald.conf" /etc/systemd/journald.conf
$JD >"$T_TMP/journald.out" 2>&1 &
jp=\$!
for i in \$(seq 50); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
# as systemd does for StandardError=journal: JOURNAL_STREAM = the stream's dev:ino
run() { systemd-cat -t smtpsec-gateway sh -c 'JOURNAL_STREAM=\$(stat -L -c %d:%i /proc/self/fd/2) exec "\$@"' _ "\$@"; }
run "$GW" -f -c "$T_TMP/good.conf" --insecure-skip-chain-checks &
gp=\$!
for i in \$(seq 100); do
	journalctl -D /run/log/journal --no-pager -o cat 2>/dev/null | grep -q 'event=worker_ready' && break
	sleep 0.1
done
pkill -TERM -P \$gp -x smtpsec-gateway 2>/dev/null
for p in \$(pgrep -P \$gp); do kill -TERM \$p 2>/dev/null; done
wait \$gp
run "$GW" -f -c "$T_TMP/bad.conf" --insecure-skip-chain-checks
echo "bad_rc=\$?" >"$T_TMP/bad.rc"
sleep 0.5
journalctl -D /run/log/journal --no-pager -t smtpsec-gateway -p err -o cat >"$T_TMP/p_err.out" 2>&1
journalctl -D /run/log/journal --no-pager -t smtpsec-gateway -o json >"$T_TMP/all.json" 2>&1
kill \$jp
wait \$jp
INNER
timeout -k 5 60 unshare -m --propagation private bash "$T_TMP/inner.sh" >"$T_TMP/inner.out" 2>&1
rc=$?
t_check journald_ran "rc $rc: $(tail -3 "$T_TMP/inner.out") $(tail -2 "$T_TMP/journald.out")" test "$rc" = 0
t_check p_err_shows_the_error "$(cat "$T_TMP/p_err.out")" grep -q 'err conn=- event=start result=fail' "$T_TMP/p_err.out"
t_check p_err_hides_info "$(grep -v result=fail "$T_TMP/p_err.out" | head -3)" \
	bash -c "! grep -q 'event=worker_ready\|event=start version=' '$T_TMP/p_err.out'"
if python3 -c '
import json,sys
pr={}
for l in open(sys.argv[1]):
    l=l.strip()
    if not l.startswith("{"): continue
    e=json.loads(l)
    m=e.get("MESSAGE","")
    if not isinstance(m,str): continue
    for lvl,p in (("] err ","3"),("] warn ","4"),("] info ","6"),("] debug ","7")):
        if lvl in m:
            assert e["PRIORITY"]==p, (m,e["PRIORITY"])
            pr[p]=pr.get(p,0)+1
    assert not m.startswith("<"), m
assert pr.get("3",0)>=1 and pr.get("6",0)>=2, pr
print(pr)
' "$T_TMP/all.json" >"$T_TMP/prio.out" 2>&1; then
	echo "# lines per priority: $(cat "$T_TMP/prio.out")"; echo "# journalctl -p err: $(head -1 "$T_TMP/p_err.out")"
	t_pass priorities
else
	t_fail priorities "$(tail -2 "$T_TMP/prio.out")"
fi
t_check bad_start_exit "$(cat "$T_TMP/bad.rc" 2>/dev/null)" bash -c "! grep -q 'bad_rc=0' '$T_TMP/bad.rc'"
# lines written with fprintf (not rcv_log) reach the journal at the default
# priority: list them (receiver/rcv_main.c's usage and start errors)
grep -o '"MESSAGE":"smtpsec-gateway: [^"]*' "$T_TMP/all.json" | sed 's/^"MESSAGE":"/# not through rcv_log (priority 6): /' | head -3
