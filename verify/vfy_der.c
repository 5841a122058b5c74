/*
 * vfy_der: strict DER reader.  See vfy_der.h.
 * Every length is checked against what is left before it is used; lengths
 * over 2^32-1 are refused, so nothing here can overflow a size_t.
 */
#include "verify/vfy_der.h"

#include <string.h>

#include "base/cur.h"

int
vfy_der_next(struct vfy_der *in, struct vfy_der_tlv *tlv_r)
{
	const uint8_t *p = in->p;
	size_t left = in->len, hdr, len;
	uint8_t tag;

	if (left < 2)
		return -1;
	tag = p[0];
	if ((tag & 0x1f) == 0x1f)		/* multi-byte tag: not used in X.509 */
		return -1;
	if (p[1] < 0x80) {
		len = p[1];
		hdr = 2;
	} else {
		size_t n = p[1] & 0x7f;

		if (n == 0 || n > 4)		/* indefinite, or >= 2^32 */
			return -1;
		if (left - 2 < n)
			return -1;
		if (p[2] == 0)			/* leading zero: not minimal */
			return -1;
		len = (size_t)cur_be(p + 2, n);
		if (len < 0x80)			/* long form for a short length */
			return -1;
		hdr = 2 + n;
	}
	if (left - hdr < len)
		return -1;
	tlv_r->tag = tag;
	tlv_r->raw = p;
	tlv_r->raw_len = hdr + len;
	tlv_r->val = p + hdr;
	tlv_r->len = len;
	in->p = p + hdr + len;
	in->len = left - hdr - len;
	return 0;
}

int
vfy_der_expect(struct vfy_der *in, uint8_t tag, struct vfy_der_tlv *tlv_r)
{
	struct vfy_der save = *in;

	if (vfy_der_next(in, tlv_r) < 0 || tlv_r->tag != tag) {
		*in = save;
		return -1;
	}
	return 0;
}

int
vfy_der_optional(struct vfy_der *in, uint8_t tag, struct vfy_der_tlv *tlv_r)
{
	memset(tlv_r, 0, sizeof(*tlv_r));
	if (in->len == 0 || in->p[0] != tag)
		return 0;
	return vfy_der_expect(in, tag, tlv_r);
}

int
vfy_der_oid_eq(const struct vfy_der_tlv *tlv, const uint8_t *oid, size_t oid_len)
{
	return tlv->tag == VFY_DER_OID && tlv->len == oid_len &&
	    memcmp(tlv->val, oid, oid_len) == 0;
}

size_t
vfy_der_header_len(size_t len)
{
	if (len < 0x80)
		return 2;
	if (len <= 0xff)
		return 3;
	if (len <= 0xffff)
		return 4;
	if (len <= 0xffffff)
		return 5;
	return 6;
}

size_t
vfy_der_put_header(uint8_t *buf, uint8_t tag, size_t len)
{
	size_t h = vfy_der_header_len(len);

	buf[0] = tag;
	if (h == 2) {
		buf[1] = (uint8_t)len;
		return 2;
	}
	buf[1] = (uint8_t)(0x80 | (h - 2));
	cur_put_be(buf + 2, len, h - 2);
	return h;
}
