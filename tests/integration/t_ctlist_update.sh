#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# smtpsec-ctlist-update (scripts/): a local HTTP server on 127.0.0.1 serves
# log lists signed with an RSA key made here (PKCS#1 v1.5, SHA-256, as
# Chrome signs log_list.json), a real gateway runs on the installed list,
# and the updater reloads it with SIGHUP through reload_command.
#   - refused, the installed file untouched, no reload, no temporary file
#     left: a bad signature (another key, a byte changed after signing),
#     download failures (404 for the list, no signature, nothing
#     listening), invalid JSON, a list the gateway's loader refuses (no log
#     whose id is its key's hash), an older list, the same timestamp with
#     other content, a lower version; configuration errors (no key, a key
#     that is not PEM, a missing -c file, an unknown key), usage; a second
#     run while one holds the lock
#   - installed: the file replaced (mode 0640 -> 0644: readable by the
#     gateway's user whoever runs the updater), the gateway reloaded and
#     its log shows the new list's log count; run again: unchanged, no
#     reload; --dry-run installs nothing; a failing reload is reported (69)
#     with the list installed; the systemctl reload path (no unit active,
#     or no systemd here)
#   - the systemd service and timer pass systemd-analyze verify, carry the
#     hardening, exposure <= 1.6; make install puts the script (pointing at
#     the installed smtpsec-verify), its man page and the units in place;
#     every option of --help is in the man page
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gw.sh"

UPD=$T_SRC/scripts/smtpsec-ctlist-update
VERIFY=$BUILD/smtpsec-verify
for b in "$GW" "$VERIFY"; do
	[ -x "$b" ] || { t_fail build "$b not built"; exit 1; }
done
CT=$SHARED/ct-fixtures/loglist_real.json
[ -f "$CT" ] || { t_fail fixture "no $CT"; exit 1; }
cp /usr/share/dns/root.key "$T_TMP/ta.key" 2>/dev/null || { t_skip ta "no /usr/share/dns/root.key"; exit 0; }
P=$T_TMP

# --- keys, lists, signatures -------------------------------------------------------
openssl genrsa -out "$P/chrome.key" 2048 2>/dev/null &&
	openssl rsa -in "$P/chrome.key" -pubout -out "$P/chrome.pub" 2>/dev/null &&
	openssl genrsa -out "$P/other.key" 2048 2>/dev/null ||
	{ t_fail keys "openssl could not make the test RSA keys"; exit 1; }
sign() {	# FILE [KEY]: FILE.sig, RSA PKCS#1 v1.5 over SHA-256
	openssl dgst -sha256 -sign "${2:-$P/chrome.key}" -out "$1.sig" "$1"
}
# l1 installed at start; l2 the newer one (one log fewer, so the gateway's
# log count tells them apart); l3 newer again; the rest are refused
python3 - "$CT" "$P" <<'PY' || { t_fail lists "could not write the test lists"; exit 1; }
import base64, copy, json, sys
real, P = json.load(open(sys.argv[1])), sys.argv[2]
def mk(name, ts, version, edit=None):
    d = copy.deepcopy(real)
    d["log_list_timestamp"], d["version"] = ts, version
    if edit:
        edit(d)
    with open("%s/%s.json" % (P, name), "w") as f:
        json.dump(d, f, indent=2)
    return d
def nlogs(d):
    return sum(len(o.get("logs", [])) for o in d["operators"])
def drop_one(d):
    for o in d["operators"]:
        if o.get("logs"):
            o["logs"].pop()
            return
def bad_ids(d):
    for o in d["operators"]:
        for l in o.get("logs", []):
            l["log_id"] = base64.b64encode(bytes(32)).decode()
def renamed(d):
    d["operators"][0]["name"] += " (renamed)"
