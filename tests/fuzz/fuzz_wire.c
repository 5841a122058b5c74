/*
 * fuzz_wire: the wire decoder over whole sessions.  The input is a byte
 * stream as a peer might send it; it is fed twice: in one call, and split
 * in chunks whose sizes come from the input's first byte, so state carried
 * across calls is exercised.  Both runs must agree on every frame and error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

struct trace {
	uint64_t sum;		/* order-sensitive digest of what came out */
	uint64_t body;
};

static void
mix(struct trace *t, uint64_t v)
{
	t->sum = (t->sum ^ v) * 0x100000001b3ULL;
}

static void
body_cb(void *arg, const struct wire_frame *head, uint64_t off, const uint8_t *p, size_t n)
{
	struct trace *t = arg;
	size_t i;

	if (off != t->body)
		abort();		/* chunks must arrive in order */
	if (off + n > head->message_len)
		abort();
	for (i = 0; i < n; i++)
		mix(t, p[i]);
	t->body += n;
}

static void
feed(const uint8_t *data, size_t size, size_t step, struct trace *t)
{
	struct wire_limits lim;
	struct wire *w;
	size_t off = 0;

	wire_limits_default(&lim);
	lim.max_message_size = 1 << 16;
	lim.max_other_size = 1 << 14;
	w = wire_new(&lim, body_cb, t);
	while (off < size) {
		size_t chunk = step ? (size - off < step ? size - off : step) : size - off;
		size_t pos = 0, used;
		int r;

		do {
			struct wire_frame f;

			r = wire_decode(w, data + off + pos, chunk - pos, &used, &f);
			if (used > chunk - pos)
				abort();
			pos += used;
			if (r == 1) {
				size_t i;

				mix(t, 1000 + f.type);
				mix(t, f.number);
				if (f.type == WIRE_MSG_EMAIL) {
					if (f.message_len != t->body)
						abort();
					for (i = 0; i < f.n_rcpt; i++)
						mix(t, f.rcpt[i].len ? f.rcpt[i].p[f.rcpt[i].len - 1] : 0);
				}
				t->body = 0;
			} else if (r < 0) {
				const struct wire_error *e = wire_error(w);

				mix(t, 2000 + e->code);
				mix(t, e->number);
				t->body = 0;
				if (e->fatal)
					goto out;
			}
		} while (r != 0);
		off += chunk;
	}
out:
	wire_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace a = { 0, 0 }, b = { 0, 0 };

	if (size < 1)
		return 0;
	feed(data + 1, size - 1, 0, &a);
	feed(data + 1, size - 1, (size_t)(data[0] % 17) + 1, &b);
	if (a.sum != b.sum)
		abort();	/* chunking changed the result */
	return 0;
}
