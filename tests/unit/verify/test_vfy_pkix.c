/* Unit tests for verify/vfy_pkix.c: path validation at a given time, CA
 * and key-usage rules, weak keys and SHA-1 (SMTPSEC.md 4 step 8).  Test PKI
 * from data/gen.sh; one real expired chain from the shared CT fixtures
 * against the system CA bundle. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/t.h"
#include "tests/lib/tutil.h"
#include "verify/vfy_pkix.h"

static char *
data_path(const char *name)
{
	static char buf[1024];
	const char *f = __FILE__, *s = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/data/%s", s ? (int)(s - f) : 1, s ? f : ".", name);
	return buf;
}

/* Files separated by spaces -> chain (NULL on error). flip: xor a byte at
 * that offset from the end of the leaf (its signature) when > 0. */
static struct vfy_chain *
load(const char *files, size_t flip)
{
	uint8_t *der[16];
	size_t len[16], n = 0;
	struct vfy_chain *c = NULL;
	char buf[512], *save = NULL;
	const char *why;

	snprintf(buf, sizeof(buf), "%s", files);
	for (char *f = strtok_r(buf, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		size_t tl;
		uint8_t *t = tutil_read_file(f[0] == '/' ? f : data_path(f), &tl);
		int k = t ? vfy_pem_certs((const char *)t, tl, der + n, len + n, 16 - n) : -1;

		free(t);
		if (k < 0)
			return NULL;
		n += (size_t)k;
	}
	if (flip && n > 0 && len[0] > flip)
		der[0][len[0] - flip] ^= 0x01;
	if (vfy_chain_parse((const uint8_t *const *)der, len, n, &c, &why) < 0)
		c = NULL;
	while (n > 0)
		free(der[--n]);
	return c;
}

static struct vfy_pkix *root_store, *other_store, *inter_store;

#define NOW ((time_t)-1)
static const struct {
	const char *label, *files;
	int store;		/* 0 test root, 1 unrelated CA, 2 none, 3 only the intermediate */
	size_t anchor, flip;
	time_t at;
	int want;		/* 0 pass, -1 fail, -2 DANE-TA anchor never reached */
	const char *why;	/* substring of the reason */
} rows[] = {
	{ "good", "leaf.pem inter.pem", 0, 0, 0, NOW, 0, "" },
	{ "good_with_root", "leaf.pem inter.pem root.pem", 0, 0, 0, NOW, 0, "" },
	{ "not_yet_valid", "leaf.pem inter.pem", 0, 0, 0, 946684800, -1, "not yet valid" },
	{ "expired", "leaf.pem inter.pem", 0, 0, 0, 4102444800, -1, "expired" },
	{ "missing_intermediate", "leaf.pem", 0, 0, 0, NOW, -1, "no trust anchor" },
	{ "untrusted_ca", "leaf.pem inter.pem", 1, 0, 0, NOW, -1, "no trust anchor" },
	/* store anchors are self-issued CAs (as OpenSSL without PARTIAL_CHAIN) */
	{ "store_has_only_intermediate", "leaf.pem inter.pem", 3, 0, 0, NOW, -1, "trust anchor" },
	{ "bad_leaf_signature", "leaf.pem inter.pem", 0, 0, 3, NOW, -1, "leaf does not chain" },
	{ "weak_rsa", "weak.pem inter.pem", 0, 0, 0, NOW, -1, "RSA" },
	{ "sha1_signature", "sha1.pem inter.pem", 0, 0, 0, NOW, -1, "SHA-1" },
	{ "leaf_without_digitalsignature", "nodig.pem inter.pem", 0, 0, 0, NOW, -1, "digitalSignature" },
	/* a sent certificate off the path is ignored (SMTPSEC.md 4 step 8) */
	{ "unneeded_cert_ignored", "leaf.pem nodig.pem inter.pem", 0, 0, 0, NOW, 0, "" },
	{ "any_order", "leaf.pem root.pem inter.pem", 0, 0, 0, NOW, 0, "" },
	{ "dane_ta_intermediate", "leaf.pem inter.pem", 2, 1, 0, NOW, 0, "" },
	{ "dane_ta_root", "leaf.pem inter.pem root.pem", 2, 2, 0, NOW, 0, "" },
	/* -2: no path reaches the DANE-TA anchor (a DANE mismatch, not PKIX) */
	{ "dane_ta_wrong_anchor", "leaf.pem root.pem", 2, 1, 0, NOW, -2, "leaf does not chain" },
	{ "dane_ta_expired_leaf", "leaf.pem inter.pem", 2, 1, 0, 4102444800, -1, "expired" },
	{ "anchor_not_sent", "leaf.pem inter.pem", 2, 5, 0, NOW, -2, "DANE-TA anchor" },
};

/* DANE-TA rows: the sent certificate at index `anchor` is the anchor */
static const struct vfy_cert *ta_cert;

static int
is_ta(void *arg, const struct vfy_cert *c)
{
	(void)arg;
	return c == ta_cert;
}

static int
verify_row(const struct vfy_pkix *p, const struct vfy_chain *c, size_t anchor, time_t at,
    const char **why)
{
	struct vfy_pkix_params prm = { .at = at };
	struct vfy_path path;

	if (anchor > 0) {
		ta_cert = anchor < c->n ? &c->cert[anchor] : NULL;
		prm.is_anchor = is_ta;
	}
	return vfy_pkix_verify(p, c, &prm, &path, why);
}

static void
row(size_t i)
{
	struct vfy_chain *c = load(rows[i].files, rows[i].flip);
	const struct vfy_pkix *p = rows[i].store == 0 ? root_store :
	    rows[i].store == 1 ? other_store : rows[i].store == 3 ? inter_store : NULL;
	const char *why = NULL;
	int r;

	T_ASSERT(c != NULL);
	r = verify_row(p, c, rows[i].anchor, rows[i].at == NOW ? time(NULL) : rows[i].at, &why);
	vfy_chain_free(&c);
	if (r != rows[i].want)
		T_FAIL("got %d (%s), want %d", r, why ? why : "", rows[i].want);
	T_ASSERT(why != NULL && strstr(why, rows[i].why) != NULL);
}

/* A real chain that expired in 2025 validates at a time inside its
 * validity and not now: the receipt time, not the clock, decides. */
static void
t_real_chain_at(void)
{
	const char *bundle = "/etc/ssl/certs/ca-certificates.crt";
	char files[1024], err[256];
	struct vfy_pkix *sys = NULL;
	struct vfy_chain *c;
	const char *why;

	if (access(bundle, R_OK) != 0)
		T_SKIP("no system CA bundle");
	T_EQ_INT(vfy_pkix_load(bundle, &sys, err, sizeof(err)), 0);
	snprintf(files, sizeof(files), "%s", tutil_shared("ct-fixtures/chain_real_gts_wr2_google_2025.pem"));
	c = load(files, 0);
	T_ASSERT(c != NULL);
	int at_ok = verify_row(sys, c, 0, 1750000000, &why);
	const char *why_ok = why;
	int now_bad = verify_row(sys, c, 0, time(NULL), &why);
	const char *why_now = why;
	vfy_chain_free(&c);
	/* the date override must not hide a bad signature */
	c = load(files, 3);
	T_ASSERT(c != NULL);
	int sig_bad = verify_row(sys, c, 0, 1750000000, &why);
	vfy_chain_free(&c);
	T_EQ_INT(sig_bad, -1);
	vfy_pkix_free(&sys);
	if (at_ok != 0)
		T_FAIL("at 2025-06: %s", why_ok);
	T_EQ_INT(now_bad, -1);
	T_ASSERT(strstr(why_now, "expired") != NULL);
}

static void
t_load_errors(void)
{
	char err[256];
	struct vfy_pkix *p = NULL;

	T_EQ_INT(vfy_pkix_load("/nonexistent/ca.pem", &p, err, sizeof(err)), -1);
	T_ASSERT(p == NULL && strstr(err, "cannot open") != NULL);
	T_EQ_INT(vfy_pkix_load(data_path("tlsa.txt"), &p, err, sizeof(err)), -1);
	T_ASSERT(p == NULL);
}

int
main(void)
{
	char err[256];

	if (vfy_pkix_load(data_path("root.pem"), &root_store, err, sizeof(err)) < 0 ||
	    vfy_pkix_load(data_path("inter.pem"), &inter_store, err, sizeof(err)) < 0 ||
	    vfy_pkix_load(tutil_shared("ct-fixtures/extra_digicert_reddit_2026_issuer.pem"),
	    &other_store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("pkix", rows[i].label, row(i));
	T_RUN(t_real_chain_at);
	T_RUN(t_load_errors);
	vfy_pkix_free(&root_store);
	vfy_pkix_free(&other_store);
	vfy_pkix_free(&inter_store);
	return T_END();
}