l1 = mk("l1", "2025-07-10T12:53:11Z", "10.1")
l2 = mk("l2", "2025-08-01T00:00:00Z", "10.2", drop_one)
mk("l3", "2025-09-01T00:00:00Z", "10.3")
mk("l4", "2025-09-15T00:00:00Z", "10.4", drop_one)
mk("older", "2025-01-01T00:00:00Z", "10.0")
mk("samets", "2025-07-10T12:53:11Z", "10.1", renamed)
mk("lowver", "2025-10-01T00:00:00Z", "9.9")
mk("badids", "2025-10-01T00:00:00Z", "10.4", bad_ids)
open(P + "/notjson.json", "w").write('{"log_list_timestamp": "2025-10-01T00:00:00Z", "operators": [')
open(P + "/counts", "w").write("%d %d\n" % (nlogs(l1), nlogs(l2)))
PY
read -r N1 N2 <"$P/counts"
for f in l1 l2 l3 l4 older samets lowver badids notjson; do
	sign "$P/$f.json" || { t_fail sign "openssl could not sign $f"; exit 1; }
done
sign "$P/l2.json" "$P/other.key" && mv "$P/l2.json.sig" "$P/l2.other.sig" && sign "$P/l2.json"
echo 'this is not PEM' >"$P/garbage.pem"

# --- the HTTP server ------------------------------------------------------------------
mkdir -p "$P/www" "$P/etc"
HPORT=$(t_free_port)
python3 -m http.server "$HPORT" --bind 127.0.0.1 --directory "$P/www" >"$P/http.log" 2>&1 &
t_track_pid $!
t_wait_port "$HPORT" 10 || { t_fail http_server "no listener on $HPORT: $(tail -2 "$P/http.log")"; exit 1; }
publish() {	# JSON [SIG]: what the server offers (no SIG: the JSON's own; "-": none)
	rm -f "$P/www/log_list.json" "$P/www/log_list.sig"
	cp "$1" "$P/www/log_list.json"
	case "${2:-}" in
	-) ;;
	"") cp "$1.sig" "$P/www/log_list.sig" ;;
	*) cp "$2" "$P/www/log_list.sig" ;;
	esac
}

# --- the gateway on l1 ----------------------------------------------------------------
LIST=$P/etc/log_list.json
cp "$P/l1.json" "$LIST"
chmod 0640 "$LIST"
gw_pki || { t_fail pki "openssl failed"; exit 1; }
gw_conf gw "[verify]" "ca_file = $GW_DATA/root.pem" "ct_log_list = $LIST" \
	"[lmtp]" "target = unix:$P/nowhere.sock" "spool_dir = $P/spool"
sed -i "s|^unbound_conf = /dev/null|unbound_conf = /dev/null\ntrust_anchor_file = $P/ta.key|" "$P/gw.conf"
"$GW" -f -c "$P/gw.conf" >>"$P/gw.log" 2>&1 &
GW_PID=$!
t_track_pid "$GW_PID"
t_wait_port "$PORT" 15 && t_wait_for 10 grep -q 'event=ready' "$P/gw.log" ||
	{ t_fail gateway_start "$(tail -3 "$P/gw.log" | tr '\n' '|')"; exit 1; }

: >"$P/reloads"
cat >"$P/upd.conf" <<EOF
# the test's settings (every key the updater knows but max_size)
url = http://127.0.0.1:$HPORT/log_list.json
signature_url = http://127.0.0.1:$HPORT/log_list.sig
public_key = $P/chrome.pub
list = $LIST
reload_units =
reload_command = echo reload >>'$P/reloads'; kill -HUP $GW_PID
verify_program = $VERIFY
timeout = 5
EOF

