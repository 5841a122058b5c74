# lib_postfix.sh: a private Postfix instance (Debian's postfix package) for
# the sender tests.  Source after lib.sh.
#
#   pf_init MASTER-LINE...   $PF_DIR/etc/main.cf + master.cf: its own config,
#                            queue and data directories under $T_TMP, no
#                            listener at all (mail comes in through sendmail),
#                            local(8) delivery for localhost into
#                            $PF_DIR/mail/USER, anything not routed by
#                            $PF_DIR/etc/transport goes to error(8); each
#                            MASTER-LINE is appended to master.cf (a service)
#   pf_main LINE...          more main.cf lines (before pf_start)
#   pf_start / pf_stop       postfix -c DIR start / stop; stop waits for the
#                            master's PID and then ends, by PID, any process
#                            of the instance still left (pf_pids)
#   pf_sendmail ARGS...      Postfix's sendmail -C DIR (message on stdin)
#   pf_queue                 postqueue -c DIR -j (one JSON object per message)
#   pf_flush                 postqueue -c DIR -f
#   pf_wait_idle SECONDS     until the queue is empty
#   pf_log                   the maillog ($PF_DIR/maillog)
#
# Nothing outside $PF_DIR is touched: no system instance, no port.  Postfix
# runs its daemons as "postfix" (the package's user) and pipe(8) commands as
# the user= of their master.cf line.

PF_DIR=
PF_PID=

pf_init() {
	PF_DIR="$T_TMP/postfix"
	mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data" "$PF_DIR/mail"
	chown postfix "$PF_DIR/data"
	chmod 1777 "$PF_DIR/mail"
	: >"$PF_DIR/etc/transport"
	cat >"$PF_DIR/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.smtpsec.test
mydomain = smtpsec.test
myorigin = localhost
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps = proxy:unix:passwd.byname
mail_spool_directory = $PF_DIR/mail
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
transport_maps = texthash:$PF_DIR/etc/transport
default_transport = error:no mail leaves this test
relay_transport = error:no mail leaves this test
biff = no
delay_warning_time = 0
smtputf8_enable = no
EOF
	cat >"$PF_DIR/etc/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$PF_DIR/etc/master.cf"
	return 0
}

pf_main() {
	printf '%s\n' "$@" >>"$PF_DIR/etc/main.cf"
}

pf_start() {
	postfix -c "$PF_DIR/etc" check >>"$PF_DIR/postfix.out" 2>&1
	postfix -c "$PF_DIR/etc" start >>"$PF_DIR/postfix.out" 2>&1 || {
		echo "# postfix did not start:"; tail -5 "$PF_DIR/postfix.out" "$PF_DIR/maillog" 2>/dev/null
		return 1
	}
	t_wait_for 10 test -s "$PF_DIR/queue/pid/master.pid" || return 1
	PF_PID=$(tr -d ' \n' <"$PF_DIR/queue/pid/master.pid")
	# the master is not our child: t_cleanup sends it SIGTERM and waits
	t_track_pid "$PF_PID"
	t_wait_for 10 test -p "$PF_DIR/queue/public/pickup" -o -S "$PF_DIR/queue/public/pickup"
}

# Processes of this instance: the master and its descendants (daemons,
# and pipe(8)'s commands below them).
_pf_desc() {	# PID
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		_pf_desc "$c"
	done
}
pf_pids() {
	[ -n "$PF_PID" ] || return 0
	echo "$PF_PID"
	_pf_desc "$PF_PID"
}

pf_stop() {
	local p left
	[ -n "$PF_PID" ] || return 0
	left=$(pf_pids)
	postfix -c "$PF_DIR/etc" stop >>"$PF_DIR/postfix.out" 2>&1
	for _ in $(seq 100); do kill -0 "$PF_PID" 2>/dev/null || break; sleep 0.1; done
	# "postfix stop" returns before every child has gone: end the ones we
	# saw, by PID, if they still run as Postfix's
	for p in $left; do
		[ "$(ps -o user= -p "$p" 2>/dev/null)" ] && kill -KILL "$p" 2>/dev/null
	done
	PF_PID=
}

pf_sendmail() {
	sendmail -C "$PF_DIR/etc" "$@"
}

pf_queue() {
	postqueue -c "$PF_DIR/etc" -j 2>/dev/null
}

pf_flush() {
	postqueue -c "$PF_DIR/etc" -f
}

pf_wait_idle() {	# SECONDS
	t_wait_for "$1" bash -c '[ -z "$(postqueue -c "$1" -j 2>/dev/null)" ]' _ "$PF_DIR/etc"
}

pf_log() {
	cat "$PF_DIR/maillog" 2>/dev/null
}
