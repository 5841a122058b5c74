/*
 * Unit tests for receiver/rcv_session.c: the session without TLS or sockets.
 *
 * Each row is a sequence of client frames (built with the wire encoder) and
 * events, and the reply frames the session must send, decoded back to a
 * short text: SH (ServerHello), D<n> (EmailDelivered), E<code>/<ref|->
 * [addresses] (Error).  Every row runs twice: the bytes fed whole, and one
 * byte at a time.  Steps 2-10 come from a fake ops struct that decides by
 * the first recipient's local part:
 *   pass  verified, delivered       auth  authentication_failed
 *   dns   temporary DNS failure     bug   internal_error
 *   slow  verified later (!complete answers in reverse order)
 *   down  mailstore unreachable     perm  mailstore refuses the author
 * and, for each recipient at delivery: unknown* rejected, spool* spooled
 * (4xx after DATA), later* temporarily failed, anything else delivered.
 * The fake also checks that the body it is given for verification is the
 * one that was sent, byte for byte, whether it was kept in memory or in a
 * spool file.
 */
#include <stdlib.h>
#include <unistd.h>

#include "lmtp/lmtp.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_server.h"
#include "receiver/rcv_session.h"
#include "wire/wire.h"
#include "tests/unit/t.h"

/* the worker's counters every session adds to */
static struct rcv_server_stats counters;

/* --- the fake owner ------------------------------------------------------------ */

struct fake {
	struct buf out;		/* every byte the session sent */
	size_t sends;			/* ops->send calls */
	uint64_t budget;		/* 0: unlimited */
	uint64_t held;			/* charged now */
	int hello_rc;
	struct buf body;		/* the body as streamed through ops->body */
	struct rcv_sess_email *slow[16];
	size_t n_slow;
	int ops_live;			/* e->op allocated and not yet freed */
	int last_8bit;			/* body_8bit of the last Email verified */
	char err[200];			/* a broken promise of the session, if any */
};

static int
f_charge(void *arg, size_t *held, size_t want)
{
	struct fake *f = arg;

	if (want > *held && f->budget && f->held - *held + want > f->budget)
		return -1;
	f->held = f->held - *held + want;
	*held = want;
	return 0;
}

static void
f_budget(void *arg, unsigned long long *held_r, unsigned long long *budget_r)
{
	struct fake *f = arg;

	*held_r = f->held;
	*budget_r = f->budget;
}

static void
f_send(void *arg, const uint8_t *p, size_t n)
{
	struct fake *f = arg;

	buf_add(&f->out, p, n);
	f->sends++;
}

static int
f_hello(void *arg, const struct wire_frame *fr)
{
	return ((struct fake *)arg)->hello_rc;
}

static void
f_body(void *arg, struct rcv_sess_email *e, const struct wire_frame *head, const uint8_t *p, size_t n)
{
	struct fake *f = arg;

	if (e->s->state != RCV_SESS_EMAILS)
		snprintf(f->err, sizeof(f->err), "a body chunk in state %d", e->s->state);
	if (e->op == NULL) {
		e->op = f;	/* marks "the owner holds something for this Email" */
		f->ops_live++;
		f->body.len = 0;
	}
	if (e->len != f->body.len)
		snprintf(f->err, sizeof(f->err), "body chunk at %llu, expected %zu",
		    (unsigned long long)e->len, f->body.len);
	buf_add(&f->body, p, n);
}

static int
who(const struct rcv_sess_email *e, const char *name)
{
	return e->n_rcpt > 0 && strncmp(e->rcpt[0], name, strlen(name)) == 0;
}

static void
f_verify(void *arg, struct rcv_sess_email *e, const struct wire_frame *fr)
{
	struct fake *f = arg;

	if (e->len != f->body.len || (e->len && memcmp(e->msg, f->body.p, f->body.len) != 0)) {
		snprintf(f->err, sizeof(f->err), "Email %u: body of %llu bytes is not the %zu sent", e->n,
		    (unsigned long long)e->len, f->body.len);
		rcv_session_fail(e, WIRE_ERR_INTERNAL_ERROR, "test", "body differs");
		return;
	}
	f->body.len = 0;
	f->last_8bit = e->body_8bit;
	snprintf(e->from_domain, sizeof(e->from_domain), "a.test");
	if (who(e, "auth"))
		rcv_session_fail(e, WIRE_ERR_AUTHENTICATION_FAILED, "signature", "fake: bad signature");
	else if (who(e, "dns"))
		rcv_session_fail(e, WIRE_ERR_SERVICE_UNAVAILABLE, "srv", "fake: SERVFAIL");
	else if (who(e, "bug"))
		rcv_session_fail(e, WIRE_ERR_INTERNAL_ERROR, "srv", "fake: verdict unchecked");
	else if (who(e, "slow") && f->n_slow < 16)
		f->slow[f->n_slow++] = e;
	else
		rcv_session_verified(e, "dane-ee");
}

