/*
 * wire: the SMTPsec wire codec (SMTPSEC.md section 2), its own layer: the
 * gateway and smtpsec-send both use it, so it lives outside receiver/ and
 * includes only base/ (buffers, allocation) and its algorithm table
 * (wire_alg.h).  Step 1's trace-header syntax check is here too
 * (wire_trace_valid): it is a property of the frame's fields.
 *
 * One incremental decoder with no I/O inside (hiredis redisReader style):
 * feed it whatever bytes arrived; it returns 1 when a frame is complete,
 * 0 when it needs more, -1 on an error.  Fields come back as (pointer,
 * length) views into the decoder's own buffer or the caller's input, valid
 * until the next call.  An Email's `message` field is never buffered: it is
 * streamed to the body callback in the chunks it arrives in, so an Email of
 * any size costs a bounded amount of decoder memory (the "head" before the
 * message is bounded by the limits).
 *
 * Errors: a recoverable error (bad field, framing intact) is reported once;
 * the next call skips the rest of that frame by its size and goes on.  A
 * fatal one (framing lost, or a non-Email frame too large to buffer) is
 * sticky: every later call returns -1.  Each error carries the ErrorCode to
 * reply with and the number of the message it refers to.
 *
 * Encoders append whole frames to a growable buffer.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wire/wire_alg.h"

/* SMTPSEC.md 2.1 */
enum wire_msg_type {
	WIRE_MSG_ERROR = 0,
	WIRE_MSG_SERVER_HELLO = 1,
	WIRE_MSG_CLIENT_HELLO = 2,
	WIRE_MSG_EMAIL = 3,
	WIRE_MSG_EMAIL_DELIVERED = 4,
};

enum wire_ext_type {
	WIRE_EXT_REQUIRE_SECURITY = 0,
};

/* SMTPSEC.md 2.5 */
enum wire_err_code {
	WIRE_ERR_INTERNAL_ERROR = 0,
	WIRE_ERR_SERVICE_UNAVAILABLE = 1,
	WIRE_ERR_ILLEGAL_MESSAGE = 2,
	WIRE_ERR_ILLEGAL_PARAMETER = 3,
	WIRE_ERR_TOO_LARGE = 4,
	WIRE_ERR_AUTHENTICATION_FAILED = 5,
	WIRE_ERR_INSUFFICIENT_SECURITY = 6,
	WIRE_ERR_UNKNOWN_ADDRESS = 7,
};

/* Limits (SMTPSEC.md section 7).  wire_limits_default() fills the spec's
 * defaults. */
struct wire_limits {
	uint64_t max_message_size;	/* Email frame, bytes: 50 MiB */
	uint64_t max_other_size;	/* any other frame: 1 MiB */
	unsigned max_chains;		/* per ClientHello: 16 */
	unsigned max_certs;		/* per chain: 10 */
	size_t max_cert_bytes;		/* per certificate: 64 KiB */
	unsigned max_recipients;	/* per Email: 1000 */
	size_t max_address_len;		/* per address: 320 (RFC 5321 4.5.3.1) */
	unsigned max_trace_headers;	/* per Email: 100 */
	size_t max_trace_bytes;		/* trace_headers vector: 64 KiB */
	unsigned max_extensions;	/* per Message: 16 */
	uint32_t first_number;		/* number of the first Message: 0 (tests start later) */
};

/* SMTPSEC.md 2.5: message numbers are uint24.  The decoder refuses a
 * Message that would need a larger one (see wire_error.no_reference). */
#define WIRE_NUMBER_MAX 0xFFFFFFu

struct wire_bytes {
	const uint8_t *p;	/* borrowed */
	size_t len;
};

struct wire_ext {
	uint8_t type;
	struct wire_bytes data;
};

struct wire_header {
	struct wire_bytes name, value;
};

struct wire_chain {
	size_t n_certs;
	const struct wire_bytes *certs;	/* DER, leaf first */
};

/* A decoded Message.  Which fields are set depends on type. */
struct wire_frame {
	enum wire_msg_type type;
	uint32_t number;	/* zero-based count of the peer's Messages */
	size_t n_ext;
	const struct wire_ext *ext;
	int require_security;	/* -1 absent, else 0 or 1 */

	uint8_t version;	/* ServerHello, ClientHello */

	size_t n_chains;	/* ClientHello */
	const struct wire_chain *chains;

	uint32_t chain_index;	/* Email */
	uint16_t algorithm;
	struct wire_bytes parameters;
	struct wire_bytes signature;
	size_t n_trace;
	const struct wire_header *trace;
	size_t n_rcpt;
	const struct wire_bytes *rcpt;
	uint64_t message_len;	/* the body went to the body callback */

	uint32_t email;		/* EmailDelivered */

