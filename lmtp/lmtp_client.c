/*
 * lmtp_client: asynchronous LMTP delivery on libev (SMTPSEC.md 5, 8).
 *
 * A pool of up to `connections` sessions, opened lazily and reused; each
 * carries one transaction at a time: MAIL + RCPTs (pipelined when offered),
 * then BDAT LAST (CHUNKING) or DATA with dot-stuffing, then one reply per
 * accepted recipient.  Transactions wait in a FIFO for a free session.
 *
 * With PIPELINING and CHUNKING, an Email for one recipient of at most
 * LMTP_PIPE_MAX bytes goes as MAIL + RCPT + BDAT LAST + the body in one
 * write, without waiting for the envelope replies: with one recipient the
 * server either accepted it (and the BDAT reply is its delivery reply) or
 * has no recipient (and refuses the BDAT), so the outcome is the same as
 * waiting.  If the envelope fails, the BDAT reply is read and dropped and
 * the Email ends as it would have before the data.  With more recipients a
 * 4xx on one must stop the data (SMTPSEC.md 5), so they wait.
 *
 * BDAT bodies are written straight from the caller's segments (writev,
 * the command line in the same call); DATA bodies go through one bounded
 * chunk buffer per session for the dot-stuffing.  Never copied whole.
 *
 * Ownership: a transaction is owned by the library from lmtp_deliver()
 * until its callback returns.  lmtp_cancel() only drops the callback; the
 * session finishes or aborts the transaction on the wire itself, so a
 * cancel never leaves a session in an unknown state.
 *
 * Truth: a recipient is DELIVERED only on a 2xx after the data, REJECTED on
 * a 5xx, SPOOLED only after the spool file and its directory are fsync'd.
 * Anything else (timeouts, drops, 4xx before the data) leaves it TEMPFAIL.
 */
#include "base/mem.h"
#include "base/buf.h"
#include "lmtp/lmtp.h"
#include "lmtp/lmtp_int.h"

#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define LMTP_LINE_MAX	2048
#define LMTP_CHUNK	(64 * 1024)
#define LMTP_IOV	32		/* iovecs per writev */
#define LMTP_WRITE_MAX	(256 * 1024)	/* body bytes offered per writev */
#define LMTP_PIPE_MAX	(1024 * 1024)	/* larger bodies wait for the envelope replies */

enum env_fail {
	ENV_OK = 0,
	ENV_MAIL_REFUSED,	/* temporary failure */
	ENV_4XX,		/* a 4xx at RCPT: temporary failure */
	ENV_NONE_ACCEPTED,	/* every recipient rejected */
	ENV_DATA_REFUSED,	/* no 354 after DATA: temporary failure */
};

enum sess_state {
	S_CONNECTING = 0,
	S_GREETING,
	S_LHLO,
	S_IDLE,
	S_ENVELOPE,	/* MAIL + RCPT replies */
	S_DATA354,	/* waiting for 354 after DATA */
	S_BODY,		/* writing the message */
	S_FINAL,	/* one reply per accepted recipient */
	S_RSET,
	S_DEAD,
};

struct lmtp_sess {
	struct lmtp *l;
	struct lmtp_sess *next;
	unsigned gen;			/* l->gen when opened: the target it talks to */
	int fd;
	struct ev_io rio, wio;
	struct ev_timer timer;
	enum sess_state state;
	const char *fail_why;		/* why a connect failed at once */
	int pipelining, chunking, eightbit, smtputf8;
	char in[2 * LMTP_LINE_MAX];
	size_t inlen;
	/* a multi-line reply being read */
	int rcode;
	/* commands to write */
	struct buf out;		/* commands not yet written */
	/* body streaming: BDAT from the segments, DATA through chunk */
	uint8_t *chunk;
	size_t chunk_len, chunk_off;
	size_t seg_i, seg_off;
	int stuff;		/* DATA: dot-stuffed through chunk */
	int at_bol;		/* DATA: at the start of a line (dot-stuffing) */
	uint8_t last2[2];	/* last two body bytes sent (final CRLF check) */
	int body_done;
	/* the transaction on this session */
	struct lmtp_tx *tx;
	size_t env_replies;	/* envelope replies received */
	size_t next_cmd;	/* without PIPELINING: next RCPT to send */
	size_t final_replies;
	int mail_ok, any_4xx_envelope;
	int pipe_data;		/* BDAT LAST sent behind the envelope, unanswered */
	int env_fail;		/* pipe_data: the envelope failed (ENV_*); the
				 * BDAT reply is read, then the Email ends */
	const char *refuse;	/* RSET sent instead of MAIL: why the Email cannot go */
	int refuse_none_left;	/* ... because every recipient was rejected (else the
				 * author address: for good, permfail) */
};

