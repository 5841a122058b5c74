/*
 * lmtp_int.h: internal helpers of lmtp/, exposed for unit tests.
 */
#ifndef LMTP_INT_H
#define LMTP_INT_H

#include <stddef.h>
#include <stdint.h>

/* DATA dot-stuffing (RFC 5321 4.5.2), resumable across chunks: copies in[]
 * to out[] with a '.' doubled at the start of each line, stopping when out
 * has room for fewer than 2 bytes.  *at_bol carries the line state between
 * calls (1 at the start of the message).  Returns the bytes written;
 * *used_r the input bytes consumed. */
size_t lmtp_dot_stuff(int *at_bol, const uint8_t *in, size_t n, size_t *used_r, uint8_t *out,
    size_t cap);

/* 1 when an Authentication-Results field value (after the colon, folds
 * included) claims the authserv-id `id` (RFC 8601 2.2, 5; lmtp_copy.c). */
int lmtp_authres_claims(const uint8_t *v, size_t len, const char *id);

#endif