static void
f_deliver(void *arg, struct rcv_sess_email *e)
{
	struct lmtp_rcpt_result rr[8];
	struct lmtp_result res;
	size_t i;

	memset(&res, 0, sizeof(res));
	memset(rr, 0, sizeof(rr));
	res.rcpt = rr;
	if (who(e, "down")) {
		res.tempfail = 1;
		res.why = "fake: connection refused";
	} else if (who(e, "perm")) {
		res.permfail = 1;
		res.why = "fake: 553 bad sender";
	} else
		for (i = 0; i < e->n_rcpt && i < 8; i++, res.n_rcpt++)
			rr[i].status = strncmp(e->rcpt[i], "unknown", 7) == 0 ? LMTP_RCPT_REJECTED :
			    strncmp(e->rcpt[i], "spool", 5) == 0 ? LMTP_RCPT_SPOOLED :
			    strncmp(e->rcpt[i], "later", 5) == 0 ? LMTP_RCPT_TEMPFAIL : LMTP_RCPT_DELIVERED;
	rcv_session_delivered(e, &res);
}

static void
f_email_free(void *arg, struct rcv_sess_email *e)
{
	struct fake *f = arg;
	size_t i;

	if (e->op != NULL)
		f->ops_live--;
	e->op = NULL;
	for (i = 0; i < f->n_slow; i++)
		if (f->slow[i] == e)
			f->slow[i] = NULL;
}

static const struct rcv_session_ops fake_ops = {
	.send = f_send, .charge = f_charge, .budget = f_budget, .hello = f_hello,
	.body = f_body, .verify = f_verify, .deliver = f_deliver, .email_free = f_email_free,
};

/* --- building the client's bytes ------------------------------------------------- */

static const uint8_t cert[200] = { 0x30, 0x82 };

static void
raw_frame(struct buf *b, uint64_t size, uint8_t type)
{
	uint8_t h[11] = { 0 };
	int i;

	for (i = 0; i < 8; i++)
		h[i] = (uint8_t)(size >> (56 - 8 * i));
	h[8] = type;
	buf_add(b, h, sizeof(h));
}

/* "From: a@a.test" and filler up to len bytes (at least the header) */
static void
make_body(struct buf *m, size_t len)
{
	static const char hdr[] = "From: a@a.test\r\n\r\n";
	size_t i;

	buf_add(m, hdr, sizeof(hdr) - 1);
	for (i = m->len; i < len; i++) {
		uint8_t c = (uint8_t)(i % 97 == 96 ? '\n' : 'a' + i % 23);

		if (i % 1013 == 5)
			c = 0xc3;	/* an 8-bit byte now and then */
		buf_add(m, &c, 1);
	}
}

/*
 * One token of the client's side:
 *   hello  hello:v1 (version 1)  hello:c3 (3 chains)  hello:big (40 KiB chain)
 *   email:R1,R2[:BODYLEN]   email:: (no recipients)
 *   trace:NAME:R (one trace header named NAME)
 *   sh ed err (server-only types)  t9 (unknown type)  short (size 5)
 */
