/* cur: see cur.h. */
#include "base/cur.h"

uint64_t
cur_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int
cur_uint(struct cur *c, size_t n, uint64_t *v_r)
{
	if (c->left < n)
		return -1;
	*v_r = cur_be(c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

int
cur_take(struct cur *c, uint64_t n, const uint8_t **p_r)
{
	if (c->left < n)
		return -1;
	*p_r = c->p;
	c->p += n;
	c->left -= (size_t)n;
	return 0;
}

void
cur_put_be(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}
