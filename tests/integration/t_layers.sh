#!/bin/bash
# The layers (README "Layout", Makefile "layers"): which directory may
# include which.  Two guards, both tested here:
#   1. this script greps every #include of each layer (one PASS/FAIL line
#      per layer), and no include may climb out with "../";
#   2. the build: a layer compiles against an include root holding only the
#      layers it may use, and the unit tests of the lower layers link only
#      their libraries.
# Then both are shown to fail: in a copy of the sources, verify/vfy_der.c
# gets a wrong-way #include (the grep and the compile must refuse it) and,
# separately, a wrong-way call (the link of its unit test must refuse it),
# while the unchanged copy builds that test.  The same for sender/, which
# uses nothing of receiver/ (not even the command-line helpers, now in
# base/cli): a planted receiver include in sender/snd_pipe.c is refused by
# the grep and the compile, a planted call by the link of smtpsec-send.
. "$(dirname "$0")/lib.sh"

PROJECT_DIRS="base wire verify lmtp receiver sender tests"
# directory -> the directories (or single files) its files may include
declare -A USES=(
	[base]="base"
	[wire]="base wire"
	[verify]="base wire verify"
	[lmtp]="base wire lmtp"
	[sender]="base wire verify sender"
	[tests/lib]="base tests"
	[tests/unit/base]="base tests"
	[tests/unit/wire]="base wire tests"
	[tests/unit/verify]="base wire verify tests"
	[tests/unit/lmtp]="base wire lmtp tests"
	[tests/unit/sender]="base wire verify sender tests"
)

