/*
 * wire: SMTPsec frame decoder and encoders.  See wire.h.
 *
 * Ownership: the decoder owns one buffer for the frame being decoded (a
 * whole non-Email frame, at most max_other_size, or an Email's head, bounded
 * by the trace/recipient limits) and fixed arrays for the parsed views, all
 * sized from the limits at creation.  Email bodies are passed through.
 *
 * Every length read from the peer is compared with what is left before it
 * is used ("if (c->left < n)"), so nothing here can read out of bounds or
 * overflow, whatever the input.
 */
#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>

#include "base/cur.h"
#include "base/mem.h"

enum w_state {
	W_HDR = 0,	/* reading size + type */
	W_FRAME,	/* buffering a whole non-Email frame */
	W_EMAIL_HEAD,	/* buffering an Email up to its message field */
	W_EMAIL_MSG,	/* streaming the message field */
	W_SKIP,		/* discarding the rest of a frame by its size */
	W_FATAL,	/* framing lost: sticky */
};

struct wire {
	struct wire_limits lim;
	wire_body_cb *body;
	void *body_arg;

	enum w_state state;
	uint8_t hdr[9];
	size_t hdr_have;
	uint32_t next_number;
	uint64_t size;		/* current frame's size field */
	uint64_t skip_left;
	uint64_t msg_left;
	int returned;		/* last call returned a frame: reset buf */

	uint8_t *buf;		/* owned: frame body or Email head */
	size_t buf_len, buf_cap;
	wire_grow_cb *grow;	/* asked before buf grows, told when it is released */
	void *grow_arg;

	struct wire_frame frame;
	struct wire_error err;

	/* views, sized from the limits */
	struct wire_ext *ext;
	struct wire_chain *chains;
	struct wire_bytes *certs;
	struct wire_header *trace;
	struct wire_bytes *rcpt;
	struct wire_bytes *addr;
	/* trace, rcpt and addr grow on demand: an idle session does not
	 * hold room for a thousand recipients */
	size_t cap_trace, cap_rcpt, cap_addr;
};

#define WIRE_FRAME_MIN	11	/* size(8) + type(1) + extensions length(2) */

void
wire_limits_default(struct wire_limits *l)
{
	l->max_message_size = 50ULL << 20;
	l->max_other_size = 1ULL << 20;
	l->max_chains = 16;
	l->max_certs = 10;
	l->max_cert_bytes = 64 << 10;
	l->max_recipients = 1000;
	l->max_address_len = 320;
	l->max_trace_headers = 100;
	l->max_trace_bytes = 64 << 10;
	l->max_extensions = 16;
	l->first_number = 0;
}

struct wire *
wire_new(const struct wire_limits *lim, wire_body_cb *body, void *body_arg)
{
	struct wire *w = mem_calloc(1, sizeof(*w));

	w->lim = *lim;
	if (w->lim.max_other_size < WIRE_FRAME_MIN)
		w->lim.max_other_size = WIRE_FRAME_MIN;
	w->body = body;
	w->body_arg = body_arg;
	w->next_number = w->lim.first_number;
	w->ext = mem_calloc(w->lim.max_extensions, sizeof(*w->ext));
	w->chains = mem_calloc(w->lim.max_chains, sizeof(*w->chains));
	w->certs = mem_calloc((size_t)w->lim.max_chains * w->lim.max_certs, sizeof(*w->certs));
	return w;
}

void
wire_free(struct wire **w_p)
{
	struct wire *w = *w_p;

	if (w == NULL)
		return;
	free(w->buf);
	free(w->ext);
	free(w->chains);
	free(w->certs);
	free(w->trace);
	free(w->rcpt);
	free(w->addr);
	free(w);
	*w_p = NULL;
}

const struct wire_error *
wire_error(const struct wire *w)
{
	return &w->err;
}

int
wire_idle(const struct wire *w)
{
	return w->state == W_HDR && w->hdr_have == 0;
}

