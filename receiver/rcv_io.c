/*
 * rcv_io: see rcv_io.h.
 */
#include "receiver/rcv_io.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/sys.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_metrics.h"
#include "receiver/rcv_session.h"

#define IO_OF(w, field) ((struct rcv_io *)(void *)((char *)(w) - offsetof(struct rcv_io, field)))

#define RCV_IO_CHUNK		16384
#define RCV_OUT_PAUSE		(256u * 1024u)	/* stop reading while this much is unsent */
#define RCV_OUT_MAX		(4u * 1024u * 1024u)	/* a client that never reads: closed */
/* Mid-frame, the idle timer restarts only after this many bytes: a client
 * trickling a frame a few bytes at a time (slowloris) is closed after
 * idle_timeout instead of holding the session for ever. */
#define RCV_MIN_WINDOW		(16u * 1024u)
/* Input handled per event before the other sessions get a turn. */
#define RCV_READ_BUDGET		(256u * 1024u)

/* What one recv asks for when wolfSSL wants less (a record's 5-byte
 * header, a short record's body): the records that arrived together are
 * then read with one system call instead of two per record. */
#define RCV_READ_AHEAD		16384

static void io_close(struct rcv_io *io, const char *reason);

/* A failed recv or send (errno) as wolfSSL's own callbacks (wolfio.c)
 * report it; would_block is WANT_READ or WANT_WRITE. */
static int
cbio_error(int would_block)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return would_block;
	if (errno == EINTR)
		return WOLFSSL_CBIO_ERR_ISR;
	if (errno == ECONNRESET)
		return WOLFSSL_CBIO_ERR_CONN_RST;
	if (errno == EPIPE || errno == ECONNABORTED)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	return WOLFSSL_CBIO_ERR_GENERAL;
}

/*
 * wolfSSL's receive callback.  wolfSSL asks for exactly what it needs next
 * (5 bytes of header, then the body), so its own socket callback makes two
 * recv calls per record.  Here a short request reads up to RCV_READ_AHEAD
 * bytes into one buffer per worker (read_ahead) and the surplus serves the
 * next requests of the same connection.  A request at least that long, or
 * any request while the buffer holds another connection's surplus (its
 * session paused before wolfSSL asked for more), is read straight into
 * wolfSSL's buffer, as wolfSSL's own callback reads.  So no connection
 * holds read-ahead memory of its own: whatever peers do, the worker holds
 * this one buffer (a paused owner only costs the others the read-ahead).
 */
static _Thread_local struct {
	struct rcv_io *owner;		/* whose bytes buf[off, len) are (off < len) */
	size_t off, len;
	uint8_t buf[RCV_READ_AHEAD];
} read_ahead;

