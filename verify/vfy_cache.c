/*
 * vfy_cache: value codec, shared cache and the in-process LRU.  See
 * vfy_cache.h.
 *
 * The LRU is a chained hash table plus a doubly linked recency list; each
 * entry owns its key and value.  Lookups move the entry to the front;
 * inserting past the bound drops the tail.
 */
#include "verify/vfy_cache.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/mem.h"

/* --- value codec ------------------------------------------------------------ */

/* Append v as an n-byte big-endian number. */
static void
put_be(struct buf *b, uint64_t v, size_t n)
{
	uint8_t t[8];

	cur_put_be(t, v, n);
	buf_add(b, t, n);
}

uint8_t *
vfy_cache_encode(const struct vfy_dns_answer *a, uint64_t expiry, size_t *len_r)
{
	struct buf b = { NULL, 0, 0 };
	size_t i;

	if (a->n_srv > VFY_CACHE_MAX_RECORDS || a->n_tlsa > VFY_CACHE_MAX_RECORDS)
		return NULL;
	buf_add(&b, "SDC\x01", 4);
	put_be(&b, a->qtype, 2);
	put_be(&b, (uint64_t)a->result, 1);
	put_be(&b, (uint64_t)a->status, 1);
	put_be(&b, (uint64_t)(a->rcode & 0xff), 1);
	put_be(&b, expiry, 8);
	put_be(&b, a->n_srv, 2);
	for (i = 0; i < a->n_srv; i++) {
		size_t tl = strlen(a->srv[i].target);

		if (tl > 255)
			goto too_large;
		put_be(&b, a->srv[i].priority, 2);
		put_be(&b, a->srv[i].weight, 2);
		put_be(&b, a->srv[i].port, 2);
		put_be(&b, tl, 1);
		buf_add(&b, a->srv[i].target, tl);
	}
	put_be(&b, a->n_tlsa, 2);
	for (i = 0; i < a->n_tlsa; i++) {
		if (a->tlsa[i].len > 0xffff)
			goto too_large;
		put_be(&b, a->tlsa[i].usage, 1);
		put_be(&b, a->tlsa[i].selector, 1);
		put_be(&b, a->tlsa[i].mtype, 1);
		put_be(&b, a->tlsa[i].len, 2);
		buf_add(&b, a->tlsa[i].data, a->tlsa[i].len);
	}
	if (b.len > VFY_CACHE_MAX_VALUE)
		goto too_large;
	return buf_steal(&b, len_r);
too_large:
	buf_free(&b);
	return NULL;
}

void
vfy_cache_answer_free(struct vfy_cache_answer *a)
{
	free(a->srv);
	free(a->tlsa);
	free(a->tlsa_data);
	memset(a, 0, sizeof(*a));
}