const char *
wire_err_name(unsigned code)
{
	static const char *const n[] = {
		"internal_error", "service_unavailable", "illegal_message",
		"illegal_parameter", "too_large", "authentication_failed",
		"insufficient_security", "unknown_address",
	};

	return code < sizeof(n) / sizeof(n[0]) ? n[code] : "unknown_error";
}

int
wire_trace_valid(const struct wire_header *h, const char **why_r)
{
	const uint8_t *name = h->name.p, *value = h->value.p;
	size_t i, name_len = h->name.len, value_len = h->value.len;

	if (name_len == 0) {
		*why_r = "empty trace header name";
		return -1;
	}
	if (name_len > WIRE_TRACE_NAME_MAX) {
		*why_r = "trace header name too long";
		return -1;
	}
	for (i = 0; i < name_len; i++)
		if (name[i] < 33 || name[i] > 126 || name[i] == ':') {
			*why_r = "invalid trace header name";
			return -1;
		}
	for (i = 0; i < value_len; i++) {
		uint8_t c = value[i];

		if (c == 0) {
			*why_r = "NUL in trace header";
			return -1;
		}
		if (c == '\n') {
			*why_r = "bare LF in trace header";
			return -1;
		}
		if (c == '\r') {
			if (value_len - i < 3 || value[i + 1] != '\n' ||
			    (value[i + 2] != ' ' && value[i + 2] != '\t')) {
				*why_r = "CR or CRLF not followed by folding whitespace in trace header";
				return -1;
			}
			i++;
		}
	}
	return 0;
}

/* --- reading ---------------------------------------------------------------- */

/* A length-prefixed vector: prefix of `pfx` bytes, then that many bytes. */
static int
get_vec(struct cur *c, size_t pfx, struct wire_bytes *b_r)
{
	struct cur save = *c;
	uint64_t n;

	if (cur_uint(c, pfx, &n) < 0 || cur_take(c, n, &b_r->p) < 0) {
		*c = save;
		return -1;
	}
	b_r->len = (size_t)n;
	return 0;
}

/* Extensions (SMTPSEC.md 2.1).  Returns NULL or the reason it is malformed. */
static const char *
parse_ext(struct wire *w, struct cur *c)
{
	struct wire_bytes all;
	struct cur e;

	w->frame.n_ext = 0;
	w->frame.require_security = -1;
	if (get_vec(c, 2, &all) < 0)
		return "extensions overrun the frame";
	e.p = all.p;
	e.left = all.len;
	while (e.left > 0) {
		uint64_t type;
		struct wire_bytes data;

		if (cur_uint(&e, 1, &type) < 0 || get_vec(&e, 4, &data) < 0)
			return "extension overruns its vector";
		if (w->frame.n_ext == w->lim.max_extensions)
			return "too many extensions";
		w->ext[w->frame.n_ext].type = (uint8_t)type;
		w->ext[w->frame.n_ext].data = data;
		w->frame.n_ext++;
		if (type == WIRE_EXT_REQUIRE_SECURITY) {
			if (w->frame.require_security != -1)
				return "require_security given twice";
			if (data.len != 1 || data.p[0] > 1)
				return "require_security must be one byte, 0 or 1";
			w->frame.require_security = data.p[0];
		}
		/* other types: ignored (kept in ext[] for the caller) */
	}
	w->frame.ext = w->ext;
	return NULL;
}

