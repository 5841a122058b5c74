/* hex: hexadecimal digits (base layer). */
#ifndef HEX_H
#define HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int hex_val(int c);

/* Hex text to bytes (either case); with `space`, SP, HTAB and LF between
 * digits are skipped.  NULL for an odd number of digits or any other
 * character, else *len_r bytes the caller frees (with a NUL after them). */
uint8_t *hex_decode(const char *s, int space, size_t *len_r);

#endif
