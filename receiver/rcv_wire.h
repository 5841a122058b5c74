/*
 * rcv_wire: the SMTPsec wire codec (SMTPSEC.md section 2).
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
#ifndef RCV_WIRE_H
#define RCV_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* SMTPSEC.md 2.1 */
enum rcv_msg_type {
	RCV_MSG_ERROR = 0,
	RCV_MSG_SERVER_HELLO = 1,
	RCV_MSG_CLIENT_HELLO = 2,
	RCV_MSG_EMAIL = 3,
	RCV_MSG_EMAIL_DELIVERED = 4,
};

enum rcv_ext_type {
	RCV_EXT_REQUIRE_SECURITY = 0,
};

/* SMTPSEC.md 2.5 */
enum rcv_err_code {
	RCV_ERR_INTERNAL_ERROR = 0,
	RCV_ERR_SERVICE_UNAVAILABLE = 1,
	RCV_ERR_ILLEGAL_MESSAGE = 2,
	RCV_ERR_ILLEGAL_PARAMETER = 3,
	RCV_ERR_TOO_LARGE = 4,
	RCV_ERR_AUTHENTICATION_FAILED = 5,
	RCV_ERR_INSUFFICIENT_SECURITY = 6,
	RCV_ERR_UNKNOWN_ADDRESS = 7,
};
#define RCV_ERR__MAX RCV_ERR_UNKNOWN_ADDRESS

/* SMTPSEC.md 2.4 */
enum rcv_sig_alg {
	RCV_SIG_ECDSA_P256_SHA256 = 0x0403,
	RCV_SIG_ECDSA_P384_SHA384 = 0x0503,
	RCV_SIG_ECDSA_P521_SHA512 = 0x0603,
	RCV_SIG_ED25519 = 0x0807,
	RCV_SIG_ED448 = 0x0808,
};

/* Limits (SMTPSEC.md section 7).  rcv_wire_limits_default() fills the spec's
 * defaults. */
struct rcv_wire_limits {
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
 * Message that would need a larger one (see rcv_wire_error.no_reference). */
#define RCV_WIRE_NUMBER_MAX 0xFFFFFFu

struct rcv_bytes {
	const uint8_t *p;	/* borrowed */
	size_t len;
};

struct rcv_ext {
	uint8_t type;
	struct rcv_bytes data;
};

struct rcv_header {
	struct rcv_bytes name, value;
};

struct rcv_chain {
	size_t n_certs;
	const struct rcv_bytes *certs;	/* DER, leaf first */
};

/* A decoded Message.  Which fields are set depends on type. */
struct rcv_frame {
	enum rcv_msg_type type;
	uint32_t number;	/* zero-based count of the peer's Messages */
	uint64_t size;		/* the frame's size field */
	size_t n_ext;
	const struct rcv_ext *ext;
	int require_security;	/* -1 absent, else 0 or 1 */

	uint8_t version;	/* ServerHello, ClientHello */

	size_t n_chains;	/* ClientHello */
	const struct rcv_chain *chains;

	uint32_t chain_index;	/* Email */
	uint16_t algorithm;
	struct rcv_bytes parameters;
	struct rcv_bytes signature;
	size_t n_trace;
	const struct rcv_header *trace;
	size_t n_rcpt;
	const struct rcv_bytes *rcpt;
	uint64_t message_len;	/* the body went to the body callback */

	uint32_t email;		/* EmailDelivered */