struct lmtp_tx {
	struct lmtp *l;
	struct lmtp_tx *next;		/* queue */
	lmtp_cb *cb;			/* NULL once cancelled */
	void *arg;
	char *from;			/* owned, RFC 5321 form (lmtp_addr_smtp) */
	char **rcpt;			/* owned, RFC 5321 form when expressible */
	size_t n_rcpt;
	const char *from_bad;		/* why MAIL FROM cannot be written, or NULL */
	const char **rcpt_bad;		/* owned array: why RCPT i cannot be written */
	unsigned char *rcpt_utf8;	/* owned: recipient i needs SMTPUTF8 */
	size_t *send;			/* owned: indexes of the recipients sent */
	size_t n_send;
	int permfail;
	struct lmtp_seg *seg;		/* owned array, borrowed bytes */
	size_t n_seg;
	uint64_t total;
	int eight_bit, from_utf8;
	const uint8_t *body;		/* lmtp_msg.body, if body_mapped */
	size_t body_len, body_dropped;	/* pages before body + body_dropped were dropped */
	struct lmtp_rcpt_result *res;	/* owned */
	size_t *accepted;		/* indexes of recipients given 2xx at RCPT */
	size_t n_accepted;
	ev_tstamp start;
	struct lmtp_sess *sess;
	/* spool retry: the entry this transaction came from */
	struct lmtp_spool_entry *spool;
	int queued;
};

struct lmtp {
	struct ev_loop *loop;
	struct lmtp_options opt;
	char *own[3];
	int family;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct lmtp_sess *sessions;
	unsigned n_sessions;
	struct lmtp_sess *dead;		/* closed, freed from the reaper */
	struct ev_timer reaper;
	struct lmtp_tx *qhead, *qtail;
	struct lmtp_spool *spool;
	char why_buf[160];		/* a result's reason built at run time */
	unsigned gen;			/* bumped by lmtp_reconfigure */
};

static void sess_close(struct lmtp_sess *s, const char *why);
static void dispatch(struct lmtp *l);
static void tx_finish(struct lmtp_tx *tx, int tempfail, const char *why);

/* --- reply parsing -------------------------------------------------------- */

int
lmtp_reply_line(const char *line, size_t len, int *code_r, int *last_r)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code_r = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last_r = len == 3 || line[3] == ' ';
	return *last_r ? 1 : 0;
}

static void
set_text(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < dlen; i++)
		dst[o++] = (src[i] >= 32 && src[i] < 127 && src[i] != '"') ? src[i] : '?';
	dst[o] = '\0';
}

/* --- output ------------------------------------------------------------------- */

static void
arm_timer(struct lmtp_sess *s, unsigned ms)
{
	ev_timer_stop(s->l->loop, &s->timer);
	ev_timer_set(&s->timer, ms / 1000.0, 0);
	ev_timer_start(s->l->loop, &s->timer);
}

size_t
lmtp_dot_stuff(int *at_bol, const uint8_t *in, size_t n, size_t *used_r, uint8_t *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (cap - o < 2)
			break;
		if (*at_bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		*at_bol = in[i] == '\n';
	}
	*used_r = i;
	return o;
}

static int
in_body(const uint8_t *body, size_t body_len, const struct lmtp_seg *g)
{
	return body != NULL && g->p >= body && g->len <= body_len &&
	    (size_t)(g->p - body) <= body_len - g->len;
}

/*
 * Drop the pages of a mapped body that are sent, up to `upto` (whole pages
 * only).  Read-only private file pages come back from the page cache if a
 * retry reads them again, so this only bounds resident memory.
 */
static void
drop_sent(struct lmtp_tx *tx, const struct lmtp_seg *g, size_t upto)
{
	static size_t pg;
	size_t end;

	if (tx->body == NULL || !in_body(tx->body, tx->body_len, g))
		return;
	if (pg == 0)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	end = (size_t)(g->p - tx->body) + upto;
	end -= end % pg;
	if (end > tx->body_dropped && ((uintptr_t)tx->body % pg) == 0) {
		(void)madvise((void *)(uintptr_t)(tx->body + tx->body_dropped), end - tx->body_dropped,
		    MADV_DONTNEED);
		tx->body_dropped = end;
	}
}

/* DATA: fill the chunk buffer with the next body bytes, dot-stuffed. */
static void
fill_chunk(struct lmtp_sess *s)
{
	struct lmtp_tx *tx = s->tx;

	s->chunk_len = s->chunk_off = 0;
	while (s->chunk_len + 2 <= LMTP_CHUNK - 8 && s->seg_i < tx->n_seg) {
		const struct lmtp_seg *g = &tx->seg[s->seg_i];
		size_t used;

		if (s->seg_off >= g->len) {
			s->seg_i++;
			s->seg_off = 0;
			continue;
		}
		s->chunk_len += lmtp_dot_stuff(&s->at_bol, g->p + s->seg_off, g->len - s->seg_off,
		    &used, s->chunk + s->chunk_len, LMTP_CHUNK - 8 - s->chunk_len);
		s->seg_off += used;
		drop_sent(tx, g, s->seg_off);
		if (s->chunk_len >= 1) {
			s->last2[0] = s->chunk_len >= 2 ? s->chunk[s->chunk_len - 2] : s->last2[1];
			s->last2[1] = s->chunk[s->chunk_len - 1];
		}
	}
	if (s->seg_i >= tx->n_seg && !s->body_done) {
		s->body_done = 1;
		/* the message must end with CRLF before the final dot */
		if (tx->total > 0 && !(s->last2[0] == '\r' && s->last2[1] == '\n')) {
			s->chunk[s->chunk_len++] = '\r';
			s->chunk[s->chunk_len++] = '\n';
		}
		memcpy(s->chunk + s->chunk_len, ".\r\n", 3);
		s->chunk_len += 3;
	}
}

/* BDAT: the body bytes not yet written, as iovecs into the segments (at
 * most `max` of them and LMTP_WRITE_MAX bytes).  Marks the body done when
 * no segment is left. */
