/*
 * cur: a read cursor over bytes received or loaded (the wire codec's
 * frames, the DNS cache's values).  Every read checks what is left first
 * ("if (c->left < n)"), so a cursor never reads past its end, whatever the
 * input says.  Integers are big-endian (network order); cur_put_be writes
 * them for the encoders.
 */
#ifndef CUR_H
#define CUR_H

#include <stddef.h>
#include <stdint.h>

struct cur {
	const uint8_t *p;	/* borrowed: the next byte */
	size_t left;		/* bytes from p to the end */
};

/* An n-byte (1..8) unsigned integer: 0, or -1 (nothing consumed) when
 * fewer than n bytes are left. */
int cur_uint(struct cur *c, size_t n, uint64_t *v_r);
/* n bytes as a view into the input: 0, or -1 (nothing consumed). */
int cur_take(struct cur *c, uint64_t n, const uint8_t **p_r);
/* The n-byte (1..8) big-endian integer at p (the caller checked n). */
uint64_t cur_be(const uint8_t *p, size_t n);
/* The other way: v as n (1..8) big-endian bytes at p. */
void cur_put_be(uint8_t *p, uint64_t v, size_t n);

#endif
