# lib_redis.sh: a real redis-server on loopback for tests.  Source after lib.sh.
#
#   redis_start [PASSWORD]   start on a free port (REDIS_PORT, REDIS_PID), optional requirepass
#   redis_restart            start again on the same port (data is not kept)
#   redis_kill               SIGKILL (an outage)
#   redis_stop               SIGTERM and wait
#   rcli ARGS...             redis-cli against it (with the password if any)

REDIS_PORT=
REDIS_PID=
REDIS_PASS=

_redis_run() {
	local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no
		--dir "$T_TMP" --logfile "$T_TMP/redis-$REDIS_PORT.log")
	[ -n "$REDIS_PASS" ] && args+=(--requirepass "$REDIS_PASS")
	redis-server "${args[@]}" &
	REDIS_PID=$!
	t_track_pid "$REDIS_PID"
	t_wait_port "$REDIS_PORT" 10
}

redis_start() {
	REDIS_PORT=$(t_free_port)
	REDIS_PASS=${1:-}
	_redis_run
}

redis_restart() { _redis_run; }

redis_kill() {
	[ -n "$REDIS_PID" ] || return 0
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
}

redis_stop() {
	[ -n "$REDIS_PID" ] || return 0
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
}

rcli() {
	if [ -n "$REDIS_PASS" ]; then
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -a "$REDIS_PASS" --no-auth-warning "$@"
	else
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	fi
}
