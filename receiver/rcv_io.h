/*
 * rcv_io: the transport of one connection: the socket, non-blocking TLS
 * (wolfSSL) on libev watchers, the bounded output buffer, the read budget,
 * the handshake and idle timers and the linger after the last byte.  What
 * it reads goes to its session (rcv_session_input); what the session
 * sends is queued with rcv_io_send.  The watchers live in struct rcv_io,
 * which lives in its owner (container_of both ways).
 *
 * HANDSHAKE (handshake timer) -> OPEN (idle timer) -> LINGER (our last
 * bytes are out; read and drop until EOF or 2 s) -> CLOSED.  When the
 * connection is over, io->gone(io) is called; the owner frees it there.
 */
#ifndef RCV_IO_H
#define RCV_IO_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "wire/wire.h"

struct WOLFSSL;
struct WOLFSSL_CTX;
struct rcv_session;

enum rcv_io_state { RCV_IO_HANDSHAKE = 0, RCV_IO_OPEN, RCV_IO_LINGER, RCV_IO_CLOSED };

struct rcv_io {
	struct ev_loop *loop;
	int fd;				/* owned */
	struct WOLFSSL *ssl;		/* owned */
	enum rcv_io_state state;
	ev_io io;
	ev_timer timer;
	ev_idle kick;			/* re-run the reader after a pause (wolfSSL may hold data) */
	ev_prepare later;		/* rcv_io_update_later: once, before the loop blocks */
	uint64_t reads, writes;		/* read events that got data; TLS writes (close line) */
	struct buf out;		/* bytes not yet written */
	struct buf wq;			/* TLS records queued by io_send_cb, not yet sent */
	int wdead;			/* a send failed: the socket takes nothing more */
	int peer_eof;
	int tls_want_write;
	size_t window_bytes;		/* read since the idle timer last restarted */
	uint64_t t_start;
	double idle_s;			/* idle timeout, seconds */
	unsigned long long id;		/* the connection id, for log lines */
	struct rcv_session *s;		/* borrowed */
	void (*gone)(struct rcv_io *io);
};

/* Take over an accepted socket and start the TLS handshake.  0, or -1
 * (logged; fd closed, nothing to free). */
int rcv_io_init(struct rcv_io *io, struct ev_loop *loop, struct WOLFSSL_CTX *ctx, int fd,
    unsigned long long id, uint64_t handshake_ms, uint64_t idle_ms, struct rcv_session *s,
    void (*gone)(struct rcv_io *io));
/* Stop the watchers, free TLS, close the socket (the owner's free path). */
void rcv_io_deinit(struct rcv_io *io);

/* Queue bytes to send (the session's ops->send). */
void rcv_io_send(struct rcv_io *io, const uint8_t *p, size_t n);
/* After anything changed, once this loop iteration's events are handled:
 * replies that complete together (several LMTP answers in one iteration)
 * leave in one write. */
void rcv_io_update_later(struct rcv_io *io);
/* SIGTERM: a handshake is cut, an open session finishes (rcv_session_shutdown). */
void rcv_io_shutdown(struct rcv_io *io);

#endif
