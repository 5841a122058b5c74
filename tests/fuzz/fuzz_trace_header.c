/* fuzz_trace_header: the delivered-copy builder over arbitrary trace
 * headers and messages.  Input: name NUL value NUL message.  Checks: an
 * accepted copy's prepended block has only CRLF line ends with folding, the
 * segments add up, and the message's bytes after its header section are
 * passed unchanged. */
#include <stdlib.h>
#include <string.h>

#include "lmtp/lmtp.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allow[] = { "Received", "X-*", "*" };
	const uint8_t *z1 = memchr(data, 0, size), *z2;
	struct wire_header t;
	struct lmtp_copy_info in;
	struct lmtp_copy c;
	const char *why;
	size_t i, total = 0;

	if (z1 == NULL)
		return 0;
	z2 = memchr(z1 + 1, 0, size - (size_t)(z1 + 1 - data));
	if (z2 == NULL)
		return 0;
	t.name.p = data;
	t.name.len = (size_t)(z1 - data);
	t.value.p = z1 + 1;
	t.value.len = (size_t)(z2 - (z1 + 1));
	memset(&in, 0, sizeof(in));
	in.authserv_id = "mx.b.test";
	in.hostname = "mx.b.test";
	in.require_security = -1;
	in.trace_allow = allow;
	in.n_trace_allow = (t.name.len % 3) + 1;
	if (lmtp_copy_build(&in, &t, 1, z2 + 1, size - (size_t)(z2 + 1 - data), &c, &why) < 0)
		return 0;
	for (i = 0; i < c.head_len; i++) {
		uint8_t ch = (uint8_t)c.head[i];

		if (ch == 0)
			abort();
		if (ch == '\r' && (i + 1 >= c.head_len || c.head[i + 1] != '\n'))
			abort();
		if (ch == '\n' && (i == 0 || c.head[i - 1] != '\r'))
			abort();
		/* after CRLF: folding whitespace or the start of a field name */
		if (ch == '\n' && i + 1 < c.head_len && (c.head[i + 1] == '\r' || c.head[i + 1] == ':'))
			abort();
	}
	if (c.head_len < 2 || memcmp(c.head + c.head_len - 2, "\r\n", 2) != 0)
		abort();
	for (i = 0; i < c.n_seg; i++)
		total += c.seg[i].len;
	if (total != c.total)
		abort();
	lmtp_copy_free(&c);
	return 0;
}
