/*
 * rcv_conn: see rcv_conn.h.  The transport is in rcv_io.c, the protocol
 * in rcv_session.c; this file joins them to the worker (buffer budget,
 * connection list) and to verify/ and lmtp/ for each Email.
 */
#include "receiver/rcv_conn.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/sys.h"
#include "lmtp/lmtp.h"
#include "receiver/rcv_io.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_metrics.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_session.h"
#include "verify/vfy.h"

/* What this file keeps per Email (the session's e->op). */
struct conn_email {
	struct rcv_conn *c;
	struct rcv_sess_email *e;
	struct vfy_email *ve;	/* owned: steps 2-9, then their verdict */
	struct lmtp_copy copy;
	int have_copy;
	struct lmtp_tx *tx;
};

struct rcv_conn {
	struct rcv_io io;		/* first: the watchers, container_of */
	struct rcv_session *s;		/* owned */
	struct rcv_server *srv;
	const struct rcv_config *cfg;	/* borrowed: the configuration at accept; a
					 * reload does not change an open connection */
	struct rcv_conn *next, *prev;
	unsigned long long id;	/* 64 random bits: unique across a fleet */
	char ip[48];
	struct vfy_chains *chains;	/* owned: the ClientHello's */
	size_t held_chains;	/* their bytes, charged to the budget */
};

#define CONN_OF_IO(p) ((struct rcv_conn *)(void *)((char *)(p) - offsetof(struct rcv_conn, io)))

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
op_charge(void *arg, size_t *held, size_t want)
{
	struct rcv_server *srv = ((struct rcv_conn *)arg)->srv;
	uint64_t budget = srv->cfg->worker_buffer_budget;

	/* a holder past 64 KiB (a large frame, a growing body) may fill three
	 * quarters of the budget only: the last quarter stays for ordinary
	 * ClientHellos, Email heads and small bodies, so good mail is still
	 * received while slow peers hold the rest */
	if (want > WIRE_KEEP_BUF)
		budget -= budget / 4;
	if (want > *held && budget != 0 && srv->buf_bytes - *held + want > budget)
		return -1;
	srv->buf_bytes = srv->buf_bytes - *held + want;
	*held = want;
	return 0;
}

static void
op_budget(void *arg, unsigned long long *held_r, unsigned long long *budget_r)
{
	struct rcv_server *srv = ((struct rcv_conn *)arg)->srv;

	*held_r = srv->buf_bytes;
	*budget_r = srv->cfg->worker_buffer_budget;
}

static void
op_send(void *arg, const uint8_t *p, size_t n)
{
	rcv_io_send(&((struct rcv_conn *)arg)->io, p, n);
}

/* Keep the ClientHello's chains for the session: 0, or -1 when the
 * worker's buffer budget has no room for them. */
static int
op_hello(void *arg, const struct wire_frame *f)
{
	struct rcv_conn *c = arg;
	size_t i, j, bytes = 0;

	for (i = 0; i < f->n_chains; i++)
		for (j = 0; j < f->chains[i].n_certs; j++)
			bytes += f->chains[i].certs[j].len;
	if (op_charge(c, &c->held_chains, bytes) != 0) {
		RCV_METRIC_ADD(buffer_budget_refused, 1);
		return -1;
	}
	c->chains = vfy_chains_new(f->n_chains);
	for (i = 0; i < f->n_chains; i++) {
		const struct wire_chain *in = &f->chains[i];
		const uint8_t **der = mem_calloc(in->n_certs + 1, sizeof(*der));
		size_t *len = mem_calloc(in->n_certs + 1, sizeof(*len));

		for (j = 0; j < in->n_certs; j++) {
			der[j] = in->certs[j].p;
			len[j] = in->certs[j].len;
		}
		vfy_chains_set(c->chains, i, der, len, in->n_certs);
		free(der);
		free(len);
	}
	return 0;
}

