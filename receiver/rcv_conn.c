/*
 * rcv_conn: see rcv_conn.h.
 *
 * Life of a connection: HANDSHAKE (handshake timer) -> OPEN (ServerHello
 * queued, idle timer) -> closing (no more reading; in-flight Emails finish,
 * replies flush) -> gone.  Every reply, immediate or asynchronous, goes
 * through the reply queue so replies leave in arrival order (SMTPSEC.md 3.4).
 */
#include "receiver/rcv_conn.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "lmtp/lmtp.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_metrics.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_util.h"
#include "receiver/rcv_wire.h"
#include "verify/vfy_check.h"
#include "verify/vfy_from.h"
#include "verify/vfy_sig.h"

#define RCV_IO_CHUNK		16384
#define RCV_MAX_INFLIGHT	64		/* Emails read but not answered: stop reading */
#define RCV_OUT_PAUSE		(256u * 1024u)	/* stop reading while this much is unsent */
#define RCV_OUT_MAX		(4u * 1024u * 1024u)	/* a client that never reads: closed */
/* Mid-frame, the idle timer restarts only after this many bytes: a client
 * trickling a frame a few bytes at a time (slowloris) is closed after
 * idle_timeout instead of holding the session for ever. */
#define RCV_MIN_WINDOW		(16u * 1024u)
/* Replies queued but not yet moved to the output: stop reading (a client
 * that pipelines faster than it reads must not grow the queue). */
#define RCV_MAX_QUEUED		1024
/* Input handled per event before the other sessions get a turn. */
#define RCV_READ_BUDGET		(256u * 1024u)
/* Protocol errors (illegal_message, frame errors) a session may cause:
 * then it is closed, like Postfix's smtpd_hard_error_limit. */
#define RCV_MAX_ERRORS		100

enum rcv_conn_state { RCV_ST_HANDSHAKE = 0, RCV_ST_OPEN, RCV_ST_LINGER, RCV_ST_CLOSED };

struct rcv_cchain {
	size_t n_certs;
	uint8_t **der;
	size_t *der_len;
	struct vfy_chain *vc;	/* parsed; NULL if unparsable (authentication_failed) */
	const char *why;	/* why vc is NULL */
};

struct rcv_email {
	struct rcv_conn *c;
	struct rcv_rq_ent *rq;
	uint32_t n;
	/* body: memory up to the threshold, then an unlinked spool file */
	uint8_t *mem;
	size_t mem_len, mem_cap;
	size_t held;		/* mem_cap, charged to the worker's buffer budget */
	int spilled_early;	/* went to the spool below memory_threshold (budget) */
	int fd;
	uint8_t *map;
	uint64_t len;
	int body_err;
	int body_errno;			/* why the body could not be stored */
	int body_8bit;		/* some message byte >= 0x80 */
	const uint8_t *msg;	/* mem or map */
	/* step 3 while the body arrives: the stream, or the early verdict */
	struct vfy_sig_stream *sig;
	int sig_rc;
	const char *sig_why;

	char **rcpt;
	size_t n_rcpt;
	struct lmtp_trace *trace;
	size_t n_trace;
	int require_security;
	struct vfy_from from;
	const char *trust;
	struct lmtp_copy copy;
	int have_copy;
	struct lmtp_tx *tx;
	struct vfy_check *chk;
	const struct vfy_chain *vc;
	char target[256], cert_name[256];
	uint64_t t0;
	struct rcv_email *next;	/* in-flight list */
};

struct rcv_conn {
	struct rcv_server *srv;
	const struct rcv_config *cfg;	/* borrowed: the configuration at accept; a
					 * reload does not change an open connection */
	struct rcv_conn *next, *prev;
	unsigned long long id;	/* 64 random bits: unique across a fleet */
	char ip[48];
	int fd;
	WOLFSSL *ssl;
	enum rcv_conn_state state;
	ev_io io;
	ev_timer timer;
	ev_idle kick;		/* re-run the reader after a pause (wolfSSL may hold data) */
	uint64_t t_start;

	struct rcv_wire *w;
	size_t held_wire;	/* the decoder's buffer, charged to the budget */
	size_t held_chains;	/* ClientHello chain copies, charged to the budget */
	struct rcv_buf in, out;
	struct rcv_rq rq;
	int got_hello;
	struct rcv_cchain *chains;
	size_t n_chains;

	struct rcv_email *cur;	/* Email whose body is arriving */
	struct rcv_email *inflight;
	size_t n_inflight;

	int closing;		/* stop reading; close when replies are out */
	int shutdown;		/* SIGTERM: send service_unavailable at the end */
	int bye_sent;
	int peer_eof;
	int tls_want_write;
	size_t window_bytes;	/* read since the idle timer last restarted */
	unsigned n_errors;	/* protocol errors so far */
	const char *close_reason;
	uint64_t emails;
};

/* --- reply queue ------------------------------------------------------------- */

struct rcv_rq_ent *
rcv_rq_push(struct rcv_rq *q, uint32_t number)
{
	struct rcv_rq_ent *e = rcv_xcalloc(1, sizeof(*e));

	e->number = number;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->n++;
	return e;
}

void
rcv_rq_complete(struct rcv_rq_ent *e, const uint8_t *bytes, size_t len)
{
	free(e->bytes);
	e->bytes = rcv_xmalloc(len);
	memcpy(e->bytes, bytes, len);
	e->len = len;
	e->done = 1;
}

size_t
rcv_rq_drain(struct rcv_rq *q, void *out_buf)
{
	struct rcv_buf *out = out_buf;
	size_t n = 0;

	while (q->head && q->head->done) {
		struct rcv_rq_ent *e = q->head;

		rcv_buf_add(out, e->bytes, e->len);
		q->head = e->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->n--;
		free(e->bytes);
		free(e);
		n++;
	}
	return n;
}

void
rcv_rq_free(struct rcv_rq *q)
{
	struct rcv_rq_ent *e, *nx;

	for (e = q->head; e; e = nx) {
		nx = e->next;
		free(e->bytes);
		free(e);
	}
	q->head = q->tail = NULL;
	q->n = 0;
}

/* --- helpers ------------------------------------------------------------------- */

static void conn_update(struct rcv_conn *c);
static void conn_close(struct rcv_conn *c, const char *reason);
static void conn_read(struct rcv_conn *c);

