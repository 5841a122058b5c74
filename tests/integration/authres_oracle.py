#!/usr/bin/python3
"""Differential test of the gateway's Authentication-Results recogniser
(lmtp_authres_claims, via build/smtpsec-authres) against python3-authres,
an independent RFC 8601 parser (Debian package python3-authres).

Generates field values from a seeded grammar of hostile variants (comments,
nested comments, folds, case, versions, look-alike ids, quoted-strings,
trailing dots, junk), asks both, and prints one line per class of result.

The security property is one-way and strict: whenever python3-authres reads
our authserv-id, the gateway must claim the field (it will be renamed).
Where authres reads another id, the gateway must not claim it, except for
the documented fail-closed reading (README, Delivery: a trailing dot or a
syntax error right after our id).  Values authres cannot parse (it knows no
quoted-string authserv-id and no folded CFWS before it) are counted and
judged by our own table (tests/unit/lmtp/test_lmtp_authres.c) only.

Exit 0 when the property holds; prints PASS:/FAIL: lines for tests/run.sh.
"""
import random
import subprocess
import sys

import authres

OURS = "gw.b.test"


def variants(rng, n):
    ids = [OURS, OURS.upper(), "Gw.B.Test", OURS + ".", "x" + OURS, OURS + "x",
           "gw.b", "b.test", "evil." + OURS, OURS + ".evil", "gw-b.test", "gw.b.test2"]
    quoted = ['"%s"' % OURS, '"%s"' % OURS.upper(), '"x%s"' % OURS, '"gw\\.b.test"',
              '" %s"' % OURS, '"%s "' % OURS, '"other.test"']
    comments = ["", "(trusted) ", "(a (nested) c) ", "(\\)) ", "()", "(x)\r\n ",
                "\r\n (fold) ", "(c)(d) ", " "]
    versions = ["", " 1", " 01", "  1 ", " (v) 1", "1"]
    seps = [";", " ;", " (c) ;", ";\r\n\t"]
    results = ["none", " none", "smtpsec=pass header.from=a.test",
               " smtpsec=pass (comment) header.from=a.test",
               "spf=pass smtp.mailfrom=x@a.test; dkim=fail header.d=a.test",
               "smtpsec=pass", "x"]
    junk = ["", "", "", " junk", "/x", "\x00", "\xe9"]
    for _ in range(n):
        ident = rng.choice(ids + quoted)
        v = (rng.choice(comments) + ident + rng.choice(versions) + rng.choice(junk)
             + rng.choice(seps) + " " + rng.choice(results))
        if rng.random() < 0.1:
            v = v.replace(";", "", 1)
        if rng.random() < 0.05:
            v = ident
        yield v


def authres_verdict(v):
    """'ours', 'other' or 'error' for one value."""
    try:
        h = authres.AuthenticationResultsHeader.parse_value(v)
    except Exception:
        return "error"
    return "ours" if (h.authserv_id or "").lower() == OURS else "other"


def fail_closed_form(v):
    """The documented readings where we claim what authres calls another id:
    our id with a trailing dot, or our id followed at once by a syntax error."""
    low = v.lower()
    i = low.find(OURS)
    if i < 0:
        return False
    after = low[i + len(OURS):i + len(OURS) + 1]
    return after in (".", "/", "\x00", "\xe9") or (after.isalnum() is False and after not in (" ", ";", "(", "\r", "\t", "", '"'))


def main():
    tool, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    vals = list(dict.fromkeys(variants(rng, n)))
    inp = "".join(v.encode("latin-1").hex() + "\n" for v in vals)
    out = subprocess.run([tool, OURS], input=inp.encode(), capture_output=True, check=True)
    ours = [int(x) for x in out.stdout.split()]
    assert len(ours) == len(vals)
    counts = {}
    bad_missed, bad_extra = [], []
    for v, g in zip(vals, ours):
        a = authres_verdict(v)
        counts[(a, g)] = counts.get((a, g), 0) + 1
        if a == "ours" and g != 1:
            bad_missed.append(v)
        elif a == "other" and g == 1 and not fail_closed_form(v):
            bad_extra.append(v)
    for (a, g), k in sorted(counts.items()):
        print("authres=%s gateway=%s: %d" % (a, "claims" if g else "not-ours", k))
    print(("PASS" if not bad_missed else "FAIL") +
          ": t_authres_oracle.never_misses_our_id: %d values authres reads as ours, %d not claimed%s"
          % (counts.get(("ours", 1), 0) + len(bad_missed), len(bad_missed),
             "".join("\n  missed: %r" % x for x in bad_missed[:10])))
    print(("PASS" if not bad_extra else "FAIL") +
          ": t_authres_oracle.other_ids_not_claimed: %d values with another id, %d claimed outside the fail-closed forms%s"
          % (sum(k for (a, g), k in counts.items() if a == "other"), len(bad_extra),
             "".join("\n  extra: %r" % x for x in bad_extra[:10])))
    return 1 if bad_missed or bad_extra else 0


if __name__ == "__main__":
    sys.exit(main())
