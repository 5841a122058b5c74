#!/bin/bash
# systemd units: `systemd-analyze verify` accepts the service, the instance
# template and the tmpfiles/sysusers entries, with ExecStart pointing at the
# binary this build made (the installed path does not exist in a test).
. "$(dirname "$0")/lib.sh"

gw="$BUILD/smtpsec-gateway"
if ! command -v systemd-analyze >/dev/null; then
	t_skip units "systemd-analyze not installed"
	exit 0
fi
if [ ! -x "$gw" ]; then
	t_fail units "$gw not built"
	exit 1
fi
mkdir -p "$T_TMP/units"
for u in "$T_SRC"/systemd/*.service; do
	sed "s|/usr/local/sbin/smtpsec-gateway|$gw|g" "$u" > "$T_TMP/units/$(basename "$u")"
done
cp "$T_TMP/units/smtpsec-gateway@.service" "$T_TMP/units/smtpsec-gateway@mx1.service"

for u in smtpsec-gateway.service smtpsec-gateway@mx1.service; do
	if out=$(cd "$T_TMP/units" && systemd-analyze verify --man=no "$T_TMP/units/$u" 2>&1) && [ -z "$out" ]; then
		t_pass "verify_$u"
	else
		t_fail "verify_$u" "$(echo "$out" | head -3 | tr '\n' ' ')"
	fi
done

# Required hardening is present (the issue's list), in both units.
for u in smtpsec-gateway.service smtpsec-gateway@.service; do
	miss=""
	for k in Type=notify ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
	    CapabilityBoundingSet=CAP_NET_BIND_SERVICE ReadWritePaths= RestrictAddressFamilies= \
	    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes Restart=on-failure ExecReload= \
	    RestartPreventExitStatus=78; do
		grep -q "^$k" "$T_SRC/systemd/$u" || miss="$miss $k"
	done
	t_check "hardening_$u" "missing:$miss" test -z "$miss"
done

# sysusers.d creates the user in a scratch root; tmpfiles.d then creates
# the spool owned by it, mode 0750.
root="$T_TMP/root"
mkdir -p "$root/etc"
if systemd-sysusers --root="$root" "$T_SRC/systemd/smtpsec-gateway.sysusers" >/dev/null 2>"$T_TMP/sysusers.err" &&
    grep -q '^smtpsec:' "$root/etc/passwd"; then
	t_pass sysusers
else
	t_fail sysusers "$(head -2 "$T_TMP/sysusers.err")"
fi
uid=$(awk -F: '$1 == "smtpsec" { print $3 }' "$root/etc/passwd")
if systemd-tmpfiles --root="$root" --create "$T_SRC/systemd/smtpsec-gateway.tmpfiles" 2>"$T_TMP/tmpfiles.err" &&
    [ "$(stat -c '%u %a' "$root/var/spool/smtpsec" 2>/dev/null)" = "$uid 750" ] &&
    [ -d "$root/var/spool/smtpsec/failed" ]; then
	t_pass tmpfiles
else
	t_fail tmpfiles "spool not created as smtpsec 0750: $(head -2 "$T_TMP/tmpfiles.err")"
fi
