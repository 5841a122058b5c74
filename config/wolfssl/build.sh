#!/bin/sh
# Build wolfSSL for smtpsec-gateway from Debian's source package of the
# release installed here (libwolfssl-dev's version), so Debian's patches,
# security fixes included, come with it.  Called by `make deps`; see
# README "Build requirements".
#
#   config/wolfssl/build.sh DESTDIR-ROOT
#
# Installs into DESTDIR-ROOT/<debian version>/ (include/, lib/libwolfssl.a)
# and writes a .built stamp there: a second run with the same version does
# nothing.  Needs a deb-src entry (make deb-src), dpkg-dev, autoconf,
# automake, libtool.
#
# Configuration: Debian's own (--enable-distro, the same API the gateway
# and its tools were written against), plus wolfSSL's CPU-dispatching
# assembly: --enable-intelasm (AES-NI, AVX1/AVX2 code paths for AES-GCM,
# ChaCha20-Poly1305, SHA-2, chosen at run time from CPUID, so the library
# still runs on a CPU without AVX2 or AES-NI; tests/integration/t_wolfssl.sh
# checks that under qemu with such a CPU) and --enable-sp --enable-sp-asm
# (x86_64 assembly for P-256/P-384 ECDSA and ECDH, and Curve25519).
set -eu
root=$1
ver=$(dpkg-query -W -f='${Version}' libwolfssl-dev)
dest=$root/$ver
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
	CFLAGS="-O2 -g -fPIC" >"$work/configure.log" 2>&1 || { tail -40 "$work/configure.log"; exit 1; }
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
rm -rf "$dest"
make install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
# the static library only: nothing may pick the shared one up by accident
rm -f "$dest"/lib/libwolfssl.so*
touch "$dest/.built"
echo "wolfssl $ver: installed in $dest"
