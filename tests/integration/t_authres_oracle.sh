#!/bin/bash
# Authentication-Results fields that claim our authserv-id (SMTPSEC.md 8,
# RFC 8601 5): the gateway's recogniser (lmtp_authres_claims, through
# build/smtpsec-authres) against python3-authres, an independent RFC 8601
# parser, on seeded hostile variants.  Property: every value authres reads
# as ours is claimed (renamed); values with another id are not, except the
# documented fail-closed forms.  See authres_oracle.py.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3	# Debian's python: python3-authres lives in its dist-packages
if ! "$PY" -c 'import authres' 2>/dev/null; then
	t_fail oracle "python3-authres is not installed (make deps installs it)"
	exit 1
fi
[ -x "$BUILD/smtpsec-authres" ] || { t_fail build "$BUILD/smtpsec-authres missing"; exit 1; }
for seed in 1 2 3; do
	echo "seed $seed:"
	"$PY" "$T_SRC/tests/integration/authres_oracle.py" "$BUILD/smtpsec-authres" "$seed" 3000 \
		>"$T_TMP/out$seed" 2>&1 || T_FAILED=1
	sed "s/t_authres_oracle\./t_authres_oracle.seed$seed./" "$T_TMP/out$seed"
done
exit "$T_FAILED"
