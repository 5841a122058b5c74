/*
 * vfy_pkix: path building and validation (SMTPSEC.md 4 step 8; RFC 5280
 * 6.1), see vfy_pkix.h.  Our own RFC 5280 logic; wolfCrypt verifies the
 * signatures.  Nothing a peer sends outlives the call: the store is read
 * only, every path lives in a per-call structure.
 */
#include "verify/vfy_pkix.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "verify/vfy_der.h"
#include "verify/vfy_nc.h"

struct vfy_pkix_ca {
	uint8_t *der;
	size_t len;
	struct vfy_cert cert;	/* views into der */
};

struct vfy_pkix {
	size_t n;
	struct vfy_pkix_ca *ca;
};

size_t
vfy_pkix_count(const struct vfy_pkix *p)
{
	return p ? p->n : 0;
}

void
vfy_pkix_free(struct vfy_pkix **p_p)
{
	struct vfy_pkix *p = *p_p;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->ca[i].der);
	free(p->ca);
	free(p);
	*p_p = NULL;
}

int
vfy_pkix_load(const char *ca_file, struct vfy_pkix **p_r, char *err, size_t errlen)
{
	char *text;
	size_t max = 0, got;
	uint8_t **der;
	size_t *len;
	struct vfy_pkix *p;
	int k;

	text = (char *)buf_read_file(ca_file, 64 * 1024 * 1024, &got);
	if (text == NULL) {
		snprintf(err, errlen, "%s: %s", ca_file,
		    errno == EFBIG || errno == EISDIR ? "cannot read" : "cannot open");
		return -1;
	}
	for (const char *s = text; (s = strstr(s, "-----BEGIN CERTIFICATE-----")) != NULL; s++)
		max++;
	der = mem_calloc(max + 1, sizeof(*der));
	len = mem_calloc(max + 1, sizeof(*len));
	k = vfy_pem_certs(text, got, der, len, max);
	free(text);
	if (k <= 0) {
		free(der);
		free(len);
		snprintf(err, errlen, "%s: %s", ca_file, k < 0 ? "bad PEM" : "no certificates");
		return -1;
	}
	p = mem_calloc(1, sizeof(*p));
	p->ca = mem_calloc((size_t)k, sizeof(*p->ca));
	for (int i = 0; i < k; i++) {
		const char *why;

		if (vfy_x509_cert_parse(der[i], len[i], &p->ca[p->n].cert, &why) < 0) {
			free(der[i]);	/* a CA we cannot parse cannot anchor anything */
			continue;
		}
		p->ca[p->n].der = der[i];
		p->ca[p->n].len = len[i];
		p->n++;
	}
	free(der);
	free(len);
	if (p->n == 0) {
		vfy_pkix_free(&p);
		snprintf(err, errlen, "%s: no usable certificates", ca_file);
		return -1;
	}
	*p_r = p;
	return 0;
}

/* ---- extensions --------------------------------------------------------- */

