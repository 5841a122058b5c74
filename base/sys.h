/* sys: clock, randomness and descriptor helpers shared by the gateway and
 * smtpsec-send (base layer, no project includes). */
#ifndef SYS_H
#define SYS_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic microseconds, milliseconds. */
uint64_t sys_now_us(void);
uint64_t sys_now_ms(void);

/* Random 32 / 64 bits from the kernel's CSPRNG (see sys.c for the
 * fallback before the pool is ready). */
uint32_t sys_random32(void);
unsigned long long sys_random64(void);

/* O_NONBLOCK on fd: 0 or -1. */
int sys_set_nonblock(int fd);

/* Write all n bytes to a blocking fd (files), retrying EINTR: 0, or -1
 * with errno (a write of 0 bytes is ENOSPC). */
int sys_write_all(int fd, const void *p, size_t n);

#endif
