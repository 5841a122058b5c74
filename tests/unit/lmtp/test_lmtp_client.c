/*
 * test_lmtp_client: the LMTP client and the spool against a scripted LMTP
 * server on a thread (a fake, for the cases Dovecot cannot be made to
 * produce on demand: 4xx at RCPT, partial 4xx after the data, a spool
 * retry where only some recipients get through, a spool that cannot be
 * written, and entries left by an earlier run).
 *
 * The fake server: MAIL FROM "busy*" -> 451 (then RCPT -> 503); RCPT
 * "unknown*" -> 550, "busy*" -> 451; after the data "fullA*" -> 452 while
 * full_level >= 1, "fullB*" -> 452 while >= 2, others 250; a BDAT without
 * an accepted recipient -> 554, as Dovecot; after RCPT "early*" (550) that
 * 554 comes before any body byte is read, and the server reads no more
 * until the client hangs up.  It records each delivery per
 * recipient, and whether the BDAT line of a transaction had arrived before
 * it answered the last RCPT (the client pipelined the data).
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lmtp/lmtp.h"
#include "tests/unit/t.h"

static int srv_fd = -1;
static volatile int full_level;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char delivered_to[64][64];
static int n_delivered;
static uint8_t last_msg[8192];
static char last_mail[1100];
static size_t last_len;
static int bdat_early, n_bdat_refused, early_hup;
static char tmpdir[256], sock_path[300];

static void
scpy(char *d, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(d, src, n);
	d[n] = '\0';
}

struct rd {
	int fd;
	char buf[8192];
	size_t len;
};

static int
rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->len == sizeof(r->buf))
		return -1;
	n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	return 0;
}

static int
rd_line(struct rd *r, char *out, size_t cap)
{
	char *nl;

	while ((nl = memchr(r->buf, '\n', r->len)) == NULL)
		if (rd_fill(r) < 0)
			return -1;
	{
		size_t ll = (size_t)(nl - r->buf) + 1, keep = ll < cap ? ll : cap - 1;

		memcpy(out, r->buf, keep);
		out[keep] = '\0';
		memmove(r->buf, r->buf + ll, r->len - ll);
		r->len -= ll;
	}
	return 0;
}

static void
say(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n)
		return;
}

static void
serve(int c)
{
	struct rd r = { c, { 0 }, 0 };
	char line[1100], rc[16][64];
	int n_rc = 0, mail_ok = 0, early = 0, i;

	say(c, "220 fake LMTP ready\r\n");
	mail_ok = 0;
	while (rd_line(&r, line, sizeof(line)) == 0) {
		if (strncasecmp(line, "LHLO", 4) == 0)
			say(c, "250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
		else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			n_rc = 0;
			early = 0;
			pthread_mutex_lock(&mu);
			scpy(last_mail, sizeof(last_mail), line);
			bdat_early = 0;
			pthread_mutex_unlock(&mu);
			mail_ok = strncmp(line + 10, "<busy", 5) != 0;
			say(c, mail_ok ? "250 2.1.0 OK\r\n" : "451 4.3.0 sender busy\r\n");
		} else if (strncasecmp(line, "RCPT TO:<", 9) == 0) {
			char *a = line + 9, *e = strchr(a, '>');

			if (e)
				*e = '\0';
			pthread_mutex_lock(&mu);
			bdat_early = memmem(r.buf, r.len, "BDAT ", 5) != NULL;
			pthread_mutex_unlock(&mu);
			if (!mail_ok)
				say(c, "503 5.5.1 MAIL needed first\r\n");
			else if (strncmp(a, "unknown", 7) == 0 || strncmp(a, "early", 5) == 0) {
				early = strncmp(a, "early", 5) == 0;
				say(c, "550 5.1.1 <unknown> User doesn't exist\r\n");
			}
			else if (strncmp(a, "busy", 4) == 0)
				say(c, "451 4.3.0 try later\r\n");
			else if (n_rc < 16) {
				scpy(rc[n_rc++], sizeof(rc[0]), a);
				say(c, "250 2.1.5 OK\r\n");
			}
		} else if (strncasecmp(line, "BDAT ", 5) == 0) {
			size_t want = strtoul(line + 5, NULL, 10);

			if (early) {
				struct pollfd pf = { c, POLLRDHUP, 0 };

				pthread_mutex_lock(&mu);
				n_bdat_refused++;
				pthread_mutex_unlock(&mu);
				say(c, "554 5.5.1 No valid recipients\r\n");
				i = poll(&pf, 1, 5000) == 1 && (pf.revents & (POLLRDHUP | POLLHUP)) != 0;
				pthread_mutex_lock(&mu);
				early_hup = i;
				pthread_mutex_unlock(&mu);
				return;
			}
			while (r.len < want)
				if (rd_fill(&r) < 0)
					return;
			pthread_mutex_lock(&mu);
			last_len = want < sizeof(last_msg) ? want : sizeof(last_msg);
			memcpy(last_msg, r.buf, last_len);
			memmove(r.buf, r.buf + want, r.len - want);
			r.len -= want;
			if (n_rc == 0) {
				n_bdat_refused++;
				say(c, "554 5.5.1 No valid recipients\r\n");
			}
			for (i = 0; i < n_rc; i++) {
				if ((strncmp(rc[i], "fullA", 5) == 0 && full_level >= 2) ||
				    (strncmp(rc[i], "fullB", 5) == 0 && full_level >= 1)) {
					say(c, "452 4.2.2 Quota exceeded\r\n");
					continue;
				}
				if (n_delivered < 64)
					scpy(delivered_to[n_delivered++], 64, rc[i]);
				say(c, "250 2.0.0 Saved\r\n");
			}
			pthread_mutex_unlock(&mu);
		} else if (strncasecmp(line, "RSET", 4) == 0)
			say(c, "250 2.0.0 OK\r\n");
		else if (strncasecmp(line, "QUIT", 4) == 0) {
			say(c, "221 bye\r\n");
			return;
		} else
			say(c, "500 5.5.1 what\r\n");
	}
}

static void *
server(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv_fd, NULL, NULL);

		if (c < 0)
			return NULL;
		serve(c);
		close(c);
	}
}

static int
count_to(const char *a)
{
	int i, n = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < n_delivered; i++)
		n += strcmp(delivered_to[i], a) == 0;
	pthread_mutex_unlock(&mu);
	return n;
}

/* --- driving the loop ------------------------------------------------------ */

