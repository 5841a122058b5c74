/*
 * vfy_pkix: chain validation (SMTPSEC.md 4 step 8; RFC 5280 6.1).
 *
 * A fresh wolfSSL certificate manager per verification holds only the
 * trust anchors the chain can use plus the chain's own CA certificates,
 * each added only after it verified: nothing a peer sends outlives the
 * call or becomes trusted for another Email.
 */
#include "verify/vfy_pkix.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_der.h"
#include "verify/vfy_util.h"

struct vfy_pkix_ca {
	uint8_t *der;
	size_t len;
	struct vfy_cert cert;	/* views into der */
};

struct vfy_pkix {
	size_t n;
	struct vfy_pkix_ca *ca;
};

static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_ku[] = { 0x55, 0x1d, 0x0f };

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
	FILE *f = fopen(ca_file, "rb");
	char *text;
	long sz;
	size_t max = 0, got;
	uint8_t **der;
	size_t *len;
	struct vfy_pkix *p;
	int k;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open", ca_file);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || sz > 64 * 1024 * 1024 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s: cannot read", ca_file);
		return -1;
	}
	text = vfy_xmalloc((size_t)sz + 1);
	got = fread(text, 1, (size_t)sz, f);
	fclose(f);
	text[got] = '\0';
	for (const char *s = text; (s = strstr(s, "-----BEGIN CERTIFICATE-----")) != NULL; s++)
		max++;
	der = vfy_xcalloc(max + 1, sizeof(*der));
	len = vfy_xcalloc(max + 1, sizeof(*len));
	k = vfy_pem_certs(text, got, der, len, max);
	free(text);
	if (k <= 0) {
		free(der);
		free(len);
		snprintf(err, errlen, "%s: %s", ca_file, k < 0 ? "bad PEM" : "no certificates");
		return -1;
	}
	p = vfy_xcalloc(1, sizeof(*p));
	p->ca = vfy_xcalloc((size_t)k, sizeof(*p->ca));
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

int
vfy_x509_ext_parse(const struct vfy_cert *c, struct vfy_x509_ext *e)
{
	struct vfy_der tbs = vfy_der_view(c->tbs, c->tbs_len), in, exts;
	struct vfy_der_tlv t, x, ext, oid, crit, os;

	memset(e, 0, sizeof(*e));
	if (vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &t) < 0)
		return -1;
	in = vfy_der_inner(&t);
	while (in.len > 0) {
		if (vfy_der_next(&in, &x) < 0)
			return -1;
		if (x.tag != VFY_DER_CTX_C(3))
			continue;
		exts = vfy_der_inner(&x);
		if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &t) < 0)
			return -1;
		exts = vfy_der_inner(&t);
		while (exts.len > 0) {
			struct vfy_der e1, v;
			struct vfy_der_tlv a;

			if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &ext) < 0)
				return -1;
			e1 = vfy_der_inner(&ext);
			if (vfy_der_expect(&e1, VFY_DER_OID, &oid) < 0 ||
			    vfy_der_optional(&e1, VFY_DER_BOOLEAN, &crit) < 0 ||
			    vfy_der_expect(&e1, VFY_DER_OCTET_STRING, &os) < 0)
				return -1;
			v = vfy_der_inner(&os);
			if (vfy_der_oid_eq(&oid, oid_bc, sizeof(oid_bc))) {
				struct vfy_der bc;

				if (e->has_bc || vfy_der_expect(&v, VFY_DER_SEQUENCE, &a) < 0)
					return -1;
				e->has_bc = 1;
				bc = vfy_der_inner(&a);
				if (vfy_der_optional(&bc, VFY_DER_BOOLEAN, &a) < 0)
					return -1;
				e->ca = a.len == 1 && a.val[0] == 0xff;
			} else if (vfy_der_oid_eq(&oid, oid_ku, sizeof(oid_ku))) {
				if (e->has_ku || vfy_der_expect(&v, VFY_DER_BIT_STRING, &a) < 0 ||
				    a.len < 2)
					return -1;
				e->has_ku = 1;
				/* bit 0 is the MSB of the first content byte */
				for (unsigned b = 0; b < 9 && 1 + b / 8 < a.len; b++)
					if (a.val[1 + b / 8] & (0x80 >> (b % 8)))
						e->ku |= 1u << b;
			}
		}
	}
	return 0;
}

int
vfy_pkix_weak_sigalg(const struct vfy_cert *c)
{
	/* 1.2.840.113549.1.1.{2,4,5}: md2/md5/sha1WithRSAEncryption */
	static const uint8_t rsa_pfx[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01 };
	/* 1.2.840.10045.4.1 ecdsa-with-SHA1, 1.2.840.10040.4.3 dsa-with-sha1 */
	static const uint8_t ecdsa_sha1[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 };
	static const uint8_t dsa_sha1[] = { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03 };
	/* 1.3.14.3.2.29 sha1WithRSASignature (OIW) */
	static const uint8_t oiw_sha1[] = { 0x2b, 0x0e, 0x03, 0x02, 0x1d };
	const uint8_t *o = c->sig_alg_oid;
	size_t l = c->sig_alg_oid_len;

	if (l == sizeof(rsa_pfx) + 1 && memcmp(o, rsa_pfx, sizeof(rsa_pfx)) == 0)
		return o[l - 1] == 2 || o[l - 1] == 3 || o[l - 1] == 4 || o[l - 1] == 5;
	return (l == sizeof(ecdsa_sha1) && memcmp(o, ecdsa_sha1, l) == 0) ||
	    (l == sizeof(dsa_sha1) && memcmp(o, dsa_sha1, l) == 0) ||
	    (l == sizeof(oiw_sha1) && memcmp(o, oiw_sha1, l) == 0);
}

