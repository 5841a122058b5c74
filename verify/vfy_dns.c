/*
 * vfy_dns: DNSSEC-validated lookups on libunbound inside a libev loop, with
 * a TTL cache in process and optionally in Redis.  See vfy.h.
 *
 * Flow of one lookup: memory cache -> the host's shared cache -> (Redis
 * GET, bounded wait) -> libunbound.  Answers from the resolver that are
 * not temporary failures are stored in every cache with the answer's TTL
 * (negative answers: the SOA's), capped by cache_max_ttl.  Bogus answers,
 * SERVFAIL and timeouts are never cached.
 *
 * Ownership: each query is owned by the library from vfy_dns_lookup() until
 * its callback has returned (then freed) or vfy_dns_cancel().  hiredis
 * replies cannot be cancelled, so a Redis GET carries a request id, not a
 * pointer; a reply whose id no longer names a waiting query is dropped.
 */
#include "verify/vfy.h"

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#include "base/cur.h"
#include "base/mem.h"
#include "verify/vfy_cache.h"

struct vfy_dns_query {
	struct vfy_dns *dns;		/* borrowed */
	struct vfy_dns_query *prev, *next;	/* dns->queries */
	char name[256];
	uint16_t qtype;
	char key[300];
	vfy_dns_cb *cb;
	void *arg;
	struct ev_timer timer;		/* timeout, Redis wait, or cache delivery */
	int ub_id;
	int ub_active;
	uint64_t redis_id;		/* nonzero while waiting for Redis */
	int from_cache;
	struct vfy_cache_answer cached;
};

struct vfy_dns {
	struct ev_loop *loop;		/* borrowed */
	struct ub_ctx *ub;
	struct ev_io ub_io;
	struct vfy_dns_options opt;
	char *own[2];			/* owned copies of option strings */
	struct vfy_lru *lru;
	struct vfy_dns_query *queries;	/* every live query */
	/* Redis */
	int use_redis;
	int have_mac_key;
	uint8_t mac_key[VFY_CACHE_KEY_LEN];
	struct vfy_redis *redis;	/* owned; NULL without Redis */
	uint64_t next_id;
	struct vfy_dns_stats st;
};

const char *
vfy_dns_result_str(enum vfy_dns_result r)
{
	switch (r) {
	case VFY_DNS_DATA: return "data";
	case VFY_DNS_NODATA: return "nodata";
	case VFY_DNS_NXDOMAIN: return "nxdomain";
	default: return "tempfail";
	}
}

const char *
vfy_dns_status_str(enum vfy_dns_status s)
{
	switch (s) {
	case VFY_DNS_SECURE: return "secure";
	case VFY_DNS_INSECURE: return "insecure";
	case VFY_DNS_BOGUS: return "bogus";
	default: return "unchecked";
	}
}

static const char *
type_str(uint16_t t)
{
	return t == VFY_DNS_T_SRV ? "SRV" : t == VFY_DNS_T_TLSA ? "TLSA" : "OTHER";
}

/* --- wire helpers ----------------------------------------------------------- */

