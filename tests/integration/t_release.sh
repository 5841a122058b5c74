#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Release hygiene: the version of CHANGELOG.md's latest entry is the one
# smtpsec-gateway --version prints (and every other program that has
# --version); LICENSE is the GPL version 2 text and the README names
# GPL-2.0-or-later; make install puts LICENSE and CHANGELOG.md in
# share/doc; libinih is named nowhere in the build.
. "$(dirname "$0")/lib.sh"

# the version of the first "## [X.Y.Z] - YYYY-MM-DD" entry (Unreleased skipped)
changelog_version() {
	awk '/^## \[[0-9]+\.[0-9]+\.[0-9]+\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ {
		v = $2; gsub(/[][]/, "", v); print v; exit }' "$1"
}
# the version a program prints: "NAME X.Y.Z" on the first line
prog_version() {
	"$1" --version 2>/dev/null | head -1 | awk -v n="$(basename "$1")" '$1 == n { print $2 }'
}

cl=$(changelog_version "$T_SRC/CHANGELOG.md")
gw=$(prog_version "$BUILD/smtpsec-gateway")
t_check changelog_has_entry "no '## [X.Y.Z] - DATE' entry in CHANGELOG.md" test -n "$cl"
t_check gateway_prints_version "smtpsec-gateway --version printed no version" test -n "$gw"
t_check changelog_is_gateway_version "CHANGELOG.md's latest entry is '$cl', smtpsec-gateway --version prints '$gw'" \
	test -n "$cl" -a "$cl" = "$gw"

# the check above can fail: a changelog whose latest entry is another
# version (above the real one) is told apart
sed "0,/^## \[[0-9]/s/^\(## \[Unreleased\]\)$/\1\n\n## [9.9.9] - 2099-01-01/" \
	"$T_SRC/CHANGELOG.md" >"$T_TMP/changelog.other"
other=$(changelog_version "$T_TMP/changelog.other")
t_check changelog_check_can_fail "a changelog with 9.9.9 on top read as '$other'" \
	test "$other" = 9.9.9 -a "$other" != "$gw"

for p in smtpsec-stats smtpsec-spool smtpsec-verify smtpsec-send; do
	if ! "$BUILD/$p" --version >/dev/null 2>&1; then
		t_skip "version_$p" "$p has no --version yet"
		continue
	fi
	v=$(prog_version "$BUILD/$p")
	t_check "version_$p" "$p --version prints '$v', the gateway '$gw'" test -n "$v" -a "$v" = "$gw"
done

# the CT list updater is a script: its version is written in it
v=$("$T_SRC/scripts/smtpsec-ctlist-update" --version 2>/dev/null | awk '$1 == "smtpsec-ctlist-update" { print $2 }')
t_check version_smtpsec-ctlist-update "smtpsec-ctlist-update --version prints '$v', the gateway '$gw'" \
	test -n "$v" -a "$v" = "$gw"

head2=$(head -2 "$T_SRC/LICENSE" | tr -s ' \n' '  ')
t_check license_gpl2_text "LICENSE starts '$head2', not the GPL version 2" \
	test "$head2" = " GNU GENERAL PUBLIC LICENSE Version 2, June 1991 "
if [ -r /usr/share/common-licenses/GPL-2 ]; then
	t_check license_is_debian_gpl2 "LICENSE differs from /usr/share/common-licenses/GPL-2" \
		cmp -s "$T_SRC/LICENSE" /usr/share/common-licenses/GPL-2
else
	t_skip license_is_debian_gpl2 "no /usr/share/common-licenses/GPL-2 to compare with"
fi
t_check readme_names_license "README.md does not name GPL-2.0-or-later" \
	grep -q 'GPL-2.0-or-later' "$T_SRC/README.md"

inst=$T_TMP/inst
# -o all: install what this build made, never rebuild it
if make -s -C "$T_SRC" -o all B="$BUILD" install DESTDIR="$inst" PREFIX=/usr >"$T_TMP/install.log" 2>&1; then
	for f in LICENSE CHANGELOG.md; do
		t_check "installed_$f" "make install did not put $f in share/doc/smtpsec-gateway" \
			cmp -s "$T_SRC/$f" "$inst/usr/share/doc/smtpsec-gateway/$f"
	done
else
	t_fail make_install "$(tail -3 "$T_TMP/install.log")"
fi

hits=$(grep -n -i 'inih' "$T_SRC/Makefile" "$T_SRC/.ci/run" 2>/dev/null)
t_check no_libinih_in_build "libinih still named: $hits" test -z "$hits"
t_check no_libinih_linked "smtpsec-gateway links libinih" \
	bash -c "! ldd '$BUILD/smtpsec-gateway' | grep -qi inih"
