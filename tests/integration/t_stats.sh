#!/bin/bash
# Stats in Redis (receiver/rcv_metrics.c) and smtpsec-stats, against a real
# redis-server: batched flushes, two instances and cluster totals, AUTH,
# counting through a Redis outage, stale instances left out of totals.
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

# 7. A hung Redis (SIGSTOP: connections accepted, nothing answered): the
#    stuck batch is dropped after 5 s (the context freed, not waited on),
#    the reconnect's handshake times out, counting goes on; after SIGCONT
#    the counts arrive and nothing was counted twice.
start=$(date +%s%N)
"$mq" --instance gw6:4650 --host 127.0.0.1 --port "$port" --password s3cret --interval-ms 100 --run-ms 11000 \
	--add emails_received=1 --add-every-ms 100 >"$T_TMP/gw6.out" &
mqpid=$!
sleep 1
kill -STOP "$REDIS_PID"
sleep 7
kill -CONT "$REDIS_PID"
wait "$mqpid"
el=$(( ($(date +%s%N) - start) / 1000000 ))
want=$(sed -n 's/^total emails_received=//p' "$T_TMP/gw6.out")
got=$(rcli HGET smtpsec:stats:gw6:4650 emails_received)
t_check hung_redis_does_not_block "run took ${el} ms" test "$el" -lt 13000
if [ -n "$got" ] && [ "$got" -ge $((want - 5)) ] && [ "$got" -le "$want" ] && grep -q redis=up "$T_TMP/gw6.out"; then
	t_pass hung_redis_then_flush
else
	t_fail hung_redis_then_flush "counted $want, Redis has '${got}': $(tr '\n' ' ' <"$T_TMP/gw6.out")"
fi
