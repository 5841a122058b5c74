/*
 * vfy_cache: the DNS cache's value format and its in-process LRU backend
 * (SMTPSEC.md 9).  The same encoded value is what goes into Redis, so the
 * decoder treats every value as hostile: a malformed one is a miss.
 *
 * Value format, version 1 (all integers big-endian):
 *   "SDC" 0x01 | qtype u16 | result u8 | status u8 | rcode u8 |
 *   expiry u64 (unix seconds) | n_srv u16 | n_srv x (prio u16, weight u16,
 *   port u16, tlen u8, target) | n_tlsa u16 | n_tlsa x (usage u8, sel u8,
 *   mtype u8, dlen u16, data)
 */
#ifndef VFY_CACHE_H
#define VFY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "verify/vfy_dns.h"

#define VFY_CACHE_MAX_RECORDS	64
#define VFY_CACHE_MAX_VALUE	65536

/* A decoded value; owns its arrays. */
struct vfy_cache_answer {
	uint16_t qtype;
	enum vfy_dns_result result;
	enum vfy_dns_status status;
	int rcode;
	uint64_t expiry;
	size_t n_srv, n_tlsa;
	struct vfy_srv *srv;	/* owned */
	struct vfy_tlsa *tlsa;	/* owned; data points into tlsa_data */
	uint8_t *tlsa_data;	/* owned */
};

/* Encode an answer; returns a malloc'd value, or NULL when it does not fit
 * the format (too many or too large records: then it is not cached). */
uint8_t *vfy_cache_encode(const struct vfy_dns_answer *a, uint64_t expiry, size_t *len_r);

/* Decode; 0 or -1 (malformed, nothing allocated). */
int vfy_cache_decode(const uint8_t *v, size_t len, struct vfy_cache_answer *a_r);
void vfy_cache_answer_free(struct vfy_cache_answer *a);

/* In-process LRU of encoded values, bounded by entry count. */
struct vfy_lru;
struct vfy_lru *vfy_lru_new(size_t max_entries);
void vfy_lru_free(struct vfy_lru **lru_p);
/* Borrowed value (valid until the next put/free), or NULL when absent or
 * expired (an expired entry is dropped). */
const uint8_t *vfy_lru_get(struct vfy_lru *lru, const char *key, uint64_t now, size_t *len_r);
/* Copy the value in, replacing an old one; evicts the least recently used. */
void vfy_lru_put(struct vfy_lru *lru, const char *key, const uint8_t *val, size_t len, uint64_t expiry);
size_t vfy_lru_count(const struct vfy_lru *lru);

#endif