static int
io_recv_cb(WOLFSSL *ssl, char *p, int sz, void *ctx)
{
	struct rcv_io *io = ctx;
	ssize_t r;
	size_t n;

	if (sz <= 0)
		return 0;
	if (read_ahead.owner != io) {
		int direct = (size_t)sz >= sizeof(read_ahead.buf) || read_ahead.owner != NULL;

		if (direct)
			r = recv(io->fd, p, (size_t)sz, 0);
		else
			r = recv(io->fd, read_ahead.buf, sizeof(read_ahead.buf), 0);
		if (r == 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (r < 0)
			return cbio_error(WOLFSSL_CBIO_ERR_WANT_READ);
		if (direct)
			return (int)r;
		read_ahead.owner = io;
		read_ahead.off = 0;
		read_ahead.len = (size_t)r;
	}
	n = read_ahead.len - read_ahead.off;
	n = n < (size_t)sz ? n : (size_t)sz;
	memcpy(p, read_ahead.buf + read_ahead.off, n);
	read_ahead.off += n;
	if (read_ahead.off == read_ahead.len)
		read_ahead.owner = NULL;
	return (int)n;
}

/*
 * wolfSSL's send callback.  Records up to RCV_COALESCE bytes in all are
 * queued in io->wq and sent together by wire_flush, which io_update,
 * handshake and io_close call before they return to the loop: the session
 * ticket that ends the handshake and the ServerHello frame after it leave
 * in one send instead of two.  A longer write sends what is queued first,
 * then itself straight from wolfSSL's buffer.  io->wq is freed when sent, so
 * an idle session holds none of it.
 */
#define RCV_COALESCE		4096

/* 0: sent, or the rest waits for EV_WRITE; -1: the socket failed */
static int
wire_flush(struct rcv_io *io)
{
	while (io->wq.len && !io->wdead) {
		ssize_t r = send(io->fd, io->wq.p, io->wq.len, MSG_NOSIGNAL);

		if (r > 0) {
			buf_consume(&io->wq, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		io->wdead = 1;
	}
	if (io->wdead)
		return -1;
	buf_free(&io->wq);
	return 0;
}

static int
io_send_cb(WOLFSSL *ssl, char *p, int sz, void *ctx)
{
	struct rcv_io *io = ctx;
	ssize_t r;

	if (sz <= 0)
		return 0;
	if (!io->wdead && io->wq.len + (size_t)sz <= RCV_COALESCE) {
		buf_add(&io->wq, p, (size_t)sz);
		return sz;
	}
	if (wire_flush(io) < 0)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (io->wq.len)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	r = send(io->fd, p, (size_t)sz, MSG_NOSIGNAL);
	return r >= 0 ? (int)r : cbio_error(WOLFSSL_CBIO_ERR_WANT_WRITE);
}

static int
can_read(const struct rcv_io *io)
{
	return io->state == RCV_IO_OPEN && !io->peer_eof && io->out.len < RCV_OUT_PAUSE &&
	    rcv_session_wants_input(io->s);
}

void
rcv_io_send(struct rcv_io *io, const uint8_t *p, size_t n)
{
	buf_add(&io->out, p, n);
}

static int
flush_out(struct rcv_io *io)
{
	io->tls_want_write = 0;
	while (io->out.len) {
		int n = io->out.len > RCV_IO_CHUNK ? RCV_IO_CHUNK : (int)io->out.len;
		int r = wolfSSL_write(io->ssl, io->out.p, n);

		if (r > 0) {
			io->writes++;
			buf_consume(&io->out, (size_t)r);
			continue;
		}
		r = wolfSSL_get_error(io->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_WRITE) {
			io->tls_want_write = 1;
			return 0;
		}
		if (r == WOLFSSL_ERROR_WANT_READ)
			return 0;
		return -1;
	}
	return 0;
}

static void
io_read(struct rcv_io *io)
{
	uint8_t buf[RCV_IO_CHUNK];
	int progress = 0;
	size_t budget = RCV_READ_BUDGET;

	while (can_read(io)) {
		if (budget < sizeof(buf)) {
			/* fairness: continue when the other sessions had a turn */
			ev_idle_start(io->loop, &io->kick);
			break;
		}
		int r = wolfSSL_read(io->ssl, buf, sizeof(buf));

		if (r > 0) {
			progress = 1;
			io->window_bytes += (size_t)r;
			budget -= (size_t)r;
			rcv_session_input(io->s, buf, (size_t)r);
			continue;
		}
		r = wolfSSL_get_error(io->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_READ)
			break;
		if (r == WOLFSSL_ERROR_WANT_WRITE) {
			io->tls_want_write = 1;
			break;
		}
		/* close_notify, EOF or a TLS error: no more input */
		io->peer_eof = 1;
		rcv_session_eof(io->s, !rcv_session_between_frames(io->s) ? "peer_closed_mid_frame" :
		    r == WOLFSSL_ERROR_ZERO_RETURN ? "peer_closed" : "tls_read");
		break;
	}
	io->reads += progress;
	if (progress && (rcv_session_between_frames(io->s) || io->window_bytes >= RCV_MIN_WINDOW)) {
		io->window_bytes = 0;
		ev_timer_again(io->loop, &io->timer);
	}
}

/* After anything changed: flush the session's replies, write, close when
 * the session is done, set the watchers.  May call io->gone. */
static void
io_update(struct rcv_io *io)
{
	int ev = 0;

	if (io->state != RCV_IO_OPEN)
		return;
	rcv_session_flush(io->s);
	if (io->out.len > RCV_OUT_MAX) {
		io_close(io, "output_queue_full");
		return;
	}
	if (flush_out(io) < 0 || wire_flush(io) < 0) {
		io_close(io, "tls_write");
		return;
	}
	if (io->out.len == 0 && io->wq.len == 0 && io->s->state == RCV_SESS_DONE) {
		io_close(io, io->s->close_reason ? io->s->close_reason : "done");
		return;
	}
	if (can_read(io) || (!rcv_session_reading(io->s) && !io->peer_eof))
		ev |= EV_READ;
	if (io->out.len || io->tls_want_write || io->wq.len)
		ev |= EV_WRITE;
	if (ev != (io->io.events & (EV_READ | EV_WRITE)) || !ev_is_active(&io->io)) {
		ev_io_stop(io->loop, &io->io);
		if (ev) {
			ev_io_set(&io->io, io->fd, ev);
			ev_io_start(io->loop, &io->io);
		}
	}
	/* wolfSSL may hold decrypted records, and io_recv_cb bytes read
	 * ahead, that no fd event will announce */
	if (can_read(io) && (wolfSSL_pending(io->ssl) > 0 || read_ahead.owner == io))
		ev_idle_start(io->loop, &io->kick);
}

void
rcv_io_update_later(struct rcv_io *io)
{
	if (io->state == RCV_IO_OPEN)
		ev_prepare_start(io->loop, &io->later);
}

static void
later_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	ev_prepare_stop(loop, w);
	io_update(IO_OF(w, later));
}

static void
kick_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct rcv_io *io = IO_OF(w, kick);

	ev_idle_stop(loop, w);
	io_read(io);
	io_update(io);
}

static void
handshake(struct rcv_io *io)
{
	int r = wolfSSL_accept(io->ssl);

	if (r != WOLFSSL_SUCCESS) {
		char eb[80];

		r = wolfSSL_get_error(io->ssl, r);
		if ((r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE) && wire_flush(io) == 0) {
			int ev = r == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;

			if (io->wq.len)
				ev |= EV_WRITE;
			if (io->io.events != ev) {
				ev_io_stop(io->loop, &io->io);
				ev_io_set(&io->io, io->fd, ev);
				ev_io_start(io->loop, &io->io);
			}
			return;
		}
		wolfSSL_ERR_error_string_n((unsigned long)r, eb, sizeof(eb));
		rcv_log(RCV_LOG_INFO, "conn=%016llx event=tls result=fail err=%d why=\"%s\"", io->id, r, eb);
		RCV_METRIC_ADD(tls_handshake_failed, 1);
		io_close(io, "tls_handshake");
		return;
	}
	io->state = RCV_IO_OPEN;
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=tls version=%s cipher=%s resumed=%d ms=%llu", io->id,
	    wolfSSL_get_version(io->ssl), wolfSSL_get_cipher_name(io->ssl),
	    wolfSSL_session_reused(io->ssl), (unsigned long long)(sys_now_ms() - io->t_start));
	rcv_log(RCV_LOG_DEBUG, "conn=%016llx event=handshake_done group=%s session_cache_hit=%d "
	    "ms=%llu", io->id, wolfSSL_get_curve_name(io->ssl) ? wolfSSL_get_curve_name(io->ssl) : "-",
	    wolfSSL_session_reused(io->ssl), (unsigned long long)(sys_now_ms() - io->t_start));
	/* the handshake's keys, hashes and arrays are not needed any more:
	 * an idle session should cost its record state only */
	wolfSSL_FreeHandshakeResources(io->ssl);
	rcv_session_start(io->s);
	io->timer.repeat = io->idle_s;
	ev_timer_again(io->loop, &io->timer);
	io_read(io);
	io_update(io);
}

