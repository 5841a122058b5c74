/*
 * rcv_metrics: the gateway's counters and gauges, kept in process and
 * flushed to Redis every stats_interval as one pipelined MULTI/EXEC batch
 * (never a round trip per event).
 *
 *   smtpsec:stats:<instance>  hash: counters (HINCRBY by the delta since the
 *                             last successful flush; every worker of the
 *                             instance adds into it), gauges as
 *                             "<name>.w<worker>" (HSET), "meta.*" fields
 *   smtpsec:stats:total       hash: the same counters for the whole cluster
 *   smtpsec:instances         sorted set: instance -> last heartbeat (unix s)
 *   smtpsec:owners:<instance> hash: run id (16 hex digits, one per gateway
 *                             start, shared by its workers) -> heartbeat;
 *                             another run with a live heartbeat means two
 *                             gateways share the instance name: logged once
 *                             (event=instance_duplicate) and the gauge
 *                             instance_duplicate counts the other live runs
 *   smtpsec:batch:<instance>:<id>  string: the number of the last
 *                             counter batch of one writer (random id per
 *                             process) Redis applied; a resent copy of it
 *                             is skipped (a day's expiry)
 *   smtpsec:fleet             hash: instance -> "<heartbeat> k=v ..." (the
 *                             settings that must be equal: authserv_id,
 *                             cache key id); a live gateway whose value
 *                             differs is logged once (event=fleet_mismatch)
 *                             and counted in the gauge fleet_mismatch
 *
 * Redis down or slow: deltas keep accumulating and go out with the first
 * batch that succeeds; nothing waits on Redis.  Single-threaded: one
 * struct per worker process, used from its libev loop only.
 */
#ifndef RCV_METRICS_H
#define RCV_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy.h"

#define RCV_METRICS_LIST(C, G)						\
	C(conn_accepted)	C(conn_refused_total)			\
	C(conn_refused_global)	C(conn_refused_per_ip)			\
	C(conn_refused_emfile)	C(tls_handshake_failed)			\
	G(conn_active)							\
	C(emails_received)	C(emails_delivered)			\
	C(reply_email_delivered) C(reply_internal_error)		\
	C(reply_service_unavailable) C(reply_illegal_message)		\
	C(reply_illegal_parameter) C(reply_too_large)			\
	C(reply_authentication_failed) C(reply_insufficient_security)	\
	C(reply_unknown_address)					\
	C(reject_signature)	C(reject_from)	C(reject_no_srv)	\
	C(reject_insecure_srv)	C(reject_name)	C(reject_dane)		\
	C(reject_pkix)		C(reject_ct)	C(reject_chain)		\
	C(tempfail_dns)		C(tempfail_lmtp)			\
	C(rcpt_delivered)	C(rcpt_unknown)	C(rcpt_spooled)		\
	C(bytes_in)							\
	C(dns_lookups)		C(dns_resolver_queries)			\
	C(dns_mem_hits)		C(dns_mem_misses)			\
	C(dns_redis_hits)	C(dns_redis_misses)			\
	C(dns_redis_forged)	C(dns_shared_hits)			\
	C(lmtp_transactions)	C(lmtp_failures)			\
	C(lmtp_latency_us_sum)	C(lmtp_latency_count)			\
	C(lmtp_latency_le_10ms)	C(lmtp_latency_le_100ms)		\
	C(lmtp_latency_le_1s)	C(lmtp_latency_gt_1s)			\
	G(spool_depth)							\
	C(spool_retries)	C(spool_delivered)			\
	C(spool_deferred)	C(spool_bounced)	C(spool_expired)	\
	C(worker_restarts)						\
	C(dns_redis_errors)	G(dns_redis_up)				\
	C(stats_redis_errors)	G(stats_redis_up)			\
	C(buffer_budget_refused) C(buffer_budget_spilled)		\
	G(buffer_bytes)		G(instance_duplicate)	G(fleet_mismatch)

#define RCV_M_ENUM_(n) RCV_M_##n,
enum rcv_metric {
	RCV_METRICS_LIST(RCV_M_ENUM_, RCV_M_ENUM_)
	RCV_M__COUNT
};
#undef RCV_M_ENUM_

struct rcv_metrics_options {
	const char *instance;		/* e.g. "mx1.b.example:4650" */
	unsigned worker;		/* worker index, for gauge fields */
	unsigned long long run_id;	/* this gateway start (same in all its
					 * workers); 0 = no duplicate check */
	/* Settings that must be equal across the fleet, "k=v k=v" (no spaces
	 * in values), compared with every live gateway's; NULL = none. */
	const char *fleet;
	unsigned interval_ms;		/* flush period; 0 = 1000 */
	/* Redis, used at init only; no host and no path = keep counters in
	 * process only */
	struct vfy_redis_options redis;
	/* Called on every Redis state change (the first outcome included,
	 * never once per retry), for the log.  May be NULL. */
	void (*state_cb)(void *arg, const struct vfy_redis_status *st);
	void *state_arg;
};

struct rcv_metrics;

/* Create; starts the flush timer on loop when Redis is configured. */
struct rcv_metrics *rcv_metrics_new(struct ev_loop *loop,
    const struct rcv_metrics_options *opt);
void rcv_metrics_free(struct rcv_metrics **m_p);

void rcv_metrics_add(struct rcv_metrics *m, enum rcv_metric k, uint64_t delta);
void rcv_metrics_gauge(struct rcv_metrics *m, enum rcv_metric k, int64_t value);
/* One LMTP transaction's latency: sum, count and the coarse histogram. */
void rcv_metrics_lmtp_latency(struct rcv_metrics *m, uint64_t us);
/* An Error reply with this ErrorCode was sent (SMTPSEC.md 2.5). */
void rcv_metrics_reply(struct rcv_metrics *m, unsigned code);
/* An Email failed verification at this step (vfy_step_str names, or
 * "signature", "from", "chain"). */
void rcv_metrics_reject(struct rcv_metrics *m, const char *step);
/* Bring a counter up to a cumulative total kept elsewhere (DNS, LMTP). */
void rcv_metrics_sync(struct rcv_metrics *m, enum rcv_metric k, uint64_t total);
uint64_t rcv_metrics_get(const struct rcv_metrics *m, enum rcv_metric k);
const char *rcv_metrics_name(enum rcv_metric k);
int rcv_metrics_is_gauge(enum rcv_metric k);

/* Start a flush now (also done by the timer).  Returns 0 when a batch was
 * sent, -1 when Redis is not connected or a batch is still in flight. */
int rcv_metrics_flush(struct rcv_metrics *m);

/* State, reason and error count (failed connects/handshakes, lost
 * connections, refused batches); -1 when no Redis is configured. */
int rcv_metrics_redis_status(struct rcv_metrics *m, struct vfy_redis_status *st_r);

/* Process-wide instance for the worker (may stay NULL: calls are no-ops). */
extern struct rcv_metrics *rcv_metrics_default;
#define RCV_METRIC_ADD(k, d) \
	do { if (rcv_metrics_default) rcv_metrics_add(rcv_metrics_default, RCV_M_##k, (d)); } while (0)
#define RCV_METRIC_GAUGE(k, v) \
	do { if (rcv_metrics_default) rcv_metrics_gauge(rcv_metrics_default, RCV_M_##k, (v)); } while (0)

#endif
