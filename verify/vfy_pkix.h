/*
 * vfy_pkix: RFC 5280 path building and validation of a sent chain at the
 * receipt time (SMTPSEC.md 4 step 8), our own code over wolfCrypt's
 * signature primitives.  How paths are searched, what every certificate
 * on one must satisfy (name constraints of every CA included: vfy_nc) and
 * the bounds on the work are written once, in README (Protocol notes,
 * Verification: the "PKIX" item).
 */
#ifndef VFY_PKIX_H
#define VFY_PKIX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy_x509.h"

/* leaf + every sent certificate + one store anchor */
#define VFY_PATH_MAX	(VFY_CHAIN_MAX_CERTS + 1)

struct vfy_pkix;

/* A validated path: cert[0] is the leaf, cert[n-1] the trust anchor. */
struct vfy_path {
	size_t n;
	const struct vfy_cert *cert[VFY_PATH_MAX];	/* borrowed: chain or store */
	int sent[VFY_PATH_MAX];		/* index in the sent chain, -1: from the store */
};

struct vfy_pkix_params {
	time_t at;			/* verification (receipt) time */
	/* DANE-TA (usage 2): when set, the trust anchors are the sent
	 * certificates above the leaf for which it returns 1; the CA store is
	 * not used. */
	int (*is_anchor)(void *arg, const struct vfy_cert *c);
	/* DANE PKIX-TA (usage 0): when set, a valid path counts only when it
	 * returns 1 (it sees the whole path, the store's anchor included). */
	int (*accept)(void *arg, const struct vfy_path *path);
	void *arg;
};

/* Load a PEM CA bundle once (per reload).  Returns 0, or -1 with err. */
int vfy_pkix_load(const char *ca_file, struct vfy_pkix **p_r, char *err, size_t errlen);
void vfy_pkix_free(struct vfy_pkix **p_p);
size_t vfy_pkix_count(const struct vfy_pkix *p);

/* Build and validate a path for chain->cert[0].  p may be NULL only with
 * is_anchor set.  Returns 0 with the path in *path_r (optional); -1 with a
 * short reason in *why_r (the most telling failure among the candidate
 * paths); -2 when the caller's condition never held: valid paths exist but
 * the accept hook refused them all, or (is_anchor set) no candidate path
 * reached an anchor at all. */
int vfy_pkix_verify(const struct vfy_pkix *p, const struct vfy_chain *chain,
    const struct vfy_pkix_params *prm, struct vfy_path *path_r, const char **why_r);

/* Parsed extension facts used by the checks (exposed for tests). */
struct vfy_x509_ext {
	int has_bc, ca;		/* basicConstraints present, cA TRUE */
	int pathlen;		/* pathLenConstraint, -1 absent */
	int has_ku;		/* keyUsage present */
	unsigned ku;		/* bit 0 = digitalSignature ... bit 5 = keyCertSign */
	int has_eku;		/* extendedKeyUsage present */
	int eku_server, eku_any;	/* id-kp-serverAuth, anyExtendedKeyUsage listed */
	int has_san;		/* subjectAltName present */
	int has_nc, nc_critical;	/* nameConstraints present, marked critical */
	const uint8_t *nc;	/* NameConstraints SEQUENCE contents (view) */
	size_t nc_len;
	const uint8_t *san;	/* GeneralNames SEQUENCE contents (view) */
	size_t san_len;
	int unknown_critical;	/* a critical extension we do not process */
	int ct_poison;		/* RFC 6962 precertificate poison */
	int bad_serial;		/* zero, negative, or over 20 octets (RFC 5280 4.1.2.2) */
	int version;		/* 1, 2 or 3 */
};
/* 0, or -1 when malformed (also: an extension given twice, bad DER). */
int vfy_x509_ext_parse(const struct vfy_cert *c, struct vfy_x509_ext *e_r);

/* 1 when the signature algorithm OID is MD2/MD5/SHA-1 based. */
int vfy_pkix_weak_sigalg(const struct vfy_cert *c);

#endif
