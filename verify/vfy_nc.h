/*
 * vfy_nc: X.509 name constraints (RFC 5280 4.2.1.10 and 6.1.3 (b)-(c);
 * SRVName per RFC 4985), used by vfy_pkix for every CA on a path.  The
 * name forms processed and the matching rules are written once, in
 * README (Protocol notes, Verification: the "Name constraints" item).
 */
#ifndef VFY_NC_H
#define VFY_NC_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy_x509.h"

/*
 * Check the names of certificate c (its subject DN unless skip_subject,
 * and the GeneralNames of its subjectAltName, san/san_len, may be NULL)
 * against the NameConstraints contents nc/nc_len of a CA.
 * Returns 0 when every name is allowed, -1 with a reason otherwise
 * (violation, malformed constraint, unsupported critical form, too much
 * work).
 */
int vfy_nc_check(const uint8_t *nc, size_t nc_len, int nc_critical,
    const struct vfy_cert *c, int skip_subject, const uint8_t *san, size_t san_len,
    const char **why_r);

/* The dNSName rule: 1 when name (len bytes) is within constraint. */
int vfy_nc_dns_within(const uint8_t *name, size_t name_len,
    const uint8_t *constraint, size_t c_len);

/* The SRVName rule: 1 when srvname is within constraint. */
int vfy_nc_srv_within(const uint8_t *srvname, size_t s_len,
    const uint8_t *constraint, size_t c_len);

#endif