static struct conn_email *
conn_email(struct rcv_conn *c, struct rcv_sess_email *e)
{
	struct conn_email *ce = e->op;

	if (ce == NULL) {
		ce = e->op = mem_calloc(1, sizeof(*ce));
		ce->c = c;
		ce->e = e;
	}
	return ce;
}

static void
op_email_free(void *arg, struct rcv_sess_email *e)
{
	struct conn_email *ce = e->op;

	if (ce == NULL)
		return;
	e->op = NULL;
	if (ce->tx)
		lmtp_cancel(&ce->tx);
	vfy_email_free(&ce->ve);
	if (ce->have_copy)
		lmtp_copy_free(&ce->copy);
	free(ce);
}

static void
email_begin(struct rcv_conn *c, struct conn_email *ce, const struct wire_frame *head)
{
	struct vfy_email_head h = { head->chain_index, head->algorithm, head->signature.p,
	    head->signature.len };

	ce->ve = vfy_email_begin(c->srv->skip_chain_checks ? NULL : c->srv->vfy, c->chains, &h);
}

/* Step 3 runs as the body arrives: the message is never read again for it. */
static void
op_body(void *arg, struct rcv_sess_email *e, const struct wire_frame *head, const uint8_t *p,
    size_t n)
{
	struct rcv_conn *c = arg;
	struct conn_email *ce = conn_email(c, e);

	if (ce->ve == NULL)
		email_begin(c, ce, head);
	vfy_email_update(ce->ve, p, n);
}

static const char *
lmtp_rcpt_status_name(enum lmtp_rcpt_status st)
{
	switch (st) {
	case LMTP_RCPT_DELIVERED: return "delivered";
	case LMTP_RCPT_SPOOLED: return "spooled";
	case LMTP_RCPT_REJECTED: return "rejected";
	default: return "tempfail";
	}
}

static void
lmtp_done(void *arg, const struct lmtp_result *res)
{
	struct conn_email *ce = arg;
	struct rcv_conn *c = ce->c;
	size_t i;

	ce->tx = NULL;
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
	for (i = 0; rcv_log_verbosity >= RCV_LOG_DEBUG && i < res->n_rcpt && i < ce->e->n_rcpt; i++) {
		char qa[400], qt[700];

		rcv_log(RCV_LOG_DEBUG, "conn=%016llx event=lmtp_reply n=%u rcpt=%s status=%s code=%d "
		    "text=%s us=%llu", c->id, ce->e->n, rcv_log_q(qa, sizeof(qa), ce->e->rcpt[i],
		    strlen(ce->e->rcpt[i])), lmtp_rcpt_status_name(res->rcpt[i].status),
		    res->rcpt[i].code, rcv_log_q(qt, sizeof(qt), res->rcpt[i].text,
		    strlen(res->rcpt[i].text)), (unsigned long long)res->latency_us);
	}
	if (res->tempfail && rcv_log_verbosity >= RCV_LOG_DEBUG) {
		char q[300];

		rcv_log(RCV_LOG_DEBUG, "conn=%016llx event=lmtp_reply n=%u result=%s why=%s", c->id,
		    ce->e->n, res->permfail ? "permfail" : "tempfail",
		    rcv_log_q(q, sizeof(q), res->why ? res->why : "", res->why ? strlen(res->why) : 0));
	}
	if (res->tempfail || res->n_rcpt == 0) {
		RCV_METRIC_ADD(lmtp_failures, 1);
		RCV_METRIC_ADD(tempfail_lmtp, 1);
	}
	rcv_session_delivered(ce->e, res);
	rcv_io_update_later(&c->io);	/* with the other answers of this iteration */
}

