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
 *
 * Sealed (what goes into Redis when the fleet has a cache key): the value,
 * then "MAC1", then HMAC-SHA256(cache key, "smtpsec-dns-cache-v1" |
 * klen u16 | Redis key | expiry u64 | vlen u32 | value), 32 bytes.  A Redis
 * key or expiry moved onto another value, or a value edited by whoever can
 * write to Redis without the key, fails the check.
 */
#ifndef VFY_CACHE_H
#define VFY_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verify/vfy.h"

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

#define VFY_CACHE_SEAL_LEN	36	/* "MAC1" + HMAC-SHA256 */

/* Seal an encoded value for Redis under key `rkey`: a malloc'd copy with
 * the trailer, or NULL when the value is too short to carry an expiry. */
uint8_t *vfy_cache_seal(const uint8_t mac_key[VFY_CACHE_KEY_LEN], const char *rkey,
    const uint8_t *v, size_t len, size_t *len_r);
/* Check a sealed value read from Redis under `rkey`: 0 with *vlen_r = the
 * length of the value inside (the same buffer), or -1 (no or wrong MAC). */
int vfy_cache_unseal(const uint8_t mac_key[VFY_CACHE_KEY_LEN], const char *rkey,
    const uint8_t *v, size_t len, size_t *vlen_r);

/*
 * One cache per host: a fixed table of slots in shared memory, created by
 * the master before it forks the workers, so a value one worker resolved is
 * a hit for all.  Each slot carries a sequence number (a seqlock): a writer
 * takes it from even to odd with a compare-and-swap (another writer on the
 * same slot: the value is simply not shared), readers copy and retry-free
 * check it did not move; values are decoded like any cache value after.
 * Values longer than VFY_SHC_VALUE stay per worker.
 */
#define VFY_SHC_VALUE	832
void vfy_shcache_free(struct vfy_shcache **c_p);
/* Copy a live value for key into out (VFY_SHC_VALUE bytes): 0 with its
 * length and expiry, or -1 (absent, expired, or being written). */
int vfy_shcache_get(struct vfy_shcache *c, const char *key, uint64_t now, uint8_t *out,
    size_t *len_r, uint64_t *expiry_r);
void vfy_shcache_put(struct vfy_shcache *c, const char *key, const uint8_t *v, size_t len,
    uint64_t expiry, uint64_t now);

/* In-process LRU of values, bounded by entry count: the DNS cache's encoded
 * values, and the chain verdict cache of vfy_check. */
struct vfy_lru;
struct vfy_lru *vfy_lru_new(size_t max_entries);
void vfy_lru_free(struct vfy_lru **lru_p);
/* Borrowed value (valid until the next put, clear or free), or NULL when absent or
 * expired (an expired entry is dropped). */
const uint8_t *vfy_lru_get(struct vfy_lru *lru, const char *key, uint64_t now, size_t *len_r);
/* Copy the value in, replacing an old one; evicts the least recently used. */
void vfy_lru_put(struct vfy_lru *lru, const char *key, const uint8_t *val, size_t len, uint64_t expiry);
size_t vfy_lru_count(const struct vfy_lru *lru);
void vfy_lru_clear(struct vfy_lru *lru);

#endif