static const char *
parse_client_hello(struct wire *w, struct cur *c)
{
	struct wire_bytes all;
	struct cur cc;
	uint64_t v;
	size_t ncert_total = 0;

	if (cur_uint(c, 1, &v) < 0)
		return "ClientHello without version";
	w->frame.version = (uint8_t)v;
	if (get_vec(c, 3, &all) < 0)
		return "certificate_chains overrun the frame";
	cc.p = all.p;
	cc.left = all.len;
	w->frame.n_chains = 0;
	while (cc.left > 0) {
		struct wire_bytes chain;
		struct cur ch;
		struct wire_chain *out;

		if (get_vec(&cc, 2, &chain) < 0)
			return "certificate chain overruns its vector";
		if (w->frame.n_chains == w->lim.max_chains)
			return "too many certificate chains";
		out = &w->chains[w->frame.n_chains++];
		out->certs = &w->certs[ncert_total];
		out->n_certs = 0;
		ch.p = chain.p;
		ch.left = chain.len;
		while (ch.left > 0) {
			struct wire_bytes cert;

			if (get_vec(&ch, 3, &cert) < 0)
				return "certificate overruns its chain";
			if (out->n_certs == w->lim.max_certs)
				return "too many certificates in a chain";
			if (cert.len > w->lim.max_cert_bytes)
				return "certificate too large";
			if (cert.len == 0)
				return "empty certificate";
			w->certs[ncert_total++] = cert;
			out->n_certs++;
		}
		if (out->n_certs == 0)
			return "empty certificate chain";
	}
	w->frame.chains = w->chains;
	return NULL;
}

static const char *
parse_error(struct wire *w, struct cur *c)
{
	uint64_t v;

	if (cur_uint(c, 1, &v) < 0)
		return "Error without code";
	w->frame.code = (uint8_t)v;
	if (cur_uint(c, 1, &v) < 0)
		return "Error without reference";
	if (v > 1)
		return "unknown ErrorReference";
	w->frame.has_ref = (int)v;
	if (v == 1) {
		if (cur_uint(c, 3, &v) < 0)
			return "Error reference truncated";
		w->frame.ref = (uint32_t)v;
	}
	w->frame.n_addr = 0;
	if (w->frame.code == WIRE_ERR_UNKNOWN_ADDRESS) {
		struct wire_bytes all;
		struct cur a;

		if (get_vec(c, 2, &all) < 0)
			return "addresses overrun the frame";
		a.p = all.p;
		a.left = all.len;
		while (a.left > 0) {
			struct wire_bytes one;

			if (get_vec(&a, 2, &one) < 0)
				return "address overruns its vector";
			/* an unknown_address list: at most one Email's recipients */
			if (w->frame.n_addr == w->lim.max_recipients)
				return "too many addresses";
			w->addr = mem_grow(w->addr, &w->cap_addr, w->frame.n_addr, sizeof(*w->addr));
			w->addr[w->frame.n_addr++] = one;
		}
	}
	w->frame.addr = w->addr;
	return NULL;
}

/* A whole non-Email frame is in buf (everything after size and type). */
static const char *
parse_other(struct wire *w)
{
	struct cur c = { w->buf, w->buf_len };
	const char *why;
	uint64_t v;

	if ((why = parse_ext(w, &c)) != NULL)
		return why;
	switch (w->frame.type) {
	case WIRE_MSG_SERVER_HELLO:
		if (cur_uint(&c, 1, &v) < 0)
			return "ServerHello without version";
		w->frame.version = (uint8_t)v;
		break;
	case WIRE_MSG_CLIENT_HELLO:
		if ((why = parse_client_hello(w, &c)) != NULL)
			return why;
		break;
	case WIRE_MSG_EMAIL_DELIVERED:
		if (cur_uint(&c, 3, &v) < 0)
			return "EmailDelivered truncated";
		w->frame.email = (uint32_t)v;
		break;
	case WIRE_MSG_ERROR:
		if ((why = parse_error(w, &c)) != NULL)
			return why;
		break;
	default:
		return "unexpected type";
	}
	if (c.left != 0)
		return "bytes after the last field";
	return NULL;
}

/* trace_headers content: TraceHeader entries (SMTPSEC.md 2.3). */
static const char *
parse_trace(struct wire *w, const uint8_t *p, size_t len)
{
	struct cur t = { p, len };

	w->frame.n_trace = 0;
	while (t.left > 0) {
		struct wire_header h;

		if (get_vec(&t, 2, &h.name) < 0 || get_vec(&t, 3, &h.value) < 0)
			return "trace header overruns its vector";
		if (w->frame.n_trace == w->lim.max_trace_headers)
			return "too many trace headers";
		w->trace = mem_grow(w->trace, &w->cap_trace, w->frame.n_trace, sizeof(*w->trace));
		w->trace[w->frame.n_trace++] = h;
	}
	w->frame.trace = w->trace;
	return NULL;
}

