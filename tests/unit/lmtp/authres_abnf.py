#!/usr/bin/env python3
# A second, independent reading of the rows of test_lmtp_authres.c: the
# RFC 8601 2.2 / RFC 2045 5.1 / RFC 5322 3.2 ABNF as regular expressions
# (strict: no POLICY).  Rows marked POLICY in the table may differ on
# purpose; any other difference is printed as MISMATCH and fails.
#   python3 tests/unit/lmtp/authres_abnf.py
import ast, os, re, sys
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'test_lmtp_authres.c'),
           encoding='latin-1').read()
rows = re.findall(r'\{ "(\w+)", ("(?:[^"\\]|\\.)*"), ([01]) \},\s*/\*([^*]*)\*/', src)
WSP = r'[ \t]'
FWS = r'(?:(?:%s*\r\n)?%s+)' % (WSP, WSP)
ctext = r'[\x21-\x27\x2a-\x5b\x5d-\x7e]'
qp = r'\\[\x21-\x7e \t]'
# comments nest: expand to depth 12
c = r'\((?:%s?(?:%s|%s))*%s?\)' % (FWS, ctext, qp, FWS)
for _ in range(12):
    c = r'\((?:%s?(?:%s|%s|%s))*%s?\)' % (FWS, ctext, qp, c, FWS)
CFWS = r'(?:(?:(?:%s?%s)+%s?)|%s)' % (FWS, c, FWS, FWS)
token = r'[!#$%&\'*+\-.0-9A-Z^_`a-z{|}~]+'
qtext = r'[\x21\x23-\x5b\x5d-\x7e]'
qstr = r'"((?:%s?(?:%s|%s))*%s?)"' % (FWS, qtext, qp, FWS)
rx = re.compile(r'(?:%s)?(?:(%s)|%s)' % (CFWS, token, qstr))
# what may follow the id in a well-formed payload: CFWS, ";" (resinfo / no-result)
after = re.compile(r'(?:%s)?(?:;|[0-9]|\r\n$)' % CFWS)
bad = 0
for label, lit, want, comment in rows:
    v = ast.literal_eval(lit) + '\r\n'
    m = rx.match(v)
    got = 0
    if m:
        if m.group(1) is not None:
            val = m.group(1)
        else:
            val = re.sub(r'\r\n', '', m.group(2)); val = re.sub(r'\\(.)', r'\1', val)
        wellformed = after.match(v, m.end()) is not None
        got = 1 if val.lower() == 'gw.b.test' else 0
        if got and not wellformed: got = 'id-then-syntax-error'
    policy = 'POLICY' in comment
    ok = (str(got) == want) or policy
    if not ok: bad += 1
    print('%-24s table=%s strict_abnf=%s %s%s' % (label, want, got, 'POLICY ' if policy else '', '' if ok else '<-- MISMATCH'))
print('%d rows, mismatches (non-POLICY rows): %d' % (len(rows), bad))
sys.exit(1 if bad or len(rows) < 50 else 0)
