/* fuzz_dane_pkix: the DANE + PKIX differential oracle (tests/diff/dp.h)
 * driven by the input: the bytes choose a scenario (PKI, sent chain, TLSA
 * records, names; zeros past the end), which is made with OpenSSL and
 * judged by vfy (steps 6-8) and by OpenSSL.  A difference prints the
 * scenario and aborts.  Step 9 (CT) is not compared here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/diff/dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_src s;
	struct dp_scn scn;
	struct dp_result r;

	dp_src_bytes(&s, data, size);
	dp_gen(&s, -1, &scn);
	if (dp_compare(&scn, &r, stderr) != 0) {
		fprintf(stderr, "fuzz_dane_pkix: %s\n  ours:    %s\n  openssl: %s\n",
		    r.skipped < 0 ? "harness error" : "verdicts differ", r.ours_why, r.ossl_why);
		abort();
	}
	return 0;
}