struct got {
	int done, tempfail, permfail, early;
	size_t n;
	struct lmtp_rcpt_result r[16];
	char why[128];
};

static void
on_done(void *arg, const struct lmtp_result *res)
{
	struct got *g = arg;
	size_t i;

	g->done++;
	g->tempfail = res->tempfail;
	g->permfail = res->permfail;
	g->n = res->n_rcpt;
	scpy(g->why, sizeof(g->why), res->why ? res->why : "");
	for (i = 0; i < res->n_rcpt && i < 16; i++)
		g->r[i] = res->rcpt[i];
}

static void
on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until g is done (or for `secs` when g is NULL). */
static void
run(struct ev_loop *loop, struct got *g, double secs)
{
	ev_timer stop;
	ev_tstamp end = ev_time() + secs;

	ev_timer_init(&stop, on_stop, 0.02, 0.02);
	ev_timer_start(loop, &stop);
	while ((g == NULL || !g->done) && ev_time() < end)
		ev_run(loop, 0);
	ev_timer_stop(loop, &stop);
}

static const uint8_t head[] = "X-Head: prepended\r\n";
static const uint8_t body[] = "From: a@a.test\r\nSubject: t\r\n\r\n.dot line\r\nbody\r\n";

static struct got
deliver_from(struct lmtp *l, struct ev_loop *loop, const char *from, const char *const *rcpt,
    size_t n)
{
	struct lmtp_seg seg[2] = { { head, sizeof(head) - 1 }, { body, sizeof(body) - 1 } };
	struct lmtp_msg m = { from, rcpt, n, seg, 2, NULL, 0, -1, 0 };
	struct got g;

	memset(&g, 0, sizeof(g));
	lmtp_deliver(l, &m, on_done, &g);
	g.early = g.done;	/* must be 0: never called back before returning */
	run(loop, &g, 10);
	return g;
}

static struct got
deliver(struct lmtp *l, struct ev_loop *loop, const char *const *rcpt, size_t n)
{
	return deliver_from(l, loop, "a@a.test", rcpt, n);
}

