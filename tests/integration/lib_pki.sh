# A test PKI made at run time with openssl, and a test Certificate
# Transparency log (build/smtpsec-ctlog) that signs SCTs for its leaves.
# Source after lib.sh.
#
#   pki_init                 root CA and intermediate (both P-256), four CT
#                            log keys and $PKI/log_list.json (Chrome v3):
#                            log1, log2 usable (two operators), log3 retired
#                            a year ago; log4 is deliberately not listed.
#   pki_leaf NAME ALG VALIDITY SAN [LOGS] [MD] [CTLOG-ARGS...]
#       ALG       ed25519 ed448 p256 p384 p521 rsa1024 rsa2048
#       VALIDITY  valid | expired | notyet
#       SAN       subjectAltName value, e.g. "DNS:mx.a.test,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_smtpsec.a.test"
#       LOGS      CT logs that sign it, e.g. "log1 log2"; empty: no SCTs
#       MD        the intermediate's signature digest (default sha256; sha1 for the weak chain)
#       CTLOG-ARGS  passed to smtpsec-ctlog (--corrupt 1, --timestamp MS)
#     makes $PKI/NAME.key, NAME.pem (leaf), NAME.chain (leaf + intermediate),
#     NAME.sct (one "sct log_id=HEX timestamp=MS" line per SCT).
#   pki_ca NAME ISSUER [-subj SUBJECT] [EXT...]
#       a P-256 CA $PKI/NAME.pem + NAME.key, subject SUBJECT (default
#       /CN=RT-Test-CA-NAME), issued by ISSUER: root, inter or an earlier
#       pki_ca NAME; basicConstraints
#       CA:TRUE and keyUsage keyCertSign,cRLSign (both critical) plus each EXT,
#       an openssl extension line, e.g.
#       "nameConstraints=critical,permitted;DNS:other.test".  ISSUER "self": a
#       self-signed CA outside the test PKI.  NAME.up: NAME.pem followed by
#       its issuers up to, not including, the root (what a sender sends).
#   pki_leaf_ca NAME CA SAN CN [LOGS] [ALG]
#       a valid leaf issued by CA (root, inter or a pki_ca NAME) with subject
#       CN=CN, subjectAltName SAN (empty: no subjectAltName extension), SCTs
#       from LOGS signed over CA's key (empty: none), key ALG (default p256);
#       makes NAME.key, NAME.pem, NAME.sct and NAME.chain (leaf + CA.up).
#   pki_spki256 CERT         SHA-256 of a certificate's SPKI, hex
#   pki_cert256 CERT         SHA-256 of a certificate's DER, hex
#   pki_b64spki KEY          base64 of a private key's public SPKI (DER)
#
# Every value is computed by openssl, independently of the code under test,
# except the SCTs, which smtpsec-ctlog signs (checked against openssl in
# t_pki_ct.sh).

PKI=$T_TMP/pki-rt
CTLOG=$BUILD/smtpsec-ctlog

pki_spki256() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}
pki_cert256() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}
pki_b64spki() {
	openssl pkey -in "$1" -pubout -outform DER | base64 -w0
}
pki_logid() {	# base64 log id of a log key
	openssl pkey -in "$1" -pubout -outform DER | openssl dgst -sha256 -binary | base64 -w0
}

_pki_genkey() {	# ALG OUT
	case $1 in
	ed25519) openssl genpkey -algorithm ED25519 -out "$2" ;;
	ed448) openssl genpkey -algorithm ED448 -out "$2" ;;
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$2" ;;
	p521) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$2" ;;
	rsa1024) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$2" ;;
	rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
	*) echo "lib_pki: unknown algorithm $1" >&2; return 1 ;;
	esac 2>/dev/null
}

_pki_date() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
_pki_iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

