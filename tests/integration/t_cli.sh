#!/bin/bash
# Every program's command line: --version (the one version, CLI_VERSION in
# base/cli.h), --help (exit 0, usage on stdout), an unknown
# option and a malformed number (exit 64, EX_USAGE, nothing on stdout);
# smtpsec-send --pipe keeps its Postfix codes (a usage error defers: 75).
# -v: the gateway's debug lines appear with it and not without.
# make install: the installed gateway and smtpsec-send have no test hooks
# (--insecure-skip-chain-checks, --tamper, --insecure, raw frames): 64, and
# not in their strings; the build tree's programs, which the tests run,
# still have them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

VERSION=$(sed -n 's/^#define CLI_VERSION "\(.*\)"$/\1/p' "$T_SRC/base/cli.h")
[ -n "$VERSION" ] || { t_fail version_header "no CLI_VERSION in base/cli.h"; exit 1; }

# rc NAME WANT STDOUT-EMPTY(1|0) PROG ARGS...: exit code, and for usage
# errors nothing on stdout and a line on stderr naming the program
rc() {
	local name=$1 want=$2 quiet=$3 out err r
	shift 3
	out=$("$@" 2>"$T_TMP/err" </dev/null)
	r=$?
	err=$(head -c 300 "$T_TMP/err")
	if [ "$r" != "$want" ]; then
		t_fail "$name" "exit $r, want $want: $err"
	elif [ "$quiet" = 1 ] && [ -n "$out" ]; then
		t_fail "$name" "stdout: $(head -c 200 <<<"$out")"
	elif [ "$quiet" = 1 ] && ! grep -q "$(basename "$1")" "$T_TMP/err"; then
		t_fail "$name" "stderr does not name the program: $err"
	else
		t_pass "$name"
	fi
}

for p in smtpsec-gateway smtpsec-verify smtpsec-stats smtpsec-spool smtpsec-send; do
	b=$BUILD/$p
	t_check "${p}_version" "$("$b" --version 2>&1)" test "$("$b" --version 2>&1)" = "$p $VERSION"
	out=$("$b" --help 2>/dev/null)
	r=$?
	t_check "${p}_help" "exit $r: $(head -c 100 <<<"$out")" test "$r" = 0 -a -n "$(grep -i '^usage:' <<<"$out")"
	rc "${p}_bad_option" 64 1 "$b" --no-such-option
done
for p in smtpsec-gateway smtpsec-verify smtpsec-stats smtpsec-spool; do
	t_check "${p}_V" "$("$BUILD/$p" -V 2>&1)" test "$("$BUILD/$p" -V 2>&1)" = "$p $VERSION"
done

# malformed numbers (and arguments): a usage error, never a silent default
G=$BUILD/smtpsec-gateway
rc gateway_workers_abc 64 1 "$G" --workers abc -c /nonexistent
rc gateway_workers_0 64 1 "$G" --workers 0 -c /nonexistent
rc gateway_workers_65 64 1 "$G" --workers 65 -c /nonexistent
rc gateway_workers_sign 64 1 "$G" --workers +2 -c /nonexistent
rc gateway_missing_arg 64 1 "$G" -c
rc gateway_extra_arg 64 1 "$G" -c /nonexistent extra
rc gateway_t_and_n 64 1 "$G" -t -n -c /nonexistent
rc gateway_no_config 78 1 "$G" -f -c "$T_TMP/none.conf"
# --syslog takes effect after the options: a usage error still reaches the terminal
out=$("$G" --syslog --workers abc -c /nonexistent 2>&1 >/dev/null); r=$?
t_check gateway_syslog_usage_on_stderr "exit $r: $out" test "$r" = 64 -a -n "$(grep -F -- "--workers: 'abc'" <<<"$out")"
S=$BUILD/smtpsec-stats
for o in count interval stale min-live warn-stale spool-warn spool-crit spool-age-warn spool-age-crit; do
	for v in abc -1 1e3 " 5" 0x10; do
		extra=()
		[ "$o" = count ] && extra=(--watch)
		rc "stats_${o}_$(tr -c 'a-z0-9' _ <<<"$v")" 64 1 "$S" "--$o" "$v" "${extra[@]}"
	done
