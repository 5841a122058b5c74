/*
 * rcv_metrics: counters in process, flushed to Redis in one MULTI/EXEC batch
 * per interval.  See rcv_metrics.h for the key layout.
 *
 * Accounting: value[k] is what this process has counted; sent[k] is what
 * Redis has acknowledged.  A batch carries value - sent and remembers it in
 * inflight[]; only a successful EXEC moves inflight into sent.  A batch
 * whose reply never came (connection lost, Redis hung and dropped) may
 * still be applied: its commands can sit in Redis's socket buffer.  So the
 * counters of a batch are added by one script that first checks the
 * batch's number against the last one applied for this process (key
 * smtpsec:batch:<instance>:<id>), and an unconfirmed batch is resent
 * unchanged, with the same number: whichever copy arrives first counts,
 * the other is skipped, and nothing is counted twice.
 */
#include "receiver/rcv_metrics.h"

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/sys.h"
#include "receiver/rcv_log.h"
#include "verify/vfy.h"

struct rcv_metrics *rcv_metrics_default;

#define RCV_M_C_(n, help) { #n, 0, help },
#define RCV_M_G_(n, help) { #n, 1, help },
static const struct {
	const char *name;
	unsigned char gauge;
	const char *help;
} metric[RCV_M__COUNT] = {
	RCV_METRICS_LIST(RCV_M_C_, RCV_M_G_)
};
#undef RCV_M_C_
#undef RCV_M_G_

/* Batches stuck longer than this drop the connection. */
#define RCV_METRICS_STUCK_S	5.0

/*
 * KEYS: the batch guard, the instance's hash, the total hash; ARGV: the
 * batch number, then name, delta pairs.  Applies the deltas once per
 * batch number: 1 applied now, 0 applied before (a resent copy).
 */
static const char batch_script[] =
	"local last = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if tonumber(ARGV[1]) <= last then return 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)\n"
	"for i = 2, #ARGV, 2 do\n"
	"  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])\n"
	"  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])\n"
	"end\n"
	"return 1\n";

struct rcv_metrics {
	struct ev_loop *loop;		/* borrowed */
	struct ev_timer timer;
	struct rcv_metrics_options opt;	/* strings point into own[] */
	char *own[2];			/* owned copies of instance and fleet */
	struct vfy_redis *redis;	/* owned; NULL without Redis */
	int in_flight;
	int resend;			/* inflight[] was not confirmed: send it again */
	uint64_t seq;			/* the number of the batch in inflight[] */
	ev_tstamp flight_start;
	uint64_t exec_errors;		/* batches Redis refused */
	int64_t value[RCV_M__COUNT];
	int64_t sent[RCV_M__COUNT];
	int64_t inflight[RCV_M__COUNT];
	char key_inst[300], key_total[32], key_owners[300], key_batch[340];
	char run_hex[20];
	int64_t dup_logged;		/* other live runs last logged */
	long long start_s;		/* time of rcv_metrics_new */
	char mismatch_logged[300];	/* the last fleet_mismatch logged ("" none) */
};

const char *
rcv_metrics_name(enum rcv_metric k)
{
	return (unsigned)k < RCV_M__COUNT ? metric[k].name : "?";
}

const char *
rcv_metrics_help(enum rcv_metric k)
{
	return (unsigned)k < RCV_M__COUNT ? metric[k].help : NULL;
}

int
rcv_metrics_is_gauge(enum rcv_metric k)
{
	return (unsigned)k < RCV_M__COUNT && metric[k].gauge;
}

void
rcv_metrics_add(struct rcv_metrics *m, enum rcv_metric k, uint64_t delta)
{
	if (m != NULL && (unsigned)k < RCV_M__COUNT)
		m->value[k] += (int64_t)delta;
}

void
rcv_metrics_gauge(struct rcv_metrics *m, enum rcv_metric k, int64_t v)
{
	if (m != NULL && (unsigned)k < RCV_M__COUNT)
		m->value[k] = v;
}