/* The spool's outcomes, as the receiver gets them (lmtp_options.spool_cb). */
static struct lmtp_spool_event last_ev;
static char last_ev_result[32];
static int n_ev, n_ev_expired, n_ev_unreadable;
static size_t n_ev_delivered;

static void
on_spool_ev(void *arg, const struct lmtp_spool_event *ev)
{
	(void)arg;
	last_ev = *ev;
	scpy(last_ev_result, sizeof(last_ev_result), ev->result);
	n_ev++;
	n_ev_delivered += ev->n_delivered;
	n_ev_expired += strcmp(ev->result, "expired") == 0;
	n_ev_unreadable += strcmp(ev->result, "unreadable") == 0;
}

static struct lmtp *
mk(struct ev_loop *loop, const char *spool)
{
	struct lmtp_options o;
	struct lmtp *l = NULL;
	char target[320], err[256];

	memset(&o, 0, sizeof(o));
	snprintf(target, sizeof(target), "unix:%s", sock_path);
	o.target = target;
	o.connections = 1;
	o.timeout_ms = 3000;
	o.spool_dir = spool;
	o.spool_retry_ms = 1000;
	o.spool_cb = on_spool_ev;
	n_ev = n_ev_expired = n_ev_unreadable = 0;
	n_ev_delivered = 0;
	if (lmtp_init(&l, loop, &o, err, sizeof(err)) < 0)
		printf("# lmtp_init: %s\n", err);
	return l;
}

static int
count_msg(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".msg") != NULL;
	if (d)
		closedir(d);
	return n;
}

/* The text of the one .msg entry in dir, or NULL. */
static char *
entry_text(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *txt = NULL;

	while (d && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".msg") != NULL) {
			char p[600];
			FILE *f;

			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			f = fopen(p, "rb");
			txt = calloc(1, 8192);
			if (f && txt) {
				size_t n = fread(txt, 1, 8191, f);
				txt[n] = '\0';
			}
			if (f)
				fclose(f);
			break;
		}
	if (d)
		closedir(d);
	return txt;
}

/* --- cases --------------------------------------------------------------- */

static void
t_delivered_streams_segments(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "x1@b.test", "x2@b.test" };
	struct got g;
	uint8_t want[200];

	T_ASSERT(l != NULL);
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.done, 1);
	T_EQ_INT(g.early, 0);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[1].code, 250);
	T_EQ_INT(count_to("x1@b.test"), 1);
	memcpy(want, head, sizeof(head) - 1);
	memcpy(want + sizeof(head) - 1, body, sizeof(body) - 1);
	pthread_mutex_lock(&mu);
	T_EQ_MEM(last_msg, last_len, want, sizeof(head) + sizeof(body) - 2);
	pthread_mutex_unlock(&mu);
	/* the session is reused: a second Email on the same pool */
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(count_to("x1@b.test"), 2);
	lmtp_deinit(&l);
	T_ASSERT(l == NULL);
	ev_loop_destroy(loop);
}

/* lmtp_msg.body_8bit stands for the body's bytes; segments outside the
 * body are still scanned. */
static void
t_body_8bit_hint(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "h1@b.test" };
	static const uint8_t head8[] = "X-Head: caf\xc3\xa9\r\n";
	struct lmtp_seg seg[2] = { { head, sizeof(head) - 1 }, { body, sizeof(body) - 1 } };
	struct lmtp_msg m = { "a@a.test", rc, 1, seg, 2, body, sizeof(body) - 1, 1, 0 };
	struct got g;

	T_ASSERT(l != NULL);
	memset(&g, 0, sizeof(g));
	lmtp_deliver(l, &m, on_done, &g);
	run(loop, &g, 10);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	pthread_mutex_lock(&mu);
	T_ASSERT(strstr(last_mail, "BODY=8BITMIME") != NULL);
	pthread_mutex_unlock(&mu);
	/* hint 0 for an ASCII body, 8-bit prepended head: still 8BITMIME */
	seg[0].p = head8;
	seg[0].len = sizeof(head8) - 1;
	m.body_8bit = 0;
	memset(&g, 0, sizeof(g));
	lmtp_deliver(l, &m, on_done, &g);
	run(loop, &g, 10);
	pthread_mutex_lock(&mu);
	T_ASSERT(strstr(last_mail, "BODY=8BITMIME") != NULL);
	pthread_mutex_unlock(&mu);
	/* hint 0 and an ASCII head: 7-bit */
	seg[0].p = head;
	seg[0].len = sizeof(head) - 1;
	memset(&g, 0, sizeof(g));
	lmtp_deliver(l, &m, on_done, &g);
	run(loop, &g, 10);
	pthread_mutex_lock(&mu);
	T_ASSERT(strstr(last_mail, "BODY=8BITMIME") == NULL);
	pthread_mutex_unlock(&mu);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