/* recipients content: one or more addresses. */
static const char *
parse_rcpt(struct wire *w, const uint8_t *p, size_t len)
{
	struct cur t = { p, len };

	w->frame.n_rcpt = 0;
	while (t.left > 0) {
		struct wire_bytes a;

		if (get_vec(&t, 2, &a) < 0)
			return "recipient overruns its vector";
		if (w->frame.n_rcpt == w->lim.max_recipients)
			return "too many recipients";
		if (a.len == 0)
			return "empty recipient address";
		if (a.len > w->lim.max_address_len)
			return "recipient address too long";
		w->rcpt = mem_grow(w->rcpt, &w->cap_rcpt, w->frame.n_rcpt, sizeof(*w->rcpt));
		w->rcpt[w->frame.n_rcpt++] = a;
	}
	w->frame.rcpt = w->rcpt;
	if (w->frame.n_rcpt == 0)
		return "Email without recipients";
	return NULL;
}

/*
 * The one walk over an Email's head (SMTPSEC.md 2.3: every field before the
 * message bytes), as far as b[0..have) goes.  Each field is checked, and
 * parsed into w->frame, as soon as all of its bytes are there; a vector
 * whose length prefix already breaks a limit is refused before its bytes
 * are buffered.  The walk starts over at the head's first byte on each call
 * (the views must point into the buffer as it is now), so it is the same
 * code whether the head came whole or one byte at a time.
 * Returns the number of bytes the head needs in all when more than `have`;
 * 0 when complete (*head_len_r and frame.message_len set); -1 with *why_r.
 * body_len is the frame's size less 9.
 */
static int64_t
email_head(struct wire *w, const uint8_t *b, size_t have, uint64_t body_len,
    size_t *head_len_r, const char **why_r)
{
	uint64_t off = 0, v, siglen;
	uint64_t max_rcpt_bytes = (uint64_t)w->lim.max_recipients * (2 + w->lim.max_address_len);
	struct cur c;

#define NEED(n) do {							\
		if (body_len - off < (n)) {				\
			*why_r = "Email fields overrun the frame";	\
			return -1;					\
		}							\
		if (have - off < (n))					\
			return (int64_t)(off + (n));			\
	} while (0)
#define RD(n) do { v = cur_be((b) + off, (n)); off += (n); } while (0)
#define CHECK(call) do {						\
		if ((*why_r = (call)) != NULL)				\
			return -1;					\
	} while (0)

	/* extensions<0..2^16-1> */
	NEED(2);
	RD(2);
	NEED(v);
	c.p = b + off - 2;
	c.left = 2 + (size_t)v;
	CHECK(parse_ext(w, &c));
	off += v;
	/* certificate_chain uint24, SignatureMethod */
	NEED(3 + 2 + 2);
	RD(3);
	w->frame.chain_index = (uint32_t)v;
	RD(2);
	w->frame.algorithm = (uint16_t)v;
	siglen = wire_alg_sig_len(w->frame.algorithm);
	if (siglen == 0) {
		*why_r = "unknown signature algorithm";
		return -1;
	}
	RD(2);
	if (v != 0) {
		*why_r = "signature parameters must be empty";
		return -1;
	}
	w->frame.parameters.p = b + off;
	w->frame.parameters.len = 0;
	NEED(siglen);
	w->frame.signature.p = b + off;
	w->frame.signature.len = (size_t)siglen;
	off += siglen;
	/* trace_headers<0..2^24-1> */
	NEED(3);
	RD(3);
	if (v > w->lim.max_trace_bytes) {
		*why_r = "trace headers too large";
		return -1;
	}
	NEED(v);
	CHECK(parse_trace(w, b + off, (size_t)v));
	off += v;
	/* recipients<0..2^24-1> */
	NEED(3);
	RD(3);
	if (v > max_rcpt_bytes) {
		*why_r = "recipients too large";
		return -1;
	}
	NEED(v);
	CHECK(parse_rcpt(w, b + off, (size_t)v));
	off += v;
	/* message<0..2^64-1>: only its length belongs to the head */
	NEED(8);
	RD(8);
	w->frame.message_len = v;
	*head_len_r = (size_t)off;
	return 0;