struct rcv_conn *
rcv_conn_next(const struct rcv_conn *c)
{
	return c->next;
}

static void
reply_error(struct rcv_rq_ent *e, unsigned code, int64_t ref, const struct rcv_bytes *addr,
    size_t n_addr)
{
	struct rcv_buf b = { 0 };

	rcv_wire_enc_error(&b, NULL, (uint8_t)code, ref, addr, n_addr);
	rcv_rq_complete(e, b.p, b.len);
	rcv_metrics_reply(rcv_metrics_default, code);
	rcv_buf_free(&b);
}

/* An immediate Error in its place in the reply order. */
static void
queue_error(struct rcv_conn *c, uint32_t number, unsigned code, int64_t ref)
{
	reply_error(rcv_rq_push(&c->rq, number), code, ref, NULL, 0);
}

/*
 * The worker's buffer budget ([limits] worker_buffer_budget): what every
 * session of this worker holds for partly received non-Email Messages and
 * Email heads (the decoder's buffer), ClientHello chains and in-memory
 * bodies, in srv->buf_bytes.  Each holder keeps its own charge, so a free
 * gives back exactly what it took.  Growing past the budget is refused;
 * shrinking always works.  The budget of the current configuration
 * applies (a reload changes it for every session).
 */
static int
budget_charge(struct rcv_server *srv, size_t *held, size_t want)
{
	uint64_t budget = srv->cfg->worker_buffer_budget;

	/* a holder past 64 KiB (a large frame, a growing body) may fill three
	 * quarters of the budget only: the last quarter stays for ordinary
	 * ClientHellos, Email heads and small bodies, so good mail is still
	 * received while slow peers hold the rest */
	if (want > RCV_WIRE_KEEP_BUF)
		budget -= budget / 4;
	if (want > *held && budget != 0 && srv->buf_bytes - *held + want > budget)
		return -1;
	srv->buf_bytes = srv->buf_bytes - *held + want;
	*held = want;
	return 0;
}

static int
wire_grow(void *arg, size_t have, size_t want)
{
	struct rcv_conn *c = arg;

	(void)have;
	if (budget_charge(c->srv, &c->held_wire, want) == 0)
		return 0;
	RCV_METRIC_ADD(buffer_budget_refused, 1);
	return -1;
}

static void
email_free(struct rcv_email **e_p)
{
	struct rcv_email *e = *e_p;
	size_t i;

	if (e == NULL)
		return;
	*e_p = NULL;
	if (e->tx)
		lmtp_cancel(&e->tx);
	if (e->chk)
		vfy_check_cancel(&e->chk);
	vfy_sig_stream_free(&e->sig);
	if (e->have_copy)
		lmtp_copy_free(&e->copy);
	budget_charge(e->c->srv, &e->held, 0);
	free(e->mem);
	if (e->map && e->len)
		munmap(e->map, (size_t)e->len);
	if (e->fd >= 0)
		close(e->fd);
	for (i = 0; i < e->n_rcpt; i++)
		free(e->rcpt[i]);
	free(e->rcpt);
	for (i = 0; i < e->n_trace; i++) {
		free((void *)(uintptr_t)e->trace[i].name);
		free((void *)(uintptr_t)e->trace[i].value);
	}
	free(e->trace);
	free(e);
}

static struct rcv_email *
email_new(struct rcv_conn *c, uint32_t n)
{
	struct rcv_email *e = rcv_xcalloc(1, sizeof(*e));

	e->c = c;
	e->n = n;
	e->fd = -1;
	e->require_security = -1;
	e->trust = "-";
	e->t0 = rcv_now_ms();
	return e;
}

static void
inflight_remove(struct rcv_conn *c, struct rcv_email *e)
{
	struct rcv_email **pp;

	for (pp = &c->inflight; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			c->n_inflight--;
			return;
		}
}

/* --- body streaming (SMTPSEC.md 7: bodies never held whole in memory
 * beyond memory_threshold) ------------------------------------------------------ */

