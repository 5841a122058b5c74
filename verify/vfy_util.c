/* vfy_util: the one place in verify/ where allocation failure aborts. */
#include "verify/vfy_util.h"

#include <stdlib.h>
#include <string.h>

void *
vfy_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
vfy_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

char *
vfy_xstrdup(const char *s)
{
	return vfy_xmemdup(s, strlen(s) + 1);
}

void *
vfy_xmemdup(const void *p, size_t n)
{
	void *q = vfy_xmalloc(n);

	if (n)
		memcpy(q, p, n);
	return q;
}

char *
vfy_xstrdup_opt(const char *s)
{
	return s == NULL || *s == '\0' ? NULL : vfy_xstrdup(s);
}

int
vfy_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