static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_ku[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_eku[] = { 0x55, 0x1d, 0x25 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_nc[] = { 0x55, 0x1d, 0x1e };
/* 2.5.29.x recognised and not needing processing for our decision:
 * SKI 14, issuerAltName 18, AKI 35, certificatePolicies 32, policyMappings
 * 33, policyConstraints 36, inhibitAnyPolicy 54, CRL distribution points
 * 31, freshestCRL 46, subjectDirectoryAttributes 9 (see README: policies
 * are not processed) */
static const uint8_t id_ce_known[] = { 14, 18, 35, 32, 33, 36, 54, 31, 46, 9 };
/* 1.3.6.1.5.5.7.1.1 authorityInfoAccess, .1.11 subjectInfoAccess */
static const uint8_t oid_aia[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01 };
static const uint8_t oid_sia[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0b };
/* 1.3.6.1.4.1.11129.2.4.2 SCT list, .4.3 precertificate poison */
static const uint8_t oid_sct[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02 };
static const uint8_t oid_poison[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03 };
/* id-kp-serverAuth 1.3.6.1.5.5.7.3.1, anyExtendedKeyUsage 2.5.29.37.0 */
static const uint8_t oid_kp_server[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const uint8_t oid_any_eku[] = { 0x55, 0x1d, 0x25, 0x00 };
/* 1.2.840.113549.1.1.x: the RSA signature algorithms */
static const uint8_t oid_rsa_pfx[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01 };

static int
known_ext(const struct vfy_der_tlv *oid)
{
	if (oid->len == 3 && oid->val[0] == 0x55 && oid->val[1] == 0x1d)
		return memchr(id_ce_known, oid->val[2], sizeof(id_ce_known)) != NULL;
	return vfy_der_oid_eq(oid, oid_aia, sizeof(oid_aia)) ||
	    vfy_der_oid_eq(oid, oid_sia, sizeof(oid_sia)) ||
	    vfy_der_oid_eq(oid, oid_sct, sizeof(oid_sct));
}

int
vfy_x509_ext_parse(const struct vfy_cert *c, struct vfy_x509_ext *e)
{
	struct vfy_der tbs = vfy_der_view(c->tbs, c->tbs_len), in, exts;
	struct vfy_der_tlv t, x, ext, oid, crit, os;
	const uint8_t *seen[64];
	size_t seen_len[64], n_seen = 0;
	int version = 0, got_serial = 0;

	memset(e, 0, sizeof(*e));
	e->pathlen = -1;
	e->version = 1;
	if (vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &t) < 0)
		return -1;
	in = vfy_der_inner(&t);
	while (in.len > 0) {
		if (vfy_der_next(&in, &x) < 0)
			return -1;
		if (x.tag == VFY_DER_CTX_C(0)) {
			struct vfy_der v = vfy_der_inner(&x);
			struct vfy_der_tlv iv;

			if (vfy_der_expect(&v, VFY_DER_INTEGER, &iv) < 0 || iv.len != 1 ||
			    iv.val[0] > 2 || v.len != 0)
				return -1;
			version = iv.val[0];
			e->version = version + 1;
			continue;
		}
		if (x.tag == VFY_DER_INTEGER && !got_serial) {
			got_serial = 1;
			/* RFC 5280 4.1.2.2: positive, at most 20 octets */
			e->bad_serial = x.len == 0 || (x.val[0] & 0x80) ||
			    x.len > (size_t)(x.val[0] == 0 ? 21 : 20) ||
			    (x.len == 1 && x.val[0] == 0);
			continue;
		}
		if (x.tag != VFY_DER_CTX_C(3))
			continue;
		if (version != 2)	/* extensions only in v3 */
			return -1;
		exts = vfy_der_inner(&x);
		if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &t) < 0 || exts.len != 0 || t.len == 0)
			return -1;
		exts = vfy_der_inner(&t);
		while (exts.len > 0) {
			struct vfy_der e1, v;
			struct vfy_der_tlv a;
			int critical;

			if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &ext) < 0)
				return -1;
			e1 = vfy_der_inner(&ext);
			if (vfy_der_expect(&e1, VFY_DER_OID, &oid) < 0 ||
			    vfy_der_optional(&e1, VFY_DER_BOOLEAN, &crit) < 0 ||
			    vfy_der_expect(&e1, VFY_DER_OCTET_STRING, &os) < 0 || e1.len != 0)
				return -1;
			if (crit.raw != NULL && (crit.len != 1 || crit.val[0] != 0xff))
				return -1;	/* DER: FALSE is the default, so absent */
			critical = crit.raw != NULL;
			/* RFC 5280 4.2: at most one instance of an extension */
			for (size_t i = 0; i < n_seen; i++)
				if (seen_len[i] == oid.len && memcmp(seen[i], oid.val, oid.len) == 0)
					return -1;
			if (n_seen == 64)
				return -1;
			seen[n_seen] = oid.val;
			seen_len[n_seen++] = oid.len;
			v = vfy_der_inner(&os);
			if (vfy_der_oid_eq(&oid, oid_bc, sizeof(oid_bc))) {
				struct vfy_der bc;

				if (vfy_der_expect(&v, VFY_DER_SEQUENCE, &a) < 0 || v.len != 0)
					return -1;
				e->has_bc = 1;
				bc = vfy_der_inner(&a);
				if (vfy_der_optional(&bc, VFY_DER_BOOLEAN, &a) < 0)
					return -1;
				if (a.raw != NULL && (a.len != 1 || a.val[0] != 0xff))
					return -1;
				e->ca = a.raw != NULL;
				if (bc.len > 0) {
					if (vfy_der_expect(&bc, VFY_DER_INTEGER, &a) < 0 || bc.len != 0 ||
					    a.len == 0 || a.len > 2 || (a.val[0] & 0x80))
						return -1;
					e->pathlen = a.val[0];
					if (a.len == 2)
						e->pathlen = e->pathlen << 8 | a.val[1];
				}
			} else if (vfy_der_oid_eq(&oid, oid_ku, sizeof(oid_ku))) {
				if (vfy_der_expect(&v, VFY_DER_BIT_STRING, &a) < 0 || v.len != 0 ||
				    a.len < 2)
					return -1;
				e->has_ku = 1;
				/* bit 0 is the MSB of the first content byte */
				for (unsigned b = 0; b < 9 && 1 + b / 8 < a.len; b++)
					if (a.val[1 + b / 8] & (0x80 >> (b % 8)))
						e->ku |= 1u << b;
				if (e->ku == 0)
					return -1;	/* RFC 5280 4.2.1.3: at least one bit */
			} else if (vfy_der_oid_eq(&oid, oid_eku, sizeof(oid_eku))) {
				struct vfy_der l;

				if (vfy_der_expect(&v, VFY_DER_SEQUENCE, &a) < 0 || v.len != 0 ||
				    a.len == 0)
					return -1;
				e->has_eku = 1;
				l = vfy_der_inner(&a);
				while (l.len > 0) {
					struct vfy_der_tlv k;

					if (vfy_der_expect(&l, VFY_DER_OID, &k) < 0)
						return -1;
					if (vfy_der_oid_eq(&k, oid_kp_server, sizeof(oid_kp_server)))
						e->eku_server = 1;
					else if (vfy_der_oid_eq(&k, oid_any_eku, sizeof(oid_any_eku)))
						e->eku_any = 1;
				}
			} else if (vfy_der_oid_eq(&oid, oid_san, sizeof(oid_san))) {
				if (vfy_der_expect(&v, VFY_DER_SEQUENCE, &a) < 0 || v.len != 0 ||
				    a.len == 0)
					return -1;
				e->has_san = 1;
				e->san = a.val;
				e->san_len = a.len;
			} else if (vfy_der_oid_eq(&oid, oid_nc, sizeof(oid_nc))) {
				if (vfy_der_expect(&v, VFY_DER_SEQUENCE, &a) < 0 || v.len != 0)
					return -1;
				e->has_nc = 1;
				e->nc_critical = critical;
				e->nc = a.val;
				e->nc_len = a.len;
			} else if (vfy_der_oid_eq(&oid, oid_poison, sizeof(oid_poison))) {
				e->ct_poison = 1;
			} else if (critical && !known_ext(&oid)) {
				e->unknown_critical = 1;
			}
		}
	}
	return 0;
}

