#!/bin/bash
# Regenerates the small test PKI used by test_vfy_x509/dane/pkix.
# root (P-256) -> inter (P-256) -> leaf (Ed25519, SAN dNSName + SRVName);
# weak: RSA-1024 leaf; sha1: leaf signed with ecdsa-with-SHA1.
set -e
cd "$(dirname "$0")"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/root.key"
openssl req -x509 -new -key "$d/root.key" -subj /CN=Test-Root -days 7300 -sha256 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out root.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/inter.key"
openssl req -new -key "$d/inter.key" -subj /CN=Test-Inter -out "$d/inter.csr"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$d/inter.ext"
openssl x509 -req -in "$d/inter.csr" -CA root.pem -CAkey "$d/root.key" -CAcreateserial -days 7000 -sha256 -extfile "$d/inter.ext" -out inter.pem
leaf() { # name keyalg ext digest
  openssl genpkey $2 -out "$d/$1.key"
  openssl req -new -key "$d/$1.key" -subj /CN=ignored.example.test -out "$d/$1.csr"
  printf '%s\n' "$3" > "$d/$1.ext"
  openssl x509 -req -in "$d/$1.csr" -CA inter.pem -CAkey "$d/inter.key" -CAcreateserial -days 6000 $4 -extfile "$d/$1.ext" -out "$1.pem"
  openssl pkey -in "$d/$1.key" -out "$1.key"
}
EXT='keyUsage=critical,digitalSignature
basicConstraints=CA:FALSE
subjectAltName=DNS:mx1.example.test,DNS:*.w.example.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.example.test'
leaf leaf "-algorithm ED25519" "$EXT" ""
leaf weak "-algorithm RSA -pkeyopt rsa_keygen_bits:1024" "$EXT" "-sha256"
leaf sha1 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" "$EXT" "-sha1"
leaf nodig "-algorithm ED25519" 'keyUsage=critical,keyEncipherment
subjectAltName=DNS:mx1.example.test' ""
leaf bog "-algorithm ED25519" 'keyUsage=critical,digitalSignature
subjectAltName=DNS:mx.bog.test' ""
rm -f *.srl
# TLSA data computed by openssl, independent of the code under test
{
  echo "leaf_spki_sha256 $(openssl x509 -in leaf.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
  echo "leaf_cert_sha512 $(openssl x509 -in leaf.pem -outform DER | openssl dgst -sha512 -r | cut -d' ' -f1)"
  echo "leaf_spki_full $(openssl x509 -in leaf.pem -noout -pubkey | openssl pkey -pubin -outform DER | xxd -p | tr -d '\n')"
  echo "inter_spki_sha256 $(openssl x509 -in inter.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
  echo "inter_cert_sha256 $(openssl x509 -in inter.pem -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
} > tlsa.txt
