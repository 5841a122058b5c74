/* tutil: see tutil.h. */
#include "tests/lib/tutil.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/hex.h"

const char *
tutil_shared(const char *rel)
{
	static char path[4096];
	const char *base = getenv("SHARED");

	if (base == NULL || *base == '\0')
		base = "../shared";
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return path;
}

uint8_t *
tutil_read_file(const char *path, size_t *len_r)
{
	return buf_read_file(path, SIZE_MAX / 2, len_r);
}

uint8_t *
tutil_hex(const char *hex, size_t *len_r)
{
	return hex_decode(hex, 0, len_r);
}

char *
tutil_tohex(const uint8_t *buf, size_t len)
{
	static const char d[] = "0123456789abcdef";
	char *s = malloc(2 * len + 1);
	size_t i;

	if (s == NULL)
		abort();
	for (i = 0; i < len; i++) {
		s[2 * i] = d[buf[i] >> 4];
		s[2 * i + 1] = d[buf[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}

int
tutil_tls_group(const char *name)
{
	if (strcmp(name, "p256") == 0)
		return WOLFSSL_ECC_SECP256R1;
	if (strcmp(name, "x25519") == 0)
		return WOLFSSL_ECC_X25519;
	return -1;
}

double
tutil_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
