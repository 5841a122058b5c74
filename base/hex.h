/* hex: hexadecimal digits (base layer, no project includes). */
#ifndef HEX_H
#define HEX_H

/* The value of one hex digit (either case), or -1. */
int hex_val(int c);

#endif