int
vfy_dns_name_from_wire(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	if (outlen < 2)
		return -1;
	for (;;) {
		size_t l, k;

		if (i >= len)
			return -1;
		l = p[i++];
		if (l == 0)
			break;
		if (l > 63 || len - i < l)
			return -1;	/* compression or overrun: not in rdata */
		/* text form at most 253 characters (RFC 1035 2.3.4: 255 octets on
		 * the wire); found by fuzz_dns_packet */
		if ((o ? o + 1 : 0) + l > 253 || (o ? o + 1 : 0) + l + 1 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (k = 0; k < l; k++) {
			uint8_t c = p[i + k];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (c == 0 || c == '.')
				return -1;	/* would confuse text comparisons */
			out[o++] = (char)c;
		}
		i += l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return (int)i;
}

/* Skip a possibly compressed name in a packet; -1 on overrun. */
static int
skip_name(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t i = *off;

	for (;;) {
		uint8_t l;

		if (i >= len)
			return -1;
		l = pkt[i];
		if ((l & 0xc0) == 0xc0) {
			if (len - i < 2)
				return -1;
			*off = i + 2;	/* a pointer ends the name: no loop to follow */
			return 0;
		}
		if (l & 0xc0)
			return -1;
		i++;
		if (l == 0)
			break;
		if (len - i < l)
			return -1;
		i += l;
	}
	*off = i;
	return 0;
}

int64_t
vfy_dns_packet_negative_ttl(const uint8_t *pkt, size_t len)
{
	size_t off = 12, i;
	unsigned qd, an, ns;

	if (pkt == NULL || len < 12)
		return -1;
	qd = (unsigned)cur_be(pkt + 4, 2);
	an = (unsigned)cur_be(pkt + 6, 2);
	ns = (unsigned)cur_be(pkt + 8, 2);
	for (i = 0; i < qd; i++) {
		if (skip_name(pkt, len, &off) < 0 || len - off < 4)
			return -1;
		off += 4;
	}
	for (i = 0; i < (size_t)an + ns; i++) {
		uint16_t type, rdlen;
		uint32_t ttl;

		if (skip_name(pkt, len, &off) < 0 || len - off < 10)
			return -1;
		type = (uint16_t)cur_be(pkt + off, 2);
		ttl = (uint32_t)cur_be(pkt + off + 4, 4);
		rdlen = (uint16_t)cur_be(pkt + off + 8, 2);
		off += 10;
		if (len - off < rdlen)
			return -1;
		if (i >= an && type == 6) {	/* SOA in authority */
			size_t r = off, end = off + rdlen;
			uint32_t minimum;

			if (skip_name(pkt, end, &r) < 0 || skip_name(pkt, end, &r) < 0 || end - r != 20)
				return -1;
			minimum = (uint32_t)cur_be(pkt + r + 16, 4);
			if (ttl & 0x80000000u)
				ttl = 0;
			if (minimum & 0x80000000u)
				minimum = 0;
			return ttl < minimum ? ttl : minimum;
		}
		off += rdlen;
	}
	return -1;
}

static unsigned
rnd_default(unsigned n)
{
	return n ? (unsigned)((uint64_t)random() % n) : 0;
}

static int
srv_prio_cmp(const void *a, const void *b)
{
	const struct vfy_srv *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	/* weight 0 first within a priority (RFC 2782 selection) */
	return (x->weight != 0) - (y->weight != 0);
}

void
vfy_dns_srv_order(struct vfy_srv *srv, size_t n, unsigned (*rnd)(unsigned))
{
	size_t start = 0;

	if (rnd == NULL)
		rnd = rnd_default;
	qsort(srv, n, sizeof(*srv), srv_prio_cmp);
	while (start < n) {
		size_t end = start, k;

		while (end < n && srv[end].priority == srv[start].priority)
			end++;
		/* RFC 2782: pick by running weight sum, repeatedly */
		for (k = start; k < end; k++) {
			uint32_t sum = 0, r, run = 0;
			size_t j;

			for (j = k; j < end; j++)
				sum += srv[j].weight;
			r = sum ? rnd(sum + 1) : 0;
			for (j = k; j < end; j++) {
				run += srv[j].weight;
				if (run >= r)
					break;
			}
			if (j == end)
				j = end - 1;
			if (j != k) {
				struct vfy_srv pick = srv[j];

				memmove(&srv[k + 1], &srv[k], (j - k) * sizeof(*srv));
				srv[k] = pick;
			}
		}
		start = end;
	}
}

/* --- queries -------------------------------------------------------------- */

static void
q_unlink(struct vfy_dns_query *q)
{
	struct vfy_dns *d = q->dns;

	if (q->prev)
		q->prev->next = q->next;
	else if (d->queries == q)
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

static void
q_free(struct vfy_dns_query *q)
{
	struct vfy_dns *d = q->dns;

	if (ev_is_active(&q->timer) || ev_is_pending(&q->timer))
		ev_timer_stop(d->loop, &q->timer);
	if (q->ub_active) {
		ub_cancel(d->ub, q->ub_id);
		q->ub_active = 0;
	}
	q_unlink(q);
	vfy_cache_answer_free(&q->cached);
	free(q);
}

static void
deliver(struct vfy_dns_query *q, struct vfy_dns_answer *a)
{
	a->qname = q->name;
	a->qtype = q->qtype;
	if (a->why == NULL)
		a->why = "";
	if (a->result == VFY_DNS_TEMPFAIL)
		q->dns->st.tempfails++;
	q_unlink(q);
	if (ev_is_active(&q->timer) || ev_is_pending(&q->timer))
		ev_timer_stop(q->dns->loop, &q->timer);
	q->cb(q->arg, a);
	q_free(q);
}

static void
deliver_tempfail(struct vfy_dns_query *q, enum vfy_dns_status st, const char *why)
{
	struct vfy_dns_answer a;

	memset(&a, 0, sizeof(a));
	a.result = VFY_DNS_TEMPFAIL;
	a.status = st;
	a.rcode = 2;
	a.why = why;
	deliver(q, &a);
}

static void
deliver_cached(struct vfy_dns_query *q)
{
	struct vfy_dns_answer a;
	uint64_t now = (uint64_t)time(NULL);

	memset(&a, 0, sizeof(a));
	a.result = q->cached.result;
	a.status = q->cached.status;
	a.rcode = q->cached.rcode;
	a.ttl = q->cached.expiry > now ? (uint32_t)(q->cached.expiry - now) : 0;
	a.from_cache = q->from_cache;
	a.n_srv = q->cached.n_srv;
	a.srv = q->cached.srv;
	a.n_tlsa = q->cached.n_tlsa;
	a.tlsa = q->cached.tlsa;
	/* each delivery reorders within priorities, as a fresh answer would */
	if (a.n_srv > 1)
		vfy_dns_srv_order(q->cached.srv, q->cached.n_srv, NULL);
	deliver(q, &a);
}

static void
redis_store(struct vfy_dns *d, const char *key, const uint8_t *v, size_t len, uint32_t ttl)
{
	char ttls[16];
	const char *argv[5];
	size_t lens[5];
	redisAsyncContext *ac = vfy_redis_ctx(d->redis);
	uint8_t *sealed = NULL;

	if (ac == NULL)
		return;
	if (d->have_mac_key) {
		sealed = vfy_cache_seal(d->mac_key, key, v, len, &len);
		if (sealed == NULL)
			return;
		v = sealed;
	}
	snprintf(ttls, sizeof(ttls), "%u", ttl);
	argv[0] = "SET"; lens[0] = 3;
	argv[1] = key; lens[1] = strlen(key);
	argv[2] = (const char *)v; lens[2] = len;
	argv[3] = "EX"; lens[3] = 2;
	argv[4] = ttls; lens[4] = strlen(ttls);
	redisAsyncCommandArgv(ac, NULL, NULL, 5, argv, lens);	/* copies the argv */
	free(sealed);
}

static void
store(struct vfy_dns_query *q, const struct vfy_dns_answer *a)
{
	struct vfy_dns *d = q->dns;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *v;
	size_t len;

	if (a->ttl == 0 || a->result == VFY_DNS_TEMPFAIL ||
	    (a->status != VFY_DNS_SECURE && a->status != VFY_DNS_INSECURE))
		return;
	v = vfy_cache_encode(a, now + a->ttl, &len);
	if (v == NULL)
		return;
	vfy_lru_put(d->lru, q->key, v, len, now + a->ttl);
	vfy_shcache_put(d->opt.shcache, q->key, v, len, now + a->ttl, now);
	if (d->use_redis)
		redis_store(d, q->key, v, len, a->ttl);
	free(v);
}

static void
ub_done(void *mydata, int err, struct ub_result *r)
{
	struct vfy_dns_query *q = mydata;
	struct vfy_dns *d = q->dns;
	struct vfy_dns_answer a;
	struct vfy_srv *srv = NULL;
	struct vfy_tlsa *tlsa = NULL;
	enum vfy_dns_status fail = VFY_DNS_UNCHECKED;
	char why[300];
	size_t n = 0, i;
	uint32_t cap = d->opt.cache_max_ttl;

	q->ub_active = 0;
	memset(&a, 0, sizeof(a));
	a.qname = q->name;
	a.qtype = q->qtype;
	if (err != 0 || r == NULL) {
		snprintf(why, sizeof(why), "resolver error: %s", ub_strerror(err));
		goto tempfail;
	}
	if (r->bogus) {
		snprintf(why, sizeof(why), "bogus: %s", r->why_bogus ? r->why_bogus : "validation failed");
		fail = VFY_DNS_BOGUS;
		goto tempfail;
	}
	a.status = r->secure ? VFY_DNS_SECURE : VFY_DNS_INSECURE;
	a.rcode = r->rcode;
	if (r->rcode == 3) {
		a.result = VFY_DNS_NXDOMAIN;
	} else if (r->rcode != 0) {
		snprintf(why, sizeof(why), "rcode %d", r->rcode);
		goto tempfail;
	} else if (!r->havedata) {
		a.result = VFY_DNS_NODATA;
	} else {
		a.result = VFY_DNS_DATA;
	}
	if (a.result != VFY_DNS_DATA) {
		int64_t nt = vfy_dns_packet_negative_ttl(r->answer_packet, (size_t)r->answer_len);
		uint32_t ncap = d->opt.negative_ttl_max ? d->opt.negative_ttl_max : cap;

		a.ttl = nt >= 0 ? (uint32_t)nt : (r->ttl > 0 ? (uint32_t)r->ttl : 60);
		if (a.ttl > ncap)
			a.ttl = ncap;
	} else {
		a.ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
		if (a.ttl > cap)
			a.ttl = cap;
		while (r->data[n] != NULL)
			n++;
		if (q->qtype == VFY_DNS_T_SRV) {
			srv = mem_calloc(n, sizeof(*srv));
			for (i = 0; i < n; i++) {
				const uint8_t *p = (const uint8_t *)r->data[i];
				size_t l = (size_t)r->len[i];

				if (l < 7 || vfy_dns_name_from_wire(p + 6, l - 6, srv[a.n_srv].target,
				    sizeof(srv[a.n_srv].target)) != (int)(l - 6))
					continue;	/* malformed record: skipped */
				srv[a.n_srv].priority = (uint16_t)cur_be(p, 2);
				srv[a.n_srv].weight = (uint16_t)cur_be(p + 2, 2);
				srv[a.n_srv].port = (uint16_t)cur_be(p + 4, 2);
				a.n_srv++;
			}
			vfy_dns_srv_order(srv, a.n_srv, NULL);
			a.srv = srv;
		} else if (q->qtype == VFY_DNS_T_TLSA) {
			tlsa = mem_calloc(n, sizeof(*tlsa));
			for (i = 0; i < n; i++) {
				const uint8_t *p = (const uint8_t *)r->data[i];
				size_t l = (size_t)r->len[i];

				if (l < 3)
					continue;
				tlsa[a.n_tlsa].usage = p[0];
				tlsa[a.n_tlsa].selector = p[1];
				tlsa[a.n_tlsa].mtype = p[2];
				tlsa[a.n_tlsa].data = p + 3;
				tlsa[a.n_tlsa].len = l - 3;
				a.n_tlsa++;
			}
			a.tlsa = tlsa;
		}
		if (a.n_srv + a.n_tlsa == 0 && (q->qtype == VFY_DNS_T_SRV || q->qtype == VFY_DNS_T_TLSA)) {
			/* only malformed records: as good as a broken answer */
			snprintf(why, sizeof(why), "malformed records");
			goto tempfail;
		}
	}
	store(q, &a);
	deliver(q, &a);
	goto out;
tempfail:
	deliver_tempfail(q, fail, why);
out:
	free(srv);
	free(tlsa);
	if (r != NULL)
		ub_resolve_free(r);
}

static void
on_ub_io(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct vfy_dns *d = (struct vfy_dns *)((char *)w - offsetof(struct vfy_dns, ub_io));

	(void)loop;
	(void)revents;
	ub_process(d->ub);
}

static void start_resolver(struct vfy_dns_query *q);

/* A query's one timer: a cache hit's delivery from the loop, the wait for
 * Redis, or the resolver's timeout (or its failure to start). */
static void
on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct vfy_dns_query *q = (struct vfy_dns_query *)((char *)w - offsetof(struct vfy_dns_query, timer));

	(void)loop;
	(void)revents;
	if (q->from_cache) {
		deliver_cached(q);
	} else if (q->redis_id != 0) {
		q->dns->st.redis_errors++;	/* slow Redis counts as an error */
		start_resolver(q);
	} else {
		deliver_tempfail(q, VFY_DNS_UNCHECKED, "timeout");
	}
}

static void
start_resolver(struct vfy_dns_query *q)
{
	struct vfy_dns *d = q->dns;
	int rc;

	d->st.resolver_queries++;
	q->redis_id = 0;
	if (ev_is_active(&q->timer))
		ev_timer_stop(d->loop, &q->timer);
	ev_timer_init(&q->timer, on_timer, d->opt.timeout_ms / 1000.0, 0);
	ev_timer_start(d->loop, &q->timer);
	rc = ub_resolve_async(d->ub, q->name, q->qtype, 1, q, ub_done, &q->ub_id);
	if (rc != 0) {
		/* deliver from the loop, never before lookup() returns */
		ev_timer_stop(d->loop, &q->timer);
		ev_timer_init(&q->timer, on_timer, 0, 0);
		ev_timer_start(d->loop, &q->timer);
		return;
	}
	q->ub_active = 1;
}

/* --- Redis ----------------------------------------------------------------- */

/* vfy_redis reports every transition: queries waiting on a Redis that went
 * away go to the resolver now; the owner is told (it logs). */
static void
on_redis_state(void *arg, struct vfy_redis *r, int up)
{
	struct vfy_dns *d = arg;
	struct vfy_dns_query *q, *next;
	struct vfy_redis_status rs;

	if (!up)
		for (q = d->queries; q != NULL; q = next) {
			next = q->next;
			if (q->redis_id != 0)
				start_resolver(q);
		}
	if (d->opt.redis_state_cb != NULL) {
		vfy_redis_status(r, &rs);
		d->opt.redis_state_cb(d->opt.redis_state_arg, &rs);
	}
}

static struct vfy_dns_query *
find_by_redis_id(struct vfy_dns *d, uint64_t id)
{
	struct vfy_dns_query *q;

	for (q = d->queries; q != NULL; q = q->next)
		if (q->redis_id == id)
			return q;
	return NULL;
}

static void
on_redis_get(redisAsyncContext *ac, void *r, void *priv)
{
	struct vfy_dns *d = vfy_redis_owner(ac);
	redisReply *reply = r;
	uint64_t id = (uint64_t)(uintptr_t)priv;
	struct vfy_dns_query *q;
	size_t vlen;

	if (d == NULL || id == 0)
		return;
	q = find_by_redis_id(d, id);
	if (q == NULL)
		return;		/* timed out or cancelled: orphan reply */
	q->redis_id = 0;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		d->st.redis_errors++;
		start_resolver(q);
		return;
	}
	if (reply->type != REDIS_REPLY_STRING) {
		d->st.redis_misses++;
		start_resolver(q);
		return;
	}
	vlen = reply->len;
	if (d->have_mac_key &&
	    vfy_cache_unseal(d->mac_key, q->key, (const uint8_t *)reply->str, reply->len, &vlen) < 0) {
		d->st.redis_forged++;	/* not written by a gateway holding the key */
		d->st.redis_misses++;
		start_resolver(q);
		return;
	}
	if (vfy_cache_decode((const uint8_t *)reply->str, vlen, &q->cached) < 0 ||
	    q->cached.qtype != q->qtype || q->cached.expiry <= (uint64_t)time(NULL)) {
		vfy_cache_answer_free(&q->cached);
		d->st.redis_garbage++;
		d->st.redis_misses++;
		start_resolver(q);
		return;
	}
	d->st.redis_hits++;
	/* keep a copy in process too */
	vfy_lru_put(d->lru, q->key, (const uint8_t *)reply->str, vlen, q->cached.expiry);
	vfy_shcache_put(d->opt.shcache, q->key, (const uint8_t *)reply->str, vlen, q->cached.expiry,
	    (uint64_t)time(NULL));
	q->from_cache = 2;
	ev_timer_stop(d->loop, &q->timer);
	deliver_cached(q);
}

/* --- public ----------------------------------------------------------------- */

static int
name_ok(const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), i, label = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || n >= outlen)
		return -1;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = c;
	}
	out[n] = '\0';
	return label == 0 ? -1 : 0;
}