static int
build(struct buf *b, const char *tok)
{
	if (strncmp(tok, "hello", 5) == 0) {
		struct wire_bytes certs[2] = { { cert, sizeof(cert) }, { cert, sizeof(cert) } };
		struct wire_chain ch[3] = { { 1, certs }, { 2, certs }, { 1, certs } };
		uint8_t *bigc = NULL;
		struct wire_bytes bigb;
		int r;

		if (strcmp(tok, "hello:big") == 0) {
			bigc = calloc(1, 40000);
			bigb.p = bigc;
			bigb.len = 40000;
			ch[0].certs = &bigb;
		}
		r = wire_enc_client_hello(b, NULL, strcmp(tok, "hello:v1") == 0 ? 1 : 0, ch,
		    strcmp(tok, "hello:c3") == 0 ? 3 : 1);
		free(bigc);
		return r;
	}
	if (strncmp(tok, "email:", 6) == 0 || strncmp(tok, "trace:", 6) == 0) {
		char spec[200], *rc, *colon, *save = NULL;
		struct wire_bytes rcpt[8];
		struct wire_header tr;
		struct wire_email_out eo;
		struct buf m = { 0 };
		uint8_t sig[64] = { 1 };
		size_t bodylen = 0;
		int r;

		memset(&eo, 0, sizeof(eo));
		snprintf(spec, sizeof(spec), "%s", tok + 6);
		rc = spec;
		if (tok[0] == 't') {
			colon = strchr(spec, ':');
			*colon = '\0';
			tr.name.p = (const uint8_t *)spec;
			tr.name.len = strlen(spec);
			tr.value.p = (const uint8_t *)" v";
			tr.value.len = 2;
			eo.trace = &tr;
			eo.n_trace = 1;
			rc = colon + 1;
		}
		if ((colon = strchr(rc, ':')) != NULL) {
			*colon = '\0';
			bodylen = strtoul(colon + 1, NULL, 10);
		}
		for (rc = strtok_r(rc, ",", &save); rc && eo.n_rcpt < 8; rc = strtok_r(NULL, ",", &save)) {
			rcpt[eo.n_rcpt].p = (const uint8_t *)rc;
			rcpt[eo.n_rcpt++].len = strlen(rc);
		}
		eo.rcpt = rcpt;
		eo.algorithm = WIRE_SIG_ED25519;
		eo.signature.p = sig;
		eo.signature.len = sizeof(sig);
		make_body(&m, bodylen);
		r = wire_enc_email(b, NULL, &eo, m.p, m.len);
		buf_free(&m);
		return r;
	}
	if (strcmp(tok, "sh") == 0)
		wire_enc_server_hello(b, NULL, 0);
	else if (strcmp(tok, "ed") == 0)
		wire_enc_email_delivered(b, NULL, 1);
	else if (strcmp(tok, "err") == 0)
		wire_enc_error(b, NULL, WIRE_ERR_INTERNAL_ERROR, 0, NULL, 0);
	else if (strcmp(tok, "t9") == 0)
		raw_frame(b, 11, 9);
	else if (strcmp(tok, "short") == 0)
		raw_frame(b, 5, 0);
	else
		return -1;
	return 0;
}

/* --- reading the server's replies -------------------------------------------------- */

static void
no_body(void *arg, const struct wire_frame *head, uint64_t off, const uint8_t *p, size_t n)
{
}

/* The replies as text; -1 when they do not decode. */
static int
replies(const struct buf *out, char *txt, size_t cap)
{
	struct wire_limits lim;
	struct wire *w;
	size_t off = 0, i;
	int rc = 0;

	wire_limits_default(&lim);
	w = wire_new(&lim, no_body, NULL);
	txt[0] = '\0';
	while (off < out->len) {
		struct wire_frame fr;
		size_t used = 0, tl = strlen(txt);
		int r = wire_decode(w, out->p + off, out->len - off, &used, &fr);

		off += used;
		if (r != 1) {
			rc = -1;
			break;
		}
		if (fr.type == WIRE_MSG_SERVER_HELLO)
			snprintf(txt + tl, cap - tl, "%sSH", tl ? " " : "");
		else if (fr.type == WIRE_MSG_EMAIL_DELIVERED)
			snprintf(txt + tl, cap - tl, "%sD%u", tl ? " " : "", fr.email);
		else if (fr.type == WIRE_MSG_ERROR) {
			char ref[16] = "-";

			if (fr.has_ref)
				snprintf(ref, sizeof(ref), "%u", fr.ref);
			snprintf(txt + tl, cap - tl, "%sE%s/%s", tl ? " " : "", wire_err_name(fr.code), ref);
			for (i = 0; i < fr.n_addr; i++) {
				tl = strlen(txt);
				snprintf(txt + tl, cap - tl, "%s%.*s%s", i ? "," : "[", (int)fr.addr[i].len,
				    (const char *)fr.addr[i].p, i + 1 == fr.n_addr ? "]" : "");
			}
		} else
			rc = -1;
	}
	wire_free(&w);
	return rc;
}

/* --- the table ------------------------------------------------------------------ */

