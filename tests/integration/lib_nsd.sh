# lib_nsd.sh: DNSSEC-signed test zones served by a real NSD on loopback, and
# the unbound.conf that points the gateway's libunbound at them.
# Source after lib.sh.
#
#   dns_init                      start a fresh set of zones; the parent is "test."
#   dns_zone NAME KIND            a child zone of test. (e.g. a.test):
#                                   signed   - DS in the parent: secure
#                                   unsigned - delegated without DS: insecure
#                                   bogus    - signed, RRSIGs expired long ago, DS in the parent
#   dns_rr ZONE "RR ..."          add a record (absolute owner names, with TTL):
#                                   dns_rr a.test "_smtpsec._tcp.a.test. 300 IN SRV 10 10 4650 mx1.a.test."
#   dns_dead_zone NAME            a delegation whose server never answers (UDP black hole)
#   dns_start                     sign, write configs, start NSD; sets DNS_PORT and
#                                 DNS_UNBOUND_CONF (for [dns] unbound_conf)
#   dns_stop / dns_restart        stop NSD (outage) / start it again on the same port
#   dns_reload                    re-sign and restart after adding records
#   dns_query_count               queries NSD has answered so far (nsd-control stats)
#
# Every zone gets SOA (negative TTL 60 s) and NS; the parent also gets NS
# glue and, for signed and bogus children, their DS.  Keys are ECDSA P-256
# made with ldns-keygen; zones are signed with ldns-signzone.

DNS_DIR=
DNS_PORT=
DNS_CPORT=
DNS_PID=
DNS_UNBOUND_CONF=
DNS_ZONES=()
declare -A DNS_KIND

dns_init() {
	DNS_DIR="$T_TMP/dns"
	rm -rf "$DNS_DIR"
	mkdir -p "$DNS_DIR"
	DNS_ZONES=(test)
	DNS_KIND=([test]=signed)
	DNS_PORT=$(t_free_port)
	DNS_CPORT=$(t_free_port)
	: >"$DNS_DIR/test.rr"
	DNS_DEAD=()
}

dns_zone() {	# NAME KIND
	DNS_ZONES+=("$1")
	DNS_KIND[$1]=$2
	: >"$DNS_DIR/$1.rr"
}

dns_rr() {	# ZONE RR
	echo "$2" >>"$DNS_DIR/$1.rr"
}

dns_dead_zone() {	# NAME: a UDP/TCP black hole on its own port
	local port
	port=$(t_free_port)
	python3 -c '
import socket, sys, time
p = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", p)); t.listen(16)
time.sleep(3600)
' "$port" &
	t_track_pid $!
	DNS_DEAD+=("$1@$port")
}

# Write one zone's unsigned file.
_dns_zonefile() {	# NAME
	local z=$1 f="$DNS_DIR/$1.zone" c kind
	{
		echo "\$ORIGIN $z."
		echo "\$TTL 300"
		echo "@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
		echo "@ 300 IN NS ns.test."
		if [ "$z" = test ]; then
			echo "ns.test. 300 IN A 127.0.0.1"
			for c in "${DNS_ZONES[@]}"; do
				[ "$c" = test ] && continue
				echo "$c. 300 IN NS ns.test."
				kind=${DNS_KIND[$c]}
				if [ "$kind" = signed ] || [ "$kind" = bogus ]; then
					cat "$DNS_DIR/keys/$c.ds"
				fi
			done
		fi
		cat "$DNS_DIR/$z.rr"
	} >"$f"
}

_dns_keys() {	# NAME: KSK + ZSK, once
	local z=$1 k
	[ -f "$DNS_DIR/keys/$z.ksk" ] && return 0
	mkdir -p "$DNS_DIR/keys"
	(
		cd "$DNS_DIR/keys" || exit 1
		k=$(ldns-keygen -a ECDSAP256SHA256 -k "$z.") || exit 1
		echo "$k" >"$z.ksk"
		# the DS, with the owner's TTL written out
		sed -e 's/\t/ /g' "$k.ds" >"$z.ds"
		k=$(ldns-keygen -a ECDSAP256SHA256 "$z.") || exit 1
		echo "$k" >"$z.zsk"
	)
}

_dns_sign() {	# NAME
	local z=$1 kind=${DNS_KIND[$1]} ksk zsk
	if [ "$kind" = unsigned ]; then
		cp "$DNS_DIR/$z.zone" "$DNS_DIR/$z.zone.signed"
		return 0
	fi
	ksk=$(cat "$DNS_DIR/keys/$z.ksk"); zsk=$(cat "$DNS_DIR/keys/$z.zsk")
	if [ "$kind" = bogus ]; then
		ldns-signzone -i 20200101000000 -e 20200201000000 -f "$DNS_DIR/$z.zone.signed" \
			"$DNS_DIR/$z.zone" "$DNS_DIR/keys/$ksk" "$DNS_DIR/keys/$zsk"
	else
		ldns-signzone -f "$DNS_DIR/$z.zone.signed" \
			"$DNS_DIR/$z.zone" "$DNS_DIR/keys/$ksk" "$DNS_DIR/keys/$zsk"
	fi
}

