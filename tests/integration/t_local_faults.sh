#!/bin/bash
# Local faults are ours, never a sender's (README, Reliability): a CA file,
# DNS trust anchor, CT log list, certificate or key that cannot be loaded
# stops the start with exit 78 (EX_CONFIG) and a one-line reason; nothing
# listens.  The same fault at reload keeps the previous state, logged, and
# the gateway keeps serving.  A worker that fails at start makes the master
# exit with the worker's status, before READY=1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
CT=/work/shared/ct-fixtures/loglist_real.json
[ -f "$CT" ] || { t_skip ct_list "no $CT"; exit 0; }
cp "$CT" "$P/ct.json"
cp "$GW_DATA/root.pem" "$P/ca.pem"
cp /usr/share/dns/root.key "$P/ta.key" 2>/dev/null || { t_skip ta "no /usr/share/dns/root.key"; exit 0; }
echo 'this is not PEM' >"$P/garbage"
echo '{"operators": [' >"$P/broken.json"

conf() {	# [OVERRIDE-LINES...]: a gateway doing every check (no DNS needed to start)
	gw_conf gw "[verify]" "ca_file = ${CA:-$P/ca.pem}" "ct_log_list = ${CTL:-$P/ct.json}" \
		"[lmtp]" "target = unix:$P/nowhere.sock" "spool_dir = $P/spool"
	sed -i "s|^unbound_conf = /dev/null|unbound_conf = /dev/null\ntrust_anchor_file = ${TA:-$P/ta.key}|" "$P/gw.conf"
	[ -n "${CERT:-}" ] && sed -i "s|^certificate = .*|certificate = $CERT|" "$P/gw.conf"
	[ -n "${KEY:-}" ] && sed -i "s|^key = .*|key = $KEY|" "$P/gw.conf"
	return 0
}
refused() {	# NAME WHAT-REGEX: the start fails with 78 and one line naming WHAT
	local out rc
	out=$(timeout 20 "$GW" -f -c "$P/gw.conf" 2>&1)
	rc=$?
	if [ "$rc" = 78 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -qE "$2" <<<"$out" &&
	    ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		t_pass "$1"
	else
		t_fail "$1" "rc $rc: $(head -3 <<<"$out" | tr '\n' '|')"
	fi
}

# --- a good configuration starts -----------------------------------------------
conf
"$GW" -f -c "$P/gw.conf" >>"$P/gw.log" 2>&1 &
GW_PID=$!
t_track_pid "$GW_PID"
t_check good_config_starts "$(tail -3 "$P/gw.log" | tr '\n' '|')" t_wait_port "$PORT" 15
t_wait_for 10 grep -q 'event=ready workers=1' "$P/gw.log"

# --- broken at reload: previous state kept, logged, still serving -----------------
cp "$P/broken.json" "$P/ct.json"
kill -HUP "$GW_PID"
t_wait_for 10 grep -q 'event=reload result=fail' "$P/gw.log"
t_check reload_broken_ct_logged "$(grep 'event=reload' "$P/gw.log" | tail -2 | tr '\n' '|')" \
	grep -q 'event=reload result=fail why=".*ct_log_list.*kept=previous' "$P/gw.log"
t_check reload_broken_no_ok "$(grep 'event=reload' "$P/gw.log" | tr '\n' '|')" \
	bash -c "! grep -q 'event=reload result=ok' '$P/gw.log'"
out=$("$SEND" --connect "127.0.0.1:$PORT" --cafile "$P/c.pem" --servername gw.b.test --no-hello --wait 0.5 2>&1)
t_check reload_broken_still_serving "$out" grep -q 'tls version=TLSv1.3' <<<"$out"
cp "$P/garbage" "$P/ca.pem"
cp "$CT" "$P/ct.json"
kill -HUP "$GW_PID"
t_wait_for 10 bash -c "[ \$(grep -c 'event=reload result=fail' '$P/gw.log') -ge 2 ]"
t_check reload_broken_ca_logged "$(grep 'event=reload' "$P/gw.log" | tail -1)" \
	bash -c "grep 'event=reload result=fail' '$P/gw.log' | tail -1 | grep -q 'ca_file'"
t_check reload_broken_worker_alive "$(grep -E 'worker_died|worker_init' "$P/gw.log")" \
	bash -c "! grep -qE 'worker_died|worker_init_failed' '$P/gw.log' && kill -0 $GW_PID"
cp "$GW_DATA/root.pem" "$P/ca.pem"
kill -TERM "$GW_PID"
t_wait_for 15 bash -c "! kill -0 $GW_PID"

# --- READY=1 only after every worker loaded its configuration and listens ----------
conf
sed -i "s|^workers = .*|workers = 4|" "$P/gw.conf"
: >"$P/n.log"
python3 - "$P/notify.sock" "$P/n.log" "$P/gw.log" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
try:
    while True:
        m = s.recv(4096).decode()
        if "READY=1" in m:
            n = open(sys.argv[3]).read().count("event=worker_ready")
            open(sys.argv[2], "a").write("ready workers_ready_before=%d\n" % n)
            break
except socket.timeout:
    pass
PY
t_track_pid $!
t_wait_for 5 test -S "$P/notify.sock"
: >"$P/gw.log"
NOTIFY_SOCKET=$P/notify.sock "$GW" -f -c "$P/gw.conf" >>"$P/gw.log" 2>&1 &
GW_PID=$!
t_track_pid "$GW_PID"
t_wait_for 20 grep -q ready "$P/n.log"
t_check ready_after_all_workers "$(cat "$P/n.log")" grep -q 'workers_ready_before=4' "$P/n.log"
kill -TERM "$GW_PID"
t_wait_for 15 bash -c "! kill -0 $GW_PID"

# --- at start: each unloadable local file is exit 78 with one line ---------------
CTL=$P/missing.json conf;  refused start_ct_missing 'ct_log_list .*missing.json'
CTL=$P/broken.json conf;   refused start_ct_broken 'ct_log_list .*broken.json'
CA=$P/missing.pem conf;    refused start_ca_missing 'ca_file .*missing.pem'
CA=$P/garbage conf;        refused start_ca_broken 'ca_file .*garbage'
TA=$P/missing.key conf;    refused start_ta_missing 'trust_anchor_file .*missing.key'
TA=$P/garbage conf;        refused start_ta_broken 'trust_anchor_file .*garbage'
CERT=$P/missing.pem conf;  refused start_cert_missing 'missing.pem'
CERT=$P/garbage conf;      refused start_cert_broken 'garbage'
KEY=$P/missing.pem conf;   refused start_key_missing 'missing.pem'
KEY=$GW_DATA/leaf.key conf; refused start_key_mismatch 'key'

# --- a worker that fails at start: the master exits with its status, never READY --
conf
: >"$P/notadir"
sed -i "s|^spool_dir = .*|spool_dir = $P/notadir|" "$P/gw.conf"
sed -i "s|^workers = .*|workers = 4|" "$P/gw.conf"
: >"$P/w.log"
NOTIFY_SOCKET= timeout 20 "$GW" -f -c "$P/gw.conf" >"$P/w.log" 2>&1
rc=$?
t_check worker_failure_exit_78 "rc $rc: $(tail -3 "$P/w.log" | tr '\n' '|')" test "$rc" = 78
t_check worker_failure_not_ready "$(grep -E 'event=(ready|worker_init_failed)' "$P/w.log" | tr '\n' '|')" \
	bash -c "grep -q 'worker_init_failed .*status=78' '$P/w.log' && ! grep -q 'event=ready' '$P/w.log'"
exit 0
