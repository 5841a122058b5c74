#!/bin/bash
# lmtp/ against a real Dovecot LMTP: recipients delivered, unknown, over
# quota (spool, then delivered once the quota is raised), Dovecot down or
# killed mid-transfer, dot lines and no final CRLF byte-exact over BDAT and
# DATA, 8-bit bodies, a 50 MB message with bounded memory.  Every case looks
# at the maildir, not just at the replies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_dovecot.sh"

q="$BUILD/smtpsec-lmtpq"
dovecot_start alice@b.test bob@b.test carol@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }
T="unix:$DOVECOT_SOCKET"
msg="$T_TMP/m1.eml"
printf 'From: sender@a.test\r\nTo: alice@b.test\r\nSubject: one\r\nMessage-ID: <1@a.test>\r\n\r\nHello.\r\n.\r\n..dots stay\r\n.x\r\n' >"$msg"

same_as() {	# USER N FILE: the Nth stored message equals FILE byte for byte
	local f
	f=$(dovecot_mail_files "$1" | sed -n "${2}p")
	[ -n "$f" ] && cmp -s <(dovecot_body "$f") "$3"
}

out=$("$q" --target "$T" --from sender@a.test --rcpt alice@b.test --message "$msg")
t_check one_rcpt_reply "$out" grep -q 'rcpt=alice@b.test status=delivered code=250' <<<"$out"
t_check one_rcpt_stored_exact "stored copy differs" same_as alice@b.test 1 "$msg"

out=$("$q" --target "$T" --from sender@a.test --rcpt alice@b.test --rcpt bob@b.test --rcpt carol@b.test --message "$msg")
t_check many_rcpts "$out" test "$(grep -c 'status=delivered' <<<"$out")" = 3
t_check many_rcpts_stored "counts $(dovecot_mail_count alice@b.test)/$(dovecot_mail_count bob@b.test)/$(dovecot_mail_count carol@b.test)" \
	test "$(dovecot_mail_count alice@b.test)$(dovecot_mail_count bob@b.test)$(dovecot_mail_count carol@b.test)" = 211

out=$("$q" --target "$T" --from sender@a.test --rcpt bob@b.test --rcpt nobody@b.test --message "$msg")
t_check unknown_among_known "$out" grep -q 'rcpt=nobody@b.test status=rejected code=550' <<<"$out"
t_check unknown_among_known_delivered "$out" grep -q 'rcpt=bob@b.test status=delivered' <<<"$out"
t_check unknown_among_known_stored "bob has $(dovecot_mail_count bob@b.test)" test "$(dovecot_mail_count bob@b.test)" = 2

out=$("$q" --target "$T" --from sender@a.test --rcpt ghost@b.test --rcpt nobody@b.test --message "$msg")
t_check all_unknown "$out" test "$(grep -c 'status=rejected' <<<"$out")" = 2
t_check all_unknown_not_tempfail "$out" grep -q 'tempfail=0' <<<"$out"
# one recipient: MAIL, RCPT and BDAT go pipelined; Dovecot refuses the
# BDAT after the 550, and the Email is still rejected for good
out=$("$q" --target "$T" --from sender@a.test --rcpt ghost@b.test --message "$msg" --copies 2)
t_check one_unknown_pipelined "$out" test "$(grep -c 'rcpt=ghost@b.test status=rejected code=550' <<<"$out")" = 2
t_check one_unknown_pipelined_not_tempfail "$out" test "$(grep -c 'tempfail=0' <<<"$out")" = 2

