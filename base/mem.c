/* mem: see mem.h.  The only place where allocation failure aborts. */
#include "base/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mem_oom(size_t n) __attribute__((noreturn));
static void
mem_oom(size_t n)
{
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "out of memory (%zu bytes)\n", n);

	if (len > 0 && write(2, msg, (size_t)len) < 0)
		abort();
	abort();
}

void *
mem_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		mem_oom(n);
	return p;
}

void *
mem_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mem_oom(n * size);
	return p;
}

void *
mem_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		mem_oom(n);
	return q;
}

void *
mem_dup(const void *p, size_t n)
{
	void *q = mem_alloc(n);

	if (n)
		memcpy(q, p, n);
	return q;
}

char *
mem_dup0(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX)
		mem_oom(n);
	s = mem_alloc(n + 1);
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *
mem_strdup(const char *s)
{
	return mem_dup0(s, strlen(s));
}

char *
mem_strdup_opt(const char *s)
{
	return s == NULL || *s == '\0' ? NULL : mem_strdup(s);
}

void *
mem_grow(void *arr, size_t *cap, size_t i, size_t elem)
{
	size_t c = *cap;

	if (i < c)
		return arr;
	c = c ? c * 2 : 8;
	while (c <= i)
		c *= 2;
	if (c > SIZE_MAX / elem)
		mem_oom(SIZE_MAX);
	*cap = c;
	return mem_realloc(arr, c * elem);
}