pki_init() {
	mkdir -p "$PKI/newcerts" || return 1
	: >"$PKI/index.txt"
	echo 1000 >"$PKI/serial"
	cat >"$PKI/ca.cnf" <<EOF
[ca]
default_ca = tca
[tca]
database = $PKI/index.txt
new_certs_dir = $PKI/newcerts
serial = $PKI/serial
default_md = sha256
policy = pol
unique_subject = no
email_in_dn = no
[pol]
commonName = supplied
EOF
	_pki_genkey p256 "$PKI/root.key" || return 1
	openssl req -x509 -new -key "$PKI/root.key" -subj /CN=RT-Test-Root -days 3650 -sha256 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out "$PKI/root.pem" 2>/dev/null || return 1
	_pki_genkey p256 "$PKI/inter.key" || return 1
	openssl req -new -key "$PKI/inter.key" -subj /CN=RT-Test-Inter -out "$PKI/inter.csr" 2>/dev/null || return 1
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$PKI/inter.ext"
	openssl x509 -req -in "$PKI/inter.csr" -CA "$PKI/root.pem" -CAkey "$PKI/root.key" -set_serial 2 \
		-days 3000 -sha256 -extfile "$PKI/inter.ext" -out "$PKI/inter.pem" 2>/dev/null || return 1
	local l
	for l in log1 log2 log3 log4; do
		_pki_genkey p256 "$PKI/$l.key" || return 1
	done
	local usable retired from to
	usable=$(_pki_iso '-2 years')
	retired=$(_pki_iso '-1 year')
	from=$(_pki_iso '-3 years')
	to=$(_pki_iso '+3 years')
	_pki_log() {	# KEY DESCRIPTION STATE-JSON
		printf '{"description":"%s","log_id":"%s","key":"%s","url":"https://%s.ct.test/","mmd":86400,"state":%s,"temporal_interval":{"start_inclusive":"%s","end_exclusive":"%s"}}' \
			"$2" "$(pki_logid "$PKI/$1.key")" "$(pki_b64spki "$PKI/$1.key")" "$1" "$3" "$from" "$to"
	}
	{
		printf '{"version":"1.0","log_list_timestamp":"%s","operators":[' "$(_pki_iso now)"
		printf '{"name":"Test Operator A","email":["a@ct.test"],"logs":[%s,%s]},' \
			"$(_pki_log log1 'Test log 1' '{"usable":{"timestamp":"'"$usable"'"}}')" \
			"$(_pki_log log3 'Test log 3 (retired)' '{"retired":{"timestamp":"'"$retired"'"}}')"
		printf '{"name":"Test Operator B","email":["b@ct.test"],"logs":[%s]}' \
			"$(_pki_log log2 'Test log 2' '{"usable":{"timestamp":"'"$usable"'"}}')"
		printf ']}\n'
	} >"$PKI/log_list.json"
	# the same logs in OpenSSL's CT log file format, for s_client -ct
	{
		echo "enabled_logs = log1,log2,log3"
		for l in log1 log2 log3; do
			printf '[%s]\ndescription = Test %s\nkey = %s\n' "$l" "$l" "$(pki_b64spki "$PKI/$l.key")"
		done
	} >"$PKI/ctlogs.cnf"
	cat "$PKI/root.pem" >"$PKI/ca_file.pem"
}

pki_leaf() {
	local name=$1 alg=$2 validity=$3 san=$4 logs=$5 md=${6:-sha256}
	shift 6 2>/dev/null || shift $#
	_pki_issue inter "$name" "$alg" "$validity" "$san" "/CN=$name.ignored.test" "$logs" "$md" "$@"
}

