#!/bin/bash
# spool_dir on a full disk (a 2 MiB tmpfs), with the real gateway and a real
# Dovecot: every Email that cannot be stored gets a temporary error and is
# not delivered; nothing that got EmailDelivered is lost; space is given
# back; once there is room again, retries deliver everything exactly once.
#   - a body past memory_threshold cannot be spilled (full from the start,
#     and full in the middle of the body): internal_error (SMTPSEC.md 5, a
#     resource failure in the gateway), the reason in the log
#   - a small Email needs no spool: still delivered while the disk is full
#   - Dovecot over quota (452 after the data) and the spool full:
#     service_unavailable, nothing delivered, no spool entry left behind
#   - Dovecot over quota with room: spooled, EmailDelivered, and delivered
#     from the spool once the quota is raised
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_dovecot.sh"
. "$(dirname "$0")/lib_gw.sh"

for b in "$GW" "$SEND"; do
	[ -x "$b" ] || { t_skip build "$b not built"; exit 0; }
done
SPOOL=$T_TMP/spool
mkdir -p "$SPOOL"
if ! mount -t tmpfs -o size=2m,mode=0777 tmpfs "$SPOOL" 2>"$T_TMP/mount.err"; then
	t_skip spool_full "cannot mount a tmpfs for the spool: $(cat "$T_TMP/mount.err")"
	exit 0
fi
# detach the mount before lib.sh removes the temp dir (the gateway may still
# hold files open on it until it is stopped)
trap 'umount -l "$SPOOL" 2>/dev/null; t_cleanup' EXIT

P=$T_TMP
gw_pki || { t_fail pki "openssl failed"; exit 1; }
dovecot_start bob@b.test || { t_fail dovecot_start "Dovecot did not start"; exit 1; }
gw_conf gw "[lmtp]" "target = unix:$DOVECOT_SOCKET" "connections = 2" "timeout = 10s" \
	"spool_dir = $SPOOL" "spool_retry = 1s" "memory_threshold = 16K"
gw_run gw || { t_fail gateway_start "no listener: $(tail -3 "$P/gw.log")"; exit 1; }

mkdir -p "$P/m"
msg() {	# NAME SIZE: a message with Message-ID <NAME@sf.test>
	{
		printf 'From: Alice <alice@example.test>\r\nTo: bob@b.test\r\nSubject: %s\r\n' "$1"
		printf 'Message-ID: <%s@sf.test>\r\n\r\n' "$1"
		head -c "$2" /dev/zero | tr '\0' 'y' | fold -w 76 | sed 's/$/\r/'
	} >"$P/m/$1"
}
send() {	# NAME...: one connection; the replies
	local a=() n
	for n in "$@"; do a+=(--message "$P/m/$n"); done
	"$SEND" "${GW_SENDER[@]}" --rcpt bob@b.test --max-seconds 60 "${a[@]}" 2>&1
}
stored() {	# NAME: copies of it in bob's INBOX
	local f n=0
	for f in $(dovecot_mail_files bob@b.test); do
		grep -q "^Message-ID: <$1@sf.test>" "$f" && n=$((n + 1))
	done
	echo "$n"
}
avail() { df --output=avail -B1 "$SPOOL" | tail -1 | tr -d ' '; }
fill() {	# [LEAVE-BYTES]: fill the spool's file system, leaving about that much
	local leave=${1:-0} a
	rm -f "$SPOOL/filler"
	a=$(avail)
	if [ "$leave" = 0 ]; then
		dd if=/dev/zero of="$SPOOL/filler" bs=4k 2>/dev/null
	else
		dd if=/dev/zero of="$SPOOL/filler" bs=4k count=$(((a - leave) / 4096)) 2>/dev/null
	fi
}
unfill() { rm -f "$SPOOL/filler"; }
spool_entries() { { ls "$SPOOL"; ls "$SPOOL/failed" 2>/dev/null; } | grep -cvE "^(filler|failed)$"; }

