#!/bin/sh
# Build wolfSSL for smtpsec-gateway from Debian's source package of the
# release installed here (libwolfssl-dev's version), so Debian's patches,
# security fixes included, come with it.  Called by `make deps`; see
# README "Build requirements".
#
#   config/wolfssl/build.sh DEST
#
# Installs into DEST (include/, lib/libwolfssl.a; the Makefile names it
# deps/wolfssl/<debian version>-<revision>/, the revision bumped whenever
# what this script builds changes, so programs built against an older
# build keep theirs) and writes a .built stamp there: a second run does
# nothing.  The version built is libwolfssl-dev's, which DEST must name.  Needs a deb-src entry (make deb-src), dpkg-dev, autoconf,
# automake, libtool.
#
# Configuration: Debian's own (--enable-distro, the same API the gateway
# and its tools were written against), plus wolfSSL's CPU-dispatching
# assembly: --enable-intelasm (AES-NI, AVX1/AVX2 code paths for AES-GCM,
# ChaCha20-Poly1305, SHA-2, chosen at run time from CPUID, so the library
# still runs on a CPU without AVX2 or AES-NI; tests/integration/t_wolfssl.sh
# checks that under qemu with such a CPU) and --enable-sp --enable-sp-asm
# (x86_64 assembly for P-256/P-384 ECDSA and ECDH, and Curve25519).
#
# Without SESSION_CERTS (r3): with it every session object carries fixed
# buffers for the peer's chain (9 x 2 KiB and more), 36 KiB of each idle
# gateway connection, for client certificates the gateway never asks for.
# configure turns it on for the distro set (TLS 1.3 with PSK) with no
# switch to turn it off, so it is taken out of the generated flags and
# options.h, and the result checked.  smtpsec-send takes the gateway's
# chain in a verify callback instead (sender/snd_discover.c).
# KEEP_PEER_CERT stays: OPENSSL_EXTRA forces it (wolfssl/wolfcrypt/settings.h).
#
# Seeded with getrandom(2) (r4): every wolfSSL_new instantiates a Hash_DRBG
# and seeds it from wc_GenerateSeed, by default open/read/close of
# /dev/urandom (three system calls, and one file descriptor for a moment, per
# TLS connection).  WOLFSSL_GETRANDOM, wolfSSL's own switch in
# wolfcrypt/src/random.c (no configure option; it changes no header or
# struct), reads the seed with one getrandom(2) instead (Linux 3.17, glibc
# 2.25); it blocks only before the kernel's pool is initialised, as
# /dev/random would.  t_wolfssl.sh checks a handshake opens no /dev/urandom.
#
# wolfssl/options.h, the configuration as headers, is installed with the
# library: the distro configuration leaves it out (Debian ships its own,
# /usr/include/wolfssl/options.h, made for Debian's library), and code
# compiled with Debian's options.h against this library sees other struct
# layouts (no USE_INTEL_SPEEDUP, WOLFSSL_AESNI: wc_Sha512, Aes, and what
# embeds them, are larger in this library; it writes past the caller's
# smaller objects).  t_wolfssl.sh checks the headers and the library agree.
set -eu
dest=$1
ver=$(dpkg-query -W -f='${Version}' libwolfssl-dev)
case $(basename "$dest") in
"$ver" | "$ver"-*) ;;
*) echo "wolfssl: $dest does not name libwolfssl-dev's version $ver"; exit 1 ;;
esac
if [ -f "$dest/.built" ]; then
	echo "wolfssl $ver: already built in $dest"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "wolfssl $ver: fetching Debian's source package"
apt-get source -q "wolfssl=$ver" >source.log 2>&1 || { cat source.log; exit 1; }
cd wolfssl-*/
echo "wolfssl $ver: configuring and building (about 1-2 minutes on 2 cores)"
./autogen.sh >"$work/autogen.log" 2>&1 || { cat "$work/autogen.log"; exit 1; }
./configure --prefix="$dest" --enable-distro --enable-intelasm --enable-sp --enable-sp-asm \
	--disable-examples --disable-crypttests --enable-static \
	CFLAGS="-O2 -g -fPIC -DWOLFSSL_GETRANDOM" >"$work/configure.log" 2>&1 || { tail -40 "$work/configure.log"; exit 1; }
sed -i 's/ -DSESSION_CERTS\b//g' Makefile
sed -i '/^#undef  SESSION_CERTS$/d; /^#define SESSION_CERTS$/d' wolfssl/options.h
if grep -q 'SESSION_CERTS' Makefile wolfssl/options.h; then
	echo "wolfssl $ver: SESSION_CERTS could not be taken out of the configuration"
	exit 1
fi
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
rm -rf "$dest"
make install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
install -m 0644 wolfssl/options.h "$dest/include/wolfssl/options.h"
# the static library only: nothing may pick the shared one up by accident
rm -f "$dest"/lib/libwolfssl.so*
if nm "$dest/lib/libwolfssl.a" 2>/dev/null | grep -q ' T wolfSSL_get_peer_chain$'; then
	echo "wolfssl $ver: the library was built with SESSION_CERTS after all"
	exit 1
fi
if ! nm "$dest/lib/libwolfssl.a" 2>/dev/null | grep -q ' U getrandom$'; then
	echo "wolfssl $ver: the library does not seed with getrandom (WOLFSSL_GETRANDOM not applied)"
	exit 1
fi
touch "$dest/.built"
echo "wolfssl $ver: installed in $dest"