	uint8_t code;		/* Error */
	int has_ref;
	uint32_t ref;
	size_t n_addr;
	const struct wire_bytes *addr;
};

/*
 * Body callback: called for each chunk of an Email's message field, in
 * order, after the Email's head has been decoded (head points at the frame
 * with every field but the body; valid during the call).  offset is where
 * this chunk starts in the message.  Not called for Emails that fail.
 */
typedef void wire_body_cb(void *arg, const struct wire_frame *head,
    uint64_t offset, const uint8_t *p, size_t n);

struct wire;

void wire_limits_default(struct wire_limits *lim_r);

/* Create a decoder.  The limits are copied. */
struct wire *wire_new(const struct wire_limits *lim,
    wire_body_cb *body, void *body_arg);
void wire_free(struct wire **w_p);

/*
 * Decode from buf[0..len).  *consumed_r is set to the bytes used; the
 * caller passes the rest again on its next call.
 * Returns 1: a frame is in *frame_r (views valid until the next call);
 *         0: all input consumed, need more;
 *        -1: error, see wire_error().  Recoverable errors are reported
 *            once, then decoding goes on; fatal ones stick.
 */
int wire_decode(struct wire *w, const uint8_t *buf, size_t len,
    size_t *consumed_r, struct wire_frame *frame_r);

struct wire_error {
	enum wire_err_code code;	/* the Error to reply with */
	int fatal;		/* framing lost: reply, then close */
	uint32_t number;	/* the Message it refers to */
	int no_reference;	/* reply without a reference: the Message has no
				 * number (numbers exhausted: service_unavailable, fatal) */
	const char *why;	/* short reason, static or decoder-owned */
};

/* The last error (valid after wire_decode returned -1). */
const struct wire_error *wire_error(const struct wire *w);

/*
 * Memory the decoder holds for a partly received non-Email frame or Email
 * head.  Before growing its buffer from `have` to `want` bytes it asks
 * grow(); -1 refuses, and the frame fails with internal_error, fatal
 * (SMTPSEC.md 5: a resource failure in the gateway; the caller closes).
 * A buffer grown past WIRE_KEEP_BUF is released (grow(arg, have, 0),
 * result ignored) at the next call after its frame was returned.
 */
#define WIRE_KEEP_BUF	(64 * 1024)
typedef int wire_grow_cb(void *arg, size_t have, size_t want);
void wire_set_grow_cb(struct wire *w, wire_grow_cb *cb, void *arg);
/* The caller is done with the last frame's views: release a large buffer
 * now, not at the next call (an idle session would keep it). */
void wire_release(struct wire *w);

/* 1 when the decoder is between frames (nothing partly read). */
int wire_idle(const struct wire *w);

const char *wire_err_name(unsigned code);

/* A field name must fit a header line (RFC 5322 2.1.1). */
#define WIRE_TRACE_NAME_MAX 900

/*
 * Step 1 for one trace header (SMTPSEC.md 4 step 1, 8 item 4): a field name
 * of printable ASCII without ':', a value whose only CR/LF are folds (CRLF
 * then SP or HTAB), no NUL.  Returns 0, or -1 with a short reason.
 */
int wire_trace_valid(const struct wire_header *h, const char **why_r);

/* --- encoders ------------------------------------------------------------ */

/* Extensions to send: require_security (-1 = none), then extra[] as given. */
struct wire_ext_out {
	int require_security;
	size_t n_extra;
	const struct wire_ext *extra;
};

void wire_enc_server_hello(struct buf *b, const struct wire_ext_out *ext,
    uint8_t version);
/* Returns -1 (nothing written) when a chain or the list overflows its vector. */
int wire_enc_client_hello(struct buf *b, const struct wire_ext_out *ext,
    uint8_t version, const struct wire_chain *chains, size_t n_chains);
void wire_enc_email_delivered(struct buf *b, const struct wire_ext_out *ext,
    uint32_t email);
/* ref < 0: no reference. */
void wire_enc_error(struct buf *b, const struct wire_ext_out *ext,
    uint8_t code, int64_t ref, const struct wire_bytes *addr, size_t n_addr);

struct wire_email_out {
	uint32_t chain_index;
	uint16_t algorithm;
	struct wire_bytes parameters;
	struct wire_bytes signature;	/* must be wire_alg_sig_len(algorithm) long */
	const struct wire_header *trace;
	size_t n_trace;
	const struct wire_bytes *rcpt;
	size_t n_rcpt;
};

/* Returns -1 (nothing written) when a field is too long for its vector. */
int wire_enc_email(struct buf *b, const struct wire_ext_out *ext,
    const struct wire_email_out *e, const uint8_t *msg, size_t msg_len);

#endif
