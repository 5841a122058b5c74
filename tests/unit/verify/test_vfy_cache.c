/* Unit tests for verify/vfy_cache.c (value codec, LRU, verdict cache) and the wire
 * helpers of verify/vfy_dns.c (names, negative TTL, RFC 2782 order). */
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/t.h"
#include "verify/vfy_cache.h"
#include "verify/vfy_dns.h"

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

static void
fp_of(uint8_t fp[32], unsigned k)
{
	memset(fp, 0, 32);
	fp[0] = (uint8_t)k;
	fp[1] = (uint8_t)(k >> 8);
	fp[31] = 0xa5;		/* beyond the 8 bytes hashed: must still be compared */
}

static void
t_vcache_basic(void)
{
	struct vfy_vcache *c = vfy_vcache_new(4, sizeof(int));
	uint8_t fp[32], fp2[32];
	char longf[VFY_VCACHE_F_MAX + 1];
	time_t exp = 0;
	int v = 7, *got;

	fp_of(fp, 1);
	T_ASSERT(vfy_vcache_get(c, fp, "a.test", 100, &exp) == NULL);
	vfy_vcache_put(c, fp, "a.test", &v, 200);
	got = vfy_vcache_get(c, fp, "a.test", 100, &exp);
	T_ASSERT(got != NULL);
	T_EQ_INT(*got, 7);
	T_EQ_INT(exp, 200);
	/* the key is the pair: another F, or a fingerprint differing past
	 * the hashed bytes, is another entry */
	T_ASSERT(vfy_vcache_get(c, fp, "b.test", 100, &exp) == NULL);
	memcpy(fp2, fp, 32);
	fp2[31] ^= 1;
	T_ASSERT(vfy_vcache_get(c, fp2, "a.test", 100, &exp) == NULL);
	/* replaced in place */
	v = 8;
	vfy_vcache_put(c, fp, "a.test", &v, 300);
	T_EQ_INT(vfy_vcache_count(c), 1);
	got = vfy_vcache_get(c, fp, "a.test", 299, &exp);
	T_ASSERT(got != NULL && *got == 8 && exp == 300);
	/* expired at its expiry second, and dropped */
	T_ASSERT(vfy_vcache_get(c, fp, "a.test", 300, &exp) == NULL);
	T_EQ_INT(vfy_vcache_count(c), 0);
	/* an F too long for an entry is never stored */
	memset(longf, 'x', VFY_VCACHE_F_MAX);
	longf[VFY_VCACHE_F_MAX] = '\0';
	vfy_vcache_put(c, fp, longf, &v, 300);
	T_EQ_INT(vfy_vcache_count(c), 0);
	T_ASSERT(vfy_vcache_get(c, fp, longf, 100, &exp) == NULL);
	vfy_vcache_put(c, fp, "a.test", &v, 300);
	vfy_vcache_clear(c);
	T_EQ_INT(vfy_vcache_count(c), 0);
	T_ASSERT(vfy_vcache_get(c, fp, "a.test", 100, &exp) == NULL);
	vfy_vcache_free(&c);
	T_ASSERT(c == NULL);
}

/* At capacity the least recently used entry goes; a lookup or a
 * replacement makes an entry recent; a replacement never evicts. */
static void
t_vcache_eviction(void)
{
	struct vfy_vcache *c = vfy_vcache_new(4, sizeof(int));
	uint8_t fp[32];
	time_t exp;
	unsigned k;
	int v;

	for (k = 0; k < 4; k++) {
		fp_of(fp, k);
		v = (int)k;
		vfy_vcache_put(c, fp, "f.test", &v, 1000);
	}
	T_EQ_INT(vfy_vcache_count(c), 4);
	fp_of(fp, 0);
	T_ASSERT(vfy_vcache_get(c, fp, "f.test", 10, &exp) != NULL);	/* 0 recent: 1 is oldest */
	fp_of(fp, 2);
	v = 22;
	vfy_vcache_put(c, fp, "f.test", &v, 1000);			/* 2 recent, nothing evicted */
	T_EQ_INT(vfy_vcache_count(c), 4);
	fp_of(fp, 4);
	v = 4;
	vfy_vcache_put(c, fp, "f.test", &v, 1000);			/* evicts 1 */
	T_EQ_INT(vfy_vcache_count(c), 4);
	fp_of(fp, 1);
	T_ASSERT(vfy_vcache_get(c, fp, "f.test", 10, &exp) == NULL);
	fp_of(fp, 5);
	vfy_vcache_put(c, fp, "f.test", &v, 1000);			/* evicts 3 */
	fp_of(fp, 3);
	T_ASSERT(vfy_vcache_get(c, fp, "f.test", 10, &exp) == NULL);
	for (k = 0; k < 6; k++) {
		int *got;

		if (k == 1 || k == 3)
			continue;
		fp_of(fp, k);
		got = vfy_vcache_get(c, fp, "f.test", 10, &exp);
		T_ASSERT(got != NULL);
		T_EQ_INT(*got, k == 2 ? 22 : (int)(k == 5 ? 4 : k));
	}
	/* an expired entry frees its place: no eviction for the next one */
	fp_of(fp, 0);
	v = 0;
	vfy_vcache_put(c, fp, "f.test", &v, 20);
	T_ASSERT(vfy_vcache_get(c, fp, "f.test", 20, &exp) == NULL);
	T_EQ_INT(vfy_vcache_count(c), 3);
	fp_of(fp, 6);
	vfy_vcache_put(c, fp, "f.test", &v, 1000);
	T_EQ_INT(vfy_vcache_count(c), 4);
	for (k = 2; k < 7; k++) {
		fp_of(fp, k);
		if (k != 3)
			T_ASSERT(vfy_vcache_get(c, fp, "f.test", 10, &exp) != NULL);
	}
	vfy_vcache_free(&c);
}

