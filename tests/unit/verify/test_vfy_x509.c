/* Unit tests for verify/vfy_x509.c: chain parsing, SAN dNSName and SRVName
 * extraction, RFC 6125 name matching (SMTPSEC.md 4 step 6).  Certificates
 * come from tests/unit/verify/data (gen.sh) and /work/shared/ct-fixtures. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/t.h"
#include "tests/lib/tutil.h"
#include "verify/vfy_x509.h"

static const struct {
	const char *label, *pattern, *name;
	int want;
} rows[] = {
	{ "exact", "mx.a.test", "mx.a.test", 1 },
	{ "exact_case", "MX.A.Test", "mx.a.TEST", 1 },
	{ "exact_differs", "mx.a.test", "mx2.a.test", 0 },
	{ "wild_one_label", "*.a.test", "mx.a.test", 1 },
	{ "wild_case", "*.A.TEST", "Mx.a.test", 1 },
	{ "wild_two_labels", "*.a.test", "x.mx.a.test", 0 },
	{ "wild_no_label", "*.a.test", "a.test", 0 },
	{ "wild_empty_label", "*.a.test", ".a.test", 0 },
	{ "wild_partial_prefix", "f*.a.test", "foo.a.test", 0 },
	{ "wild_partial_suffix", "*x.a.test", "mx.a.test", 0 },
	{ "wild_not_leftmost", "mx.*.test", "mx.a.test", 0 },
	{ "wild_single_label", "*.test", "a.test", 0 },
	{ "wild_alone", "*", "test", 0 },
	{ "wild_double", "*.*.test", "a.b.test", 0 },
	{ "name_has_star", "*.a.test", "*.a.test", 0 },
	{ "empty_pattern", "", "a.test", 0 },
	{ "empty_name", "a.test", "", 0 },
	{ "suffix_only", "a.test", "xa.test", 0 },
};

static void
row(size_t i)
{
	T_EQ_INT(vfy_x509_name_match(rows[i].pattern, rows[i].name), rows[i].want);
}

static char *
data_path(const char *name)
{
	static char buf[1024];
	const char *f = __FILE__, *s = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/data/%s", s ? (int)(s - f) : 1, s ? f : ".", name);
	return buf;
}

/* Load PEM files into a parsed chain; NULL on failure. */
static struct vfy_chain *
load(const char *const *files, size_t nf, int shared, const char **why_r)
{
	uint8_t *der[16];
	size_t len[16], n = 0;
	struct vfy_chain *c = NULL;

	*why_r = "load";
	for (size_t i = 0; i < nf; i++) {
		size_t tl;
		uint8_t *t = tutil_read_file(shared ? tutil_shared(files[i]) : data_path(files[i]), &tl);
		int k;

		if (t == NULL)
			return NULL;
		k = vfy_pem_certs((const char *)t, tl, der + n, len + n, 16 - n);
		free(t);
		if (k < 0)
			return NULL;
		n += (size_t)k;
	}
	if (vfy_chain_parse((const uint8_t *const *)der, len, n, &c, why_r) < 0)
		c = NULL;
	while (n > 0)
		free(der[--n]);
	return c;
}

static void
t_test_pki_chain(void)
{
	const char *files[] = { "leaf.pem", "inter.pem" };
	const char *why;
	struct vfy_chain *c = load(files, 2, 0, &why);

	if (c == NULL)
		T_FAIL("parse: %s", why);
	T_EQ_INT(c->n, 2);
	T_EQ_INT(c->cert[0].key_type, WIRE_KEY_ED25519);
	T_EQ_INT(c->cert[1].key_type, WIRE_KEY_P256);
	T_EQ_INT(c->n_dns, 2);
	T_EQ_STR(c->dns[0], "mx1.example.test");
	T_EQ_STR(c->dns[1], "*.w.example.test");
	T_EQ_INT(c->n_srvname, 1);
	T_EQ_STR(c->srvname[0], "_smtpsec.example.test");
	T_EQ_STR(vfy_chain_has_dns(c, "MX1.example.test"), "mx1.example.test");
	T_EQ_STR(vfy_chain_has_dns(c, "a.w.example.test"), "*.w.example.test");
	T_ASSERT(vfy_chain_has_dns(c, "ignored.example.test") == NULL);	/* CN never used */
	T_EQ_INT(vfy_chain_has_srvname(c, "example.test"), 1);
	T_EQ_INT(vfy_chain_has_srvname(c, "other.test"), 0);
	T_ASSERT(c->cert[0].not_after > c->cert[0].not_before);
	T_ASSERT(c->not_after_min <= c->cert[1].not_after);
	vfy_chain_free(&c);
	T_ASSERT(c == NULL);
}