#undef NEED
#undef RD
#undef CHECK
}

/* Grow buf to hold cap bytes: 0, or -1 when the owner's budget refuses. */
static int
buf_need(struct wire *w, size_t cap)
{
	size_t want = cap;

	if (cap <= w->buf_cap)
		return 0;
	if (want < 4096)
		want = 4096;
	if (want < w->buf_cap * 2)
		want = w->buf_cap * 2;
	/* a large frame is held at its exact size, not doubled past it */
	if (want > cap && cap > WIRE_KEEP_BUF)
		want = cap;
	if (w->grow != NULL && w->grow(w->grow_arg, w->buf_cap, want) != 0)
		return -1;
	w->buf = mem_realloc(w->buf, want);
	w->buf_cap = want;
	return 0;
}

/* After a frame was handed out: a buffer grown for a large frame is not
 * kept for the rest of the session (an idle session holds 64 KiB at most). */
static void
buf_release(struct wire *w)
{
	w->buf_len = 0;
	if (w->buf_cap <= WIRE_KEEP_BUF)
		return;
	if (w->grow != NULL)
		(void)w->grow(w->grow_arg, w->buf_cap, 0);
	free(w->buf);
	w->buf = NULL;
	w->buf_cap = 0;
}

void
wire_release(struct wire *w)
{
	if (w->returned) {
		w->returned = 0;
		buf_release(w);
	}
}

void
wire_set_grow_cb(struct wire *w, wire_grow_cb *cb, void *arg)
{
	w->grow = cb;
	w->grow_arg = arg;
}

/* Start skipping the rest of the current frame; `seen` body bytes read. */
static void
start_skip(struct wire *w, uint64_t seen)
{
	w->skip_left = (w->size - 9) - seen;
	w->state = w->skip_left ? W_SKIP : W_HDR;
}

/* An error in the current frame, reported after `pos` input bytes: a fatal
 * one sticks; after any other, the rest of the frame (`seen` of its body
 * bytes read) is skipped. */
static int
frame_err(struct wire *w, enum wire_err_code code, int fatal, uint64_t seen, const char *why,
    size_t *consumed_r, size_t pos)
{
	w->err.code = code;
	w->err.fatal = fatal;
	w->err.number = w->frame.number;
	w->err.no_reference = 0;
	w->err.why = why;
	if (fatal)
		w->state = W_FATAL;
	else
		start_skip(w, seen);
	*consumed_r = pos;
	return -1;
}

