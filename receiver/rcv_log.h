/*
 * rcv_log: one line per event, key=value, the connection id first
 * (STYLE.md section 7).  Values that came from a peer go through
 * rcv_log_q(), which quotes them and escapes anything not printable.
 */
#ifndef RCV_LOG_H
#define RCV_LOG_H

#include <stddef.h>
#include <stdint.h>

/* journald priorities: err 3, warning 4, info 6, debug 7 */
enum rcv_log_level { RCV_LOG_ERR = 0, RCV_LOG_WARN, RCV_LOG_INFO, RCV_LOG_DEBUG };

extern int rcv_log_verbosity;	/* highest level printed; default INFO, -v DEBUG */

/* Send every line to syslog (facility mail, ident smtpsec-gateway) instead
 * of stderr. */
void rcv_log_syslog(int on);

/* 1 when stderr is the journal (JOURNAL_STREAM matches fd 2's device and
 * inode): lines then carry an sd-daemon "<N>" priority prefix and no
 * timestamp. */
int rcv_log_journal(void);

void rcv_log(enum rcv_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Quote and sanitize len bytes into buf ("..." with \xNN escapes, cut with
 * "..." past bufsize).  Returns buf. */
const char *rcv_log_q(char *buf, size_t bufsize, const void *p, size_t len);

#endif
