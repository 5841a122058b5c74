#!/bin/bash
# The one-command demo works, and what it shows is right: the three replies,
# one message in the mailbox with the prepended headers, and the gateway's
# stats in Redis as smtpsec-stats reads them.
. "$(dirname "$0")/lib.sh"

out="$T_TMP/demo.out"
DEMO_JSON="$T_TMP/stats.json" timeout 180 bash "$T_SRC/tests/demo/demo.sh" >"$out" 2>&1
rc=$?
t_check demo_exit "exit $rc: $(tail -3 "$out" | tr '\n' ' ')" test "$rc" = 0
t_check reply_good "no email_delivered" grep -q 'reply n=1 email_delivered' "$out"
t_check reply_tampered "no authentication_failed" grep -q 'reply n=1 error=authentication_failed' "$out"
t_check reply_unknown "no unknown_address" grep -q 'reply n=1 error=unknown_address addresses=nobody@b.test' "$out"
t_check mailbox_one "mailbox count line" grep -q "Bob's mailbox: 1 message" "$out"
t_check copy_headers "prepended headers missing" grep -q 'smtpsec=pass header.from=example.test smtp.cert=dane-ee' "$out"
t_check used_header "SMTPsec-Used missing" grep -q '| SMTPsec-Used:' "$out"
if python3 - "$T_TMP/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["cluster"]
assert c["emails_received"] == 3, c["emails_received"]
assert c["emails_delivered"] == 1, c["emails_delivered"]
assert c["reply_authentication_failed"] == 1
assert c["reply_unknown_address"] == 1
assert c["reject_signature"] == 1
assert c["rcpt_delivered"] == 1 and c["rcpt_unknown"] == 1
assert c["conn_accepted"] >= 3
assert c["lmtp_transactions"] == 2 and c["lmtp_latency_count"] == 2
assert c["bytes_in"] > 0
assert c["dns_lookups"] >= 2
assert len(d["instances"]) == 1 and d["instances"][0]["state"] == "live"
PY
then t_pass stats_in_redis; else t_fail stats_in_redis "$(head -c 400 "$T_TMP/stats.json")"; fi
t_check demo_cleaned_up "left a directory behind" bash -c '! ls -d /tmp/smtpsec-demo.* 2>/dev/null | grep -q .'
