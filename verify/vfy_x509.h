/*
 * vfy_x509: one certificate chain from a ClientHello, parsed once
 * (SMTPSEC.md 4 steps 3, 6), and the RFC 6125 name checks of step 6.
 *
 * Parsing is our own, bounds-checked with vfy_der: wolfSSL does not expose
 * the RFC 4985 SRVName otherName.  A vfy_chain owns a copy of the DER.
 */
#ifndef VFY_X509_H
#define VFY_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy_sig.h"

#define VFY_CHAIN_MAX_CERTS	10
#define VFY_CHAIN_MAX_NAMES	1024	/* per form; more are dropped (fail closed) */

struct vfy_cert {
	const uint8_t *der;		/* into chain->buf */
	size_t der_len;
	const uint8_t *tbs;		/* TBSCertificate, whole TLV */
	size_t tbs_len;
	const uint8_t *spki;		/* SubjectPublicKeyInfo, whole TLV */
	size_t spki_len;
	const uint8_t *issuer, *subject;	/* Name, whole TLV */
	size_t issuer_len, subject_len;
	const uint8_t *sig_alg_oid;	/* outer signatureAlgorithm OID contents */
	size_t sig_alg_oid_len;
	time_t not_before, not_after;
	enum wire_key key_type;
	unsigned rsa_bits;		/* RSA modulus size, 0 otherwise */
};

struct vfy_chain {
	size_t n;				/* certificates, leaf first */
	struct vfy_cert cert[VFY_CHAIN_MAX_CERTS];
	uint8_t *buf;				/* owned: all DER */
	size_t n_dns;				/* leaf SAN dNSNames, lower-case */
	char **dns;				/* owned, grown as needed */
	size_t n_srvname;			/* leaf SAN SRVNames, lower-case */
	char **srvname;				/* owned, grown as needed */
	time_t not_after_min;			/* earliest notAfter in the chain */
	uint8_t fingerprint[32];		/* SHA-256 over (len32 || der)* */
};

/* Parse n DER certificates (leaf first).  Returns 0, or -1 with a short
 * reason in *why_r (chain_r untouched). */
int vfy_chain_parse(const uint8_t *const *der, const size_t *len, size_t n,
    struct vfy_chain **chain_r, const char **why_r);
void vfy_chain_free(struct vfy_chain **chain_p);

/* Parse one certificate into cert_r (views into der). 0 or -1. */
int vfy_x509_cert_parse(const uint8_t *der, size_t len, struct vfy_cert *cert_r,
    const char **why_r);

/* RFC 6125 dNSName match: exact, or "*." + at least two labels matching
 * exactly one leftmost label of name; case-insensitive; no partial
 * wildcards.  1 match, 0 not. */
int vfy_x509_name_match(const char *pattern, const char *name);

/* The leaf's first dNSName matching D (borrowed), or NULL. */
const char *vfy_chain_has_dns(const struct vfy_chain *c, const char *d);
/* 1 when the leaf carries SRVName "_smtpsec.F". */
int vfy_chain_has_srvname(const struct vfy_chain *c, const char *f);

/* Decode up to max PEM "CERTIFICATE" blocks from text; each der_r[i] is
 * malloc'd (free each).  Returns the count, or -1 on a malformed block. */
int vfy_pem_certs(const char *text, size_t len, uint8_t **der_r, size_t *len_r,
    size_t max);
#endif
