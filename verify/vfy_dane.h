/*
 * vfy_dane: matching a chain against a TLSA RRset (SMTPSEC.md 4 step 7;
 * RFC 6698, RFC 7671).  Pure functions: the lookup is the caller's.
 */
#ifndef VFY_DANE_H
#define VFY_DANE_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy_dns.h"
#include "verify/vfy_x509.h"

struct vfy_dane_match {
	size_t n_usable;	/* usable records seen */
	int matched;		/* 1 when a usable record matched */
	uint8_t usage, selector, mtype;	/* of the matching record */
	size_t record;		/* its index in the RRset */
	size_t cert;		/* the chain certificate it matched (usage 0/2: the anchor, > 0) */
};

/* 1 when the record is usable: usage 0-3, selector 0-1, matching type 0-2
 * with the right digest length (RFC 7671 4.1). */
int vfy_dane_usable(const struct vfy_tlsa *t);

/* Match the chain against the records.  Among several matches the one that
 * needs the least is reported: DANE-EE (3), then DANE-TA (2), PKIX-EE (1),
 * PKIX-TA (0).  Usages 0 and 2 match only a certificate above the leaf
 * (RFC 7671 5.2.2); usages 1 and 3 only the leaf. */
void vfy_dane_match(const struct vfy_chain *c, const struct vfy_tlsa *recs,
    size_t n, struct vfy_dane_match *m_r);

/* 1 when a usage 1 or 3 record matched the leaf: the leaf is named by a
 * matching end-entity TLSA record and is exempt from CT (SMTPSEC.md 4
 * step 9; selector 1 included, see the protocol notes). */
int vfy_dane_names_leaf(const struct vfy_dane_match *m);

#endif
