/* Unit tests for verify/vfy_dane.c: TLSA usability and matching (RFC 6698,
 * RFC 7671; SMTPSEC.md 4 step 7).  Expected digests were computed by
 * openssl (data/gen.sh -> data/tlsa.txt), not by the code under test. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/t.h"
#include "tests/lib/tutil.h"
#include "verify/vfy_dane.h"

static char *
data_path(const char *name)
{
	static char buf[1024];
	const char *f = __FILE__, *s = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/data/%s", s ? (int)(s - f) : 1, s ? f : ".", name);
	return buf;
}

static struct vfy_chain *chain;
static char *tlsa_txt;

/* hex value of a key in tlsa.txt, as bytes */
static uint8_t *
tlsa_val(const char *key, size_t *len_r)
{
	char k[64], *p;
	size_t kl;

	snprintf(k, sizeof(k), "%s ", key);
	kl = strlen(k);
	p = strstr(tlsa_txt, k);
	if (p == NULL)
		return NULL;
	p += kl;
	char *e = strchr(p, '\n');
	char hex[4096];
	snprintf(hex, sizeof(hex), "%.*s", (int)(e - p), p);
	return tutil_hex(hex, len_r);
}

enum { NONE = -1 };

static const struct {
	const char *label;
	uint8_t usage, selector, mtype;
	const char *key;	/* value from tlsa.txt, or NULL for "00" */
	int flip;		/* corrupt the first byte */
	int usable, matched;
	int cert;		/* matched chain index */
} rows[] = {
	{ "ee_spki_sha256", 3, 1, 1, "leaf_spki_sha256", 0, 1, 1, 0 },
	{ "ee_cert_sha512", 3, 0, 2, "leaf_cert_sha512", 0, 1, 1, 0 },
	{ "ee_spki_full", 3, 1, 0, "leaf_spki_full", 0, 1, 1, 0 },
	{ "ee_wrong_digest", 3, 1, 1, "leaf_spki_sha256", 1, 1, 0, 0 },
	{ "pkix_ee", 1, 1, 1, "leaf_spki_sha256", 0, 1, 1, 0 },
	{ "ta_spki", 2, 1, 1, "inter_spki_sha256", 0, 1, 1, 1 },
	{ "ta_cert", 2, 0, 1, "inter_cert_sha256", 0, 1, 1, 1 },
	{ "pkix_ta", 0, 0, 1, "inter_cert_sha256", 0, 1, 1, 1 },
	{ "ta_never_leaf", 2, 1, 1, "leaf_spki_sha256", 0, 1, 0, 0 },
	{ "ee_never_ca", 3, 1, 1, "inter_spki_sha256", 0, 1, 0, 0 },
	{ "usage4_unusable", 4, 1, 1, "leaf_spki_sha256", 0, 0, 0, 0 },
	{ "selector2_unusable", 3, 2, 1, "leaf_spki_sha256", 0, 0, 0, 0 },
	{ "mtype3_unusable", 3, 1, 3, "leaf_spki_sha256", 0, 0, 0, 0 },
	{ "sha256_short", 3, 1, 1, NULL, 0, 0, 0, 0 },
	{ "sha512_with_sha256_len", 3, 1, 2, "leaf_spki_sha256", 0, 0, 0, 0 },
};

static void
row(size_t i)
{
	struct vfy_tlsa t = { rows[i].usage, rows[i].selector, rows[i].mtype, 0, NULL };
	struct vfy_dane_match m;
	uint8_t *v, one = 0;
	size_t len;

	if (rows[i].key) {
		v = tlsa_val(rows[i].key, &len);
		T_ASSERT(v != NULL);
	} else {
		v = NULL;
		len = 1;
	}
	t.data = v ? v : &one;
	t.len = len;
	if (rows[i].flip && v)
		v[0] ^= 1;
	T_EQ_INT(vfy_dane_usable(&t), rows[i].usable);
	vfy_dane_match(chain, &t, 1, &m);
	T_EQ_INT(m.n_usable, rows[i].usable);
	/* usages 1-3 are matched here; usage 0 only flags that records exist
	 * (they are matched on the validated path, test_vfy_check) */
	T_EQ_INT(rows[i].usage == 3 ? m.ee : rows[i].usage == 1 ? m.pkix_ee :
	    rows[i].usage == 2 ? m.ta : rows[i].usage == 0 ? m.pkix_ta : 0, rows[i].matched);
	if (rows[i].matched) {
		T_EQ_INT(vfy_dane_cert_match(&chain->cert[rows[i].cert], &t), 1);
		T_EQ_INT(vfy_dane_cert_match_usage(&chain->cert[rows[i].cert], &t, 1, rows[i].usage), 1);
		T_EQ_INT(vfy_dane_cert_match_usage(&chain->cert[rows[i].cert], &t, 1,
		    (uint8_t)((rows[i].usage + 1) & 3)), 0);
	}
	free(v);
}

/* Several records: each usage is summarised on its own; unusable ones
 * are not counted. */
static void
t_summary(void)
{
	size_t l1, l2;
	uint8_t *a = tlsa_val("inter_spki_sha256", &l1), *b = tlsa_val("leaf_spki_sha256", &l2);
	struct vfy_tlsa t[3] = {
		{ 2, 1, 1, l1, a }, { 9, 9, 9, 1, a }, { 3, 1, 1, l2, b },
	};
	struct vfy_dane_match m;

	T_ASSERT(a && b);
	vfy_dane_match(chain, t, 3, &m);
	T_EQ_INT(m.n_usable, 2);
	T_EQ_INT(m.ee, 1);
	T_EQ_INT(m.ta, 1);
	T_EQ_INT(m.pkix_ee, 0);
	T_EQ_INT(m.pkix_ta, 0);
	vfy_dane_match(chain, t, 2, &m);
	T_EQ_INT(m.ee, 0);
	T_EQ_INT(m.ta, 1);
	free(a);
	free(b);
}

int
main(void)
{
	const char *files[] = { "leaf.pem", "inter.pem" };
	uint8_t *der[4];
	size_t len[4], n = 0, tl;
	const char *why;

	for (size_t i = 0; i < 2; i++) {
		uint8_t *t = tutil_read_file(data_path(files[i]), &tl);
		int k = t ? vfy_pem_certs((const char *)t, tl, der + n, len + n, 4 - n) : -1;

		free(t);
		if (k < 0)
			return 1;
		n += (size_t)k;
	}
	if (vfy_chain_parse((const uint8_t *const *)der, len, n, &chain, &why) < 0)
		return 1;
	tlsa_txt = (char *)tutil_read_file(data_path("tlsa.txt"), &tl);
	if (tlsa_txt == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("tlsa", rows[i].label, row(i));
	T_RUN(t_summary);
	for (size_t i = 0; i < n; i++)
		free(der[i]);
	vfy_chain_free(&chain);
	free(tlsa_txt);
	return T_END();
}
