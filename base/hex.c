/* hex: see hex.h. */
#include "base/hex.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

int
hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *
hex_decode(const char *s, int space, size_t *len_r)
{
	uint8_t *b = mem_alloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (space && (*s == ' ' || *s == '\n' || *s == '\t'))
			continue;
		if ((v = hex_val((unsigned char)*s)) < 0) {
			free(b);
			return NULL;
		}
		if (hi < 0)
			hi = v;
		else {
			b[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(b);
		return NULL;
	}
	b[n] = 0;
	*len_r = n;
	return b;
}
