/*
 * vfy_redis: one Redis connection with a checked handshake and backoff.
 * See vfy.h.
 *
 * States: down (the timer armed for the retry) -> connecting (context
 * exists, AUTH / SELECT / PING queued, the timer armed for the handshake)
 * -> up (PING answered PONG after every earlier reply was good).  Any
 * failure goes back to down.
 *
 * Ownership: r->ac is ours.  Dropping it clears ac->data first, so every
 * hiredis callback that still runs for it (pending replies with NULL, the
 * disconnect callback of redisAsyncFree) sees no owner and does nothing;
 * the drop itself reports the new state.  hiredis frees a context on its
 * own after a failed connect or a lost connection: then only r->ac is
 * cleared.
 */
#include "verify/vfy.h"

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libev.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/mem.h"

struct vfy_redis {
	struct ev_loop *loop;		/* borrowed */
	struct vfy_redis_options opt;	/* strings point into own[] */
	char *own[4];			/* host, path, user, password */
	vfy_redis_state_cb *cb;
	void *arg;			/* borrowed */
	redisAsyncContext *ac;		/* owned; NULL while down */
	int up;
	int reported;			/* a state has been reported once */
	double backoff;
	struct ev_timer timer;		/* down: the next connect; connecting: the
					 * handshake's deadline */
	struct vfy_redis_status st;
};

const char *
vfy_redis_fault_str(enum vfy_redis_fault f)
{
	switch (f) {
	case VFY_REDIS_OK: return "ok";
	case VFY_REDIS_UNREACHABLE: return "unreachable";
	case VFY_REDIS_AUTH: return "auth";
	case VFY_REDIS_REFUSED: return "refused";
	default: return "timeout";
	}
}

/* Report when the state or the kind of failure changes, never per retry. */
static void
set_state(struct vfy_redis *r, int up, enum vfy_redis_fault fault, const char *why)
{
	int changed = !r->reported || r->up != up || (!up && r->st.fault != fault);

	r->up = up;
	r->st.up = up;
	r->st.fault = up ? VFY_REDIS_OK : fault;
	snprintf(r->st.why, sizeof(r->st.why), "%s", up ? "" : why);
	if (!changed)
		return;
	r->reported = 1;
	if (r->cb != NULL)
		r->cb(r->arg, r, up);
}

static void
schedule_retry(struct vfy_redis *r)
{
	r->st.retry_in = r->backoff;
	ev_timer_stop(r->loop, &r->timer);
	ev_timer_set(&r->timer, r->backoff, 0);
	ev_timer_start(r->loop, &r->timer);
	r->backoff = r->backoff * 2 > r->opt.backoff_max ? r->opt.backoff_max : r->backoff * 2;
}

/* Free our context (if any) and go down. */
static void
drop(struct vfy_redis *r, enum vfy_redis_fault fault, const char *why)
{
	redisAsyncContext *ac = r->ac;

	r->ac = NULL;
	ev_timer_stop(r->loop, &r->timer);
	if (ac != NULL) {
		ac->data = NULL;
		redisAsyncFree(ac);	/* deferred when inside a hiredis callback */
	}
	r->st.errors++;
	schedule_retry(r);
	set_state(r, 0, fault, why);
}

static struct vfy_redis *
owner_of(const redisAsyncContext *ac)
{
	struct vfy_redis *r = ac->data;

	return r != NULL && r->ac == ac ? r : NULL;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct vfy_redis *r = owner_of(ac);
	char why[200];

	if (r == NULL || status == REDIS_OK)
		return;		/* up only once PING is answered */
	/* hiredis frees this context after the callback */
	snprintf(why, sizeof(why), "connect: %s", ac->errstr[0] ? ac->errstr : "failed");
	r->ac = NULL;
	drop(r, VFY_REDIS_UNREACHABLE, why);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct vfy_redis *r = owner_of(ac);
	char why[200];

	if (r == NULL)
		return;
	snprintf(why, sizeof(why), "connection lost: %s",
	    status != REDIS_OK && ac->errstr[0] ? ac->errstr : "closed by the server");
	r->ac = NULL;		/* hiredis frees it */
	drop(r, VFY_REDIS_UNREACHABLE, why);
}

static void
reply_text(const redisReply *reply, char *out, size_t outlen)
{
	size_t i;

	if (reply == NULL || reply->str == NULL) {
		snprintf(out, outlen, "%s", reply == NULL ? "no reply" : "unexpected reply type");
		return;
	}
	snprintf(out, outlen, "%.*s", (int)(reply->len < 150 ? reply->len : 150), reply->str);
	/* a reply goes into a log line: keep it printable */
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == '"' || out[i] == '\\' || out[i] == 0x7f)
			out[i] = '?';
}