static void
t_rsa_bits(void)
{
	const char *files[] = { "weak.pem" };
	const char *why;
	struct vfy_chain *c = load(files, 1, 0, &why);

	if (c == NULL)
		T_FAIL("parse: %s", why);
	T_EQ_INT(c->cert[0].key_type, WIRE_KEY_RSA);
	T_EQ_INT(c->cert[0].rsa_bits, 1024);
	vfy_chain_free(&c);
}

static void
t_real_chain(void)
{
	const char *files[] = { "ct-fixtures/chain_real_gts_1o1_google_2021.pem" };
	const char *why;
	struct vfy_chain *c = load(files, 1, 1, &why);

	if (c == NULL)
		T_FAIL("parse: %s", why);
	T_ASSERT(c->n >= 2);
	T_ASSERT(c->n_dns > 0);
	T_EQ_INT(c->n_srvname, 0);
	vfy_chain_free(&c);
}

static void
t_fingerprint_differs(void)
{
	const char *a[] = { "leaf.pem", "inter.pem" }, *b[] = { "leaf.pem" };
	const char *why;
	struct vfy_chain *ca = load(a, 2, 0, &why), *cb = load(b, 1, 0, &why);

	T_ASSERT(ca != NULL && cb != NULL);
	T_ASSERT(memcmp(ca->fingerprint, cb->fingerprint, 32) != 0);
	vfy_chain_free(&ca);
	vfy_chain_free(&cb);
}

/* Every truncation and every single-byte flip of a real certificate must
 * parse or fail cleanly (sanitizers catch overruns). */
static void
t_mutations(void)
{
	size_t tl, len[1];
	uint8_t *t = tutil_read_file(data_path("leaf.pem"), &tl), *der[1];
	struct vfy_chain *c;
	const char *why;
	int ok = 0;

	T_ASSERT(t != NULL);
	T_EQ_INT(vfy_pem_certs((const char *)t, tl, der, len, 1), 1);
	free(t);
	for (size_t cut = 0; cut < len[0]; cut++) {
		size_t l = cut;
		const uint8_t *p = der[0];

		if (vfy_chain_parse(&p, &l, 1, &c, &why) == 0) {
			ok++;
			vfy_chain_free(&c);
		}
	}
	T_EQ_INT(ok, 0);
	for (size_t i = 0; i < len[0]; i++) {
		const uint8_t *p = der[0];

		der[0][i] ^= 0x41;
		if (vfy_chain_parse(&p, len, 1, &c, &why) == 0)
			vfy_chain_free(&c);
		der[0][i] ^= 0x41;
	}
	free(der[0]);
}

static void
t_limits(void)
{
	const char *why;
	struct vfy_chain *c = NULL;

	T_EQ_INT(vfy_chain_parse(NULL, NULL, 0, &c, &why), -1);
	T_ASSERT(c == NULL);
	T_EQ_INT(vfy_pem_certs("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", 59, NULL, NULL, 0), -1);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("name", rows[i].label, row(i));
	T_RUN(t_test_pki_chain);
	T_RUN(t_rsa_bits);
	T_RUN(t_real_chain);
	T_RUN(t_fingerprint_differs);
	T_RUN(t_mutations);
	T_RUN(t_limits);
	return T_END();
}