static int
body_to_file(struct rcv_conn *c, struct rcv_email *e)
{
	size_t off = 0;

	e->fd = c->srv->lmtp ? lmtp_spool_tmpfile(c->srv->lmtp) : -1;
	if (e->fd < 0)
		return -1;
	while (off < e->mem_len) {
		ssize_t r = write(e->fd, e->mem + off, e->mem_len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	free(e->mem);
	e->mem = NULL;
	e->mem_len = e->mem_cap = 0;
	budget_charge(c->srv, &e->held, 0);
	return 0;
}

/*
 * Step 3 starts with the body: the Email's head (chain index, algorithm,
 * signature) is known, so the signature is checked as the bytes arrive and
 * the message is never read again for it.  Anything unusual (no such
 * chain yet) leaves e->sig NULL and the pipeline checks the whole message.
 */
static void
sig_begin(struct rcv_conn *c, struct rcv_email *e, const struct rcv_frame *head)
{
	const struct rcv_cchain *ch;

	if (e->sig != NULL || e->sig_rc != 0 || head->chain_index >= c->n_chains)
		return;
	ch = &c->chains[head->chain_index];
	if (ch->vc == NULL)
		return;
	e->sig = vfy_sig_stream_begin(ch->vc->cert[0].spki, ch->vc->cert[0].spki_len, head->algorithm,
	    head->signature.p, head->signature.len, &e->sig_rc, &e->sig_why);
}

static void
body_cb(void *arg, const struct rcv_frame *head, uint64_t offset, const uint8_t *p, size_t n)
{
	struct rcv_conn *c = arg;
	struct rcv_email *e;
	uint64_t thr = c->cfg->memory_threshold;

	if (c->cur == NULL || c->cur->n != head->number) {
		email_free(&c->cur);
		c->cur = email_new(c, head->number);
	}
	e = c->cur;
	RCV_METRIC_ADD(bytes_in, n);
	if (e->body_err || n == 0)
		return;
	if (offset != e->len) {
		e->body_err = 1;
		return;
	}
	if (offset == 0)
		sig_begin(c, e, head);
	if (e->sig != NULL)
		vfy_sig_stream_update(e->sig, p, n);
	if (!e->body_8bit) {
		size_t i;

		for (i = 0; i < n; i++)
			if (p[i] >= 0x80) {
				e->body_8bit = 1;
				break;
			}
	}
	if (e->fd < 0 && e->len + n <= thr && e->mem_cap - e->mem_len < n) {
		size_t cap = e->mem_cap ? e->mem_cap : 4096;

		while (cap - e->mem_len < n)
			cap *= 2;
		if (cap > thr)
			cap = (size_t)thr;
		if (budget_charge(c->srv, &e->held, cap) == 0) {
			e->mem = rcv_xrealloc(e->mem, cap);
			e->mem_cap = cap;
		} else if (!e->spilled_early) {
			/* the worker holds its budget already: this body goes to
			 * the spool now, below memory_threshold (no failure) */
			e->spilled_early = 1;
			RCV_METRIC_ADD(buffer_budget_spilled, 1);
			rcv_log(RCV_LOG_INFO, "conn=%016llx event=body_to_spool n=%u at=%llu why=\"worker "
			    "buffer budget\" held=%llu budget=%llu", c->id, e->n,
			    (unsigned long long)e->len, (unsigned long long)c->srv->buf_bytes,
			    (unsigned long long)c->srv->cfg->worker_buffer_budget);
		}
	}
	if (e->fd < 0 && (e->len + n > thr || e->spilled_early) && body_to_file(c, e) < 0) {
		e->body_err = 1;
		e->body_errno = errno;
		return;
	}
	if (e->fd >= 0) {
		size_t off = 0;

		while (off < n) {
			ssize_t r = write(e->fd, p + off, n - off);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e->body_err = 1;
				e->body_errno = r < 0 ? errno : ENOSPC;
				return;
			}
			off += (size_t)r;
		}
	} else {
		memcpy(e->mem + e->mem_len, p, n);
		e->mem_len += n;
	}
	e->len += n;
}

static int
body_finish(struct rcv_email *e)
{
	if (e->body_err)
		return -1;
	if (e->fd >= 0) {
		if (e->len == 0 || (uint64_t)(size_t)e->len != e->len)
			return -1;
		e->map = mmap(NULL, (size_t)e->len, PROT_READ, MAP_PRIVATE, e->fd, 0);
		if (e->map == MAP_FAILED) {
			e->map = NULL;
			return -1;
		}
		e->msg = e->map;
	} else
		e->msg = e->mem ? e->mem : (const uint8_t *)"";
	return 0;
}

/* --- per-Email pipeline (SMTPSEC.md 4) ------------------------------------------- */

static void
email_log(struct rcv_email *e, const char *verdict, const char *step, const char *delivery,
    const char *reply, const char *why)
{
	struct rcv_conn *c = e->c;
	char q[128];

	if (strcmp(verdict, "fail") == 0)
		rcv_metrics_reject(rcv_metrics_default, step);
	rcv_log(RCV_LOG_INFO,
	    "conn=%016llx event=email n=%u from_domain=%s rcpts=%zu size=%llu verdict=%s step=%s "
	    "trust=%s delivery=%s reply=%s why=%s ms=%llu",
	    c->id, e->n, e->from.domain[0] ? e->from.domain : "-", e->n_rcpt,
	    (unsigned long long)e->len, verdict, step, e->trust, delivery, reply,
	    rcv_log_q(q, sizeof(q), why ? why : "", why ? strlen(why) : 0),
	    (unsigned long long)(rcv_now_ms() - e->t0));
}

/* Finish an Email with an Error reply and free it. */
static void
email_fail(struct rcv_email *e, unsigned code, const char *step, const char *why)
{
	struct rcv_conn *c = e->c;

	reply_error(e->rq, code, e->n, NULL, 0);
	email_log(e, code == RCV_ERR_AUTHENTICATION_FAILED ? "fail" : "error", step, "none",
	    rcv_wire_err_name(code), why);
	c->srv->st.failed++;
	if (code == RCV_ERR_SERVICE_UNAVAILABLE || code == RCV_ERR_INTERNAL_ERROR) {
		/* SMTPSEC.md 5: close after earlier replies are flushed */
		c->closing = 1;
		if (c->close_reason == NULL)
			c->close_reason = rcv_wire_err_name(code);
	}
	inflight_remove(c, e);
	email_free(&e);
}

static void
lmtp_done(void *arg, const struct lmtp_result *res)
{
	struct rcv_email *e = arg;
	struct rcv_conn *c = e->c;
	struct rcv_bytes *unk;
	size_t i, n_unk = 0, n_ok = 0, n_temp = 0;

	e->tx = NULL;
	rcv_metrics_lmtp_latency(rcv_metrics_default, res->latency_us);
	RCV_METRIC_ADD(lmtp_transactions, 1);
	for (i = 0; i < res->n_rcpt; i++) {
		if (res->rcpt[i].status == LMTP_RCPT_DELIVERED)
			RCV_METRIC_ADD(rcpt_delivered, 1);
		else if (res->rcpt[i].status == LMTP_RCPT_SPOOLED)
			RCV_METRIC_ADD(rcpt_spooled, 1);
		else if (res->rcpt[i].status == LMTP_RCPT_REJECTED)
			RCV_METRIC_ADD(rcpt_unknown, 1);
	}
	if (res->tempfail || res->n_rcpt == 0) {
		RCV_METRIC_ADD(lmtp_failures, 1);
		RCV_METRIC_ADD(tempfail_lmtp, 1);
	}
	if (res->permfail) {
		/* the author address cannot be given to the mailstore, now or
		 * on any retry: step 4's "unparsable" (README, Delivery) */
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, "from", res->why);
		conn_update(c);
		return;
	}
	if (res->tempfail) {
		email_fail(e, RCV_ERR_SERVICE_UNAVAILABLE, "lmtp", res->why);
		conn_update(c);
		return;
	}
	unk = rcv_xcalloc(e->n_rcpt ? e->n_rcpt : 1, sizeof(*unk));
	for (i = 0; i < e->n_rcpt && i < res->n_rcpt; i++) {
		switch (res->rcpt[i].status) {
		case LMTP_RCPT_DELIVERED:
		case LMTP_RCPT_SPOOLED:
			n_ok++;
			break;
		case LMTP_RCPT_REJECTED:
			unk[n_unk].p = (const uint8_t *)e->rcpt[i];
			unk[n_unk].len = strlen(e->rcpt[i]);
			n_unk++;
			break;
		default:
			n_temp++;
			break;
		}
	}
	/* fail closed: a recipient without a result counts as not delivered */
	if (res->n_rcpt < e->n_rcpt)
		n_temp += e->n_rcpt - res->n_rcpt;
	if (n_temp) {
		free(unk);
		email_fail(e, RCV_ERR_SERVICE_UNAVAILABLE, "lmtp", res->why != NULL ? res->why :
		    n_ok ? "some recipients temporarily failed after others were delivered" :
		    "recipient temporarily failed");
		conn_update(c);
		return;
	}
	if (n_unk) {
		reply_error(e->rq, RCV_ERR_UNKNOWN_ADDRESS, e->n, unk, n_unk);
		email_log(e, "pass", "-", n_ok ? "partial" : "none", "unknown_address", "");
		c->srv->st.failed++;
	} else {
		struct rcv_buf b = { 0 };

		rcv_wire_enc_email_delivered(&b, NULL, e->n);
		rcv_rq_complete(e->rq, b.p, b.len);
		rcv_buf_free(&b);
		RCV_METRIC_ADD(reply_email_delivered, 1);
		RCV_METRIC_ADD(emails_delivered, 1);
		email_log(e, "pass", "-", "delivered", "email_delivered", "");
		c->srv->st.delivered++;
	}
	free(unk);
	inflight_remove(c, e);
	email_free(&e);
	conn_update(c);
}