static int
body_iov(struct lmtp_sess *s, struct iovec *iov, int max)
{
	struct lmtp_tx *tx = s->tx;
	size_t i = s->seg_i, off = s->seg_off, bytes = 0;
	int n = 0;

	while (i < tx->n_seg && n < max && bytes < LMTP_WRITE_MAX) {
		const struct lmtp_seg *g = &tx->seg[i];
		size_t len = g->len - off;

		if (off >= g->len) {
			i++;
			off = 0;
			continue;
		}
		if (len > LMTP_WRITE_MAX - bytes)
			len = LMTP_WRITE_MAX - bytes;
		iov[n].iov_base = (void *)(uintptr_t)(g->p + off);
		iov[n].iov_len = len;
		n++;
		bytes += len;
		i++;
		off = 0;
	}
	if (n == 0)	/* the loop ends without a vector only past the last segment */
		s->body_done = 1;
	return n;
}

/* BDAT: n body bytes went out. */
static void
body_advance(struct lmtp_sess *s, size_t n)
{
	struct lmtp_tx *tx = s->tx;

	while (n > 0 && s->seg_i < tx->n_seg) {
		const struct lmtp_seg *g = &tx->seg[s->seg_i];
		size_t left = g->len - s->seg_off;

		if (n < left) {
			s->seg_off += n;
			drop_sent(tx, g, s->seg_off);
			return;
		}
		n -= left;
		s->seg_off = g->len;
		drop_sent(tx, g, s->seg_off);
		s->seg_i++;
		s->seg_off = 0;
	}
}

/*
 * Write what is pending: the command bytes, and in S_BODY the body (BDAT
 * from the segments, DATA from the chunk buffer), in one writev each time
 * round; a command line and the body it announces go in the same call.
 */
static void
sess_write(struct lmtp_sess *s)
{
	struct iovec iov[LMTP_IOV];
	ssize_t n;
	size_t cmd, done, used;
	int k;

	for (;;) {
		k = 0;
		cmd = s->out.len;
		if (cmd > 0) {
			iov[k].iov_base = s->out.p;
			iov[k].iov_len = cmd;
			k++;
		}
		if (s->state == S_BODY) {
			if (!s->stuff)
				k += body_iov(s, iov + k, LMTP_IOV - k);
			else {
				if (s->chunk_off == s->chunk_len && !s->body_done)
					fill_chunk(s);
				if (s->chunk_off < s->chunk_len) {
					iov[k].iov_base = s->chunk + s->chunk_off;
					iov[k].iov_len = s->chunk_len - s->chunk_off;
					k++;
				}
			}
		}
		if (k == 0) {
			if (s->state == S_BODY && s->body_done) {
				s->state = S_FINAL;
				s->final_replies = 0;
				arm_timer(s, s->l->opt.timeout_ms);
			}
			break;
		}
		n = writev(s->fd, iov, k);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			sess_close(s, "write failed");
			return;
		}
		done = (size_t)n;
		used = done < cmd ? done : cmd;	/* the command bytes went first */
		buf_consume(&s->out, used);
		done -= used;
		if (done > 0) {
			if (s->stuff)
				s->chunk_off += done;
			else
				body_advance(s, done);
			arm_timer(s, s->l->opt.timeout_ms);	/* progress */
		}
	}
	if (s->out.len > 0 || s->state == S_BODY)
		ev_io_start(s->l->loop, &s->wio);
	else
		ev_io_stop(s->l->loop, &s->wio);
}

/* --- transaction steps ---------------------------------------------------- */

static void
begin_data(struct lmtp_sess *s)
{
	struct lmtp_tx *tx = s->tx;

	s->seg_i = s->seg_off = 0;
	tx->body_dropped = 0;
	s->at_bol = 1;
	s->body_done = 0;
	s->last2[0] = s->last2[1] = 0;
	s->chunk_len = s->chunk_off = 0;
	if (s->chunking && !s->l->opt.no_chunking) {
		buf_printf(&s->out, "BDAT %llu LAST\r\n", (unsigned long long)tx->total);
		s->stuff = 0;
		s->state = S_BODY;
	} else {
		buf_add(&s->out, "DATA\r\n", 6);
		s->stuff = 1;
		s->state = S_DATA354;
	}
	arm_timer(s, s->l->opt.timeout_ms);
	sess_write(s);
}