int
vfy_pkix_weak_sigalg(const struct vfy_cert *c)
{
	/* oid_rsa_pfx.{2,3,4,5}: md2/md4/md5/sha1WithRSAEncryption */
	/* 1.2.840.10045.4.1 ecdsa-with-SHA1, 1.2.840.10040.4.3 dsa-with-sha1 */
	static const uint8_t ecdsa_sha1[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 };
	static const uint8_t dsa_sha1[] = { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03 };
	/* 1.3.14.3.2.29 sha1WithRSASignature (OIW) */
	static const uint8_t oiw_sha1[] = { 0x2b, 0x0e, 0x03, 0x02, 0x1d };
	const uint8_t *o = c->sig_alg_oid;
	size_t l = c->sig_alg_oid_len;

	if (l == sizeof(oid_rsa_pfx) + 1 && memcmp(o, oid_rsa_pfx, sizeof(oid_rsa_pfx)) == 0)
		return o[l - 1] == 2 || o[l - 1] == 3 || o[l - 1] == 4 || o[l - 1] == 5;
	return (l == sizeof(ecdsa_sha1) && memcmp(o, ecdsa_sha1, l) == 0) ||
	    (l == sizeof(dsa_sha1) && memcmp(o, dsa_sha1, l) == 0) ||
	    (l == sizeof(oiw_sha1) && memcmp(o, oiw_sha1, l) == 0);
}

/* ---- certificate signatures (wolfCrypt) ------------------------------- */

/* 1.2.840.10045.4.3.x */
static const uint8_t oid_ecdsa_pfx[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03 };
static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t oid_ed448[] = { 0x2b, 0x65, 0x71 };
/* 2.16.840.1.101.3.4.2.{1,2,3} sha256/384/512, 1.2.840.113549.1.1.8 mgf1 */
static const uint8_t oid_sha2_pfx[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02 };
static const uint8_t oid_mgf1[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08 };

