/*
 * rcv_conn: one client connection: its transport (rcv_io) and its session
 * (rcv_session), and the session's ops: the ClientHello's chains, steps
 * 2-9 (verify/) and step 10 (lmtp/) for each Email.
 */
#ifndef RCV_CONN_H
#define RCV_CONN_H

struct rcv_server;
struct rcv_conn;

/* Take over an accepted socket (already counted in the caps). */
struct rcv_conn *rcv_conn_new(struct rcv_server *srv, int fd, const char *ip);

/* Graceful shutdown (SIGTERM) of c and every connection after it in the
 * list: stop reading; once in-flight Emails are answered, send
 * service_unavailable without a reference and close. */
void rcv_conn_shutdown_all(struct rcv_conn *c);

/* Free a connection at once (worker exit). */
void rcv_conn_free(struct rcv_conn **c_p);

#endif
