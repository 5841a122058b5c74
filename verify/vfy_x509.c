/*
 * vfy_x509: certificate chain parsing and RFC 6125 / RFC 4985 name checks
 * (SMTPSEC.md 4 step 6).  Every length comes from the peer and is checked
 * by vfy_der before use.
 */
#include "verify/vfy_x509.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "verify/vfy_der.h"

static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_srvname[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x07 };

static int
digits(const uint8_t *p, size_t n, int *v_r)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* Parse an X.509 UTCTime/GeneralizedTime TLV (Z form only). 0 or -1. */
static int
vfy_x509_time(uint8_t tag, const uint8_t *p, size_t len, time_t *t_r)
{
	struct tm tm;
	int y, mo, d, h, mi, s;
	size_t yl;
	time_t t;

	if (tag == VFY_DER_UTCTIME && len == 13)
		yl = 2;
	else if (tag == VFY_DER_GENTIME && len == 15)
		yl = 4;
	else
		return -1;
	if (p[len - 1] != 'Z' || digits(p, yl, &y) < 0 ||
	    digits(p + yl, 2, &mo) < 0 || digits(p + yl + 2, 2, &d) < 0 ||
	    digits(p + yl + 4, 2, &h) < 0 || digits(p + yl + 6, 2, &mi) < 0 ||
	    digits(p + yl + 8, 2, &s) < 0)
		return -1;
	if (yl == 2)	/* RFC 5280 4.1.2.5.1 */
		y += y >= 50 ? 1900 : 2000;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*t_r = t;
	return 0;
}

/* RSA modulus bits from an RSAPublicKey inside the SPKI BIT STRING. */
static unsigned
rsa_bits(const uint8_t *pub, size_t len)
{
	struct vfy_der in = vfy_der_view(pub, len), seq;
	struct vfy_der_tlv t, n;
	size_t i = 0;

	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0)
		return 0;
	seq = vfy_der_inner(&t);
	if (vfy_der_expect(&seq, VFY_DER_INTEGER, &n) < 0)
		return 0;
	while (i < n.len && n.val[i] == 0)
		i++;
	if (i == n.len)
		return 0;
	if (n.len - i > 0xffff)
		return 0;
	unsigned bits = (unsigned)(n.len - i - 1) * 8;
	for (uint8_t b = n.val[i]; b; b >>= 1)
		bits++;
	return bits;
}

int
vfy_x509_cert_parse(const uint8_t *der, size_t len, struct vfy_cert *c,
    const char **why_r)
{
	struct vfy_der in = vfy_der_view(der, len), cert, tbs, val, alg;
	struct vfy_der_tlv t, tb, sa, sig, ver, serial, talg, iss, v, nb, na,
	    subj, spki, oid;
	const uint8_t *pub;
	size_t pub_len;

	memset(c, 0, sizeof(*c));
	*why_r = "malformed certificate";
	if (vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) < 0 || in.len != 0)
		return -1;
	cert = vfy_der_inner(&t);
	if (vfy_der_expect(&cert, VFY_DER_SEQUENCE, &tb) < 0 ||
	    vfy_der_expect(&cert, VFY_DER_SEQUENCE, &sa) < 0 ||
	    vfy_der_expect(&cert, VFY_DER_BIT_STRING, &sig) < 0 || cert.len != 0)
		return -1;
	alg = vfy_der_inner(&sa);
	if (vfy_der_expect(&alg, VFY_DER_OID, &oid) < 0)
		return -1;
	tbs = vfy_der_inner(&tb);
	if (vfy_der_optional(&tbs, VFY_DER_CTX_C(0), &ver) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_INTEGER, &serial) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &talg) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &iss) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &v) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &subj) < 0 ||
	    vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &spki) < 0)
		return -1;
	/* RFC 5280 4.1.1.2: both signature fields must agree */
	if (talg.len != sa.len || memcmp(talg.val, sa.val, sa.len) != 0) {
		*why_r = "signature algorithm fields differ";
		return -1;
	}
	val = vfy_der_inner(&v);
	if (vfy_der_next(&val, &nb) < 0 || vfy_der_next(&val, &na) < 0 ||
	    val.len != 0 ||
	    vfy_x509_time(nb.tag, nb.val, nb.len, &c->not_before) < 0 ||
	    vfy_x509_time(na.tag, na.val, na.len, &c->not_after) < 0) {
		*why_r = "bad validity";
		return -1;
	}
	if (vfy_spki_parse(spki.raw, spki.raw_len, &c->key_type, &pub, &pub_len) < 0) {
		*why_r = "bad public key";
		return -1;
	}
	if (c->key_type == WIRE_KEY_RSA)
		c->rsa_bits = rsa_bits(pub, pub_len);
	c->der = der;
	c->der_len = len;
	c->tbs = tb.raw;
	c->tbs_len = tb.raw_len;
	c->spki = spki.raw;
	c->spki_len = spki.raw_len;
	c->issuer = iss.raw;
	c->issuer_len = iss.raw_len;
	c->subject = subj.raw;
	c->subject_len = subj.raw_len;
	c->sig_alg_oid = oid.val;
	c->sig_alg_oid_len = oid.len;
	*why_r = "";
	return 0;
}

