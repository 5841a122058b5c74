/*
 * vfy_nc: X.509 name constraints (RFC 5280 4.2.1.10 and 6.1.3 (b)-(c);
 * SRVName per RFC 4985), used by vfy_pkix for every CA on a path.
 *
 * Name forms processed: dNSName, SRVName (otherName id-on-dnsSRV),
 * iPAddress, rfc822Name, directoryName (subject DN and SAN).  The subject
 * CN is never read as a DNS name.  A critical nameConstraints extension
 * that constrains another form (URI, other otherNames, ...) fails when the
 * certificate has a name of that form (RFC 5280 4.2.1.10: process or
 * reject); a non-critical one's other forms are ignored.  Subtree minimum/maximum
 * (which RFC 5280 forbids) and an empty extension are malformed.
 *
 * Matching (README, "Name constraints"):
 *   dNSName   "d.example" matches itself and any name ending ".d.example";
 *             ".d.example" only names below it; "" everything; case-
 *             insensitive.  A wildcard SAN "*.Z" is permitted only when
 *             the literal name is within the subtree, and excluded when
 *             any name it could stand for ("L.Z") is excluded.
 *   SRVName   constraint "_Service.Name" matches SRVNames with that
 *             service and a Name within Name (dNSName rules); a constraint
 *             "Name" matches any service.  Project rule: the Name part of
 *             an SRVName is also held to the CA's dNSName subtrees (a
 *             leading dot there still admits the domain itself), so a CA
 *             limited to other.test cannot vouch for _smtpsec.bank.test.
 *   iPAddress address/mask of the same family.
 *   rfc822Name "box@host" exact, "host" any box at host, ".dom" any host
 *             below dom.
 *   directoryName the constraint's RDNs are a prefix of the name's.
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

/* The dNSName rule above: 1 when name (len bytes) is within constraint. */
int vfy_nc_dns_within(const uint8_t *name, size_t name_len,
    const uint8_t *constraint, size_t c_len);

/* The SRVName rule above: 1 when srvname is within constraint. */
int vfy_nc_srv_within(const uint8_t *srvname, size_t s_len,
    const uint8_t *constraint, size_t c_len);

#endif
