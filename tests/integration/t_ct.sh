#!/bin/bash
# Certificate Transparency through smtpsec-verify --ct-only, on real,
# publicly issued certificates with embedded SCTs and the real log keys
# (../shared/ct-fixtures), evaluated at a time inside each certificate's
# validity; and the derived negative cases.
. "$(dirname "$0")/lib.sh"

V="$BUILD/smtpsec-verify"
F="$SHARED/ct-fixtures"
[ -d "$F" ] || { t_fail fixtures "$F missing"; exit 1; }
at() {	# notBefore of the leaf + 2 days, as Unix seconds
	echo $(( $(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s) + 172800 ))
}
ct() {	# NAME CHAIN LIST WANT-EXIT [REGEX] [AT]
	t_expect "$1" "$4" "${5:-.}" "$V" --ct-only --chain "$F/$2" --ct-log-list "$F/$3" --at "${6:-$(at "$F/$2")}"
}
ct real_le_e8_2026 chain_real_le_e8_hn_2026.pem loglist_real.json 0 "log=\"Google 'Xenon2026h1' log\" .*verdict=ok"
ct real_le_r3_2021 chain_real_le_r3_stackoverflow_2021.pem loglist_real.json 0 "step 9 ct: pass"
ct real_gts_2021 chain_real_gts_1o1_google_2021.pem loglist_real.json 0 "step 9 ct: pass"
ct real_digicert_2021 chain_real_digicert_reddit_2021.pem loglist_real.json 0 "step 9 ct: pass"
ct real_entrust_2020 chain_real_entrust_wapo_2020.pem loglist_real.json 0 "step 9 ct: pass"
ct real_gts_wr2_2025 chain_real_gts_wr2_google_2025.pem loglist_real.json 0 "step 9 ct: pass"
ct extra_digicert_2026 chain_extra_digicert_reddit_2026.pem loglist_real.json 0 "step 9 ct: pass"
ct neg_flipped_all chain_neg_sctsig_flipped_all.pem loglist_real.json 1 "signature does not verify"
ct neg_wrong_issuer chain_neg_wrong_issuer.pem loglist_real.json 1 "step 9 ct: fail"
ct neg_loglist_missing_all chain_neg_loglist_missing_all.pem loglist_real_minus_wyvern2026h1_xenon2026h1.json 1 "unknown log"
# verified before its SCTs were issued (2026-01-11T09:05Z): they are in the future
ct neg_sct_in_future chain_neg_sct_in_future.pem loglist_real.json 1 "timestamp in the future" 1768118000
