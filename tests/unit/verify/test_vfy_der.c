/* Unit tests for verify/vfy_der.c: the strict DER reader. */
#include "tests/unit/t.h"
#include "verify/vfy_der.h"

static void
t_short_and_long_lengths(void)
{
	static const uint8_t two[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	uint8_t big[3 + 200];
	struct vfy_der in = vfy_der_view(two, sizeof(two)), kid;
	struct vfy_der_tlv t, i;

	T_ASSERT(vfy_der_expect(&in, VFY_DER_SEQUENCE, &t) == 0);
	T_EQ_INT(t.len, 3);
	T_EQ_INT(in.len, 0);
	kid = vfy_der_inner(&t);
	T_ASSERT(vfy_der_expect(&kid, VFY_DER_INTEGER, &i) == 0);
	T_EQ_INT(i.len, 1);
	T_EQ_INT(i.val[0], 5);

	memset(big, 0, sizeof(big));
	big[0] = VFY_DER_OCTET_STRING;
	big[1] = 0x81;
	big[2] = 200;
	in = vfy_der_view(big, sizeof(big));
	T_ASSERT(vfy_der_next(&in, &t) == 0);
	T_EQ_INT(t.len, 200);
	T_EQ_INT(t.raw_len, 203);
}

static void
t_malformed(void)
{
	static const uint8_t overrun[] = { 0x04, 0x05, 0x00 };
	static const uint8_t indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
	static const uint8_t nonminimal[] = { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 };
	static const uint8_t leadzero[] = { 0x04, 0x82, 0x00, 0x85 };
	static const uint8_t hugelen[] = { 0x04, 0x85, 1, 0, 0, 0, 0 };
	static const uint8_t multitag[] = { 0x1f, 0x81, 0x01, 0x00 };
	const struct { const uint8_t *p; size_t n; } bad[] = {
		{ overrun, sizeof(overrun) }, { indefinite, sizeof(indefinite) },
		{ nonminimal, sizeof(nonminimal) }, { leadzero, sizeof(leadzero) },
		{ hugelen, sizeof(hugelen) }, { multitag, sizeof(multitag) },
		{ overrun, 1 }, { overrun, 0 },
	};
	struct vfy_der_tlv t;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct vfy_der in = vfy_der_view(bad[k].p, bad[k].n);
		if (vfy_der_next(&in, &t) != -1)
			T_FAIL("malformed input %zu accepted", k);
		T_EQ_INT(in.len, bad[k].n);	/* nothing consumed */
	}
}

static void
t_optional_and_oid(void)
{
	static const uint8_t seq[] = { 0x06, 0x03, 0x55, 0x1d, 0x11, 0x01, 0x01, 0xff };
	static const uint8_t san[] = { 0x55, 0x1d, 0x11 };
	struct vfy_der in = vfy_der_view(seq, sizeof(seq));
	struct vfy_der_tlv t;

	T_ASSERT(vfy_der_optional(&in, VFY_DER_CTX_C(0), &t) == 0);
	T_ASSERT(t.raw == NULL);
	T_EQ_INT(in.len, sizeof(seq));
	T_ASSERT(vfy_der_expect(&in, VFY_DER_BOOLEAN, &t) == -1);
	T_ASSERT(vfy_der_expect(&in, VFY_DER_OID, &t) == 0);
	T_ASSERT(vfy_der_oid_eq(&t, san, sizeof(san)));
	T_ASSERT(vfy_der_optional(&in, VFY_DER_BOOLEAN, &t) == 0);
	T_EQ_INT(t.len, 1);
	T_EQ_INT(t.val[0], 0xff);
}

static void
t_put_header_roundtrip(void)
{
	static const size_t lens[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffff, 0x1000000 };
	uint8_t hdr[6];
	size_t k;

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t h = vfy_der_put_header(hdr, VFY_DER_SEQUENCE, lens[k]);
		T_EQ_INT(h, vfy_der_header_len(lens[k]));
		/* decode just the header: give it a fake tail the right size */
		{
			size_t total = h + lens[k];
			uint8_t *buf = calloc(1, total ? total : 1);
			struct vfy_der in;
			struct vfy_der_tlv t;

			T_ASSERT(buf != NULL);
			memcpy(buf, hdr, h);
			in = vfy_der_view(buf, total);
			if (vfy_der_next(&in, &t) != 0 || t.len != lens[k]) {
				free(buf);
				T_FAIL("length %zu does not round-trip", lens[k]);
			}
			free(buf);
		}
	}
}

int
main(void)
{
	T_RUN(t_short_and_long_lengths);
	T_RUN(t_malformed);
	T_RUN(t_optional_and_oid);
	T_RUN(t_put_header_roundtrip);
	return T_END();
}