/* Set while loading a certificate we have already decided to trust (a
 * configured CA, a DANE-TA anchor, or a chain CA that just verified). */
static _Thread_local int loading;

/* Dates are ours (checked at the receipt time); wolfSSL's own date check
 * against the wall clock is overridden, nothing else is. */
static int
date_override(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	int e;

	if (preverify || loading)
		return 1;
	e = wolfSSL_X509_STORE_CTX_get_error(store);
	return e == ASN_BEFORE_DATE_E || e == ASN_AFTER_DATE_E ||
	    e == X509_V_ERR_CERT_NOT_YET_VALID || e == X509_V_ERR_CERT_HAS_EXPIRED ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
}

static int
load_ca(WOLFSSL_CTX *ctx, const uint8_t *der, long len, int format)
{
	int r;

	loading = 1;
	r = wolfSSL_CTX_load_verify_buffer_ex(ctx, der, len, format, 0,
	    WOLFSSL_LOAD_FLAG_DATE_ERR_OKAY);
	loading = 0;
	return r;
}

static int
valid_at(const struct vfy_cert *c, time_t at)
{
	return at >= c->not_before && at <= c->not_after;
}

static int
key_ok(const struct vfy_cert *c)
{
	return c->key_type != VFY_KEY_RSA || c->rsa_bits >= 2048;
}

static int
same_name(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

int
vfy_pkix_verify(const struct vfy_pkix *p, const struct vfy_chain *ch,
    size_t anchor, time_t at, const char **why_r)
{
	WOLFSSL_CTX *ctx;
	WOLFSSL_CERT_MANAGER *cm;
	size_t top = anchor ? anchor : ch->n;	/* certificates to verify: [0, top) */
	size_t n_anchor = 0;
	int ret = -1;

	if (anchor >= ch->n || (anchor == 0 && p == NULL)) {
		*why_r = "no trust anchor";
		return -1;
	}
	for (size_t i = 0; i < top; i++) {
		struct vfy_x509_ext e;
		const struct vfy_cert *c = &ch->cert[i];

		if (!key_ok(c)) {
			*why_r = "RSA key under 2048 bits";
			return -1;
		}
		if (!valid_at(c, at)) {
			*why_r = at < c->not_before ? "certificate not yet valid" : "certificate expired";
			return -1;
		}
		if (vfy_x509_ext_parse(c, &e) < 0) {
			*why_r = "malformed extension";
			return -1;
		}
		if (i == 0) {
			if (e.has_ku && !(e.ku & 1u)) {
				*why_r = "leaf key usage lacks digitalSignature";
				return -1;
			}
		} else {
			if (!e.has_bc || !e.ca) {
				*why_r = "intermediate is not a CA";
				return -1;
			}
			if (e.has_ku && !(e.ku & (1u << 5))) {
				*why_r = "intermediate key usage lacks keyCertSign";
				return -1;
			}
		}
		/* a self-signed top certificate that is a store anchor is not
		 * judged by its own signature */
		if (vfy_pkix_weak_sigalg(c) && !(i == top - 1 && anchor == 0 &&
		    same_name(c->issuer, c->issuer_len, c->subject, c->subject_len))) {
			*why_r = "MD5 or SHA-1 signature in the chain";
			return -1;
		}
	}
	if (anchor && !key_ok(&ch->cert[anchor])) {
		*why_r = "RSA key under 2048 bits";
		return -1;
	}

	/* A context only to load anchors without wolfSSL verifying them
	 * (verify none): store CAs are trusted as configured, chain CAs are
	 * loaded only after they verified below. */
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (ctx == NULL || (cm = wolfSSL_CTX_GetCertManager(ctx)) == NULL) {
		wolfSSL_CTX_free(ctx);
		*why_r = "out of memory";
		return -1;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CertManagerSetVerify(cm, date_override);
	if (anchor) {
		if (load_ca(ctx, ch->cert[anchor].der,
		    (long)ch->cert[anchor].der_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
			*why_r = "DANE-TA anchor unusable";
			goto out;
		}
		n_anchor = 1;
	} else {
		/* only store CAs some chain certificate names as issuer */
		for (size_t k = 0; k < p->n; k++) {
			const struct vfy_cert *ca = &p->ca[k].cert;
			size_t i;

			for (i = 0; i < ch->n; i++)
				if (same_name(ch->cert[i].issuer, ch->cert[i].issuer_len,
				    ca->subject, ca->subject_len))
					break;
			if (i == ch->n || !valid_at(ca, at) || !key_ok(ca))
				continue;
			if (load_ca(ctx, p->ca[k].der,
			    (long)p->ca[k].len, WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
				n_anchor++;
		}
	}
	if (n_anchor == 0) {
		*why_r = "no trust anchor for this chain";
		goto out;
	}
	for (size_t i = top; i-- > 1;) {
		if (wolfSSL_CertManagerVerifyBuffer(cm, ch->cert[i].der,
		    (long)ch->cert[i].der_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
			*why_r = "intermediate does not chain to a trust anchor";
			goto out;
		}
		if (load_ca(ctx, ch->cert[i].der,
		    (long)ch->cert[i].der_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
			*why_r = "intermediate unusable as CA";
			goto out;
		}
	}
	if (wolfSSL_CertManagerVerifyBuffer(cm, ch->cert[0].der,
	    (long)ch->cert[0].der_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
		*why_r = "leaf does not chain to a trust anchor";
		goto out;
	}
	*why_r = "";
	ret = 0;
out:
	wolfSSL_CTX_free(ctx);
	return ret;
}
