/*
 * vfy_der: a small bounds-checked DER reader (ITU-T X.690): every
 * certificate field verify/ reads goes through it (wolfSSL does not expose
 * SRVName otherNames, the SCT list or the TBSCertificate rebuild for CT).
 *
 * Views only: every pointer returned points into the caller's buffer and is
 * valid as long as that buffer is.  Nothing here allocates.  Strict DER:
 * definite minimal lengths, single-byte tags; anything else is malformed.
 */
#ifndef VFY_DER_H
#define VFY_DER_H

#include <stddef.h>
#include <stdint.h>

#define VFY_DER_BOOLEAN		0x01
#define VFY_DER_INTEGER		0x02
#define VFY_DER_BIT_STRING	0x03
#define VFY_DER_OCTET_STRING	0x04
#define VFY_DER_NULL		0x05
#define VFY_DER_OID		0x06
#define VFY_DER_IA5STRING	0x16
#define VFY_DER_UTCTIME		0x17
#define VFY_DER_GENTIME		0x18
#define VFY_DER_SEQUENCE	0x30
#define VFY_DER_SET		0x31
#define VFY_DER_CTX(n)		(0x80 | (n))	/* [n] IMPLICIT primitive */
#define VFY_DER_CTX_C(n)	(0xa0 | (n))	/* [n] constructed / EXPLICIT */

/* A byte range still to be read. */
struct vfy_der {
	const uint8_t *p;	/* borrowed */
	size_t len;
};

/* One element: tag, the whole encoding (hdr .. end) and its contents. */
struct vfy_der_tlv {
	uint8_t tag;
	const uint8_t *raw;	/* borrowed: first byte of the header */
	size_t raw_len;		/* header + contents */
	const uint8_t *val;	/* borrowed: contents */
	size_t len;		/* contents length */
};

static inline struct vfy_der
vfy_der_view(const uint8_t *p, size_t len)
{
	struct vfy_der d = { p, len };
	return d;
}

/* The contents of tlv as a view to read its children from. */
static inline struct vfy_der
vfy_der_inner(const struct vfy_der_tlv *tlv)
{
	return vfy_der_view(tlv->val, tlv->len);
}

/* Read the next element and advance *in past it.
 * Returns 0, or -1 when the input is exhausted or malformed. */
int vfy_der_next(struct vfy_der *in, struct vfy_der_tlv *tlv_r);

/* As vfy_der_next, but -1 also when the tag is not `tag`. */
int vfy_der_expect(struct vfy_der *in, uint8_t tag, struct vfy_der_tlv *tlv_r);

/* Like vfy_der_expect, but if the next element is not `tag` nothing is
 * consumed and 0 is returned with tlv_r->len = 0 and tlv_r->raw = NULL.
 * For OPTIONAL / DEFAULT fields. -1 only on malformed input. */
int vfy_der_optional(struct vfy_der *in, uint8_t tag, struct vfy_der_tlv *tlv_r);

/* 1 when tlv is an OID whose contents equal oid[0..oid_len). */
int vfy_der_oid_eq(const struct vfy_der_tlv *tlv, const uint8_t *oid, size_t oid_len);

/* Write a DER header for (tag, len) into buf (at least 6 bytes).
 * Returns the number of bytes written. */
size_t vfy_der_put_header(uint8_t *buf, uint8_t tag, size_t len);

/* Size of the header vfy_der_put_header would write. */
size_t vfy_der_header_len(size_t len);

#endif
