/*
 * rcv_session: see rcv_session.h.
 *
 * HELLO -> EMAILS -> CLOSING or SHUTDOWN -> DONE.  Every reply, immediate
 * or asynchronous, goes through the reply queue so replies leave in
 * arrival order (SMTPSEC.md 3.4).
 */
#include "receiver/rcv_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/buf.h"
#include "base/sys.h"
#include "lmtp/lmtp.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_metrics.h"
#include "receiver/rcv_server.h"
#include "verify/vfy.h"

/* --- reply queue ------------------------------------------------------------- */

struct rcv_rq_ent *
rcv_rq_push(struct rcv_rq *q, uint32_t number)
{
	struct rcv_rq_ent *e = mem_calloc(1, sizeof(*e));

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
rcv_rq_complete(struct rcv_rq_ent *e, struct buf *b)
{
	free(e->bytes);
	e->bytes = buf_steal(b, &e->len);
}

size_t
rcv_rq_drain(struct rcv_rq *q, struct buf *out)
{
	size_t n = 0;

	while (q->head && q->head->bytes != NULL) {
		struct rcv_rq_ent *e = q->head;

		buf_add(out, e->bytes, e->len);
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

static void
reply_error(struct rcv_rq_ent *e, unsigned code, int64_t ref, const struct wire_bytes *addr,
    size_t n_addr)
{
	struct buf b = { 0 };

	wire_enc_error(&b, NULL, (uint8_t)code, ref, addr, n_addr);
	rcv_rq_complete(e, &b);
	rcv_metrics_reply(rcv_metrics_default, code);
}

/* An immediate Error in its place in the reply order. */
static void
queue_error(struct rcv_session *s, uint32_t number, unsigned code, int64_t ref)
{
	reply_error(rcv_rq_push(&s->rq, number), code, ref, NULL, 0);
}

/* No more input; close once every reply is out. */
static void
close_after(struct rcv_session *s, const char *reason)
{
	if (s->state < RCV_SESS_CLOSING)
		s->state = RCV_SESS_CLOSING;
	if (s->close_reason == NULL)
		s->close_reason = reason;
}

static int
wire_grow(void *arg, size_t have, size_t want)
{
	struct rcv_session *s = arg;

	if (s->ops->charge(s->arg, &s->held_wire, want) == 0)
		return 0;
	RCV_METRIC_ADD(buffer_budget_refused, 1);
	return -1;
}

static void
email_free(struct rcv_sess_email **e_p)
{
	struct rcv_sess_email *e = *e_p;
	size_t i;

	if (e == NULL)
		return;
	*e_p = NULL;
	e->s->ops->email_free(e->s->arg, e);
	e->s->ops->charge(e->s->arg, &e->held, 0);
	free(e->mem);
	if (e->map && e->len)
		munmap(e->map, (size_t)e->len);
	if (e->fd >= 0)
		close(e->fd);
	for (i = 0; i < e->n_rcpt; i++)
		free(e->rcpt[i]);
	free(e->rcpt);
	for (i = 0; i < e->n_trace; i++) {
		free((void *)(uintptr_t)e->trace[i].name.p);
		free((void *)(uintptr_t)e->trace[i].value.p);
	}
	free(e->trace);
	free(e);
}

static struct rcv_sess_email *
email_new(struct rcv_session *s, uint32_t n)
{
	struct rcv_sess_email *e = mem_calloc(1, sizeof(*e));

	e->s = s;
	e->n = n;
	e->fd = -1;
	e->require_security = -1;
	e->trust = "-";
	e->t0 = sys_now_ms();
	return e;
}

/* O(1): the list is doubly linked through pprev (a linear walk per
 * finished Email was 1.8% of the capacity profile) */
static void
inflight_remove(struct rcv_session *s, struct rcv_sess_email *e)
{
	if (e->pprev == NULL)
		return;
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
	s->n_inflight--;
}

/* Some byte >= 0x80: eight at a time (byte by byte this was 3.3% of a
 * 10 KiB Email's CPU); lmtp_client needs it for BODY=8BITMIME. */
static int
has_8bit(const uint8_t *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	while (i + 64 <= n) {
		size_t j;

		for (j = 0; j < 64; j += 8) {
			memcpy(&w, p + i + j, 8);
			acc |= w;
		}
		i += 64;
		if (acc & 0x8080808080808080ULL)
			return 1;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return (acc & 0x8080808080808080ULL) != 0;
}

/* --- body storage (SMTPSEC.md 7: bodies never held whole in memory
 * beyond memory_threshold) ------------------------------------------------------ */

static int
body_to_file(struct rcv_session *s, struct rcv_sess_email *e)
{
	if (s->p.spool_dir == NULL || s->p.spool_dir[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	e->fd = open(s->p.spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (e->fd < 0 || sys_write_all(e->fd, e->mem, e->mem_len) < 0)
		return -1;
	free(e->mem);
	e->mem = NULL;
	e->mem_len = e->mem_cap = 0;
	s->ops->charge(s->arg, &e->held, 0);
	return 0;
}

static void
body_cb(void *arg, const struct wire_frame *head, uint64_t offset, const uint8_t *p, size_t n)
{
	struct rcv_session *s = arg;
	struct rcv_sess_email *e;
	uint64_t thr = s->p.memory_threshold;

	if (s->cur == NULL || s->cur->n != head->number) {
		email_free(&s->cur);
		s->cur = email_new(s, head->number);
	}
	e = s->cur;
	RCV_METRIC_ADD(bytes_in, n);
	if (e->body_err || n == 0)
		return;
	if (offset != e->len) {
		e->body_err = 1;
		return;
	}
	if (s->state == RCV_SESS_EMAILS)	/* else no chains: illegal_message follows */
		s->ops->body(s->arg, e, head, p, n);
	if (!e->body_8bit)
		e->body_8bit = has_8bit(p, n);
	if (e->fd < 0 && e->len + n <= thr && e->mem_cap - e->mem_len < n) {
		size_t cap = e->mem_cap ? e->mem_cap : 4096;

		while (cap - e->mem_len < n)
			cap *= 2;
		if (cap > thr)
			cap = (size_t)thr;
		if (s->ops->charge(s->arg, &e->held, cap) == 0) {
			e->mem = mem_realloc(e->mem, cap);
			e->mem_cap = cap;
		} else if (!e->spilled_early) {
			/* the worker holds its budget already: this body goes to
			 * the spool now, below memory_threshold (no failure) */
			e->spilled_early = 1;
			RCV_METRIC_ADD(buffer_budget_spilled, 1);
			unsigned long long held, budget;

			s->ops->budget(s->arg, &held, &budget);
			rcv_log(RCV_LOG_INFO, "conn=%016llx event=body_to_spool n=%u at=%llu why=\"worker "
			    "buffer budget\" held=%llu budget=%llu", s->p.id, e->n,
			    (unsigned long long)e->len, held, budget);
		}
	}
	if (e->fd < 0 && (e->len + n > thr || e->spilled_early) && body_to_file(s, e) < 0) {
		e->body_err = 1;
		e->body_errno = errno;
		return;
	}
	if (e->fd >= 0) {
		if (sys_write_all(e->fd, p, n) < 0) {
			e->body_err = 1;
			e->body_errno = errno;
			return;
		}
	} else {
		memcpy(e->mem + e->mem_len, p, n);
		e->mem_len += n;
	}
	e->len += n;
}

static int
body_finish(struct rcv_sess_email *e)
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
		e->body_mapped = 1;
	} else
		e->msg = e->mem ? e->mem : (const uint8_t *)"";
	return 0;
}

/* --- per-Email replies (SMTPSEC.md 5) ------------------------------------------- */

/* The Email's Message-ID for its log line: quoted, escaped, at most
 * RCV_SESS_LOG_MSGID bytes of it; "-" when there is none. */
#define RCV_SESS_LOG_MSGID	128
static const char *
msgid_q(const struct rcv_sess_email *e, char *q, size_t qlen)
{
	const uint8_t *v;
	size_t n;

	if (e->msg == NULL || vfy_from_find_header(e->msg, (size_t)e->len, "Message-ID", &v, &n) < 1)
		return "-";
	while (n > 0 && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	return rcv_log_q(q, qlen, v, n < RCV_SESS_LOG_MSGID ? n : RCV_SESS_LOG_MSGID);
}

/* One summary line per Email (STYLE.md 7); refused: the recipients the
 * mailstore refused (unknown_address). */
static void
email_log(struct rcv_sess_email *e, const char *verdict, const char *step, const char *delivery,
    const char *reply, const char *why, const struct wire_bytes *refused, size_t n_refused)
{
	char q[128], mq[RCV_SESS_LOG_MSGID * 4 + 8], rq[600] = "";
	struct buf b = { 0 };
	size_t i;

	if (strcmp(verdict, "fail") == 0)
		rcv_metrics_reject(rcv_metrics_default, step);
	for (i = 0; i < n_refused && b.len < sizeof(rq); i++) {
		if (i)
			buf_add(&b, ",", 1);
		buf_add(&b, refused[i].p, refused[i].len);
	}
	if (n_refused)
		rcv_log_q(rq, sizeof(rq), b.p, b.len);
	buf_free(&b);
	rcv_log(RCV_LOG_INFO,
	    "conn=%016llx event=email n=%u from_domain=%s rcpts=%zu size=%llu verdict=%s step=%s "
	    "trust=%s delivery=%s reply=%s why=%s ms=%llu ip=%s msgid=%s%s%s",
	    e->s->p.id, e->n, e->from_domain[0] ? e->from_domain : "-", e->n_rcpt,
	    (unsigned long long)e->len, verdict, step, e->trust, delivery, reply,
	    rcv_log_q(q, sizeof(q), why ? why : "", why ? strlen(why) : 0),
	    (unsigned long long)(sys_now_ms() - e->t0), e->s->p.ip ? e->s->p.ip : "-",
	    msgid_q(e, mq, sizeof(mq)), n_refused ? " refused=" : "", rq);
}

void
rcv_session_fail(struct rcv_sess_email *e, unsigned code, const char *step, const char *why)
{
	struct rcv_session *s = e->s;

	reply_error(e->rq, code, e->n, NULL, 0);
	email_log(e, code == WIRE_ERR_AUTHENTICATION_FAILED ? "fail" : "error", step, "none",
	    wire_err_name(code), why, NULL, 0);
	s->p.st->failed++;
	/* SMTPSEC.md 5: close after earlier replies are flushed */
	if (code == WIRE_ERR_SERVICE_UNAVAILABLE || code == WIRE_ERR_INTERNAL_ERROR)
		close_after(s, wire_err_name(code));
	inflight_remove(s, e);
	email_free(&e);
}

void
rcv_session_verified(struct rcv_sess_email *e, const char *trust)
{
	e->trust = trust;
	e->s->ops->deliver(e->s->arg, e);
}

void
rcv_session_delivered(struct rcv_sess_email *e, const struct lmtp_result *res)
{
	struct rcv_session *s = e->s;
	struct wire_bytes *unk;
	size_t i, n_unk = 0, n_ok = 0, n_temp = 0;

	if (res->permfail) {
		/* the author address cannot be given to the mailstore, now or
		 * on any retry: step 4's "unparsable" (README, Delivery) */
		rcv_session_fail(e, WIRE_ERR_AUTHENTICATION_FAILED, "from", res->why);
		return;
	}
	if (res->tempfail) {
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, "lmtp", res->why);
		return;
	}
	unk = mem_calloc(e->n_rcpt ? e->n_rcpt : 1, sizeof(*unk));
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
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, "lmtp", res->why != NULL ? res->why :
		    n_ok ? "some recipients temporarily failed after others were delivered" :
		    "recipient temporarily failed");
		return;
	}
	if (n_unk) {
		reply_error(e->rq, WIRE_ERR_UNKNOWN_ADDRESS, e->n, unk, n_unk);
		email_log(e, "pass", "-", n_ok ? "partial" : "none", "unknown_address", "", unk, n_unk);
		s->p.st->failed++;
	} else {
		struct buf b = { 0 };

		wire_enc_email_delivered(&b, NULL, e->n);
		rcv_rq_complete(e->rq, &b);
		RCV_METRIC_ADD(reply_email_delivered, 1);
		RCV_METRIC_ADD(emails_delivered, 1);
		email_log(e, "pass", "-", "delivered", "email_delivered", "", NULL, 0);
		s->p.st->delivered++;
	}
	free(unk);
	inflight_remove(s, e);
	email_free(&e);
}

/* A recipient must be writable in an LMTP command: local@domain with a
 * quoted local part allowed ("a b"@b.test), nothing RFC 5321 cannot carry
 * (lmtp_addr_smtp).  Non-ASCII is decided at delivery (SMTPUTF8). */
static int
rcpt_ok(const struct wire_bytes *a)
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

/* A complete Email: step 1 here, then steps 2-9 by the owner. */
static void
email_start(struct rcv_session *s, const struct wire_frame *f)
{
	struct rcv_sess_email *e = s->cur;
	const char *why = NULL;
	size_t i;

	s->cur = NULL;
	if (e == NULL || e->n != f->number)
		email_free(&e);
	if (e == NULL)
		e = email_new(s, f->number);
	s->emails++;
	s->p.st->emails++;
	RCV_METRIC_ADD(emails_received, 1);
	e->rq = rcv_rq_push(&s->rq, f->number);
	e->next = s->inflight;
	if (e->next)
		e->next->pprev = &e->next;
	e->pprev = &s->inflight;
	s->inflight = e;
	s->n_inflight++;
	e->require_security = f->require_security;

	/* copies of what outlives the frame */
	e->rcpt = mem_calloc(f->n_rcpt ? f->n_rcpt : 1, sizeof(*e->rcpt));
	for (i = 0; i < f->n_rcpt; i++) {
		if (!rcpt_ok(&f->rcpt[i])) {
			e->n_rcpt = i;
			rcv_session_fail(e, WIRE_ERR_ILLEGAL_PARAMETER, "frame", "malformed recipient address");
			return;
		}
		e->rcpt[i] = mem_dup0(f->rcpt[i].p, f->rcpt[i].len);
	}
	e->n_rcpt = f->n_rcpt;
	e->trace = mem_calloc(f->n_trace ? f->n_trace : 1, sizeof(*e->trace));
	for (i = 0; i < f->n_trace; i++) {
		e->trace[i].name.p = (const uint8_t *)mem_dup0(f->trace[i].name.p, f->trace[i].name.len);
		e->trace[i].name.len = f->trace[i].name.len;
		e->trace[i].value.p = (const uint8_t *)mem_dup0(f->trace[i].value.p, f->trace[i].value.len);
		e->trace[i].value.len = f->trace[i].value.len;
		e->n_trace = i + 1;
	}

	/* step 1: fields (trace header syntax, SMTPSEC.md 8.4; recipients) */
	if (e->n_rcpt == 0) {
		rcv_session_fail(e, WIRE_ERR_ILLEGAL_PARAMETER, "frame", "no recipients");
		return;
	}
	for (i = 0; i < e->n_trace; i++)
		if (wire_trace_valid(&f->trace[i], &why) < 0) {
			rcv_session_fail(e, WIRE_ERR_ILLEGAL_PARAMETER, "frame", why);
			return;
		}
	if (body_finish(e) < 0) {
		/* a resource failure in the gateway (SMTPSEC.md 5), e.g. a full
		 * spool_dir: nothing delivered, the sender keeps it and retries */
		char bwhy[160];

		snprintf(bwhy, sizeof(bwhy), "cannot store the message body in spool_dir: %s",
		    strerror(e->body_errno ? e->body_errno : errno));
		rcv_session_fail(e, WIRE_ERR_INTERNAL_ERROR, "body", bwhy);
		return;
	}
	rcv_log(RCV_LOG_DEBUG, "conn=%016llx event=email_received n=%u chain=%u algorithm=0x%04x "
	    "rcpts=%zu trace_headers=%zu size=%llu body=%s require_security=%d", s->p.id, e->n,
	    f->chain_index, f->algorithm, e->n_rcpt, e->n_trace, (unsigned long long)e->len,
	    e->body_mapped ? "spool_file" : "memory", e->require_security);
	s->ops->verify(s->arg, e, f);
}

/* --- session state machine (SMTPSEC.md 3) ------------------------------------------ */

/* One more protocol error; past RCV_SESS_MAX_ERRORS the session is closed
 * once the replies so far are out. */
static void
count_error(struct rcv_session *s)
{
	if (++s->n_errors <= RCV_SESS_MAX_ERRORS || s->state >= RCV_SESS_CLOSING)
		return;
	rcv_log(RCV_LOG_WARN, "conn=%016llx event=too_many_errors errors=%u action=close", s->p.id,
	    s->n_errors);
	close_after(s, "too_many_errors");
}

/* a first Message that is not a ClientHello, a second ClientHello, a
 * server-only type: illegal_message, the Message is ignored (3) */
static void
illegal_message(struct rcv_session *s, const struct wire_frame *f)
{
	email_free(&s->cur);
	queue_error(s, f->number, WIRE_ERR_ILLEGAL_MESSAGE, f->number);
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=illegal_message n=%u type=%u", s->p.id, f->number,
	    (unsigned)f->type);
	count_error(s);
}

static void
hello_frame(struct rcv_session *s, const struct wire_frame *f)
{
	if (f->type != WIRE_MSG_CLIENT_HELLO) {
		illegal_message(s, f);
		return;
	}
	if (f->version != 0) {
		queue_error(s, f->number, WIRE_ERR_INSUFFICIENT_SECURITY, f->number);
		rcv_log(RCV_LOG_INFO, "conn=%016llx event=hello result=refused version=%u", s->p.id,
		    f->version);
		close_after(s, "unsupported_version");
		return;
	}
	if (s->ops->hello(s->arg, f) != 0) {
		/* SMTPSEC.md 5: a resource failure in the gateway */
		unsigned long long held, budget;

		queue_error(s, f->number, WIRE_ERR_INTERNAL_ERROR, f->number);
		s->ops->budget(s->arg, &held, &budget);
		rcv_log(RCV_LOG_WARN, "conn=%016llx event=hello result=refused why=\"worker buffer "
		    "budget exhausted\" held=%llu budget=%llu", s->p.id, held, budget);
		close_after(s, "buffer_budget");
		return;
	}
	s->state = RCV_SESS_EMAILS;
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=hello version=0 chains=%zu", s->p.id, f->n_chains);
}

static void
emails_frame(struct rcv_session *s, const struct wire_frame *f)
{
	if (f->type == WIRE_MSG_EMAIL)
		email_start(s, f);
	else
		illegal_message(s, f);
}

static void
frame_error(struct rcv_session *s)
{
	const struct wire_error *err = wire_error(s->w);
	char q[96];
	unsigned long long held = 0, budget = 0;

	email_free(&s->cur);
	/* numbers exhausted: the Error has no reference and goes out after
	 * every earlier reply (SMTPSEC.md 2.5, README) */
	queue_error(s, err->number, err->code, err->no_reference ? -1 : (int64_t)err->number);
	if (err->code == WIRE_ERR_TOO_LARGE || err->code == WIRE_ERR_ILLEGAL_PARAMETER)
		s->p.st->failed++;
	if (err->code == WIRE_ERR_INTERNAL_ERROR) {
		s->ops->budget(s->arg, &held, &budget);
		rcv_log(RCV_LOG_WARN, "conn=%016llx event=frame_error n=%u code=%s fatal=%d why=%s "
		    "held=%llu budget=%llu", s->p.id, err->number, wire_err_name(err->code),
		    err->fatal, rcv_log_q(q, sizeof(q), err->why, strlen(err->why)), held, budget);
	} else
		rcv_log(RCV_LOG_INFO, "conn=%016llx event=frame_error n=%u code=%s fatal=%d why=%s",
		    s->p.id, err->number, wire_err_name(err->code), err->fatal,
		    rcv_log_q(q, sizeof(q), err->why, strlen(err->why)));
	if (err->fatal)
		close_after(s, err->no_reference ? "numbers_exhausted" :
		    err->code == WIRE_ERR_INTERNAL_ERROR ? "buffer_budget" : "framing");
	else
		count_error(s);
}

void
rcv_session_input(struct rcv_session *s, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (rcv_session_reading(s) && off < n) {
		struct wire_frame f;
		size_t used = 0;
		int r = wire_decode(s->w, p + off, n - off, &used, &f);

		off += used;
		if (r == 0)
			break;
		if (r < 0) {
			frame_error(s);
			continue;	/* a recoverable error: the decoder skips next call */
		}
		if (s->state == RCV_SESS_HELLO)
			hello_frame(s, &f);
		else
			emails_frame(s, &f);
		if (!rcv_session_reading(s))
			email_free(&s->cur);
		wire_release(s->w);	/* the frame's views are done with */
	}
}

void
rcv_session_start(struct rcv_session *s)
{
	struct buf b = { 0 };

	wire_enc_server_hello(&b, NULL, 0);
	s->ops->send(s->arg, b.p, b.len);
	buf_free(&b);
}

void
rcv_session_eof(struct rcv_session *s, const char *reason)
{
	close_after(s, reason);
}

void
rcv_session_shutdown(struct rcv_session *s)
{
	if (s->state < RCV_SESS_SHUTDOWN)
		s->state = RCV_SESS_SHUTDOWN;
	if (s->close_reason == NULL)
		s->close_reason = "shutdown";
}

/* SMTPSEC.md 2.5: service_unavailable without a reference */
static void
send_goodbye(struct rcv_session *s)
{
	struct buf b = { 0 };

	wire_enc_error(&b, NULL, WIRE_ERR_SERVICE_UNAVAILABLE, -1, NULL, 0);
	s->ops->send(s->arg, b.p, b.len);
	buf_free(&b);
	s->replies++;
	s->state = RCV_SESS_DONE;
}

int
rcv_session_idle(struct rcv_session *s)
{
	if (s->n_inflight > 0)
		return 0;	/* we are the slow party */
	if (s->state >= RCV_SESS_CLOSING)
		return -1;
	rcv_session_flush(s);
	if (s->close_reason == NULL)
		s->close_reason = "idle_timeout";
	send_goodbye(s);
	return 1;
}

void
rcv_session_flush(struct rcv_session *s)
{
	struct buf b = { 0 };
	size_t n;

	n = rcv_rq_drain(&s->rq, &b);
	if (n > 0)
		s->ops->send(s->arg, b.p, b.len);
	s->replies += n;
	buf_free(&b);
	if (s->rq.n > 0 || s->n_inflight > 0)
		return;
	if (s->state == RCV_SESS_SHUTDOWN)
		send_goodbye(s);
	else if (s->state == RCV_SESS_CLOSING)
		s->state = RCV_SESS_DONE;
}

int
rcv_session_reading(const struct rcv_session *s)
{
	return s->state == RCV_SESS_HELLO || s->state == RCV_SESS_EMAILS;
}

int
rcv_session_wants_input(const struct rcv_session *s)
{
	return rcv_session_reading(s) && s->n_inflight < RCV_SESS_MAX_INFLIGHT &&
	    s->rq.n < RCV_SESS_MAX_QUEUED;
}

int
rcv_session_between_frames(const struct rcv_session *s)
{
	return wire_idle(s->w);
}

/* --- lifecycle --------------------------------------------------------------------------- */

struct rcv_session *
rcv_session_new(const struct rcv_session_params *p, const struct rcv_session_ops *ops, void *arg)
{
	struct rcv_session *s = mem_calloc(1, sizeof(*s));

	s->p = *p;
	s->ops = ops;
	s->arg = arg;
	s->w = wire_new(p->lim, body_cb, s);
	wire_set_grow_cb(s->w, wire_grow, s);
	return s;
}

void
rcv_session_free(struct rcv_session **s_p)
{
	struct rcv_session *s = *s_p;

	if (s == NULL)
		return;
	*s_p = NULL;
	while (s->inflight) {
		struct rcv_sess_email *e = s->inflight;

		inflight_remove(s, e);
		email_free(&e);	/* cancels verification and delivery */
	}
	email_free(&s->cur);
	wire_free(&s->w);
	s->ops->charge(s->arg, &s->held_wire, 0);
	rcv_rq_free(&s->rq);
	free(s);
}