# check_layer ROOT DIR: prints the offending include lines, returns 1 if any
check_layer() {
	local root=$1 dir=$2 f line path first bad=0 allowed=" ${USES[$2]} "
	[ -d "$root/$dir" ] || return 0
	for f in "$root/$dir"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r line; do
			path=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*)[">].*/\1/' <<<"$line")
			first=${path%%/*}
			[ "$first" = "$path" ] && continue	# <stdio.h>, or a file beside it
			case " $PROJECT_DIRS " in *" $first "*) ;; *) continue ;; esac
			case "$allowed" in *" $first "* | *" $path "*) continue ;; esac
			echo "${f#$root/}: $line"
			bad=1
		done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f")
	done
	return $bad
}

# check_relative ROOT: no include climbs out of its directory
check_relative() {
	grep -rnE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][^">]*\.\./' \
	    "$1/base" "$1/wire" "$1/verify" "$1/lmtp" "$1/receiver" "$1/sender" "$1/tests" 2>/dev/null
	return $(( $? == 0 ))
}

for dir in $(printf "%s\n" "${!USES[@]}" | sort); do
	[ -d "$T_SRC/$dir" ] || { t_fail "includes_${dir//\//_}" "$dir is missing"; continue; }
	out=$(check_layer "$T_SRC" "$dir")
	t_check "includes_${dir//\//_}" "may include only ${USES[$dir]}: $out" test -z "$out"
done
out=$(check_relative "$T_SRC")
t_check includes_no_dotdot "$out" test -z "$out"

# receiver/ reaches verify/ through its public header alone (vfy.h), the
# Redis connection module the stats programs share with the DNS cache
# included (vfy.h declares it).
check_vfy_public() {
	grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]verify/' "$1"/receiver/*.[ch] |
	    grep -vE '["<]verify/vfy\.h[">]'
	return $(( $? == 0 ))
}
out=$(check_vfy_public "$T_SRC")
t_check receiver_includes_only_vfy_h "a verify/ header other than vfy.h: $out" test -z "$out"

# --- the guards refuse a wrong-way include and a wrong-way call ------------------
copy=$T_TMP/src
mkdir -p "$copy/tests"
cp -a "$T_SRC/Makefile" "$T_SRC/base" "$T_SRC/wire" "$T_SRC/verify" "$T_SRC/lmtp" \
    "$T_SRC/receiver" "$T_SRC/sender" "$copy/" &&
cp -a "$T_SRC/tests/lib" "$T_SRC/tests/unit" "$copy/tests/" &&
ln -s "$(readlink -f "$T_SRC/deps")" "$copy/deps" || { t_fail copy "cannot copy the sources"; exit 1; }
b=$T_TMP/build
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$copy" B="$b" OPT=-O0 WERROR= "$@" >"$T_TMP/make.log" 2>&1; }

# control: the unchanged copy builds verify/'s unit test
t_check control_builds "$(tail -5 "$T_TMP/make.log" 2>/dev/null)" mk "$b/tests/unit/verify/test_vfy_der"

# 0. receiver/ includes a verify/ header other than vfy.h
cp "$copy/receiver/rcv_tls.c" "$T_TMP/rcv_tls.c.orig"
sed -i '0,/^#include "verify\/vfy.h"/s//&\n#include "verify\/vfy_pkix.h"/' "$copy/receiver/rcv_tls.c"
t_check private_include_planted "sed did not add it" grep -q '^#include "verify/vfy_pkix.h"' "$copy/receiver/rcv_tls.c"
out=$(check_vfy_public "$copy")
t_check grep_refuses_private_verify_header "the grep passed it" grep -q 'rcv_tls.c:.*vfy_pkix.h' <<<"$out"
cp "$T_TMP/rcv_tls.c.orig" "$copy/receiver/rcv_tls.c"

cp "$copy/verify/vfy_der.c" "$T_TMP/vfy_der.c.orig"
# 1. verify/ includes a receiver header
sed -i '0,/^#include "verify\/vfy_der.h"/s//&\n#include "receiver\/rcv_log.h"/' "$copy/verify/vfy_der.c"
t_check wrong_include_planted "sed did not add it" grep -q '^#include "receiver/rcv_log.h"' "$copy/verify/vfy_der.c"
out=$(check_layer "$copy" verify)
t_check grep_refuses_wrong_include "the grep passed it" test -n "$out"
rm -f "$b/obj/verify/vfy_der.o"
if mk "$b/obj/verify/vfy_der.o"; then
	t_fail build_refuses_wrong_include "verify/vfy_der.c compiled with a receiver/ include"
else
	t_check build_refuses_wrong_include "failed for another reason: $(grep -m1 error "$T_TMP/make.log")" \
	    grep -q 'receiver/rcv_log.h: No such file' "$T_TMP/make.log"
fi

# 2. verify/ calls into the receiver without including anything
cp "$T_TMP/vfy_der.c.orig" "$copy/verify/vfy_der.c"
cat >>"$copy/verify/vfy_der.c" <<'EOF'

const char *rcv_log_q(char *buf, size_t bufsize, const void *p, size_t len);
const char *vfy_der_layer_probe(char *buf, size_t n);
const char *
vfy_der_layer_probe(char *buf, size_t n)
{
	return rcv_log_q(buf, n, "x", 1);	/* a wrong-way call */
}
EOF
if mk "$b/tests/unit/verify/test_vfy_der"; then
	t_fail link_refuses_wrong_call "test_vfy_der linked with a call into receiver/"
else
	t_check link_refuses_wrong_call "failed for another reason: $(grep -m1 -E 'error|undefined' "$T_TMP/make.log")" \
	    grep -q "undefined reference to .rcv_log_q" "$T_TMP/make.log"
fi
cp "$T_TMP/vfy_der.c.orig" "$copy/verify/vfy_der.c"

# 3. sender/ includes a receiver header (the command-line helpers were the
#    last exception; they are base/cli now)
t_check sender_control_builds "$(tail -5 "$T_TMP/make.log" 2>/dev/null)" mk "$b/smtpsec-send"
cp "$copy/sender/snd_pipe.c" "$T_TMP/snd_pipe.c.orig"
sed -i '0,/^#include "sender\/snd.h"/s//&\n#include "receiver\/rcv_log.h"/' "$copy/sender/snd_pipe.c"
t_check sender_wrong_include_planted "sed did not add it" grep -q '^#include "receiver/rcv_log.h"' "$copy/sender/snd_pipe.c"
out=$(check_layer "$copy" sender)
t_check grep_refuses_sender_include "the grep passed it" test -n "$out"
rm -f "$b/obj/sender/snd_pipe.o"
if mk "$b/obj/sender/snd_pipe.o"; then
	t_fail build_refuses_sender_include "sender/snd_pipe.c compiled with a receiver/ include"
else
	t_check build_refuses_sender_include "failed for another reason: $(grep -m1 error "$T_TMP/make.log")" \
	    grep -q 'receiver/rcv_log.h: No such file' "$T_TMP/make.log"
fi

# 4. sender/ calls into the receiver without including anything
cp "$T_TMP/snd_pipe.c.orig" "$copy/sender/snd_pipe.c"
cat >>"$copy/sender/snd_pipe.c" <<'EOF'

const char *rcv_log_q(char *buf, size_t bufsize, const void *p, size_t len);
const char *snd_pipe_layer_probe(char *buf, size_t n);
const char *
snd_pipe_layer_probe(char *buf, size_t n)
{
	return rcv_log_q(buf, n, "x", 1);	/* a wrong-way call */
}
EOF
if mk "$b/smtpsec-send"; then
	t_fail link_refuses_sender_call "smtpsec-send linked with a call into receiver/"
else
	t_check link_refuses_sender_call "failed for another reason: $(grep -m1 -E 'error|undefined' "$T_TMP/make.log")" \
	    grep -q "undefined reference to .rcv_log_q" "$T_TMP/make.log"
fi
cp "$T_TMP/snd_pipe.c.orig" "$copy/sender/snd_pipe.c"
exit 0
