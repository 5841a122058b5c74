/*
 * vfy_ct: embedded SCT verification.  See vfy_ct.h.
 *
 * Everything the SCT list holds is attacker-controlled: each length is
 * checked against what is left before use.  The precertificate TBS is
 * rebuilt into one heap buffer sized from the leaf.
 */
#include "verify/vfy_ct.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cur.h"
#include "base/mem.h"
#include "verify/vfy_der.h"
#include "verify/vfy_x509.h"

static const uint8_t oid_sct[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02 };

enum log_state { L_PENDING = 0, L_QUALIFIED, L_USABLE, L_READONLY, L_RETIRED, L_REJECTED };

struct ct_log {
	uint8_t id[32];
	uint8_t *key;		/* SPKI DER, owned */
	size_t key_len;
	char *desc;		/* owned */
	enum log_state state;
	int64_t retired_ms;
	int has_interval;
	int64_t start_s, end_s;	/* temporal_interval */
};

struct vfy_ct_logs {
	size_t n;
	struct ct_log *log;
};

static int64_t
rfc3339(const char *s)
{
	struct tm tm;
	const char *e;
	int64_t t;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (e == NULL)
		return -1;
	t = (int64_t)timegm(&tm);
	/* glibc reads at most four year digits; keep the bound explicit
	 * anyway, as the caller multiplies by 1000 */
	if (t < 0 || t > 253402300799LL)
		return -1;
	return t;
}

static uint8_t *
b64(const char *s, size_t *len_r)
{
	word32 out_len;
	uint8_t *out;

	if (s == NULL || strlen(s) > 1 << 16)
		return NULL;
	out_len = (word32)strlen(s);
	out = mem_alloc(out_len + 1);
	if (Base64_Decode((const byte *)s, (word32)strlen(s), out, &out_len) != 0) {
		free(out);
		return NULL;
	}
	*len_r = out_len;
	return out;
}

void
vfy_ct_logs_free(struct vfy_ct_logs **l_p)
{
	struct vfy_ct_logs *l = *l_p;
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->log[i].key);
		free(l->log[i].desc);
	}
	free(l->log);
	free(l);
	*l_p = NULL;
}

size_t
vfy_ct_logs_count(const struct vfy_ct_logs *l)
{
	return l ? l->n : 0;
}

size_t
vfy_ct_logs_count_usable(const struct vfy_ct_logs *l)
{
	size_t i, n = 0;

	for (i = 0; l != NULL && i < l->n; i++)
		if (l->log[i].state != L_PENDING && l->log[i].state != L_REJECTED)
			n++;
	return n;
}

/* Takes root (a reference dropped here; NULL: je says why it did not
 * parse).  0, or -1 with a reason. */
static int
logs_from_json(json_t *root, const json_error_t *je, const char *path, struct vfy_ct_logs **logs_r,
    char *err, size_t errlen)
{
	json_t *ops, *op, *logs, *lg;
	struct vfy_ct_logs *l;
	size_t i, j;

	*logs_r = NULL;
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je->line, je->text);
		return -1;
	}
	ops = json_object_get(root, "operators");
	if (!json_is_array(ops)) {
		snprintf(err, errlen, "%s: no operators array (not a log_list.json v3)", path);
		json_decref(root);
		return -1;
	}
	l = mem_calloc(1, sizeof(*l));
	json_array_foreach(ops, i, op) {
		logs = json_object_get(op, "logs");
		if (!json_is_array(logs))
			continue;
		json_array_foreach(logs, j, lg) {
			struct ct_log c;
			uint8_t *id;
			size_t id_len = 0;
			json_t *st = json_object_get(lg, "state"), *ti;
			uint8_t digest[32];

			memset(&c, 0, sizeof(c));
			id = b64(json_string_value(json_object_get(lg, "log_id")), &id_len);
			c.key = b64(json_string_value(json_object_get(lg, "key")), &c.key_len);
			if (id == NULL || id_len != 32 || c.key == NULL ||
			    wc_Sha256Hash(c.key, (word32)c.key_len, digest) != 0 || memcmp(digest, id, 32) != 0) {
				/* a log whose id is not the hash of its key is not trusted */
				free(id);
				free(c.key);
				continue;
			}
			memcpy(c.id, id, 32);
			free(id);
			c.desc = mem_strdup(json_is_string(json_object_get(lg, "description")) ?
			    json_string_value(json_object_get(lg, "description")) : "unnamed log");
			c.state = L_PENDING;
			if (json_is_object(st)) {
				if (json_object_get(st, "qualified"))
					c.state = L_QUALIFIED;
				else if (json_object_get(st, "usable"))
					c.state = L_USABLE;
				else if (json_object_get(st, "readonly"))
					c.state = L_READONLY;
				else if (json_object_get(st, "retired")) {
					int64_t t = rfc3339(json_string_value(json_object_get(
					    json_object_get(st, "retired"), "timestamp")));

					c.state = t >= 0 ? L_RETIRED : L_REJECTED;
					c.retired_ms = t * 1000;
				} else if (json_object_get(st, "rejected"))
					c.state = L_REJECTED;
			}
			ti = json_object_get(lg, "temporal_interval");
			if (json_is_object(ti)) {
				c.start_s = rfc3339(json_string_value(json_object_get(ti, "start_inclusive")));
				c.end_s = rfc3339(json_string_value(json_object_get(ti, "end_exclusive")));
				c.has_interval = 1;
				if (c.start_s < 0 || c.end_s < 0)
					c.state = L_REJECTED;	/* unreadable interval: never counts */
			}
			l->log = mem_realloc(l->log, (l->n + 1) * sizeof(*l->log));
			l->log[l->n++] = c;
		}
	}
	json_decref(root);
	*logs_r = l;
	return 0;
}