# _pki_issue CA NAME ALG VALIDITY SAN SUBJECT LOGS MD [CTLOG-ARGS...]
_pki_issue() {
	local ca=$1 name=$2 alg=$3 validity=$4 san=$5 subj=$6 logs=$7 md=$8
	shift 8
	local start end l args=()
	case $validity in
	valid) start=$(_pki_date '-1 day'); end=$(_pki_date '+90 days') ;;
	expired) start=$(_pki_date '-90 days'); end=$(_pki_date '-30 days') ;;
	notyet) start=$(_pki_date '+30 days'); end=$(_pki_date '+120 days') ;;
	*) echo "lib_pki: bad validity $validity" >&2; return 1 ;;
	esac
	_pki_genkey "$alg" "$PKI/$name.key" || return 1
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null || return 1
	{
		echo "keyUsage=critical,digitalSignature"
		echo "basicConstraints=CA:FALSE"
		[ -n "$san" ] && echo "subjectAltName=$san"
		[ -n "$logs" ] && echo "1.3.6.1.4.1.11129.2.4.3=critical,ASN1:NULL"
	} >"$PKI/$name.ext"
	local out=$PKI/$name.pem
	[ -n "$logs" ] && out=$PKI/$name.pre
	openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/$ca.pem" -keyfile "$PKI/$ca.key" \
		-in "$PKI/$name.csr" -out "$out" -startdate "$start" -enddate "$end" -md "$md" \
		-extfile "$PKI/$name.ext" -notext -preserveDN >"$PKI/$name.ca.log" 2>&1 || {
		echo "lib_pki: openssl ca failed for $name: $(tail -2 "$PKI/$name.ca.log")" >&2
		return 1
	}
	: >"$PKI/$name.sct"
	if [ -n "$logs" ]; then
		for l in $logs; do args+=(--log-key "$PKI/$l.key"); done
		"$CTLOG" --precert "$PKI/$name.pre" --issuer "$PKI/$ca.pem" --ca-key "$PKI/$ca.key" \
			"${args[@]}" "$@" --out "$PKI/$name.pem" >"$PKI/$name.sct" || return 1
	fi
	if [ "$ca" = inter ]; then
		cat "$PKI/$name.pem" "$PKI/inter.pem" >"$PKI/$name.chain"
	elif [ "$ca" = root ]; then
		cp "$PKI/$name.pem" "$PKI/$name.chain"
	else
		cat "$PKI/$name.pem" "$PKI/$ca.up" >"$PKI/$name.chain"
	fi
}

pki_ca() {	# NAME ISSUER [-subj SUBJECT] [EXT...]
	local name=$1 issuer=$2 subj="/CN=RT-Test-CA-$1" e
	shift 2
	if [ "${1:-}" = -subj ]; then
		subj=$2
		shift 2
	fi
	_pki_genkey p256 "$PKI/$name.key" || return 1
	{
		echo "basicConstraints=critical,CA:TRUE"
		echo "keyUsage=critical,keyCertSign,cRLSign"
		for e in "$@"; do echo "$e"; done
	} >"$PKI/$name.ext"
	if [ "$issuer" = self ]; then
		{ printf '[req]\ndistinguished_name = dn\n[dn]\n[v3]\n'; cat "$PKI/$name.ext"; } >"$PKI/$name.cnf"
		openssl req -x509 -new -key "$PKI/$name.key" -subj "$subj" -days 3000 -sha256 \
			-config "$PKI/$name.cnf" -extensions v3 -out "$PKI/$name.pem" 2>"$PKI/$name.ca.log" || {
			echo "lib_pki: openssl req failed for $name: $(tail -2 "$PKI/$name.ca.log")" >&2
			return 1
		}
		cp "$PKI/$name.pem" "$PKI/$name.up"
		return 0
	fi
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null || return 1
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$issuer.pem" -CAkey "$PKI/$issuer.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 3000 -sha256 -extfile "$PKI/$name.ext" \
		-out "$PKI/$name.pem" 2>"$PKI/$name.ca.log" || {
		echo "lib_pki: openssl x509 failed for $name: $(tail -2 "$PKI/$name.ca.log")" >&2
		return 1
	}
	case $issuer in
	root) cp "$PKI/$name.pem" "$PKI/$name.up" ;;
	inter) cat "$PKI/$name.pem" "$PKI/inter.pem" >"$PKI/$name.up" ;;
	*) cat "$PKI/$name.pem" "$PKI/$issuer.up" >"$PKI/$name.up" ;;
	esac
}

pki_leaf_ca() {	# NAME CA SAN CN [LOGS] [ALG]
	_pki_issue "$2" "$1" "${6:-p256}" valid "$3" "/CN=$4" "${5:-}" sha256
}
