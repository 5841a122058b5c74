/* Reply ordering queue (SMTPSEC.md 3.4) and the per-IP connection table
 * (SMTPSEC.md 7), without sockets. */
#include "tests/unit/t.h"

#include <stdio.h>
#include <string.h>

#include "receiver/rcv_session.h"
#include "receiver/rcv_server.h"
#include "wire/wire.h"

/* ip's count, by a walk of the whole table (the gateway never asks) */
static uint32_t
iptab_count(const struct rcv_iptab *t, const char *ip)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		if (t->ent[i].used && t->ent[i].count && strcmp(t->ent[i].ip, ip) == 0)
			return t->ent[i].count;
	return 0;
}

/* complete e with the one byte c */
static void
complete1(struct rcv_rq_ent *e, uint8_t c)
{
	struct buf b = { 0 };

	buf_add(&b, &c, 1);
	rcv_rq_complete(e, &b);
	T_ASSERT(b.p == NULL && b.len == 0);	/* taken */
}

/* replies completed out of order leave in arrival order */
static void
t_rq_out_of_order(void)
{
	struct rcv_rq q = { 0 };
	struct buf out = { 0 };
	struct rcv_rq_ent *e[4];
	unsigned i;

	for (i = 0; i < 4; i++)
		e[i] = rcv_rq_push(&q, i + 1);
	complete1(e[2], 3);
	complete1(e[1], 2);
	T_EQ_INT(rcv_rq_drain(&q, &out), 0);	/* head (1) not done */
	T_EQ_INT(out.len, 0);
	complete1(e[0], 1);
	T_EQ_INT(rcv_rq_drain(&q, &out), 3);
	T_EQ_MEM(out.p, 3, "\x01\x02\x03", 3);
	T_EQ_INT(q.n, 1);
	complete1(e[3], 4);
	T_EQ_INT(rcv_rq_drain(&q, &out), 1);
	T_EQ_MEM(out.p, out.len, "\x01\x02\x03\x04", 4);
	T_ASSERT(q.head == NULL && q.tail == NULL && q.n == 0);
	/* the queue works again after being emptied */
	e[0] = rcv_rq_push(&q, 9);
	complete1(e[0], 4);
	T_EQ_INT(rcv_rq_drain(&q, &out), 1);
	rcv_rq_free(&q);
	buf_free(&out);
}

/* freeing a queue with pending and completed entries releases all */
static void
t_rq_free_pending(void)
{
	struct rcv_rq q = { 0 };

	rcv_rq_push(&q, 1);
	complete1(rcv_rq_push(&q, 2), 7);
	rcv_rq_free(&q);
	T_ASSERT(q.head == NULL && q.n == 0);
}

/* real replies keep the wire format: an Error then an EmailDelivered */
static void
t_rq_encoded_replies(void)
{
	struct rcv_rq q = { 0 };
	struct buf out = { 0 }, a = { 0 }, d = { 0 }, want = { 0 };
	struct rcv_rq_ent *e1 = rcv_rq_push(&q, 1), *e2 = rcv_rq_push(&q, 2);

	wire_enc_error(&want, NULL, WIRE_ERR_AUTHENTICATION_FAILED, 1, NULL, 0);
	wire_enc_email_delivered(&want, NULL, 2);
	wire_enc_email_delivered(&d, NULL, 2);
	wire_enc_error(&a, NULL, WIRE_ERR_AUTHENTICATION_FAILED, 1, NULL, 0);
	rcv_rq_complete(e2, &d);
	rcv_rq_complete(e1, &a);
	T_EQ_INT(rcv_rq_drain(&q, &out), 2);
	T_EQ_MEM(out.p, out.len, want.p, want.len);
	buf_free(&out);
	buf_free(&want);
}

static void
t_iptab_caps(void)
{
	struct rcv_iptab t;

	rcv_iptab_init(&t, 4);
	T_EQ_INT(rcv_iptab_take(&t, "192.0.2.1", 2), 1);
	T_EQ_INT(rcv_iptab_take(&t, "192.0.2.1", 2), 1);
	T_EQ_INT(rcv_iptab_take(&t, "192.0.2.1", 2), 0);	/* over the cap */
	T_EQ_INT(iptab_count(&t, "192.0.2.1"), 2);
	T_EQ_INT(rcv_iptab_take(&t, "2001:db8::1", 2), 1);	/* other IPs unaffected */
	rcv_iptab_release(&t, "192.0.2.1");
	T_EQ_INT(rcv_iptab_take(&t, "192.0.2.1", 2), 1);
	rcv_iptab_release(&t, "192.0.2.1");
	rcv_iptab_release(&t, "192.0.2.1");
	T_EQ_INT(iptab_count(&t, "192.0.2.1"), 0);
	rcv_iptab_release(&t, "192.0.2.1");	/* extra release: no underflow */
	T_EQ_INT(iptab_count(&t, "192.0.2.1"), 0);
	T_EQ_INT(rcv_iptab_take(&t, "198.51.100.7", 0), 0);	/* cap 0 refuses all */
	rcv_iptab_free(&t);
}

/* many addresses, churn: growth and tombstones keep counts exact */
static void
t_iptab_churn(void)
{
	struct rcv_iptab t;
	char ip[48];
	unsigned i, round;

	rcv_iptab_init(&t, 16);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 3000; i++) {
			snprintf(ip, sizeof(ip), "10.%u.%u.%u", round, i / 256, i % 256);
			T_EQ_INT(rcv_iptab_take(&t, ip, 100), 1);
		}
		T_EQ_INT(t.live, 3000);
		for (i = 0; i < 3000; i++) {
			snprintf(ip, sizeof(ip), "10.%u.%u.%u", round, i / 256, i % 256);
			T_EQ_INT(iptab_count(&t, ip), 1);
			rcv_iptab_release(&t, ip);
		}
		T_EQ_INT(t.live, 0);
	}
	T_ASSERT(t.cap <= 65536);
	rcv_iptab_free(&t);
}

int
main(void)
{
	T_RUN(t_rq_out_of_order);
	T_RUN(t_rq_free_pending);
	T_RUN(t_rq_encoded_replies);
	T_RUN(t_iptab_caps);
	T_RUN(t_iptab_churn);
	return T_END();
}
