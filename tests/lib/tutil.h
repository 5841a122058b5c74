/*
 * tutil: helpers shared by unit tests, fuzz targets and test tools.
 * Nothing here is linked into the gateway.  Allocation failures abort.
 */
#ifndef TUTIL_H
#define TUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under the shared directory ($SHARED, else ../shared).
 * Returns a static buffer. */
const char *tutil_shared(const char *rel);

/* Read a whole file; returns a malloc'd buffer (NUL-terminated, the NUL
 * not counted in *len_r) or NULL with errno set. */
uint8_t *tutil_read_file(const char *path, size_t *len_r);

/* Decode lowercase/uppercase hex; returns a malloc'd buffer or NULL on bad
 * hex.  An empty string gives a non-NULL zero-length buffer. */
uint8_t *tutil_hex(const char *hex, size_t *len_r);

/* Lowercase hex of buf into a malloc'd string. */
char *tutil_tohex(const uint8_t *buf, size_t len);

/* Seconds on the monotonic clock. */
double tutil_now(void);

/* A TLS key-share group by name ("p256", "x25519"): the wolfSSL
 * WOLFSSL_ECC_* value, or -1 for any other name. */
int tutil_tls_group(const char *name);

#endif