struct vfy_dns_query *
vfy_dns_lookup(struct vfy_dns *d, const char *name, uint16_t qtype, vfy_dns_cb *cb, void *arg)
{
	struct vfy_dns_query *q = mem_calloc(1, sizeof(*q));
	const uint8_t *v;
	size_t len;

	if (name_ok(name, q->name, sizeof(q->name)) < 0) {
		free(q);
		return NULL;
	}
	q->dns = d;
	q->qtype = qtype;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->key, sizeof(q->key), "smtpsec:dns:%s:%s", type_str(qtype), q->name);
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
	ev_init(&q->timer, on_timer);
	d->st.lookups++;

	v = vfy_lru_get(d->lru, q->key, (uint64_t)time(NULL), &len);
	if (v != NULL && vfy_cache_decode(v, len, &q->cached) == 0)
		goto hit;
	if (d->opt.shcache != NULL) {
		uint8_t sv[VFY_SHC_VALUE];
		uint64_t exp;

		if (vfy_shcache_get(d->opt.shcache, q->key, (uint64_t)time(NULL), sv, &len, &exp) == 0 &&
		    vfy_cache_decode(sv, len, &q->cached) == 0) {
			if (q->cached.qtype == qtype) {
				vfy_lru_put(d->lru, q->key, sv, len, exp);
				d->st.shared_hits++;
				goto hit;
			}
			vfy_cache_answer_free(&q->cached);
		}
	}
	d->st.mem_misses++;
	if (d->use_redis && vfy_redis_ctx(d->redis) != NULL) {
		const char *argv[2] = { "GET", q->key };
		size_t lens[2] = { 3, strlen(q->key) };

		q->redis_id = ++d->next_id;
		redisAsyncCommandArgv(vfy_redis_ctx(d->redis), on_redis_get, (void *)(uintptr_t)q->redis_id, 2, argv, lens);
		ev_timer_init(&q->timer, on_timer, d->opt.redis_timeout_ms / 1000.0, 0);
		ev_timer_start(d->loop, &q->timer);
		return q;
	}
	start_resolver(q);
	return q;