/* Keys sharing a bucket: each found, each dropped (expiry, eviction,
 * replacement) without losing the others on its chain. */
static void
t_vcache_collisions(void)
{
	struct vfy_vcache *c = vfy_vcache_new(8, sizeof(unsigned));
	unsigned same[5], n = 0, k, j;
	uint8_t fp[32];
	size_t b0;
	time_t exp;

	fp_of(fp, 0);
	b0 = vfy_vcache_bucket(c, fp, "c.test");
	same[n++] = 0;
	for (k = 1; k < 100000 && n < 5; k++) {
		fp_of(fp, k);
		if (vfy_vcache_bucket(c, fp, "c.test") == b0)
			same[n++] = k;
	}
	T_EQ_INT(n, 5);
	T_ASSERT(vfy_vcache_buckets(c) >= 8);
	for (j = 0; j < 5; j++) {
		fp_of(fp, same[j]);
		vfy_vcache_put(c, fp, "c.test", &same[j], j == 2 ? 50 : 1000);
	}
	for (j = 0; j < 5; j++) {
		unsigned *got;

		fp_of(fp, same[j]);
		got = vfy_vcache_get(c, fp, "c.test", 10, &exp);
		T_ASSERT(got != NULL);
		T_EQ_INT(*got, same[j]);
	}
	/* the middle of the chain expires: the rest stay */
	fp_of(fp, same[2]);
	T_ASSERT(vfy_vcache_get(c, fp, "c.test", 60, &exp) == NULL);
	for (j = 0; j < 5; j++) {
		fp_of(fp, same[j]);
		T_EQ_INT(vfy_vcache_get(c, fp, "c.test", 60, &exp) != NULL, j != 2);
	}
	/* fill up with other keys: the colliding ones go in recency order
	 * (same[0] first: all were read in order 0, 1, 3, 4) */
	for (k = 0; k < 4; k++) {
		unsigned x = 200000 + k;

		fp_of(fp, x);
		vfy_vcache_put(c, fp, "other.test", &x, 1000);
	}
	T_EQ_INT(vfy_vcache_count(c), 8);
	fp_of(fp, 300000);
	vfy_vcache_put(c, fp, "other.test", &k, 1000);		/* evicts same[0] */
	fp_of(fp, same[0]);
	T_ASSERT(vfy_vcache_get(c, fp, "c.test", 60, &exp) == NULL);
	for (j = 1; j < 5; j++) {
		fp_of(fp, same[j]);
		T_EQ_INT(vfy_vcache_get(c, fp, "c.test", 60, &exp) != NULL, j != 2);
	}
	vfy_vcache_free(&c);
}

/* Against the linear scan it replaced (stamps for recency, the first free
 * slot, else the oldest stamp): the same answers over a random run with
 * few keys, a small table and moving time. */
struct ref_ent {
	int used;
	unsigned key, val;
	time_t exp;
	uint64_t stamp;
};

static void
t_vcache_model(void)
{
	enum { CAP = 6, KEYS = 20, OPS = 50000 };
	struct vfy_vcache *c = vfy_vcache_new(CAP, sizeof(unsigned));
	struct ref_ent ref[CAP];
	uint64_t clock = 0, seed = 12345;
	static const char *fs[4] = { "a.test", "b.test", "c.test", "d.test" };
	time_t now = 1000;
	int op, bad = 0;

	memset(ref, 0, sizeof(ref));
	for (op = 0; op < OPS && !bad; op++) {
		unsigned key, r, i, *got;
		uint8_t fp[32];
		time_t exp = 0;
		int found = -1;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = (unsigned)(seed >> 33);
		key = r % KEYS;
		fp_of(fp, key / 4);
		now += (r >> 8) % 3;
		for (i = 0; i < CAP; i++)
			if (ref[i].used && ref[i].key == key)
				found = (int)i;
		if ((r >> 12) % 2 == 0) {
			/* get */
			unsigned want = 0;
			int hit = 0;

			if (found >= 0 && now >= ref[found].exp)
				ref[found].used = 0;
			else if (found >= 0) {
				ref[found].stamp = ++clock;
				want = ref[found].val;
				hit = 1;
			}
			got = vfy_vcache_get(c, fp, fs[key % 4], now, &exp);
			if ((got != NULL) != hit || (hit && (*got != want || exp != ref[found].exp))) {
				T_FAIL("op %d get key %u: cache %s, model %s", op, key, got ? "hit" : "miss",
				    hit ? "hit" : "miss");
				bad = 1;
			}
		} else {
			/* put */
			unsigned val = r;
			time_t e = now + 1 + (time_t)((r >> 16) % 20);
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
			ref[slot].val = val;
			ref[slot].exp = e;
			ref[slot].stamp = ++clock;
			vfy_vcache_put(c, fp, fs[key % 4], &val, e);
		}
		{
			size_t n = 0;

			for (i = 0; i < CAP; i++)
				n += ref[i].used;
			if (n != vfy_vcache_count(c)) {
				T_FAIL("op %d: count %zu, model %zu", op, vfy_vcache_count(c), n);
				bad = 1;
			}
		}
	}
	T_EQ_INT(bad, 0);
	vfy_vcache_free(&c);
}

int
main(void)
{
	T_RUN(t_roundtrip);
	T_RUN(t_truncations_rejected);
	T_RUN(t_seal);
	T_RUN(t_shcache);
	T_RUN(t_lru);
	T_RUN(t_vcache_basic);
	T_RUN(t_vcache_eviction);
	T_RUN(t_vcache_collisions);
	T_RUN(t_vcache_model);
	T_RUN(t_wire_names);
	T_RUN(t_negative_ttl);
	T_RUN(t_srv_order);
	return T_END();
}