int
vfy_ct_logs_load(const char *path, struct vfy_ct_logs **logs_r, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);

	return logs_from_json(root, &je, path, logs_r, err, errlen);
}

int
vfy_ct_logs_parse(const char *name, const char *text, size_t len, struct vfy_ct_logs **logs_r,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);

	return logs_from_json(root, &je, name, logs_r, err, errlen);
}

static const struct ct_log *
find_log(const struct vfy_ct_logs *l, const uint8_t *id)
{
	size_t i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (memcmp(l->log[i].id, id, 32) == 0)
			return &l->log[i];
	return NULL;
}

/*
 * Rebuild the precertificate TBS: tbs without the SCT extension.  Returns a
 * malloc'd buffer, or NULL.  *sct_r gets the SCT list extension's value
 * (the extnValue OCTET STRING's contents).
 */
static uint8_t *
precert_tbs(const uint8_t *tbs, size_t tbs_len, size_t *out_len, const uint8_t **sct_r, size_t *sct_len_r)
{
	struct vfy_der in = vfy_der_view(tbs, tbs_len), body, exts;
	struct vfy_der_tlv t, f, x3, seq, e;
	const uint8_t *before_end, *ext_start = NULL;
	size_t keep_len = 0, ext_before = 0, ext_after = 0;
	const uint8_t *cut = NULL;
	size_t cut_len = 0, inner_len, x3_len, tbs_body, pos;
	uint8_t *out;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0 || in.len != 0)
		return NULL;
	body = vfy_der_inner(&t);
	/* walk the TBS fields up to [3] */
	while (body.len > 0) {
		struct vfy_der save = body;

		if (vfy_der_next(&body, &f) < 0)
			return NULL;
		if (f.tag == VFY_DER_CTX_C(3)) {
			body = save;
			break;
		}
	}
	before_end = body.p;	/* everything before [3] */
	if (vfy_der_expect(&body, VFY_DER_CTX_C(3), &x3) < 0 || body.len != 0)
		return NULL;
	exts = vfy_der_inner(&x3);
	if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &seq) < 0 || exts.len != 0)
		return NULL;
	exts = vfy_der_inner(&seq);
	ext_start = exts.p;
	while (exts.len > 0) {
		struct vfy_der ex;
		struct vfy_der_tlv oid, crit, val;

		if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &e) < 0)
			return NULL;
		ex = vfy_der_inner(&e);
		if (vfy_der_expect(&ex, VFY_DER_OID, &oid) < 0 ||
		    vfy_der_optional(&ex, VFY_DER_BOOLEAN, &crit) < 0 ||
		    vfy_der_expect(&ex, VFY_DER_OCTET_STRING, &val) < 0 || ex.len != 0)
			return NULL;
		if (vfy_der_oid_eq(&oid, oid_sct, sizeof(oid_sct))) {
			struct vfy_der v = vfy_der_inner(&val);
			struct vfy_der_tlv list;

			if (cut != NULL || vfy_der_expect(&v, VFY_DER_OCTET_STRING, &list) < 0 || v.len != 0)
				return NULL;
			cut = e.raw;
			cut_len = e.raw_len;
			*sct_r = list.val;
			*sct_len_r = list.len;
		}
	}
	if (cut == NULL)
		return NULL;
	ext_before = (size_t)(cut - ext_start);
	ext_after = seq.len - ext_before - cut_len;
	inner_len = ext_before + ext_after;
	keep_len = (size_t)(before_end - t.val);
	if (inner_len > 0) {
		x3_len = vfy_der_header_len(inner_len) + inner_len;
		tbs_body = keep_len + vfy_der_header_len(x3_len) + x3_len;
	} else {
		x3_len = 0;
		tbs_body = keep_len;
	}
	*out_len = vfy_der_header_len(tbs_body) + tbs_body;
	out = mem_alloc(*out_len);
	pos = vfy_der_put_header(out, VFY_DER_SEQUENCE, tbs_body);
	memcpy(out + pos, t.val, keep_len);
	pos += keep_len;
	if (inner_len > 0) {
		pos += vfy_der_put_header(out + pos, VFY_DER_CTX_C(3), x3_len);
		pos += vfy_der_put_header(out + pos, VFY_DER_SEQUENCE, inner_len);
		memcpy(out + pos, ext_start, ext_before);
		pos += ext_before;
		memcpy(out + pos, cut + cut_len, ext_after);
		pos += ext_after;
	}
	return out;
}