enum sig_kind { SK_NONE, SK_RSA, SK_PSS, SK_ECDSA, SK_ED25519, SK_ED448 };

static enum wc_HashType
sha2_from_oid(const struct vfy_der_tlv *oid)
{
	if (oid->len != sizeof(oid_sha2_pfx) + 1 ||
	    memcmp(oid->val, oid_sha2_pfx, sizeof(oid_sha2_pfx)) != 0)
		return WC_HASH_TYPE_NONE;
	switch (oid->val[oid->len - 1]) {
	case 1: return WC_HASH_TYPE_SHA256;
	case 2: return WC_HASH_TYPE_SHA384;
	case 3: return WC_HASH_TYPE_SHA512;
	default: return WC_HASH_TYPE_NONE;
	}
}

/* AlgorithmIdentifier { hashAlg, NULL or absent } -> hash type */
static enum wc_HashType
hash_alg(struct vfy_der in)
{
	struct vfy_der_tlv s, oid, nul;
	struct vfy_der a;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &s) < 0 || in.len != 0)
		return WC_HASH_TYPE_NONE;
	a = vfy_der_inner(&s);
	if (vfy_der_expect(&a, VFY_DER_OID, &oid) < 0 ||
	    vfy_der_optional(&a, VFY_DER_NULL, &nul) < 0 || a.len != 0)
		return WC_HASH_TYPE_NONE;
	return sha2_from_oid(&oid);
}

/* RSASSA-PSS-params: hash, MGF1 with the same hash, salt length, trailer 1.
 * Defaults (SHA-1) are refused. */
static int
pss_params(struct vfy_der p, enum wc_HashType *hash_r, int *salt_r)
{
	struct vfy_der_tlv s, f;
	struct vfy_der in;
	enum wc_HashType mgf_hash = WC_HASH_TYPE_NONE;

	*hash_r = WC_HASH_TYPE_NONE;
	*salt_r = 20;
	if (vfy_der_expect(&p, VFY_DER_SEQUENCE, &s) < 0 || p.len != 0)
		return -1;
	in = vfy_der_inner(&s);
	while (in.len > 0) {
		struct vfy_der v;

		if (vfy_der_next(&in, &f) < 0)
			return -1;
		v = vfy_der_inner(&f);
		if (f.tag == VFY_DER_CTX_C(0)) {
			*hash_r = hash_alg(v);
		} else if (f.tag == VFY_DER_CTX_C(1)) {
			struct vfy_der_tlv seq, oid;
			struct vfy_der m;

			if (vfy_der_expect(&v, VFY_DER_SEQUENCE, &seq) < 0 || v.len != 0)
				return -1;
			m = vfy_der_inner(&seq);
			if (vfy_der_expect(&m, VFY_DER_OID, &oid) < 0 ||
			    !vfy_der_oid_eq(&oid, oid_mgf1, sizeof(oid_mgf1)))
				return -1;
			mgf_hash = hash_alg(m);
		} else if (f.tag == VFY_DER_CTX_C(2)) {
			struct vfy_der_tlv n;

			if (vfy_der_expect(&v, VFY_DER_INTEGER, &n) < 0 || n.len != 1 ||
			    n.val[0] > 0x7f)
				return -1;
			*salt_r = n.val[0];
		} else if (f.tag == VFY_DER_CTX_C(3)) {
			struct vfy_der_tlv n;

			if (vfy_der_expect(&v, VFY_DER_INTEGER, &n) < 0 || n.len != 1 ||
			    n.val[0] != 1)
				return -1;
		} else {
			return -1;
		}
	}
	if (*hash_r == WC_HASH_TYPE_NONE || mgf_hash != *hash_r)
		return -1;
	return 0;
}

static int
mgf_for(enum wc_HashType h)
{
	switch (h) {
	case WC_HASH_TYPE_SHA256: return WC_MGF1SHA256;
	case WC_HASH_TYPE_SHA384: return WC_MGF1SHA384;
	default: return WC_MGF1SHA512;
	}
}