_dns_write_configs() {
	local z d
	{
		echo "server:"
		echo "  ip-address: 127.0.0.1@$DNS_PORT"
		echo "  port: $DNS_PORT"
		echo "  do-ip6: no"
		echo "  username: \"\""
		echo "  chroot: \"\""
		echo "  zonesdir: \"$DNS_DIR\""
		echo "  pidfile: \"$DNS_DIR/nsd.pid\""
		echo "  database: \"\""
		echo "  xfrdfile: \"$DNS_DIR/xfrd.state\""
		echo "  zonelistfile: \"$DNS_DIR/zone.list\""
		echo "  logfile: \"$DNS_DIR/nsd.log\""
		echo "  server-count: 1"
		echo "  verbosity: 1"
		echo "remote-control:"
		echo "  control-enable: yes"
		echo "  control-interface: 127.0.0.1"
		echo "  control-port: $DNS_CPORT"
		echo "  server-key-file: \"$DNS_DIR/nsd_server.key\""
		echo "  server-cert-file: \"$DNS_DIR/nsd_server.pem\""
		echo "  control-key-file: \"$DNS_DIR/nsd_control.key\""
		echo "  control-cert-file: \"$DNS_DIR/nsd_control.pem\""
		for z in "${DNS_ZONES[@]}"; do
			echo "zone:"
			echo "  name: \"$z.\""
			echo "  zonefile: \"$z.zone.signed\""
		done
	} >"$DNS_DIR/nsd.conf"
	DNS_UNBOUND_CONF="$DNS_DIR/unbound.conf"
	{
		echo "server:"
		echo "  do-not-query-localhost: no"
		echo "  do-ip6: no"
		echo "  local-zone: \"test.\" nodefault"
		echo "  trust-anchor: \"$(tr -s ' \t' ' ' <"$DNS_DIR/keys/test.ds")\""
		echo "  val-log-level: 2"
		echo "  harden-dnssec-stripped: yes"
		echo "  target-fetch-policy: \"0 0 0 0 0\""
		echo "  outgoing-num-tcp: 4"
		for z in "${DNS_ZONES[@]}"; do
			echo "stub-zone:"
			echo "  name: \"$z.\""
			echo "  stub-addr: 127.0.0.1@$DNS_PORT"
		done
		for d in "${DNS_DEAD[@]}"; do
			echo "stub-zone:"
			echo "  name: \"${d%@*}.\""
			echo "  stub-addr: 127.0.0.1@${d#*@}"
		done
		# the root on loopback too: no lookup ever leaves this machine
		echo "stub-zone:"
		echo "  name: \".\""
		echo "  stub-addr: 127.0.0.1@$DNS_PORT"
	} >"$DNS_UNBOUND_CONF"
}

dns_start() {
	local z
	for z in "${DNS_ZONES[@]}"; do
		[ "${DNS_KIND[$z]}" = unsigned ] || _dns_keys "$z" || return 1
	done
	# children first: the parent carries their DS
	for z in "${DNS_ZONES[@]}"; do
		[ "$z" = test ] && continue
		_dns_zonefile "$z" && _dns_sign "$z" || return 1
	done
	_dns_zonefile test && _dns_sign test || return 1
	[ -f "$DNS_DIR/nsd_server.key" ] || nsd-control-setup -d "$DNS_DIR" >/dev/null 2>&1 || return 1
	_dns_write_configs
	nsd -d -c "$DNS_DIR/nsd.conf" >>"$DNS_DIR/nsd.out" 2>&1 &
	DNS_PID=$!
	t_track_pid "$DNS_PID"
	t_wait_for 10 nsd-control -c "$DNS_DIR/nsd.conf" status || {
		echo "# nsd did not start:"; tail -5 "$DNS_DIR/nsd.log" "$DNS_DIR/nsd.out" 2>/dev/null
		return 1
	}
}

dns_stop() {
	[ -n "$DNS_PID" ] || return 0
	kill -TERM "$DNS_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$DNS_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DNS_PID" 2>/dev/null
	wait "$DNS_PID" 2>/dev/null
	DNS_PID=
}

dns_restart() {
	dns_stop
	nsd -d -c "$DNS_DIR/nsd.conf" >>"$DNS_DIR/nsd.out" 2>&1 &
	DNS_PID=$!
	t_track_pid "$DNS_PID"
	t_wait_for 10 nsd-control -c "$DNS_DIR/nsd.conf" status
}

dns_reload() {
	dns_stop
	dns_start
}

dns_query_count() {
	nsd-control -c "$DNS_DIR/nsd.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "num.queries" { print $2 }'
}
