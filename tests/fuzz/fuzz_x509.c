/* fuzz_x509: the certificate chain parser (SAN dNSName/SRVName), the
 * extension reader used by PKIX, name matching and TLSA matching over
 * arbitrary DER.  Input: a 1-byte split count, then the bytes cut into
 * that many certificates. */
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_dane.h"
#include "verify/vfy_pkix.h"
#include "verify/vfy_x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
any_anchor(void *arg, const struct vfy_cert *c)
{
	(void)arg;
	(void)c;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *der[VFY_CHAIN_MAX_CERTS];
	size_t len[VFY_CHAIN_MAX_CERTS], n, off = 1;
	struct vfy_chain *c = NULL;
	const char *why;

	if (size < 2)
		return 0;
	n = 1 + data[0] % 3;
	for (size_t i = 0; i < n; i++) {
		size_t rest = size - off, l = i + 1 == n ? rest : rest / (n - i);

		der[i] = data + off;
		len[i] = l;
		off += l;
	}
	if (vfy_chain_parse(der, len, n, &c, &why) == 0) {
		struct vfy_x509_ext e;
		struct vfy_tlsa t = { 3, 1, 0, c->cert[0].spki_len, c->cert[0].spki };
		struct vfy_dane_match m;

		for (size_t i = 0; i < c->n; i++) {
			(void)vfy_x509_ext_parse(&c->cert[i], &e);
			(void)vfy_pkix_weak_sigalg(&c->cert[i]);
		}
		for (size_t i = 0; i < c->n_dns; i++)
			(void)vfy_x509_name_match(c->dns[i], "mx.example.test");
		(void)vfy_chain_has_srvname(c, "example.test");
		vfy_dane_match(c, &t, 1, &m);
		if (!m.ee)	/* the leaf's own SPKI must match 3 1 0 */
			abort();
		/* path building, validation and name constraints over peer
		 * bytes: every sent certificate may anchor (DANE-TA form) */
		{
			struct vfy_pkix_params prm = { .at = 1750000000, .is_anchor = any_anchor };
			struct vfy_path path;

			if (vfy_pkix_verify(NULL, c, &prm, &path, &why) == 0 &&
			    (path.n < 2 || path.cert[0] != &c->cert[0]))
				abort();
		}
		vfy_chain_free(&c);
	}
	return 0;
}
