/*
 * lmtp.h: the public interface of the delivery library (SMTPSEC.md 5, 8).
 *
 *  - lmtp_copy_*: the delivered copy: the header block prepended above the
 *    signed message (Received, Authentication-Results, SMTPsec-Used,
 *    whitelisted trace headers) and the renaming of forged
 *    Authentication-Results fields, as a list of segments so the body is
 *    never copied.
 *  - lmtp_deliver: asynchronous LMTP delivery on libev from a pool of
 *    sessions, with per-recipient outcomes.
 *  - the durable spool for recipients that got 4xx after the data.
 *
 * The library never logs and never claims a delivery the server did not
 * confirm: a recipient's status is LMTP_RCPT_TEMPFAIL (the zero value)
 * unless a 2xx after the data, a 5xx, or an fsync'd spool write says
 * otherwise.
 */
#ifndef LMTP_H
#define LMTP_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct wire_header;		/* wire/wire.h: a trace header as received */

/* --- delivered copy (SMTPSEC.md 8) ------------------------------------------- */

struct lmtp_seg {
	const uint8_t *p;	/* borrowed */
	size_t len;
};

struct lmtp_copy_info {
	const char *authserv_id;
	const char *const *authserv_also;	/* more ids treated as ours (renamed) */
	size_t n_authserv_also;
	const char *hostname;		/* this gateway */
	const char *sender_host;	/* D: the SRV target the name matched */
	const char *cert_name;		/* the name the certificate was matched on */
	const char *client_ip;
	const char *id;			/* queue id for the Received header */
	const char *tls_version, *tls_cipher;
	const char *from_domain;	/* F */
	const char *trust;		/* dane-ee | dane-ta | pkix-ee | pkix+ct */
	int require_security;		/* -1 absent, 0, 1 */
	int64_t date;			/* unix time for the Received date */
	const char *const *trace_allow;	/* whitelist, "X-*" style */
	size_t n_trace_allow;
};

#define LMTP_COPY_MAX_SEGS 64

struct lmtp_copy {
	char *head;			/* owned: the prepended block */
	size_t head_len;
	size_t n_seg;			/* head, then body ranges and renames */
	struct lmtp_seg seg[LMTP_COPY_MAX_SEGS];
	size_t total;			/* bytes of all segments */
};

/* Build the delivered copy of msg (borrowed; must outlive the copy).
 * Returns 0, or -1 with a reason when a trace header is invalid (the
 * Email is illegal_parameter). */
int lmtp_copy_build(const struct lmtp_copy_info *info, const struct wire_header *trace,
    size_t n_trace, const uint8_t *msg, size_t msg_len, struct lmtp_copy *copy_r,
    const char **why_r);
void lmtp_copy_free(struct lmtp_copy *copy);

/* 1 when a trace header's name is on the list and is not one of the names
 * never taken from trace headers (SMTPSEC.md 8, item 4; the syntax check is
 * wire_trace_valid in the codec). */
int lmtp_trace_allowed(const char *const *allow, size_t n_allow, const uint8_t *name, size_t len);

/* --- LMTP client ---------------------------------------------------------------- */

/* One spool retry's outcome, or an entry moved aside (the library never
 * logs: the receiver does, from lmtp_options.spool_cb). */
struct lmtp_spool_event {
	const char *entry;		/* file name in spool_dir */
	const char *from;		/* "" when the entry was unreadable */
	const char *result;		/* delivered | deferred | bounced | expired | unreadable |
					 * rewrite_failed */
	unsigned attempt;		/* 1 for the first retry from the spool */
	size_t n_delivered, n_deferred, n_bounced;
	const char *why;		/* the last reply or failure, "" if none */
	unsigned next_s;		/* deferred: seconds to the next retry */
	uint64_t record_us;		/* reply received -> entry removed/rewritten
					 * durably: the duplicate window (README) */
};

struct lmtp_options {
	const char *target;		/* unix:/path or host:port */
	const char *lhlo_name;		/* our name in LHLO */
	unsigned connections;		/* pool size; 0 = 8 */
	unsigned timeout_ms;		/* connect and each reply; 0 = 60000 */
	unsigned idle_ms;		/* close idle sessions after; 0 = 30000 */
	const char *spool_dir;		/* NULL: no spool (4xx after data = tempfail) */
	unsigned spool_retry_ms;	/* first retry; doubles up to 1 h; 0 = 60000 */
	uint64_t spool_max_age_ms;	/* then moved to spool_dir/failed; 0 = 5 days */
	int no_chunking;		/* tests: use DATA even when CHUNKING is offered */
	/* every spool retry's outcome; may be NULL */
	void (*spool_cb)(void *arg, const struct lmtp_spool_event *ev);
	void *spool_arg;
};

enum lmtp_rcpt_status {
	LMTP_RCPT_TEMPFAIL = 0,		/* not delivered (fail-closed zero value) */
	LMTP_RCPT_DELIVERED,		/* 2xx after the data */
	LMTP_RCPT_REJECTED,		/* 5xx at RCPT or after the data */
	LMTP_RCPT_SPOOLED,		/* 4xx after the data, fsync'd to the spool */
};

struct lmtp_rcpt_result {
	enum lmtp_rcpt_status status;
	int code;			/* last reply code, 0 if none */
	char text[160];			/* last reply text, sanitized */
};