static int
rsa_verify(const uint8_t *pub, size_t pub_len, enum sig_kind k, enum wc_HashType h, int salt,
    const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t sig_len)
{
	RsaKey key;
	word32 idx = 0;
	int ok = 0;

	if (wc_InitRsaKey(&key, NULL) != 0)
		return 0;
	if (wc_RsaPublicKeyDecode(pub, &idx, &key, (word32)pub_len) != 0 || idx != pub_len ||
	    (size_t)wc_RsaEncryptSize(&key) != sig_len)
		goto out;
	if (k == SK_RSA) {
		ok = wc_SignatureVerify(h, WC_SIGNATURE_TYPE_RSA_W_ENC, tbs, (word32)tbs_len,
		    sig, (word32)sig_len, &key, sizeof(key)) == 0;
	} else {
		uint8_t digest[WC_MAX_DIGEST_SIZE], buf[1024], *copy = mem_dup(sig, sig_len);
		int dl = wc_HashGetDigestSize(h), n;

		if (dl > 0 && sig_len <= sizeof(buf) && wc_Hash(h, tbs, (word32)tbs_len, digest,
		    (word32)dl) == 0) {
			n = wc_RsaPSS_Verify_ex(copy, (word32)sig_len, buf, sizeof(buf), h, mgf_for(h),
			    salt, &key);
			ok = n > 0 && wc_RsaPSS_CheckPadding_ex(digest, (word32)dl, buf, (word32)n, h,
			    salt, wc_RsaEncryptSize(&key) * 8) == 0;
		}
		free(copy);
	}
out:
	wc_FreeRsaKey(&key);
	return ok;
}

static int
ecdsa_verify(enum wire_key kt, const uint8_t *pub, size_t pub_len, enum wc_HashType h,
    const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t sig_len)
{
	ecc_key key;
	int curve, ok = 0;

	switch (kt) {
	case WIRE_KEY_P256: curve = ECC_SECP256R1; break;
	case WIRE_KEY_P384: curve = ECC_SECP384R1; break;
	case WIRE_KEY_P521: curve = ECC_SECP521R1; break;
	default: return 0;
	}
	if (wc_ecc_init(&key) != 0)
		return 0;
	if (wc_ecc_import_x963_ex(pub, (word32)pub_len, &key, curve) == 0)
		ok = wc_SignatureVerify(h, WC_SIGNATURE_TYPE_ECC, tbs, (word32)tbs_len,
		    sig, (word32)sig_len, &key, sizeof(key)) == 0;
	wc_ecc_free(&key);
	return ok;
}

/* 1 when `issuer`'s key verifies the signature on `c` (wolfCrypt), 0 when
 * it does not, -1 for an algorithm or key we do not support;
 * algorithms: RSA PKCS#1 v1.5 and PSS with SHA-256/384/512, ECDSA P-256/
 * P-384/P-521 with SHA-256/384/512, Ed25519, Ed448. */
