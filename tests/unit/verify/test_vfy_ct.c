/* Unit tests for verify/vfy_ct.c against real certificates with embedded
 * SCTs and the real CT log keys that signed them (../shared/ct-fixtures,
 * loaded at run time), plus the derived negative cases. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "tests/lib/tutil.h"
#include "tests/unit/t.h"
#include "verify/vfy_ct.h"
#include "verify/vfy_x509.h"

static uint8_t *
pem_first(const char *rel, size_t *len_r)
{
	size_t tl, lens[8];
	int n;
	uint8_t *text = tutil_read_file(tutil_shared(rel), &tl), *der[8];
	uint8_t *out = NULL;
	size_t i;

	if (text == NULL)
		return NULL;
	n = vfy_pem_certs((const char *)text, tl, der, lens, 8);
	if (n > 0) {
		out = der[0];
		*len_r = lens[0];
		for (i = 1; i < (size_t)n; i++)
			free(der[i]);
	}
	free(text);
	return out;
}

/* leaf, issuer, log list; time = leaf notBefore + 2 days; want >= min */
static void
one(const char *leaf_rel, const char *issuer_rel, const char *list_rel, int want_min, int want_max)
{
	struct vfy_ct_logs *logs = NULL;
	struct vfy_ct_report rep;
	struct vfy_cert leaf, iss;
	uint8_t *l, *i;
	size_t ll = 0, il = 0;
	const char *why;
	char err[300];
	int n;

	l = pem_first(leaf_rel, &ll);
	i = pem_first(issuer_rel, &il);
	if (l == NULL || i == NULL) {
		free(l);
		free(i);
		T_FAIL("cannot read %s or %s", leaf_rel, issuer_rel);
	}
	if (vfy_ct_logs_load(tutil_shared(list_rel), &logs, err, sizeof(err)) < 0) {
		free(l);
		free(i);
		T_FAIL("log list: %s", err);
	}
	if (vfy_x509_cert_parse(l, ll, &leaf, &why) < 0 || vfy_x509_cert_parse(i, il, &iss, &why) < 0) {
		free(l);
		free(i);
		vfy_ct_logs_free(&logs);
		T_FAIL("parse: %s", why);
	}
	n = vfy_ct_check_leaf(logs, l, ll, iss.spki, iss.spki_len, leaf.not_before + 2 * 86400, &rep);
	free(l);
	free(i);
	vfy_ct_logs_free(&logs);
	if (n < want_min || n > want_max)
		T_FAIL("%d distinct valid SCTs (of %zu; first: %s), want %d..%d", n, rep.n_scts,
		    rep.n_scts ? rep.sct[0].why : "-", want_min, want_max);
}

