/* fuzz_from: the From-field parser and header walker over arbitrary
 * messages.  Anything it accepts must be a well-formed address. */
#include <stdlib.h>
#include <string.h>

#include "verify/vfy_from.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfy_from f;
	const char *why;
	const uint8_t *v;
	size_t vl;

	if (vfy_from_parse(data, size, &f, &why) == 0) {
		const char *at = strrchr(f.addr, '@');
		if (at == NULL || strcmp(at + 1, f.domain) != 0 || strchr(f.domain, '.') == NULL)
			abort();
	}
	(void)vfy_from_find_header(data, size, "SMTPsec-Used", &v, &vl);
	return 0;
}
