/*
 * vfy_redis: the one Redis connection module (hiredis async on libev),
 * shared by the DNS cache (vfy_dns) and the stats writer (rcv_metrics); its
 * blocking form (vfy_redis_connect_sync) is smtpsec-stats' connection.
 *
 * It connects, sends AUTH / SELECT / PING and reads their replies: the
 * connection is "up" only after all of them succeeded.  Any failure
 * (refused, AUTH or SELECT rejected, NOAUTH, no reply within the handshake
 * timeout, a lost connection) makes it "down" with a reason, and it
 * reconnects with exponential backoff.  The owner's state callback runs on
 * every transition and when the kind of failure changes (unreachable ->
 * refused the password), never once per retry, so a caller that logs in it
 * logs each outage once.  The first outcome after creation is always
 * reported (a Redis unreachable at start is a transition too).
 *
 * Ownership: the redisAsyncContext is owned by this module; a user sends
 * commands on vfy_redis_ctx() while it is up and must not free it.  Reply
 * callbacks of commands still pending when the connection is dropped run
 * with a NULL reply.  Nothing here logs.
 */
#ifndef VFY_REDIS_H
#define VFY_REDIS_H

#include <stdint.h>

struct ev_loop;
struct redisAsyncContext;
struct redisContext;

struct vfy_redis_options {
	const char *host;		/* TCP, or */
	int port;			/* 0 = 6379 */
	const char *path;		/* a unix socket */
	const char *user;		/* ACL user, may be NULL */
	const char *password;		/* may be NULL */
	int db;
	double backoff_min;		/* seconds; 0 = 0.5 */
	double backoff_max;		/* seconds; 0 = 30 */
	unsigned handshake_ms;		/* AUTH/SELECT/PING replies within; 0 = 2000 */
};

/* The configured Redis, as parsed from "redis://[user:pass@]host:port[/db]"
 * or "unix:/path" (receiver/rcv_config.c): empty strings for what the URL
 * leaves out. */
struct vfy_redis_url {
	char host[256];
	int port;
	char path[512];		/* unix socket, or "" */
	char user[128];
	char password[256];
	int db;
};

/* Why the connection is down (VFY_REDIS_OK while up). */
enum vfy_redis_fault {
	VFY_REDIS_OK = 0,
	VFY_REDIS_UNREACHABLE,		/* connect failed or connection lost */
	VFY_REDIS_AUTH,			/* AUTH refused, or NOAUTH without a password */
	VFY_REDIS_REFUSED,		/* SELECT or PING answered with an error */
	VFY_REDIS_TIMEOUT,		/* no handshake reply in time, or dropped as stuck */
};

struct vfy_redis_status {
	int up;				/* 1 after a successful handshake */
	enum vfy_redis_fault fault;
	char why[200];			/* reason text ("" while up) */
	uint64_t errors;		/* failed connects, handshakes, lost connections */
	double retry_in;		/* seconds to the next attempt while down */
};

struct vfy_redis;

/* up: 1 now up, 0 now down (st says why). */
typedef void vfy_redis_state_cb(void *arg, struct vfy_redis *r, int up);

/* The options that reach the server u names: a socket path wins over the
 * host; empty strings become NULL.  The strings are borrowed from u; the
 * backoff and handshake settings are left at 0 (the defaults).  Used by the
 * DNS cache, the stats writer and smtpsec-stats alike. */
void vfy_redis_url_options(const struct vfy_redis_url *u, struct vfy_redis_options *o_r);

/* 1 when o names a server (a non-empty host or path). */
int vfy_redis_configured(const struct vfy_redis_options *o);

/* Create and start connecting (the strings are copied).  cb may be NULL. */
struct vfy_redis *vfy_redis_new(struct ev_loop *loop, const struct vfy_redis_options *opt,
    vfy_redis_state_cb *cb, void *arg);
/* Drop the connection (pending replies get NULL) without a callback. */
void vfy_redis_free(struct vfy_redis **r_p);

/* The context while up, else NULL.  Borrowed. */
struct redisAsyncContext *vfy_redis_ctx(struct vfy_redis *r);
/* The arg given to vfy_redis_new, found from a context (NULL when the
 * context is being dropped): for reply callbacks. */
void *vfy_redis_owner(const struct redisAsyncContext *ac);
/* Drop a connection that is up but misbehaving (a stuck reply); the state
 * goes down with fault and why, and a reconnect follows with backoff. */
void vfy_redis_drop(struct vfy_redis *r, enum vfy_redis_fault fault, const char *why);
void vfy_redis_status(const struct vfy_redis *r, struct vfy_redis_status *st_r);
const char *vfy_redis_fault_str(enum vfy_redis_fault f);

/* What stopped a blocking connection. */
struct vfy_redis_sync_err {
	enum vfy_redis_fault fault;
	const char *cmd;		/* "connect", "AUTH", "SELECT" or "PING" */
	char text[160];			/* the server's reply or the connection error, printable */
};

/*
 * Connect and hand-shake blocking (command-line tools): the same AUTH /
 * SELECT / PING with every reply checked as above, each step within
 * opt->handshake_ms (0 = 2000).  Returns a hiredis context the caller owns
 * (redisFree), or NULL with *err_r filled.  No backoff: a tool tries once.
 */
struct redisContext *vfy_redis_connect_sync(const struct vfy_redis_options *opt,
    struct vfy_redis_sync_err *err_r);

#endif
