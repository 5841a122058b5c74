/*
 * buf: the one growable byte buffer (OpenSMTPD iobuf, Dovecot buffer_t):
 * encoders append whole frames to it, connections queue output in it, the
 * delivery copy builds its headers in it, programs read files into it.
 * Growth aborts on allocation failure (base/mem.h); callers that take sizes
 * from a peer cap them before they append.
 *
 * A zeroed struct buf is an empty buffer.  The byte after the last one is
 * always room for a NUL (buf_steal writes it), so text built here is a C
 * string.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;		/* owned */
	size_t len, cap;
};

void buf_add(struct buf *b, const void *p, size_t n);
/* Formatted text; aborts only on allocation failure. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Hand the bytes (NUL-terminated) to the caller; b is empty after. */
uint8_t *buf_steal(struct buf *b, size_t *len_r);
void buf_free(struct buf *b);

/*
 * Append everything readable from fd until end of file, at most max bytes.
 * Returns 0; 1 when there was more than max (b holds more than max bytes,
 * the rest is unread); -1 on a read error (errno set).
 */
int buf_read_fd(struct buf *b, int fd, size_t max);
/* A whole file, NUL-terminated (the NUL not counted in *len_r): NULL with
 * errno set when it cannot be read, EFBIG when it is larger than max. */
uint8_t *buf_read_file(const char *path, size_t max, size_t *len_r);

#endif