/* A body mapped from a file, its sent pages dropped as it goes: the bytes
 * delivered are still exact, twice (the second time the pages come back
 * from the page cache). */
static void
t_mapped_body_pages_dropped(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "m1@b.test" };
	char path[320];
	uint8_t src[6000], *map;
	struct lmtp_seg seg[2];
	struct lmtp_msg m;
	struct got g;
	size_t i;
	int fd, k;

	T_ASSERT(l != NULL);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' : 'a' + i % 26);
	snprintf(path, sizeof(path), "%s/mapped", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0 && write(fd, src, sizeof(src)) == (ssize_t)sizeof(src));
	map = mmap(NULL, sizeof(src), PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	T_ASSERT(map != MAP_FAILED);
	seg[0].p = head;
	seg[0].len = sizeof(head) - 1;
	seg[1].p = map;
	seg[1].len = sizeof(src);
	memset(&m, 0, sizeof(m));
	m.mail_from = "a@a.test";
	m.rcpt = rc;
	m.n_rcpt = 1;
	m.seg = seg;
	m.n_seg = 2;
	m.body = map;
	m.body_len = sizeof(src);
	m.body_8bit = 0;
	m.body_mapped = 1;
	for (k = 0; k < 2; k++) {
		memset(&g, 0, sizeof(g));
		lmtp_deliver(l, &m, on_done, &g);
		run(loop, &g, 10);
		T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
		pthread_mutex_lock(&mu);
		T_EQ_INT(last_len, sizeof(head) - 1 + sizeof(src));
		T_ASSERT(memcmp(last_msg + sizeof(head) - 1, src, sizeof(src)) == 0);
		pthread_mutex_unlock(&mu);
	}
	munmap(map, sizeof(src));
	unlink(path);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_unknown_among_known(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "unknown1@b.test", "y1@b.test" };
	struct got g;

	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(g.r[0].code, 550);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(count_to("y1@b.test"), 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_4xx_at_rcpt_fails_whole_email(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "z1@b.test", "busy@b.test" };
	struct got g;

	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 1);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_TEMPFAIL);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_TEMPFAIL);
	T_EQ_INT(count_to("z1@b.test"), 0);	/* no data was sent */
	/* the session survives (RSET) and delivers the next one */
	rc[1] = "z2@b.test";
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(count_to("z1@b.test"), 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static int
get_bdat_early(void)
{
	int v;

	pthread_mutex_lock(&mu);
	v = bdat_early;
	pthread_mutex_unlock(&mu);
	return v;
}

static int
get_bdat_refused(void)
{
	int v;

	pthread_mutex_lock(&mu);
	v = n_bdat_refused;
	pthread_mutex_unlock(&mu);
	return v;
}

/* One recipient with PIPELINING and CHUNKING: MAIL, RCPT, BDAT and the
 * body go without waiting for the envelope replies; the BDAT reply is the
 * recipient's. */
static void
t_pipelined_one_rcpt(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "p1@b.test", "p2@b.test" };
	uint8_t want[200];
	struct got g;

	T_ASSERT(l != NULL);
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[0].code, 250);
	T_EQ_INT(get_bdat_early(), 1);
	T_EQ_INT(count_to("p1@b.test"), 1);
	memcpy(want, head, sizeof(head) - 1);
	memcpy(want + sizeof(head) - 1, body, sizeof(body) - 1);
	pthread_mutex_lock(&mu);
	T_EQ_MEM(last_msg, last_len, want, sizeof(head) + sizeof(body) - 2);
	pthread_mutex_unlock(&mu);
	/* two recipients: the data waits for the RCPT replies */
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(get_bdat_early(), 0);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

/* The pipelined BDAT after a failed envelope: its refusal is read, the
 * Email ends as it would without the data (5xx: rejected for good; 4xx at
 * RCPT or a refused MAIL: a temporary failure), and the session goes on. */
