/*
 * rcv_conn: one client connection: non-blocking TLS on libev, the session
 * state machine of SMTPSEC.md 3, the per-Email pipeline of section 4 and
 * the replies of section 5, sent in the order the Emails arrived.
 */
#ifndef RCV_CONN_H
#define RCV_CONN_H

#include <stddef.h>
#include <stdint.h>

struct rcv_server;
struct rcv_conn;

/* Take over an accepted socket (already counted in the caps). */
struct rcv_conn *rcv_conn_new(struct rcv_server *srv, int fd, const char *ip);

/* Graceful shutdown (SIGTERM): stop reading; once in-flight Emails are
 * answered, send service_unavailable without a reference and close. */
void rcv_conn_shutdown(struct rcv_conn *c);

/* Free a connection at once (worker exit). */
void rcv_conn_free(struct rcv_conn **c_p);

struct rcv_conn *rcv_conn_next(const struct rcv_conn *c);

/* --- reply queue (exposed for unit tests) ----------------------------------
 * Replies may complete out of order; they leave in arrival order. */
struct rcv_rq_ent {
	uint32_t number;	/* message number it answers */
	int done;
	uint8_t *bytes;		/* encoded reply, owned */
	size_t len;
	struct rcv_rq_ent *next;
};

struct rcv_rq {
	struct rcv_rq_ent *head, *tail;
	size_t n;
};

struct rcv_rq_ent *rcv_rq_push(struct rcv_rq *q, uint32_t number);
/* Mark an entry complete with its encoded reply (copied). */
void rcv_rq_complete(struct rcv_rq_ent *e, const uint8_t *bytes, size_t len);
/* Pop the completed entries at the head, appending their bytes to out
 * (a struct rcv_buf).  Returns how many were popped. */
size_t rcv_rq_drain(struct rcv_rq *q, void *out_buf);
void rcv_rq_free(struct rcv_rq *q);

#endif