	uint8_t code;		/* Error */
	int has_ref;
	uint32_t ref;
	size_t n_addr;
	const struct rcv_bytes *addr;
};

/*
 * Body callback: called for each chunk of an Email's message field, in
 * order, after the Email's head has been decoded (head points at the frame
 * with every field but the body; valid during the call).  offset is where
 * this chunk starts in the message.  Not called for Emails that fail.
 */
typedef void rcv_wire_body_cb(void *arg, const struct rcv_frame *head,
    uint64_t offset, const uint8_t *p, size_t n);

struct rcv_wire;

void rcv_wire_limits_default(struct rcv_wire_limits *lim_r);

/* Create a decoder.  The limits are copied. */
struct rcv_wire *rcv_wire_new(const struct rcv_wire_limits *lim,
    rcv_wire_body_cb *body, void *body_arg);
void rcv_wire_free(struct rcv_wire **w_p);

/*
 * Decode from buf[0..len).  *consumed_r is set to the bytes used; the
 * caller passes the rest again on its next call.
 * Returns 1: a frame is in *frame_r (views valid until the next call);
 *         0: all input consumed, need more;
 *        -1: error, see rcv_wire_error().  Recoverable errors are reported
 *            once, then decoding goes on; fatal ones stick.
 */
int rcv_wire_decode(struct rcv_wire *w, const uint8_t *buf, size_t len,
    size_t *consumed_r, struct rcv_frame *frame_r);

struct rcv_wire_error {
	enum rcv_err_code code;	/* the Error to reply with */
	int fatal;		/* framing lost: reply, then close */
	uint32_t number;	/* the Message it refers to */
	int no_reference;	/* reply without a reference: the Message has no
				 * number (numbers exhausted: service_unavailable, fatal) */
	const char *why;	/* short reason, static or decoder-owned */
};

/* The last error (valid after rcv_wire_decode returned -1). */
const struct rcv_wire_error *rcv_wire_error(const struct rcv_wire *w);

/*
 * Memory the decoder holds for a partly received non-Email frame or Email
 * head.  Before growing its buffer from `have` to `want` bytes it asks
 * grow(); -1 refuses, and the frame fails with internal_error, fatal
 * (SMTPSEC.md 5: a resource failure in the gateway; the caller closes).
 * A buffer grown past RCV_WIRE_KEEP_BUF is released (grow(arg, have, 0),
 * result ignored) at the next call after its frame was returned.
 */
#define RCV_WIRE_KEEP_BUF	(64 * 1024)
typedef int rcv_wire_grow_cb(void *arg, size_t have, size_t want);
void rcv_wire_set_grow_cb(struct rcv_wire *w, rcv_wire_grow_cb *cb, void *arg);
/* The caller is done with the last frame's views: release a large buffer
 * now, not at the next call (an idle session would keep it). */
void rcv_wire_release(struct rcv_wire *w);
/* Bytes the decoder's buffer holds now (its capacity). */
size_t rcv_wire_buffered(const struct rcv_wire *w);

/* Number the next Message will get. */
uint32_t rcv_wire_next_number(const struct rcv_wire *w);

/* 1 when the decoder is between frames (nothing partly read). */
int rcv_wire_idle(const struct rcv_wire *w);

/* Signature length for an algorithm (SMTPSEC.md 2.4), 0 if unknown. */
size_t rcv_wire_sig_len(uint16_t alg);
const char *rcv_wire_alg_name(uint16_t alg);
/* 0 and *alg_r set when name is one of the table's names. */
int rcv_wire_alg_by_name(const char *name, uint16_t *alg_r);
const char *rcv_wire_err_name(unsigned code);
const char *rcv_wire_type_name(unsigned type);

/* --- encoders ------------------------------------------------------------ */

/* Extensions to send: require_security (-1 = none), then extra[] as given. */
struct rcv_ext_out {
	int require_security;
	size_t n_extra;
	const struct rcv_ext *extra;
};

void rcv_wire_enc_server_hello(struct buf *b, const struct rcv_ext_out *ext,
    uint8_t version);
/* Returns -1 (nothing written) when a chain or the list overflows its vector. */
int rcv_wire_enc_client_hello(struct buf *b, const struct rcv_ext_out *ext,
    uint8_t version, const struct rcv_chain *chains, size_t n_chains);
void rcv_wire_enc_email_delivered(struct buf *b, const struct rcv_ext_out *ext,
    uint32_t email);
/* ref < 0: no reference. */
void rcv_wire_enc_error(struct buf *b, const struct rcv_ext_out *ext,
    uint8_t code, int64_t ref, const struct rcv_bytes *addr, size_t n_addr);

struct rcv_email_out {
	uint32_t chain_index;
	uint16_t algorithm;
	struct rcv_bytes parameters;
	struct rcv_bytes signature;	/* must be rcv_wire_sig_len(algorithm) long */
	const struct rcv_header *trace;
	size_t n_trace;
	const struct rcv_bytes *rcpt;
	size_t n_rcpt;
};

/* Everything of an Email up to and including the message length; the
 * caller appends (or streams) exactly message_len body bytes after it.
 * Returns -1 (nothing written) when a field is too long for its vector. */
int rcv_wire_enc_email_head(struct buf *b, const struct rcv_ext_out *ext,
    const struct rcv_email_out *e, uint64_t message_len);
int rcv_wire_enc_email(struct buf *b, const struct rcv_ext_out *ext,
    const struct rcv_email_out *e, const uint8_t *msg, size_t msg_len);

#endif