static void
t_pipelined_envelope_fails(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "unknown9@b.test" };
	int refused0 = get_bdat_refused();
	struct got g;

	T_ASSERT(l != NULL);
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.done, 1);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(g.r[0].code, 550);
	T_EQ_STR(g.why, "every recipient rejected");
	T_EQ_INT(get_bdat_early(), 1);
	T_EQ_INT(get_bdat_refused(), refused0 + 1);
	T_EQ_INT(count_to("unknown9@b.test"), 0);
	rc[0] = "busy9@b.test";
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.tempfail, 1);
	T_EQ_INT(g.permfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_TEMPFAIL);
	T_EQ_STR(g.why, "4xx at RCPT");
	T_EQ_INT(get_bdat_refused(), refused0 + 2);
	rc[0] = "q1@b.test";
	g = deliver_from(l, loop, "busy@a.test", rc, 1);
	T_EQ_INT(g.tempfail, 1);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_TEMPFAIL);
	T_EQ_STR(g.why, "MAIL FROM refused");
	T_EQ_INT(get_bdat_refused(), refused0 + 3);
	T_EQ_INT(count_to("q1@b.test"), 0);
	/* the same session delivers the next Email */
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(count_to("q1@b.test"), 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

/* The refusal of a pipelined BDAT can come while the body is still being
 * written (the server need not read it first): the Email ends as the
 * envelope said, the session is closed (the rest of the body cannot be
 * sent), and a new session takes the next Email. */
static void
t_pipelined_refused_mid_body(void)
{
	enum { BIG = 1000000 };	/* more than the socket buffers, under LMTP_PIPE_MAX */
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	uint8_t *big = malloc(BIG);
	const char *rc[] = { "early1@b.test" };
	int refused0 = get_bdat_refused();
	struct lmtp_seg seg[1];
	struct lmtp_msg m;
	struct got g;
	int hup;

	T_ASSERT(l != NULL && big != NULL);
	memset(big, 'x', BIG);
	memcpy(big + BIG - 2, "\r\n", 2);
	seg[0].p = big;
	seg[0].len = BIG;
	memset(&m, 0, sizeof(m));
	m.mail_from = "a@a.test";
	m.rcpt = rc;
	m.n_rcpt = 1;
	m.seg = seg;
	m.n_seg = 1;
	m.body_8bit = -1;
	memset(&g, 0, sizeof(g));
	lmtp_deliver(l, &m, on_done, &g);
	run(loop, &g, 10);
	T_EQ_INT(g.done, 1);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(g.r[0].code, 550);
	T_EQ_STR(g.why, "every recipient rejected");
	T_EQ_INT(get_bdat_refused(), refused0 + 1);
	rc[0] = "late1@b.test";
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(count_to("late1@b.test"), 1);
	/* the fake serves one connection at a time: the first had ended, and
	 * by the client hanging up, not by the fake's 5 s timeout */
	pthread_mutex_lock(&mu);
	hup = early_hup;
	pthread_mutex_unlock(&mu);
	T_EQ_INT(hup, 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
	free(big);
}

/* README, Delivery: a recipient RFC 5321 cannot carry (or non-ASCII
 * without SMTPUTF8) is refused for good on its own, never written into a
 * command; the others are delivered. */
static void
t_bad_address_refused(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "ok@b.test", "evil@b.test>\r\nRCPT TO:<x@b.test" };
	struct got g;

	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(count_to("ok@b.test"), 1);
	T_EQ_INT(count_to("x@b.test"), 0);
	rc[1] = "\xc3\xa9@b.test";	/* non-ASCII, and the fake offers no SMTPUTF8 */
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_REJECTED);
	T_ASSERT(strstr(g.r[1].text, "SMTPUTF8") != NULL);
	/* nothing left to send: every recipient rejected, not a tempfail */
	rc[0] = "\"a\rb\"@b.test";
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_REJECTED);
	T_EQ_INT(count_to("ok@b.test"), 2);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

/* SMTPSEC.md 5, README Delivery: the author address goes out as RFC 5321
 * writes it (quoted local parts re-quoted); one that cannot be written is
 * a permanent failure (permfail), never a tempfail that repeats forever. */