static void
discard_input(struct rcv_io *io)
{
	uint8_t sink[RCV_IO_CHUNK];
	size_t budget = RCV_READ_BUDGET;

	/* bounded like io_read: a peer that keeps sending must not keep the
	 * loop here (its close timer, and every other session, wait) */
	while (budget >= sizeof(sink)) {
		int r = wolfSSL_read(io->ssl, sink, sizeof(sink));

		if (r > 0) {
			budget -= (size_t)r;
			continue;
		}
		r = wolfSSL_get_error(io->ssl, r);
		if (r == WOLFSSL_ERROR_WANT_WRITE)
			io->tls_want_write = 1;
		else if (r != WOLFSSL_ERROR_WANT_READ)
			io->peer_eof = 1;
		return;
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rcv_io *io = IO_OF(w, io);

	if (io->state == RCV_IO_HANDSHAKE) {
		handshake(io);
		return;
	}
	if (revents & EV_WRITE)
		io->tls_want_write = 0;
	if ((revents & EV_READ) && !rcv_session_reading(io->s)) {
		if (!io->peer_eof)
			discard_input(io);
	} else if (revents & EV_READ)
		io_read(io);
	io_update(io);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_io *io = IO_OF(w, timer);
	int r;

	if (io->state == RCV_IO_HANDSHAKE) {
		io_close(io, "handshake_timeout");
		return;
	}
	r = rcv_session_idle(io->s);
	if (r < 0) {
		io_close(io, io->s->close_reason ? io->s->close_reason : "timeout");
		return;
	}
	if (r > 0)
		w->repeat = 5.0;	/* SMTPSEC.md 2.5 goodbye queued: grace for the flush */
	ev_timer_again(loop, w);
	if (r > 0)
		io_update(io);
}

int
rcv_io_init(struct rcv_io *io, struct ev_loop *loop, struct WOLFSSL_CTX *ctx, int fd,
    unsigned long long id, uint64_t handshake_ms, uint64_t idle_ms, struct rcv_session *s,
    void (*gone)(struct rcv_io *io))
{
	io->loop = loop;
	io->fd = fd;
	memset(&io->wq, 0, sizeof(io->wq));
	io->wdead = 0;
	io->id = id;
	io->s = s;
	io->gone = gone;
	io->idle_s = (double)idle_ms / 1000.0;
	io->t_start = sys_now_ms();
	io->ssl = wolfSSL_new((WOLFSSL_CTX *)ctx);
	if (io->ssl == NULL || wolfSSL_set_fd(io->ssl, fd) != WOLFSSL_SUCCESS) {
		rcv_log(RCV_LOG_ERR, "conn=%016llx event=connect result=error why=\"wolfSSL_new failed\"", id);
		if (io->ssl)
			wolfSSL_free(io->ssl);
		io->ssl = NULL;
		close(fd);
		return -1;
	}
	wolfSSL_SSLSetIORecv(io->ssl, io_recv_cb);
	wolfSSL_SetIOReadCtx(io->ssl, io);
	wolfSSL_SSLSetIOSend(io->ssl, io_send_cb);
	wolfSSL_SetIOWriteCtx(io->ssl, io);
	ev_io_init(&io->io, io_cb, fd, EV_READ);
	ev_init(&io->timer, timer_cb);
	io->timer.repeat = (double)handshake_ms / 1000.0;
	ev_idle_init(&io->kick, kick_cb);
	/* above the sockets' watchers: libev runs an idle watcher only when
	 * nothing of its priority or higher is pending, so at the sockets'
	 * priority a busy worker would never resume a session whose bytes
	 * wait in wolfSSL or read_ahead (no fd event announces them); one
	 * level up it runs once per loop iteration, one read budget each */
	ev_set_priority(&io->kick, 1);
	ev_prepare_init(&io->later, later_cb);
	ev_io_start(loop, &io->io);
	ev_timer_again(loop, &io->timer);
	return 0;
}

/* After our last bytes: read and drop what the client still sends, so
 * closing with unread input does not send a RST that would destroy the
 * replies in flight to it; EOF or 2 s end it. */
static void
linger_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rcv_io *io = IO_OF(w, io);
	char buf[4096];
	size_t budget = RCV_READ_BUDGET;

	/* bounded: a peer that keeps sending is cut by the linger timer */
	while (budget >= sizeof(buf)) {
		ssize_t r = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r > 0) {
			budget -= (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		io->state = RCV_IO_CLOSED;
		io->gone(io);
		return;
	}
}

static void
linger_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_io *io = IO_OF(w, timer);

	io->state = RCV_IO_CLOSED;
	io->gone(io);
}

