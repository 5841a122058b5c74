/* buf: see buf.h. */
#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"

/* Room for `more` bytes (and a NUL) after len. */
static void
buf_reserve(struct buf *b, size_t more)
{
	size_t cap;

	if (b->cap > b->len && b->cap - b->len > more)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= more) {
		if (cap > SIZE_MAX / 2)
			abort();	/* no caller can get here: sizes are capped */
		cap *= 2;
	}
	b->p = mem_realloc(b->p, cap);
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

uint8_t *
buf_steal(struct buf *b, size_t *len_r)
{
	uint8_t *p;

	buf_reserve(b, 0);
	b->p[b->len] = '\0';
	p = b->p;
	*len_r = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
buf_read_fd(struct buf *b, int fd, size_t max)
{
	size_t start = b->len;

	for (;;) {
		ssize_t r;

		if (b->len - start > max)
			return 1;
		buf_reserve(b, 65536);
		r = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return b->len - start > max ? 1 : 0;
		b->len += (size_t)r;
	}
}

uint8_t *
buf_read_file(const char *path, size_t max, size_t *len_r)
{
	struct buf b = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc, e;

	if (fd < 0)
		return NULL;
	rc = buf_read_fd(&b, fd, max);
	e = errno;
	close(fd);
	if (rc != 0) {
		buf_free(&b);
		errno = rc > 0 ? EFBIG : e;
		return NULL;
	}
	return buf_steal(&b, len_r);
}