/* Step 10: the delivery copy (SMTPSEC.md 8) to the mailstore. */
static void
op_deliver(void *arg, struct rcv_sess_email *e)
{
	struct rcv_conn *c = arg;
	struct conn_email *ce = conn_email(c, e);
	const struct rcv_config *cfg = c->cfg;
	const struct vfy_from *from;
	const struct vfy_verdict *vd = vfy_email_verdict(ce->ve, &from);
	const char *allow[RCV_CONFIG_MAX_TRACE], *also[RCV_CONFIG_MAX_AUTHSERV];
	struct lmtp_copy_info info;
	struct lmtp_msg m;
	const char *why = NULL;
	char qid[32];
	size_t i;

	if (c->srv->lmtp == NULL) {
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, "lmtp", "no LMTP target configured");
		return;
	}
	snprintf(qid, sizeof(qid), "%016llx.%u", c->id, e->n);
	for (i = 0; i < cfg->n_authserv_also; i++)
		also[i] = cfg->authserv_also[i];
	for (i = 0; i < cfg->n_trace_allow; i++)
		allow[i] = cfg->trace_allow[i];
	info = (struct lmtp_copy_info){ .authserv_id = cfg->authserv_id, .hostname = cfg->hostname,
	    .sender_host = vd->target, .cert_name = vd->matched_name, .client_ip = c->ip, .id = qid,
	    .tls_version = wolfSSL_get_version(c->io.ssl), .tls_cipher = wolfSSL_get_cipher_name(c->io.ssl),
	    .from_domain = from->domain, .trust = e->trust, .require_security = e->require_security,
	    .date = (int64_t)time(NULL), .authserv_also = also, .n_authserv_also = cfg->n_authserv_also,
	    .trace_allow = allow, .n_trace_allow = cfg->n_trace_allow };
	if (lmtp_copy_build(&info, e->trace, e->n_trace, e->msg, (size_t)e->len, &ce->copy, &why) < 0) {
		rcv_session_fail(e, WIRE_ERR_ILLEGAL_PARAMETER, "headers", why);
		return;
	}
	ce->have_copy = 1;
	m = (struct lmtp_msg){ .mail_from = from->addr, .rcpt = (const char *const *)e->rcpt,
	    .n_rcpt = e->n_rcpt, .seg = ce->copy.seg, .n_seg = ce->copy.n_seg, .body = e->msg,
	    .body_len = (size_t)e->len, .body_8bit = e->body_8bit, .body_mapped = e->body_mapped };
	ce->tx = lmtp_deliver(c->srv->lmtp, &m, lmtp_done, ce);
	if (ce->tx == NULL)
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, "lmtp", "delivery could not start");
}

/* The verdict of steps 2-9 (SMTPSEC.md 5). */
static void
email_verdict(struct conn_email *ce)
{
	const struct vfy_from *from;
	const struct vfy_verdict *v = vfy_email_verdict(ce->ve, &from);
	struct rcv_sess_email *e = ce->e;

	snprintf(e->from_domain, sizeof(e->from_domain), "%s", from->domain);
	if (rcv_log_verbosity >= RCV_LOG_DEBUG) {
		char q[300];

		rcv_log(RCV_LOG_DEBUG, "conn=%016llx event=verdict n=%u result=%s step=%s author=%s "
		    "target=%s port=%u name=%s tlsa_usage=%d trust=%s cached=%d dns_lookups=%u ttl=%u "
		    "why=%s", ce->c->id, e->n, vfy_result_str(v->result), vfy_step_str(v->step),
		    from->addr[0] ? from->addr : "-", v->target[0] ? v->target : "-", v->port,
		    v->matched_name[0] ? v->matched_name : "-", v->tlsa_usage,
		    v->trust && v->trust[0] ? v->trust : "-", v->cached, v->dns_lookups, v->ttl,
		    rcv_log_q(q, sizeof(q), v->why, strlen(v->why)));
	}
	if (v->result == VFY_PASS && v->trust && v->trust[0])
		rcv_session_verified(e, v->trust);
	else if (v->result == VFY_PERMFAIL)
		rcv_session_fail(e, v->step == VFY_STEP_CHAIN ? WIRE_ERR_ILLEGAL_PARAMETER :
		    WIRE_ERR_AUTHENTICATION_FAILED, vfy_step_str(v->step), v->why);
	else if (v->result == VFY_TEMPFAIL) {
		RCV_METRIC_ADD(tempfail_dns, 1);
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, vfy_step_str(v->step), v->why);
	} else	/* a verdict nobody filled in: fail closed */
		rcv_session_fail(e, WIRE_ERR_INTERNAL_ERROR, vfy_step_str(v->step), "verdict unchecked");
}

