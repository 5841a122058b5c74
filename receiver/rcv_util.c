/* rcv_util: see rcv_util.h. */
#include "receiver/rcv_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void
rcv_oom(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof(msg), "smtpsec-gateway: out of memory (%zu bytes)\n", n);

	if (len > 0 && write(2, msg, (size_t)len) < 0)
		abort();
	abort();
}

void *
rcv_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		rcv_oom(n);
	return p;
}

void *
rcv_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		rcv_oom(n * size);
	return p;
}

void *
rcv_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		rcv_oom(n);
	return q;
}

char *
rcv_xstrdup(const char *s)
{
	return rcv_xmemdup0(s, strlen(s));
}

char *
rcv_xmemdup0(const void *p, size_t len)
{
	char *s;

	if (len == SIZE_MAX)
		rcv_oom(len);
	s = rcv_xmalloc(len + 1);
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

uint64_t
rcv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint32_t
rcv_random32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	return (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
}

/*
 * 64 bits from the kernel's CSPRNG: connection ids (and the Received id)
 * must not collide across a fleet; 32 bits collide after ~77,000 connections
 * with probability one half.  The fallback (no entropy yet at early boot)
 * mixes the clock, the pid and a counter.
 */
unsigned long long
rcv_random64(void)
{
	static unsigned long long ctr;
	unsigned long long v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	v = ((unsigned long long)ts.tv_sec << 32) ^ (unsigned long long)ts.tv_nsec ^
	    ((unsigned long long)getpid() << 20) ^ (++ctr * 0x9e3779b97f4a7c15ull);
	return v;
}

int
rcv_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}
