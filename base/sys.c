/* sys: see sys.h. */
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t
sys_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
sys_now_ms(void)
{
	return sys_now_us() / 1000u;
}

uint32_t
sys_random32(void)
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
sys_random64(void)
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
sys_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

int
sys_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}