static void
verdict_cb(void *arg, struct vfy_email *ve)
{
	struct conn_email *ce = arg;
	struct rcv_conn *c = ce->c;

	email_verdict(ce);
	rcv_io_update_later(&c->io);
}

/* Steps 2-9 (SMTPSEC.md 4) for a complete Email: verify/ runs them. */
static void
op_verify(void *arg, struct rcv_sess_email *e, const struct wire_frame *f)
{
	struct rcv_conn *c = arg;
	struct conn_email *ce = conn_email(c, e);

	if (!c->srv->skip_chain_checks && c->srv->vfy == NULL) {
		rcv_session_fail(e, WIRE_ERR_INTERNAL_ERROR, "srv", "verifier not initialised");
		return;
	}
	if (ce->ve == NULL)	/* an empty body */
		email_begin(c, ce, f);
	if (vfy_email_end(ce->ve, e->msg, (size_t)e->len, time(NULL), verdict_cb, ce) == 1)
		email_verdict(ce);
}

static const struct rcv_session_ops conn_ops = {
	.send = op_send,
	.charge = op_charge,
	.budget = op_budget,
	.hello = op_hello,
	.body = op_body,
	.verify = op_verify,
	.deliver = op_deliver,
	.email_free = op_email_free,
};

static void
conn_gone(struct rcv_io *io)
{
	struct rcv_conn *c = CONN_OF_IO(io);

	rcv_conn_free(&c);
}

struct rcv_conn *
rcv_conn_new(struct rcv_server *srv, int fd, const char *ip)
{
	struct rcv_conn *c = mem_calloc(1, sizeof(*c));
	const struct rcv_config *cfg = srv->cfg;
	struct wire_limits lim;
	struct rcv_session_params sp;

	c->srv = srv;
	c->cfg = cfg;
	c->id = sys_random64() ^ ++srv->next_conn_id;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	wire_limits_default(&lim);
	lim.max_message_size = cfg->max_message_size;
	lim.max_recipients = (unsigned)cfg->max_recipients;
	lim.max_trace_headers = (unsigned)cfg->max_trace_headers;
	lim.max_trace_bytes = (size_t)cfg->max_trace_bytes;
	sp = (struct rcv_session_params){ .lim = &lim, .memory_threshold = cfg->memory_threshold,
	    .spool_dir = cfg->spool_dir, .id = c->id, .ip = c->ip, .st = &srv->st };
	c->s = rcv_session_new(&sp, &conn_ops, c);
	if (rcv_io_init(&c->io, srv->loop, srv->ctx, fd, c->id, cfg->handshake_timeout_ms,
	    cfg->idle_timeout_ms, c->s, conn_gone) != 0) {
		rcv_session_free(&c->s);
		free(c);
		return NULL;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=connect ip=%s", c->id, c->ip);
	return c;
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
	rcv_io_deinit(&c->io);
	rcv_session_free(&c->s);	/* cancels verification and delivery */
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	vfy_chains_free(&c->chains);
	op_charge(c, &c->held_chains, 0);
	rcv_server_conn_closed(srv, c->ip);
	free(c);
}

void
rcv_conn_shutdown_all(struct rcv_conn *c)
{
	struct rcv_conn *nx;

	for (; c != NULL; c = nx) {
		nx = c->next;	/* c may be freed now */
		rcv_io_shutdown(&c->io);
	}
}
