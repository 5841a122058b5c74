/* rcv_util: allocation wrappers (allocation failure aborts here, in one
 * place: STYLE.md) and small helpers for the receiver. */
#ifndef RCV_UTIL_H
#define RCV_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *rcv_xmalloc(size_t n);
void *rcv_xcalloc(size_t n, size_t size);
void *rcv_xrealloc(void *p, size_t n);
char *rcv_xstrdup(const char *s);
/* Copy len bytes and add a NUL. */
char *rcv_xmemdup0(const void *p, size_t len);

/* Monotonic milliseconds. */
uint64_t rcv_now_ms(void);

/* Random 32 bits (getrandom, falls back to time ^ pid). */
uint32_t rcv_random32(void);
unsigned long long rcv_random64(void);

int rcv_set_nonblock(int fd);

#endif
