#!/bin/bash
# Stats in Redis (receiver/rcv_metrics.c) and smtpsec-stats, against a real
# redis-server: batched flushes, two instances and cluster totals, AUTH,
# counting through a Redis outage, stale instances left out of totals;
# the operator modes (--prometheus checked by promtool, --check's Nagios
# exit codes, cumulative buckets, no live instance, strict numbers).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_redis.sh"

mq="$BUILD/smtpsec-metricsq"
st="$BUILD/smtpsec-stats"

redis_start || { t_fail redis_start "redis-server did not start"; exit 1; }
port=$REDIS_PORT

# 1. Counters and gauges arrive; two workers of one instance add up.
"$mq" --instance gw1:4650 --worker 0 --host 127.0.0.1 --port "$port" --interval-ms 200 --run-ms 800 \
	--add emails_received=5 --add bytes_in=1000 --gauge conn_active=3 >"$T_TMP/w0.out"
"$mq" --instance gw1:4650 --worker 1 --host 127.0.0.1 --port "$port" --interval-ms 200 --run-ms 800 \
	--add emails_received=2 --gauge conn_active=4 >"$T_TMP/w1.out"
t_check counters_add_up "emails_received=$(rcli HGET smtpsec:stats:gw1:4650 emails_received)" \
	test "$(rcli HGET smtpsec:stats:gw1:4650 emails_received)" = 7
t_check gauges_per_worker "conn_active.w0/w1 wrong" \
	test "$(rcli HGET smtpsec:stats:gw1:4650 conn_active.w0)/$(rcli HGET smtpsec:stats:gw1:4650 conn_active.w1)" = 3/4
t_check instance_registered "not in smtpsec:instances" \
	test -n "$(rcli ZSCORE smtpsec:instances gw1:4650)"

# 2. Counted once, not once per flush: a run with many intervals flushes the
#    same delta only once (value in Redis equals what was counted).
"$mq" --instance gw2:4650 --host 127.0.0.1 --port "$port" --interval-ms 100 --run-ms 1200 \
	--add emails_delivered=1 --add-every-ms 100 >"$T_TMP/gw2.out"
want=$(sed -n 's/^total emails_delivered=//p' "$T_TMP/gw2.out")
got=$(rcli HGET smtpsec:stats:gw2:4650 emails_delivered)
# the last adds may land after the last flush: Redis may trail by at most a
# flush interval's worth, never exceed
if [ -n "$got" ] && [ "$got" -le "$want" ] && [ "$got" -ge $((want - 2)) ]; then
	t_pass no_double_count
else
	t_fail no_double_count "counted $want, Redis has $got"
fi
t_check cluster_total "total emails_received wrong" \
	test "$(rcli HGET smtpsec:stats:total emails_received)" = 7

# 3. smtpsec-stats: both instances live, totals sum them; JSON parses.
"$st" --url "redis://127.0.0.1:$port" --interval 0.2 --stale 30 >"$T_TMP/table.out" 2>&1
if grep -q '^gw1:4650 .*live' "$T_TMP/table.out" && grep -q '^TOTAL (live) *2 ' "$T_TMP/table.out"; then
	t_pass stats_table
else
	t_fail stats_table "$(tr '\n' '|' <"$T_TMP/table.out")"
fi
"$st" --url "redis://127.0.0.1:$port" --interval 0.2 --stale 30 --json >"$T_TMP/j.out" 2>&1
if python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
t=d["totals_live"]
assert t["emails_received"]==7, t["emails_received"]
assert t["conn_active"]==7, t["conn_active"]
assert len(d["instances"])==2
' "$T_TMP/j.out"; then t_pass stats_json; else t_fail stats_json "$(head -c 300 "$T_TMP/j.out")"; fi

# 4. Stale instance: heartbeat far in the past -> shown stale, not in totals.
rcli HSET smtpsec:stats:gw1:4650 meta.heartbeat 1000 >/dev/null
"$st" --url "redis://127.0.0.1:$port" --interval 0.2 --json >"$T_TMP/j2.out" 2>&1
if python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
s={i["instance"]:i["state"] for i in d["instances"]}
assert s["gw1:4650"]=="stale" and s["gw2:4650"]=="live", s
assert d["totals_live"]["emails_received"]==0
' "$T_TMP/j2.out"; then t_pass stale_dropped; else t_fail stale_dropped "$(head -c 300 "$T_TMP/j2.out")"; fi

