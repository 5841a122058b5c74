#!/bin/bash
# systemd units: `systemd-analyze verify` accepts the service, the instance
# template and the tmpfiles/sysusers entries, with ExecStart pointing at the
# binary this build made (the installed path does not exist in a test);
# `systemd-analyze security` rates both at an exposure of 1.5 or less; every
# ReadWritePaths= directory is created (tmpfiles.d for the service, the
# template's privileged ExecStartPre= for an instance).  Running the units
# for real needs systemd as PID 1 (a booted machine or container): skipped
# where it is not.
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
for u in "$T_SRC"/systemd/*.service "$T_SRC"/systemd/*.timer; do
	sed "s|/usr/local/sbin/smtpsec-gateway|$gw|g; s|/usr/local/bin/smtpsec-stats|$BUILD/smtpsec-stats|g" "$u" \
		> "$T_TMP/units/$(basename "$u")"
done
cp "$T_TMP/units/smtpsec-gateway@.service" "$T_TMP/units/smtpsec-gateway@mx1.service"

for u in smtpsec-gateway.service smtpsec-gateway@mx1.service smtpsec-stats-prometheus.service \
    smtpsec-stats-prometheus.timer; do
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
	    'CapabilityBoundingSet=$' ReadWritePaths= RestrictAddressFamilies= \
	    SystemCallFilter=@system-service 'SystemCallFilter=~@privileged @resources$' \
	    SystemCallErrorNumber=EPERM ProtectProc=invisible ProcSubset=pid RemoveIPC=yes UMask=0077 \
	    MemoryDenyWriteExecute=yes Restart=on-failure ExecReload= RestartPreventExitStatus=78; do
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

# no capabilities at all (port 4650 > 1024), none ambient
for u in smtpsec-gateway.service smtpsec-gateway@.service; do
	t_check "no_capabilities_$u" "$(grep -n '^AmbientCapabilities' "$T_SRC/systemd/$u")" \
		bash -c "! grep -q '^AmbientCapabilities=.' '$T_SRC/systemd/$u'"
done

# systemd-analyze security on the unit files (offline: no running systemd needed)
for u in smtpsec-gateway.service smtpsec-gateway@mx1.service; do
	out=$(cd "$T_TMP/units" && systemd-analyze security --offline=true --no-pager "$u" 2>&1 | tail -1)
	lvl=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
	if [ -z "$lvl" ]; then
		t_fail "exposure_$u" "no exposure level: $out"
	else
		echo "# $u: exposure $lvl"
		t_check "exposure_$u" "exposure $lvl > 1.5" awk -v l="$lvl" 'BEGIN { exit !(l <= 1.5) }'
	fi
done

# the template's spool: ReadWritePaths=/var/spool/smtpsec/%i must exist before
# the sandboxed commands run; the "+" ExecStartPre= creates it (run here in a
# scratch root, owner the current user instead of smtpsec)
tpl="$T_SRC/systemd/smtpsec-gateway@.service"
rw=$(sed -n 's/^ReadWritePaths=//p' "$tpl" | sed 's/%i/mx1/g')
pre=$(sed -n 's/^ExecStartPre=+//p' "$tpl" | sed "s/%i/mx1/g; s|/var/spool|$root/var/spool|g; s/-o smtpsec -g smtpsec/-o $(id -u) -g $(id -g)/")
first=$(grep -m1 '^ExecStartPre=' "$tpl")
if [ -n "$pre" ] && [ "${first#ExecStartPre=+}" != "$first" ] && sh -c "$pre" 2>"$T_TMP/pre.err" &&
    [ -d "$root$rw" ] && [ -d "$root$rw/failed" ] && [ "$(stat -c %a "$root$rw")" = 750 ]; then
	t_pass template_spool_created
else
	t_fail template_spool_created "ReadWritePaths=$rw, ExecStartPre=+$pre: $(head -2 "$T_TMP/pre.err")"
fi
# the service's ReadWritePaths= is what tmpfiles.d creates
rw=$(sed -n 's/^ReadWritePaths=//p' "$T_SRC/systemd/smtpsec-gateway.service")
t_check service_spool_created "ReadWritePaths=$rw not in tmpfiles" \
	grep -Eq "^d $rw[[:space:]]" "$T_SRC/systemd/smtpsec-gateway.tmpfiles"

if [ -d /run/systemd/system ]; then
	t_skip run_for_real "systemd runs here, but starting the unit is not automated yet"
else
	t_skip run_for_real "systemd is not PID 1 on this machine (no booted systemd): the units are checked offline only"
fi
