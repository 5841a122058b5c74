/*
 * rcv_check: `smtpsec-gateway -t`.  Loads the configuration file and
 * everything it names with the loaders the gateway itself uses at start
 * (rcv_tls, vfy_pkix, vfy_ct, vfy_dns, lmtp, the cache key), and checks
 * what only shows later: the spool directory writable by the service user,
 * the [server] user known.  Every problem is one "FILE:LINE: message"
 * line (FILE alone for a key at its default).
 */
#ifndef RCV_CHECK_H
#define RCV_CHECK_H

#include <stdio.h>

struct rcv_config;

/* Check path; each problem goes to err as one line; cfg_r gets the
 * configuration as loaded.  Returns the number of problems.  When there
 * is none, what the gateway would warn about at start (and settings that
 * are seldom meant) goes to err as "FILE:LINE: warning: ..." lines,
 * counted in *warnings_r. */
unsigned rcv_check_config(const char *path, struct rcv_config *cfg_r, FILE *err,
    unsigned *warnings_r);

#endif