/* A recipient must be writable in an LMTP command: local@domain with a
 * quoted local part allowed ("a b"@b.test), nothing RFC 5321 cannot carry
 * (lmtp_addr_smtp).  Non-ASCII is decided at delivery (SMTPUTF8). */
static int
rcpt_ok(const struct rcv_bytes *a)
{
	char in[321], out[LMTP_ADDR_MAX + 1];
	const char *why;
	int utf8;

	if (a->len == 0 || a->len > 320 || memchr(a->p, 0, a->len) != NULL)
		return 0;
	memcpy(in, a->p, a->len);
	in[a->len] = '\0';
	return lmtp_addr_smtp(in, out, sizeof(out), &utf8, &why) == 0;
}

static void check_done(void *arg, const struct vfy_verdict *v);
static void email_deliver(struct rcv_email *e);

static void
email_start(struct rcv_conn *c, const struct rcv_frame *f)
{
	struct rcv_server *srv = c->srv;
	struct rcv_email *e = c->cur;
	const struct rcv_cchain *ch;
	const char *why = NULL;
	size_t i;
	int r;

	c->cur = NULL;
	if (e == NULL || e->n != f->number)
		email_free(&e);
	if (e == NULL)
		e = email_new(c, f->number);
	c->emails++;
	srv->st.emails++;
	RCV_METRIC_ADD(emails_received, 1);
	e->rq = rcv_rq_push(&c->rq, f->number);
	e->next = c->inflight;
	c->inflight = e;
	c->n_inflight++;
	e->require_security = f->require_security;

	/* copies of what outlives the frame */
	e->rcpt = rcv_xcalloc(f->n_rcpt ? f->n_rcpt : 1, sizeof(*e->rcpt));
	for (i = 0; i < f->n_rcpt; i++) {
		if (!rcpt_ok(&f->rcpt[i])) {
			e->n_rcpt = i;
			email_fail(e, RCV_ERR_ILLEGAL_PARAMETER, "frame", "malformed recipient address");
			return;
		}
		e->rcpt[i] = rcv_xmemdup0(f->rcpt[i].p, f->rcpt[i].len);
	}
	e->n_rcpt = f->n_rcpt;
	e->trace = rcv_xcalloc(f->n_trace ? f->n_trace : 1, sizeof(*e->trace));
	for (i = 0; i < f->n_trace; i++) {
		e->trace[i].name = (const uint8_t *)rcv_xmemdup0(f->trace[i].name.p, f->trace[i].name.len);
		e->trace[i].name_len = f->trace[i].name.len;
		e->trace[i].value = (const uint8_t *)rcv_xmemdup0(f->trace[i].value.p, f->trace[i].value.len);
		e->trace[i].value_len = f->trace[i].value.len;
		e->n_trace = i + 1;
	}

	/* step 1: fields (trace header syntax, SMTPSEC.md 8.4; recipients) */
	if (e->n_rcpt == 0) {
		email_fail(e, RCV_ERR_ILLEGAL_PARAMETER, "frame", "no recipients");
		return;
	}
	for (i = 0; i < e->n_trace; i++)
		if (lmtp_trace_valid(&e->trace[i], &why) < 0) {
			email_fail(e, RCV_ERR_ILLEGAL_PARAMETER, "frame", why);
			return;
		}
	if (body_finish(e) < 0) {
		/* a resource failure in the gateway (SMTPSEC.md 5), e.g. a full
		 * spool_dir: nothing delivered, the sender keeps it and retries */
		char bwhy[160];

		snprintf(bwhy, sizeof(bwhy), "cannot store the message body in spool_dir: %s",
		    strerror(e->body_errno ? e->body_errno : errno));
		email_fail(e, RCV_ERR_INTERNAL_ERROR, "body", bwhy);
		return;
	}
	/* step 2: chain index */
	if (f->chain_index >= c->n_chains) {
		email_fail(e, RCV_ERR_ILLEGAL_PARAMETER, "chain", "certificate_chain index out of range");
		return;
	}
	ch = &c->chains[f->chain_index];
	/* step 3: signature, before any DNS */
	if (ch->vc == NULL) {
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, "signature", ch->why ? ch->why : "bad chain");
		return;
	}
	if (e->sig != NULL)	/* fed every body byte as it arrived */
		r = vfy_sig_stream_end(&e->sig, &why);
	else if (e->sig_rc != 0) {	/* decided by key, algorithm or length */
		r = e->sig_rc;
		why = e->sig_why;
	} else
		r = vfy_sig_verify(ch->vc->cert[0].spki, ch->vc->cert[0].spki_len, f->algorithm,
		    f->signature.p, f->signature.len, e->msg, (size_t)e->len, &why);
	if (r != VFY_SIG_OK) {
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, "signature", why ? why : "bad signature");
		return;
	}
	/* step 4: author domain */
	if (vfy_from_parse(e->msg, (size_t)e->len, &e->from, &why) != 0) {
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, "from", why ? why : "bad From");
		return;
	}
	/* steps 5-9: SRV, name, DANE, PKIX, CT (asynchronous) */
	if (srv->skip_chain_checks) {
		e->trust = "unverified";
		snprintf(e->target, sizeof(e->target), "%s", e->from.domain);
		snprintf(e->cert_name, sizeof(e->cert_name), "%s", e->from.domain);
		email_deliver(e);
		return;
	}
	if (srv->vfy == NULL) {
		email_fail(e, RCV_ERR_INTERNAL_ERROR, "srv", "verifier not initialised");
		return;
	}
	e->vc = ch->vc;
	e->chk = vfy_check_start(srv->vfy, ch->vc, e->from.domain, time(NULL), check_done, e);
	if (e->chk == NULL)
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, "from", "author domain unusable");
}