done
V=$BUILD/smtpsec-verify
rc verify_at_abc 64 1 "$V" --at abc --chain /dev/null --ct-only
rc verify_no_chain 64 1 "$V" --ct-only
rc verify_unreadable_chain 66 0 "$V" --ct-only --chain "$T_TMP/none.pem"
printf '[limits]\nmax_recipients = lots\n' >"$T_TMP/bad.conf"
rc verify_bad_config 78 0 "$V" -c "$T_TMP/bad.conf" --ct-only --chain /dev/null
SP=$BUILD/smtpsec-spool
rc spool_no_command 64 1 "$SP" -d "$T_TMP"
rc spool_bad_command 64 0 "$SP" -d "$T_TMP" frobnicate
rc spool_bad_config 78 0 "$SP" -c "$T_TMP/bad.conf" list
rc spool_no_entry 66 0 "$SP" -d "$T_TMP" show 1-2-3
SE=$BUILD/smtpsec-send
for o in count concurrency size window per-conn from-domains from-first require-security max-seconds; do
	rc "send_${o}_abc" 64 1 "$SE" "--$o" abc
	rc "send_${o}_neg" 64 1 "$SE" "--$o" -1
done
rc send_require_security_2 64 1 "$SE" --require-security 2
rc send_timeout_abc 64 1 "$SE" --print-srv b.test --timeout abc
# --pipe: Postfix reads the code: a usage error defers (75), never bounces
rc send_pipe_timeout_abc 75 1 "$SE" --pipe --timeout abc --keys /dev/null x@b.test
rc send_pipe_bad_option 75 1 "$SE" --pipe --no-such-option
rc send_pipe_no_keys 75 1 "$SE" --pipe x@b.test
# the test client outside the test suite
rc send_test_option_refused 64 1 env -u SMTPSEC_TEST_MODE "$SE" --connect 127.0.0.1:1

# -v: debug lines (the configuration, each listener, the workers)
gw_pki || t_fail pki "openssl"
gw_conf v
"$G" -f -v -c "$T_TMP/v.conf" --insecure-skip-chain-checks >"$T_TMP/v.log" 2>&1 &
pid=$!
t_track_pid "$pid"
t_wait_port "$PORT" 15 || t_fail verbose_start "$(tail -3 "$T_TMP/v.log")"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
t_check verbose_debug_lines "$(grep -c ' debug ' "$T_TMP/v.log") debug lines" \
	grep -q " debug conn=- event=listen address=127.0.0.1:$PORT" "$T_TMP/v.log"
t_check verbose_config_line "no event=config" grep -q " debug conn=- event=config " "$T_TMP/v.log"
gw_conf q
"$G" -f -c "$T_TMP/q.conf" --insecure-skip-chain-checks >"$T_TMP/q.log" 2>&1 &
pid=$!
t_track_pid "$pid"
t_wait_port "$PORT" 15 || t_fail quiet_start "$(tail -3 "$T_TMP/q.log")"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
t_check quiet_no_debug "$(grep ' debug ' "$T_TMP/q.log" | head -2)" \
	bash -c "grep -q 'event=start version=' '$T_TMP/q.log' && ! grep -q ' debug ' '$T_TMP/q.log'"

# the installed programs have no test hooks
inst=$T_TMP/inst
if make -s -C "$T_SRC" -o all B="$BUILD" install DESTDIR="$inst" PREFIX=/usr >"$T_TMP/install.log" 2>&1; then
	IG=$inst/usr/sbin/smtpsec-gateway IS=$inst/usr/bin/smtpsec-send
	rc installed_gateway_no_skip 64 1 "$IG" -f -c "$T_TMP/v.conf" --insecure-skip-chain-checks
	for o in --tamper --insecure --raw-hex=00 --no-hello --hello-version=1 --chain-index=1 --tls12 --wait=1; do
		rc "installed_send_no_${o%%=*}" 64 1 "$IS" "$o" --connect 127.0.0.1:1
	done
	t_check installed_gateway_strings "$(strings "$IG" | grep -m3 -E 'insecure-skip')" \
		bash -c "! strings '$IG' | grep -q -E 'insecure-skip'"
	t_check installed_send_strings "$(strings "$IS" | grep -m3 -E -- '--tamper|--insecure|raw-hex|hello-version|no-hello|chain-index')" \
		bash -c "! strings '$IS' | grep -q -E -- '--tamper|--insecure|raw-hex|hello-version|no-hello|chain-index'"
	t_check installed_version "$("$IG" --version)" test "$("$IG" --version)" = "smtpsec-gateway $VERSION"
	out=$("$IG" -n -c "$T_TMP/v.conf" 2>&1)
	t_check installed_gateway_works "$out" grep -q "^listen = 127.0.0.1:" <<<"$out"
	# the build tree's programs keep them (every other test uses them)
	t_check build_gateway_has_skip "no --insecure-skip-chain-checks in --help" \
		bash -c "'$G' --help | grep -q -- --insecure-skip-chain-checks"
	t_check build_send_has_tamper "no --tamper in --help" bash -c "'$SE' --help | grep -q -- --tamper"
else
	t_fail make_install "$(tail -3 "$T_TMP/install.log")"
fi
