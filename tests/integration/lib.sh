# lib.sh: common helpers for integration scripts (bash).  Source it first:
#     . "$(dirname "$0")/lib.sh"
# then the server libraries you need (lib_nsd.sh, lib_redis.sh,
# lib_dovecot.sh, lib_pki.sh, ...).
#
# Each script prints one line per case: "PASS: name", "FAIL: name: why" or
# "SKIP: name: why" (tests/run.sh counts them).  Servers are started on
# loopback with free ports, registered with t_track_pid, and stopped by PID
# when the script exits, whatever the reason.
set -u

: "${BUILD:?BUILD must name the build directory (make test sets it)}"
: "${SHARED:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared}"
T_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_NAME=$(basename "$0" .sh)
T_TMP=$(mktemp -d "/tmp/smtpsec-$T_NAME.XXXXXX")
T_PIDS=()
T_FAILED=0
# lets the gateway accept its test-only --insecure-skip-chain-checks flag
export SMTPSEC_TEST_MODE=1
# Sanitizer reports of every program the script runs land in files, and a
# report fails the script (see t_cleanup): a leak or overflow in a daemon
# cannot hide behind a passing assertion.
export ASAN_OPTIONS="log_path=$T_TMP/sanitizer:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$T_TMP/sanitizer:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

t_track_pid() { T_PIDS+=("$1"); }

t_cleanup() {
	local pid i
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${T_PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${T_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if ls "$T_TMP"/sanitizer.* >/dev/null 2>&1; then
		echo "FAIL: $T_NAME.sanitizer: report(s) from a program under test:"
		head -40 "$T_TMP"/sanitizer.* | sed 's/^/# /'
		T_FAILED=1
	fi
	if [ "${T_KEEP:-0}" = 1 ] || [ "$T_FAILED" != 0 -a "${CI:-}" != true ]; then
		echo "# kept $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

t_pass() { echo "PASS: $T_NAME.$1"; }
t_fail() { echo "FAIL: $T_NAME.$1: $2"; T_FAILED=1; }
t_skip() { echo "SKIP: $T_NAME.$1: $2"; }
# t_check NAME WHY-IF-FALSE COMMAND...: PASS when the command succeeds.
t_check() {
	local name=$1 why=$2; shift 2
	if "$@"; then t_pass "$name"; else t_fail "$name" "$why"; fi
}

# t_expect NAME WANT-EXIT REGEX COMMAND...: run COMMAND; one case that
# passes when it exits WANT-EXIT and its output (stdout+stderr) matches the
# extended REGEX.
t_expect() {
	local name=$1 want=$2 re=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		t_fail "$name" "exit $rc, want $want: $(grep -E '^result|^step|^smtpsec' <<<"$out" | tr '\n' ' ')"
	elif ! grep -qE "$re" <<<"$out"; then
		t_fail "$name" "no /$re/ in: $(tr '\n' ' ' <<<"$out")"
	else
		t_pass "$name"
	fi
}

# A free TCP port on 127.0.0.1 (bound by the kernel, then released).
t_free_port() {
	python3 - <<'PY' 2>/dev/null || perl -MIO::Socket::INET -e 'my $s=IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1:0") or die; print $s->sockport, "\n"'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# t_wait_for SECONDS COMMAND...: poll until the command succeeds.
t_wait_for() {
	local secs=$1; shift
	local i
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# t_wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT.
t_wait_port() {
	t_wait_for "${2:-10}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"
}
