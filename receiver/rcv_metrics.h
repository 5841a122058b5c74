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

/* Every metric: C(ounter) or G(auge), its name and its Prometheus HELP
 * text (NULL: smtpsec-stats writes one from the name). */
#define RCV_METRICS_LIST(C, G)						\
	C(conn_accepted, "Connections accepted.")			\
	C(conn_refused_total, "Connections refused for any reason.")	\
	C(conn_refused_global, "Connections refused at max_connections.") \
	C(conn_refused_per_ip, "Connections refused at max_connections_per_ip.") \
	C(conn_refused_emfile, "Connections refused for lack of file descriptors.") \
	C(tls_handshake_failed, "TLS handshakes that failed.")		\
	G(conn_active, "Open connections.")				\
	C(emails_received, "Emails received completely.")		\
	C(emails_delivered, "Emails delivered to at least one recipient.") \
	C(reply_email_delivered, NULL) C(reply_internal_error, NULL)	\
	C(reply_service_unavailable, NULL) C(reply_illegal_message, NULL) \
	C(reply_illegal_parameter, NULL) C(reply_too_large, NULL)	\
	C(reply_authentication_failed, NULL)				\
	C(reply_insufficient_security, NULL) C(reply_unknown_address, NULL) \
	C(reject_signature, NULL) C(reject_from, NULL) C(reject_no_srv, NULL) \
	C(reject_insecure_srv, NULL) C(reject_name, NULL) C(reject_dane, NULL) \
	C(reject_pkix, NULL) C(reject_ct, NULL) C(reject_chain, NULL)	\
	C(tempfail_dns, NULL) C(tempfail_lmtp, NULL)			\
	C(rcpt_delivered, "Recipients delivered over LMTP.")		\
	C(rcpt_unknown, "Recipients refused as unknown by the mailstore.") \
	C(rcpt_spooled, "Recipients spooled for a later LMTP attempt.")	\
	C(bytes_in, "Bytes received from clients.")			\
	C(dns_lookups, "DNS lookups asked for by verification.")	\
	C(dns_resolver_queries, "Lookups that went to the resolver.")	\
	C(dns_mem_hits, NULL) C(dns_mem_misses, NULL) C(dns_redis_hits, NULL) \
	C(dns_redis_misses, NULL) C(dns_redis_forged, NULL)		\
	C(dns_shared_hits, NULL)					\
	C(lmtp_transactions, "LMTP transactions.")			\
	C(lmtp_failures, "LMTP transactions that failed.")		\
	C(lmtp_latency_us_sum, NULL) C(lmtp_latency_count, NULL)	\
	C(lmtp_latency_le_10ms, NULL) C(lmtp_latency_le_100ms, NULL)	\
	C(lmtp_latency_le_1s, NULL) C(lmtp_latency_gt_1s, NULL)		\
	G(spool_depth, "Emails in the spool.")				\
	C(spool_retries, "Spool delivery attempts.")			\
	C(spool_delivered, "Spooled Emails delivered.")			\
	C(spool_deferred, "Spool attempts deferred to a later retry.")	\
	C(spool_bounced, "Spooled recipients refused permanently.")	\
	C(spool_expired, "Spooled Emails given up after the retry limit.") \
	C(worker_restarts, "Worker processes restarted by the master.")	\
	C(dns_redis_errors, NULL)					\
	G(dns_redis_up, "1 when the DNS cache Redis connection is up (summed over workers).") \
	C(stats_redis_errors, NULL)					\
	G(stats_redis_up, "1 when the stats Redis connection is up (summed over workers).") \
	C(buffer_budget_refused, NULL) C(buffer_budget_spilled, NULL)	\
	G(buffer_bytes, "Bytes held against the worker buffer budget.")	\
	G(instance_duplicate, NULL) G(fleet_mismatch, NULL)

#define RCV_M_ENUM_(n, help) RCV_M_##n,
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
const char *rcv_metrics_help(enum rcv_metric k);	/* NULL: none */
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