hit:
	d->st.mem_hits++;
	q->from_cache = 1;
	ev_timer_init(&q->timer, on_timer, 0, 0);
	ev_timer_start(d->loop, &q->timer);
	return q;
}

void
vfy_dns_cancel(struct vfy_dns_query **q_p)
{
	if (*q_p == NULL)
		return;
	q_free(*q_p);
	*q_p = NULL;
}

void
vfy_dns_get_stats(struct vfy_dns *d, struct vfy_dns_stats *st)
{
	struct vfy_redis_status rs;

	*st = d->st;
	st->redis_up = -1;
	if (d->redis != NULL) {
		vfy_redis_status(d->redis, &rs);
		st->redis_up = rs.up;
		st->redis_errors += rs.errors;
	}
}

int
vfy_dns_init(struct vfy_dns **dns_r, struct ev_loop *loop, const struct vfy_dns_options *opt,
    char *err, size_t errlen)
{
	struct vfy_dns *d;
	int rc, have_ta = 0;

	*dns_r = NULL;
	d = mem_calloc(1, sizeof(*d));
	d->loop = loop;
	d->opt = *opt;
	d->opt.unbound_conf = d->own[0] = mem_strdup_opt(opt->unbound_conf);
	d->opt.trust_anchor_file = d->own[1] = mem_strdup_opt(opt->trust_anchor_file);
	memset(&d->opt.redis, 0, sizeof(d->opt.redis));	/* borrowed: used below only */
	if (opt->cache_mac_key != NULL) {
		memcpy(d->mac_key, opt->cache_mac_key, VFY_CACHE_KEY_LEN);
		d->have_mac_key = 1;
	}
	d->opt.cache_mac_key = NULL;	/* not kept: the copy is in mac_key */
	if (d->opt.timeout_ms == 0)
		d->opt.timeout_ms = 5000;
	if (d->opt.cache_max_ttl == 0)
		d->opt.cache_max_ttl = 3600;
	if (d->opt.redis_timeout_ms == 0)
		d->opt.redis_timeout_ms = 200;
	d->lru = vfy_lru_new(opt->cache_entries ? opt->cache_entries : 100000);

	d->ub = ub_ctx_create();
	if (d->ub == NULL) {
		snprintf(err, errlen, "cannot create the libunbound context");
		goto fail;
	}
	if ((rc = ub_ctx_async(d->ub, 1)) != 0) {
		snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
		goto fail;
	}
	if (d->opt.unbound_conf != NULL) {
		if (access(d->opt.unbound_conf, R_OK) != 0) {
			snprintf(err, errlen, "unbound_conf %s is not readable", d->opt.unbound_conf);
			goto fail;
		}
		if ((rc = ub_ctx_config(d->ub, d->opt.unbound_conf)) != 0) {
			snprintf(err, errlen, "unbound_conf %s: %s", d->opt.unbound_conf, ub_strerror(rc));
			goto fail;
		}
	}
	if (d->opt.trust_anchor_file != NULL) {
		/* a configured anchor that cannot be loaded is a configuration
		 * error, even when unbound_conf has anchors of its own */
		if (access(d->opt.trust_anchor_file, R_OK) == 0 &&
		    ub_ctx_add_ta_file(d->ub, d->opt.trust_anchor_file) == 0)
			have_ta = 1;
		else {
			snprintf(err, errlen, "trust_anchor_file %s is not a usable trust anchor: %s",
			    d->opt.trust_anchor_file, access(d->opt.trust_anchor_file, R_OK) == 0 ?
			    "libunbound cannot read it" : strerror(errno));
			goto fail;
		}
	}
	if (!have_ta && d->opt.unbound_conf == NULL) {
		snprintf(err, errlen, "no DNSSEC trust anchor (trust_anchor_file) and no unbound_conf: "
		    "refusing to run without DNSSEC validation");
		goto fail;
	}
	ev_io_init(&d->ub_io, on_ub_io, ub_fd(d->ub), EV_READ);
	ev_io_start(loop, &d->ub_io);
	if (opt->cache == VFY_DNS_CACHE_REDIS && vfy_redis_configured(&opt->redis)) {
		struct vfy_redis_options ro = opt->redis;

		ro.backoff_min = 0.5;
		d->use_redis = 1;
		d->redis = vfy_redis_new(loop, &ro, on_redis_state, d);
	}
	*dns_r = d;
	return 0;
fail:
	vfy_dns_deinit(&d);
	return -1;
}

