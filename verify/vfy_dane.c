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

static int
match_one(const struct vfy_cert *cert, const struct vfy_tlsa *t)
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

/* Lower is better. */
static int
rank(uint8_t usage)
{
	static const int r[4] = { 3, 2, 1, 0 };

	return r[usage & 3];
}

void
vfy_dane_match(const struct vfy_chain *c, const struct vfy_tlsa *recs,
    size_t n, struct vfy_dane_match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const struct vfy_tlsa *t = &recs[i];
		size_t from, to;

		if (!vfy_dane_usable(t))
			continue;
		m->n_usable++;
		if (t->usage == 1 || t->usage == 3) {
			from = 0;
			to = 1;
		} else {
			from = 1;
			to = c->n;
		}
		for (size_t k = from; k < to; k++) {
			if (!match_one(&c->cert[k], t))
				continue;
			if (!m->matched || rank(t->usage) < rank(m->usage)) {
				m->matched = 1;
				m->usage = t->usage;
				m->selector = t->selector;
				m->mtype = t->mtype;
				m->record = i;
				m->cert = k;
			}
			break;
		}
	}
}

int
vfy_dane_names_leaf(const struct vfy_dane_match *m)
{
	return m->matched && (m->usage == 1 || m->usage == 3);
}