static void
io_close(struct rcv_io *io, const char *reason)
{
	int graceful;

	if (io->state == RCV_IO_CLOSED || io->state == RCV_IO_LINGER)
		return;
	graceful = io->state == RCV_IO_OPEN && io->out.len == 0 && io->s->n_inflight == 0;
	if (graceful)
		(void)wolfSSL_shutdown(io->ssl);	/* one close_notify attempt, no wait */
	(void)wire_flush(io);			/* what is queued: one attempt, no wait */
	rcv_log(RCV_LOG_INFO, "conn=%016llx event=close reason=%s emails=%llu ms=%llu replies=%llu "
	    "reads=%llu writes=%llu", io->id, reason, (unsigned long long)io->s->emails,
	    (unsigned long long)(sys_now_ms() - io->t_start), (unsigned long long)io->s->replies,
	    (unsigned long long)io->reads, (unsigned long long)io->writes);
	if (!graceful || io->peer_eof || shutdown(io->fd, SHUT_WR) < 0) {
		io->state = RCV_IO_CLOSED;
		io->gone(io);
		return;
	}
	io->state = RCV_IO_LINGER;
	ev_idle_stop(io->loop, &io->kick);
	ev_prepare_stop(io->loop, &io->later);
	ev_io_stop(io->loop, &io->io);
	ev_set_cb(&io->io, linger_io_cb);
	ev_io_set(&io->io, io->fd, EV_READ);
	ev_io_start(io->loop, &io->io);
	ev_timer_stop(io->loop, &io->timer);
	ev_set_cb(&io->timer, linger_timer_cb);
	ev_timer_set(&io->timer, 2.0, 0.);
	ev_timer_start(io->loop, &io->timer);
}

void
rcv_io_deinit(struct rcv_io *io)
{
	ev_io_stop(io->loop, &io->io);
	ev_timer_stop(io->loop, &io->timer);
	ev_idle_stop(io->loop, &io->kick);
	ev_prepare_stop(io->loop, &io->later);
	if (io->ssl)
		wolfSSL_free(io->ssl);
	io->ssl = NULL;
	if (read_ahead.owner == io) {
		read_ahead.owner = NULL;
		read_ahead.off = read_ahead.len = 0;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	buf_free(&io->out);
	buf_free(&io->wq);
}

void
rcv_io_shutdown(struct rcv_io *io)
{
	if (io->state == RCV_IO_LINGER)
		return;
	if (io->state == RCV_IO_HANDSHAKE) {
		io_close(io, "shutdown");
		return;
	}
	rcv_session_shutdown(io->s);
	io_update(io);
}