static void
check_done(void *arg, const struct vfy_verdict *v)
{
	struct rcv_email *e = arg;
	struct rcv_conn *c = e->c;

	e->chk = NULL;
	if (v->result == VFY_PASS && v->trust && v->trust[0]) {
		e->trust = v->trust;
		snprintf(e->target, sizeof(e->target), "%s", v->target);
		snprintf(e->cert_name, sizeof(e->cert_name), "%s", v->matched_name);
		email_deliver(e);
	} else if (v->result == VFY_PERMFAIL)
		email_fail(e, RCV_ERR_AUTHENTICATION_FAILED, vfy_step_str(v->step), v->why);
	else if (v->result == VFY_TEMPFAIL) {
		RCV_METRIC_ADD(tempfail_dns, 1);
		email_fail(e, RCV_ERR_SERVICE_UNAVAILABLE, vfy_step_str(v->step), v->why);
	}
	else	/* a verdict nobody filled in: fail closed */
		email_fail(e, RCV_ERR_INTERNAL_ERROR, vfy_step_str(v->step), "verdict unchecked");
	conn_update(c);
}

static void
email_deliver(struct rcv_email *e)
{
	struct rcv_conn *c = e->c;
	struct rcv_server *srv = c->srv;
	const struct rcv_config *cfg = c->cfg;
	struct lmtp_copy_info info;
	struct lmtp_msg m;
	const char *why = NULL;
	char qid[32], ipbuf[48];
	size_t i;

	/* step 10: delivery */
	if (srv->lmtp == NULL) {
		email_fail(e, RCV_ERR_SERVICE_UNAVAILABLE, "lmtp", "no LMTP target configured");
		return;
	}
	snprintf(qid, sizeof(qid), "%016llx.%u", c->id, e->n);
	snprintf(ipbuf, sizeof(ipbuf), "%s", c->ip);
	memset(&info, 0, sizeof(info));
	info.authserv_id = cfg->authserv_id;
	info.hostname = cfg->hostname;
	info.sender_host = e->target;
	info.cert_name = e->cert_name;
	info.client_ip = ipbuf;
	info.id = qid;
	info.tls_version = wolfSSL_get_version(c->ssl);
	info.tls_cipher = wolfSSL_get_cipher_name(c->ssl);
	info.from_domain = e->from.domain;
	info.trust = e->trust;
	info.require_security = e->require_security;
	info.date = (int64_t)time(NULL);
	{
		const char *allow[RCV_CONFIG_MAX_TRACE], *also[RCV_CONFIG_MAX_AUTHSERV];

		for (i = 0; i < cfg->n_authserv_also; i++)
			also[i] = cfg->authserv_also[i];
		info.authserv_also = also;
		info.n_authserv_also = cfg->n_authserv_also;
		for (i = 0; i < cfg->n_trace_allow; i++)
			allow[i] = cfg->trace_allow[i];
		info.trace_allow = allow;
		info.n_trace_allow = cfg->n_trace_allow;
		if (lmtp_copy_build(&info, e->trace, e->n_trace, e->msg, (size_t)e->len, &e->copy,
		    &why) < 0) {
			email_fail(e, RCV_ERR_ILLEGAL_PARAMETER, "headers", why);
			return;
		}
	}
	e->have_copy = 1;
	memset(&m, 0, sizeof(m));
	m.mail_from = e->from.addr;
	m.rcpt = (const char *const *)e->rcpt;
	m.n_rcpt = e->n_rcpt;
	m.seg = e->copy.seg;
	m.n_seg = e->copy.n_seg;
	m.body = e->msg;
	m.body_len = (size_t)e->len;
	m.body_8bit = e->body_8bit;
	m.body_mapped = e->map != NULL;
	e->tx = lmtp_deliver(srv->lmtp, &m, lmtp_done, e);
	if (e->tx == NULL)
		email_fail(e, RCV_ERR_SERVICE_UNAVAILABLE, "lmtp", "delivery could not start");
}

/* --- session state machine (SMTPSEC.md 3) ------------------------------------------ */

static void
chains_free(struct rcv_conn *c)
{
	size_t i, j;

	for (i = 0; i < c->n_chains; i++) {
		for (j = 0; j < c->chains[i].n_certs; j++)
			free(c->chains[i].der[j]);
		free(c->chains[i].der);
		free(c->chains[i].der_len);
		vfy_chain_free(&c->chains[i].vc);
	}
	free(c->chains);
	c->chains = NULL;
	c->n_chains = 0;
	budget_charge(c->srv, &c->held_chains, 0);
}

/* Keep the ClientHello's chains for the session: 0, or -1 when the
 * worker's buffer budget has no room for them. */
static int
store_hello(struct rcv_conn *c, const struct rcv_frame *f)
{
	size_t i, j, bytes = 0;

	for (i = 0; i < f->n_chains; i++)
		for (j = 0; j < f->chains[i].n_certs; j++)
			bytes += f->chains[i].certs[j].len;
	if (budget_charge(c->srv, &c->held_chains, bytes) != 0) {
		RCV_METRIC_ADD(buffer_budget_refused, 1);
		return -1;
	}
	c->chains = rcv_xcalloc(f->n_chains ? f->n_chains : 1, sizeof(*c->chains));
	c->n_chains = f->n_chains;
	for (i = 0; i < f->n_chains; i++) {
		struct rcv_cchain *ch = &c->chains[i];
		const struct rcv_chain *in = &f->chains[i];

		ch->n_certs = in->n_certs;
		ch->der = rcv_xcalloc(in->n_certs ? in->n_certs : 1, sizeof(*ch->der));
		ch->der_len = rcv_xcalloc(in->n_certs ? in->n_certs : 1, sizeof(*ch->der_len));
		for (j = 0; j < in->n_certs; j++) {
			ch->der[j] = rcv_xmalloc(in->certs[j].len);
			memcpy(ch->der[j], in->certs[j].p, in->certs[j].len);
			ch->der_len[j] = in->certs[j].len;
		}
		ch->why = "empty chain";
		if (in->n_certs > 0 &&
		    vfy_chain_parse((const uint8_t *const *)ch->der, ch->der_len, ch->n_certs, &ch->vc,
		    &ch->why) != 0)
			ch->vc = NULL;
	}
	return 0;
}

