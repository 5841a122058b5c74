/* fuzz_cache_value: the DNS cache value decoder, which reads what anyone
 * with write access to Redis stored, and the MAC check in front of it.
 * Whatever the decoder accepts must re-encode to the same bytes; sealed
 * under a fixed key it must unseal to itself, and not under another Redis
 * key or with any byte changed.  Input that unseals under the fixed key
 * (a forgery, or the fuzzer finding HMAC-SHA256) is impossible: abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[VFY_CACHE_KEY_LEN] = "fuzz-fleet-key-0123456789abcdef";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfy_cache_answer a;
	struct vfy_dns_answer d;
	uint8_t *v, *s;
	size_t len, slen, vlen;

	if (vfy_cache_unseal(key, "smtpsec:dns:TLSA:x.test", data, size, &vlen) == 0)
		abort();	/* a MAC nobody with the key wrote */
	if (vfy_cache_decode(data, size, &a) < 0)
		return 0;
	memset(&d, 0, sizeof(d));
	d.qtype = a.qtype;
	d.result = a.result;
	d.status = a.status;
	d.rcode = a.rcode;
	d.n_srv = a.n_srv;
	d.srv = a.srv;
	d.n_tlsa = a.n_tlsa;
	d.tlsa = a.tlsa;
	v = vfy_cache_encode(&d, a.expiry, &len);
	if (v == NULL || len != size || memcmp(v, data, size) != 0)
		abort();
	s = vfy_cache_seal(key, "smtpsec:dns:SRV:a.test", v, len, &slen);
	if (s == NULL || slen != len + VFY_CACHE_SEAL_LEN)
		abort();
	if (vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", s, slen, &vlen) < 0 || vlen != len ||
	    memcmp(s, v, len) != 0)
		abort();
	if (vfy_cache_unseal(key, "smtpsec:dns:SRV:b.test", s, slen, &vlen) == 0)
		abort();	/* moved to another Redis key */
	s[size % slen] ^= 0x01;
	if (vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", s, slen, &vlen) == 0)
		abort();	/* one bit changed */
	free(s);
	free(v);
	vfy_cache_answer_free(&a);
	return 0;
}
