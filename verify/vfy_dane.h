/*
 * vfy_dane: matching a chain against a TLSA RRset (SMTPSEC.md 4 step 7;
 * RFC 6698, RFC 7671).  Pure functions: the lookup is the caller's.
 */
#ifndef VFY_DANE_H
#define VFY_DANE_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy.h"
#include "verify/vfy_x509.h"

/* What a TLSA RRset says about a chain before path validation.  Usage 0
 * and 2 records are judged on the validated path (vfy_check): a usage 0
 * record matches only a CA certificate on it, the store's anchor included;
 * a usage 2 record's certificate must be the path's anchor. */
struct vfy_dane_match {
	size_t n_usable;	/* usable records seen */
	int ee;			/* a usage 3 record matches the leaf */
	int pkix_ee;		/* a usage 1 record matches the leaf */
	int ta;			/* a usage 2 record matches a sent certificate above the leaf */
	int pkix_ta;		/* usable usage 0 records exist */
};

/* 1 when the record is usable: usage 0-3, selector 0-1, matching type 0-2
 * with the right digest length (RFC 7671 4.1). */
int vfy_dane_usable(const struct vfy_tlsa *t);

/* 1 when certificate c matches record t (selector and matching type). */
int vfy_dane_cert_match(const struct vfy_cert *c, const struct vfy_tlsa *t);

/* 1 when c matches a usable record of the given usage. */
int vfy_dane_cert_match_usage(const struct vfy_cert *c, const struct vfy_tlsa *recs,
    size_t n, uint8_t usage);

/* Summarise the records against the chain.  Usages 1 and 3 match only
 * the leaf, usage 2 only a certificate above it (RFC 7671 5.2.2). */
void vfy_dane_match(const struct vfy_chain *c, const struct vfy_tlsa *recs,
    size_t n, struct vfy_dane_match *m_r);

#endif
