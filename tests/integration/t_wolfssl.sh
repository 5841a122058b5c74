#!/bin/bash
# Which wolfSSL runs (README "Build requirements", make deps): the project
# build links the static library built from Debian's source package with
# the CPU-dispatching assembly; WOLFSSL=system links Debian's libwolfssl.
# ldd proves which one a program loads.  For the project build, qemu-user
# with a CPU without AVX/AVX2/AES-NI/BMI2/ADX (Nehalem) runs TLS 1.3
# handshakes (AES-GCM, ChaCha20-Poly1305; P-256, X25519; ECDSA and Ed25519
# signatures) through the library (wolfssl/cpu_check.c): the assembly is
# chosen at run time, never required.  The headers installed with it
# describe it (tests/integration/wolfssl/abi_check.c).
. "$(dirname "$0")/lib.sh"

mode=$(cut -d' ' -f1 "$BUILD/wolfssl.stamp" 2>/dev/null)
GW=$BUILD/smtpsec-gateway
libs=$(ldd "$GW" 2>&1)
# the bench's crypto floor (smtpsec-cryptofloor) runs with this build's
# library: every operation checked, a figure printed; bad sizes refused
floor=$("$BUILD/smtpsec-cryptofloor" --size 10240 --min-ms 20 2>&1)
t_check cryptofloor_runs "$floor" grep -Eq '^cryptofloor size=10240 ed25519_verify_us=[0-9.]+ sha512_us=[0-9.]+ chacha20_poly1305_us=[0-9.]+ floor_us=[0-9.]+$' <<<"$floor"
err=$("$BUILD/smtpsec-cryptofloor" --size 0 2>&1); rc=$?
t_check cryptofloor_bad_size "rc=$rc $err" test "$rc" = 2 -a -n "$(grep -- '--size' <<<"$err")"
case $mode in
project)
	t_check ldd_no_shared_wolfssl "$libs" bash -c '! grep -q libwolfssl <<<"$1"' _ "$libs"
	# the assembly is in: AES-NI GCM and the x86_64 SP code
	syms=$(nm "$GW" 2>/dev/null)
	t_check aesni_linked "no AES-NI GCM code in $GW" grep -q 'AES_GCM_encrypt_update_aesni' <<<"$syms"
	t_check sp_asm_linked "no SP x86_64 code in $GW" grep -q 'sp_256_.*_avx2' <<<"$syms"
	;;
system)
	t_check ldd_debian_wolfssl "$libs" grep -Eq 'libwolfssl.so.35 => /(usr/)?lib/x86_64-linux-gnu/' <<<"$libs"
	exit "$T_FAILED"
	;;
*)
	t_fail stamp "no $BUILD/wolfssl.stamp"
	exit 1
	;;
esac

Q=$(command -v qemu-x86_64)
if [ -z "$Q" ]; then
	t_fail qemu "qemu-x86_64 missing (make deps installs qemu-user)"
	exit 1
fi
# control: qemu refuses AVX2 and AES-NI on this CPU model, so a pass below
# means the library did not use them
printf 'int main(int c,char**v){if(c>1)__asm__ volatile("aesenc %%xmm0,%%xmm0");else __asm__ volatile("vpaddd %%ymm0,%%ymm0,%%ymm0");return 0;}\n' >"$T_TMP/ill.c"
cc -o "$T_TMP/ill" "$T_TMP/ill.c"
"$Q" -cpu Nehalem "$T_TMP/ill" 2>/dev/null; r1=$?
"$Q" -cpu Nehalem "$T_TMP/ill" x 2>/dev/null; r2=$?
t_check qemu_enforces_cpu "avx2 rc=$r1 aesni rc=$r2 (want 132: SIGILL)" test "$r1" = 132 -a "$r2" = 132
# the library itself, outside the (maybe sanitized) build: ASan does not
# run under qemu-user.  TLS 1.3 with AES-GCM and ChaCha20-Poly1305, P-256
# and X25519 key shares; the test chain's P-256 CA signatures are checked
# by the SP assembly, the Ed25519 leaf signs the handshake.
W=$T_SRC/deps/wolfssl/$(cut -d' ' -f2 "$BUILD/wolfssl.stamp")
D=$T_SRC/tests/unit/verify/data
cat "$D/leaf.pem" "$D/inter.pem" >"$T_TMP/chain.pem"
if ! cc -O2 -I"$W/include" -o "$T_TMP/cpu_check" "$T_SRC/tests/integration/wolfssl/cpu_check.c" \
    "$W/lib/libwolfssl.a" -lpthread -lm 2>"$T_TMP/cc.log"; then
	t_fail cpu_check_build "$(head -5 "$T_TMP/cc.log")"
	exit 1
fi
# the headers the build compiles with are the library's own: its
# options.h is installed next to it (else Debian's is picked up from
# /usr/include, and wolfCrypt objects the gateway holds are smaller than
# what the library writes into them; config/wolfssl/build.sh)
t_check options_h_installed "no $W/include/wolfssl/options.h" test -f "$W/include/wolfssl/options.h"
# built without session-certificate buffers (config/wolfssl/build.sh, r3)
t_check no_session_certs "SESSION_CERTS in $W" bash -c '! grep -q "define SESSION_CERTS" "$1/include/wolfssl/options.h" &&
	! nm "$1/lib/libwolfssl.a" 2>/dev/null | grep -q " T wolfSSL_get_peer_chain$"' _ "$W"
if cc -O2 -I"$W/include" -o "$T_TMP/abi_check" "$T_SRC/tests/integration/wolfssl/abi_check.c" \
    "$W/lib/libwolfssl.a" -lpthread -lm 2>"$T_TMP/cc.log"; then
	out=$("$T_TMP/abi_check" 2>&1)
	t_check headers_match_library "$out" test "$(grep -c ' ok$' <<<"$out")" = 7
else
	t_fail headers_match_library "abi_check does not build: $(head -5 "$T_TMP/cc.log")"
fi
out=$("$T_TMP/cpu_check" "$T_TMP/chain.pem" "$D/leaf.key" "$D/root.pem" mx1.example.test 2>&1)
t_check this_cpu_tls "$out" test "$(grep -c ' ok$' <<<"$out")" = 4
# the DRBG of every wolfSSL_new is seeded with one getrandom(2), not an
# open/read/close of /dev/urandom (config/wolfssl/build.sh, r4): the same
# handshakes under strace
if command -v strace >/dev/null; then
	strace -f -e trace=open,openat,getrandom -o "$T_TMP/seed.trace" "$T_TMP/cpu_check" "$T_TMP/chain.pem" \
	    "$D/leaf.key" "$D/root.pem" mx1.example.test >/dev/null 2>&1
	t_check seed_getrandom "$(grep -E 'urandom|getrandom' "$T_TMP/seed.trace" | head -3)" bash -c \
	    '! grep -q "/dev/u\?random" "$1" && grep -q "getrandom(" "$1"' _ "$T_TMP/seed.trace"
else
	t_fail seed_getrandom "strace missing (apt-get install strace)"
fi
out=$(timeout 120 "$Q" -cpu Nehalem "$T_TMP/cpu_check" "$T_TMP/chain.pem" "$D/leaf.key" "$D/root.pem" \
    mx1.example.test 2>&1)
t_check old_cpu_tls "$out" test "$(grep -c ' ok$' <<<"$out")" = 4
exit "$T_FAILED"
