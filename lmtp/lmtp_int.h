/*
 * lmtp_int.h: internal to lmtp/: the spool's interface to the client
 * (lmtp_spool.c), and helpers exposed for unit tests.
 */
#ifndef LMTP_INT_H
#define LMTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lmtp/lmtp.h"

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

/* --- the spool (lmtp_spool.c) --- */
struct lmtp_spool;
struct lmtp_spool_entry;
struct ev_loop;

/* opt: spool_dir, spool_retry_ms, spool_max_age_ms, connections (the
 * retries one process runs at a time), spool_cb/spool_arg. */
int lmtp_spool_open(struct lmtp_spool **sp_r, struct lmtp *l, struct ev_loop *loop,
    const struct lmtp_options *opt, char *err, size_t errlen);
void lmtp_spool_close(struct lmtp_spool **sp_p);

/* Durably store a message for rcpt[]; 0 once it is on disk, -1 if not. */
int lmtp_spool_write(struct lmtp_spool *sp, const char *from, const char **rcpt, size_t n,
    const struct lmtp_seg *seg, size_t n_seg);

/* A retry of entry e finished with r (recipients in the entry's order). */
void lmtp_spool_done(struct lmtp_spool *sp, struct lmtp_spool_entry *e,
    const struct lmtp_result *r, const char *const *rcpt);

/* Entries waiting (as the last scan found them, plus those written since). */
uint64_t lmtp_spool_entries(const struct lmtp_spool *sp);

/* in lmtp_client.c: a delivery on behalf of a spool entry */
struct lmtp_tx *lmtp_deliver_spooled(struct lmtp *l, const struct lmtp_msg *m,
    struct lmtp_spool_entry *e);

#endif
