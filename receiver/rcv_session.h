/*
 * rcv_session: the protocol side of one connection (SMTPSEC.md 3, 5, 7),
 * without TLS or sockets.  Decoded bytes go in (rcv_session_input); reply
 * bytes and events come out through struct rcv_session_ops: keep the
 * ClientHello's chains, stream this body, verify this Email (steps 2-9),
 * deliver this Email (step 10).  The owner answers verify and deliver,
 * synchronously or later, with rcv_session_verified/_fail/_delivered, then
 * calls rcv_session_flush, which hands completed replies to ops->send in
 * the order the Emails arrived.
 *
 * The session owns its decoder, reply queue and Emails (bodies: memory up
 * to memory_threshold, then an unlinked file in spool_dir).  Everything it
 * holds for peer data is charged to the worker's buffer budget through
 * ops->charge.
 */
#ifndef RCV_SESSION_H
#define RCV_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

struct lmtp_result;
struct rcv_server_stats;

/* SMTPSEC.md 3: one state, each with its handler in rcv_session.c */
enum rcv_sess_state {
	RCV_SESS_HELLO = 0,	/* ServerHello sent, waiting for the ClientHello */
	RCV_SESS_EMAILS,	/* receiving Emails */
	RCV_SESS_CLOSING,	/* no more input; in-flight Emails finish, then close */
	RCV_SESS_SHUTDOWN,	/* like CLOSING, then service_unavailable without reference */
	RCV_SESS_DONE,		/* everything answered: flush and close */
};

/* An Email between its head and its reply.  Fields the owner may read. */
struct rcv_sess_email {
	struct rcv_session *s;
	uint32_t n;			/* its message number */
	char **rcpt;			/* owned, NUL-terminated copies */
	size_t n_rcpt;
	struct wire_header *trace;	/* owned copies */
	size_t n_trace;
	int require_security;		/* -1 absent, 0, 1 */
	const uint8_t *msg;		/* the whole body once the Email is complete */
	uint64_t len;
	int body_8bit;			/* some message byte >= 0x80 */
	int body_mapped;		/* msg is an mmap'd spool file */
	const char *trust;		/* static, "-" until verified */
	char from_domain[256];		/* F, "" until the owner knows it (step 4) */
	void *op;			/* owned by the ops (freed in ops->email_free) */

	/* private */
	struct rcv_rq_ent *rq;
	uint8_t *mem;
	size_t mem_len, mem_cap, held;
	int spilled_early, fd, body_err, body_errno;
	uint8_t *map;
	uint64_t t0;
	struct rcv_sess_email *next;
	struct rcv_sess_email **pprev;	/* in s->inflight: what points at it; else NULL */
};

struct rcv_session_ops {
	/* reply bytes to send, in order */
	void (*send)(void *arg, const uint8_t *p, size_t n);
	/* move *held to want bytes of the worker's buffer budget: 0, or -1
	 * (nothing changed) when growing is refused; shrinking always works */
	int (*charge)(void *arg, size_t *held, size_t want);
	/* for log lines: what the worker holds of its budget, and the budget */
	void (*budget)(void *arg, unsigned long long *held_r, unsigned long long *budget_r);
	/* a version 0 ClientHello: keep its chains; 0, or -1 when there is no
	 * room (internal_error, close) */
	int (*hello)(void *arg, const struct wire_frame *f);
	/* each chunk of an Email's body as it arrives (head: its head fields),
	 * only after the ClientHello */
	void (*body)(void *arg, struct rcv_sess_email *e, const struct wire_frame *head,
	    const uint8_t *p, size_t n);
	/* steps 2-9 for a complete Email (f valid during the call); answer with
	 * rcv_session_verified() or rcv_session_fail() */
	void (*verify)(void *arg, struct rcv_sess_email *e, const struct wire_frame *f);
	/* step 10; answer with rcv_session_delivered() or rcv_session_fail() */
	void (*deliver)(void *arg, struct rcv_sess_email *e);
	/* the Email is going away: cancel what is outstanding, free e->op */
	void (*email_free)(void *arg, struct rcv_sess_email *e);
};

