#!/bin/sh
# Run every built fuzz target for SECONDS each on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<target>/), with its dictionary if there is one.
#   sh tests/fuzz/run.sh BUILD-DIR SECONDS
# Exits non-zero if any target finds a crash; the crash file is kept in
# BUILD-DIR/fuzz/artifacts/.
set -u
bdir=$1 secs=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$bdir/fuzz/artifacts"
rc=0
for bin in "$bdir"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); t=${name#fuzz_}
	work="$bdir/fuzz/corpus-run/$t"
	rm -rf "$work"; mkdir -p "$work"
	[ -d "$here/corpus/$t" ] && cp -r "$here/corpus/$t/." "$work/" 2>/dev/null
	dict=""
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	echo "== $name for ${secs}s"
	if "$bin" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$bdir/fuzz/artifacts/$name-" -print_final_stats=1 "$work" \
	    >"$bdir/fuzz/$name.log" 2>&1; then
		echo "PASS: fuzz.$name: $(grep -m1 'stat::number_of_executed_units' "$bdir/fuzz/$name.log" | awk '{print $2}') runs, no finding"
	else
		echo "FAIL: fuzz.$name: finding, see $bdir/fuzz/$name.log"
		tail -30 "$bdir/fuzz/$name.log"
		rc=1
	fi
done
exit $rc