int
vfy_cache_decode(const uint8_t *v, size_t len, struct vfy_cache_answer *a)
{
	struct cur r = { v, len };
	uint64_t x, n;
	size_t i, data_used = 0;

	memset(a, 0, sizeof(*a));
	if (len < 4 || memcmp(v, "SDC\x01", 4) != 0 || len > VFY_CACHE_MAX_VALUE)
		return -1;
	r.p += 4;
	r.left -= 4;
	if (cur_uint(&r, 2, &x) < 0)
		goto bad;
	a->qtype = (uint16_t)x;
	if (cur_uint(&r, 1, &x) < 0 || x > VFY_DNS_NXDOMAIN || x == VFY_DNS_TEMPFAIL)
		goto bad;		/* temporary failures are never cached */
	a->result = (enum vfy_dns_result)x;
	if (cur_uint(&r, 1, &x) < 0 || (x != VFY_DNS_SECURE && x != VFY_DNS_INSECURE))
		goto bad;		/* neither unchecked nor bogus is ever cached */
	a->status = (enum vfy_dns_status)x;
	if (cur_uint(&r, 1, &x) < 0)
		goto bad;
	a->rcode = (int)x;
	if (cur_uint(&r, 8, &a->expiry) < 0)
		goto bad;
	if (cur_uint(&r, 2, &n) < 0 || n > VFY_CACHE_MAX_RECORDS)
		goto bad;
	a->n_srv = (size_t)n;
	a->srv = mem_calloc(n, sizeof(*a->srv));
	for (i = 0; i < a->n_srv; i++) {
		uint64_t p, wt, port, tl;

		if (cur_uint(&r, 2, &p) < 0 || cur_uint(&r, 2, &wt) < 0 || cur_uint(&r, 2, &port) < 0 ||
		    cur_uint(&r, 1, &tl) < 0 || tl == 0 || r.left < tl)
			goto bad;
		a->srv[i].priority = (uint16_t)p;
		a->srv[i].weight = (uint16_t)wt;
		a->srv[i].port = (uint16_t)port;
		memcpy(a->srv[i].target, r.p, tl);
		a->srv[i].target[tl] = '\0';
		if (strlen(a->srv[i].target) != tl)
			goto bad;	/* NUL inside a name */
		r.p += tl;
		r.left -= tl;
	}
	if (cur_uint(&r, 2, &n) < 0 || n > VFY_CACHE_MAX_RECORDS)
		goto bad;
	a->n_tlsa = (size_t)n;
	a->tlsa = mem_calloc(n, sizeof(*a->tlsa));
	a->tlsa_data = mem_alloc(r.left);
	for (i = 0; i < a->n_tlsa; i++) {
		uint64_t u, s, m, dl;

		if (cur_uint(&r, 1, &u) < 0 || cur_uint(&r, 1, &s) < 0 || cur_uint(&r, 1, &m) < 0 ||
		    cur_uint(&r, 2, &dl) < 0 || r.left < dl)
			goto bad;
		a->tlsa[i].usage = (uint8_t)u;
		a->tlsa[i].selector = (uint8_t)s;
		a->tlsa[i].mtype = (uint8_t)m;
		a->tlsa[i].len = (size_t)dl;
		memcpy(a->tlsa_data + data_used, r.p, dl);
		a->tlsa[i].data = a->tlsa_data + data_used;
		data_used += dl;
		r.p += dl;
		r.left -= dl;
	}
	if (r.left != 0)
		goto bad;
	/* the result must agree with the records */
	if ((a->result == VFY_DNS_DATA) != (a->n_srv + a->n_tlsa > 0))
		goto bad;
	return 0;
bad:
	vfy_cache_answer_free(a);
	return -1;
}

/* --- MAC for values shared through Redis ---------------------------------- */

#define EXPIRY_OFF	9	/* "SDC\x01" qtype result status rcode */

static int
cache_mac(const uint8_t mac_key[VFY_CACHE_KEY_LEN], const char *rkey, const uint8_t *v, size_t len,
    uint8_t out[WC_SHA256_DIGEST_SIZE])
{
	static const char label[] = "smtpsec-dns-cache-v1";
	size_t kl = strlen(rkey);
	uint8_t hdr[4];
	Hmac h;
	int rc;

	if (len < EXPIRY_OFF + 8 || kl > 0xffff || len > 0xffffffffu)
		return -1;
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -1;
	rc = wc_HmacSetKey(&h, WC_SHA256, mac_key, VFY_CACHE_KEY_LEN);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, (const byte *)label, sizeof(label) - 1);
	cur_put_be(hdr, kl, 2);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, hdr, 2);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, (const byte *)rkey, (word32)kl);
	if (rc == 0)		/* the expiry, as the value states it */
		rc = wc_HmacUpdate(&h, v + EXPIRY_OFF, 8);
	cur_put_be(hdr, len, 4);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, hdr, 4);
	if (rc == 0)
		rc = wc_HmacUpdate(&h, v, (word32)len);
	if (rc == 0)
		rc = wc_HmacFinal(&h, out);
	wc_HmacFree(&h);
	return rc == 0 ? 0 : -1;
}

uint8_t *
vfy_cache_seal(const uint8_t mac_key[VFY_CACHE_KEY_LEN], const char *rkey, const uint8_t *v, size_t len,
    size_t *len_r)
{
	uint8_t *out;

	if (len > VFY_CACHE_MAX_VALUE)
		return NULL;
	out = mem_alloc(len + VFY_CACHE_SEAL_LEN);
	memcpy(out, v, len);
	memcpy(out + len, "MAC1", 4);
	if (cache_mac(mac_key, rkey, v, len, out + len + 4) < 0) {
		free(out);
		return NULL;
	}
	*len_r = len + VFY_CACHE_SEAL_LEN;
	return out;
}

