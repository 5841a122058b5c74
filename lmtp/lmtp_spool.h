/*
 * lmtp_spool: the durable spool for recipients that got a 4xx after the
 * data (SMTPSEC.md 5).  Internal to lmtp/.
 *
 * One file per Email in spool_dir, "<created>-<pid>-<n>.msg":
 *   SMTPSEC-SPOOL 1\n  created U\n  attempts N\n  next U\n  from ADDR\n
 *   rcpt ADDR\n (one per waiting recipient)  \n  <the delivered copy>
 * Written to a temp name, fsync'd, renamed, and the directory fsync'd before
 * anyone is told.  A retry rewrites the file the same way with the
 * recipients still waiting, or removes it when none are; after max_age it
 * moves to spool_dir/failed/.
 *
 * One owner per entry: every worker of a gateway (and a restarted one)
 * scans the same directory, so a retry first claims its entry with
 * flock(LOCK_EX|LOCK_NB) on the open file and keeps the lock until the
 * entry is removed or rewritten.  The kernel drops the lock when its
 * owner dies, so a claim of a killed worker is free again at once (no
 * stale claim to recover).  A claimer checks that the file it locked is
 * still the one at the name (not removed, not replaced by a rewrite)
 * before it reads it.  spool_dir must be a local file system.
 */
#ifndef LMTP_SPOOL_H
#define LMTP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "lmtp/lmtp.h"

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
