/* Unit tests for verify/vfy_cache.c (value codec, shared cache, LRU) and the wire
 * helpers of verify/vfy_dns.c (names, negative TTL, RFC 2782 order). */
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/t.h"
#include "verify/vfy_cache.h"
#include "verify/vfy.h"

static const uint8_t tlsa_data[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static void
sample(struct vfy_dns_answer *a, struct vfy_srv *srv, struct vfy_tlsa *tlsa)
{
	memset(a, 0, sizeof(*a));
	a->qtype = VFY_DNS_T_SRV;
	a->result = VFY_DNS_DATA;
	a->status = VFY_DNS_SECURE;
	memset(srv, 0, 2 * sizeof(*srv));
	srv[0].priority = 10; srv[0].weight = 5; srv[0].port = 4650;
	strcpy(srv[0].target, "mx1.a.test");
	srv[1].priority = 20; srv[1].weight = 0; srv[1].port = 25;
	strcpy(srv[1].target, "mx2.a.test");
	a->srv = srv;
	a->n_srv = 2;
	tlsa->usage = 3; tlsa->selector = 1; tlsa->mtype = 1;
	tlsa->data = tlsa_data;
	tlsa->len = sizeof(tlsa_data);
	a->tlsa = tlsa;
	a->n_tlsa = 1;
}

static void
t_roundtrip(void)
{
	struct vfy_dns_answer a;
	struct vfy_srv srv[2];
	struct vfy_tlsa tlsa;
	struct vfy_cache_answer d;
	uint8_t *v;
	size_t len;

	sample(&a, srv, &tlsa);
	v = vfy_cache_encode(&a, 1234567, &len);
	T_ASSERT(v != NULL);
	T_ASSERT(vfy_cache_decode(v, len, &d) == 0);
	free(v);
	T_EQ_INT(d.qtype, VFY_DNS_T_SRV);
	T_EQ_INT(d.status, VFY_DNS_SECURE);
	T_EQ_INT(d.expiry, 1234567);
	T_EQ_INT(d.n_srv, 2);
	T_EQ_STR(d.srv[1].target, "mx2.a.test");
	T_EQ_INT(d.srv[0].port, 4650);
	T_EQ_INT(d.n_tlsa, 1);
	T_EQ_MEM(d.tlsa[0].data, d.tlsa[0].len, tlsa_data, sizeof(tlsa_data));
	vfy_cache_answer_free(&d);
}

/* What the format cannot hold is not encoded (then not cached): a value
 * over VFY_CACHE_MAX_VALUE, a record over its length field, too many. */
static void
t_too_large(void)
{
	static uint8_t big[0x10000];
	struct vfy_tlsa t[2] = { { 3, 1, 1, 0xffff, big }, { 3, 1, 1, 0xffff, big } };
	struct vfy_dns_answer a = { .qtype = VFY_DNS_T_TLSA, .result = VFY_DNS_DATA,
	    .status = VFY_DNS_SECURE, .n_tlsa = 1, .tlsa = t };
	uint8_t *v;
	size_t len;

	t[0].len = VFY_CACHE_MAX_VALUE - 26;	/* 21 + 5 bytes around it: fits exactly */
	v = vfy_cache_encode(&a, 99, &len);
	T_ASSERT(v != NULL && len == VFY_CACHE_MAX_VALUE);
	free(v);
	t[0].len++;
	T_ASSERT(vfy_cache_encode(&a, 99, &len) == NULL);
	t[0].len = 0x10;
	a.n_tlsa = 2;				/* each fits, both do not */
	T_ASSERT(vfy_cache_encode(&a, 99, &len) == NULL);
	a.n_tlsa = 1;
	t[0].len = 0x10000;
	T_ASSERT(vfy_cache_encode(&a, 99, &len) == NULL);
	a.n_tlsa = VFY_CACHE_MAX_RECORDS + 1;
	T_ASSERT(vfy_cache_encode(&a, 99, &len) == NULL);
}

/* Every truncation and a flipped magic are misses, never a crash. */
static void
t_truncations_rejected(void)
{
	struct vfy_dns_answer a;
	struct vfy_srv srv[2];
	struct vfy_tlsa tlsa;
	struct vfy_cache_answer d;
	uint8_t *v;
	size_t len, i;

	sample(&a, srv, &tlsa);
	v = vfy_cache_encode(&a, 99, &len);
	T_ASSERT(v != NULL);
	for (i = 0; i < len; i++)
		if (vfy_cache_decode(v, i, &d) == 0) {
			free(v);
			T_FAIL("truncation to %zu bytes accepted", i);
		}
	v[0] ^= 1;
	T_EQ_INT(vfy_cache_decode(v, len, &d), -1);
	v[0] ^= 1;
	v[6] = VFY_DNS_TEMPFAIL;		/* result byte: never cached */
	T_EQ_INT(vfy_cache_decode(v, len, &d), -1);
	v[6] = VFY_DNS_DATA;
	v[7] = VFY_DNS_BOGUS;			/* status byte: never cached */
	T_EQ_INT(vfy_cache_decode(v, len, &d), -1);
	free(v);
}

/* The Redis seal: unseals to the value under its key; another Redis key,
 * another cache key, any changed byte, a missing or cut trailer fail. */
static void
t_seal(void)
{
	struct vfy_dns_answer a;
	struct vfy_srv srv[2];
	struct vfy_tlsa tlsa;
	uint8_t key[VFY_CACHE_KEY_LEN], key2[VFY_CACHE_KEY_LEN], *v, *s;
	size_t len, slen, vlen, i;
	char id1[17], id2[17];

	for (i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)i;
		key2[i] = (uint8_t)(i + 1);
	}
	sample(&a, srv, &tlsa);
	v = vfy_cache_encode(&a, 1700000000, &len);
	T_ASSERT(v != NULL);
	s = vfy_cache_seal(key, "smtpsec:dns:SRV:a.test", v, len, &slen);
	T_ASSERT(s != NULL);
	T_EQ_INT(slen, len + VFY_CACHE_SEAL_LEN);
	T_ASSERT(memcmp(s, v, len) == 0 && memcmp(s + len, "MAC1", 4) == 0);
	T_ASSERT(vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", s, slen, &vlen) == 0);
	T_EQ_INT(vlen, len);
	T_ASSERT(vfy_cache_unseal(key, "smtpsec:dns:SRV:b.test", s, slen, &vlen) < 0);
	T_ASSERT(vfy_cache_unseal(key2, "smtpsec:dns:SRV:a.test", s, slen, &vlen) < 0);
	T_ASSERT(vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", s, slen - 1, &vlen) < 0);
	T_ASSERT(vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", v, len, &vlen) < 0);
	for (i = 0; i < slen; i++) {
		s[i] ^= 0x80;
		T_ASSERT(vfy_cache_unseal(key, "smtpsec:dns:SRV:a.test", s, slen, &vlen) < 0);
		s[i] ^= 0x80;
	}
	T_ASSERT(vfy_cache_seal(key, "k", v, 10, &slen) == NULL);	/* no expiry in it */
	vfy_cache_key_id(key, id1);
	vfy_cache_key_id(key2, id2);
	T_EQ_INT(strlen(id1), 16);
	T_ASSERT(strcmp(id1, id2) != 0);
	free(s);
	free(v);
}

/* The host's shared cache: a value put by one process is a hit in another
 * (fork, as the gateway's workers); expired and unknown keys miss; under
 * a concurrent writer every hit is a whole value, never a torn one. */
static void
t_shcache(void)
{
	struct vfy_shcache *c = vfy_shcache_new(100);	/* 64 slots */
	uint8_t out[VFY_SHC_VALUE], v[VFY_SHC_VALUE];
	uint64_t exp;
	size_t len, i, hits = 0;
	pid_t p;
	int st;

	T_ASSERT(c != NULL);
	memset(v, 'a', 300);
	vfy_shcache_put(c, "smtpsec:dns:SRV:a.test", v, 300, 2000, 1000);
	T_ASSERT(vfy_shcache_get(c, "smtpsec:dns:SRV:a.test", 1500, out, &len, &exp) == 0);
	T_EQ_INT(len, 300);
	T_EQ_INT(exp, 2000);
	T_ASSERT(vfy_shcache_get(c, "smtpsec:dns:SRV:a.test", 2000, out, &len, &exp) < 0);	/* expired */
	T_ASSERT(vfy_shcache_get(c, "smtpsec:dns:SRV:b.test", 1500, out, &len, &exp) < 0);
	vfy_shcache_put(c, "k", v, VFY_SHC_VALUE + 1, 2000, 1000);	/* too long: not shared */
	T_ASSERT(vfy_shcache_get(c, "k", 1500, out, &len, &exp) < 0);
	p = fork();
	T_ASSERT(p >= 0);
	if (p == 0) {
		/* the child sees the parent's value and leaves one of its own */
		if (vfy_shcache_get(c, "smtpsec:dns:SRV:a.test", 1500, out, &len, &exp) != 0 || len != 300)
			_exit(1);
		memset(v, 'b', 200);
		vfy_shcache_put(c, "smtpsec:dns:TLSA:_25._tcp.mx.a.test", v, 200, 3000, 1000);
		_exit(0);
	}
	T_ASSERT(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_ASSERT(vfy_shcache_get(c, "smtpsec:dns:TLSA:_25._tcp.mx.a.test", 1500, out, &len, &exp) == 0);
	T_ASSERT(len == 200 && out[0] == 'b' && out[199] == 'b');
	/* torn reads: the child rewrites one key with values of varying
	 * length and byte while the parent reads it */
	p = fork();
	T_ASSERT(p >= 0);
	if (p == 0) {
		for (i = 0; i < 200000; i++) {
			uint8_t b = (uint8_t)('A' + i % 26);
			size_t l = 100 + (size_t)(b - 'A') * 20;

			memset(v, b, l);
			vfy_shcache_put(c, "smtpsec:dns:SRV:race.test", v, l, 5000, 1000);
		}
		_exit(0);
	}
	/* read for as long as the writer writes (it may start late: fork),
	 * bounded; then once more with the value at rest */
	for (i = 0; i < 50000000; i++) {
		size_t j;
		int done = (i % 1024) == 0 && waitpid(p, &st, WNOHANG) == p;

		if (done)
			p = -1;
		if (vfy_shcache_get(c, "smtpsec:dns:SRV:race.test", 1500, out, &len, &exp) != 0) {
			if (p < 0)
				break;
			continue;
		}
		hits++;
		T_ASSERT(out[0] >= 'A' && out[0] <= 'Z' && len == 100 + (size_t)(out[0] - 'A') * 20);
		for (j = 1; j < len; j++)
			if (out[j] != out[0])
				break;
		T_EQ_INT(j, len);
		if (j != len || p < 0)
			break;
	}
	if (p > 0)	/* the bound ran out first */
		T_ASSERT(waitpid(p, &st, 0) == p);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_ASSERT(hits > 0);	/* at least the read at rest */
	vfy_shcache_free(&c);
	T_ASSERT(c == NULL);
}

static void
t_lru(void)
{
	struct vfy_lru *l = vfy_lru_new(3);
	size_t len;

	vfy_lru_put(l, "a", (const uint8_t *)"1", 1, 100);
	vfy_lru_put(l, "b", (const uint8_t *)"2", 1, 100);
	vfy_lru_put(l, "c", (const uint8_t *)"3", 1, 100);
	T_ASSERT(vfy_lru_get(l, "a", 50, &len) != NULL);	/* a is now recent */
	vfy_lru_put(l, "d", (const uint8_t *)"4", 1, 100);	/* evicts b */
	T_EQ_INT(vfy_lru_count(l), 3);
	T_ASSERT(vfy_lru_get(l, "b", 50, &len) == NULL);
	T_ASSERT(vfy_lru_get(l, "a", 50, &len) != NULL);
	T_ASSERT(vfy_lru_get(l, "c", 100, &len) == NULL);	/* expired at 100 */
	T_EQ_INT(vfy_lru_count(l), 2);
	vfy_lru_put(l, "a", (const uint8_t *)"xy", 2, 200);	/* replace */
	T_ASSERT(vfy_lru_get(l, "a", 150, &len) != NULL && len == 2);
	vfy_lru_free(&l);
	T_ASSERT(l == NULL);
}

static void
t_wire_names(void)
{
	static const uint8_t ok[] = { 3, 'M', 'x', '1', 1, 'a', 4, 't', 'e', 's', 't', 0 };
	static const uint8_t root[] = { 0 };
	static const uint8_t ptr[] = { 3, 'm', 'x', '1', 0xc0, 12 };
	static const uint8_t over[] = { 5, 'a', 'b' };
	static const uint8_t dot[] = { 3, 'a', '.', 'b', 0 };
	char out[256];

	T_EQ_INT(vfy_dns_name_from_wire(ok, sizeof(ok), out, sizeof(out)), (int)sizeof(ok));
	T_EQ_STR(out, "mx1.a.test");
	T_EQ_INT(vfy_dns_name_from_wire(root, 1, out, sizeof(out)), 1);
	T_EQ_STR(out, ".");
	T_EQ_INT(vfy_dns_name_from_wire(ptr, sizeof(ptr), out, sizeof(out)), -1);
	T_EQ_INT(vfy_dns_name_from_wire(over, sizeof(over), out, sizeof(out)), -1);
	T_EQ_INT(vfy_dns_name_from_wire(dot, sizeof(dot), out, sizeof(out)), -1);
	{
		/* 253 text characters fit; 254 do not (found by fuzz_dns_packet) */
		uint8_t w[300];
		size_t o = 0, k, lens[4] = { 63, 63, 63, 61 };
		int r;

		for (k = 0; k < 4; k++) {
			w[o++] = (uint8_t)lens[k];
			memset(w + o, 'a', lens[k]);
			o += lens[k];
		}
		w[o++] = 0;
		r = vfy_dns_name_from_wire(w, o, out, sizeof(out));
		T_EQ_INT(r, (int)o);
		T_EQ_INT(strlen(out), 253);
		w[64 * 3] = 62;		/* last label one longer: 254 characters */
		memmove(w + 64 * 3 + 63, w + 64 * 3 + 62, 2);
		w[64 * 3 + 62] = 'a';
		T_EQ_INT(vfy_dns_name_from_wire(w, o + 1, out, sizeof(out)), -1);
	}
}

static void
t_negative_ttl(void)
{
	/* header: 1 question, 0 answers, 1 authority; q: a.test SRV IN;
	 * SOA with TTL 300 and MINIMUM 60, names compressed */
	static const uint8_t pkt[] = {
		0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 33, 0, 1,
		0xc0, 14, 0, 6, 0, 1, 0, 0, 1, 44, 0, 27,
		2, 'n', 's', 0xc0, 14, 0xc0, 14,
		0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 2, 0x58, 0, 1, 0x51, 0x80, 0, 0, 0, 60,
	};
	uint8_t bad[sizeof(pkt)];
	size_t i;

	T_EQ_INT(vfy_dns_packet_negative_ttl(pkt, sizeof(pkt)), 60);
	for (i = 0; i < sizeof(pkt); i++)
		if (vfy_dns_packet_negative_ttl(pkt, i) != -1)
			T_FAIL("truncated packet of %zu bytes parsed", i);
	memcpy(bad, pkt, sizeof(pkt));
	bad[24] = 0xc0;
	bad[25] = 24;		/* a pointer to itself: no loop, just a name end */
	(void)vfy_dns_packet_negative_ttl(bad, sizeof(bad));
}

static unsigned
rnd_zero(unsigned n)
{
	(void)n;
	return 0;
}

static unsigned
rnd_max(unsigned n)
{
	return n - 1;
}

static void
t_srv_order(void)
{
	struct vfy_srv s[4];

	memset(s, 0, sizeof(s));
	s[0].priority = 20; strcpy(s[0].target, "c");
	s[1].priority = 10; s[1].weight = 10; strcpy(s[1].target, "a");
	s[2].priority = 10; s[2].weight = 90; strcpy(s[2].target, "b");
	s[3].priority = 5; s[3].weight = 0; strcpy(s[3].target, "z");
	vfy_dns_srv_order(s, 4, rnd_zero);
	T_EQ_STR(s[0].target, "z");
	T_EQ_STR(s[1].target, "a");	/* r = 0 picks the first running sum */
	T_EQ_STR(s[3].target, "c");
	vfy_dns_srv_order(s, 4, rnd_max);
	T_EQ_STR(s[0].target, "z");
	T_EQ_STR(s[1].target, "b");	/* r = sum picks the heaviest tail */
	T_EQ_STR(s[2].target, "a");
	T_EQ_STR(s[3].target, "c");
}

/* --- the chain verdict cache --------------------------------------------- */

/* The LRU as the verdict cache uses it: fixed-size values under keys. */
static const char *
key_of(unsigned k)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "k%u", k);
	return buf;
}

static void
put_u(struct vfy_lru *l, unsigned k, unsigned v, uint64_t exp)
{
	vfy_lru_put(l, key_of(k), (const uint8_t *)&v, sizeof(v), exp);
}

/* The value under key k at now, or -1 when absent. */
static long
get_u(struct vfy_lru *l, unsigned k, uint64_t now)
{
	const uint8_t *p;
	size_t len = 0;
	unsigned v;

	p = vfy_lru_get(l, key_of(k), now, &len);
	if (p == NULL || len != sizeof(v))
		return -1;
	memcpy(&v, p, sizeof(v));
	return (long)v;
}

/* At capacity the least recently used entry goes; a lookup or a
 * replacement makes an entry recent; a replacement never evicts; clear
 * empties it. */
static void
t_lru_eviction(void)
{
	struct vfy_lru *l = vfy_lru_new(4);
	unsigned k;

	for (k = 0; k < 4; k++)
		put_u(l, k, k, 1000);
	T_EQ_INT(vfy_lru_count(l), 4);
	T_EQ_INT(get_u(l, 0, 10), 0);		/* 0 recent: 1 is oldest */
	put_u(l, 2, 22, 1000);			/* 2 recent, nothing evicted */
	T_EQ_INT(vfy_lru_count(l), 4);
	put_u(l, 4, 4, 1000);			/* evicts 1 */
	T_EQ_INT(vfy_lru_count(l), 4);
	T_EQ_INT(get_u(l, 1, 10), -1);
	put_u(l, 5, 4, 1000);			/* evicts 3 */
	T_EQ_INT(get_u(l, 3, 10), -1);
	for (k = 0; k < 6; k++)
		if (k != 1 && k != 3)
			T_EQ_INT(get_u(l, k, 10), k == 2 ? 22 : (long)(k == 5 ? 4 : k));
	/* an expired entry frees its place: no eviction for the next one */
	put_u(l, 0, 0, 20);
	T_EQ_INT(get_u(l, 0, 20), -1);
	T_EQ_INT(vfy_lru_count(l), 3);
	put_u(l, 6, 0, 1000);
	T_EQ_INT(vfy_lru_count(l), 4);
	for (k = 2; k < 7; k++)
		if (k != 3)
			T_ASSERT(get_u(l, k, 10) >= 0);
	vfy_lru_clear(l);
	T_EQ_INT(vfy_lru_count(l), 0);
	T_EQ_INT(get_u(l, 2, 10), -1);
	vfy_lru_free(&l);
}

/* As many keys as buckets: many share a bucket (a random hash leaves
 * about 37% of the buckets empty).  Each is found, and each dropped
 * (expiry, eviction, replacement) without losing the others. */
static void
t_lru_chains(void)
{
	enum { N = 4096 };
	struct vfy_lru *l = vfy_lru_new(N);
	unsigned k;
	int bad = 0;

	for (k = 0; k < N; k++)
		put_u(l, k, k, k % 3 == 1 ? 50 : 1000);
	for (k = 0; k < N && !bad; k++)
		bad = get_u(l, k, 10) != (long)k;
	T_EQ_INT(bad, 0);
	/* every third expires: the rest stay */
	for (k = 0; k < N && !bad; k++)
		bad = get_u(l, k, 60) != (k % 3 == 1 ? -1 : (long)k);
	T_EQ_INT(bad, 0);
	T_EQ_INT(vfy_lru_count(l), N - N / 3);
	/* replace every fifth in place */
	for (k = 0; k < N; k += 5)
		if (k % 3 != 1)
			put_u(l, k, k + 1, 1000);
	T_EQ_INT(vfy_lru_count(l), N - N / 3);
	/* ten more keys than places: the ten least recent go (read in order,
	 * the replaced ones made recent since) */
	for (k = N; k < N + N / 3 + 10; k++)
		put_u(l, k, k, 1000);
	T_EQ_INT(vfy_lru_count(l), N);
	for (k = 0; k < N + N / 3 + 10 && !bad; k++) {
		static const unsigned gone[] = { 2, 3, 6, 8, 9, 11, 12, 14, 17, 18 };
		long want = k % 5 == 0 && k < N ? (long)k + 1 : (long)k;

		for (size_t j = 0; j < sizeof(gone) / sizeof(gone[0]); j++)
			if (k == gone[j] || (k < N && k % 3 == 1))
				want = -1;
		if (get_u(l, k, 60) != want) {
			T_FAIL("key %u: %ld, want %ld", k, get_u(l, k, 60), want);
			bad = 1;
		}
	}
	vfy_lru_free(&l);
}

/* Against a linear scan (stamps for recency, the first free slot, else
 * the oldest stamp): the same answers over a random run with few keys, a
 * small table and moving time. */
struct ref_ent {
	int used;
	unsigned key, val;
	uint64_t exp;
	uint64_t stamp;
};

static void
t_lru_model(void)
{
	enum { CAP = 6, KEYS = 20, OPS = 50000 };
	struct vfy_lru *l = vfy_lru_new(CAP);
	struct ref_ent ref[CAP];
	uint64_t clock = 0, seed = 12345, now = 1000;
	int op, bad = 0;

	memset(ref, 0, sizeof(ref));
	for (op = 0; op < OPS && !bad; op++) {
		unsigned key, r, i;
		int found = -1;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = (unsigned)(seed >> 33);
		key = r % KEYS;
		now += (r >> 8) % 3;
		for (i = 0; i < CAP; i++)
			if (ref[i].used && ref[i].key == key)
				found = (int)i;
		if ((r >> 12) % 2 == 0) {
			/* get */
			long want = -1, got;

			if (found >= 0 && now >= ref[found].exp)
				ref[found].used = 0;
			else if (found >= 0) {
				ref[found].stamp = ++clock;
				want = ref[found].val;
			}
			got = get_u(l, key, now);
			if (got != want) {
				T_FAIL("op %d get key %u: cache %ld, model %ld", op, key, got, want);
				bad = 1;
			}
		} else {
			/* put */
			uint64_t e = now + 1 + (r >> 16) % 20;
			int slot = found;

			for (i = 0; slot < 0 && i < CAP; i++)
				if (!ref[i].used)
					slot = (int)i;
			if (slot < 0) {		/* full: the oldest stamp */
				slot = 0;
				for (i = 1; i < CAP; i++)
					if (ref[i].stamp < ref[slot].stamp)
						slot = (int)i;
			}
			ref[slot].used = 1;
			ref[slot].key = key;
			ref[slot].val = r & 0x7fffffff;
			ref[slot].exp = e;
			ref[slot].stamp = ++clock;
			put_u(l, key, r & 0x7fffffff, e);
		}
		{
			size_t n = 0;

			for (i = 0; i < CAP; i++)
				n += ref[i].used;
			if (n != vfy_lru_count(l)) {
				T_FAIL("op %d: count %zu, model %zu", op, vfy_lru_count(l), n);
				bad = 1;
			}
		}
	}
	T_EQ_INT(bad, 0);
	vfy_lru_free(&l);
}

int
main(void)
{
	T_RUN(t_roundtrip);
	T_RUN(t_too_large);
	T_RUN(t_truncations_rejected);
	T_RUN(t_seal);
	T_RUN(t_shcache);
	T_RUN(t_lru);
	T_RUN(t_lru_eviction);
	T_RUN(t_lru_chains);
	T_RUN(t_lru_model);
	T_RUN(t_wire_names);
	T_RUN(t_negative_ttl);
	T_RUN(t_srv_order);
	return T_END();
}
