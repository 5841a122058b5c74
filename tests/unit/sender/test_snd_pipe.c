/*
 * smtpsec-send's pieces without a network: the pipe mode's CRLF
 * conversion, recipient domains and --keys lookup, and the RFC 2782 draw
 * (snd_random_below through vfy_dns_srv_order) checked statistically over
 * a bounded number of draws, each share within 5 standard deviations of
 * its binomial mean.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sender/snd.h"
#include "tests/unit/t.h"
#include "verify/vfy.h"

static int
crlf_is(const char *in, const char *want)
{
	size_t n;
	uint8_t *o = snd_pipe_crlf((const uint8_t *)in, strlen(in), &n);
	int ok = n == strlen(want) && memcmp(o, want, n) == 0;

	free(o);
	return ok;
}

static void
t_crlf(void)
{
	T_ASSERT(crlf_is("", ""));
	T_ASSERT(crlf_is("\n", "\r\n"));
	T_ASSERT(crlf_is("a\nb\n", "a\r\nb\r\n"));
	T_ASSERT(crlf_is("a\r\nb\r\n", "a\r\nb\r\n"));
	T_ASSERT(crlf_is("a\r\nb", "a\r\nb\r\n"));
	T_ASSERT(crlf_is("a\nb", "a\r\nb\r\n"));
	T_ASSERT(crlf_is("a\rb\n", "a\rb\r\n"));		/* a lone CR stays */
	T_ASSERT(crlf_is("a\r\r\n", "a\r\r\n"));
	T_ASSERT(crlf_is("\n\n", "\r\n\r\n"));
	T_ASSERT(crlf_is("x\r", "x\r\r\n"));
}