/* One more protocol error; past RCV_MAX_ERRORS the session is closed once
 * the replies so far are out. */
static void
count_error(struct rcv_conn *c)
{
	if (++c->n_errors <= RCV_MAX_ERRORS || c->closing)
		return;
	rcv_log(RCV_LOG_WARN, "conn=%016llx event=too_many_errors errors=%u action=close", c->id,
	    c->n_errors);
	c->closing = 1;
	c->close_reason = "too_many_errors";
}

static void
on_frame(struct rcv_conn *c, const struct rcv_frame *f)
{
	if (c->closing) {
		email_free(&c->cur);
		return;
	}
	if (f->type == RCV_MSG_CLIENT_HELLO && !c->got_hello) {
		if (f->version != 0) {
			queue_error(c, f->number, RCV_ERR_INSUFFICIENT_SECURITY, f->number);
			rcv_log(RCV_LOG_INFO, "conn=%016llx event=hello result=refused version=%u", c->id,
			    f->version);
			c->closing = 1;
			c->close_reason = "unsupported_version";
			return;
		}
		if (store_hello(c, f) != 0) {
			/* SMTPSEC.md 5: a resource failure in the gateway */
			queue_error(c, f->number, RCV_ERR_INTERNAL_ERROR, f->number);
			rcv_log(RCV_LOG_WARN, "conn=%016llx event=hello result=refused why=\"worker buffer "
			    "budget exhausted\" held=%llu budget=%llu", c->id,
			    (unsigned long long)c->srv->buf_bytes,
			    (unsigned long long)c->srv->cfg->worker_buffer_budget);
			c->closing = 1;
			c->close_reason = "buffer_budget";
			return;
		}
		c->got_hello = 1;
		rcv_log(RCV_LOG_INFO, "conn=%016llx event=hello version=0 chains=%zu", c->id, c->n_chains);
		return;
	}
	if (f->type == RCV_MSG_EMAIL && c->got_hello) {
		email_start(c, f);
		return;
	}
	/* a first Message that is not a ClientHello, a second ClientHello, a
	 * server-only type: illegal_message, the Message is ignored (3) */
	email_free(&c->cur);
	queue_error(c, f->number, RCV_ERR_ILLEGAL_MESSAGE, f->number);
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=illegal_message n=%u type=%u", c->id, f->number,
	    (unsigned)f->type);
	count_error(c);
}

static void
process_input(struct rcv_conn *c)
{
	size_t off = 0;

	while (!c->closing && off < c->in.len) {
		struct rcv_frame f;
		size_t used = 0;
		int r = rcv_wire_decode(c->w, c->in.p + off, c->in.len - off, &used, &f);

		off += used;
		if (r == 1) {
			on_frame(c, &f);
			rcv_wire_release(c->w);	/* the frame's views are done with */
			continue;
		}
		if (r == 0)
			break;
		{
			const struct rcv_wire_error *err = rcv_wire_error(c->w);
			char q[96];

			email_free(&c->cur);
			/* numbers exhausted: the Error has no reference and goes
			 * out after every earlier reply (SMTPSEC.md 2.5, README) */
			queue_error(c, err->number, err->code,
			    err->no_reference ? -1 : (int64_t)err->number);
			if (err->code == RCV_ERR_TOO_LARGE || err->code == RCV_ERR_ILLEGAL_PARAMETER)
				c->srv->st.failed++;
			if (err->code == RCV_ERR_INTERNAL_ERROR)
				rcv_log(RCV_LOG_WARN, "conn=%016llx event=frame_error n=%u code=%s fatal=%d "
				    "why=%s held=%llu budget=%llu", c->id, err->number,
				    rcv_wire_err_name(err->code), err->fatal,
				    rcv_log_q(q, sizeof(q), err->why, strlen(err->why)),
				    (unsigned long long)c->srv->buf_bytes,
				    (unsigned long long)c->srv->cfg->worker_buffer_budget);
			else
				rcv_log(RCV_LOG_INFO, "conn=%016llx event=frame_error n=%u code=%s fatal=%d why=%s",
				    c->id, err->number, rcv_wire_err_name(err->code), err->fatal,
				    rcv_log_q(q, sizeof(q), err->why, strlen(err->why)));
			if (err->fatal) {
				c->closing = 1;
				c->close_reason = err->no_reference ? "numbers_exhausted" :
				    err->code == RCV_ERR_INTERNAL_ERROR ? "buffer_budget" : "framing";
				break;
			}
			count_error(c);
			if (used == 0 && off < c->in.len) {
				/* recoverable error with nothing consumed: let the
				 * decoder skip on the next call */
				continue;
			}
		}
	}
	rcv_buf_consume(&c->in, off);
}

/* --- I/O ------------------------------------------------------------------------- */

static int
can_read(const struct rcv_conn *c)
{
	return c->state == RCV_ST_OPEN && !c->closing && !c->peer_eof &&
	    c->n_inflight < RCV_MAX_INFLIGHT && c->out.len < RCV_OUT_PAUSE &&
	    c->rq.n < RCV_MAX_QUEUED;
}

static int
flush_out(struct rcv_conn *c)
{
	c->tls_want_write = 0;
	while (c->out.len) {
		int n = c->out.len > RCV_IO_CHUNK ? RCV_IO_CHUNK : (int)c->out.len;
		int r = wolfSSL_write(c->ssl, c->out.p, n);

		if (r > 0) {
			rcv_buf_consume(&c->out, (size_t)r);
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_WRITE) {
			c->tls_want_write = 1;
			return 0;
		}
		if (r == WOLFSSL_ERROR_WANT_READ)
			return 0;
		return -1;
	}
	return 0;
}

