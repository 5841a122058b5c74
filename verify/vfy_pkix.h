/*
 * vfy_pkix: RFC 5280 path validation of a sent chain at the receipt time
 * (SMTPSEC.md 4 step 8) with wolfSSL, against the configured CA store or
 * a DANE-TA anchor from the chain.
 *
 * wolfSSL checks signatures; dates are checked here at the given time (so
 * `smtpsec-verify --at` works), as are basic constraints, key usage, RSA
 * key sizes (>= 2048 bits) and signature algorithms (no MD5/SHA-1).
 */
#ifndef VFY_PKIX_H
#define VFY_PKIX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy_x509.h"

struct vfy_pkix;

/* Load a PEM CA bundle once (per reload).  Returns 0, or -1 with err. */
int vfy_pkix_load(const char *ca_file, struct vfy_pkix **p_r, char *err, size_t errlen);
void vfy_pkix_free(struct vfy_pkix **p_p);
size_t vfy_pkix_count(const struct vfy_pkix *p);

/* Validate chain at time `at`.  anchor = 0: up to a CA of the store (p
 * must not be NULL); anchor = k > 0: chain->cert[k] is the trust anchor
 * (DANE-TA) and certificates above it are ignored.  Returns 0, or -1 with
 * a short reason in *why_r. */
int vfy_pkix_verify(const struct vfy_pkix *p, const struct vfy_chain *chain,
    size_t anchor, time_t at, const char **why_r);

/* Parsed extension facts used by the checks (exposed for tests). */
struct vfy_x509_ext {
	int has_bc, ca;		/* basicConstraints present, cA TRUE */
	int has_ku;		/* keyUsage present */
	unsigned ku;		/* bit 0 = digitalSignature ... bit 5 = keyCertSign */
};
int vfy_x509_ext_parse(const struct vfy_cert *c, struct vfy_x509_ext *e_r);

/* 1 when the signature algorithm OID is MD2/MD5/SHA-1 based. */
int vfy_pkix_weak_sigalg(const struct vfy_cert *c);

#endif