# 4b. Operator modes.  gw7 is live with a latency histogram and a spool.
"$mq" --instance gw7:4650 --host 127.0.0.1 --port "$port" --interval-ms 100 --run-ms 400 \
	--add lmtp_latency_le_10ms=2 --add lmtp_latency_le_100ms=3 --add lmtp_latency_le_1s=1 \
	--add lmtp_latency_gt_1s=1 --add lmtp_latency_count=7 --add lmtp_latency_us_sum=2500000 \
	--add emails_received=4 --gauge spool_depth=12 --gauge conn_active=2 >/dev/null
out=$("$st" --url "redis://127.0.0.1:$port" --count abc 2>&1); rc=$?
t_check count_not_a_number "rc $rc: $out" bash -c "[ $rc = 64 ] && grep -q \"bad value for --count: 'abc'\" <<<\"\$1\"" _ "$out"
out=$("$st" --url "redis://127.0.0.1:$port" --interval 1x 2>&1); rc=$?
t_check interval_not_a_number "rc $rc" test "$rc" = 64
"$st" --url "redis://127.0.0.1:$port" --interval 0.1 --stale 600 --json >"$T_TMP/j3.out" 2>"$T_TMP/j3.err"
if python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
c={i["instance"]:i for i in d["instances"]}["gw7:4650"]["counters"]
# cumulative: le_100ms counts le_10ms too, le_1s both
assert (c["lmtp_latency_le_10ms"],c["lmtp_latency_le_100ms"],c["lmtp_latency_le_1s"],c["lmtp_latency_count"])==(2,5,6,7), c
assert d["live"]==2, d["live"]
' "$T_TMP/j3.out"; then t_pass json_cumulative_buckets; else t_fail json_cumulative_buckets "$(head -c 300 "$T_TMP/j3.out")"; fi

# Prometheus text format, checked by Prometheus's own parser (promtool) and
# read back with a second one (python3-prometheus-client) when installed.
"$st" --url "redis://127.0.0.1:$port" --stale 600 --prometheus >"$T_TMP/prom.txt" 2>"$T_TMP/prom.err"
rc=$?
t_check prometheus_exit "rc $rc: $(cat "$T_TMP/prom.err")" test "$rc" = 0
if command -v promtool >/dev/null; then
	if promtool check metrics <"$T_TMP/prom.txt" >"$T_TMP/promtool.out" 2>&1; then
		t_pass promtool_check_metrics
	else
		t_fail promtool_check_metrics "$(head -5 "$T_TMP/promtool.out" | tr '\n' '|')"
	fi
else
	t_skip promtool_check_metrics "promtool not installed (Debian package prometheus)"