static void
conn_read(struct rcv_conn *c)
{
	uint8_t buf[RCV_IO_CHUNK];
	int progress = 0;
	size_t budget = RCV_READ_BUDGET;

	while (can_read(c)) {
		if (budget < sizeof(buf)) {
			/* fairness: continue when the other sessions had a turn */
			ev_idle_start(c->srv->loop, &c->kick);
			break;
		}
		int r = wolfSSL_read(c->ssl, buf, sizeof(buf));

		if (r > 0) {
			progress = 1;
			c->window_bytes += (size_t)r;
			budget -= (size_t)r;
			rcv_buf_add(&c->in, buf, (size_t)r);
			process_input(c);
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_READ)
			break;
		if (r == WOLFSSL_ERROR_WANT_WRITE) {
			c->tls_want_write = 1;
			break;
		}
		/* close_notify, EOF or a TLS error: no more input */
		c->peer_eof = 1;
		if (c->close_reason == NULL)
			c->close_reason = !rcv_wire_idle(c->w) ? "peer_closed_mid_frame" :
			    r == WOLFSSL_ERROR_ZERO_RETURN ? "peer_closed" : "tls_read";
		break;
	}
	if (progress && (rcv_wire_idle(c->w) || c->window_bytes >= RCV_MIN_WINDOW)) {
		c->window_bytes = 0;
		ev_timer_again(c->srv->loop, &c->timer);
	}
}

static void
conn_update(struct rcv_conn *c)
{
	int ev = 0;

	if (c->state != RCV_ST_OPEN)
		return;
	rcv_rq_drain(&c->rq, &c->out);
	if (c->shutdown && c->rq.n == 0 && !c->bye_sent) {
		/* SMTPSEC.md 5: shutting down, no reference */
		struct rcv_buf b = { 0 };

		rcv_wire_enc_error(&b, NULL, RCV_ERR_SERVICE_UNAVAILABLE, -1, NULL, 0);
		rcv_buf_add(&c->out, b.p, b.len);
		rcv_buf_free(&b);
		c->bye_sent = 1;
	}
	if (c->out.len > RCV_OUT_MAX) {
		conn_close(c, "output_queue_full");
		return;
	}
	if (flush_out(c) < 0) {
		conn_close(c, "tls_write");
		return;
	}
	if (c->out.len == 0 && c->rq.n == 0 && c->n_inflight == 0 &&
	    (c->closing || c->peer_eof) && (!c->shutdown || c->bye_sent)) {
		conn_close(c, c->close_reason ? c->close_reason : "done");
		return;
	}
	if (can_read(c) || (c->closing && !c->peer_eof))
		ev |= EV_READ;
	if (c->out.len || c->tls_want_write)
		ev |= EV_WRITE;
	if (ev != (c->io.events & (EV_READ | EV_WRITE)) || !ev_is_active(&c->io)) {
		ev_io_stop(c->srv->loop, &c->io);
		if (ev) {
			ev_io_set(&c->io, c->fd, ev);
			ev_io_start(c->srv->loop, &c->io);
		}
	}
	/* wolfSSL may hold decrypted records that no fd event will announce */
	if (can_read(c) && wolfSSL_pending(c->ssl) > 0)
		ev_idle_start(c->srv->loop, &c->kick);
}

static void
kick_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct rcv_conn *c = w->data;

	ev_idle_stop(loop, w);
	conn_read(c);
	conn_update(c);
}

static void
handshake(struct rcv_conn *c)
{
	int r = wolfSSL_accept(c->ssl);
	struct rcv_buf b = { 0 };

	if (r != WOLFSSL_SUCCESS) {
		r = wolfSSL_get_error(c->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) {
			int ev = r == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;

			if (c->io.events != ev) {
				ev_io_stop(c->srv->loop, &c->io);
				ev_io_set(&c->io, c->fd, ev);
				ev_io_start(c->srv->loop, &c->io);
			}
			return;
		}
		{
			char eb[80];

			wolfSSL_ERR_error_string_n((unsigned long)r, eb, sizeof(eb));
			rcv_log(RCV_LOG_INFO, "conn=%016llx event=tls result=fail err=%d why=\"%s\"", c->id, r, eb);
			RCV_METRIC_ADD(tls_handshake_failed, 1);
		}
		conn_close(c, "tls_handshake");
		return;
	}
	c->state = RCV_ST_OPEN;
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=tls version=%s cipher=%s resumed=%d ms=%llu", c->id,
	    wolfSSL_get_version(c->ssl), wolfSSL_get_cipher_name(c->ssl), wolfSSL_session_reused(c->ssl),
	    (unsigned long long)(rcv_now_ms() - c->t_start));
	/* the handshake's keys, hashes and arrays are not needed any more:
	 * an idle session should cost its record state only */
	wolfSSL_FreeHandshakeResources(c->ssl);
	/* SMTPSEC.md 3.1: ServerHello on handshake completion */
	rcv_wire_enc_server_hello(&b, NULL, 0);
	rcv_buf_add(&c->out, b.p, b.len);
	rcv_buf_free(&b);
	c->timer.repeat = (double)c->cfg->idle_timeout_ms / 1000.0;
	ev_timer_again(c->srv->loop, &c->timer);
	if (c->shutdown)
		c->closing = 1;
	conn_read(c);
	conn_update(c);
}

