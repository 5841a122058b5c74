#!/bin/bash
# smtpsec-send's RFC 2782 order is drawn afresh on every run (getrandom),
# checked statistically over N separate runs of smtpsec-send --print-srv
# against DNSSEC-signed SRV sets in NSD (issue 17 item 1: with an unseeded
# random() every run drew the same target).
#
# RFC 2782 takes a uniform draw r from 0..SUM and picks the first record
# whose running weight sum reaches r, so with weights W1/W2 the target of
# W1 comes first with p = (W1 + 1) / S when it is listed first and W1 / S
# when it is listed second (S = W1 + W2 + 1); the resolver's order decides,
# and p_first() takes the midpoint (0.005 from either at these weights, a
# fraction of a standard deviation at N = 200).  A share passes when it lies
# within 5 standard deviations of N * p (a false alarm about once in 1.7
# million runs); "every run to one target" is far outside it in every set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nsd.sh"

SEND=$BUILD/smtpsec-send
[ -x "$SEND" ] || { t_skip build "$SEND not built"; exit 0; }
N=${SRV_RUNS:-200}

dns_init
dns_zone w.test signed
dns_rr w.test "_smtpsec._tcp.w7525.w.test. 300 IN SRV 10 75 4650 t1.w.test."
dns_rr w.test "_smtpsec._tcp.w7525.w.test. 300 IN SRV 10 25 4650 t2.w.test."
dns_rr w.test "_smtpsec._tcp.w5050.w.test. 300 IN SRV 10 50 4650 t1.w.test."
dns_rr w.test "_smtpsec._tcp.w5050.w.test. 300 IN SRV 10 50 4650 t2.w.test."
dns_rr w.test "_smtpsec._tcp.w3070.w.test. 300 IN SRV 10 30 4650 t1.w.test."
dns_rr w.test "_smtpsec._tcp.w3070.w.test. 300 IN SRV 10 70 4650 t2.w.test."
dns_rr w.test "_smtpsec._tcp.prio.w.test. 300 IN SRV 20 90 4650 t2.w.test."
dns_rr w.test "_smtpsec._tcp.prio.w.test. 300 IN SRV 10 10 4650 t1.w.test."
dns_rr w.test "_smtpsec._tcp.prio.w.test. 300 IN SRV 20 10 4650 t3.w.test."
dns_start || { t_fail nsd_start "NSD did not start"; exit 1; }

# p_first W1 W2: the probability that t1 (weight W1) comes first
p_first() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		s = a + b + 1
		# t1 listed first: picked when r <= a; t2 listed first: when r > b
		printf "%.6f", 0.5 * ((a + 1) / s) + 0.5 * ((s - (b + 1)) / s)
	}'
}

# firsts DOMAIN: N runs, the first target of each, counted
firsts() {
	local i
	for ((i = 0; i < N; i++)); do
		"$SEND" --print-srv "$1" --unbound-conf "$DNS_UNBOUND_CONF" --trust-anchor '' 2>&1 | head -1
	done | sed -n 's/^srv target=\([^ ]*\).*/\1/p' | sort | uniq -c
}

# weights NAME DOMAIN W1 W2
weights() {
	local name=$1 dom=$2 p c1 c2 out
	p=$(p_first "$3" "$4")
	out=$(firsts "$dom")
	c1=$(awk '$2 == "t1.w.test" { print $1 }' <<<"$out")
	c2=$(awk '$2 == "t2.w.test" { print $1 }' <<<"$out")
	c1=${c1:-0}
	c2=${c2:-0}
	echo "# $name: t1 $c1 / t2 $c2 of $N runs (expected t1 share $p)"
	if [ $((c1 + c2)) != "$N" ]; then
		t_fail "$name" "only $((c1 + c2)) of $N runs printed a target: $out"
	elif awk -v c="$c1" -v n="$N" -v p="$p" 'BEGIN {
		m = n * p; sd = sqrt(n * p * (1 - p)); exit !(c >= m - 5 * sd && c <= m + 5 * sd) }'; then
		t_pass "$name"
	else
		t_fail "$name" "t1 first in $c1 of $N runs, outside 5 sd of $(awk -v n="$N" -v p="$p" 'BEGIN { print n * p }')"
	fi
}

weights weights_75_25 w7525.w.test 75 25
weights weights_50_50 w5050.w.test 50 50
weights weights_30_70 w3070.w.test 30 70

# priorities: the priority-10 target always first, then the two of 20
out=$(for ((i = 0; i < 40; i++)); do
	"$SEND" --print-srv prio.w.test --unbound-conf "$DNS_UNBOUND_CONF" --trust-anchor '' 2>&1 |
		sed -n 's/^srv target=\([^ ]*\).*/\1/p' | tr '\n' ' '
	echo
done)
t_check priority_first "$(sort <<<"$out" | uniq -c | tr '\n' ';')" bash -c \
	'! grep -qv "^t1.w.test t[23].w.test t[23].w.test $" <<<"$1"' _ "$out"
t_check priority_weighted_second "$(sort <<<"$out" | uniq -c | tr '\n' ';')" bash -c \
	'grep -q "^t1.w.test t2" <<<"$1"' _ "$out"
t_expect print_srv_not_smtpsec 69 'nx.w.test does not speak SMTPsec' \
	env -u SMTPSEC_TEST_MODE "$SEND" --print-srv nx.w.test --unbound-conf "$DNS_UNBOUND_CONF" --trust-anchor ''
exit 0