static void
start_tx(struct lmtp_sess *s, struct lmtp_tx *tx)
{
	size_t i;
	int utf8 = 0;

	s->tx = tx;
	tx->sess = s;
	s->state = S_ENVELOPE;
	s->env_replies = 0;
	s->mail_ok = 0;
	s->any_4xx_envelope = 0;
	s->pipe_data = 0;
	s->env_fail = ENV_OK;
	s->next_cmd = 0;
	/* recipients this server cannot take as written: rejected for good
	 * (unknown_address), the others go on (README, Delivery) */
	tx->n_send = 0;
	for (i = 0; i < tx->n_rcpt; i++) {
		const char *why = tx->rcpt_bad[i];

		if (why == NULL && tx->rcpt_utf8[i] && !s->smtputf8)
			why = "non-ASCII address but the LMTP server does not offer SMTPUTF8";
		if (why != NULL) {
			tx->res[i].status = LMTP_RCPT_REJECTED;
			set_text(tx->res[i].text, sizeof(tx->res[i].text), why, strlen(why));
			continue;
		}
		if (tx->rcpt_utf8[i])
			utf8 = 1;
		tx->send[tx->n_send++] = i;
	}
	s->refuse = tx->from_bad;
	if (s->refuse == NULL && tx->from_utf8 && !s->smtputf8)
		s->refuse = "non-ASCII author address but the LMTP server does not offer SMTPUTF8";
	s->refuse_none_left = 0;
	if (s->refuse == NULL && tx->n_send == 0) {
		s->refuse = "every recipient rejected";
		s->refuse_none_left = 1;
	}
	if (s->refuse != NULL) {
		/* cannot be sent: finish the Email from the loop (the RSET
		 * reply, S_RSET), never from inside lmtp_deliver() */
		s->state = S_RSET;
		buf_add(&s->out, "RSET\r\n", 6);
		arm_timer(s, s->l->opt.timeout_ms);
		sess_write(s);
		return;
	}
	buf_printf(&s->out, "MAIL FROM:<%s>%s%s\r\n", tx->from,
	    tx->eight_bit && s->eightbit ? " BODY=8BITMIME" : "",
	    (utf8 || tx->from_utf8) && s->smtputf8 ? " SMTPUTF8" : "");
	if (s->pipelining) {
		for (i = 0; i < tx->n_send; i++)
			buf_printf(&s->out, "RCPT TO:<%s>\r\n", tx->rcpt[tx->send[i]]);
		s->next_cmd = tx->n_send;
		if (tx->n_send == 1 && s->chunking && !s->l->opt.no_chunking &&
		    tx->total <= LMTP_PIPE_MAX) {
			/* BDAT LAST and the body behind the envelope (top of file) */
			s->pipe_data = 1;
			begin_data(s);
			return;
		}
	}
	arm_timer(s, s->l->opt.timeout_ms);
	sess_write(s);
}

static void
sess_idle(struct lmtp_sess *s)
{
	if (s->gen != s->l->gen) {
		/* opened before a reconfiguration: its transaction is done */
		struct lmtp *l = s->l;

		s->tx = NULL;
		sess_close(s, "reconfigured");
		dispatch(l);
		return;
	}
	s->tx = NULL;
	s->state = S_IDLE;
	arm_timer(s, s->l->opt.idle_ms);
	dispatch(s->l);
}

/* The envelope or DATA failed (s->env_fail): the Email ends without data. */
static void
env_fail_finish(struct lmtp_sess *s)
{
	static const char *const why[] = { "", "MAIL FROM refused", "4xx at RCPT",
	    "every recipient rejected", "DATA refused" };
	struct lmtp_tx *tx = s->tx;
	int how = s->env_fail;

	s->env_fail = ENV_OK;
	s->pipe_data = 0;
	s->tx = NULL;
	tx->sess = NULL;
	s->state = S_RSET;
	tx_finish(tx, how != ENV_NONE_ACCEPTED, why[how]);
}

/* ... and the session goes on after RSET */
static void
env_fail_end(struct lmtp_sess *s)
{
	env_fail_finish(s);
	buf_add(&s->out, "RSET\r\n", 6);
	sess_write(s);
}

static void
envelope_reply(struct lmtp_sess *s, int code, const char *text)
{
	struct lmtp_tx *tx = s->tx;
	size_t k = s->env_replies++;

	if (k == 0) {
		s->mail_ok = code / 100 == 2;
		if (!s->mail_ok && !s->pipelining) {
			/* nothing else was sent: done */
			s->env_replies = tx->n_send + 1;
		}
	} else {
		struct lmtp_rcpt_result *r = &tx->res[tx->send[k - 1]];

		r->code = code;
		set_text(r->text, sizeof(r->text), text, strlen(text));
		if (code / 100 == 2 && s->mail_ok)
			tx->accepted[tx->n_accepted++] = tx->send[k - 1];
		else if (code / 100 == 5)
			r->status = LMTP_RCPT_REJECTED;
		else if (code / 100 == 4)
			s->any_4xx_envelope = 1;
	}
	if (!s->pipelining && s->mail_ok && s->next_cmd < tx->n_send) {
		buf_printf(&s->out, "RCPT TO:<%s>\r\n", tx->rcpt[tx->send[s->next_cmd++]]);
		sess_write(s);
		return;
	}
	if (s->env_replies < tx->n_send + 1)
		return;
	/* SMTPSEC.md 5: a 4xx before the data is a temporary failure of the
	 * whole Email, with nothing delivered; so is a refused MAIL FROM */
	if (!s->mail_ok || s->any_4xx_envelope) {
		size_t i;

		for (i = 0; i < tx->n_rcpt; i++)
			if (tx->res[i].status == LMTP_RCPT_REJECTED && s->mail_ok)
				continue;
			else
				tx->res[i].status = LMTP_RCPT_TEMPFAIL;
		s->env_fail = !s->mail_ok ? ENV_MAIL_REFUSED : ENV_4XX;
	} else if (tx->n_accepted == 0)
		s->env_fail = ENV_NONE_ACCEPTED;
	if (s->pipe_data) {
		/* the BDAT is on its way: its reply is the delivery reply,
		 * or with a failed envelope read first (env_fail_end) */
		return;
	}
	if (s->env_fail != ENV_OK) {
		env_fail_end(s);
		return;
	}
	begin_data(s);
}