static int
vfy_pkix_sig_ok(const struct vfy_cert *c, const struct vfy_cert *issuer)
{
	struct vfy_der in = vfy_der_view(c->der, c->der_len), cert, alg;
	struct vfy_der_tlv t, tbs, sa, sig, oid;
	enum wire_key kt;
	const uint8_t *pub;
	size_t pub_len;
	enum sig_kind k = SK_NONE;
	enum wc_HashType h = WC_HASH_TYPE_NONE;
	int salt = 0;
	const char *why;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		return 0;
	cert = vfy_der_inner(&t);
	if (vfy_der_expect(&cert, VFY_DER_SEQUENCE, &tbs) < 0 ||
	    vfy_der_expect(&cert, VFY_DER_SEQUENCE, &sa) < 0 ||
	    vfy_der_expect(&cert, VFY_DER_BIT_STRING, &sig) < 0 || sig.len < 2 || sig.val[0] != 0)
		return 0;
	alg = vfy_der_inner(&sa);
	if (vfy_der_expect(&alg, VFY_DER_OID, &oid) < 0)
		return 0;
	if (oid.len == sizeof(oid_rsa_pfx) + 1 && memcmp(oid.val, oid_rsa_pfx, sizeof(oid_rsa_pfx)) == 0) {
		struct vfy_der_tlv nul;

		switch (oid.val[oid.len - 1]) {
		case 11: k = SK_RSA; h = WC_HASH_TYPE_SHA256; break;
		case 12: k = SK_RSA; h = WC_HASH_TYPE_SHA384; break;
		case 13: k = SK_RSA; h = WC_HASH_TYPE_SHA512; break;
		case 10:
			k = SK_PSS;
			if (pss_params(alg, &h, &salt) < 0)
				return 0;
			alg.len = 0;
			break;
		default: return -1;
		}
		/* PKCS#1 v1.5: parameters NULL (or, tolerated, absent) */
		if (vfy_der_optional(&alg, VFY_DER_NULL, &nul) < 0 || (nul.raw && nul.len != 0))
			return 0;
	} else if (oid.len == sizeof(oid_ecdsa_pfx) + 1 &&
	    memcmp(oid.val, oid_ecdsa_pfx, sizeof(oid_ecdsa_pfx)) == 0) {
		k = SK_ECDSA;
		switch (oid.val[oid.len - 1]) {
		case 2: h = WC_HASH_TYPE_SHA256; break;
		case 3: h = WC_HASH_TYPE_SHA384; break;
		case 4: h = WC_HASH_TYPE_SHA512; break;
		default: return -1;
		}
	} else if (vfy_der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		k = SK_ED25519;
	} else if (vfy_der_oid_eq(&oid, oid_ed448, sizeof(oid_ed448))) {
		k = SK_ED448;
	}
	if (k == SK_NONE || alg.len != 0)
		return -1;
	if (vfy_spki_parse(issuer->spki, issuer->spki_len, &kt, &pub, &pub_len) < 0)
		return -1;
	switch (k) {
	case SK_RSA:
	case SK_PSS:
		return kt == WIRE_KEY_RSA && rsa_verify(pub, pub_len, k, h, salt, tbs.raw, tbs.raw_len,
		    sig.val + 1, sig.len - 1);
	case SK_ECDSA:
		return ecdsa_verify(kt, pub, pub_len, h, tbs.raw, tbs.raw_len, sig.val + 1, sig.len - 1);
	case SK_ED25519:
	case SK_ED448:
		/* as an Email's signature: the issuer's key must be of that type */
		return vfy_sig_verify(issuer->spki, issuer->spki_len, k == SK_ED25519 ? WIRE_SIG_ED25519 :
		    WIRE_SIG_ED448, sig.val + 1, sig.len - 1, tbs.raw, tbs.raw_len, &why) == VFY_SIG_OK;
	default:
		return 0;
	}
}

/* ---- path building and validation -------------------------------------- */

#define SIG_CHECKS_MAX	64	/* signature verifications per call */
#define PATHS_MAX	64	/* complete candidate paths per call */
#define STEPS_MAX	1024	/* certificates tried as an issuer per call */

struct build {
	const struct vfy_pkix *p;
	const struct vfy_chain *ch;
	const struct vfy_pkix_params *prm;
	struct vfy_path path;
	int on_path[VFY_CHAIN_MAX_CERTS];
	int anchor[VFY_CHAIN_MAX_CERTS];	/* DANE-TA: is_anchor, asked once */
	unsigned steps;
	int8_t sig[VFY_CHAIN_MAX_CERTS][VFY_CHAIN_MAX_CERTS];	/* [child][issuer]: 0 ?, 1 ok, -1 bad */
	unsigned sig_checks, paths;
	int abort;
	const char *why;	/* the most telling failure so far */
	int why_rank;
	int rejected;		/* valid paths the accept hook refused */
};

static int
valid_at(const struct vfy_cert *c, time_t at)
{
	return at >= c->not_before && at <= c->not_after;
}

static int
key_ok(const struct vfy_cert *c)
{
	return c->key_type != WIRE_KEY_RSA || c->rsa_bits >= 2048;
}

