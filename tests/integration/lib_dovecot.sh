# lib_dovecot.sh: a real Dovecot LMTP server from a private configuration,
# on a unix socket, with maildir storage in the test's temp dir and a
# passwd-file userdb.  Source after lib.sh.
#
#   dovecot_start USER...        start; users get maildirs (quota 1G each);
#                                sets DOVECOT_SOCKET (for [lmtp] target = unix:$DOVECOT_SOCKET)
#   dovecot_stop / dovecot_kill  SIGTERM and wait / SIGKILL master and children (an outage)
#   dovecot_socket               prints the LMTP socket path
#   dovecot_restart              start again with the same config and mail
#   dovecot_quota USER BYTES     set USER's storage quota (restart to apply)
#   dovecot_mail_count USER      messages in USER's INBOX (new + cur)
#   dovecot_mail_files USER      their paths, oldest first
#   dovecot_body FILE            a stored message without the Return-Path and
#                                Delivered-To lines Dovecot adds (what the gateway sent)
#
# Mail is stored as the unprivileged user smtpsec-test (created here when
# missing: Dovecot will not deliver as root).  mail_save_crlf keeps CRLF so
# stored copies compare byte for byte; Dovecot adds no Received header.

DOVECOT_DIR=
DOVECOT_SOCKET=
DOVECOT_PID=
DOVECOT_USER=smtpsec-test

_dovecot_user() {
	if ! id "$DOVECOT_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$DOVECOT_USER" 2>/dev/null ||
			id "$DOVECOT_USER" >/dev/null 2>&1 || return 1
	fi
}

dovecot_start() {
	local u uid gid
	_dovecot_user || { echo "# cannot create user $DOVECOT_USER"; return 1; }
	uid=$(id -u "$DOVECOT_USER"); gid=$(id -g "$DOVECOT_USER")
	DOVECOT_DIR="$T_TMP/dovecot"
	mkdir -p "$DOVECOT_DIR/base" "$DOVECOT_DIR/state" "$DOVECOT_DIR/mail"
	: >"$DOVECOT_DIR/users"
	for u in "$@"; do
		echo "$u:{PLAIN}x:$uid:$gid::$DOVECOT_DIR/mail/$u::userdb_quota_rule=*:storage=1G" >>"$DOVECOT_DIR/users"
		mkdir -p "$DOVECOT_DIR/mail/$u"
	done
	chown -R "$uid:$gid" "$DOVECOT_DIR/mail"
	chmod 755 "$T_TMP" "$DOVECOT_DIR"
	cat >"$DOVECOT_DIR/dovecot.conf" <<EOF
base_dir = $DOVECOT_DIR/base
state_dir = $DOVECOT_DIR/state
instance_name = smtpsec-test-$$
log_path = $DOVECOT_DIR/dovecot.log
info_log_path = $DOVECOT_DIR/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = $uid
first_valid_gid = $gid
default_internal_user = $DOVECOT_USER
default_internal_group = $(id -gn "$DOVECOT_USER")
default_login_user = $DOVECOT_USER
mail_location = maildir:~/Maildir
mail_save_crlf = yes
mail_fsync = always
lmtp_add_received_header = no
lmtp_rcpt_check_quota = no
quota_full_tempfail = yes
mail_plugins = quota
plugin {
  quota = maildir:User quota
}
passdb {
  driver = passwd-file
  args = $DOVECOT_DIR/users
}
userdb {
  driver = passwd-file
  args = $DOVECOT_DIR/users
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service anvil {
  chroot =
}
service log {
  chroot =
}
EOF
	DOVECOT_SOCKET="$DOVECOT_DIR/base/lmtp"
	dovecot_restart
}

dovecot_restart() {
	rm -f "$DOVECOT_SOCKET"
	dovecot -F -c "$DOVECOT_DIR/dovecot.conf" >>"$DOVECOT_DIR/dovecot.out" 2>&1 &
	DOVECOT_PID=$!
	t_track_pid "$DOVECOT_PID"
	t_wait_for 15 test -S "$DOVECOT_SOCKET" || {
		echo "# dovecot did not start:"; tail -5 "$DOVECOT_DIR/dovecot.out" "$DOVECOT_DIR/dovecot.log" 2>/dev/null
		return 1
	}
}

dovecot_stop() {
	[ -n "$DOVECOT_PID" ] || return 0
	kill -TERM "$DOVECOT_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$DOVECOT_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DOVECOT_PID" 2>/dev/null
	wait "$DOVECOT_PID" 2>/dev/null
	DOVECOT_PID=
}

dovecot_kill() {
	[ -n "$DOVECOT_PID" ] || return 0
	# the master and its children (lmtp processes), by PID: stop the
	# master first so it forks no more, then its children
	local kids
	kill -STOP "$DOVECOT_PID" 2>/dev/null
	kids=$(pgrep -P "$DOVECOT_PID")
	[ -n "$kids" ] && kill -KILL $kids 2>/dev/null
	kill -KILL "$DOVECOT_PID" 2>/dev/null
	wait "$DOVECOT_PID" 2>/dev/null
	DOVECOT_PID=
}

dovecot_socket() {
	echo "$DOVECOT_SOCKET"
}

dovecot_quota() {	# USER BYTES
	sed -i "s|^\($1:.*userdb_quota_rule=\*:storage=\).*|\1$2B|" "$DOVECOT_DIR/users"
}

dovecot_mail_files() {	# USER
	local d="$DOVECOT_DIR/mail/$1/Maildir"
	ls -1tr "$d"/new/* "$d"/cur/* 2>/dev/null
}

dovecot_mail_count() {
	dovecot_mail_files "$1" | wc -l
}

dovecot_body() {	# FILE: without the Return-Path and Delivered-To lines Dovecot puts first
	local drop
	drop=$(awk '(/^Return-Path: / || /^Delivered-To: /) { n += length($0) + 1; next }
		{ exit } END { print n + 0 }' "$1")
	tail -c +"$((drop + 1))" "$1"
}