upd() { ${WRAP:-} "$UPD" -c "$P/upd.conf" "$@"; }
state() {	# what a refusal must leave as it was
	echo "$(md5sum <"$LIST") $(stat -c %a "$LIST") $(wc -l <"$P/reloads") $(ls -A "$P/etc" | tr '\n' ' ')"
}
refused() {	# NAME WANT-EXIT REGEX [ARGS...]: refused, nothing changed
	local name=$1 want=$2 re=$3 before out rc
	shift 3
	before=$(state)
	out=$(upd "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		t_fail "$name" "exit $rc, want $want: $(tr '\n' ' ' <<<"$out")"
	elif ! grep -qE "$re" <<<"$out"; then
		t_fail "$name" "no /$re/ in: $(tr '\n' ' ' <<<"$out")"
	elif [ "$(state)" != "$before" ]; then
		t_fail "$name" "something changed: before '$before', after '$(state)'"
	else
		t_pass "$name"
	fi
}

# --- configuration and usage ------------------------------------------------------------
publish "$P/l2.json"
refused usage_unknown_option 64 'usage:' --frobnicate
refused usage_argument 64 'unexpected argument' extra
refused config_missing_file 78 'nowhere.conf: no such file' -c "$P/nowhere.conf"
printf 'url = http://127.0.0.1:%s/x\nfrobnicate = 1\n' "$HPORT" >"$P/bad.conf"
refused config_unknown_key 78 "bad.conf:2: unknown key 'frobnicate'" -c "$P/bad.conf"
refused config_no_key 78 'public key .*missing.pem cannot be read' --public-key "$P/missing.pem"
refused config_key_not_pem 78 'garbage.pem is not a PEM public key' --public-key "$P/garbage.pem"
refused config_bad_timeout 78 'timeout must be a positive whole number' --timeout 5s
refused config_not_http 78 "url 'file:///etc/passwd' is not an http or https URL" --url file:///etc/passwd
refused config_no_loader 78 'verify_program .* cannot be run' --verify-program "$P/nowhere"

# --- downloads ------------------------------------------------------------------------
rm -f "$P/www/log_list.json" "$P/www/log_list.sig"
refused download_list_404 69 'download of .*log_list.json failed: HTTP 404'
publish "$P/l2.json" -
refused download_sig_404 69 'download of .*log_list.sig failed: HTTP 404'
DEAD=$(t_free_port)
refused download_nothing_listening 69 'download of .* failed: .*[Cc]onnection refused' \
	--url "http://127.0.0.1:$DEAD/log_list.json"

# --- refused contents -------------------------------------------------------------------
publish "$P/l2.json" "$P/l2.other.sig"
refused signature_other_key 65 'signature does not verify .*list refused'
publish "$P/l2.json"
sed -i '0,/"version": "10.2"/s//"version": "10.7"/' "$P/www/log_list.json"
refused signature_changed_byte 65 'signature does not verify'
publish "$P/notjson.json"
refused invalid_json 65 'is not valid JSON'
publish "$P/badids.json"
refused loader_refuses 65 "gateway's loader refuses the list: .*no usable log"
publish "$P/older.json"
refused older_list 65 'log_list_timestamp 2025-01-01T00:00:00Z\) is not newer .*kept the installed one'
publish "$P/samets.json"
refused same_timestamp_other_content 65 'is not newer'
publish "$P/lowver.json"
refused lower_version 65 "version 9.9 is older than .*10.1"
publish "$P/l2.json"
refused dry_run_installs_nothing 0 'dry run: .*2025-08-01T00:00:00Z.* would be installed' --dry-run
# flock(1) holds the directory's lock while the updater runs
WRAP="flock $P/etc" refused locked 75 'another run is updating .*etc'

# --- installed ----------------------------------------------------------------------------
out=$(upd 2>&1)
rc=$?
t_check install_exit "exit $rc: $(tr '\n' ' ' <<<"$out")" test "$rc" = 0
t_check install_says "$(tr '\n' ' ' <<<"$out")" grep -qE \
	"installed .*log_list.json \(log_list_timestamp 2025-08-01T00:00:00Z, version 10.2, logs=$N2 usable=$N2\)" <<<"$out"
t_check install_replaced_file "the list is not l2" cmp -s "$LIST" "$P/l2.json"
t_check install_mode_readable "mode $(stat -c %a "$LIST")" test "$(stat -c %a "$LIST")" = 644
t_check install_no_temp_left "$(ls -A "$P/etc")" test "$(ls -A "$P/etc")" = log_list.json
t_check install_reloaded_once "$(wc -l <"$P/reloads") reloads" test "$(wc -l <"$P/reloads")" = 1
# the gateway read it: its reload line names the new list's log count
if t_wait_for 10 grep -q "event=reload ct_log_list=$LIST logs=$N2\$" "$P/gw.log"; then
	t_pass gateway_reloaded_new_list
else
	t_fail gateway_reloaded_new_list "want logs=$N2 (l1 had $N1): $(grep 'event=reload' "$P/gw.log" | tr '\n' '|')"
fi
t_check gateway_reload_ok "$(grep 'event=reload' "$P/gw.log" | tr '\n' '|')" \
	grep -q 'event=reload result=ok' "$P/gw.log"
t_check gateway_still_serving "no listener" t_wait_port "$PORT" 5
t_check lists_differ "l1 and l2 have the same log count $N1" test "$N1" != "$N2"

refused unchanged 0 'unchanged: .*is the published list \(log_list_timestamp 2025-08-01T00:00:00Z'
t_check unchanged_no_reload "$(wc -l <"$P/reloads") reloads" test "$(wc -l <"$P/reloads")" = 1

# a reload that fails: the list is installed, the failure reported
publish "$P/l3.json"
out=$(upd --reload-command 'echo no such unit >&2; exit 5' 2>&1)
rc=$?
t_check reload_failure_exit "exit $rc: $(tr '\n' ' ' <<<"$out")" test "$rc" = 69
t_check reload_failure_says "$(tr '\n' ' ' <<<"$out")" \
	grep -q 'the list is installed but the reload failed (.*exit 5: no such unit)' <<<"$out"
t_check reload_failure_installed "the list is not l3" cmp -s "$LIST" "$P/l3.json"

# the default reload, through systemctl: with systemd running, no unit
# of that name is active here (0, nothing reloaded); without it, systemctl
# cannot list units (69, the list installed all the same)
publish "$P/l4.json"
out=$(upd --reload-command '' --reload-unit 'smtpsec-test-nonesuch@*.service' 2>&1)
rc=$?
if [ -d /run/systemd/system ]; then
	want=0 re='no active unit matches smtpsec-test-nonesuch@\*.service: nothing to reload'
else
	want=69 re='the list is installed but the gateway units cannot be listed \(systemctl list-units: exit [0-9]+'
fi
if [ "$rc" = "$want" ] && grep -qE "$re" <<<"$out" && cmp -s "$LIST" "$P/l4.json"; then
	t_pass systemctl_reload_path
else
	t_fail systemctl_reload_path "exit $rc (want $want): $(tr '\n' ' ' <<<"$out")"
fi

# no list installed yet (mode 0644), and an installed list that cannot be read as one:
# both replaced; --no-reload reloads nothing
mkdir -p "$P/etc2" "$P/etc3"
echo 'not a list' >"$P/etc3/log_list.json"
n=$(wc -l <"$P/reloads")
out=$(upd --list "$P/etc2/log_list.json" --no-reload 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -q 'not reloaded (--no-reload)' <<<"$out" && cmp -s "$P/etc2/log_list.json" "$P/l4.json" &&
    [ "$(stat -c %a "$P/etc2/log_list.json")" = 644 ] && [ "$(wc -l <"$P/reloads")" = "$n" ]; then
	t_pass first_install_no_reload
else
	t_fail first_install_no_reload "exit $rc, mode $(stat -c %a "$P/etc2/log_list.json" 2>&1): $(tr '\n' ' ' <<<"$out")"
fi
out=$(upd --list "$P/etc3/log_list.json" --no-reload 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -q 'the installed list is unusable (.*not valid JSON.*): replacing it' <<<"$out" &&
    cmp -s "$P/etc3/log_list.json" "$P/l4.json"; then
	t_pass unusable_installed_list_replaced
else
	t_fail unusable_installed_list_replaced "exit $rc: $(tr '\n' ' ' <<<"$out")"
fi

# --- systemd units ------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$P/units"
	sed "s|/usr/local/sbin/smtpsec-ctlist-update|$UPD|" "$T_SRC/systemd/smtpsec-ctlist-update.service" \
		>"$P/units/smtpsec-ctlist-update.service"
	cp "$T_SRC/systemd/smtpsec-ctlist-update.timer" "$P/units/"
	for u in smtpsec-ctlist-update.service smtpsec-ctlist-update.timer; do
		out=$(cd "$P/units" && systemd-analyze verify --man=no "$P/units/$u" 2>&1)
		t_check "unit_verify_$u" "$(head -3 <<<"$out" | tr '\n' ' ')" test -z "$out"
	done
	miss=""
	for k in Type=oneshot ProtectSystem=strict ReadWritePaths=/etc/smtpsec ProtectHome=yes PrivateTmp=yes \
	    PrivateDevices=yes PrivateMounts=yes NoNewPrivileges=yes 'CapabilityBoundingSet=$' \
	    RestrictAddressFamilies= SystemCallFilter=@system-service 'SystemCallFilter=~@privileged @resources$' \
	    ProtectProc=invisible ProcSubset=pid RemoveIPC=yes UMask=0077 MemoryDenyWriteExecute=yes; do
		grep -q "^$k" "$T_SRC/systemd/smtpsec-ctlist-update.service" || miss="$miss $k"
	done
	t_check unit_hardening "missing:$miss" test -z "$miss"
	miss=""
	for k in OnCalendar=daily 'RandomizedDelaySec=[1-9]' Persistent=true WantedBy=timers.target; do
		grep -Eq "^$k" "$T_SRC/systemd/smtpsec-ctlist-update.timer" || miss="$miss $k"
	done
	t_check timer_daily_randomized "missing:$miss" test -z "$miss"
	out=$(cd "$P/units" && systemd-analyze security --offline=true --no-pager smtpsec-ctlist-update.service 2>&1 | tail -1)
	lvl=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
	echo "# smtpsec-ctlist-update.service: exposure $lvl (root without capabilities: it reloads units)"
	t_check unit_exposure "exposure '$lvl' > 1.6: $out" awk -v l="$lvl" 'BEGIN { exit !(l != "" && l <= 1.6) }'
else
	t_skip units "systemd-analyze not installed"
fi

# --- make install, man page ---------------------------------------------------------------
inst=$P/inst
if make -s -C "$T_SRC" -o all B="$BUILD" install DESTDIR="$inst" PREFIX=/usr >"$P/install.log" 2>&1; then
	for f in sbin/smtpsec-ctlist-update share/man/man8/smtpsec-ctlist-update.8 \
	    lib/systemd/system/smtpsec-ctlist-update.service lib/systemd/system/smtpsec-ctlist-update.timer; do
		t_check "installed_$(basename "$f")" "missing $f" test -e "$inst/usr/$f"
	done
	t_check installed_script_executable "not executable" test -x "$inst/usr/sbin/smtpsec-ctlist-update"
	t_check installed_script_uses_installed_verify "$(grep -n '"verify_program"' "$inst/usr/sbin/smtpsec-ctlist-update")" \
		grep -q '"verify_program": "/usr/bin/smtpsec-verify"' "$inst/usr/sbin/smtpsec-ctlist-update"
	t_check installed_unit_execstart "$(grep ExecStart= "$inst/usr/lib/systemd/system/smtpsec-ctlist-update.service")" \
		grep -q '^ExecStart=/usr/sbin/smtpsec-ctlist-update$' "$inst/usr/lib/systemd/system/smtpsec-ctlist-update.service"
else
	t_fail make_install "$(tail -3 "$P/install.log")"
fi
page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$T_SRC/man/smtpsec-ctlist-update.8" 2>/dev/null | col -b)
missing=""
for o in $("$UPD" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$o" <<<"$page" || missing="$missing $o"
done
t_check options_documented "not in smtpsec-ctlist-update(8):$missing" test -z "$missing"