int
wire_decode(struct wire *w, const uint8_t *in, size_t len,
    size_t *consumed_r, struct wire_frame *frame_r)
{
	size_t pos = 0;

	wire_release(w);	/* the last frame's views end here */
	*consumed_r = 0;
	if (w->state == W_FATAL)
		return -1;

	for (;;) {
		size_t avail = len - pos;

		switch (w->state) {
		case W_HDR: {
			size_t n = sizeof(w->hdr) - w->hdr_have;
			uint64_t size;

			if (n > avail)
				n = avail;
			if (n > 0)
				memcpy(w->hdr + w->hdr_have, in + pos, n);
			w->hdr_have += n;
			pos += n;
			if (w->hdr_have < sizeof(w->hdr)) {
				*consumed_r = pos;
				return 0;
			}
			w->hdr_have = 0;
			w->size = size = cur_be(w->hdr, 8);
			if (w->next_number > WIRE_NUMBER_MAX) {
				/* SMTPSEC.md 2.5: this Message would need number 2^24,
				 * which no reply can carry (and a wrapped one would
				 * name an earlier Email).  End the session as on
				 * shutdown: service_unavailable without a reference;
				 * the peer retries what was not answered. */
				frame_err(w, WIRE_ERR_SERVICE_UNAVAILABLE, 1, 0,
				    "message numbers exhausted (2^24 Messages on one connection)",
				    consumed_r, pos);
				w->err.number = WIRE_NUMBER_MAX;
				w->err.no_reference = 1;
				return -1;
			}
			memset(&w->frame, 0, sizeof(w->frame));
			w->frame.number = w->next_number++;
			w->frame.type = w->hdr[8];
			w->frame.require_security = -1;
			w->buf_len = 0;
			if (size < WIRE_FRAME_MIN)	/* SMTPSEC.md 7: framing is lost */
				return frame_err(w, WIRE_ERR_ILLEGAL_MESSAGE, 1, 0, "frame size below 11",
				    consumed_r, pos);
			if (w->hdr[8] > WIRE_MSG_EMAIL_DELIVERED)
				return frame_err(w, WIRE_ERR_ILLEGAL_MESSAGE, 0, 0, "unknown message type",
				    consumed_r, pos);
			if (w->hdr[8] == WIRE_MSG_EMAIL) {
				if (size > w->lim.max_message_size)
					return frame_err(w, WIRE_ERR_TOO_LARGE, 0, 0,
					    "Email larger than max_message_size", consumed_r, pos);
				w->state = W_EMAIL_HEAD;
			} else {
				if (size > w->lim.max_other_size)
					return frame_err(w, WIRE_ERR_TOO_LARGE, 1, 0,
					    "message larger than 1 MiB", consumed_r, pos);
				/* the owner refused to buffer the frame: internal_error,
				 * close (SMTPSEC.md 5) */
				if (buf_need(w, (size_t)(size - 9)) < 0)
					return frame_err(w, WIRE_ERR_INTERNAL_ERROR, 1, 0,
					    "worker buffer budget exhausted", consumed_r, pos);
				w->state = W_FRAME;
			}
			break;
		}

		case W_FRAME: {
			size_t want = (size_t)(w->size - 9) - w->buf_len;
			size_t n = want < avail ? want : avail;
			const char *why;

			if (n > 0)
				memcpy(w->buf + w->buf_len, in + pos, n);
			w->buf_len += n;
			pos += n;
			*consumed_r = pos;
			if (n < want)
				return 0;
			w->state = W_HDR;
			if ((why = parse_other(w)) != NULL)
				return frame_err(w, WIRE_ERR_ILLEGAL_PARAMETER, 0, w->buf_len, why,
				    consumed_r, pos);
			*frame_r = w->frame;
			w->returned = 1;
			return 1;
		}

		case W_EMAIL_HEAD: {
			size_t head_len = 0;
			uint64_t msg_len = 0;
			const char *why = NULL;
			int64_t need;

			need = email_head(w, w->buf, w->buf_len, w->size - 9, &head_len, &why);
			if (need < 0)
				return frame_err(w, WIRE_ERR_ILLEGAL_PARAMETER, 0, w->buf_len, why,
				    consumed_r, pos);
			if (need > 0) {
				size_t n = (size_t)need - w->buf_len;

				if (n > avail)
					n = avail;
				if (n == 0) {
					*consumed_r = pos;
					return 0;
				}
				if (buf_need(w, (size_t)need) < 0)
					return frame_err(w, WIRE_ERR_INTERNAL_ERROR, 1, 0,
					    "worker buffer budget exhausted", consumed_r, pos);
				memcpy(w->buf + w->buf_len, in + pos, n);
				w->buf_len += n;
				pos += n;
				break;
			}
			/* head complete: it and the message must fill the frame exactly */
			msg_len = w->frame.message_len;
			if (msg_len != (w->size - 9) - head_len)
				return frame_err(w, WIRE_ERR_ILLEGAL_PARAMETER, 0, w->buf_len,
				    msg_len > (w->size - 9) - head_len ?
				    "message overruns the frame" : "bytes after the message",
				    consumed_r, pos);
			w->msg_left = msg_len;
			if (msg_len == 0) {
				w->state = W_HDR;
				*consumed_r = pos;
				*frame_r = w->frame;
				w->returned = 1;
				return 1;
			}
			w->state = W_EMAIL_MSG;
			break;
		}

		case W_EMAIL_MSG: {
			size_t n = w->msg_left < avail ? (size_t)w->msg_left : avail;

			if (n > 0 && w->body != NULL)
				w->body(w->body_arg, &w->frame,
				    w->frame.message_len - w->msg_left, in + pos, n);
			w->msg_left -= n;
			pos += n;
			*consumed_r = pos;
			if (w->msg_left > 0)
				return 0;
			w->state = W_HDR;
			*frame_r = w->frame;
			w->returned = 1;
			return 1;
		}

		case W_SKIP: {
			size_t n = w->skip_left < avail ? (size_t)w->skip_left : avail;

			w->skip_left -= n;
			pos += n;
			if (w->skip_left > 0) {
				*consumed_r = pos;
				return 0;
			}
			w->state = W_HDR;
			break;
		}

		case W_FATAL:
			*consumed_r = pos;
			return -1;
		}
		if (pos == len && w->state != W_EMAIL_HEAD && w->state != W_EMAIL_MSG &&
		    !(w->state == W_FRAME && w->size - 9 == 0)) {
			*consumed_r = pos;
			return 0;
		}
	}
}