# Quoted local parts (README, Delivery): written back as RFC 5321 quotes
# them, and Dovecot takes them; what RFC 5321 cannot carry fails for good.
out=$("$q" --target "$T" --from '"a b"@atk.test' --rcpt '"alice"@b.test' --rcpt '"no body"@b.test' --message "$msg")
t_check quoted_from_delivered "$out" grep -q 'rcpt="alice"@b.test status=delivered code=250' <<<"$out"
f=$(dovecot_mail_files alice@b.test | tail -1)
t_check quoted_from_return_path "$(head -1 "$f")" grep -q '^Return-Path: <"a b"@atk.test>' "$f"
t_check quoted_rcpt_unknown_is_5xx "$out" grep -q 'rcpt="no body"@b.test status=rejected code=550' <<<"$out"
out=$("$q" --target "$T" --from '"<x>\"y"@atk.test' --rcpt alice@b.test --message "$msg")
f=$(dovecot_mail_files alice@b.test | tail -1)
t_check quoted_specials_return_path "$out $(head -1 "$f")" bash -c 'grep -q "status=delivered" <<<"$1" && grep -qF "Return-Path: <\"<x>\\\"y\"@atk.test>" "$2"' _ "$out" "$f"
before=$(dovecot_mail_count alice@b.test)
out=$("$q" --target "$T" --from "$(printf '"a\tb"@atk.test')" --rcpt alice@b.test --message "$msg")
t_check unexpressible_from_permfail "$out" grep -q 'tempfail=1 permfail=1' <<<"$out"
t_check unexpressible_from_not_stored "count $(dovecot_mail_count alice@b.test) was $before" test "$(dovecot_mail_count alice@b.test)" = "$before"

# DATA path (no CHUNKING): dot-stuffing and a message without a final CRLF
printf 'From: sender@a.test\r\nSubject: nocrlf\r\n\r\n.leading dot\r\nlast line without CRLF' >"$T_TMP/nocrlf.eml"
out=$("$q" --target "$T" --from sender@a.test --rcpt carol@b.test --message "$msg" --no-chunking)
t_check data_dot_stuffing "stored copy differs from the dot lines sent" same_as carol@b.test 2 "$msg"
out=$("$q" --target "$T" --from sender@a.test --rcpt carol@b.test --message "$T_TMP/nocrlf.eml")
t_check bdat_no_final_crlf "BDAT copy differs" same_as carol@b.test 3 "$T_TMP/nocrlf.eml"
out=$("$q" --target "$T" --from sender@a.test --rcpt carol@b.test --message "$T_TMP/nocrlf.eml" --no-chunking)
{ cat "$T_TMP/nocrlf.eml"; printf '\r\n'; } >"$T_TMP/nocrlf-data.eml"
t_check data_no_final_crlf_gets_crlf "DATA copy is not the message plus CRLF" same_as carol@b.test 4 "$T_TMP/nocrlf-data.eml"

# 8-bit and binary bodies
{ printf 'From: sender@a.test\r\nSubject: bin\r\n\r\n'; head -c 20000 /dev/urandom | tr -d '\r\n\000'; printf '\r\n\xc3\xa9t\xc3\xa9\r\n'; } >"$T_TMP/bin.eml"
out=$("$q" --target "$T" --from sender@a.test --rcpt bob@b.test --message "$T_TMP/bin.eml")
t_check eight_bit "$out" same_as bob@b.test 3 "$T_TMP/bin.eml"

# Concurrency through the pool: 20 deliveries at once, 20 stored.
before=$(dovecot_mail_count alice@b.test)
out=$("$q" --target "$T" --from sender@a.test --rcpt alice@b.test --message "$msg" --copies 20)
t_check pool_concurrent "$(grep -c status=delivered <<<"$out") delivered" test "$(grep -c 'status=delivered' <<<"$out")" = 20
t_check pool_concurrent_stored "stored $(( $(dovecot_mail_count alice@b.test) - before ))" \
	test $(( $(dovecot_mail_count alice@b.test) - before )) = 20