struct rcv_session_params {
	const struct wire_limits *lim;
	uint64_t memory_threshold;	/* bodies above it go to a file */
	const char *spool_dir;		/* borrowed: where that file is made */
	unsigned long long id;		/* the connection id, for log lines */
	const char *ip;			/* borrowed: the client's address, for log lines */
	struct rcv_server_stats *st;	/* borrowed: counters */
};

struct rcv_rq {
	struct rcv_rq_ent *head, *tail;
	size_t n;
};

struct rcv_session {
	enum rcv_sess_state state;
	struct rcv_session_params p;
	const struct rcv_session_ops *ops;
	void *arg;
	struct wire *w;		/* owned */
	size_t held_wire;		/* the decoder's buffer, charged to the budget */
	struct rcv_rq rq;
	struct rcv_sess_email *cur;	/* owned: the Email whose body is arriving */
	struct rcv_sess_email *inflight;/* owned: read, not answered */
	size_t n_inflight;
	unsigned n_errors;		/* protocol errors so far */
	const char *close_reason;	/* static */
	uint64_t emails;
	uint64_t replies;		/* reply frames handed to ops->send */
};

/* The session's own limits (SMTPSEC.md 7 adds these for the gateway). */
#define RCV_SESS_MAX_INFLIGHT	64	/* Emails read but not answered: stop reading */
#define RCV_SESS_MAX_QUEUED	1024	/* replies not yet sent: stop reading */
#define RCV_SESS_MAX_ERRORS	100	/* protocol errors, then close (smtpd_hard_error_limit) */

struct rcv_session *rcv_session_new(const struct rcv_session_params *p,
    const struct rcv_session_ops *ops, void *arg);
/* Free the session and its Emails (ops->email_free cancels their work). */
void rcv_session_free(struct rcv_session **s_p);

/* SMTPSEC.md 3.1: the TLS handshake is done: send ServerHello. */
void rcv_session_start(struct rcv_session *s);
/* Bytes from the peer.  Nothing is kept back: past a close, input is dropped. */
void rcv_session_input(struct rcv_session *s, const uint8_t *p, size_t n);
/* The peer sent its last byte (reason: static, for the close line). */
void rcv_session_eof(struct rcv_session *s, const char *reason);
/* SIGTERM: in-flight Emails finish, then service_unavailable, close. */
void rcv_session_shutdown(struct rcv_session *s);
/* The idle timer fired: 0 busy (restart it), 1 the goodbye is queued
 * (allow a grace for the flush), -1 close now. */
int rcv_session_idle(struct rcv_session *s);
/* Hand the completed replies at the head of the queue to ops->send. */
void rcv_session_flush(struct rcv_session *s);

/* 1 while input is wanted now (reading, under the in-flight caps). */
int rcv_session_wants_input(const struct rcv_session *s);
/* 1 while the session takes input at all (else input is discarded). */
int rcv_session_reading(const struct rcv_session *s);
/* 1 when the decoder is between frames. */
int rcv_session_between_frames(const struct rcv_session *s);

/* Answers to ops->verify and ops->deliver.  Each may free e. */
void rcv_session_verified(struct rcv_sess_email *e, const char *trust);
void rcv_session_fail(struct rcv_sess_email *e, unsigned code, const char *step, const char *why);
void rcv_session_delivered(struct rcv_sess_email *e, const struct lmtp_result *res);

/* --- reply queue: replies may complete out of order; they leave in
 * arrival order ---------------------------------------------------------- */
struct rcv_rq_ent {
	uint32_t number;	/* message number it answers */
	uint8_t *bytes;		/* encoded reply, owned; NULL until complete */
	size_t len;
	struct rcv_rq_ent *next;
};

struct rcv_rq_ent *rcv_rq_push(struct rcv_rq *q, uint32_t number);
/* Mark an entry complete with its encoded reply (taken: b is empty after). */
void rcv_rq_complete(struct rcv_rq_ent *e, struct buf *b);
/* Pop the completed entries at the head, appending their bytes to out.
 * Returns how many were popped. */
size_t rcv_rq_drain(struct rcv_rq *q, struct buf *out);
void rcv_rq_free(struct rcv_rq *q);

#endif