/* --- encoders ---------------------------------------------------------------
 * A vector's length prefix is written as 0 and set from what was written
 * after it (vec_end).  A length that does not fit its prefix fails the
 * frame, which frame_end then takes back out of the buffer. */

static void
put_uint(struct buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];

	cur_put_be(tmp, v, n);
	buf_add(b, tmp, n);
}

/* Set the pfx-byte (at most 4) length at `at` to the bytes after it: 0, or
 * -1 when they do not fit it (its low bytes are written all the same). */
static int
vec_end(struct buf *b, size_t at, size_t pfx)
{
	uint64_t n = b->len - at - pfx;

	cur_put_be(b->p + at, n, pfx);
	return n >> (8 * pfx) != 0 ? -1 : 0;
}

/* One field as a vector with a pfx-byte (at most 4) length: as vec_end. */
static int
put_vec(struct buf *b, size_t pfx, const uint8_t *p, size_t len)
{
	put_uint(b, len, pfx);
	buf_add(b, p, len);
	return (uint64_t)len >> (8 * pfx) != 0 ? -1 : 0;
}

/* size (set by frame_end), type and extensions; *start_r is where the
 * frame starts.  0, or -1 when the extensions overflow their vector. */
static int
put_start(struct buf *b, uint8_t type, const struct wire_ext_out *e, size_t *start_r)
{
	size_t at, i;

	*start_r = b->len;
	put_uint(b, 0, 8);
	put_uint(b, type, 1);
	at = b->len;
	put_uint(b, 0, 2);
	if (e != NULL && e->require_security >= 0) {
		put_uint(b, WIRE_EXT_REQUIRE_SECURITY, 1);
		put_uint(b, 1, 4);
		put_uint(b, (uint64_t)e->require_security, 1);
	}
	for (i = 0; e != NULL && i < e->n_extra; i++) {
		put_uint(b, e->extra[i].type, 1);
		(void)put_vec(b, 4, e->extra[i].data.p, e->extra[i].data.len);
	}
	return vec_end(b, at, 2);
}

/* The frame from start is written: set its size, or with `bad` take it
 * back out (-1, nothing written). */