static void
final_reply(struct lmtp_sess *s, int code, const char *text)
{
	struct lmtp_tx *tx = s->tx;
	struct lmtp_rcpt_result *r;

	if (s->final_replies >= tx->n_accepted) {
		sess_close(s, "unexpected reply");
		return;
	}
	r = &tx->res[tx->accepted[s->final_replies++]];
	r->code = code;
	set_text(r->text, sizeof(r->text), text, strlen(text));
	if (code / 100 == 2)
		r->status = LMTP_RCPT_DELIVERED;
	else if (code / 100 == 5)
		r->status = LMTP_RCPT_REJECTED;
	else
		r->status = LMTP_RCPT_TEMPFAIL;	/* 4xx: spooled in tx_finish */
	if (s->final_replies < tx->n_accepted)
		return;
	s->tx = NULL;
	tx->sess = NULL;
	tx_finish(tx, 0, "");
	sess_idle(s);
}

static void
on_reply(struct lmtp_sess *s, int code, const char *text)
{
	switch (s->state) {
	case S_GREETING:
		if (code != 220) {
			sess_close(s, "bad greeting");
			return;
		}
		buf_printf(&s->out, "LHLO %s\r\n", s->l->opt.lhlo_name);
		s->state = S_LHLO;
		arm_timer(s, s->l->opt.timeout_ms);
		sess_write(s);
		return;
	case S_LHLO:
		if (code != 250) {
			sess_close(s, "LHLO refused");
			return;
		}
		sess_idle(s);
		return;
	case S_ENVELOPE:
		envelope_reply(s, code, text);
		return;
	case S_DATA354:
		if (code != 354) {
			/* every accepted recipient: not delivered (still
			 * LMTP_RCPT_TEMPFAIL, nothing after RCPT changed it) */
			s->env_fail = ENV_DATA_REFUSED;
			env_fail_end(s);
			return;
		}
		s->state = S_BODY;
		sess_write(s);
		return;
	case S_FINAL:
		if (s->pipe_data && s->env_replies < s->tx->n_send + 1)
			envelope_reply(s, code, text);
		else if (s->env_fail != ENV_OK)
			env_fail_end(s);	/* the refused BDAT's reply */
		else
			final_reply(s, code, text);
		return;
	case S_RSET:
		if (s->tx != NULL) {
			/* the RSET start_tx sent instead of MAIL: the Email ends
			 * (every recipient rejected: unknown_address for all;
			 * else the author address, for good: permfail) */
			struct lmtp_tx *tx = s->tx;

			s->tx = NULL;
			tx->sess = NULL;
			tx->permfail = !s->refuse_none_left;
			tx_finish(tx, !s->refuse_none_left, s->refuse);
		}
		if (code / 100 != 2) {
			sess_close(s, "RSET refused");
			return;
		}
		sess_idle(s);
		return;
	case S_BODY:
		if (s->pipe_data && s->env_replies < s->tx->n_send + 1) {
			envelope_reply(s, code, text);	/* pipelined ahead of the body */
			return;
		}
		/* a reply while we still send the data: the server gave up;
		 * after a failed envelope that is the BDAT's refusal, early:
		 * the Email ends as the envelope said, the session cannot go on */
		if (s->env_fail != ENV_OK)
			env_fail_finish(s);
		sess_close(s, "reply during data");
		return;
	default:
		sess_close(s, "unexpected reply");
		return;
	}
}

/* Capabilities from the LHLO reply lines. */
static void
lhlo_line(struct lmtp_sess *s, const char *line, size_t len)
{
	const char *kw = line + 4;
	size_t kl = len > 4 ? len - 4 : 0;

#define KW(x) (kl >= sizeof(x) - 1 && strncasecmp(kw, x, sizeof(x) - 1) == 0 && \
	(kl == sizeof(x) - 1 || kw[sizeof(x) - 1] == ' '))
	if (KW("PIPELINING"))
		s->pipelining = 1;
	else if (KW("CHUNKING"))
		s->chunking = 1;
	else if (KW("8BITMIME"))
		s->eightbit = 1;
	else if (KW("SMTPUTF8"))
		s->smtputf8 = 1;
#undef KW
}

static void
on_read(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct lmtp_sess *s = (struct lmtp_sess *)((char *)w - offsetof(struct lmtp_sess, rio));
	ssize_t n;

	(void)loop;
	(void)revents;
	if (s->state == S_DEAD)
		return;
	n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		sess_close(s, n == 0 ? "connection closed by server" : "read failed");
		return;
	}
	s->inlen += (size_t)n;
	for (;;) {
		char *nl = memchr(s->in, '\n', s->inlen), text[160];
		size_t ll, used;
		int code, last;

		if (nl == NULL) {
			if (s->inlen > LMTP_LINE_MAX)
				sess_close(s, "reply line too long");
			return;
		}
		used = (size_t)(nl - s->in) + 1;
		ll = used - 1;
		if (ll > 0 && s->in[ll - 1] == '\r')
			ll--;
		if (ll > LMTP_LINE_MAX || lmtp_reply_line(s->in, ll, &code, &last) < 0) {
			sess_close(s, "malformed reply");
			return;
		}
		if (s->rcode != 0 && s->rcode != code) {
			sess_close(s, "reply code changed inside a multi-line reply");
			return;
		}
		s->rcode = last ? 0 : code;
		if (s->state == S_LHLO)
			lhlo_line(s, s->in, ll);
		if (last)
			set_text(text, sizeof(text), s->in, ll);
		memmove(s->in, s->in + used, s->inlen - used);
		s->inlen -= used;
		if (last) {
			on_reply(s, code, text);
			if (s->state == S_DEAD)
				return;		/* closed; freed later by the reaper */
		}
	}
}