/* Printable, lower-cased copy of a name from a SAN; NULL if it holds
 * anything but LDH, '.', '_' or '*'. */
static char *
name_copy(const uint8_t *p, size_t len)
{
	char *s;

	if (len == 0 || len > 253)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (!(isalnum(p[i]) || p[i] == '-' || p[i] == '.' || p[i] == '_' ||
		    p[i] == '*'))
			return NULL;
	}
	s = mem_alloc(len + 1);
	for (size_t i = 0; i < len; i++)
		s[i] = (char)tolower(p[i]);
	s[len] = '\0';
	if (len > 1 && s[len - 1] == '.')	/* absolute form: drop the dot */
		s[len - 1] = '\0';
	return s;
}

/* Append an owned name (NULL: an unusable one, ignored), growing the
 * array in powers of two; beyond VFY_CHAIN_MAX_NAMES the name is dropped. */
static void
name_add(char ***v, size_t *n, char *s)
{
	if (s == NULL)
		return;
	if (*n == VFY_CHAIN_MAX_NAMES) {
		free(s);
		return;
	}
	if ((*n & (*n - 1)) == 0)	/* 0, 1, 2, 4, ...: full */
		*v = mem_realloc(*v, (*n ? *n * 2 : 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

/* Walk the leaf's extensions for subjectAltName. */
static int
parse_san(struct vfy_chain *ch, const struct vfy_cert *c, const char **why_r)
{
	struct vfy_der tbs = vfy_der_view(c->tbs, c->tbs_len), in, exts, gn;
	struct vfy_der_tlv t, x, e, oid, crit, os, names, n;
	int seen = 0;

	*why_r = "malformed extensions";
	if (vfy_der_expect(&tbs, VFY_DER_SEQUENCE, &t) < 0)
		return -1;
	in = vfy_der_inner(&t);
	/* skip to the optional [3] extensions */
	while (in.len > 0) {
		if (vfy_der_next(&in, &x) < 0)
			return -1;
		if (x.tag != VFY_DER_CTX_C(3))
			continue;
		exts = vfy_der_inner(&x);
		if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &t) < 0 || exts.len != 0)
			return -1;
		exts = vfy_der_inner(&t);
		while (exts.len > 0) {
			struct vfy_der ext;

			if (vfy_der_expect(&exts, VFY_DER_SEQUENCE, &e) < 0)
				return -1;
			ext = vfy_der_inner(&e);
			if (vfy_der_expect(&ext, VFY_DER_OID, &oid) < 0 ||
			    vfy_der_optional(&ext, VFY_DER_BOOLEAN, &crit) < 0 ||
			    vfy_der_expect(&ext, VFY_DER_OCTET_STRING, &os) < 0 ||
			    ext.len != 0)
				return -1;
			if (!vfy_der_oid_eq(&oid, oid_san, sizeof(oid_san)))
				continue;
			if (seen++) {
				*why_r = "two subjectAltName extensions";
				return -1;
			}
			gn = vfy_der_inner(&os);
			if (vfy_der_expect(&gn, VFY_DER_SEQUENCE, &names) < 0 || gn.len != 0)
				return -1;
			gn = vfy_der_inner(&names);
			while (gn.len > 0) {
				if (vfy_der_next(&gn, &n) < 0)
					return -1;
				if (n.tag == VFY_DER_CTX(2)) {		/* dNSName */
					name_add(&ch->dns, &ch->n_dns, name_copy(n.val, n.len));
				} else if (n.tag == VFY_DER_CTX_C(0)) {	/* otherName */
					struct vfy_der on = vfy_der_inner(&n), ex;
					struct vfy_der_tlv toid, tv, ia5;

					if (vfy_der_expect(&on, VFY_DER_OID, &toid) < 0 ||
					    vfy_der_expect(&on, VFY_DER_CTX_C(0), &tv) < 0 ||
					    on.len != 0)
						return -1;
					if (!vfy_der_oid_eq(&toid, oid_srvname, sizeof(oid_srvname)))
						continue;
					ex = vfy_der_inner(&tv);
					if (vfy_der_expect(&ex, VFY_DER_IA5STRING, &ia5) < 0 ||
					    ex.len != 0)
						return -1;
					name_add(&ch->srvname, &ch->n_srvname, name_copy(ia5.val, ia5.len));
				}
			}
		}
	}
	*why_r = "";
	return 0;
}

void
vfy_chain_free(struct vfy_chain **chain_p)
{
	struct vfy_chain *c = *chain_p;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_dns; i++)
		free(c->dns[i]);
	for (size_t i = 0; i < c->n_srvname; i++)
		free(c->srvname[i]);
	free(c->dns);
	free(c->srvname);
	free(c->buf);
	free(c);
	*chain_p = NULL;
}