void
rcv_metrics_reply(struct rcv_metrics *m, unsigned code)
{
	static const enum rcv_metric by_code[] = {
		RCV_M_reply_internal_error, RCV_M_reply_service_unavailable,
		RCV_M_reply_illegal_message, RCV_M_reply_illegal_parameter,
		RCV_M_reply_too_large, RCV_M_reply_authentication_failed,
		RCV_M_reply_insufficient_security, RCV_M_reply_unknown_address,
	};

	if (code < sizeof(by_code) / sizeof(by_code[0]))
		rcv_metrics_add(m, by_code[code], 1);
}

void
rcv_metrics_reject(struct rcv_metrics *m, const char *step)
{
	static const struct {
		const char *step;
		enum rcv_metric k;
	} map[] = {
		{ "signature", RCV_M_reject_signature },
		{ "from", RCV_M_reject_from }, { "srv", RCV_M_reject_no_srv },
		{ "srv-insecure", RCV_M_reject_insecure_srv }, { "name", RCV_M_reject_name },
		{ "dane", RCV_M_reject_dane }, { "pkix", RCV_M_reject_pkix },
		{ "ct", RCV_M_reject_ct }, { "chain", RCV_M_reject_chain },
	};
	size_t i;

	for (i = 0; step != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(step, map[i].step) == 0) {
			rcv_metrics_add(m, map[i].k, 1);
			return;
		}
}

void
rcv_metrics_sync(struct rcv_metrics *m, enum rcv_metric k, uint64_t total)
{
	if (m != NULL && (unsigned)k < RCV_M__COUNT && (int64_t)total > m->value[k])
		m->value[k] = (int64_t)total;
}

uint64_t
rcv_metrics_get(const struct rcv_metrics *m, enum rcv_metric k)
{
	return m != NULL && (unsigned)k < RCV_M__COUNT ? (uint64_t)m->value[k] : 0;
}

void
rcv_metrics_lmtp_latency(struct rcv_metrics *m, uint64_t us)
{
	rcv_metrics_add(m, RCV_M_lmtp_latency_us_sum, us);
	rcv_metrics_add(m, RCV_M_lmtp_latency_count, 1);
	if (us <= 10000)
		rcv_metrics_add(m, RCV_M_lmtp_latency_le_10ms, 1);
	else if (us <= 100000)
		rcv_metrics_add(m, RCV_M_lmtp_latency_le_100ms, 1);
	else if (us <= 1000000)
		rcv_metrics_add(m, RCV_M_lmtp_latency_le_1s, 1);
	else
		rcv_metrics_add(m, RCV_M_lmtp_latency_gt_1s, 1);
}

int
rcv_metrics_redis_status(struct rcv_metrics *m, struct vfy_redis_status *st_r)
{
	if (m == NULL || m->redis == NULL)
		return -1;
	vfy_redis_status(m->redis, st_r);
	st_r->errors += m->exec_errors;
	return 0;
}

/* Every transition of the connection (vfy_redis says when). */
static void
on_state(void *arg, struct vfy_redis *r, int up)
{
	struct rcv_metrics *m = arg;
	struct vfy_redis_status st;

	if (!up && m->in_flight) {
		m->in_flight = 0;	/* inflight deltas were not confirmed: resend */
		m->resend = 1;
	}
	if (m->opt.state_cb != NULL) {
		vfy_redis_status(r, &st);
		st.errors += m->exec_errors;
		m->opt.state_cb(m->opt.state_arg, &st);
	}
}

static void
send_argv(struct rcv_metrics *m, redisCallbackFn *fn, int argc, const char **argv)
{
	size_t lens[7 + 2 * RCV_M__COUNT];
	int i;

	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisAsyncCommandArgv(vfy_redis_ctx(m->redis), fn, m, argc, argv, lens);
}

/*
 * The owners hash as this batch left it: runs other than ours whose
 * heartbeat is within three flush intervals (at least 3 s, smtpsec-stats'
 * stale rule) and later than our start are gateways started with the same
 * instance name.  Worker 0 logs each change once; every worker sets the
 * gauge.  Runs silent for an hour are removed.
 */
