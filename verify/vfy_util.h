/*
 * vfy_util: allocation wrappers for verify/.  Allocation failure aborts
 * here and only here (STYLE.md); peer input never reaches an abort.
 */
#ifndef VFY_UTIL_H
#define VFY_UTIL_H

#include <stddef.h>

void *vfy_xmalloc(size_t n);
void *vfy_xcalloc(size_t n, size_t size);
char *vfy_xstrdup(const char *s);
/* NULL for NULL or "", else a copy (optional settings). */
char *vfy_xstrdup_opt(const char *s);
/* The value of one hex digit (either case), or -1. */
int vfy_hexval(int c);
void *vfy_xmemdup(const void *p, size_t n);

#endif