static void
on_writable(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct lmtp_sess *s = (struct lmtp_sess *)((char *)w - offsetof(struct lmtp_sess, wio));

	(void)loop;
	(void)revents;
	if (s->state == S_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			sess_close(s, "connect failed");
			return;
		}
		s->state = S_GREETING;
		ev_io_stop(s->l->loop, &s->wio);
		ev_io_start(s->l->loop, &s->rio);
		arm_timer(s, s->l->opt.timeout_ms);
		return;
	}
	sess_write(s);
}

static void
on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct lmtp_sess *s = (struct lmtp_sess *)((char *)w - offsetof(struct lmtp_sess, timer));

	(void)loop;
	(void)revents;
	sess_close(s, s->state == S_IDLE ? "idle" : s->fail_why ? s->fail_why : "timeout");
}

/* Close a session; its transaction, if any, ends with what it has. */
static void
sess_close(struct lmtp_sess *s, const char *why)
{
	struct lmtp *l = s->l;
	struct lmtp_sess **pp;
	struct lmtp_tx *tx = s->tx;
	int connect_phase = s->state < S_IDLE;

	if (s->fd >= 0) {
		ev_io_stop(l->loop, &s->rio);
		ev_io_stop(l->loop, &s->wio);
		close(s->fd);
		s->fd = -1;
	}
	ev_timer_stop(l->loop, &s->timer);
	for (pp = &l->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	l->n_sessions--;
	s->state = S_DEAD;
	s->tx = NULL;
	if (tx != NULL) {
		size_t i, delivered = 0;

		tx->sess = NULL;
		/* accepted recipients without a final 2xx/5xx: not delivered */
		for (i = 0; i < tx->n_rcpt; i++)
			if (tx->res[i].status == LMTP_RCPT_DELIVERED)
				delivered++;
			else if (tx->res[i].status != LMTP_RCPT_REJECTED)
				tx->res[i].status = LMTP_RCPT_TEMPFAIL;
		tx_finish(tx, delivered == 0, why);
	}
	/* The server could not be reached or greeted, and no other session is
	 * left to take the queue: every waiting Email fails now, instead of
	 * reconnecting in a loop.  The next delivery tries again. */
	if (connect_phase && l->n_sessions == 0) {
		while (l->qhead != NULL) {
			struct lmtp_tx *q = l->qhead;
			size_t i;

			l->qhead = q->next;
			if (l->qhead == NULL)
				l->qtail = NULL;
			q->queued = 0;
			for (i = 0; i < q->n_rcpt; i++)
				q->res[i].status = LMTP_RCPT_TEMPFAIL;
			tx_finish(q, 1, why);
		}
	}
	/* callers up the stack may still look at s: free it from the loop */
	s->next = l->dead;
	l->dead = s;
	if (!ev_is_active(&l->reaper)) {
		ev_timer_set(&l->reaper, 0, 0);
		ev_timer_start(l->loop, &l->reaper);
	}
	dispatch(l);
}

static void
reap(struct lmtp *l)
{
	while (l->dead) {
		struct lmtp_sess *s = l->dead;

		l->dead = s->next;
		buf_free(&s->out);
		free(s->chunk);
		free(s);
	}
}

static void
on_reaper(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	reap((struct lmtp *)((char *)w - offsetof(struct lmtp, reaper)));
}

static struct lmtp_sess *
sess_open(struct lmtp *l)
{
	struct lmtp_sess *s = mem_calloc(1, sizeof(*s));
	int fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	s->l = l;
	s->gen = l->gen;
	s->state = S_CONNECTING;
	s->chunk = mem_alloc(LMTP_CHUNK + 16);
	s->fd = fd;
	ev_io_init(&s->rio, on_read, fd, EV_READ);
	ev_io_init(&s->wio, on_writable, fd, EV_WRITE);
	ev_init(&s->timer, on_timer);
	s->next = l->sessions;
	l->sessions = s;
	l->n_sessions++;
	if (fd < 0 || (connect(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0 && errno != EINPROGRESS)) {
		s->fail_why = "connect failed";
		/* report from the loop, not from inside lmtp_deliver() */
		ev_timer_set(&s->timer, 0, 0);
		ev_timer_start(l->loop, &s->timer);
		return s;
	}
	ev_io_start(l->loop, &s->wio);
	arm_timer(s, l->opt.timeout_ms);
	return s;
}

/* --- queue and results -------------------------------------------------------- */

static void
dispatch(struct lmtp *l)
{
	struct lmtp_sess *s;
	struct lmtp_tx *tx;

	while (l->qhead != NULL) {
		for (s = l->sessions; s != NULL; s = s->next)
			if (s->state == S_IDLE)
				break;
		if (s == NULL) {
			unsigned busy = 0;

			for (s = l->sessions; s != NULL; s = s->next)
				if (s->state < S_IDLE)
					busy++;	/* still connecting */
			/* open one more session per waiting transaction, up to the cap */
			if (l->n_sessions < l->opt.connections && busy == 0)
				sess_open(l);
			return;
		}
		tx = l->qhead;
		l->qhead = tx->next;
		if (l->qhead == NULL)
			l->qtail = NULL;
		tx->next = NULL;
		tx->queued = 0;
		start_tx(s, tx);
	}
}

static void
tx_free(struct lmtp_tx *tx)
{
	size_t i;

	free(tx->from);
	for (i = 0; i < tx->n_rcpt; i++)
		free(tx->rcpt[i]);
	free(tx->rcpt);
	free(tx->rcpt_bad);
	free(tx->rcpt_utf8);
	free(tx->send);
	free(tx->seg);
	free(tx->res);
	free(tx->accepted);
	free(tx);
}

static void
tx_finish(struct lmtp_tx *tx, int tempfail, const char *why)
{
	struct lmtp *l = tx->l;
	struct lmtp_result r;
	size_t i, n4 = 0;

	/* 4xx after the data: to the spool, then they count as delivered */
	if (!tempfail) {
		for (i = 0; i < tx->n_rcpt; i++)
			if (tx->res[i].status == LMTP_RCPT_TEMPFAIL && tx->res[i].code / 100 == 4)
				n4++;
		if (n4 > 0 && tx->spool == NULL && l->spool != NULL) {
			const char **rc = mem_calloc(n4, sizeof(*rc));
			size_t k = 0;

			for (i = 0; i < tx->n_rcpt; i++)
				if (tx->res[i].status == LMTP_RCPT_TEMPFAIL && tx->res[i].code / 100 == 4)
					rc[k++] = tx->rcpt[i];
			if (lmtp_spool_write(l->spool, tx->from, rc, k, tx->seg, tx->n_seg) == 0) {
				for (i = 0; i < tx->n_rcpt; i++)
					if (tx->res[i].status == LMTP_RCPT_TEMPFAIL && tx->res[i].code / 100 == 4)
						tx->res[i].status = LMTP_RCPT_SPOOLED;
			} else {
				/* they stay undelivered: the Email is a temporary
				 * failure and the sender retries (README, Delivery) */
				snprintf(l->why_buf, sizeof(l->why_buf),
				    "4xx after the data and the spool cannot be written: %s", strerror(errno));
				why = l->why_buf;
			}
			free(rc);
		}
	}
	memset(&r, 0, sizeof(r));
	r.tempfail = tempfail;
	r.permfail = tempfail && tx->permfail;
	r.why = why;
	r.n_rcpt = tx->n_rcpt;
	r.rcpt = tx->res;
	r.latency_us = (uint64_t)((ev_now(l->loop) - tx->start) * 1e6);
	if (tx->spool != NULL)
		lmtp_spool_done(l->spool, tx->spool, &r, (const char *const *)tx->rcpt);
	else if (tx->cb != NULL)
		tx->cb(tx->arg, &r);
	tx_free(tx);
}

/* Addresses go into command lines: written as RFC 5321 allows
 * (lmtp_addr_smtp), or not at all. */
static char *
smtp_addr(const char *a, int *utf8_r, const char **why_r)
{
	char buf[LMTP_ADDR_MAX + 1];

	if (lmtp_addr_smtp(a, buf, sizeof(buf), utf8_r, why_r) < 0)
		return mem_strdup(a);
	*why_r = NULL;
	return mem_strdup(buf);
}

struct lmtp_tx *
lmtp_deliver(struct lmtp *l, const struct lmtp_msg *m, lmtp_cb *cb, void *arg)
{
	struct lmtp_tx *tx = mem_calloc(1, sizeof(*tx));
	size_t i, j;

	tx->l = l;
	tx->cb = cb;
	tx->arg = arg;
	tx->from = smtp_addr(m->mail_from, &tx->from_utf8, &tx->from_bad);
	tx->n_rcpt = m->n_rcpt;
	tx->rcpt = mem_calloc(m->n_rcpt, sizeof(*tx->rcpt));
	tx->rcpt_bad = mem_calloc(m->n_rcpt, sizeof(*tx->rcpt_bad));
	tx->rcpt_utf8 = mem_calloc(m->n_rcpt, sizeof(*tx->rcpt_utf8));
	tx->send = mem_calloc(m->n_rcpt, sizeof(*tx->send));
	for (i = 0; i < m->n_rcpt; i++) {
		int u = 0;

		tx->rcpt[i] = smtp_addr(m->rcpt[i], &u, &tx->rcpt_bad[i]);
		tx->rcpt_utf8[i] = (unsigned char)u;
	}
	tx->n_seg = m->n_seg;
	tx->seg = mem_calloc(m->n_seg, sizeof(*tx->seg));
	memcpy(tx->seg, m->seg, m->n_seg * sizeof(*tx->seg));
	for (i = 0; i < m->n_seg; i++) {
		const struct lmtp_seg *g = &m->seg[i];

		tx->total += g->len;
		if (m->body_8bit >= 0 && in_body(m->body, m->body_len, g)) {
			tx->eight_bit |= m->body_8bit;
			continue;
		}
		for (j = 0; j < g->len && !tx->eight_bit; j++)
			if (g->p[j] >= 0x80)
				tx->eight_bit = 1;
	}
	if (m->body_mapped) {
		tx->body = m->body;
		tx->body_len = m->body_len;
	}
	tx->res = mem_calloc(m->n_rcpt, sizeof(*tx->res));
	tx->accepted = mem_calloc(m->n_rcpt, sizeof(*tx->accepted));
	tx->start = ev_now(l->loop);
	tx->queued = 1;
	if (l->qtail)
		l->qtail->next = tx;
	else
		l->qhead = tx;
	l->qtail = tx;
	/* never call back before returning: an idle session is used right
	 * away, but its replies come from the loop */
	dispatch(l);
	return tx;
}

struct lmtp_tx *
lmtp_deliver_spooled(struct lmtp *l, const struct lmtp_msg *m, struct lmtp_spool_entry *e)
{
	struct lmtp_tx *tx = lmtp_deliver(l, m, NULL, NULL);

	tx->spool = e;
	return tx;
}

void
lmtp_cancel(struct lmtp_tx **tx_p)
{
	struct lmtp_tx *tx = *tx_p, **pp;
	struct lmtp *l;

	if (tx == NULL)
		return;
	*tx_p = NULL;
	l = tx->l;
	if (tx->queued) {
		struct lmtp_tx *prev = NULL;

		for (pp = &l->qhead; *pp != NULL; prev = *pp, pp = &(*pp)->next)
			if (*pp == tx) {
				*pp = tx->next;
				if (l->qtail == tx)
					l->qtail = prev;
				break;
			}
		tx_free(tx);
		return;
	}
	/* on the wire: the session finishes it; nobody is told */
	tx->cb = NULL;
}

uint64_t
lmtp_spool_depth(const struct lmtp *l)
{
	return l->spool != NULL ? lmtp_spool_entries(l->spool) : 0;
}

/* "unix:/path" or "host:port" into a socket address. */
static int
parse_target(const char *target, struct sockaddr_storage *addr, socklen_t *addrlen_r, int *family_r,
    char *err, size_t errlen)
{
	memset(addr, 0, sizeof(*addr));
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)addr;

		if (strlen(target + 5) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "LMTP socket path too long");
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, target + 5);
		*addrlen_r = sizeof(*un);
		*family_r = AF_UNIX;
	} else {
		char host[256];
		const char *colon = strrchr(target, ':');
		struct addrinfo hints, *res = NULL;
		size_t hl;
		int rc;

		if (colon == NULL || (hl = (size_t)(colon - target)) == 0 || hl >= sizeof(host)) {
			snprintf(err, errlen, "LMTP target '%s' is not unix:/path or host:port", target);
			return -1;
		}
		memcpy(host, target, hl);
		host[hl] = '\0';
		if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0 || res == NULL) {
			snprintf(err, errlen, "LMTP target '%s': %s", target, gai_strerror(rc));
			return -1;
		}
		memcpy(addr, res->ai_addr, res->ai_addrlen);
		*addrlen_r = res->ai_addrlen;
		*family_r = res->ai_family;
		freeaddrinfo(res);
	}
	return 0;
}