# 50 MB, streamed: this process stays far below the message size.
{ printf 'From: sender@a.test\r\nSubject: big\r\n\r\n'; yes 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu' | head -c 52428800 | sed 's/$/\r/'; } >"$T_TMP/big.eml"
out=$("$q" --target "$T" --from sender@a.test --rcpt carol@b.test --message "$T_TMP/big.eml" --timeout-ms 60000)
hwm=$(sed -n 's/^rss_anon_peak_kib=//p' <<<"$out")
t_check big_delivered "$out" grep -q 'status=delivered' <<<"$out"
t_check big_stored_exact "50 MB copy differs" same_as carol@b.test 5 "$T_TMP/big.eml"
# 16 MiB: far below the 50 MB message even with sanitizer overhead
t_check big_bounded_memory "peak anonymous RSS ${hwm} KiB" test "${hwm:-999999}" -lt 16384

# Over quota: 4xx after the data -> spool; raise the quota -> delivered once.
dovecot_stop
dovecot_quota bob@b.test 10
dovecot_restart
mkdir -p "$T_TMP/spool"
# (the sender is a quoted local part: the spool keeps its SMTP form)
"$q" --target "$T" --from '"s q"@a.test' --rcpt bob@b.test --rcpt alice@b.test --message "$msg" \
	--spool "$T_TMP/spool" --spool-retry-ms 1000 --run-ms 500 >"$T_TMP/q1.out"
t_check quota_spooled "$(cat "$T_TMP/q1.out")" grep -q 'rcpt=bob@b.test status=spooled code=452' "$T_TMP/q1.out"
t_check quota_others_delivered "$(cat "$T_TMP/q1.out")" grep -q 'rcpt=alice@b.test status=delivered' "$T_TMP/q1.out"
# one recipient over quota (the pipelined path): the 452 after the data is
# the recipient's, a temporary failure without a spool
out=$("$q" --target "$T" --from sender@a.test --rcpt bob@b.test --message "$msg")
t_check quota_one_rcpt_452 "$out" grep -q 'rcpt=bob@b.test status=tempfail code=452' <<<"$out"
t_check spool_file_exists "no .msg in spool" test "$(ls "$T_TMP/spool"/*.msg 2>/dev/null | wc -l)" = 1
bob_before=$(dovecot_mail_count bob@b.test)
dovecot_stop
dovecot_quota bob@b.test 1000000000
dovecot_restart
# a fresh process (as after a gateway restart) finds the entry and delivers it
"$q" --target "$T" --from x@a.test --rcpt nobody@b.test --message "$msg" \
	--spool "$T_TMP/spool" --spool-retry-ms 1000 --run-ms 4000 >"$T_TMP/q2.out"
t_check spool_retry_delivered "$(tail -2 "$T_TMP/q2.out")" grep -q 'spool delivered=1 ' "$T_TMP/q2.out"
t_check spool_delivered_once "bob had $bob_before, now $(dovecot_mail_count bob@b.test)" \
	test "$(dovecot_mail_count bob@b.test)" = $((bob_before + 1))
t_check spool_entry_removed "entry left behind" test "$(ls "$T_TMP/spool"/*.msg 2>/dev/null | wc -l)" = 0
f=$(dovecot_mail_files bob@b.test | tail -1)
t_check spool_quoted_sender "$(head -1 "$f")" grep -q '^Return-Path: <"s q"@a.test>' "$f"

# Dovecot stopped: temporary failure, nothing claimed.
dovecot_stop
out=$("$q" --target "$T" --from sender@a.test --rcpt alice@b.test --message "$msg" --timeout-ms 2000)
t_check dovecot_down_tempfail "$out" grep -q 'tempfail=1' <<<"$out"
t_check dovecot_down_not_delivered "$out" grep -q 'status=tempfail' <<<"$out"

# Killed in the middle of a 50 MB transfer: tempfail; then a retry stores
# exactly one copy.
dovecot_restart
before=$(dovecot_mail_count alice@b.test)
"$q" --target "$T" --from sender@a.test --rcpt alice@b.test --message "$T_TMP/big.eml" --timeout-ms 5000 >"$T_TMP/kill.out" &
qpid=$!
# freeze Dovecot's lmtp process as soon as it exists, so the transfer is
# surely in the middle, then kill everything
for _ in $(seq 400); do
	lp=$(pgrep -P "$DOVECOT_PID" -f lmtp | head -1)
	[ -n "$lp" ] && break
	sleep 0.005
done
[ -n "$lp" ] && kill -STOP "$lp"
sleep 0.3
t_check killed_while_sending "client had already finished" kill -0 "$qpid"
dovecot_kill
wait "$qpid"
t_check killed_mid_transfer_tempfail "$(cat "$T_TMP/kill.out")" grep -q 'rcpt=alice@b.test status=tempfail' "$T_TMP/kill.out"
dovecot_restart
t_check killed_nothing_stored "count $(dovecot_mail_count alice@b.test) vs $before" test "$(dovecot_mail_count alice@b.test)" = "$before"
out=$("$q" --target "$T" --from sender@a.test --rcpt alice@b.test --message "$T_TMP/big.eml" --timeout-ms 60000)
t_check retry_after_kill_one_copy "count $(dovecot_mail_count alice@b.test) vs $before" \
	test "$(dovecot_mail_count alice@b.test)" = $((before + 1))
