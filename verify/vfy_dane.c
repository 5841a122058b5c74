/* vfy_dane: TLSA matching (RFC 6698 2.1, RFC 7671 4-5). */
#include "verify/vfy_dane.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <string.h>

int
vfy_dane_usable(const struct vfy_tlsa *t)
{
	if (t->usage > 3 || t->selector > 1)
		return 0;
	switch (t->mtype) {
	case 0:
		return t->len > 0 && t->data != NULL;
	case 1:
		return t->len == WC_SHA256_DIGEST_SIZE && t->data != NULL;
	case 2:
		return t->len == WC_SHA512_DIGEST_SIZE && t->data != NULL;
	default:
		return 0;
	}
}

int
vfy_dane_cert_match(const struct vfy_cert *cert, const struct vfy_tlsa *t)
{
	const uint8_t *p = t->selector == 0 ? cert->der : cert->spki;
	size_t len = t->selector == 0 ? cert->der_len : cert->spki_len;
	uint8_t h[WC_SHA512_DIGEST_SIZE];

	switch (t->mtype) {
	case 0:
		return t->len == len && memcmp(t->data, p, len) == 0;
	case 1:
		if (wc_Sha256Hash(p, (word32)len, h) != 0)
			return 0;
		return memcmp(h, t->data, WC_SHA256_DIGEST_SIZE) == 0;
	case 2:
		if (wc_Sha512Hash(p, (word32)len, h) != 0)
			return 0;
		return memcmp(h, t->data, WC_SHA512_DIGEST_SIZE) == 0;
	}
	return 0;
}

int
vfy_dane_cert_match_usage(const struct vfy_cert *c, const struct vfy_tlsa *recs, size_t n,
    uint8_t usage)
{
	for (size_t i = 0; i < n; i++)
		if (recs[i].usage == usage && vfy_dane_usable(&recs[i]) &&
		    vfy_dane_cert_match(c, &recs[i]))
			return 1;
	return 0;
}

void
vfy_dane_match(const struct vfy_chain *c, const struct vfy_tlsa *recs,
    size_t n, struct vfy_dane_match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const struct vfy_tlsa *t = &recs[i];

		if (!vfy_dane_usable(t))
			continue;
		m->n_usable++;
		switch (t->usage) {
		case 3:
			m->ee |= vfy_dane_cert_match(&c->cert[0], t);
			break;
		case 1:
			m->pkix_ee |= vfy_dane_cert_match(&c->cert[0], t);
			break;
		case 2:
			for (size_t k = 1; k < c->n && !m->ta; k++)
				m->ta = vfy_dane_cert_match(&c->cert[k], t);
			break;
		default:
			m->pkix_ta = 1;
			break;
		}
	}
}