/*
 * One handshake reply judged, the same way for the event-driven connection
 * and the blocking one: VFY_REDIS_OK, or the fault with the reply's text in
 * txt.  AUTH and SELECT only need to be no error (AUTH answers OK); PING
 * must answer PONG.  A NOAUTH or WRONGPASS answer to anything is an
 * authentication fault.
 */
static enum vfy_redis_fault
judge(const char *cmd, const redisReply *reply, char *txt, size_t txtlen)
{
	txt[0] = '\0';
	if (reply->type == REDIS_REPLY_ERROR) {
		reply_text(reply, txt, txtlen);
		return strcmp(cmd, "AUTH") == 0 || strncmp(txt, "NOAUTH", 6) == 0 ||
		    strncmp(txt, "WRONGPASS", 9) == 0 ? VFY_REDIS_AUTH : VFY_REDIS_REFUSED;
	}
	if (strcmp(cmd, "PING") == 0 &&
	    (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0)) {
		reply_text(reply, txt, txtlen);
		return VFY_REDIS_REFUSED;
	}
	return VFY_REDIS_OK;
}

/* priv: which command ("AUTH", "SELECT", "PING") */
static void
on_handshake(redisAsyncContext *ac, void *rep, void *priv)
{
	struct vfy_redis *r = owner_of(ac);
	redisReply *reply = rep;
	const char *cmd = priv;
	char txt[160], why[200];
	enum vfy_redis_fault fault;

	if (r == NULL || reply == NULL)
		return;		/* dropped; or lost: the disconnect callback says so */
	fault = judge(cmd, reply, txt, sizeof(txt));
	if (fault != VFY_REDIS_OK) {
		if (reply->type == REDIS_REPLY_ERROR)
			snprintf(why, sizeof(why), "%s refused: %s%s", cmd, txt,
			    strncmp(txt, "NOAUTH", 6) == 0 ? " (no password configured)" : "");
		else
			snprintf(why, sizeof(why), "PING answered '%s'", txt);
		drop(r, fault, why);
		return;
	}
	if (strcmp(cmd, "PING") != 0)
		return;
	ev_timer_stop(r->loop, &r->timer);
	r->backoff = r->opt.backoff_min;
	r->st.retry_in = 0;
	set_state(r, 1, VFY_REDIS_OK, "");
}

static void
start_connect(struct vfy_redis *r)
{
	redisAsyncContext *ac;
	char why[200];

	ac = r->opt.path != NULL ? redisAsyncConnectUnix(r->opt.path)
	    : redisAsyncConnect(r->opt.host, r->opt.port);
	if (ac == NULL)
		abort();
	if (ac->err) {
		snprintf(why, sizeof(why), "connect: %s", ac->errstr);
		redisAsyncFree(ac);
		drop(r, VFY_REDIS_UNREACHABLE, why);
		return;
	}
	ac->data = r;
	r->ac = ac;
	redisLibevAttach(r->loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* queued until the connection is up; replies come back in order */
	if (r->opt.password != NULL) {
		if (r->opt.user != NULL)
			redisAsyncCommand(ac, on_handshake, "AUTH", "AUTH %s %s", r->opt.user, r->opt.password);
		else
			redisAsyncCommand(ac, on_handshake, "AUTH", "AUTH %s", r->opt.password);
	}
	if (r->opt.db > 0)
		redisAsyncCommand(ac, on_handshake, "SELECT", "SELECT %d", r->opt.db);
	redisAsyncCommand(ac, on_handshake, "PING", "PING");
	ev_timer_set(&r->timer, r->opt.handshake_ms / 1000.0, 0);
	ev_timer_start(r->loop, &r->timer);
}

/* Down: time for the next connect; connecting: no handshake reply in time. */
static void
on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct vfy_redis *r = (struct vfy_redis *)((char *)w - offsetof(struct vfy_redis, timer));
	char why[200];

	(void)loop;
	(void)revents;
	if (r->ac == NULL) {
		start_connect(r);
		return;
	}
	snprintf(why, sizeof(why), "no handshake reply within %u ms", r->opt.handshake_ms);
	drop(r, VFY_REDIS_TIMEOUT, why);
}

struct vfy_redis *
vfy_redis_new(struct ev_loop *loop, const struct vfy_redis_options *opt, vfy_redis_state_cb *cb, void *arg)
{
	struct vfy_redis *r = mem_calloc(1, sizeof(*r));

	r->loop = loop;
	r->opt = *opt;
	r->opt.host = r->own[0] = mem_strdup_opt(opt->host);
	r->opt.path = r->own[1] = mem_strdup_opt(opt->path);
	r->opt.user = r->own[2] = mem_strdup_opt(opt->user);
	r->opt.password = r->own[3] = mem_strdup_opt(opt->password);
	if (r->opt.host == NULL && r->opt.path == NULL)
		r->opt.host = r->own[0] = mem_strdup_opt("127.0.0.1");
	if (r->opt.port <= 0)
		r->opt.port = 6379;
	if (!(r->opt.backoff_min > 0))
		r->opt.backoff_min = 0.5;
	if (!(r->opt.backoff_max >= r->opt.backoff_min))
		r->opt.backoff_max = r->opt.backoff_min > 30 ? r->opt.backoff_min : 30;
	if (r->opt.handshake_ms == 0)
		r->opt.handshake_ms = 2000;
	r->cb = cb;
	r->arg = arg;
	r->backoff = r->opt.backoff_min;
	ev_init(&r->timer, on_timer);
	start_connect(r);
	return r;
}