static void
check_owners(struct rcv_metrics *m, const redisReply *h)
{
	long long now = (long long)time(NULL);
	double live = 3.0 * m->opt.interval_ms / 1000.0;
	int64_t others = 0;
	char list[256];
	size_t i, used = 0;

	if (h == NULL || h->type != REDIS_REPLY_ARRAY)
		return;
	if (live < 3.0)
		live = 3.0;
	list[0] = '\0';
	for (i = 0; i + 1 < h->elements; i += 2) {
		const redisReply *f = h->element[i], *v = h->element[i + 1];
		long long hb;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(f->str, m->run_hex) == 0)
			continue;
		hb = strtoll(v->str, NULL, 10);
		/* a run that flushed after we started is running now; the
		 * last heartbeat of the run a restart replaced is not later
		 * than our start, so a quick restart is no duplicate */
		if ((double)(now - hb) <= live && hb > m->start_s) {
			others++;
			if (used + f->len + 2 < sizeof(list))
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
				    used ? "," : "", f->str);
		} else if (now - hb > 3600) {
			const char *a[3] = { "HDEL", m->key_owners, f->str };

			send_argv(m, NULL, 3, a);
		}
	}
	m->value[RCV_M_instance_duplicate] = others;
	if (others == m->dup_logged || m->opt.worker != 0) {
		m->dup_logged = others;
		return;
	}
	if (others > 0)
		rcv_log(RCV_LOG_ERR, "conn=- event=instance_duplicate instance=%s run=%s others=%s "
		    "note=\"another gateway flushes stats under this instance name: give each "
		    "gateway its own instance\"", m->opt.instance, m->run_hex, list);
	else
		rcv_log(RCV_LOG_INFO, "conn=- event=instance_duplicate state=clear instance=%s run=%s",
		    m->opt.instance, m->run_hex);
	m->dup_logged = others;
}

/* The value of key k in a "k=v k=v" list, copied into out ("" absent). */
static void
fleet_get(const char *list, const char *k, char *out, size_t outlen)
{
	size_t kl = strlen(k);
	const char *p = list;

	out[0] = '\0';
	while (p != NULL && *p) {
		p += strspn(p, " ");
		if (strncmp(p, k, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");

			snprintf(out, outlen, "%.*s", (int)n, p + kl + 1);
			return;
		}
		p = strchr(p, ' ');
	}
}

/*
 * smtpsec:fleet as this batch left it: every other gateway with a heartbeat
 * in the last 60 s must state the same settings as ours.  Worker 0 logs
 * each new difference once (and when it is gone); every worker sets the
 * gauge.  Entries silent for an hour are removed.
 */
static void
check_fleet(struct rcv_metrics *m, const redisReply *h)
{
	long long now = (long long)time(NULL);
	int64_t bad = 0;
	char first[300] = "";
	size_t i;

	if (h == NULL || h->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < h->elements; i += 2) {
		const redisReply *f = h->element[i], *v = h->element[i + 1];
		const char *p = m->opt.fleet;
		long long hb;
		char *end;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    strcmp(f->str, m->opt.instance) == 0)
			continue;
		hb = strtoll(v->str, &end, 10);
		if (now - hb > 3600) {
			const char *a[3] = { "HDEL", "smtpsec:fleet", f->str };

			send_argv(m, NULL, 3, a);
			continue;
		}
		if (now - hb > 60)
			continue;
		/* each of our k=v against theirs */
		while (*p) {
			char k[64], ours[256], theirs[256];
			size_t n;

			p += strspn(p, " ");
			n = strcspn(p, "=");
			if (n == 0 || n >= sizeof(k) || p[n] != '=')
				break;
			snprintf(k, sizeof(k), "%.*s", (int)n, p);
			fleet_get(m->opt.fleet, k, ours, sizeof(ours));
			fleet_get(end, k, theirs, sizeof(theirs));
			if (strcmp(ours, theirs) != 0) {
				if (bad++ == 0)
					snprintf(first, sizeof(first), "setting=%s ours=%s instance=%.80s theirs=%s",
					    k, ours, f->str, theirs[0] ? theirs : "-");
				break;
			}
			p = strchr(p, ' ');
			if (p == NULL)
				break;
		}
	}
	m->value[RCV_M_fleet_mismatch] = bad;
	if (m->opt.worker != 0 || strcmp(first, m->mismatch_logged) == 0)
		return;
	if (first[0])
		rcv_log(RCV_LOG_ERR, "conn=- event=fleet_mismatch %s gateways=%lld note=\"must be equal on "
		    "every gateway of the fleet\"", first, (long long)bad);
	else
		rcv_log(RCV_LOG_INFO, "conn=- event=fleet_mismatch state=clear");
	snprintf(m->mismatch_logged, sizeof(m->mismatch_logged), "%s", first);
}