int
vfy_dns_check_trust_anchor(const char *path, char *err, size_t errlen)
{
	struct ub_ctx *ub;
	int rc;

	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "trust_anchor_file %s: %s", path, strerror(errno));
		return -1;
	}
	ub = ub_ctx_create();
	if (ub == NULL) {
		snprintf(err, errlen, "cannot create the libunbound context");
		return -1;
	}
	/* ub_ctx_add_ta_file only records the name; resolving makes libunbound
	 * read it, so read it here the way unbound does: a zone-format file
	 * with at least one DS or DNSKEY record */
	rc = ub_ctx_add_ta_file(ub, path);
	ub_ctx_delete(ub);
	if (rc != 0) {
		snprintf(err, errlen, "trust_anchor_file %s: %s", path, ub_strerror(rc));
		return -1;
	}
	{
		FILE *f = fopen(path, "r");
		char line[4096];
		int found = 0;

		if (f == NULL) {
			snprintf(err, errlen, "trust_anchor_file %s: %s", path, strerror(errno));
			return -1;
		}
		while (!found && fgets(line, sizeof(line), f) != NULL) {
			char *c = strchr(line, ';');

			if (c != NULL)
				*c = '\0';
			found = strstr(line, " DS ") != NULL || strstr(line, "\tDS\t") != NULL ||
			    strstr(line, " DNSKEY ") != NULL || strstr(line, "\tDNSKEY\t") != NULL ||
			    strstr(line, "\tDS ") != NULL || strstr(line, "\tDNSKEY ") != NULL;
		}
		fclose(f);
		if (!found) {
			snprintf(err, errlen, "trust_anchor_file %s has no DS or DNSKEY record", path);
			return -1;
		}
	}
	return 0;
}

void
vfy_dns_deinit(struct vfy_dns **dns_p)
{
	struct vfy_dns *d = *dns_p;
	size_t i;

	if (d == NULL)
		return;
	while (d->queries)
		q_free(d->queries);
	vfy_redis_free(&d->redis);
	if (ev_is_active(&d->ub_io))
		ev_io_stop(d->loop, &d->ub_io);
	if (d->ub)
		ub_ctx_delete(d->ub);
	vfy_lru_free(&d->lru);
	for (i = 0; i < 2; i++)
		free(d->own[i]);
	explicit_bzero(d->mac_key, sizeof(d->mac_key));
	free(d);
	*dns_p = NULL;
}
