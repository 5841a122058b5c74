/*
 * vfy_dns: DNSSEC-validated lookups on libunbound inside a libev loop, with
 * a TTL cache in process or in Redis (SMTPSEC.md 4.5, 4.7, 9).
 *
 * Ownership: the answer handed to a callback is borrowed and valid only
 * during the callback; copy what you keep.  A query handle is owned by the
 * library until its callback has run or vfy_dns_cancel() has been called.
 * Callbacks are never run before vfy_dns_lookup() returns (cache hits are
 * delivered from the loop).  Nothing here logs: reasons come back in
 * answers and errors for the caller to log.
 */
#ifndef VFY_DNS_H
#define VFY_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy_redis.h"
#include <time.h>

struct ev_loop;
struct vfy_shcache;

#define VFY_DNS_T_SRV	33
#define VFY_DNS_T_TLSA	52

/* DNSSEC status, fail-closed at zero (Unbound sec_status). */
enum vfy_dns_status {
	VFY_DNS_UNCHECKED = 0,
	VFY_DNS_BOGUS,
	VFY_DNS_INSECURE,
	VFY_DNS_SECURE,
};

/* What the lookup produced, as verification needs it. */
enum vfy_dns_result {
	VFY_DNS_TEMPFAIL = 0,	/* SERVFAIL, timeout, bogus, resolver error */
	VFY_DNS_DATA,		/* NOERROR with records of the type asked */
	VFY_DNS_NODATA,		/* NOERROR, no records of that type */
	VFY_DNS_NXDOMAIN,
};

struct vfy_srv {
	uint16_t priority, weight, port;
	char target[256];	/* lower-case, no trailing dot; "." stays "." */
};

struct vfy_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	const uint8_t *data;	/* borrowed from the answer */
};

struct vfy_dns_answer {
	const char *qname;	/* as asked, no trailing dot */
	uint16_t qtype;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	int rcode;
	uint32_t ttl;		/* seconds left; 0 for TEMPFAIL */
	int from_cache;		/* 0 resolver, 1 memory, 2 redis */
	const char *why;	/* why_bogus / timeout / error text, or "" */
	size_t n_srv;		/* SRV answers, ordered per RFC 2782 */
	const struct vfy_srv *srv;
	size_t n_tlsa;
	const struct vfy_tlsa *tlsa;
};

enum vfy_dns_cache_kind {
	VFY_DNS_CACHE_MEMORY = 0,
	VFY_DNS_CACHE_REDIS,
};

struct vfy_dns_options {
	const char *unbound_conf;	/* may be NULL */
	const char *trust_anchor_file;	/* may be NULL */
	unsigned timeout_ms;		/* per lookup; 0 = 5000 */
	enum vfy_dns_cache_kind cache;
	unsigned cache_max_ttl;		/* seconds */
	size_t cache_entries;		/* memory cache bound */
	/* Redis backend (cache = VFY_DNS_CACHE_REDIS), used at init only */
	struct vfy_redis_options redis;
	unsigned redis_timeout_ms;	/* longest wait for a cache reply; 0 = 200 */
	/* The fleet's cache key (VFY_CACHE_KEY_LEN bytes, copied), or NULL:
	 * with it every value stored in Redis is sealed and a value read back
	 * whose MAC fails is a miss (redis_forged); without it Redis is trusted. */
	const uint8_t *cache_mac_key;
	/* The host's shared cache (vfy_shcache_new, borrowed), or NULL: asked
	 * after this process's LRU, filled with every value stored. */
	struct vfy_shcache *shcache;
	unsigned negative_ttl_max;	/* cap for NXDOMAIN/NODATA TTLs; 0 = cache_max_ttl */
	/* Called on every Redis state change (the first outcome after init
	 * included, never once per retry): for the owner's log.  May be NULL. */
	void (*redis_state_cb)(void *arg, const struct vfy_redis_status *st);
	void *redis_state_arg;
};

struct vfy_dns_stats {
	uint64_t lookups, resolver_queries, mem_hits, mem_misses,
	    redis_hits, redis_misses, redis_errors, redis_garbage, tempfails,
	    redis_forged,	/* values whose MAC failed (also misses) */
	    shared_hits;	/* LRU misses answered by the host's shared cache */
	int redis_up;		/* 1 up (handshake done), 0 down, -1 no Redis */
};

struct vfy_dns;
struct vfy_dns_query;

typedef void vfy_dns_cb(void *arg, const struct vfy_dns_answer *ans);

/* Create a resolver on loop.  Refuses (returns -1, reason in err) when there
 * is neither a usable trust anchor nor an unbound_conf: the gateway must
 * never run without DNSSEC validation. */
int vfy_dns_init(struct vfy_dns **dns_r, struct ev_loop *loop,
    const struct vfy_dns_options *opt, char *err, size_t errlen);
void vfy_dns_deinit(struct vfy_dns **dns_p);
/* Whether path is a trust anchor libunbound can load: 0, or -1 with a
 * reason (the gateway checks this at start and at reload). */
int vfy_dns_check_trust_anchor(const char *path, char *err, size_t errlen);

/* Start a lookup of (name, qtype).  Returns a handle, or NULL when the
 * name is not a valid domain name (the callback is then not called). */
struct vfy_dns_query *vfy_dns_lookup(struct vfy_dns *dns, const char *name,
    uint16_t qtype, vfy_dns_cb *cb, void *arg);

/* Cancel a lookup whose callback has not run; sets *q_p to NULL. */
void vfy_dns_cancel(struct vfy_dns_query **q_p);

/* Counters.  redis_errors: failed GETs, GETs slower than redis_timeout_ms,
 * failed connects and handshakes, lost connections. */
void vfy_dns_get_stats(struct vfy_dns *dns, struct vfy_dns_stats *st_r);

/* --- pieces exposed for tests and fuzzing ------------------------------ */

/* Parse a wire-format domain name (uncompressed) at p[0..len) into dotted
 * lower-case text without the trailing dot ("." for the root).  Returns the
 * bytes used, or -1. */
int vfy_dns_name_from_wire(const uint8_t *p, size_t len, char *out, size_t outlen);

/* The negative-answer TTL from a DNS response packet: min(SOA TTL, SOA
 * MINIMUM) of the first SOA in the authority section.  -1 if none or the
 * packet is malformed (compression loops and overruns included). */
int64_t vfy_dns_packet_negative_ttl(const uint8_t *pkt, size_t len);

/* Order SRV records per RFC 2782 (priority, then weighted random);
 * rnd() returns a uniform value in [0, n). */
void vfy_dns_srv_order(struct vfy_srv *srv, size_t n, unsigned (*rnd)(unsigned n));

const char *vfy_dns_result_str(enum vfy_dns_result r);
const char *vfy_dns_status_str(enum vfy_dns_status s);

#endif