static const struct {
	const char *leaf, *issuer, *list;
	int min, max;
} rows[] = {
	{ "ct-fixtures/real_le_r3_stackoverflow_2021.pem", "ct-fixtures/real_le_r3_stackoverflow_2021_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/real_gts_1o1_google_2021.pem", "ct-fixtures/real_gts_1o1_google_2021_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/real_digicert_reddit_2021.pem", "ct-fixtures/real_digicert_reddit_2021_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/real_entrust_wapo_2020.pem", "ct-fixtures/real_entrust_wapo_2020_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/real_le_e8_hn_2026.pem", "ct-fixtures/real_le_e8_hn_2026_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/real_gts_wr2_google_2025.pem", "ct-fixtures/real_gts_wr2_google_2025_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	{ "ct-fixtures/extra_digicert_reddit_2026.pem", "ct-fixtures/extra_digicert_reddit_2026_issuer.pem", "ct-fixtures/loglist_real.json", 2, 16 },
	/* its second SCT comes from a log (d16ea9a5...) that loglist_real.json
	 * does not list: exactly one counts */
	{ "ct-fixtures/extra_sectigo_github_2026.pem", "ct-fixtures/extra_sectigo_github_2026_issuer.pem", "ct-fixtures/loglist_real.json", 1, 1 },
	/* negative: every SCT signature flipped; a wrong issuer (wrong key hash) */
	{ "ct-fixtures/neg_sctsig_flipped_all_le_e8_hn_2026.pem", "ct-fixtures/real_le_e8_hn_2026_issuer.pem", "ct-fixtures/loglist_real.json", 0, 0 },
	{ "ct-fixtures/real_le_e8_hn_2026.pem", "ct-fixtures/real_gts_wr2_google_2025_issuer.pem", "ct-fixtures/loglist_real.json", 0, 0 },
	/* one flipped: the other still counts */
	{ "ct-fixtures/neg_sctsig_flipped_first_le_e8_hn_2026.pem", "ct-fixtures/real_le_e8_hn_2026_issuer.pem", "ct-fixtures/loglist_real.json", 1, 1 },
	/* the test log: no real log list knows it */
	{ "ct-fixtures/real_le_e8_hn_2026.pem", "ct-fixtures/real_le_e8_hn_2026_issuer.pem", "ct-fixtures/loglist_testlog.json", 0, 0 },
};

/* The loader from a buffer gives what the file loader gives. */
static void
test_parse_same_as_load(void)
{
	struct vfy_ct_logs *a = NULL, *b = NULL;
	char err[256];
	size_t len;
	uint8_t *text = tutil_read_file(tutil_shared("ct-fixtures/loglist_real.json"), &len);

	T_ASSERT(text != NULL);
	T_EQ_INT(vfy_ct_logs_load(tutil_shared("ct-fixtures/loglist_real.json"), &a, err, sizeof(err)), 0);
	T_EQ_INT(vfy_ct_logs_parse("mem", (const char *)text, len, &b, err, sizeof(err)), 0);
	T_ASSERT(vfy_ct_logs_count(a) > 0);
	T_EQ_INT(vfy_ct_logs_count(a), vfy_ct_logs_count(b));
	T_ASSERT(vfy_ct_logs_count_usable(a) > 0 && vfy_ct_logs_count_usable(a) <= vfy_ct_logs_count(a));
	vfy_ct_logs_free(&a);
	vfy_ct_logs_free(&b);
	free(text);
}

static void
test_parse_errors(void)
{
	struct vfy_ct_logs *l = NULL;
	char err[256] = "";
	static const char bad_json[] = "{\"operators\": [";
	static const char not_v3[] = "{\"logs\": []}";
	/* id is not SHA-256 of the key: the log is left out, the rest loads */
	static const char bad_id[] = "{\"operators\":[{\"logs\":[{\"log_id\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"key\":\"AAAA\"}]}]}";

	T_EQ_INT(vfy_ct_logs_parse("x", bad_json, sizeof(bad_json) - 1, &l, err, sizeof(err)), -1);
	T_ASSERT(l == NULL && strstr(err, "x:1:") != NULL);
	T_EQ_INT(vfy_ct_logs_parse("x", not_v3, sizeof(not_v3) - 1, &l, err, sizeof(err)), -1);
	T_ASSERT(l == NULL && strstr(err, "no operators array") != NULL);
	T_EQ_INT(vfy_ct_logs_parse("x", bad_id, sizeof(bad_id) - 1, &l, err, sizeof(err)), 0);
	T_EQ_INT(vfy_ct_logs_count(l), 0);
	vfy_ct_logs_free(&l);
}

/* A retired timestamp that is not a date (a nine-digit year) is unreadable:
 * the log (key and id valid) still loads, as rejected, never counted. */
static void
test_parse_unreadable_retired_date(void)
{
	struct vfy_ct_logs *l = NULL;
	char err[256], text[512];
	/* a P-256 SPKI (a test CT log key made by lib_pki.sh); its id is computed */
	static const char key[] = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYrVMjxoUTEEeYuGaSJj8ipSzqn5GJduRdL2x"
	    "8I3VN7NHHxucVKEpjAJZx82zyg6Fnlz7LHLxilggCLzvFOVnkQ==";
	uint8_t der[128], id[32];
	word32 dl = sizeof(der);
	char id64[64];
	word32 il = sizeof(id64);

	T_ASSERT(Base64_Decode((const byte *)key, (word32)strlen(key), der, &dl) == 0);
	T_ASSERT(wc_Sha256Hash(der, dl, id) == 0);
	T_ASSERT(Base64_Encode_NoNl(id, sizeof(id), (byte *)id64, &il) == 0);
	id64[il] = '\0';
	snprintf(text, sizeof(text), "{\"operators\":[{\"logs\":[{\"log_id\":\"%s\",\"key\":\"%s\","
	    "\"state\":{\"retired\":{\"timestamp\":\"999999999-01-01T00:00:00Z\"}}}]}]}", id64, key);
	T_EQ_INT(vfy_ct_logs_parse("x", text, strlen(text), &l, err, sizeof(err)), 0);
	T_EQ_INT(vfy_ct_logs_count(l), 1);
	T_EQ_INT(vfy_ct_logs_count_usable(l), 0);
	vfy_ct_logs_free(&l);
}

/* vfy_ct_logs_count_usable (what smtpsec-verify --check-ct-log-list
 * requires above 0): qualified, usable, readonly and retired logs count;
 * pending (no state) and rejected ones do not. */
static void
test_count_usable(void)
{
	static const char key[] = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYrVMjxoUTEEeYuGaSJj8ipSzqn5GJduRdL2x"
	    "8I3VN7NHHxucVKEpjAJZx82zyg6Fnlz7LHLxilggCLzvFOVnkQ==";
	static const struct {
		const char *state;
		size_t usable;
	} states[] = {
		{ "", 0 },
		{ ",\"state\":{\"pending\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 0 },
		{ ",\"state\":{\"rejected\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 0 },
		{ ",\"state\":{\"qualified\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 1 },
		{ ",\"state\":{\"usable\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 1 },
		{ ",\"state\":{\"readonly\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 1 },
		{ ",\"state\":{\"retired\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}", 1 },
	};
	uint8_t der[128], id[32];
	word32 dl = sizeof(der), il;
	char id64[64], text[768], err[256];
	size_t k;

	T_ASSERT(Base64_Decode((const byte *)key, (word32)strlen(key), der, &dl) == 0);
	T_ASSERT(wc_Sha256Hash(der, dl, id) == 0);
	il = sizeof(id64);
	T_ASSERT(Base64_Encode_NoNl(id, sizeof(id), (byte *)id64, &il) == 0);
	id64[il] = '\0';
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		struct vfy_ct_logs *l = NULL;

		snprintf(text, sizeof(text), "{\"operators\":[{\"logs\":[{\"log_id\":\"%s\",\"key\":\"%s\"%s}]}]}",
		    id64, key, states[k].state);
		T_EQ_INT(vfy_ct_logs_parse("x", text, strlen(text), &l, err, sizeof(err)), 0);
		T_EQ_INT(vfy_ct_logs_count(l), 1);
		T_EQ_INT(vfy_ct_logs_count_usable(l), states[k].usable);
		vfy_ct_logs_free(&l);
	}
	T_EQ_INT(vfy_ct_logs_count_usable(NULL), 0);
}

int
main(void)
{
	size_t k;

	T_RUN(test_parse_same_as_load);
	T_RUN(test_parse_errors);
	T_RUN(test_parse_unreadable_retired_date);
	T_RUN(test_count_usable);

	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		char label[160];
		const char *b = strrchr(rows[k].leaf, '/');

		snprintf(label, sizeof(label), "%zu:%s", k, b ? b + 1 : rows[k].leaf);
		T_CASE("ct", label, one(rows[k].leaf, rows[k].issuer, rows[k].list, rows[k].min, rows[k].max));
	}
	return T_END();
}
