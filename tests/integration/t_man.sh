#!/bin/bash
# Man pages and make install: every page in man/ and sender/ formats with no
# warning from man(1) and groff -ww; make install puts the product programs
# in bin/ and sbin/, the pages in man1/ and man8/, no --help dumps and no
# test tool (tests/tools/*) anywhere; every program has a page and every
# option its --help lists appears in it.
. "$(dirname "$0")/lib.sh"

command -v groff >/dev/null || { t_skip groff "groff not installed"; exit 0; }
pages=("$T_SRC"/man/*.[1-8] "$T_SRC"/sender/smtpsec-send.1)
for p in "${pages[@]}"; do
	n=$(basename "$p")
	w=$( { LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -E UTF-8 -l "$p" >/dev/null; } 2>&1)
	w2=$(groff -man -ww -z "$p" 2>&1)
	t_check "man_clean_$n" "$w $w2" test -z "$w$w2"
done

inst=$T_TMP/inst
# -o all: install what this build made, never rebuild it (a sanitizer build
# relinked without its flags would break)
if make -s -C "$T_SRC" -o all B="$BUILD" install DESTDIR="$inst" PREFIX=/usr >"$T_TMP/install.log" 2>&1; then
	t_pass make_install
else
	t_fail make_install "$(tail -3 "$T_TMP/install.log")"
	exit 1
fi
for f in sbin/smtpsec-gateway sbin/smtpsec-spool bin/smtpsec-stats bin/smtpsec-verify bin/smtpsec-send \
	share/man/man8/smtpsec-gateway.8 share/man/man8/smtpsec-spool.8 share/man/man1/smtpsec-stats.1 \
	share/man/man1/smtpsec-verify.1 share/man/man1/smtpsec-send.1; do
	t_check "installed_$(basename "$f")" "missing $f" test -e "$inst/usr/$f"
done
t_check no_help_dumps "$(find "$inst" -name '*.txt' | head -3)" test -z "$(find "$inst" -name '*.txt')"
tools=$(ls "$T_SRC/tests/tools")
found=""
for t in $tools; do
	[ -n "$(find "$inst" -name "$t")" ] && found="$found $t"
done
t_check no_test_tools "installed:$found" test -z "$found"

# each program's long options (from --help) are in its page
for p in smtpsec-stats:1 smtpsec-spool:8 smtpsec-verify:1 smtpsec-gateway:8; do
	prog=${p%:*} sec=${p#*:}
	page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$inst/usr/share/man/man$sec/$prog.$sec" 2>/dev/null | col -b)
	missing=""
	for o in $("$BUILD/$prog" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$o" <<<"$page" || missing="$missing $o"
	done
	t_check "options_documented_$prog" "not in $prog($sec):$missing" test -z "$missing"
done
