/*
 * smtpsec-send: one SMTPsec session that carries one Email (SMTPSEC.md 3):
 * ClientHello (message 0), the Email (message 1), then the server's reply
 * to message 1 (EmailDelivered, or an Error that references it); an Error
 * without a reference (shutdown, idle) or a lost connection is no reply.
 * Every wait is a poll(2) bounded by the deadline.  The caller owns ssl and
 * fd; the session only writes close_notify.
 */
#include "base/mem.h"
#include "base/sys.h"
#include "sender/snd.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define SND_EMAIL_NUMBER	1	/* ClientHello is 0 */

/* Wait for the socket until the deadline: 1 ready, 0 timed out. */
static int
wait_io(int fd, WOLFSSL *ssl, int err, double deadline)
{
	struct pollfd p;
	double rem;
	int r;

	if (err == WOLFSSL_ERROR_WANT_READ && wolfSSL_pending(ssl) > 0)
		return 1;
	for (;;) {
		rem = deadline - snd_now();
		if (rem <= 0)
			return 0;
		p.fd = fd;
		p.events = err == WOLFSSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		p.revents = 0;
		r = poll(&p, 1, (int)(rem * 1000) + 1);
		if (r > 0)
			return 1;
		if (r == 0)
			continue;	/* re-check the clock */
		if (errno != EINTR)
			return 1;	/* let the read or write report it */
	}
}

void
snd_result_clear(struct snd_result *r)
{
	size_t i;

	for (i = 0; i < r->n_addr; i++)
		free(r->addr[i]);
	free(r->addr);
	memset(r, 0, sizeof(*r));
}

/* A frame from the server: 1 when it answers the Email (res filled). */
static int
on_frame(const struct wire_frame *f, struct snd_result *res)
{
	size_t i;

	if (f->type == WIRE_MSG_SERVER_HELLO)
		return 0;
	if (f->type == WIRE_MSG_EMAIL_DELIVERED) {
		if (f->email != SND_EMAIL_NUMBER)
			return 0;
		res->reply = SND_R_DELIVERED;
		return 1;
	}
	if (f->type != WIRE_MSG_ERROR)
		return 0;
	if (!f->has_ref) {
		snprintf(res->why, sizeof(res->why), "server closed the session (%s, no reference)",
		    wire_err_name(f->code));
		return -1;
	}
	if (f->ref != SND_EMAIL_NUMBER) {
		/* our ClientHello refused: the Email will not be answered */
		snprintf(res->why, sizeof(res->why), "server refused message %u: %s", f->ref,
		    wire_err_name(f->code));
		return -1;
	}
	res->reply = SND_R_ERROR;
	res->code = f->code;
	if (f->n_addr) {
		res->addr = mem_calloc(f->n_addr, sizeof(*res->addr));
		for (i = 0; i < f->n_addr; i++) {
			res->addr[i] = mem_alloc(f->addr[i].len + 1);
			memcpy(res->addr[i], f->addr[i].p, f->addr[i].len);
			res->addr[i][f->addr[i].len] = '\0';
		}
		res->n_addr = f->n_addr;
	}
	return 1;
}

int
snd_session_one(void *ssl_v, int fd, uint8_t **der, const size_t *derl, size_t n_der,
    const uint8_t *email_frame, size_t email_len, double deadline, struct snd_result *res_r)
{
	WOLFSSL *ssl = ssl_v;
	struct buf out = { 0 }, in = { 0 };
	struct wire_limits lim;
	struct wire *w;
	struct wire_chain chain;
	struct wire_bytes *cb = mem_calloc(n_der + 1, sizeof(*cb));
	uint8_t buf[16384];
	size_t k, off = 0;
	int done = 0, r, e;

	memset(res_r, 0, sizeof(*res_r));
	sys_set_nonblock(fd);
	for (k = 0; k < n_der; k++) {
		cb[k].p = der[k];
		cb[k].len = derl[k];
	}
	chain.n_certs = n_der;
	chain.certs = cb;
	if (wire_enc_client_hello(&out, NULL, 0, &chain, 1) < 0) {
		free(cb);
		snprintf(res_r->why, sizeof(res_r->why), "cannot encode the ClientHello");
		buf_free(&out);
		return 0;
	}
	free(cb);
	buf_add(&out, email_frame, email_len);
	wire_limits_default(&lim);
	w = wire_new(&lim, NULL, NULL);
	/* write everything (the server reads while we write) */
	while (off < out.len) {
		size_t n = out.len - off > 16384 ? 16384 : out.len - off;

		r = wolfSSL_write(ssl, out.p + off, (int)n);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		e = wolfSSL_get_error(ssl, r);
		if ((e == WOLFSSL_ERROR_WANT_WRITE || e == WOLFSSL_ERROR_WANT_READ) &&
		    wait_io(fd, ssl, e, deadline))
			continue;
		snprintf(res_r->why, sizeof(res_r->why), "%s while sending",
		    e == WOLFSSL_ERROR_WANT_WRITE || e == WOLFSSL_ERROR_WANT_READ ?
		    "timed out" : "connection lost");
		done = -1;
		break;
	}
	while (done == 0) {
		r = wolfSSL_read(ssl, buf, sizeof(buf));
		if (r > 0) {
			size_t used_all = 0;

			buf_add(&in, buf, (size_t)r);
			while (done == 0 && used_all < in.len) {
				struct wire_frame f;
				size_t used = 0;
				int d = wire_decode(w, in.p + used_all, in.len - used_all, &used, &f);

				used_all += used;
				if (d == 1)
					done = on_frame(&f, res_r);
				else if (d == 0)
					break;
				else if (wire_error(w)->fatal) {
					snprintf(res_r->why, sizeof(res_r->why), "bad frame from server: %s",
					    wire_error(w)->why);
					done = -1;
				}
			}
			buf_consume(&in, used_all);
			continue;
		}
		e = wolfSSL_get_error(ssl, r);
		if ((e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) &&
		    wait_io(fd, ssl, e, deadline))
			continue;
		snprintf(res_r->why, sizeof(res_r->why), "%s before the reply",
		    e == WOLFSSL_ERROR_WANT_WRITE || e == WOLFSSL_ERROR_WANT_READ ?
		    "timed out" : "connection lost");
		done = -1;
	}
	if (done == 1) {
		res_r->why[0] = '\0';
		wolfSSL_shutdown(ssl);	/* close_notify (3.5); the caller closes fd */
	}
	wire_free(&w);
	buf_free(&out);
	buf_free(&in);
	return 0;
}
