/* fuzz_lmtp_reply: the LMTP reply-line parser over arbitrary server bytes,
 * split into lines as the client does.  An accepted line must carry a
 * code 200..599 and say whether it is the last line. */
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t ll = nl ? (size_t)(nl - (data + off)) : size - off;
		size_t l2 = ll > 0 && data[off + ll - 1] == '\r' ? ll - 1 : ll;
		char *line = malloc(l2 ? l2 : 1);	/* exact size: reads past it are caught */
		int code = -1, last = -1, rc;

		if (line == NULL)
			abort();
		memcpy(line, data + off, l2);
		rc = lmtp_reply_line(line, l2, &code, &last);
		if (rc >= 0 && (code < 200 || code > 599 || last != rc))
			abort();
		if (rc < 0 && rc != -1)
			abort();
		free(line);
		off += ll + 1;
	}
	return 0;
}