struct lmtp_result {
	int tempfail;			/* whole Email: nothing delivered */
	int permfail;			/* with tempfail: and never will be here: the
					 * author address cannot be written for this
					 * server (lmtp_addr_smtp, SMTPUTF8) */
	const char *why;		/* for tempfail / summary */
	size_t n_rcpt;
	const struct lmtp_rcpt_result *rcpt;
	uint64_t latency_us;
};

struct lmtp_msg {
	const char *mail_from;		/* the authenticated author address */
	const char *const *rcpt;
	size_t n_rcpt;
	const struct lmtp_seg *seg;	/* the delivered copy, borrowed until the callback */
	size_t n_seg;
	/* Optional: the original message the segments point into.  body_8bit
	 * (-1 unknown, 0 all bytes < 0x80, 1 some are not) saves scanning it;
	 * body_mapped says it is a read-only file mapping whose pages may be
	 * dropped (MADV_DONTNEED) once sent, so a large Email does not stay
	 * resident while it streams to the mailstore. */
	const uint8_t *body;
	size_t body_len;
	int body_8bit;
	int body_mapped;
};

typedef void lmtp_cb(void *arg, const struct lmtp_result *res);

struct lmtp;
struct lmtp_tx;

int lmtp_init(struct lmtp **l_r, struct ev_loop *loop, const struct lmtp_options *opt,
    char *err, size_t errlen);
void lmtp_deinit(struct lmtp **l_p);
/* Reload: a new target (and reply timeout, 0 = keep) for new sessions.
 * Transactions on the wire finish on the old target; idle sessions to it
 * are closed.  0, or -1 with a reason (nothing changed). */
int lmtp_reconfigure(struct lmtp *l, const char *target, unsigned timeout_ms, char *err,
    size_t errlen);

/* Start a delivery; the callback runs exactly once, never before this
 * returns.  The message and its segments must stay valid until then. */
struct lmtp_tx *lmtp_deliver(struct lmtp *l, const struct lmtp_msg *m, lmtp_cb *cb, void *arg);
/* Drop interest in a delivery: the callback will not run.  A transaction
 * already on the wire is finished (or aborted) quietly. */
void lmtp_cancel(struct lmtp_tx **tx_p);

/* Spool entries waiting (0 without a spool); every retry's outcome goes
 * to lmtp_options.spool_cb. */
uint64_t lmtp_spool_depth(const struct lmtp *l);

/* An address (local@domain; the local part as RFC 5322 3.4.1 writes it:
 * atoms, quoted-strings with quoted-pairs and folds, joined by dots) in
 * the form an LMTP command takes it (RFC 5321 4.1.2): a Dot-string when
 * the local part's value is one, else a Quoted-string escaping only DQUOTE
 * and backslash.  Returns 0 and the NUL-terminated form in out[cap]
 * (*utf8_r 1 when it needs SMTPUTF8), or -1 with a reason when RFC 5321
 * cannot carry it (CR, LF, NUL, HTAB or other controls in the local part,
 * bad quoting, an invalid domain character, over cap). */
#define LMTP_ADDR_MAX 1000
int lmtp_addr_smtp(const char *addr, char *out, size_t cap, int *utf8_r, const char **why_r);

/* Reply parser, exposed for tests and fuzzing: feed one line (without
 * CRLF).  Returns 1 for the last line of a reply ("NNN" or "NNN text"),
 * 0 for a continuation line ("NNN-text"), -1 when malformed; *code_r is
 * the code, *last_r 1 on the last line.  Enhanced status codes stay in the
 * text (lmtp_rcpt_result.text). */
int lmtp_reply_line(const char *line, size_t len, int *code_r, int *last_r);

/* --- spool administration (smtpsec-spool), safe while gateways run ----
 * Changing or removing an entry takes the claim a retry takes (lmtp_spool.c),
 * so an entry being delivered is refused with LMTP_SPOOL_BUSY. */
enum { LMTP_SPOOL_BUSY = 1, LMTP_SPOOL_NOT_FOUND = 2 };

struct lmtp_spool_item {
	char id[256];			/* file name without ".msg" */
	int failed;			/* in spool_dir/failed/ (expired or unreadable) */
	int busy;			/* a retry holds its claim right now */
	int unreadable;			/* not a spool entry */
	uint64_t created, attempts;
	uint64_t next;			/* unix time of the next retry; 0 = at the next scan */
	size_t size, body_off;		/* file size; where the delivered copy starts */
	char from[512];
	char **rcpt;			/* owned: recipients still waiting */
	size_t n_rcpt;
};

/* Every entry of dir and dir/failed, oldest first (failed ones last). */
int lmtp_spool_items(const char *dir, struct lmtp_spool_item **items_r, size_t *n_r);
void lmtp_spool_items_free(struct lmtp_spool_item **items_p, size_t n);
void lmtp_spool_item_clear(struct lmtp_spool_item *it);
/* One entry: returns an open fd to read the copy from it->body_off, or -1
 * (errno ENOENT: no such entry).  lmtp_spool_item_clear() frees it->rcpt. */
int lmtp_spool_open_item(const char *dir, const char *id, struct lmtp_spool_item *it,
    char *err, size_t errlen);
/* Make an entry due at the next scan (from failed/: back into the spool,
 * its age restarted).  0, LMTP_SPOOL_BUSY, LMTP_SPOOL_NOT_FOUND or -1. */
int lmtp_spool_retry_now(const char *dir, const char *id, char *err, size_t errlen);
/* Delete an entry (spool or failed/).  Same returns. */
int lmtp_spool_remove(const char *dir, const char *id, char *err, size_t errlen);

#endif