void
vfy_redis_free(struct vfy_redis **r_p)
{
	struct vfy_redis *r = *r_p;
	int i;

	if (r == NULL)
		return;
	ev_timer_stop(r->loop, &r->timer);
	r->cb = NULL;
	if (r->ac != NULL) {
		redisAsyncContext *ac = r->ac;

		r->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if (r->own[3] != NULL)
		explicit_bzero(r->own[3], strlen(r->own[3]));
	for (i = 0; i < 4; i++)
		free(r->own[i]);
	free(r);
	*r_p = NULL;
}

void
vfy_redis_url_options(const struct vfy_redis_url *u, struct vfy_redis_options *o_r)
{
	memset(o_r, 0, sizeof(*o_r));
	o_r->host = u->path[0] || !u->host[0] ? NULL : u->host;
	o_r->port = u->port;
	o_r->path = u->path[0] ? u->path : NULL;
	o_r->user = u->user[0] ? u->user : NULL;
	o_r->password = u->password[0] ? u->password : NULL;
	o_r->db = u->db;
}

int
vfy_redis_configured(const struct vfy_redis_options *o)
{
	return (o->host != NULL && o->host[0]) || (o->path != NULL && o->path[0]);
}

struct redisAsyncContext *
vfy_redis_ctx(struct vfy_redis *r)
{
	return r != NULL && r->up ? r->ac : NULL;
}

void *
vfy_redis_owner(const struct redisAsyncContext *ac)
{
	struct vfy_redis *r = owner_of(ac);

	return r != NULL ? r->arg : NULL;
}

void
vfy_redis_drop(struct vfy_redis *r, enum vfy_redis_fault fault, const char *why)
{
	if (r != NULL && r->ac != NULL)
		drop(r, fault, why);
}

void
vfy_redis_status(const struct vfy_redis *r, struct vfy_redis_status *st_r)
{
	*st_r = r->st;
}

struct redisContext *
vfy_redis_connect_sync(const struct vfy_redis_options *opt, struct vfy_redis_sync_err *err_r)
{
	unsigned ms = opt->handshake_ms ? opt->handshake_ms : 2000;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	const char *host = opt->host != NULL && opt->host[0] ? opt->host : "127.0.0.1";
	int port = opt->port > 0 ? opt->port : 6379;
	redisContext *c;
	redisReply *reply;

	memset(err_r, 0, sizeof(*err_r));
	err_r->cmd = "connect";
	err_r->fault = VFY_REDIS_UNREACHABLE;
	c = opt->path != NULL && opt->path[0] ? redisConnectUnixWithTimeout(opt->path, tv)
	    : redisConnectWithTimeout(host, port, tv);
	if (c == NULL || c->err) {
		snprintf(err_r->text, sizeof(err_r->text), "%s", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	for (int step = 0; step < 3; step++) {
		if (step == 0 && opt->password != NULL && opt->password[0]) {
			err_r->cmd = "AUTH";
			reply = opt->user != NULL && opt->user[0]
			    ? redisCommand(c, "AUTH %s %s", opt->user, opt->password)
			    : redisCommand(c, "AUTH %s", opt->password);
		} else if (step == 1 && opt->db > 0) {
			err_r->cmd = "SELECT";
			reply = redisCommand(c, "SELECT %d", opt->db);
		} else if (step == 2) {
			/* a Redis with requirepass answers NOAUTH to the first
			 * real command: find out here, with a reason */
			err_r->cmd = "PING";
			reply = redisCommand(c, "PING");
		} else
			continue;
		if (reply == NULL) {
			err_r->fault = c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == ETIMEDOUT)
			    ? VFY_REDIS_TIMEOUT : VFY_REDIS_UNREACHABLE;
			snprintf(err_r->text, sizeof(err_r->text), "%s", c->errstr);
			redisFree(c);
			return NULL;
		}
		err_r->fault = judge(err_r->cmd, reply, err_r->text, sizeof(err_r->text));
		freeReplyObject(reply);
		if (err_r->fault != VFY_REDIS_OK) {
			redisFree(c);
			return NULL;
		}
	}
	memset(err_r, 0, sizeof(*err_r));
	return c;
}
