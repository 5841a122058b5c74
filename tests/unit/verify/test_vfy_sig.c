/* Unit tests for verify/vfy_sig.c: every shared signature vector
 * (../shared/spec/vectors/signatures.json) gives its `valid` result. */
#include <jansson.h>

#include "tests/lib/tutil.h"
#include "tests/unit/t.h"
#include "verify/vfy_sig.h"

static void
vector(json_t *v)
{
	const char *alg_s = json_string_value(json_object_get(v, "algorithm"));
	int valid = json_is_true(json_object_get(v, "valid"));
	uint8_t *spki, *msg, *sig;
	size_t spki_len, msg_len, sig_len;
	const char *why;
	int r;

	T_ASSERT(alg_s != NULL);
	spki = tutil_hex(json_string_value(json_object_get(v, "spki")), &spki_len);
	msg = tutil_hex(json_string_value(json_object_get(v, "message")), &msg_len);
	sig = tutil_hex(json_string_value(json_object_get(v, "signature")), &sig_len);
	T_ASSERT(spki && msg && sig);
	r = vfy_sig_verify(spki, spki_len, (uint16_t)strtoul(alg_s, NULL, 16), sig, sig_len,
	    msg, msg_len, &why);
	/* the stream, fed in pieces of 1, 2, 3 ... bytes, must agree */
	{
		struct vfy_sig_stream *st;
		const char *why2;
		int r2;
		size_t off = 0, k = 1;

		st = vfy_sig_stream_begin(spki, spki_len, (uint16_t)strtoul(alg_s, NULL, 16), sig,
		    sig_len, &r2, &why2);
		if (st != NULL) {
			while (off < msg_len) {
				size_t n = msg_len - off < k ? msg_len - off : k;

				vfy_sig_stream_update(st, msg + off, n);
				off += n;
				k++;
			}
			r2 = vfy_sig_stream_end(&st, &why2);
		}
		if (r2 != r) {
			free(spki);
			free(msg);
			free(sig);
			T_FAIL("stream gives %d (%s), one-shot %d", r2, why2, r);
		}
	}
	free(spki);
	free(msg);
	free(sig);
	if ((r == VFY_SIG_OK) != valid)
		T_FAIL("verify returned %d (%s), vector says valid=%d", r, why, valid);
}

static void
t_vectors(void)
{
	json_error_t je;
	json_t *root = json_load_file(tutil_shared("spec/vectors/signatures.json"), 0, &je), *v;
	size_t i;

	if (root == NULL) {
		T_CASE("vectors", "load", t_failf_(__FILE__, __LINE__, "%s", je.text));
		return;
	}
	json_array_foreach(json_object_get(root, "vectors"), i, v)
		T_CASE("vector", json_string_value(json_object_get(v, "name")), vector(v));
	json_decref(root);
}

/* A stream dropped unused frees its state (ASan/LSan would report). */
static void
t_stream_free_unused(void)
{
	size_t len;
	uint8_t sig[64] = { 0 };
	uint8_t *spki = tutil_hex("302a300506032b65700321003e3fd2218c3c1fbc5681ce01cbe1931dc301b74ba45bfaad24f93d90d069af4f", &len);
	struct vfy_sig_stream *st;
	const char *why;
	int rc;

	T_ASSERT(spki != NULL);
	st = vfy_sig_stream_begin(spki, len, 0x0807, sig, 64, &rc, &why);
	free(spki);
	T_ASSERT(st != NULL && rc == VFY_SIG_OK);
	vfy_sig_stream_update(st, (const uint8_t *)"abc", 3);
	vfy_sig_stream_free(&st);
	T_ASSERT(st == NULL);
	T_EQ_INT(vfy_sig_stream_end(&st, &why), VFY_SIG_BAD);
}

static void
t_mismatch_is_distinct(void)
{
	/* Ed25519 key (from the vectors) under the P-256 code: MISMATCH */
	uint8_t *spki;
	size_t len;
	uint8_t sig[64] = { 0 };
	const char *why;

	spki = tutil_hex("302a300506032b65700321003e3fd2218c3c1fbc5681ce01cbe1931dc301b74ba45bfaad24f93d90d069af4f", &len);
	T_ASSERT(spki != NULL);
	T_EQ_INT(vfy_sig_verify(spki, len, 0x0403, sig, 64, (const uint8_t *)"x", 1, &why), VFY_SIG_MISMATCH);
	T_EQ_INT(vfy_sig_verify(spki, len, 0x0807, sig, 64, (const uint8_t *)"x", 1, &why), VFY_SIG_BAD);
	T_EQ_INT(vfy_sig_verify(spki, len, 0x0909, sig, 64, (const uint8_t *)"x", 1, &why), VFY_SIG_MISMATCH);
	T_EQ_INT(vfy_sig_verify(spki, len - 1, 0x0807, sig, 64, (const uint8_t *)"x", 1, &why), VFY_SIG_BADKEY);
	free(spki);
}

int
main(void)
{
	t_vectors();
	T_RUN(t_mismatch_is_distinct);
	T_RUN(t_stream_free_unused);
	return T_END();
}
