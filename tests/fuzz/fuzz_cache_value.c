/* fuzz_cache_value: the DNS cache value decoder, which reads what anyone
 * with write access to Redis stored.  Whatever it accepts must re-encode
 * to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfy_cache_answer a;
	struct vfy_dns_answer d;
	uint8_t *v;
	size_t len;

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
	free(v);
	vfy_cache_answer_free(&a);
	return 0;
}
