#!/bin/bash
# Regenerates the path-validation test PKI used by test_vfy_path (name
# constraints, path length, EKU, PKIX-TA/DANE-TA on the validated path,
# chains in any order).  Everything is made by openssl, independently of
# the code under test.
#
#   p_root                        self-signed root (P-256)
#   p_x, p_y                      two intermediates under p_root
#   p_ncdns  permitted DNS:other.test            (critical)
#   p_ncsrv  permitted DNS:.other.test + SRVName _smtpsec.other.test (critical)
#   p_ncexcl excluded DNS:bank.test              (critical)
#   p_ncuri  permitted URI:.other.test           (critical: a form we do not process)
#   p_sub    unconstrained sub-CA under p_ncdns
#   p_pl0    pathLen 0 under p_root;  p_pl0sub under p_pl0
#   p_exmx   permitted DNS:bank.test, excluded DNS:mx.bank.test
#   p_loop8  eight self-issued CAs sharing one name and key (path-search trap)
#   leaves: p_lx (by p_x, mx.bank.test), p_ly (by p_y, mx.bank.test),
#     p_lsubbank / p_lsubother (by p_sub: mx.bank.test / mx.other.test),
#     p_lsrvbank / p_lsrvother (by p_ncsrv: SRVName only, CN "not a dns name!"),
#     p_lwild (by p_ncexcl: *.bank.test), p_lexclok (by p_ncexcl: mx.other.test),
#     p_luri / p_luri2 (by p_ncuri: no URI / a URI name), p_lpl (by p_pl0sub), p_lclient (by p_x: EKU clientAuth),
#     p_lcn (by p_ncdns: SAN mx.other.test, CN mx.bank.test),
#     p_lwilddot (by p_exmx: *.bank.test.), p_lloop (by a p_loop8 CA)
set -e
cd "$(dirname "$0")"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$1.key" 2>/dev/null; }
key p_root
openssl req -x509 -new -key "$d/p_root.key" -subj /CN=Path-Root -days 7300 -sha256 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out p_root.pem
serial=100
ca() { # name issuer "extra ext lines"
  key "$1"
  openssl req -new -key "$d/$1.key" -subj "/CN=Path-$1" -out "$d/$1.csr"
  printf 'basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\n%s\n' "$4" "$3" > "$d/$1.ext"
  serial=$((serial + 1))
  openssl x509 -req -in "$d/$1.csr" -CA "$2.pem" -CAkey "$d/$2.key" -set_serial $serial -days 7000 \
    -sha256 -extfile "$d/$1.ext" -out "$1.pem" 2>/dev/null
}
leaf() { # name issuer SAN CN [extra]
  key "$1"
  openssl req -new -key "$d/$1.key" -subj "/CN=$4" -out "$d/$1.csr"
  { echo 'keyUsage=critical,digitalSignature'; echo 'basicConstraints=CA:FALSE';
    [ -n "$3" ] && echo "subjectAltName=$3"; [ -n "$5" ] && echo "$5"; } > "$d/$1.ext"
  serial=$((serial + 1))
  openssl x509 -req -in "$d/$1.csr" -CA "$2.pem" -CAkey "$d/$2.key" -set_serial $serial -days 6000 \
    -sha256 -extfile "$d/$1.ext" -out "$1.pem" 2>/dev/null
}
ca p_x p_root ""
ca p_y p_root ""
ca p_ncdns p_root "nameConstraints=critical,permitted;DNS:other.test"
ca p_ncsrv p_root "nameConstraints=critical,permitted;DNS:.other.test,permitted;otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.other.test"
ca p_ncexcl p_root "nameConstraints=critical,excluded;DNS:bank.test"
ca p_ncuri p_root "nameConstraints=critical,permitted;URI:.other.test"
ca p_sub p_ncdns ""
ca p_pl0 p_root "" ",pathlen:0"
ca p_pl0sub p_pl0 ""
ca p_exmx p_root "nameConstraints=critical,permitted;DNS:bank.test,excluded;DNS:mx.bank.test"
leaf p_lx p_x "DNS:mx.bank.test" "mx.bank.test"
leaf p_lwilddot p_exmx "DNS:*.bank.test." "leaf"
# eight self-issued CAs with one name and one key: a search-space trap
key p_loop
for i in 1 2 3 4 5 6 7 8; do
  openssl req -x509 -new -key "$d/p_loop.key" -subj /CN=Path-loop -days 7000 -sha256 -set_serial $((900 + i)) \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out "$d/loop$i.pem"
done
cat "$d"/loop[1-8].pem > p_loop8.pem
cp "$d/loop1.pem" p_loop.pem
leaf p_lloop p_loop "DNS:mx.bank.test" "leaf"
rm -f p_loop.pem
leaf p_ly p_y "DNS:mx.bank.test" "mx.bank.test"
leaf p_lsubbank p_sub "DNS:mx.bank.test" "leaf"
leaf p_lsubother p_sub "DNS:mx.other.test" "leaf"
leaf p_lsrvbank p_ncsrv "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.bank.test" "not a dns name!"
leaf p_lsrvother p_ncsrv "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.other.test" "not a dns name!"
leaf p_lwild p_ncexcl "DNS:*.bank.test" "leaf"
leaf p_lexclok p_ncexcl "DNS:mx.other.test" "leaf"
leaf p_luri p_ncuri "DNS:mx.other.test" "leaf"
leaf p_luri2 p_ncuri "DNS:mx.other.test,URI:https://mx.bank.test/" "leaf"
leaf p_lpl p_pl0sub "DNS:mx.bank.test" "leaf"
leaf p_lclient p_x "DNS:mx.bank.test" "leaf" "extendedKeyUsage=clientAuth"
leaf p_lcn p_ncdns "DNS:mx.other.test" "mx.bank.test"
# TLSA data (SHA-256 of SPKI), computed by openssl
for c in p_root p_x p_y p_lx p_ly; do
  echo "$c $(openssl x509 -in $c.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
done > p_tlsa.txt
