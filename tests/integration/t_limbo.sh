#!/bin/bash
# x509-limbo (../shared/x509-limbo/limbo.json, C2SP's path-validation
# suite) through `smtpsec-verify --pkix-only`: steps 6 and 8 of SMTPSEC.md 4
# exactly as the gateway runs them, on every SERVER case with a DNS peer
# name.  One PASS/FAIL line per case; the cases where SMTPsec's policy
# differs from the suite's expectation, with the reason, are listed in
# limbo-exceptions.txt (see README "x509-limbo").
. "$(dirname "$0")/lib.sh"

L="$SHARED/x509-limbo/limbo.json"
[ -r "$L" ] || { t_fail suite "$L missing"; exit 1; }
[ -x "$BUILD/smtpsec-verify" ] || { t_fail build "$BUILD/smtpsec-verify missing"; exit 1; }
python3 "$T_SRC/tests/integration/limbo_run.py" --limbo "$L" --verify "$BUILD/smtpsec-verify" \
    --exceptions "$T_SRC/tests/integration/limbo-exceptions.txt" --tmp "$T_TMP" "$@" || T_FAILED=1
exit "$T_FAILED"
