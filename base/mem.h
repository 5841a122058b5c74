/*
 * mem: the one allocation wrapper of the project (STYLE.md 4, Postfix
 * mymalloc).  Every function here either returns memory or aborts: an
 * allocation failure ends the process in mem_oom(), nowhere else.  Peer
 * input never reaches an abort, because every size taken from the peer is
 * capped by a configured limit before anything is allocated for it.
 *
 * Base layer: used by every other layer (wire/, verify/, lmtp/, receiver/,
 * sender/, tests); includes nothing of the project.
 */
#ifndef MEM_H
#define MEM_H

#include <stddef.h>

/* Never NULL (a zero size gets one byte). */
void *mem_alloc(size_t n);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t n);
/* A copy of s; mem_strdup_opt: NULL for NULL or "" (optional settings). */
char *mem_strdup(const char *s);
char *mem_strdup_opt(const char *s);
/* A copy of p[0..n); mem_dup0 adds a NUL after it. */
void *mem_dup(const void *p, size_t n);
char *mem_dup0(const void *p, size_t n);
/* Grow *arr so that entry i (0-based) of elem-sized entries fits, doubling
 * *cap from 8; returns the (possibly moved) array. */
void *mem_grow(void *arr, size_t *cap, size_t i, size_t elem);

#endif