static void
t_rcpt_domain(void)
{
	static const struct { const char *addr, *want; } ok[] = {
		{ "bob@b.test", "b.test" },
		{ "Bob@B.Test", "b.test" },
		{ "bob@b.test.", "b.test" },
		{ "\"a@b\"@c.test", "c.test" },
		{ "bob@b\xc3\xbc" "cher.test", "xn--bcher-kva.test" },
	};
	static const char *bad[] = { "bob", "@b.test", "bob@", "bob@.", "bo\x01" "b@b.test",
	    "bob@b\x7f.test" };
	char d[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (snd_pipe_rcpt_domain(ok[i].addr, d, sizeof(d)) != 0)
			T_FAIL("%s refused", ok[i].addr);
		T_EQ_STR(d, ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (snd_pipe_rcpt_domain(bad[i], d, sizeof(d)) == 0)
			T_FAIL("bad address %zu accepted as %s", i, d);
}

static void
t_keys_find(void)
{
	char path[] = "/tmp/test_snd_keys.XXXXXX", key[256], chain[256], err[256];
	int fd = mkstemp(path);
	FILE *f;

	T_ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# comment line\n\n  a.test  /k/a.key /k/a.chain   # trailing comment\n"
	    "B.Test. /k/b.key /k/b.chain\na.test /k/second /k/second\n", f);
	fclose(f);
	T_EQ_INT(snd_pipe_keys_find(path, "a.test", key, chain, sizeof(key), err, sizeof(err)), 0);
	T_EQ_STR(key, "/k/a.key");		/* the first line for a domain wins */
	T_EQ_STR(chain, "/k/a.chain");
	T_EQ_INT(snd_pipe_keys_find(path, "b.test", key, chain, sizeof(key), err, sizeof(err)), 0);
	T_EQ_STR(key, "/k/b.key");
	T_EQ_INT(snd_pipe_keys_find(path, "c.test", key, chain, sizeof(key), err, sizeof(err)), 1);
	f = fopen(path, "a");
	fputs("d.test /k/only-two\n", f);
	fclose(f);
	T_EQ_INT(snd_pipe_keys_find(path, "a.test", key, chain, sizeof(key), err, sizeof(err)), -1);
	T_ASSERT(strstr(err, ":6: want DOMAIN KEY.pem CHAIN.pem") != NULL);
	unlink(path);
	T_EQ_INT(snd_pipe_keys_find(path, "a.test", key, chain, sizeof(key), err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "cannot read --keys") != NULL);
}

/* count within 5 sd of n * p */
static int
within(unsigned long count, unsigned long n, double p)
{
	double m = (double)n * p, sd = sqrt((double)n * p * (1 - p));

	return (double)count >= m - 5 * sd && (double)count <= m + 5 * sd;
}

static void
t_random_below(void)
{
	unsigned long c[3] = { 0, 0, 0 }, i, hi = 0;

	T_EQ_INT(snd_random_below(0), 0);
	T_EQ_INT(snd_random_below(1), 0);
	for (i = 0; i < 60000; i++)
		c[snd_random_below(3)]++;
	for (i = 0; i < 3; i++)
		if (!within(c[i], 60000, 1.0 / 3))
			T_FAIL("value %lu drawn %lu times of 60000", i, c[i]);
	/* a bound just over 2^31: the top half must come up */
	for (i = 0; i < 64; i++) {
		unsigned v = snd_random_below(0x80000001u);

		if (v > 0x80000000u)
			T_FAIL("%u out of range", v);
		hi += v >= 0x40000000u;
	}
	T_ASSERT(hi > 0 && hi < 64);
}

/* share of orders that put t1 first, for weights w1/w2 at one priority */
static unsigned long
firsts(uint16_t w1, uint16_t w2, unsigned long n)
{
	unsigned long i, k = 0;

	for (i = 0; i < n; i++) {
		struct vfy_srv s[2];

		memset(s, 0, sizeof(s));
		s[0].priority = s[1].priority = 10;
		s[0].weight = w1;
		s[1].weight = w2;
		snprintf(s[0].target, sizeof(s[0].target), "t1");
		snprintf(s[1].target, sizeof(s[1].target), "t2");
		vfy_dns_srv_order(s, 2, snd_random_below);
		k += strcmp(s[0].target, "t1") == 0;
	}
	return k;
}

static void
t_srv_weights(void)
{
	static const uint16_t w[][2] = { { 75, 25 }, { 50, 50 }, { 30, 70 }, { 1, 0 }, { 100, 1 } };
	const unsigned long n = 20000;
	size_t i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		double s = (double)w[i][0] + w[i][1] + 1;
		/* weight 0 is sorted first: t1 (if weighted) is then listed second */
		double p = w[i][1] == 0 ? w[i][0] / s : (w[i][0] + 1) / s;
		unsigned long k = firsts(w[i][0], w[i][1], n);

		if (!within(k, n, p))
			T_FAIL("weights %u/%u: t1 first %lu of %lu, expected %.0f", w[i][0], w[i][1], k,
			    n, n * p);
	}
}

static void
t_srv_priorities(void)
{
	unsigned long i;

	for (i = 0; i < 1000; i++) {
		struct vfy_srv s[3];

		memset(s, 0, sizeof(s));
		s[0].priority = 20;
		s[0].weight = 100;
		snprintf(s[0].target, sizeof(s[0].target), "late");
		s[1].priority = 10;
		s[1].weight = 0;
		snprintf(s[1].target, sizeof(s[1].target), "first");
		s[2].priority = 30;
		s[2].weight = 5;
		snprintf(s[2].target, sizeof(s[2].target), "last");
		vfy_dns_srv_order(s, 3, snd_random_below);
		T_EQ_STR(s[0].target, "first");
		T_EQ_STR(s[1].target, "late");
		T_EQ_STR(s[2].target, "last");
	}
}

int
main(void)
{
	T_RUN(t_crlf);
	T_RUN(t_rcpt_domain);
	T_RUN(t_keys_find);
	T_RUN(t_random_below);
	T_RUN(t_srv_weights);
	T_RUN(t_srv_priorities);
	return T_END();
}