static void
discard_input(struct rcv_conn *c)
{
	uint8_t sink[RCV_IO_CHUNK];
	size_t budget = RCV_READ_BUDGET;

	/* bounded like conn_read: a peer that keeps sending must not keep
	 * the loop here (its close timer, and every other session, wait) */
	while (budget >= sizeof(sink)) {
		int r = wolfSSL_read(c->ssl, sink, sizeof(sink));

		if (r > 0) {
			budget -= (size_t)r;
			continue;
		}
		r = wolfSSL_get_error(c->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_WRITE)
			c->tls_want_write = 1;
		else if (r != WOLFSSL_ERROR_WANT_READ)
			c->peer_eof = 1;
		return;
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rcv_conn *c = w->data;

	if (c->state == RCV_ST_HANDSHAKE) {
		handshake(c);
		return;
	}
	if (revents & EV_WRITE)
		c->tls_want_write = 0;
	if ((revents & EV_READ) && (c->closing || c->peer_eof)) {
		if (!c->peer_eof)
			discard_input(c);
	} else if (revents & EV_READ)
		conn_read(c);
	conn_update(c);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_conn *c = w->data;

	if (c->state == RCV_ST_HANDSHAKE) {
		conn_close(c, "handshake_timeout");
		return;
	}
	if (c->n_inflight > 0) {
		ev_timer_again(loop, w);	/* we are the slow party */
		return;
	}
	if (!c->closing && !c->bye_sent) {
		/* SMTPSEC.md 2.5: service_unavailable without reference on idle timeout */
		struct rcv_buf b = { 0 };

		rcv_wire_enc_error(&b, NULL, RCV_ERR_SERVICE_UNAVAILABLE, -1, NULL, 0);
		rcv_buf_add(&c->out, b.p, b.len);
		rcv_buf_free(&b);
		c->bye_sent = 1;
		c->closing = 1;
		c->close_reason = "idle_timeout";
		c->timer.repeat = 5.0;	/* grace for the flush */
		ev_timer_again(loop, w);
		conn_update(c);
		return;
	}
	conn_close(c, c->close_reason ? c->close_reason : "timeout");
}

/* --- lifecycle --------------------------------------------------------------------------- */

struct rcv_conn *
rcv_conn_new(struct rcv_server *srv, int fd, const char *ip)
{
	struct rcv_conn *c = rcv_xcalloc(1, sizeof(*c));
	struct rcv_wire_limits lim;
	const struct rcv_config *cfg = srv->cfg;

	c->srv = srv;
	c->cfg = cfg;
	c->fd = fd;
	c->id = rcv_random64() ^ ++srv->next_conn_id;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	c->t_start = rcv_now_ms();
	c->ssl = wolfSSL_new(srv->ctx);
	if (c->ssl == NULL || wolfSSL_set_fd(c->ssl, fd) != WOLFSSL_SUCCESS) {
		rcv_log(RCV_LOG_ERR, "conn=%016llx event=connect result=error why=\"wolfSSL_new failed\"", c->id);
		if (c->ssl)
			wolfSSL_free(c->ssl);
		close(fd);
		free(c);
		return NULL;
	}
	rcv_wire_limits_default(&lim);
	lim.max_message_size = cfg->max_message_size;
	lim.max_recipients = (unsigned)cfg->max_recipients;
	lim.max_trace_headers = (unsigned)cfg->max_trace_headers;
	lim.max_trace_bytes = (size_t)cfg->max_trace_bytes;
	c->w = rcv_wire_new(&lim, body_cb, c);
	rcv_wire_set_grow_cb(c->w, wire_grow, c);
	ev_io_init(&c->io, io_cb, fd, EV_READ);
	c->io.data = c;
	ev_init(&c->timer, timer_cb);
	c->timer.repeat = (double)cfg->handshake_timeout_ms / 1000.0;
	c->timer.data = c;
	ev_idle_init(&c->kick, kick_cb);
	c->kick.data = c;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=connect ip=%s", c->id, c->ip);
	ev_io_start(srv->loop, &c->io);
	ev_timer_again(srv->loop, &c->timer);
	return c;
}

/* After our last bytes: read and drop what the client still sends, so
 * closing with unread input does not send a RST that would destroy the
 * replies in flight to it; EOF or 2 s end it. */
static void
linger_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rcv_conn *c = w->data;
	char buf[4096];
	size_t budget = RCV_READ_BUDGET;

	/* bounded: a peer that keeps sending is cut by the linger timer */
	while (budget >= sizeof(buf)) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r > 0) {
			budget -= (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		rcv_conn_free(&c);
		return;
	}
}

static void
linger_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_conn *c = w->data;

	rcv_conn_free(&c);
}

static void
conn_close(struct rcv_conn *c, const char *reason)
{
	int graceful;

	if (c->state == RCV_ST_CLOSED || c->state == RCV_ST_LINGER)
		return;
	graceful = c->state == RCV_ST_OPEN && c->out.len == 0 && c->n_inflight == 0;
	if (graceful)
		(void)wolfSSL_shutdown(c->ssl);	/* one close_notify attempt, no wait */
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=close reason=%s emails=%llu ms=%llu", c->id, reason,
	    (unsigned long long)c->emails, (unsigned long long)(rcv_now_ms() - c->t_start));
	if (!graceful || c->peer_eof || shutdown(c->fd, SHUT_WR) < 0) {
		c->state = RCV_ST_CLOSED;
		rcv_conn_free(&c);
		return;
	}
	c->state = RCV_ST_LINGER;
	ev_idle_stop(c->srv->loop, &c->kick);
	ev_io_stop(c->srv->loop, &c->io);
	ev_set_cb(&c->io, linger_io_cb);
	ev_io_set(&c->io, c->fd, EV_READ);
	ev_io_start(c->srv->loop, &c->io);
	ev_timer_stop(c->srv->loop, &c->timer);
	ev_set_cb(&c->timer, linger_timer_cb);
	ev_timer_set(&c->timer, 2.0, 0.);
	ev_timer_start(c->srv->loop, &c->timer);
}

void
rcv_conn_free(struct rcv_conn **c_p)
{
	struct rcv_conn *c = *c_p;
	struct rcv_server *srv;

	if (c == NULL)
		return;
	*c_p = NULL;
	srv = c->srv;
	ev_io_stop(srv->loop, &c->io);
	ev_timer_stop(srv->loop, &c->timer);
	ev_idle_stop(srv->loop, &c->kick);
	while (c->inflight) {
		struct rcv_email *e = c->inflight;

		c->inflight = e->next;
		email_free(&e);	/* cancels the LMTP transaction */
	}
	email_free(&c->cur);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	wolfSSL_free(c->ssl);
	close(c->fd);
	rcv_wire_free(&c->w);
	budget_charge(srv, &c->held_wire, 0);
	rcv_buf_free(&c->in);
	rcv_buf_free(&c->out);
	rcv_rq_free(&c->rq);
	chains_free(c);
	rcv_server_conn_closed(srv, c->ip);
	free(c);
}

void
rcv_conn_shutdown(struct rcv_conn *c)
{
	if (c->state == RCV_ST_LINGER)
		return;
	c->shutdown = 1;
	if (c->state == RCV_ST_HANDSHAKE) {
		conn_close(c, "shutdown");
		return;
	}
	c->closing = 1;
	if (c->close_reason == NULL)
		c->close_reason = "shutdown";
	conn_update(c);
}