static void
t_quoted_addresses(void)
{
	static const struct { const char *from, *mail; } ok[] = {
		{ "\"a b\"@atk.test", "MAIL FROM:<\"a b\"@atk.test>\r\n" },
		{ "\"<>\"@atk.test", "MAIL FROM:<\"<>\"@atk.test>\r\n" },
		{ "\"a\\\"b\"@atk.test", "MAIL FROM:<\"a\\\"b\"@atk.test>\r\n" },
		{ "\"abc\"@atk.test", "MAIL FROM:<abc@atk.test>\r\n" },
		{ "a.\"b c\"@atk.test", "MAIL FROM:<\"a.b c\"@atk.test>\r\n" },
	};
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	const char *rc[] = { "\"q r\"@b.test", "plain@b.test" };
	char mail[1100];
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		g = deliver_from(l, loop, ok[i].from, rc, 2);
		T_EQ_INT(g.tempfail, 0);
		T_EQ_INT(g.r[0].status, LMTP_RCPT_DELIVERED);
		T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
		pthread_mutex_lock(&mu);
		scpy(mail, sizeof(mail), last_mail);
		pthread_mutex_unlock(&mu);
		T_EQ_STR(mail, ok[i].mail);
	}
	T_EQ_INT(count_to("\"q r\"@b.test"), (int)i);
	g = deliver_from(l, loop, "\"a\tb\"@atk.test", rc, 2);	/* HTAB: no RFC 5321 form */
	T_EQ_INT(g.tempfail, 1);
	T_EQ_INT(g.permfail, 1);
	g = deliver_from(l, loop, "\xc3\xa9@atk.test", rc, 2);	/* no SMTPUTF8 offered */
	T_EQ_INT(g.permfail, 1);
	T_ASSERT(strstr(g.why, "SMTPUTF8") != NULL);
	T_EQ_INT(count_to("plain@b.test"), (int)i);
	/* the session is still good */
	g = deliver(l, loop, rc, 2);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.permfail, 0);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_unreachable_tempfail(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp_options o;
	struct lmtp *l;
	const char *rc[] = { "w@b.test" };
	char err[128], target[300];
	struct got g;

	memset(&o, 0, sizeof(o));
	snprintf(target, sizeof(target), "unix:%s/nothing-here", tmpdir);
	o.target = target;
	T_EQ_INT(lmtp_init(&l, loop, &o, err, sizeof(err)), 0);
	g = deliver(l, loop, rc, 1);
	T_EQ_INT(g.done, 1);
	T_EQ_INT(g.early, 0);
	T_EQ_INT(g.tempfail, 1);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_TEMPFAIL);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_cancel(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct lmtp *l = mk(loop, NULL);
	struct lmtp_seg seg = { body, sizeof(body) - 1 };
	const char *rc[] = { "c1@b.test" };
	struct lmtp_msg m = { "a@a.test", rc, 1, &seg, 1, NULL, 0, -1, 0 };
	struct got g1, g2;
	struct lmtp_tx *tx;

	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	tx = lmtp_deliver(l, &m, on_done, &g1);
	lmtp_cancel(&tx);
	T_ASSERT(tx == NULL);
	lmtp_deliver(l, &m, on_done, &g2);
	run(loop, &g2, 10);
	run(loop, NULL, 0.2);
	T_EQ_INT(g1.done, 0);
	T_EQ_INT(g2.done, 1);
	T_EQ_INT(g2.r[0].status, LMTP_RCPT_DELIVERED);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_spool_partial_retry(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	char spool[300];
	struct lmtp *l;
	const char *rc[] = { "fullA@b.test", "ok2@b.test", "fullB@b.test" };
	struct got g;
	char *txt;
	int i;

	snprintf(spool, sizeof(spool), "%s/spool1", tmpdir);
	l = mk(loop, spool);
	T_ASSERT(l != NULL);
	full_level = 2;
	g = deliver(l, loop, rc, 3);
	T_EQ_INT(g.tempfail, 0);
	T_EQ_INT(g.r[0].status, LMTP_RCPT_SPOOLED);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
	T_EQ_INT(g.r[2].status, LMTP_RCPT_SPOOLED);
	T_EQ_INT(count_msg(spool), 1);
	txt = entry_text(spool);
	T_ASSERT(txt != NULL);
	T_ASSERT(strstr(txt, "rcpt fullA@b.test\n") && strstr(txt, "rcpt fullB@b.test\n"));
	T_ASSERT(strstr(txt, "rcpt ok2@b.test") == NULL);
	T_ASSERT(strstr(txt, "\n\nX-Head: prepended\r\nFrom: a@a.test\r\n") != NULL);
	free(txt);
	/* fullA gets through on the first retry, fullB does not */
	full_level = 1;
	for (i = 0; i < 40 && count_to("fullA@b.test") == 0; i++)
		run(loop, NULL, 0.1);
	run(loop, NULL, 0.3);
	T_EQ_INT(count_to("fullA@b.test"), 1);
	T_EQ_INT(count_to("fullB@b.test"), 0);
	T_EQ_INT(count_msg(spool), 1);
	txt = entry_text(spool);
	T_ASSERT(txt != NULL);
	T_ASSERT(strstr(txt, "rcpt fullA@b.test") == NULL);
	T_ASSERT(strstr(txt, "rcpt fullB@b.test\n") != NULL);
	T_ASSERT(strstr(txt, "attempts 1\n") != NULL);
	free(txt);
	/* then fullB, once, and the entry is gone */
	full_level = 0;
	for (i = 0; i < 80 && count_msg(spool) > 0; i++)
		run(loop, NULL, 0.1);
	run(loop, NULL, 0.3);
	T_EQ_INT(count_to("fullB@b.test"), 1);
	T_EQ_INT(count_to("fullA@b.test"), 1);
	T_EQ_INT(count_to("ok2@b.test"), 1);
	T_EQ_INT(count_msg(spool), 0);
	T_EQ_INT(n_ev_delivered, 2);
	T_EQ_INT(lmtp_spool_depth(l), 0);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
t_spool_write_fails(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	char spool[300], failed[320];
	struct lmtp *l;
	const char *rc[] = { "fullB2@b.test", "ok3@b.test" };
	struct got g;

	snprintf(spool, sizeof(spool), "%s/spool2", tmpdir);
	l = mk(loop, spool);
	T_ASSERT(l != NULL);
	/* the spool directory disappears (disk trouble) */
	snprintf(failed, sizeof(failed), "%s/failed", spool);
	T_EQ_INT(rmdir(failed), 0);
	T_EQ_INT(rmdir(spool), 0);
	full_level = 1;
	g = deliver(l, loop, rc, 2);
	full_level = 0;
	T_EQ_INT(g.r[0].status, LMTP_RCPT_TEMPFAIL);	/* never "delivered" or "spooled" */
	T_EQ_INT(g.r[0].code, 452);
	T_EQ_INT(g.r[1].status, LMTP_RCPT_DELIVERED);
	T_ASSERT(strstr(g.why, "the spool cannot be written") != NULL);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void
t_spool_scan_at_init(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	char spool[300], failed[320], txt[512];
	struct lmtp *l;
	long now = (long)time(NULL);
	int i;

	snprintf(spool, sizeof(spool), "%s/spool3", tmpdir);
	snprintf(failed, sizeof(failed), "%s/failed", spool);
	mkdir(spool, 0700);
	/* waiting (next retry in an hour), expired, unreadable, due now */
	snprintf(txt, sizeof(txt), "SMTPSEC-SPOOL 1\ncreated %ld\nattempts 3\nnext %ld\nfrom a@a.test\n"
	    "rcpt later@b.test\n\nX: y\r\n\r\nbody\r\n", now, now + 3600);
	put(spool, "1-1-1.msg", txt);
	put(spool, "2-1-2.msg", "SMTPSEC-SPOOL 1\ncreated 1\nattempts 9\nnext 0\nfrom a@a.test\n"
	    "rcpt old@b.test\n\nX: y\r\n\r\nbody\r\n");
	put(spool, "3-1-3.msg", "garbage without a header\n");
	snprintf(txt, sizeof(txt), "SMTPSEC-SPOOL 1\ncreated %ld\nattempts 0\nnext 0\nfrom a@a.test\n"
	    "rcpt resumed@b.test\n\nX: y\r\n\r\nresumed body\r\n", now);
	put(spool, "4-1-4.msg", txt);
	put(spool, "tmp.1.1", "half-written, ignored");
	l = mk(loop, spool);
	T_ASSERT(l != NULL);
	for (i = 0; i < 50 && count_to("resumed@b.test") == 0; i++)
		run(loop, NULL, 0.1);
	run(loop, NULL, 0.3);
	T_EQ_INT(count_to("resumed@b.test"), 1);
	T_EQ_INT(count_to("later@b.test"), 0);
	T_EQ_INT(count_to("old@b.test"), 0);
	T_EQ_INT(count_msg(spool), 1);	/* only the waiting one */
	T_EQ_INT(count_msg(failed), 2);	/* expired + unreadable, moved aside */
	T_EQ_INT(n_ev_expired, 1);
	T_EQ_INT(n_ev_unreadable, 1);
	T_EQ_INT(n_ev_delivered, 1);
	T_EQ_INT(lmtp_spool_depth(l), 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

/* One owner per entry: an entry whose claim (flock) is held elsewhere
 * (another worker's retry) is left alone; once the claim goes (that worker
 * finished or died), the entry is retried, once, and the outcome reported. */
static void
t_spool_claim_held(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	char spool[300], txt[512], path[400];
	struct lmtp_options o;
	struct lmtp *l = NULL;
	char target[320], err[256];
	long now = (long)time(NULL);
	int i, fd;

	snprintf(spool, sizeof(spool), "%s/spool5", tmpdir);
	mkdir(spool, 0700);
	snprintf(txt, sizeof(txt), "SMTPSEC-SPOOL 1\ncreated %ld\nattempts 2\nnext 0\nfrom a@a.test\n"
	    "rcpt claimed@b.test\n\nX: y\r\n\r\nbody\r\n", now);
	put(spool, "5-1-5.msg", txt);
	snprintf(path, sizeof(path), "%s/5-1-5.msg", spool);
	fd = open(path, O_RDONLY);
	T_ASSERT(fd >= 0);
	T_EQ_INT(flock(fd, LOCK_EX | LOCK_NB), 0);
	memset(&o, 0, sizeof(o));
	snprintf(target, sizeof(target), "unix:%s", sock_path);
	o.target = target;
	o.connections = 1;
	o.timeout_ms = 3000;
	o.spool_dir = spool;
	o.spool_retry_ms = 1000;
	o.spool_cb = on_spool_ev;
	n_ev = 0;
	T_EQ_INT(lmtp_init(&l, loop, &o, err, sizeof(err)), 0);
	run(loop, NULL, 0.8);
	T_EQ_INT(count_to("claimed@b.test"), 0);
	T_EQ_INT(n_ev, 0);
	T_EQ_INT(count_msg(spool), 1);
	close(fd);	/* the claim goes away */
	for (i = 0; i < 50 && count_to("claimed@b.test") == 0; i++)
		run(loop, NULL, 0.1);
	run(loop, NULL, 0.5);
	T_EQ_INT(count_to("claimed@b.test"), 1);
	T_EQ_INT(count_msg(spool), 0);
	T_EQ_INT(n_ev, 1);
	T_ASSERT(strcmp(last_ev_result, "delivered") == 0);
	T_EQ_INT(last_ev.attempt, 3);
	T_EQ_INT(last_ev.n_delivered, 1);
	lmtp_deinit(&l);
	ev_loop_destroy(loop);
}

int
main(void)
{
	struct sockaddr_un un;
	pthread_t th;
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_lmtp_client.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/lmtp", tmpdir);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	scpy(un.sun_path, sizeof(un.sun_path), sock_path);
	srv_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(srv_fd, 8) < 0 ||
	    pthread_create(&th, NULL, server, NULL) != 0) {
		printf("FAIL: test_lmtp_client.setup: fake server: %s\n", strerror(errno));
		return 1;
	}
	T_RUN(t_delivered_streams_segments);
	T_RUN(t_body_8bit_hint);
	T_RUN(t_mapped_body_pages_dropped);
	T_RUN(t_unknown_among_known);
	T_RUN(t_4xx_at_rcpt_fails_whole_email);
	T_RUN(t_pipelined_one_rcpt);
	T_RUN(t_pipelined_envelope_fails);
	T_RUN(t_pipelined_refused_mid_body);
	T_RUN(t_bad_address_refused);
	T_RUN(t_quoted_addresses);
	T_RUN(t_unreachable_tempfail);
	T_RUN(t_cancel);
	T_RUN(t_spool_partial_retry);
	T_RUN(t_spool_write_fails);
	T_RUN(t_spool_scan_at_init);
	T_RUN(t_spool_claim_held);
	/* the server thread ends with the process */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return T_END();
}