static int
same_name(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static int
self_issued(const struct vfy_cert *c)
{
	return same_name(c->issuer, c->issuer_len, c->subject, c->subject_len);
}

/* Keep the reason from the deepest stage reached: 0 no issuer, 1 a link,
 * 2 a whole path, 3 the accept hook. */
static void
note(struct build *b, int rank, const char *why)
{
	if (b->why == NULL || rank > b->why_rank) {
		b->why = why;
		b->why_rank = rank;
	}
}

/* RFC 5280 6.1 over a complete path; the links' signatures are already
 * checked.  0, or -1 with why. */
static int
validate(const struct vfy_path *pa, time_t at, const char **why_r)
{
	struct vfy_x509_ext e[VFY_PATH_MAX];
	size_t n = pa->n;

	for (size_t i = 0; i < n; i++) {
		const struct vfy_cert *c = pa->cert[i];
		int anchor = i == n - 1;

		if (!key_ok(c)) {
			*why_r = "RSA key under 2048 bits";
			return -1;
		}
		if (!valid_at(c, at)) {
			*why_r = anchor ? (at < c->not_before ? "trust anchor not yet valid" :
			    "trust anchor expired") : at < c->not_before ?
			    "certificate not yet valid" : "certificate expired";
			return -1;
		}
		if (vfy_x509_ext_parse(c, &e[i]) < 0) {
			*why_r = "malformed extension";
			return -1;
		}
		if (e[i].unknown_critical) {
			*why_r = "unsupported critical extension";
			return -1;
		}
		/* the anchor is trusted as configured (real roots have serial 0) */
		if (!anchor && e[i].bad_serial) {
			*why_r = "malformed serial number";
			return -1;
		}
		if (!anchor && vfy_pkix_weak_sigalg(c)) {
			*why_r = "MD5 or SHA-1 signature in the chain";
			return -1;
		}
		if (i == 0) {
			if (e[i].ct_poison) {
				*why_r = "leaf is a CT precertificate";
				return -1;
			}
			if (e[i].has_ku && !(e[i].ku & 1u)) {
				*why_r = "leaf key usage lacks digitalSignature";
				return -1;
			}
			if (e[i].has_eku && !e[i].eku_server) {
				*why_r = "leaf extended key usage lacks serverAuth";
				return -1;
			}
			continue;
		}
		/* a v1 root (no extensions) may anchor; a v3 one must say cA
		 * (RFC 5280 4.2.1.9) */
		if ((!anchor || e[i].version >= 3) && (!e[i].has_bc || !e[i].ca)) {
			*why_r = anchor ? "trust anchor is not a CA" : "intermediate is not a CA";
			return -1;
		}
		if (e[i].has_ku && !(e[i].ku & (1u << 5))) {
			*why_r = anchor ? "trust anchor key usage lacks keyCertSign" :
			    "intermediate key usage lacks keyCertSign";
			return -1;
		}
		if (!anchor && e[i].has_eku && !e[i].eku_server && !e[i].eku_any) {
			*why_r = "intermediate extended key usage lacks serverAuth";
			return -1;
		}
		if (e[i].pathlen >= 0) {
			/* non-self-issued intermediates between it and the leaf */
			int below = 0;

			for (size_t k = 1; k < i; k++)
				if (!self_issued(pa->cert[k]))
					below++;
			if (below > e[i].pathlen) {
				*why_r = "path length constraint exceeded";
				return -1;
			}
		}
	}
	/* name constraints of every CA, anchor included, on every certificate
	 * below it (RFC 5280 6.1.3 (b)-(c): self-issued intermediates skipped) */
	for (size_t j = 1; j < n; j++) {
		if (!e[j].has_nc)
			continue;
		for (size_t i = 0; i < j; i++) {
			const char *why;

			if (i > 0 && self_issued(pa->cert[i]))
				continue;
			if (vfy_nc_check(e[j].nc, e[j].nc_len, e[j].nc_critical, pa->cert[i], 0,
			    e[i].has_san ? e[i].san : NULL, e[i].san_len, &why) < 0) {
				*why_r = why;
				return -1;
			}
		}
	}
	*why_r = "";
	return 0;
}

static int
complete(struct build *b, struct vfy_path *out)
{
	const char *why;

	if (++b->paths > PATHS_MAX) {
		note(b, 4, "path building limit reached");
		b->abort = 1;
		return -1;
	}
	if (validate(&b->path, b->prm->at, &why) < 0) {
		note(b, 2, why);
		return -1;
	}
	if (b->prm->accept != NULL && !b->prm->accept(b->prm->arg, &b->path)) {
		b->rejected++;
		note(b, 3, "no valid path through a CA the PKIX-TA record names");
		return -1;
	}
	if (out != NULL)
		*out = b->path;
	return 0;
}

/* Does `issuer` sign `child`?  Cached for sent pairs; bounded. */
static int
link_ok(struct build *b, const struct vfy_cert *child, int ci, const struct vfy_cert *issuer, int ii)
{
	int ok;

	if (ci >= 0 && ii >= 0 && b->sig[ci][ii] != 0)
		return b->sig[ci][ii] > 0;
	if (vfy_pkix_weak_sigalg(child)) {
		note(b, 1, "MD5 or SHA-1 signature in the chain");
		return 0;
	}
	if (!key_ok(issuer)) {
		note(b, 1, "RSA key under 2048 bits");
		return 0;
	}
	if (++b->sig_checks > SIG_CHECKS_MAX) {
		note(b, 4, "path building limit reached");
		b->abort = 1;
		return 0;
	}
	ok = vfy_pkix_sig_ok(child, issuer);
	if (ci >= 0 && ii >= 0)
		b->sig[ci][ii] = ok > 0 ? 1 : -1;
	if (ok < 0)
		note(b, 1, "unsupported signature algorithm or issuer key");
	else if (ok == 0)
		note(b, 1, ci == 0 ? "leaf does not chain to a trust anchor (bad signature)" :
		    "intermediate does not chain to a trust anchor (bad signature)");
	return ok > 0;
}

static void
push(struct build *b, const struct vfy_cert *c, int sent)
{
	b->path.cert[b->path.n] = c;
	b->path.sent[b->path.n] = sent;
	b->path.n++;
	if (sent > 0)
		b->on_path[sent] = 1;
}

static void
pop(struct build *b)
{
	b->path.n--;
	if (b->path.sent[b->path.n] > 0)
		b->on_path[b->path.sent[b->path.n]] = 0;
}

/* Depth-first: store anchors first (shortest paths), then the sent
 * certificates in the order sent. */
static int
extend(struct build *b, struct vfy_path *out)
{
	const struct vfy_cert *child = b->path.cert[b->path.n - 1];
	int ci = b->path.sent[b->path.n - 1];
	const struct vfy_chain *ch = b->ch;
	int found = 0;

	if (b->path.n >= VFY_PATH_MAX)
		return -1;
	if (b->prm->is_anchor == NULL && b->p != NULL) {
		for (size_t k = 0; k < b->p->n && !b->abort; k++) {
			const struct vfy_cert *ca = &b->p->ca[k].cert;

			/* store anchors are self-issued CAs (roots) */
			if (!same_name(child->issuer, child->issuer_len, ca->subject, ca->subject_len) ||
			    !self_issued(ca))
				continue;
			found = 1;
			if (!link_ok(b, child, ci, ca, -1))
				continue;
			push(b, ca, -1);
			if (complete(b, out) == 0)
				return 0;
			pop(b);
		}
	}
	for (size_t i = 1; i < ch->n && !b->abort; i++) {
		const struct vfy_cert *c = &ch->cert[i];

		if (b->on_path[i] ||
		    !same_name(child->issuer, child->issuer_len, c->subject, c->subject_len))
			continue;
		found = 1;
		if (++b->steps > STEPS_MAX) {
			note(b, 4, "path building limit reached");
			b->abort = 1;
			break;
		}
		if (!link_ok(b, child, ci, c, (int)i))
			continue;
		push(b, c, (int)i);
		if (b->anchor[i]) {
			if (complete(b, out) == 0)
				return 0;
		} else if (extend(b, out) == 0) {
			return 0;
		}
		pop(b);
	}
	if (!found)
		note(b, 0, b->prm->is_anchor ? "leaf does not chain to the DANE-TA anchor" :
		    "no trust anchor for this chain");
	return -1;
}

int
vfy_pkix_verify(const struct vfy_pkix *p, const struct vfy_chain *ch,
    const struct vfy_pkix_params *prm, struct vfy_path *path_r, const char **why_r)
{
	struct build *b;
	int r;

	if (ch == NULL || ch->n == 0 || (p == NULL && prm->is_anchor == NULL)) {
		*why_r = "no trust anchor";
		return -1;
	}
	b = mem_calloc(1, sizeof(*b));
	b->p = p;
	b->ch = ch;
	b->prm = prm;
	for (size_t i = 1; i < ch->n && prm->is_anchor != NULL; i++)
		b->anchor[i] = prm->is_anchor(prm->arg, &ch->cert[i]) != 0;
	push(b, &ch->cert[0], 0);
	r = extend(b, path_r);
	/* the caller's condition never held: the accept hook refused every
	 * valid path, or no path reached a DANE-TA anchor */
	if (r < 0 && !b->abort && ((b->rejected > 0 && b->why_rank == 3) ||
	    (prm->is_anchor != NULL && b->paths == 0)))
		r = -2;
	if (r < 0)
		*why_r = b->why ? b->why : "no trust anchor for this chain";
	else
		*why_r = "";
	free(b);
	return r;
}