struct row {
	const char *name;
	const char *in;		/* tokens above, and events: !complete !shutdown !idle !eof */
	const char *want;	/* replies */
	enum rcv_sess_state state;	/* at the end */
	uint64_t max_message_size;	/* 0: the default */
	uint64_t budget;		/* 0: unlimited */
	int hello_rc;
	uint64_t memory_threshold;	/* 0: 1 MiB */
	int no_spool;			/* spool_dir that does not exist */
};

#define H "hello"
static const struct row rows[] = {
	/* SMTPSEC.md 3: session */
	{ "hello", H, "SH", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "hello_version_refused", "hello:v1 email:pass@b.test", "SH Einsufficient_security/0",
	  RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "first_not_hello", "email:pass@b.test hello email:pass@b.test",
	  "SH Eillegal_message/0 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "second_hello", H " hello email:pass@b.test", "SH Eillegal_message/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "server_only_types", H " sh ed err email:pass@b.test",
	  "SH Eillegal_message/1 Eillegal_message/2 Eillegal_message/3 D4", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "pipelined_in_order", H " email:pass@b.test email:auth@b.test email:pass@b.test",
	  "SH D1 Eauthentication_failed/2 D3", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "async_replies_in_arrival_order",
	  H " email:slow1@b.test email:slow2@b.test email:pass@b.test !complete",
	  "SH D1 D2 D3", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "eof_closes_after_replies", H " email:slow@b.test !eof !complete", "SH D1", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	/* SMTPSEC.md 5: one row each */
	{ "r5_delivered", H " email:pass@b.test,x@b.test", "SH D1", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_some_unknown", H " email:pass@b.test,unknown1@b.test,y@b.test,unknown2@b.test",
	  "SH Eunknown_address/1[unknown1@b.test,unknown2@b.test]", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_all_unknown", H " email:unknown1@b.test,unknown2@b.test email:pass@b.test",
	  "SH Eunknown_address/1[unknown1@b.test,unknown2@b.test] D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_verification_failed", H " email:auth@b.test email:pass@b.test",
	  "SH Eauthentication_failed/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_dns_tempfail_closes", H " email:pass@b.test email:dns@b.test email:pass@b.test",
	  "SH D1 Eservice_unavailable/2", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r5_mailstore_down_closes", H " email:slow@b.test email:down@b.test !complete",
	  "SH D1 Eservice_unavailable/2", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r5_rcpt_tempfail_closes", H " email:pass@b.test,later@b.test email:pass@b.test",
	  "SH Eservice_unavailable/1", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r5_spooled_counts_delivered", H " email:pass@b.test,spool@b.test", "SH D1", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_mailstore_refuses_author", H " email:perm@b.test email:pass@b.test",
	  "SH Eauthentication_failed/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_internal_error_closes", H " email:bug@b.test email:pass@b.test",
	  "SH Einternal_error/1", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r5_body_store_failure_closes", H " email:pass@b.test:3000 email:pass@b.test",
	  "SH Einternal_error/1", RCV_SESS_DONE, 0, 0, 0, 1024, 1 },
	{ "r5_too_large_stays", H " email:pass@b.test:5000 email:pass@b.test",
	  "SH Etoo_large/1 D2", RCV_SESS_EMAILS, 1000, 0, 0, 0, 0 },
	{ "r5_malformed_stays", H " email:no-at-sign email:pass@b.test",
	  "SH Eillegal_parameter/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_no_recipients", H " email:: email:pass@b.test", "SH Eillegal_parameter/1 D2",
	  RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_bad_trace_header", H " trace:Bad\x7f" "Name:pass@b.test email:pass@b.test",
	  "SH Eillegal_parameter/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r5_shutdown", H " email:slow@b.test !shutdown email:pass@b.test !complete",
	  "SH D1 Eservice_unavailable/-", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r5_shutdown_idle_session", H " !shutdown", "SH Eservice_unavailable/-", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	/* SMTPSEC.md 7: the limits the session decides */
	{ "r7_unknown_type_skipped", H " t9 email:pass@b.test", "SH Eillegal_message/1 D2",
	  RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r7_frame_too_short_closes", H " short email:pass@b.test", "SH Eillegal_message/1",
	  RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r7_non_email_too_large_closes", "hello:big email:pass@b.test", "SH Etoo_large/0",
	  RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r7_too_many_chains", "hello:c3 hello", "SH Eillegal_parameter/0", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r7_too_many_recipients", H " email:a@b.test,b@b.test,c@b.test email:pass@b.test",
	  "SH Eillegal_parameter/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r7_too_many_trace_headers", H " trace:Received:pass@b.test email:pass@b.test",
	  "SH Eillegal_parameter/1 D2", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	{ "r7_idle_timeout", H " !idle", "SH Eservice_unavailable/-", RCV_SESS_DONE, 0, 0, 0, 0, 0 },
	{ "r7_idle_while_busy_waits", H " email:slow@b.test !idle !complete", "SH D1", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 },
	/* resources */
	{ "hello_no_room_closes", H " email:pass@b.test", "SH Einternal_error/0", RCV_SESS_DONE, 0, 0, -1, 0, 0 },
	{ "frame_over_budget_closes", H " email:pass@b.test:3000", "SH Einternal_error/0",
	  RCV_SESS_DONE, 0, 100, 0, 0, 0 },
	{ "body_spooled_intact", H " email:pass@b.test:70000 email:pass@b.test:300000",
	  "SH D1 D2", RCV_SESS_EMAILS, 0, 0, 0, 4096, 0 },
	{ "body_over_budget_spooled", H " email:pass@b.test:9000", "SH D1", RCV_SESS_EMAILS, 0, 6000, 0, 0, 0 },
};

static char spool_dir[] = "/tmp/test_rcv_session.XXXXXX";

/* The session parameters of the tests that need no special limit: the
 * codec's default limits, 1 MiB in memory, the test's spool. */
static void
params_default(struct rcv_session_params *p, struct wire_limits *lim)
{
	wire_limits_default(lim);
	memset(p, 0, sizeof(*p));
	p->st = &counters;
	p->lim = lim;
	p->memory_threshold = 1 << 20;
	p->spool_dir = spool_dir;
}

/* Run one row, fed whole (bytewise 0) or one byte at a time; NULL or why not. */
static const char *
run_row(const struct row *r, int bytewise, char *got, size_t gotcap)
{
	static char why[512];
	struct wire_limits lim;
	struct rcv_session_params p;
	struct rcv_session *s;
	struct fake f;
	char in[1024], *tok, *save = NULL;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.budget = r->budget;
	f.hello_rc = r->hello_rc;
	wire_limits_default(&lim);
	if (r->max_message_size)
		lim.max_message_size = r->max_message_size;
	lim.max_other_size = 32 * 1024;
	lim.max_chains = 2;
	lim.max_recipients = 2 + (strstr(r->name, "unknown") != NULL) * 6;
	lim.max_trace_headers = strstr(r->name, "trace_headers") ? 0 : 100;
	memset(&p, 0, sizeof(p));
	p.st = &counters;
	p.lim = &lim;
	p.memory_threshold = r->memory_threshold ? r->memory_threshold : 1024 * 1024;
	p.spool_dir = r->no_spool ? "/nonexistent/spool" : spool_dir;
	p.id = 0x5e55;
	s = rcv_session_new(&p, &fake_ops, &f);
	rcv_session_start(s);
	snprintf(in, sizeof(in), "%s", r->in);
	for (tok = strtok_r(in, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct buf b = { 0 };

		if (strcmp(tok, "!complete") == 0) {
			for (i = f.n_slow; i-- > 0;)
				if (f.slow[i] != NULL)
					rcv_session_verified(f.slow[i], "pkix+ct");
			f.n_slow = 0;
		} else if (strcmp(tok, "!shutdown") == 0)
			rcv_session_shutdown(s);
		else if (strcmp(tok, "!idle") == 0)
			rcv_session_idle(s);
		else if (strcmp(tok, "!eof") == 0)
			rcv_session_eof(s, "peer_closed");
		else if (build(&b, tok) != 0) {
			snprintf(why, sizeof(why), "cannot build %s", tok);
			rcv_session_free(&s);
			return why;
		} else if (bytewise)
			for (i = 0; i < b.len; i++)
				rcv_session_input(s, b.p + i, 1);
		else
			rcv_session_input(s, b.p, b.len);
		buf_free(&b);
		rcv_session_flush(s);
	}
	rcv_session_flush(s);
	why[0] = '\0';
	if (replies(&f.out, got, gotcap) != 0)
		snprintf(why, sizeof(why), "replies do not decode (got so far: %s)", got);
	else if (strcmp(got, r->want) != 0)
		snprintf(why, sizeof(why), "replies \"%s\", expected \"%s\"", got, r->want);
	else if (s->state != r->state)
		snprintf(why, sizeof(why), "state %d, expected %d", s->state, r->state);
	else if (f.err[0])
		snprintf(why, sizeof(why), "%s", f.err);
	rcv_session_free(&s);
	if (!why[0] && f.held != 0)
		snprintf(why, sizeof(why), "%llu budget bytes still charged after free",
		    (unsigned long long)f.held);
	if (!why[0] && f.ops_live != 0)
		snprintf(why, sizeof(why), "%d Emails' ops state not freed", f.ops_live);
	buf_free(&f.out);
	buf_free(&f.body);
	return why[0] ? why : NULL;
}

static void
row_case(const struct row *r, int bytewise)
{
	char got[1024];
	const char *why = run_row(r, bytewise, got, sizeof(got));

	if (why != NULL)
		T_FAIL("%s", why);
}

/* the body storage is checked end to end above; here: the spool file is
 * unlinked (nothing left in spool_dir) */
static void
t_spool_dir_left_empty(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", spool_dir);
	T_ASSERT(system(cmd) == 0);
}

/* one read with several replies gives one send */
static void
t_replies_of_one_read_batched(void)
{
	static const struct row r = { "batch", H " email:pass@b.test email:auth@b.test email:pass@b.test",
	    "SH D1 Eauthentication_failed/2 D3", RCV_SESS_EMAILS, 0, 0, 0, 0, 0 };
	struct wire_limits lim;
	struct rcv_session_params p;
	struct rcv_session *s;
	struct buf b = { 0 };
	struct fake f;
	char in[256], *tok, *save = NULL, got[256];

	memset(&f, 0, sizeof(f));
	params_default(&p, &lim);
	s = rcv_session_new(&p, &fake_ops, &f);
	rcv_session_start(s);
	snprintf(in, sizeof(in), "%s", r.in);
	for (tok = strtok_r(in, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		T_ASSERT(build(&b, tok) == 0);
	rcv_session_input(s, b.p, b.len);
	rcv_session_flush(s);
	buf_free(&b);
	T_ASSERT(replies(&f.out, got, sizeof(got)) == 0);
	T_EQ_STR(got, r.want);
	T_EQ_INT(f.sends, 2);	/* ServerHello, then the three replies at once */
	T_EQ_INT(s->replies, 3);
	rcv_session_free(&s);
	buf_free(&f.out);
	buf_free(&f.body);
}

/* the in-flight cap stops reading; answering resumes it */
static void
t_inflight_cap(void)
{
	struct wire_limits lim;
	struct rcv_session_params p;
	struct rcv_session *s;
	struct buf b = { 0 };
	struct fake f;
	char got[4096];
	size_t i;

	memset(&f, 0, sizeof(f));
	params_default(&p, &lim);
	s = rcv_session_new(&p, &fake_ops, &f);
	rcv_session_start(s);
	T_ASSERT(build(&b, "hello") == 0);
	rcv_session_input(s, b.p, b.len);
	T_ASSERT(rcv_session_wants_input(s));
	for (i = 0; i < 16; i++) {
		b.len = 0;
		T_ASSERT(build(&b, "email:slow@b.test") == 0);
		rcv_session_input(s, b.p, b.len);
	}
	buf_free(&b);
	T_EQ_INT(s->n_inflight, 16);
	T_ASSERT(RCV_SESS_MAX_INFLIGHT > 16 ? rcv_session_wants_input(s) : !rcv_session_wants_input(s));
	s->n_inflight += RCV_SESS_MAX_INFLIGHT - 16;	/* as if the rest were in flight */
	T_ASSERT(!rcv_session_wants_input(s));
	s->n_inflight -= RCV_SESS_MAX_INFLIGHT - 16;
	/* answered out of order: the odd ones oldest first, then the even ones
	 * newest first (the list unlinks from its middle, tail and head) */
	for (i = 1; i < f.n_slow; i += 2)
		rcv_session_verified(f.slow[i], "dane-ee");
	T_EQ_INT(s->n_inflight, 8);
	for (i = f.n_slow; i-- > 0;)
		if (i % 2 == 0)
			rcv_session_verified(f.slow[i], "dane-ee");
	T_EQ_INT(s->n_inflight, 0);
	T_ASSERT(s->inflight == NULL);
	rcv_session_flush(s);
	T_ASSERT(rcv_session_wants_input(s));
	T_ASSERT(replies(&f.out, got, sizeof(got)) == 0);
	T_ASSERT(strncmp(got, "SH D1 D2 D3", 11) == 0);
	rcv_session_free(&s);
	buf_free(&f.out);
	buf_free(&f.body);
}

/* body_8bit: one byte >= 0x80 anywhere in the message (BODY=8BITMIME
 * depends on it), the body fed whole and in 13-byte pieces */
static void
t_body_8bit(void)
{
	static const long pos[] = { -1, 0, 7, 8, 63, 64, 65, 127, 128, 200, 298, 299 };
	static const uint8_t val[] = { 0x80, 0xff, 0x7f };
	size_t i, j, k, piece;

	for (i = 0; i < sizeof(pos) / sizeof(pos[0]); i++)
		for (j = 0; j < sizeof(val) / sizeof(val[0]); j++)
			for (piece = 0; piece <= 13; piece += 13) {
				struct wire_limits lim;
				struct rcv_session_params p;
				struct rcv_session *s;
				struct buf b = { 0 };
				struct fake f;
				struct wire_bytes rcpt = { (const uint8_t *)"pass@b.test", 11 };
				struct wire_email_out eo;
				uint8_t sig[64] = { 1 }, body[300];

				memset(&f, 0, sizeof(f));
				f.last_8bit = -1;
				params_default(&p, &lim);
				memset(body, 'a', sizeof(body));
				memcpy(body, "From: a@a.test\r\n\r\n", 18);
				if (pos[i] >= 0)
					body[pos[i]] = val[j];
				memset(&eo, 0, sizeof(eo));
				eo.rcpt = &rcpt;
				eo.n_rcpt = 1;
				eo.algorithm = WIRE_SIG_ED25519;
				eo.signature.p = sig;
				eo.signature.len = sizeof(sig);
				s = rcv_session_new(&p, &fake_ops, &f);
				rcv_session_start(s);
				T_ASSERT(build(&b, "hello") == 0);
				T_ASSERT(wire_enc_email(&b, NULL, &eo, body, sizeof(body)) == 0);
				if (piece == 0)
					rcv_session_input(s, b.p, b.len);
				else
					for (k = 0; k < b.len; k += piece)
						rcv_session_input(s, b.p + k, b.len - k < piece ? b.len - k : piece);
				rcv_session_flush(s);
				T_EQ_STR(f.err, "");
				T_EQ_INT(f.last_8bit, pos[i] >= 0 && val[j] >= 0x80);
				rcv_session_free(&s);
				buf_free(&b);
				buf_free(&f.out);
				buf_free(&f.body);
			}
}

/* past RCV_SESS_MAX_ERRORS protocol errors the session closes */
static void
t_error_cap(void)
{
	struct wire_limits lim;
	struct rcv_session_params p;
	struct rcv_session *s;
	struct buf b = { 0 };
	struct fake f;
	unsigned i;

	memset(&f, 0, sizeof(f));
	params_default(&p, &lim);
	s = rcv_session_new(&p, &fake_ops, &f);
	rcv_session_start(s);
	T_ASSERT(build(&b, "hello") == 0);
	for (i = 0; i < RCV_SESS_MAX_ERRORS + 5; i++)
		T_ASSERT(build(&b, "t9") == 0);
	rcv_session_input(s, b.p, b.len);
	rcv_session_flush(s);
	buf_free(&b);
	T_EQ_INT(s->n_errors, RCV_SESS_MAX_ERRORS + 1);
	T_EQ_INT(s->state, RCV_SESS_DONE);
	T_EQ_STR(s->close_reason, "too_many_errors");
	rcv_session_free(&s);
	buf_free(&f.out);
}

int
main(void)
{
	size_t i;

	rcv_log_verbosity = RCV_LOG_ERR;	/* the rows' log lines are not checked here */
	if (mkdtemp(spool_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		T_CASE("rows", rows[i].name, row_case(&rows[i], 0));
		{
			char label[128];

			snprintf(label, sizeof(label), "%s[bytewise]", rows[i].name);
			T_CASE("rows", label, row_case(&rows[i], 1));
		}
	}
	T_RUN(t_spool_dir_left_empty);
	T_RUN(t_replies_of_one_read_batched);
	T_RUN(t_inflight_cap);
	T_RUN(t_error_cap);
	T_RUN(t_body_8bit);
	rmdir(spool_dir);
	return T_END();
}