int
vfy_chain_parse(const uint8_t *const *der, const size_t *len, size_t n,
    struct vfy_chain **chain_r, const char **why_r)
{
	struct vfy_chain *c;
	wc_Sha256 sha;
	size_t total = 0, off = 0;

	if (n == 0 || n > VFY_CHAIN_MAX_CERTS) {
		*why_r = n == 0 ? "empty chain" : "too many certificates";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (len[i] == 0 || len[i] > 0x100000 || total > SIZE_MAX / 2) {
			*why_r = "bad certificate size";
			return -1;
		}
		total += len[i];
	}
	c = mem_calloc(1, sizeof(*c));
	c->buf = mem_alloc(total);
	if (wc_InitSha256(&sha) != 0) {
		vfy_chain_free(&c);
		*why_r = "sha256 init";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t l4[4] = { (uint8_t)(len[i] >> 24), (uint8_t)(len[i] >> 16),
		    (uint8_t)(len[i] >> 8), (uint8_t)len[i] };

		memcpy(c->buf + off, der[i], len[i]);
		if (vfy_x509_cert_parse(c->buf + off, len[i], &c->cert[i], why_r) < 0) {
			wc_Sha256Free(&sha);
			vfy_chain_free(&c);
			return -1;
		}
		wc_Sha256Update(&sha, l4, 4);
		wc_Sha256Update(&sha, c->buf + off, (word32)len[i]);
		if (i == 0 || c->cert[i].not_after < c->not_after_min)
			c->not_after_min = c->cert[i].not_after;
		off += len[i];
		c->n = i + 1;
	}
	wc_Sha256Final(&sha, c->fingerprint);
	wc_Sha256Free(&sha);
	if (parse_san(c, &c->cert[0], why_r) < 0) {
		vfy_chain_free(&c);
		return -1;
	}
	*chain_r = c;
	return 0;
}

int
vfy_x509_name_match(const char *pattern, const char *name)
{
	const char *pdot, *ndot;

	if (pattern[0] == '\0' || name[0] == '\0')
		return 0;
	if (strchr(name, '*') != NULL)
		return 0;
	if (pattern[0] != '*')
		return strchr(pattern, '*') == NULL && strcasecmp(pattern, name) == 0;
	/* "*." then at least two labels, no other '*' (RFC 6125 6.4.3) */
	if (pattern[1] != '.')
		return 0;
	pdot = pattern + 1;
	if (strchr(pdot, '*') != NULL || strchr(pdot + 1, '.') == NULL ||
	    pdot[1] == '.' || pdot[1] == '\0')
		return 0;
	ndot = strchr(name, '.');
	if (ndot == NULL || ndot == name)
		return 0;
	return strcasecmp(pdot, ndot) == 0;
}

const char *
vfy_chain_has_dns(const struct vfy_chain *c, const char *d)
{
	for (size_t i = 0; i < c->n_dns; i++)
		if (vfy_x509_name_match(c->dns[i], d))
			return c->dns[i];
	return NULL;
}

int
vfy_chain_has_srvname(const struct vfy_chain *c, const char *f)
{
	static const char pfx[] = "_smtpsec.";

	for (size_t i = 0; i < c->n_srvname; i++) {
		const char *s = c->srvname[i];

		if (strncasecmp(s, pfx, sizeof(pfx) - 1) == 0 &&
		    strcasecmp(s + sizeof(pfx) - 1, f) == 0)
			return 1;
	}
	return 0;
}

int
vfy_pem_certs(const char *text, size_t len, uint8_t **der_r, size_t *len_r,
    size_t max)
{
	static const char beg[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const char *p = text, *lim = text + len;
	size_t n = 0;

	for (;;) {
		const char *b = memmem(p, (size_t)(lim - p), beg, sizeof(beg) - 1), *e;
		word32 outlen;
		uint8_t *out;

		if (b == NULL)
			return (int)n;
		b += sizeof(beg) - 1;
		e = memmem(b, (size_t)(lim - b), end, sizeof(end) - 1);
		if (e == NULL || n == max || (size_t)(e - b) > 0x200000)
			goto fail;
		outlen = (word32)(e - b);
		out = mem_alloc(outlen ? outlen : 1);
		if (Base64_Decode((const byte *)b, (word32)(e - b), out, &outlen) != 0 ||
		    outlen == 0) {
			free(out);
			goto fail;
		}
		der_r[n] = out;
		len_r[n++] = outlen;
		p = e + sizeof(end) - 1;
	}
fail:
	while (n > 0)
		free(der_r[--n]);
	return -1;
}