int
vfy_cache_unseal(const uint8_t mac_key[VFY_CACHE_KEY_LEN], const char *rkey, const uint8_t *v,
    size_t len, size_t *vlen_r)
{
	uint8_t want[WC_SHA256_DIGEST_SIZE];
	size_t vl, i;
	uint8_t diff = 0;

	if (len < VFY_CACHE_SEAL_LEN || len - VFY_CACHE_SEAL_LEN > VFY_CACHE_MAX_VALUE)
		return -1;
	vl = len - VFY_CACHE_SEAL_LEN;
	if (memcmp(v + vl, "MAC1", 4) != 0 || cache_mac(mac_key, rkey, v, vl, want) < 0)
		return -1;
	for (i = 0; i < sizeof(want); i++)	/* constant time */
		diff |= (uint8_t)(want[i] ^ v[vl + 4 + i]);
	explicit_bzero(want, sizeof(want));
	if (diff != 0)
		return -1;
	*vlen_r = vl;
	return 0;
}

void
vfy_cache_key_id(const uint8_t mac_key[VFY_CACHE_KEY_LEN], char out[17])
{
	static const char label[] = "smtpsec-cache-key-id";
	uint8_t d[WC_SHA256_DIGEST_SIZE];
	Hmac h;
	size_t i;

	memset(d, 0, sizeof(d));
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) == 0) {
		if (wc_HmacSetKey(&h, WC_SHA256, mac_key, VFY_CACHE_KEY_LEN) != 0 ||
		    wc_HmacUpdate(&h, (const byte *)label, sizeof(label) - 1) != 0 ||
		    wc_HmacFinal(&h, d) != 0)
			memset(d, 0, sizeof(d));
		wc_HmacFree(&h);
	}
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* --- shared (per host) ---------------------------------------------------- */

#define SHC_KEY	200

struct shc_slot {
	uint32_t seq;			/* odd while written; __atomic only */
	uint32_t len;
	uint64_t expiry;
	uint64_t khash;
	char key[SHC_KEY];
	uint8_t val[VFY_SHC_VALUE];
};

struct vfy_shcache {
	size_t mask;
	size_t map_len;
	struct shc_slot *slot;		/* shared mapping */
};

static uint64_t
shc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