static int
frame_end(struct buf *b, size_t start, int bad)
{
	if (bad) {
		b->len = start;
		return -1;
	}
	cur_put_be(b->p + start, b->len - start, 8);
	return 0;
}

void
wire_enc_server_hello(struct buf *b, const struct wire_ext_out *e, uint8_t version)
{
	size_t start;

	(void)put_start(b, WIRE_MSG_SERVER_HELLO, e, &start);
	put_uint(b, version, 1);
	(void)frame_end(b, start, 0);
}

int
wire_enc_client_hello(struct buf *b, const struct wire_ext_out *e, uint8_t version,
    const struct wire_chain *chains, size_t n_chains)
{
	size_t start, all, chain, i, j;
	int bad = put_start(b, WIRE_MSG_CLIENT_HELLO, e, &start);

	put_uint(b, version, 1);
	all = b->len;
	put_uint(b, 0, 3);
	for (i = 0; i < n_chains; i++) {
		chain = b->len;
		put_uint(b, 0, 2);
		for (j = 0; j < chains[i].n_certs; j++)
			bad |= put_vec(b, 3, chains[i].certs[j].p, chains[i].certs[j].len);
		bad |= vec_end(b, chain, 2);
	}
	bad |= vec_end(b, all, 3);
	return frame_end(b, start, bad);
}

void
wire_enc_email_delivered(struct buf *b, const struct wire_ext_out *e, uint32_t email)
{
	size_t start;

	(void)put_start(b, WIRE_MSG_EMAIL_DELIVERED, e, &start);
	put_uint(b, email, 3);
	(void)frame_end(b, start, 0);
}

void
wire_enc_error(struct buf *b, const struct wire_ext_out *e, uint8_t code, int64_t ref,
    const struct wire_bytes *addr, size_t n_addr)
{
	size_t start, all, i;

	(void)put_start(b, WIRE_MSG_ERROR, e, &start);
	put_uint(b, code, 1);
	put_uint(b, ref >= 0 ? 1 : 0, 1);
	if (ref >= 0)
		put_uint(b, (uint64_t)ref, 3);
	if (code == WIRE_ERR_UNKNOWN_ADDRESS) {
		all = b->len;
		put_uint(b, 0, 2);
		for (i = 0; i < n_addr; i++)
			if ((b->len - all - 2) + 2 + addr[i].len <= 0xffff)	/* what fits */
				(void)put_vec(b, 2, addr[i].p, addr[i].len);
		(void)vec_end(b, all, 2);
	}
	(void)frame_end(b, start, 0);
}

int
wire_enc_email(struct buf *b, const struct wire_ext_out *e,
    const struct wire_email_out *m, const uint8_t *msg, size_t msg_len)
{
	size_t start, all, i;
	int bad = put_start(b, WIRE_MSG_EMAIL, e, &start);

	if (m->chain_index > 0xffffff)
		bad = -1;
	put_uint(b, m->chain_index, 3);
	put_uint(b, m->algorithm, 2);
	bad |= put_vec(b, 2, m->parameters.p, m->parameters.len);
	buf_add(b, m->signature.p, m->signature.len);
	all = b->len;
	put_uint(b, 0, 3);
	for (i = 0; i < m->n_trace; i++) {
		bad |= put_vec(b, 2, m->trace[i].name.p, m->trace[i].name.len);
		bad |= put_vec(b, 3, m->trace[i].value.p, m->trace[i].value.len);
	}
	bad |= vec_end(b, all, 3);
	all = b->len;
	put_uint(b, 0, 3);
	for (i = 0; i < m->n_rcpt; i++)
		bad |= put_vec(b, 2, m->rcpt[i].p, m->rcpt[i].len);
	bad |= vec_end(b, all, 3);
	/* the frame's size must fit its 64 bits */
	if (bad || msg_len > UINT64_MAX - (b->len - start) - 64)
		return frame_end(b, start, -1);
	put_uint(b, msg_len, 8);
	buf_add(b, msg, msg_len);
	return frame_end(b, start, 0);
}