for n in ok_small ok_big full_small; do msg "$n" 1000; done
msg ok_big 200000
msg full_big 200000
msg half_big 400000
msg quota_small 1000
msg quota_room 1000

# --- baseline: both paths (in memory, spilled to the spool) work --------------
out=$(send ok_small ok_big)
t_check baseline_delivered "$out" bash -c "grep -q '^reply n=1 email_delivered' <<<'$out' && grep -q '^reply n=2 email_delivered' <<<'$out'"
t_check baseline_space_returned "spool has $(spool_entries) entries" test "$(spool_entries)" = 0

# --- full from the start: the big body cannot be spilled -----------------------
fill
free0=$(avail)
out=$(send full_big)
t_check full_big_internal_error "$out" grep -q '^reply n=1 error=internal_error' <<<"$out"
t_check full_big_logged "$(grep 'event=email' "$P/gw.log" | tail -1)" \
	grep -q 'reply=internal_error .*No space left on device' "$P/gw.log"
t_check full_big_not_stored "stored $(stored full_big)" test "$(stored full_big)" = 0
out=$(send full_small)
t_check full_small_delivered "$out" grep -q '^reply n=1 email_delivered' <<<"$out"

# --- full in the middle of the body (about 100 KiB left for 400 KB) --------------
unfill
fill 100000
free1=$(avail)
out=$(send half_big)
t_check half_big_internal_error "$out" grep -q '^reply n=1 error=internal_error' <<<"$out"
t_check half_big_not_stored "stored $(stored half_big)" test "$(stored half_big)" = 0
t_wait_for 5 test "$(avail)" -ge "$free1"
t_check half_big_space_returned "free before $free1, after $(avail)" test "$(avail)" -ge "$free1"

# --- Dovecot over quota (452 after the data) and the spool full ------------------
dovecot_stop
dovecot_quota bob@b.test 10
dovecot_restart || t_fail dovecot_restart "Dovecot did not come back"
fill
out=$(send quota_small)
t_check quota_full_service_unavailable "$out" grep -q '^reply n=1 error=service_unavailable' <<<"$out"
t_check quota_full_logged "$(grep 'event=email' "$P/gw.log" | tail -1)" \
	grep -q 'reply=service_unavailable .*spool cannot be written: No space left on device' "$P/gw.log"
t_check quota_full_no_entry "spool: $(ls "$SPOOL" | tr '\n' ' ')" test "$(spool_entries)" = 0

# --- over quota with room: spooled, acknowledged, delivered after the quota is raised
unfill
out=$(send quota_room)
t_check quota_room_acknowledged "$out" grep -q '^reply n=1 email_delivered' <<<"$out"
t_check quota_room_spooled "spool: $(ls "$SPOOL" | tr '\n' ' ')" test "$(ls "$SPOOL" | grep -c '\.msg$')" = 1
dovecot_stop
dovecot_quota bob@b.test 1000000000
dovecot_restart || t_fail dovecot_restart "Dovecot did not come back"
t_wait_for 15 test "$(stored quota_room)" = 1
t_check quota_room_delivered_from_spool "stored $(stored quota_room)" test "$(stored quota_room)" = 1
t_wait_for 5 test "$(spool_entries)" = 0
t_check quota_room_entry_removed "spool: $(ls "$SPOOL" | tr '\n' ' ')" test "$(spool_entries)" = 0

# --- the sender retries what failed: everything exactly once ------------------------
out=$(send full_big half_big quota_small)
t_check retries_delivered "$out" test "$(grep -c 'email_delivered$' <<<"$out")" = 3
bad=
for n in ok_small ok_big full_small full_big half_big quota_small quota_room; do
	[ "$(stored "$n")" = 1 ] || bad="$bad $n=$(stored "$n")"
done
t_check every_email_once "copies:$bad" test -z "$bad"
t_check no_worker_crash "$(grep worker_died "$P/gw.log" | head -2)" bash -c "! grep -q worker_died '$P/gw.log'"
echo "# spool fs free: full=$free0 B, partly full=$free1 B"
exit 0