static void
on_exec(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcv_metrics *m = priv;
	redisReply *reply = r;
	int k;

	if (!m->in_flight)
		return;		/* a disconnect already wrote this batch off */
	m->in_flight = 0;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		if (reply != NULL)
			m->exec_errors++;
		m->resend = 1;	/* EXECABORT, OOM, ...: the same batch later */
		return;
	}
	m->resend = 0;
	for (k = 0; k < RCV_M__COUNT; k++) {
		m->sent[k] += m->inflight[k];
		m->inflight[k] = 0;
	}
	if (m->opt.run_id != 0 && reply->elements > 0)
		check_owners(m, reply->element[reply->elements - 1]);
	if (m->opt.fleet != NULL && reply->elements > (m->opt.run_id != 0 ? 4u : 0u))
		check_fleet(m, reply->element[reply->elements - 1 - (m->opt.run_id != 0 ? 3 : 0)]);
}

int
rcv_metrics_flush(struct rcv_metrics *m)
{
	char num[32], field[96], now_s[32], ival[32], seq[24];
	char deltas[RCV_M__COUNT][24];
	const char *a[7 + 2 * RCV_M__COUNT];	/* EVAL's: script, keys, number, pairs */
	int k, n = 7;

	if (vfy_redis_ctx(m->redis) == NULL || m->in_flight)
		return -1;
	a[0] = "MULTI";
	send_argv(m, NULL, 1, a);
	for (k = 0; k < RCV_M__COUNT; k++) {
		if (metric[k].gauge) {
			snprintf(field, sizeof(field), "%s.w%u", metric[k].name, m->opt.worker);
			snprintf(num, sizeof(num), "%lld", (long long)m->value[k]);
			a[0] = "HSET"; a[1] = m->key_inst; a[2] = field; a[3] = num;
			send_argv(m, NULL, 4, a);
			m->inflight[k] = 0;
			continue;
		}
		if (!m->resend)
			m->inflight[k] = m->value[k] - m->sent[k];
		if (m->inflight[k] == 0)
			continue;
		snprintf(deltas[k], sizeof(deltas[k]), "%lld", (long long)m->inflight[k]);
		a[n++] = metric[k].name;
		a[n++] = deltas[k];
	}
	if (n > 7) {
		if (!m->resend)
			m->seq++;
		snprintf(seq, sizeof(seq), "%llu", (unsigned long long)m->seq);
		a[0] = "EVAL"; a[1] = batch_script; a[2] = "3";
		a[3] = m->key_batch; a[4] = m->key_inst; a[5] = m->key_total; a[6] = seq;
		send_argv(m, NULL, n, a);
	}
	snprintf(now_s, sizeof(now_s), "%lld", (long long)time(NULL));
	snprintf(ival, sizeof(ival), "%u", m->opt.interval_ms);
	a[0] = "HSET"; a[1] = m->key_inst; a[2] = "meta.heartbeat"; a[3] = now_s;
	send_argv(m, NULL, 4, a);
	a[2] = "meta.interval_ms"; a[3] = ival;
	send_argv(m, NULL, 4, a);
	a[0] = "ZADD"; a[1] = "smtpsec:instances"; a[2] = now_s; a[3] = m->opt.instance;
	send_argv(m, NULL, 4, a);
	if (m->opt.fleet != NULL) {
		char fv[600];

		snprintf(fv, sizeof(fv), "%s %s", now_s, m->opt.fleet);
		a[0] = "HSET"; a[1] = "smtpsec:fleet"; a[2] = m->opt.instance; a[3] = fv;
		send_argv(m, NULL, 4, a);
		a[0] = "HGETALL";	/* second to last, or last without run_id */
		send_argv(m, NULL, 2, a);
	}
	if (m->opt.run_id != 0) {
		a[0] = "HSET"; a[1] = m->key_owners; a[2] = m->run_hex; a[3] = now_s;
		send_argv(m, NULL, 4, a);
		a[0] = "EXPIRE"; a[2] = "86400";
		send_argv(m, NULL, 3, a);
		a[0] = "HGETALL";	/* last: its reply ends the EXEC array */
		send_argv(m, NULL, 2, a);
	}
	a[0] = "EXEC";
	m->in_flight = 1;
	m->flight_start = ev_now(m->loop);
	send_argv(m, on_exec, 1, a);
	return 0;
}

