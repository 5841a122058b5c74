/* Unit tests for path building and validation (verify/vfy_pkix.c,
 * vfy_nc.c) and steps 7-9 on the validated path (vfy_check_after_tlsa):
 * name constraints of every CA (dNSName, SRVName, excluded wildcards,
 * forms we do not process), path length, EKU, chains in any order, DANE
 * PKIX-TA only on the validated path (store anchor included), DANE-TA
 * anchoring the path, the SCT issuer taken from the path.  Test PKI from
 * data/gen_path.sh (openssl); the OpenSSL verdict of each NC chain is in
 * the comment of its row and in tests/diff (differential oracle). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/tutil.h"
#include "tests/unit/t.h"
#include "verify/vfy.h"
#include "verify/vfy_nc.h"
#include "verify/vfy_pkix.h"

static char *
data_path(const char *name)
{
	static char buf[1024];
	const char *f = __FILE__, *s = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/data/%s", s ? (int)(s - f) : 1, s ? f : ".", name);
	return buf;
}

/* "p_lx p_y p_x" -> chain of data/<name>.pem, in that order */
static struct vfy_chain *
load(const char *names)
{
	uint8_t *der[16];
	size_t len[16], n = 0;
	struct vfy_chain *c = NULL;
	char buf[512], file[128], *save = NULL;
	const char *why;

	snprintf(buf, sizeof(buf), "%s", names);
	for (char *f = strtok_r(buf, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		size_t tl;
		uint8_t *t;
		int k;

		snprintf(file, sizeof(file), "%s.pem", f);
		t = tutil_read_file(data_path(file), &tl);
		k = t ? vfy_pem_certs((const char *)t, tl, der + n, len + n, 16 - n) : -1;
		free(t);
		if (k < 0)
			return NULL;
		n += (size_t)k;
	}
	if (vfy_chain_parse((const uint8_t *const *)der, len, n, &c, &why) < 0)
		c = NULL;
	while (n > 0)
		free(der[--n]);
	return c;
}

static struct vfy_pkix *store;
static time_t now;

/* ---- path validation -------------------------------------------------- */

static const struct {
	const char *label, *chain;
	int want;		/* 0 pass, -1 fail */
	const char *why;	/* substring of the reason */
} rows[] = {
	{ "plain", "p_lx p_x", 0, "" },
	{ "root_sent_too", "p_lx p_x p_root", 0, "" },
	{ "any_order", "p_lsubother p_ncdns p_sub", 0, "" },
	{ "extra_cert_second", "p_lx p_y p_x", 0, "" },
	{ "extra_cert_off_path", "p_lx p_lsrvbank p_x", 0, "" },
	{ "missing_intermediate", "p_lx", -1, "no trust anchor" },
	{ "wrong_issuer_only", "p_lx p_y", -1, "no trust anchor" },
	/* openssl verify: permitted subtree violation (constraint one CA above) */
	{ "nc_above_issuer", "p_lsubbank p_sub p_ncdns", -1, "dNSName not in a permitted subtree" },
	{ "nc_above_issuer_any_order", "p_lsubbank p_ncdns p_sub", -1, "not in a permitted subtree" },
	{ "nc_above_issuer_ok", "p_lsubother p_sub p_ncdns", 0, "" },
	/* SRVName: RFC 4985 subtree and (project rule) the dNSName subtree */
	{ "nc_srvname_violation", "p_lsrvbank p_ncsrv", -1, "SRVName not in a permitted subtree" },
	{ "nc_srvname_ok_cn_ignored", "p_lsrvother p_ncsrv", 0, "" },
	/* openssl verify: excluded subtree violation */
	{ "nc_excluded_wildcard", "p_lwild p_ncexcl", -1, "excluded" },
	{ "nc_excluded_other_ok", "p_lexclok p_ncexcl", 0, "" },
	/* review finding: "*.bank.test." stands for mx.bank.test too */
	{ "nc_excluded_wildcard_absolute", "p_lwilddot p_exmx", -1, "excluded" },
	/* review finding: a search-space trap is cut off by the step bound */
	{ "search_bounded", "p_lloop p_loop8", -1, "limit" },
	/* critical URI constraint: fine without a URI name, refused with one */
	{ "nc_unprocessed_form_absent", "p_luri p_ncuri", 0, "" },
	{ "nc_unprocessed_form_present", "p_luri2 p_ncuri", -1, "do not process" },
	/* the CN is never compared with dNSName constraints */
	{ "nc_cn_ignored", "p_lcn p_ncdns", 0, "" },
	/* openssl verify: path length constraint exceeded */
	{ "pathlen_exceeded", "p_lpl p_pl0sub p_pl0", -1, "path length" },
	{ "eku_client_only", "p_lclient p_x", -1, "serverAuth" },
};

static void
row(size_t i)
{
	struct vfy_chain *c = load(rows[i].chain);
	struct vfy_pkix_params prm = { .at = now };
	struct vfy_path path;
	const char *why = NULL;
	int r;

	T_ASSERT(c != NULL);
	r = vfy_pkix_verify(store, c, &prm, &path, &why);
	if (r == 0 && (path.cert[0] != &c->cert[0] || path.n < 2 || path.sent[path.n - 1] != -1))
		T_FAIL("path does not run from the leaf to a store anchor");
	vfy_chain_free(&c);
	if (r != rows[i].want)
		T_FAIL("got %d (%s), want %d", r, why ? why : "", rows[i].want);
	T_ASSERT(why != NULL && strstr(why, rows[i].why) != NULL);
}

/* ---- name-constraint matching rules ----------------------------------- */

static void
t_dns_rules(void)
{
#define W(n, c) vfy_nc_dns_within((const uint8_t *)(n), strlen(n), (const uint8_t *)(c), strlen(c))
	T_EQ_INT(W("other.test", "other.test"), 1);
	T_EQ_INT(W("mx.other.test", "other.test"), 1);
	T_EQ_INT(W("MX.Other.Test", "other.TEST"), 1);
	T_EQ_INT(W("xother.test", "other.test"), 0);
	T_EQ_INT(W("other.test", ".other.test"), 0);
	T_EQ_INT(W("mx.other.test", ".other.test"), 1);
	T_EQ_INT(W("anything", ""), 1);
	T_EQ_INT(W("other.test.", "other.test"), 1);
	T_EQ_INT(W("test", "other.test"), 0);
#undef W
#define S(n, c) vfy_nc_srv_within((const uint8_t *)(n), strlen(n), (const uint8_t *)(c), strlen(c))
	T_EQ_INT(S("_smtpsec.other.test", "_smtpsec.other.test"), 1);
	T_EQ_INT(S("_smtpsec.sub.other.test", "_smtpsec.other.test"), 1);
	T_EQ_INT(S("_smtpsec.bank.test", "_smtpsec.other.test"), 0);
	T_EQ_INT(S("_mail.other.test", "_smtpsec.other.test"), 0);
	T_EQ_INT(S("_SMTPSEC.other.test", "_smtpsec.other.test"), 1);
	T_EQ_INT(S("_smtpsec.other.test", "other.test"), 1);
	T_EQ_INT(S("_smtpsec.bank.test", "other.test"), 0);
	T_EQ_INT(S("smtpsec.other.test", "other.test"), 0);	/* not an SRVName */
	T_EQ_INT(S("_smtpsec.", "_smtpsec.other.test"), 0);
#undef S
}

/* ---- DANE on the validated path (steps 7-9) --------------------------- */

static int ct_calls;
static const struct vfy_cert *ct_issuer;

static int
fake_ct(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer, time_t t,
    unsigned min, char *why, size_t whylen)
{
	(void)arg;
	(void)chain;
	(void)t;
	(void)min;
	(void)why;
	(void)whylen;
	ct_calls++;
	ct_issuer = issuer;
	return 0;
}

static uint8_t *
spki256(const char *name, size_t *len_r)
{
	size_t tl;
	uint8_t *t = tutil_read_file(data_path("p_tlsa.txt"), &tl), *v = NULL;
	char key[64], hex[100];
	const char *p;

	if (t == NULL)
		return NULL;
	snprintf(key, sizeof(key), "%s ", name);
	p = strstr((const char *)t, key);
	if (p != NULL && sscanf(p + strlen(key), "%64s", hex) == 1)
		v = tutil_hex(hex, len_r);
	free(t);
	return v;
}

static const struct {
	const char *label, *chain;
	uint8_t usage;
	const char *named;	/* certificate the record names (SPKI SHA-256) */
	enum vfy_result want;
	enum vfy_step step;
	const char *issuer;	/* expected SCT issuer (subject CN), NULL: no CT */
} drows[] = {
	/* the attack: X named, leaf issued by Y, X only appended */
	{ "pkix_ta_appended_ca", "p_ly p_y p_x", 0, "p_x", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	{ "pkix_ta_appended_ca_first", "p_ly p_x p_y", 0, "p_x", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	{ "pkix_ta_not_sent", "p_ly p_y", 0, "p_x", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	{ "pkix_ta_on_path", "p_lx p_y p_x", 0, "p_x", VFY_PASS, VFY_STEP_CT, "Path-p_x" },
	{ "pkix_ta_store_root_not_sent", "p_lx p_x", 0, "p_root", VFY_PASS, VFY_STEP_CT, "Path-p_x" },
	{ "pkix_ta_names_leaf_no", "p_lx p_x", 0, "p_lx", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	{ "pkix_ee", "p_lx p_x", 1, "p_lx", VFY_PASS, VFY_STEP_PKIX, NULL },
	{ "pkix_ee_no_path", "p_lx", 1, "p_lx", VFY_PERMFAIL, VFY_STEP_PKIX, NULL },
	{ "dane_ta_named_anchor", "p_lx p_x", 2, "p_x", VFY_PASS, VFY_STEP_CT, "Path-p_x" },
	/* a sent certificate off the leaf's paths matches nothing (as usage 0) */
	{ "dane_ta_other_ca_sent", "p_ly p_y p_x", 2, "p_x", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	/* review finding: DANE-TA search over eight same-name CAs is bounded */
	{ "dane_ta_search_bounded", "p_lloop p_loop8 p_x", 2, "p_x", VFY_PERMFAIL, VFY_STEP_PKIX, NULL },
	{ "dane_ta_root_sent_any_order", "p_lx p_root p_x", 2, "p_root", VFY_PASS, VFY_STEP_CT,
	    "Path-p_x" },
	{ "dane_ta_root_not_sent", "p_lx p_x", 2, "p_root", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
	{ "dane_ee", "p_lx", 3, "p_lx", VFY_PASS, VFY_STEP_DANE, NULL },
	{ "dane_ee_mismatch", "p_lx p_x", 3, "p_ly", VFY_PERMFAIL, VFY_STEP_DANE, NULL },
};

static void
drow(size_t i)
{
	struct vfy_chain *c = load(drows[i].chain);
	size_t vl = 0;
	uint8_t *v = spki256(drows[i].named, &vl);
	struct vfy_tlsa t = { drows[i].usage, 1, 1, vl, v };
	struct vfy_dns_answer ans;
	struct vfy_verdict vd;

	T_ASSERT(c != NULL && v != NULL && vl == 32);
	memset(&ans, 0, sizeof(ans));
	ans.qname = "_25._tcp.mx.bank.test";
	ans.result = VFY_DNS_DATA;
	ans.status = VFY_DNS_SECURE;
	ans.n_tlsa = 1;
	ans.tlsa = &t;
	memset(&vd, 0, sizeof(vd));
	ct_calls = 0;
	ct_issuer = NULL;
	vfy_check_after_tlsa(store, fake_ct, NULL, 1, c, now, &ans, &vd);
	if (vd.result != drows[i].want || vd.step != drows[i].step) {
		vfy_chain_free(&c);
		free(v);
		T_FAIL("got %s/%s (%s), want %s/%s", vfy_result_str(vd.result), vfy_step_str(vd.step),
		    vd.why, vfy_result_str(drows[i].want), vfy_step_str(drows[i].step));
	}
	if (drows[i].issuer != NULL) {
		/* the SCT issuer is the leaf's issuer on the validated path */
		char cn[64];

		snprintf(cn, sizeof(cn), "%s", drows[i].issuer);
		T_EQ_INT(ct_calls, 1);
		T_ASSERT(ct_issuer != NULL && ct_issuer->subject_len > strlen(cn) &&
		    memmem(ct_issuer->subject, ct_issuer->subject_len, cn, strlen(cn)) != NULL);
	} else if (drows[i].want == VFY_PASS) {
		T_EQ_INT(ct_calls, 0);
	}
	vfy_chain_free(&c);
	free(v);
}

int
main(void)
{
	char err[256];

	now = time(NULL);
	if (vfy_pkix_load(data_path("p_root.pem"), &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		T_CASE("path", rows[i].label, row(i));
	T_RUN(t_dns_rules);
	for (size_t i = 0; i < sizeof(drows) / sizeof(drows[0]); i++)
		T_CASE("dane", drows[i].label, drow(i));
	vfy_pkix_free(&store);
	return T_END();
}