int
lmtp_reconfigure(struct lmtp *l, const char *target, unsigned timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int family;
	struct lmtp_sess *s, *nx;

	if (parse_target(target, &addr, &addrlen, &family, err, errlen) < 0)
		return -1;
	if (timeout_ms)
		l->opt.timeout_ms = timeout_ms;
	if (strcmp(target, l->opt.target) == 0)
		return 0;
	free(l->own[0]);
	l->opt.target = l->own[0] = mem_strdup(target);
	l->addr = addr;
	l->addrlen = addrlen;
	l->family = family;
	/* new sessions go to the new target; idle ones close now, busy ones
	 * once their transaction is done (sess_idle) */
	l->gen++;
	for (s = l->sessions; s != NULL; s = nx) {
		nx = s->next;
		if (s->state == S_IDLE)
			sess_close(s, "reconfigured");
	}
	return 0;
}

int
lmtp_init(struct lmtp **l_r, struct ev_loop *loop, const struct lmtp_options *opt, char *err, size_t errlen)
{
	struct lmtp *l = mem_calloc(1, sizeof(*l));

	*l_r = NULL;
	l->loop = loop;
	ev_init(&l->reaper, on_reaper);
	l->opt = *opt;
	l->opt.target = l->own[0] = mem_strdup(opt->target ? opt->target : "");
	l->opt.lhlo_name = l->own[1] = mem_strdup(opt->lhlo_name ? opt->lhlo_name : "localhost");
	l->opt.spool_dir = l->own[2] = opt->spool_dir ? mem_strdup(opt->spool_dir) : NULL;
	if (l->opt.connections == 0)
		l->opt.connections = 8;
	if (l->opt.timeout_ms == 0)
		l->opt.timeout_ms = 60000;
	if (l->opt.idle_ms == 0)
		l->opt.idle_ms = 30000;
	if (parse_target(l->opt.target, &l->addr, &l->addrlen, &l->family, err, errlen) < 0)
		goto fail;
	if (l->opt.spool_dir != NULL &&
	    lmtp_spool_open(&l->spool, l, loop, &l->opt, err, errlen) < 0)
		goto fail;
	*l_r = l;
	return 0;
fail:
	lmtp_deinit(&l);
	return -1;
}

void
lmtp_deinit(struct lmtp **l_p)
{
	struct lmtp *l = *l_p;
	size_t i;

	if (l == NULL)
		return;
	while (l->qhead) {
		struct lmtp_tx *tx = l->qhead;

		l->qhead = tx->next;
		tx_free(tx);
	}
	while (l->sessions) {
		struct lmtp_sess *s = l->sessions;

		if (s->tx) {
			s->tx->cb = NULL;
			s->tx->spool = NULL;
		}
		sess_close(s, "shutdown");
	}
	lmtp_spool_close(&l->spool);
	ev_timer_stop(l->loop, &l->reaper);
	reap(l);
	for (i = 0; i < 3; i++)
		free(l->own[i]);
	free(l);
	*l_p = NULL;
}
