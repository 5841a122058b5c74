/*
 * vfy_from: the author domain F (SMTPSEC.md 4 step 4).
 *
 * Finds the one From header field of an IMF message (RFC 5322 3.6.2) and
 * parses it as exactly one mailbox: display names, quoted strings, nested
 * comments and folding whitespace are understood; groups, several
 * mailboxes, domain literals and anything unparsable are refused.  The
 * domain comes back lower-cased in IDNA A-label form (libidn2).
 */
#ifndef VFY_FROM_H
#define VFY_FROM_H

#include <stddef.h>
#include <stdint.h>

#define VFY_FROM_ADDR_MAX	512
#define VFY_FROM_DOMAIN_MAX	256

struct vfy_from {
	char addr[VFY_FROM_ADDR_MAX];	/* local@domain, for MAIL FROM (domain A-label) */
	char domain[VFY_FROM_DOMAIN_MAX];	/* F: lower-case A-labels, no trailing dot */
};

/* Returns 0, or -1 with a short reason in *why_r. */
int vfy_from_parse(const uint8_t *msg, size_t len, struct vfy_from *from_r, const char **why_r);

/* Find a header field by name in msg's header section (case-insensitive).
 * Returns how many there are; the first one's raw value (after the colon,
 * folding kept) is returned through value_r/value_len_r when non-NULL.
 * -1 when the header section is malformed. */
int vfy_from_find_header(const uint8_t *msg, size_t len, const char *name,
    const uint8_t **value_r, size_t *value_len_r);

#endif