static void
on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct rcv_metrics *m = (struct rcv_metrics *)((char *)w - offsetof(struct rcv_metrics, timer));

	if (vfy_redis_ctx(m->redis) == NULL)
		return;		/* vfy_redis reconnects on its own */
	if (m->in_flight && ev_now(loop) - m->flight_start > RCV_METRICS_STUCK_S) {
		/* Redis is hung: drop it, the state callback resets the batch */
		vfy_redis_drop(m->redis, VFY_REDIS_TIMEOUT, "a stats batch got no reply within 5 s");
		return;
	}
	rcv_metrics_flush(m);
}

struct rcv_metrics *
rcv_metrics_new(struct ev_loop *loop, const struct rcv_metrics_options *opt)
{
	struct rcv_metrics *m = mem_calloc(1, sizeof(*m));
	struct vfy_redis_options ro = opt->redis;

	m->loop = loop;
	m->opt.instance = m->own[0] = mem_strdup_opt(opt->instance ? opt->instance : "unknown");
	m->opt.worker = opt->worker;
	m->opt.interval_ms = opt->interval_ms ? opt->interval_ms : 1000;
	memset(&m->opt.redis, 0, sizeof(m->opt.redis));	/* borrowed: used below only */
	m->opt.state_cb = opt->state_cb;
	m->opt.state_arg = opt->state_arg;
	snprintf(m->key_inst, sizeof(m->key_inst), "smtpsec:stats:%s", m->opt.instance);
	snprintf(m->key_total, sizeof(m->key_total), "smtpsec:stats:total");
	snprintf(m->key_owners, sizeof(m->key_owners), "smtpsec:owners:%s", m->opt.instance);
	snprintf(m->key_batch, sizeof(m->key_batch), "smtpsec:batch:%s:%016llx", m->opt.instance,
	    sys_random64());
	m->opt.run_id = opt->run_id;
	m->opt.fleet = m->own[1] = mem_strdup_opt(opt->fleet);
	m->start_s = (long long)time(NULL);
	snprintf(m->run_hex, sizeof(m->run_hex), "%016llx", opt->run_id);
	if (vfy_redis_configured(&opt->redis)) {
		double iv = m->opt.interval_ms / 1000.0;
		ev_timer_init(&m->timer, on_timer, iv, iv);
		ev_timer_start(loop, &m->timer);
		ev_unref(loop);	/* stats alone must not keep the loop alive */
		ro.backoff_min = 1.0;
		m->redis = vfy_redis_new(loop, &ro, on_state, m);
	}
	return m;
}

void
rcv_metrics_free(struct rcv_metrics **m_p)
{
	struct rcv_metrics *m = *m_p;
	int k;

	if (m == NULL)
		return;
	if (ev_is_active(&m->timer)) {
		ev_ref(m->loop);
		ev_timer_stop(m->loop, &m->timer);
	}
	vfy_redis_free(&m->redis);
	for (k = 0; k < 2; k++)
		free(m->own[k]);
	if (rcv_metrics_default == m)
		rcv_metrics_default = NULL;
	free(m);
	*m_p = NULL;
}