struct vfy_shcache *
vfy_shcache_new(size_t slots)
{
	struct vfy_shcache *c;
	size_t n = 64;
	void *p;

	while (n * 2 <= slots && n < (1u << 20))
		n *= 2;
	p = mmap(NULL, n * sizeof(struct shc_slot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	c = mem_alloc(sizeof(*c));
	c->mask = n - 1;
	c->map_len = n * sizeof(struct shc_slot);
	c->slot = p;
	return c;
}

void
vfy_shcache_free(struct vfy_shcache **c_p)
{
	if (*c_p == NULL)
		return;
	munmap((*c_p)->slot, (*c_p)->map_len);
	free(*c_p);
	*c_p = NULL;
}

int
vfy_shcache_get(struct vfy_shcache *c, const char *key, uint64_t now, uint8_t *out, size_t *len_r,
    uint64_t *expiry_r)
{
	uint64_t h = shc_hash(key), exp;
	char k[SHC_KEY];
	size_t i, len;

	if (c == NULL || strlen(key) >= SHC_KEY)
		return -1;
	for (i = 0; i < 2; i++) {
		struct shc_slot *sl = &c->slot[(h + i) & c->mask];
		uint32_t s1 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE), s2;

		if (s1 & 1u || __atomic_load_n(&sl->khash, __ATOMIC_RELAXED) != h)
			continue;
		len = __atomic_load_n(&sl->len, __ATOMIC_RELAXED);
		exp = __atomic_load_n(&sl->expiry, __ATOMIC_RELAXED);
		if (len == 0 || len > VFY_SHC_VALUE)
			continue;
		memcpy(k, sl->key, SHC_KEY);
		memcpy(out, sl->val, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			continue;	/* written meanwhile: a miss */
		k[SHC_KEY - 1] = '\0';
		if (strcmp(k, key) != 0 || exp <= now)
			continue;
		*len_r = len;
		*expiry_r = exp;
		return 0;
	}
	return -1;
}

void
vfy_shcache_put(struct vfy_shcache *c, const char *key, const uint8_t *v, size_t len, uint64_t expiry,
    uint64_t now)
{
	uint64_t h = shc_hash(key);
	struct shc_slot *sl = NULL;
	size_t i;
	uint32_t s;

	if (c == NULL || len == 0 || len > VFY_SHC_VALUE || strlen(key) >= SHC_KEY)
		return;
	/* the slot holding this key, else a free or expired one, else the first */
	for (i = 0; i < 2 && sl == NULL; i++) {
		struct shc_slot *t = &c->slot[(h + i) & c->mask];

		if (__atomic_load_n(&t->khash, __ATOMIC_RELAXED) == h)
			sl = t;
	}
	for (i = 0; i < 2 && sl == NULL; i++) {
		struct shc_slot *t = &c->slot[(h + i) & c->mask];

		if (__atomic_load_n(&t->len, __ATOMIC_RELAXED) == 0 ||
		    __atomic_load_n(&t->expiry, __ATOMIC_RELAXED) <= now)
			sl = t;
	}
	if (sl == NULL)
		sl = &c->slot[h & c->mask];
	s = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	if (s & 1u || !__atomic_compare_exchange_n(&sl->seq, &s, s + 1, 0, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED))
		return;		/* another writer has it: not shared this time */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&sl->khash, h, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->len, (uint32_t)len, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->expiry, expiry, __ATOMIC_RELAXED);
	memset(sl->key, 0, SHC_KEY);
	memcpy(sl->key, key, strlen(key));
	memcpy(sl->val, v, len);
	__atomic_store_n(&sl->seq, s + 2, __ATOMIC_RELEASE);
}

/* --- LRU ------------------------------------------------------------------ */

struct lru_ent {
	struct lru_ent *hnext;		/* hash chain */
	struct lru_ent *prev, *next;	/* recency list, head = most recent */
	uint64_t expiry;
	uint8_t *val;			/* owned */
	size_t len;
	char key[];			/* owned, NUL-terminated */
};

struct vfy_lru {
	size_t max, count, nbuckets;
	struct lru_ent **buckets;
	struct lru_ent *head, *tail;
};

static size_t
hash(const char *s, size_t nb)
{
	return (size_t)(shc_hash(s) % nb);
}

struct vfy_lru *
vfy_lru_new(size_t max)
{
	struct vfy_lru *l = mem_calloc(1, sizeof(*l));

	l->max = max ? max : 1;
	l->nbuckets = l->max < 1024 ? 1024 : l->max;
	l->buckets = mem_calloc(l->nbuckets, sizeof(*l->buckets));
	return l;
}

static void
unlink_list(struct vfy_lru *l, struct lru_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
push_front(struct vfy_lru *l, struct lru_ent *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (l->tail == NULL)
		l->tail = e;
}

static void
drop(struct vfy_lru *l, struct lru_ent *e)
{
	struct lru_ent **pp = &l->buckets[hash(e->key, l->nbuckets)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	unlink_list(l, e);
	free(e->val);
	free(e);
	l->count--;
}

static struct lru_ent *
find(struct vfy_lru *l, const char *key)
{
	struct lru_ent *e = l->buckets[hash(key, l->nbuckets)];

	while (e && strcmp(e->key, key) != 0)
		e = e->hnext;
	return e;
}

const uint8_t *
vfy_lru_get(struct vfy_lru *l, const char *key, uint64_t now, size_t *len_r)
{
	struct lru_ent *e = find(l, key);

	if (e == NULL)
		return NULL;
	if (e->expiry <= now) {
		drop(l, e);
		return NULL;
	}
	unlink_list(l, e);
	push_front(l, e);
	*len_r = e->len;
	return e->val;
}

void
vfy_lru_put(struct vfy_lru *l, const char *key, const uint8_t *val, size_t len, uint64_t expiry)
{
	struct lru_ent *e = find(l, key);
	size_t kl = strlen(key), b;

	if (e != NULL)
		drop(l, e);
	while (l->count >= l->max && l->tail)
		drop(l, l->tail);
	e = mem_alloc(sizeof(*e) + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->val = mem_alloc(len);
	memcpy(e->val, val, len);
	e->len = len;
	e->expiry = expiry;
	b = hash(key, l->nbuckets);
	e->hnext = l->buckets[b];
	l->buckets[b] = e;
	push_front(l, e);
	l->count++;
}

size_t
vfy_lru_count(const struct vfy_lru *l)
{
	return l->count;
}

void
vfy_lru_clear(struct vfy_lru *l)
{
	while (l->head)
		drop(l, l->head);
}

void
vfy_lru_free(struct vfy_lru **l_p)
{
	struct vfy_lru *l = *l_p;

	if (l == NULL)
		return;
	vfy_lru_clear(l);
	free(l->buckets);
	free(l);
	*l_p = NULL;
}