static int
verify_sig(const struct ct_log *lg, const uint8_t *data, size_t len, uint8_t hash_alg,
    uint8_t sig_alg, const uint8_t *sig, size_t sig_len)
{
	word32 idx = 0;
	int rc = -1;

	if (hash_alg != 4)	/* sha256 */
		return -1;
	if (sig_alg == 3) {	/* ecdsa */
		ecc_key k;

		if (wc_ecc_init(&k) != 0)
			return -1;
		if (wc_EccPublicKeyDecode(lg->key, &idx, &k, (word32)lg->key_len) == 0)
			rc = wc_SignatureVerify(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC, data,
			    (word32)len, sig, (word32)sig_len, &k, sizeof(k));
		wc_ecc_free(&k);
	} else if (sig_alg == 1) {	/* rsa */
		RsaKey k;

		if (wc_InitRsaKey(&k, NULL) != 0)
			return -1;
		if (wc_RsaPublicKeyDecode(lg->key, &idx, &k, (word32)lg->key_len) == 0)
			rc = wc_SignatureVerify(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_RSA_W_ENC, data,
			    (word32)len, sig, (word32)sig_len, &k, sizeof(k));
		wc_FreeRsaKey(&k);
	}
	return rc == 0 ? 0 : -1;
}

int
vfy_ct_check_leaf(const struct vfy_ct_logs *logs, const uint8_t *leaf, size_t leaf_len,
    const uint8_t *issuer_spki, size_t spki_len, time_t now, struct vfy_ct_report *rep)
{
	struct vfy_ct_report local;
	struct vfy_cert cert;
	const char *why = "";
	const uint8_t *list = NULL, *p;
	size_t list_len = 0, tbs_len = 0, left, k;
	uint8_t ikh[32], *tbs, *data;
	uint8_t seen[VFY_CT_MAX_SCTS][32];
	unsigned n_seen = 0;

	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if (vfy_x509_cert_parse(leaf, leaf_len, &cert, &why) < 0)
		return -1;
	tbs = precert_tbs(cert.tbs, cert.tbs_len, &tbs_len, &list, &list_len);
	if (tbs == NULL)
		return list == NULL ? 0 : -1;	/* no SCT extension: nothing counts */
	if (wc_Sha256Hash(issuer_spki, (word32)spki_len, ikh) != 0 || list_len < 2 ||
	    (size_t)cur_be(list, 2) != list_len - 2 || tbs_len > 0xffffff) {
		free(tbs);
		return -1;
	}
	data = mem_alloc(1 + 1 + 8 + 2 + 32 + 3 + tbs_len + 2 + 65536);
	p = list + 2;
	left = list_len - 2;
	while (left > 0 && rep->n_scts < VFY_CT_MAX_SCTS) {
		struct vfy_ct_sct *s = &rep->sct[rep->n_scts];
		const uint8_t *q;
		size_t sl, ext_len, sig_len, d = 0;
		const struct ct_log *lg;
		uint64_t ts;
		uint8_t ha, sa;

		if (left < 2 || (sl = (size_t)cur_be(p, 2)) > left - 2) {
			free(tbs);
			free(data);
			return -1;
		}
		q = p + 2;
		p += 2 + sl;
		left -= 2 + sl;
		rep->n_scts++;
		s->log = "unknown log";
		s->why = "malformed SCT";
		/* version(1) log_id(32) timestamp(8) extensions<2> hash(1) sig(1) sig<2> */
		if (sl < 1 + 32 + 8 + 2 || q[0] != 0)
			continue;
		memcpy(s->log_id, q + 1, 32);
		ts = cur_be(q + 33, 8);
		s->timestamp_ms = ts;
		ext_len = (size_t)cur_be(q + 41, 2);
		if (sl - 43 < ext_len + 4)
			continue;
		ha = q[43 + ext_len];
		sa = q[44 + ext_len];
		sig_len = (size_t)cur_be(q + 45 + ext_len, 2);
		if (sl - 47 - ext_len != sig_len)
			continue;
		lg = find_log(logs, s->log_id);
		if (lg == NULL) {
			s->why = "unknown log";
			continue;
		}
		s->log = lg->desc;
		/* RFC 6962 3.2: the signed precert entry */
		data[d++] = 0;				/* version v1 */
		data[d++] = 0;				/* certificate_timestamp */
		memcpy(data + d, q + 33, 8);		/* timestamp */
		d += 8;
		data[d++] = 0;
		data[d++] = 1;				/* precert_entry */
		memcpy(data + d, ikh, 32);
		d += 32;
		cur_put_be(data + d, tbs_len, 3);
		d += 3;
		memcpy(data + d, tbs, tbs_len);
		d += tbs_len;
		memcpy(data + d, q + 41, 2 + ext_len);	/* extensions with length */
		d += 2 + ext_len;
		if (verify_sig(lg, data, d, ha, sa, q + 47 + ext_len, sig_len) < 0) {
			s->why = "signature does not verify";
			continue;
		}
		/* Chrome policy (SMTPSEC.md 4.9) */
		if (ts > (uint64_t)now * 1000) {
			s->why = "timestamp in the future";
			continue;
		}
		if (lg->state == L_PENDING || lg->state == L_REJECTED) {
			s->why = "log is pending or rejected";
			continue;
		}
		if (lg->state == L_RETIRED && (int64_t)ts >= lg->retired_ms) {
			s->why = "SCT issued after the log retired";
			continue;
		}
		if (lg->has_interval && ((int64_t)cert.not_after < lg->start_s ||
		    (int64_t)cert.not_after >= lg->end_s)) {
			s->why = "certificate expiry outside the log's temporal interval";
			continue;
		}
		s->why = "ok";
		for (k = 0; k < n_seen; k++)
			if (memcmp(seen[k], s->log_id, 32) == 0)
				break;
		if (k == n_seen) {
			memcpy(seen[n_seen++], s->log_id, 32);
			rep->distinct_ok++;
		}
	}
	free(tbs);
	free(data);
	return (int)rep->distinct_ok;
}

int
vfy_ct_chain_check(void *arg, const struct vfy_chain *chain, const struct vfy_cert *issuer,
    time_t now, unsigned min_scts, char *why, size_t whylen)
{
	struct vfy_ct_report rep;
	int n;

	if (arg == NULL) {
		snprintf(why, whylen, "no usable CT log list (local)");
		return -2;
	}
	if (issuer == NULL) {
		snprintf(why, whylen, "no issuer for the SCT check");
		return -1;
	}
	n = vfy_ct_check_leaf(arg, chain->cert[0].der, chain->cert[0].der_len, issuer->spki,
	    issuer->spki_len, now, &rep);
	if (n < 0) {
		snprintf(why, whylen, "malformed SCT list");
		return -1;
	}
	if ((unsigned)n < (min_scts ? min_scts : 1)) {
		snprintf(why, whylen, "%d valid SCT(s) from distinct logs, %u required%s%s", n,
		    min_scts ? min_scts : 1, rep.n_scts ? "; first: " : "",
		    rep.n_scts ? rep.sct[0].why : "");
		return -1;
	}
	snprintf(why, whylen, "%d valid SCT(s)", n);
	return 0;
}