fi
t_check prometheus_values "$(grep -E 'gw7:4650' "$T_TMP/prom.txt" | head -5 | tr '\n' '|')" bash -c '
	grep -qx "smtpsec_emails_received_total{instance=\"gw7:4650\"} 4" "$1" &&
	grep -qx "smtpsec_spool_depth{instance=\"gw7:4650\"} 12" "$1" &&
	grep -qx "smtpsec_lmtp_latency_seconds_bucket{instance=\"gw7:4650\",le=\"0.1\"} 5" "$1" &&
	grep -qx "smtpsec_lmtp_latency_seconds_bucket{instance=\"gw7:4650\",le=\"+Inf\"} 7" "$1" &&
	grep -qx "smtpsec_lmtp_latency_seconds_sum{instance=\"gw7:4650\"} 2.500000" "$1" &&
	grep -qx "smtpsec_conn_refused_total{instance=\"gw7:4650\"} 0" "$1" &&
	grep -qx "smtpsec_instance_up{instance=\"gw1:4650\"} 0" "$1" &&
	! grep -q "smtpsec_conn_active{instance=\"gw1:4650\"}" "$1" &&
	grep -q "^# TYPE smtpsec_emails_received_total counter$" "$1" &&
	grep -q "^# HELP smtpsec_emails_received_total " "$1" &&
	[ "$(grep -c "^# TYPE smtpsec_emails_received_total " "$1")" = 1 ]' _ "$T_TMP/prom.txt"
# Debian's python3 (python3-prometheus-client), not one earlier in PATH
py=/usr/bin/python3; [ -x "$py" ] || py=python3
if "$py" -c 'import prometheus_client' 2>/dev/null; then
	if "$py" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fam={f.name:f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
h=fam["smtpsec_lmtp_latency_seconds"]
assert h.type=="histogram", h.type
b={s.labels["le"]:s.value for s in h.samples if s.name.endswith("_bucket") and s.labels["instance"]=="gw7:4650"}
assert b=={"0.01":2,"0.1":5,"1":6,"+Inf":7}, b
assert fam["smtpsec_emails_received"].type=="counter"
' "$T_TMP/prom.txt" 2>"$T_TMP/pyprom.err"; then t_pass prometheus_client_parses
	else t_fail prometheus_client_parses "$(tail -2 "$T_TMP/pyprom.err" | tr '\n' '|')"; fi
else
	t_skip prometheus_client_parses "python3-prometheus-client not installed"
fi

# --output: the same exposition written atomically (what the timer unit runs)
"$st" --url "redis://127.0.0.1:$port" --stale 600 --prometheus --output "$T_TMP/out.prom" >"$T_TMP/out.stdout" 2>&1
rc=$?
t_check prometheus_output_file "rc $rc: $(cat "$T_TMP/out.stdout")" bash -c "[ $rc = 0 ] && [ ! -s '$T_TMP/out.stdout' ] &&
	[ ! -e '$T_TMP/out.prom.tmp' ] && grep -q '^smtpsec_emails_received_total{instance=\"gw7:4650\"} 4\$' '$T_TMP/out.prom'"
"$st" --url "redis://127.0.0.1:$port" --json --output "$T_TMP/x" >/dev/null 2>&1; rc=$?
t_check output_needs_prometheus "rc $rc" test "$rc" = 64

# --check: Nagios exit codes and one status line
ck() { "$st" --url "redis://127.0.0.1:$port" --stale 600 --check "$@" >"$T_TMP/ck.out" 2>&1; echo $?; }
rc=$(ck --warn-stale 0)
t_check check_ok "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 0 ] && grep -Eq '^SMTPSEC OK - 2/3 instances live, Redis reachable, spool 12 \\| live=2;' '$T_TMP/ck.out' && [ \$(wc -l <'$T_TMP/ck.out') = 1 ]"
rc=$(ck)
t_check check_stale_warning "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 1 ] && grep -q '^SMTPSEC WARNING - 2/3 instances live, 1 stale' '$T_TMP/ck.out'"
rc=$(ck --warn-stale 0 --spool-warn 10)
t_check check_spool_warning "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 1 ] && grep -q 'spool 12 (>= 10)' '$T_TMP/ck.out'"
rc=$(ck --warn-stale 0 --spool-warn 5 --spool-crit 12)
t_check check_spool_critical "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 2 ] && grep -q '^SMTPSEC CRITICAL - .*spool 12 (>= 12)' '$T_TMP/ck.out'"
rc=$(ck --warn-stale 0 --min-live 5)
t_check check_too_few_live "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 2 ] && grep -q '2/3 instances live (fewer than 5)' '$T_TMP/ck.out'"
out=$("$st" --url "redis://127.0.0.1:1" --check 2>&1); rc=$?
t_check check_redis_unreachable "rc $rc: $out" bash -c "[ $rc = 2 ] && grep -q '^SMTPSEC CRITICAL - cannot connect to Redis' <<<\"\$1\"" _ "$out"
out=$("$st" --url "redis://127.0.0.1:$port" --check --spool-warn x 2>&1); rc=$?
t_check check_usage "rc $rc" test "$rc" = 64

# --spool-dir: the age of this host's oldest waiting Email (the spool format
# of lmtp/lmtp_spool.c; entries in failed/ do not count)
mkdir -p "$T_TMP/sp/failed"
rc=$(ck --warn-stale 0 --spool-dir "$T_TMP/sp")
t_check check_spool_empty "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 0 ] && grep -q 'spool_age=0s;3600;86400;0' '$T_TMP/ck.out'"
old=$(( $(date +%s) - 7200 ))
printf 'SMTPSEC-SPOOL 1\ncreated %s\nattempts 3\nnext 0\nfrom a@example.test\nrcpt b@b.test\n\nx\r\n' "$old" >"$T_TMP/sp/$old-1-0.msg"
printf 'SMTPSEC-SPOOL 1\ncreated 1000\nattempts 9\nnext 0\nfrom a@example.test\nrcpt b@b.test\n\nx\r\n' >"$T_TMP/sp/failed/1000-1-0.msg"
rc=$(ck --warn-stale 0 --spool-dir "$T_TMP/sp")
t_check check_spool_age_warning "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 1 ] && grep -Eq 'oldest spooled 720[0-9] s \(>= 3600\)' '$T_TMP/ck.out'"
rc=$(ck --warn-stale 0 --spool-dir "$T_TMP/sp" --spool-age-crit 7000)
t_check check_spool_age_critical "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 2 ] && grep -q '(>= 7000)' '$T_TMP/ck.out'"
rc=$(ck --warn-stale 0 --spool-dir "$T_TMP/nonexistent")
t_check check_spool_unreadable "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 3 ] && grep -q '^SMTPSEC UNKNOWN - .*cannot read spool' '$T_TMP/ck.out'"

# every instance stale: the table still shows them, a message says why, exit 69
for i in gw2:4650 gw7:4650; do rcli HSET smtpsec:stats:$i meta.heartbeat 1000 >/dev/null; done
"$st" --url "redis://127.0.0.1:$port" --interval 0.1 >"$T_TMP/allstale.out" 2>"$T_TMP/allstale.err"; rc=$?
t_check all_stale_exit "rc $rc: $(cat "$T_TMP/allstale.err")" bash -c "[ $rc = 69 ] &&
	grep -q 'no live instance: all 3 are stale' '$T_TMP/allstale.err' && grep -q '^gw7:4650 .*stale' '$T_TMP/allstale.out'"
rc=$(ck --warn-stale 0)
t_check check_all_stale "rc $rc: $(cat "$T_TMP/ck.out")" bash -c "[ $rc = 2 ] && grep -q '^SMTPSEC CRITICAL - 0/3 instances live' '$T_TMP/ck.out'"

# 5. Redis down: counting goes on, nothing blocks, and the deltas are
#    flushed once Redis is back (same port, empty data set).
redis_kill
start=$(date +%s%N)
"$mq" --instance gw3:4650 --host 127.0.0.1 --port "$port" --interval-ms 100 --run-ms 4000 \
	--add emails_received=1 --add-every-ms 200 >"$T_TMP/gw3.out" &
mqpid=$!
sleep 1
redis_restart
wait "$mqpid"
el=$(( ($(date +%s%N) - start) / 1000000 ))
want=$(sed -n 's/^total emails_received=//p' "$T_TMP/gw3.out")
got=$(rcli HGET smtpsec:stats:gw3:4650 emails_received)
if [ -n "$got" ] && [ "$got" -ge 10 ] && [ "$got" -le "$want" ] && grep -q redis=up "$T_TMP/gw3.out"; then
	t_pass outage_then_flush
else
	t_fail outage_then_flush "counted $want, Redis has '${got}' after restart"
fi
t_check outage_does_not_block "run took ${el} ms" test "$el" -lt 6000

# 6. AUTH: a password-protected Redis receives the batch; a wrong password
#    loses nothing locally and writes nothing.
redis_stop
redis_start s3cret
port=$REDIS_PORT
"$mq" --instance gw4:4650 --host 127.0.0.1 --port "$port" --password s3cret --interval-ms 100 --run-ms 600 \
	--add emails_received=9 >/dev/null
t_check auth_ok "no data with the right password" \
	test "$(rcli HGET smtpsec:stats:gw4:4650 emails_received)" = 9
"$mq" --instance gw5:4650 --host 127.0.0.1 --port "$port" --password wrong --interval-ms 100 --run-ms 600 \
	--add emails_received=9 >"$T_TMP/gw5.out"
t_check auth_wrong "data written despite a wrong password" \
	test -z "$(rcli HGET smtpsec:stats:gw5:4650 emails_received)"
"$st" --url "redis://:s3cret@127.0.0.1:$port" --interval 0.1 >"$T_TMP/auth.out" 2>&1
t_check stats_auth "smtpsec-stats with password: $(head -1 "$T_TMP/auth.out")" grep -q '^gw4:4650' "$T_TMP/auth.out"
# the password without the command line: a URL file, or REDISCLI_AUTH
echo "redis://:s3cret@127.0.0.1:$port" >"$T_TMP/url"; chmod 600 "$T_TMP/url"
"$st" --url-file "$T_TMP/url" --interval 0.1 >"$T_TMP/auth2.out" 2>&1
t_check stats_url_file "$(head -1 "$T_TMP/auth2.out")" grep -q '^gw4:4650' "$T_TMP/auth2.out"
REDISCLI_AUTH=s3cret "$st" --url "redis://127.0.0.1:$port" --interval 0.1 >"$T_TMP/auth3.out" 2>&1
t_check stats_env_password "$(head -1 "$T_TMP/auth3.out")" grep -q '^gw4:4650' "$T_TMP/auth3.out"

# 7. A hung Redis (SIGSTOP: connections accepted, nothing answered): the
#    stuck batch is dropped after 5 s (the context freed, not waited on),
#    the reconnect's handshake times out, counting goes on; after SIGCONT
#    the counts arrive and nothing was counted twice.
# hung_run NAME WAIT STOPPED MQ-ARGS...: smtpsec-metricsq as instance
# NAME:4650 (output in $T_TMP/NAME.out); Redis stopped after WAIT seconds
# for STOPPED seconds; returns when the writer has exited
hung_run() {
	local name=$1 wait=$2 stopped=$3 pid
	shift 3
	"$mq" --instance "$name:4650" --host 127.0.0.1 --port "$port" --password s3cret "$@" >"$T_TMP/$name.out" &
	pid=$!
	sleep "$wait"
	kill -STOP "$REDIS_PID"
	sleep "$stopped"
	kill -CONT "$REDIS_PID"
	wait "$pid"
}
start=$(date +%s%N)
hung_run gw6 1 7 --interval-ms 100 --run-ms 11000 --add emails_received=1 --add-every-ms 100
el=$(( ($(date +%s%N) - start) / 1000000 ))
want=$(sed -n 's/^total emails_received=//p' "$T_TMP/gw6.out")
got=$(rcli HGET smtpsec:stats:gw6:4650 emails_received)
t_check hung_redis_does_not_block "run took ${el} ms" test "$el" -lt 13000
if [ -n "$got" ] && [ "$got" -ge $((want - 5)) ] && [ "$got" -le "$want" ] && grep -q redis=up "$T_TMP/gw6.out"; then
	t_pass hung_redis_then_flush
else
	t_fail hung_redis_then_flush "counted $want, Redis has '${got}': $(tr '\n' ' ' <"$T_TMP/gw6.out")"
fi

# 8. The batch a hung Redis holds is applied when Redis wakes up, and the
#    writer, which never got its reply, sends it again on a new
#    connection: the batch number makes one copy count, not both (without
#    it Redis had 2000).  Flushes every 1 s; the 1000 are added at 1.5 s,
#    after Redis stopped at 1.3 s, so they travel only in the batch of 2 s,
#    which is dropped as stuck at about 8 s; Redis wakes at 9.3 s.
hung_run gw7 1.3 8 --interval-ms 1000 --run-ms 13000 --add emails_received=1000 --add-after-ms 1500
got=$(rcli HGET smtpsec:stats:gw7:4650 emails_received)
t_check hung_redis_batch_counted_once "counted 1000, Redis has '${got}': $(tr '\n' ' ' <"$T_TMP/gw7.out")" \
	test "$got" = 1000
