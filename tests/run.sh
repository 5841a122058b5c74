#!/bin/sh
# Test runner: runs each program given (unit test binaries and
# tests/integration/t_*.sh scripts), streams their output, and counts the
# lines that start with "PASS:", "FAIL:" or "SKIP:".  A program that exits
# non-zero without printing a FAIL: line counts as one failure, so a crash
# can never pass silently.  Ends with the line "N passed, N failed, N skipped"
# and exits non-zero when anything failed.
#
# Environment: BUILD (absolute build dir), SHARED (../shared), and
# TEST_TIMEOUT (seconds per program, default 900).
pass=0 fail=0 skip=0
: "${TEST_TIMEOUT:=900}"
export BUILD SHARED
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
for t in "$@"; do
	echo "== $t"
	case "$t" in
	*.sh) timeout -k 10 "$TEST_TIMEOUT" bash "$t" >"$out" 2>&1 ;;
	*)    timeout -k 10 "$TEST_TIMEOUT" "$t" >"$out" 2>&1 ;;
	esac
	rc=$?
	cat "$out"
	p=$(grep -c '^PASS:' "$out"); f=$(grep -c '^FAIL:' "$out"); s=$(grep -c '^SKIP:' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $t exited with status $rc"
		f=1
	fi
	if [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
		echo "FAIL: $t ran no test case"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
