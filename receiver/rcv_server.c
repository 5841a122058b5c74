/* rcv_server: see rcv_server.h. */
#include "receiver/rcv_server.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/hex.h"
#include "base/sys.h"
#include "lmtp/lmtp.h"
#include "receiver/rcv_conn.h"
#include "receiver/rcv_log.h"
#include "receiver/rcv_metrics.h"
#include "receiver/rcv_tls.h"
#include "verify/vfy.h"

/* AddressSanitizer builds: a worker leaves with _exit(), which skips the
 * leak check LeakSanitizer runs at exit(), so it is run by hand. */
#if defined(__SANITIZE_ADDRESS__)
#define RCV_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RCV_LSAN 1
#endif
#endif
#ifdef RCV_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* kernel send buffer per session (Linux doubles it for bookkeeping) */
#define RCV_SOCK_SNDBUF	(32 * 1024)

/* --- per-IP table ---------------------------------------------------------------- */

static size_t
ip_hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

void
rcv_iptab_init(struct rcv_iptab *t, size_t cap)
{
	size_t c = 16;

	while (c < cap)
		c *= 2;
	t->ent = mem_calloc(c, sizeof(*t->ent));
	t->cap = c;
	t->live = t->used = 0;
}

void
rcv_iptab_free(struct rcv_iptab *t)
{
	free(t->ent);
	t->ent = NULL;
	t->cap = t->live = t->used = 0;
}

static struct rcv_iptab_ent *
ip_find(const struct rcv_iptab *t, const char *ip, struct rcv_iptab_ent **free_r)
{
	size_t i = ip_hash(ip) & (t->cap - 1), k;

	if (free_r)
		*free_r = NULL;
	for (k = 0; k < t->cap; k++, i = (i + 1) & (t->cap - 1)) {
		struct rcv_iptab_ent *e = &t->ent[i];

		if (!e->used) {
			if (free_r && *free_r == NULL)
				*free_r = e;
			return NULL;
		}
		if (e->count == 0) {
			if (free_r && *free_r == NULL)
				*free_r = e;
			continue;
		}
		if (strcmp(e->ip, ip) == 0)
			return e;
	}
	return NULL;
}

static void
ip_rehash(struct rcv_iptab *t, size_t cap)
{
	struct rcv_iptab old = *t;
	size_t i;

	rcv_iptab_init(t, cap);
	for (i = 0; i < old.cap; i++)
		if (old.ent[i].used && old.ent[i].count) {
			struct rcv_iptab_ent *slot;

			(void)ip_find(t, old.ent[i].ip, &slot);
			*slot = old.ent[i];
			t->live++;
			t->used++;
		}
	free(old.ent);
}

int
rcv_iptab_take(struct rcv_iptab *t, const char *ip, uint32_t max)
{
	struct rcv_iptab_ent *e, *slot;

	e = ip_find(t, ip, &slot);
	if (e) {
		if (e->count >= max)
			return 0;
		e->count++;
		return 1;
	}
	if (max == 0)
		return 0;
	if ((t->used + 1) * 4 >= t->cap * 3) {
		ip_rehash(t, t->live * 4 + 16);
		(void)ip_find(t, ip, &slot);
	}
	if (!slot->used)
		t->used++;
	memset(slot, 0, sizeof(*slot));
	snprintf(slot->ip, sizeof(slot->ip), "%s", ip);
	slot->used = 1;
	slot->count = 1;
	t->live++;
	return 1;
}

void
rcv_iptab_release(struct rcv_iptab *t, const char *ip)
{
	struct rcv_iptab_ent *e = ip_find(t, ip, NULL);

	if (e && e->count && --e->count == 0)
		t->live--;
}

/* --- listeners ---------------------------------------------------------------------- */

int
rcv_server_bind(const struct rcv_config *cfg, int *fds, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < cfg->n_listen; i++) {
		const struct rcv_listen *l = &cfg->listen[i];
		struct sockaddr_storage ss;
		socklen_t sl;
		int one = 1, sb = RCV_SOCK_SNDBUF, fd;

		memset(&ss, 0, sizeof(ss));
		if (l->v6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)l->port);
			if (inet_pton(AF_INET6, l->host, &s6->sin6_addr) != 1)
				goto bad_addr;
			sl = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)l->port);
			if (inet_pton(AF_INET, l->host, &s4->sin_addr) != 1)
				goto bad_addr;
			sl = sizeof(*s4);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Set here once, and inherited by every accepted socket (Linux
		 * copies both from the listener; t_gateway_limits.sh checks):
		 * the gateway only sends replies (a few dozen bytes per Email),
		 * so a small kernel send buffer bounds what a client that never
		 * reads can park in the kernel, per session, before our own
		 * output limits apply; and replies and handshake flights go out
		 * at once: with Nagle a write after the session ticket waited
		 * ~40 ms for the peer's delayed ACK (one Email per connection ran
		 * at 0.45 of raw wolfSSL handshakes). */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (l->v6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
			snprintf(err, errlen, "listen %s%s%s:%d: %s", l->v6 ? "[" : "", l->host,
			    l->v6 ? "]" : "", l->port, strerror(errno));
			close(fd);
			return -1;
		}
		fds[i] = fd;
		continue;
bad_addr:
		snprintf(err, errlen, "listen: bad address %s", l->host);
		return -1;
	}
	return 0;
}

static void
accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_server *srv = w->data;
	size_t i;

	if (srv->stopping)
		return;
	for (i = 0; i < srv->n_lis; i++)
		ev_io_start(loop, &srv->lis[i].io);
}

static void
accept_pause(struct rcv_server *srv)
{
	size_t i;

	for (i = 0; i < srv->n_lis; i++)
		ev_io_stop(srv->loop, &srv->lis[i].io);
	ev_timer_stop(srv->loop, &srv->accept_pause);
	ev_timer_set(&srv->accept_pause, 0.1, 0.);
	ev_timer_start(srv->loop, &srv->accept_pause);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rcv_listener *lis = w->data;
	struct rcv_server *srv = lis->srv;
	const struct rcv_config *cfg = srv->cfg;
	int k;

	for (k = 0; k < 64; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[48] = "?";
		int fd = accept4(lis->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			RCV_METRIC_ADD(conn_refused_emfile, 1);
			RCV_METRIC_ADD(conn_refused_total, 1);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: stop accepting for a moment instead
				 * of spinning on a level-triggered listener */
				rcv_log(RCV_LOG_WARN, "conn=- event=accept result=error why=\"%s\" pause_ms=100",
				    strerror(errno));
				accept_pause(srv);
			}
			return;
		}
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		}
		/* SMTPSEC.md 7: caps are enforced before TLS */
		if (srv->n_conns >= cfg->max_connections) {
			srv->st.refused_global++;
			RCV_METRIC_ADD(conn_refused_global, 1);
			RCV_METRIC_ADD(conn_refused_total, 1);
			rcv_log(RCV_LOG_INFO, "conn=- event=refused ip=%s why=max_connections", ip);
			close(fd);
			continue;
		}
		if (!rcv_iptab_take(&srv->iptab, ip, (uint32_t)cfg->max_connections_per_ip)) {
			srv->st.refused_ip++;
			RCV_METRIC_ADD(conn_refused_per_ip, 1);
			RCV_METRIC_ADD(conn_refused_total, 1);
			rcv_log(RCV_LOG_INFO, "conn=- event=refused ip=%s why=max_connections_per_ip", ip);
			close(fd);
			continue;
		}
		/* SO_SNDBUF and TCP_NODELAY: inherited from the listener
		 * (rcv_server_bind) */
		srv->n_conns++;
		srv->st.accepted++;
		RCV_METRIC_ADD(conn_accepted, 1);
		if (rcv_conn_new(srv, fd, ip) == NULL) {
			/* the connection could not be set up (wolfSSL opens a
			 * descriptor per session for its RNG): same back-off as
			 * EMFILE on accept */
			rcv_iptab_release(&srv->iptab, ip);
			srv->n_conns--;
			rcv_log(RCV_LOG_WARN, "conn=- event=accept result=error why=\"connection setup failed\" "
			    "pause_ms=100");
			accept_pause(srv);
			return;
		}
	}
}

void
rcv_server_conn_closed(struct rcv_server *srv, const char *ip)
{
	rcv_iptab_release(&srv->iptab, ip);
	if (srv->n_conns)
		srv->n_conns--;
	if (srv->stopping && srv->n_conns == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

/* --- worker -------------------------------------------------------------------------------- */

static unsigned g_worker_index;		/* set by the master before fork */
static uint8_t g_cache_key[VFY_CACHE_KEY_LEN];	/* [redis] cache_key_file */
static int g_have_cache_key;
static uint64_t g_forged_logged;
static struct vfy_shcache *g_shcache;		/* the host's DNS cache, before fork */		/* dns_redis_forged already logged */
static unsigned long long g_run_id;	/* one per gateway start, shared by its workers */
static int g_worker_restarted;
/* the write end of the master's readiness pipe: a worker of the first set
 * writes one byte once it has loaded everything and listens (-1: none) */
static int g_ready_wr = -1, g_ready_rd = -1;

/* Every stats interval: gauges, totals kept by verify/ and lmtp/, and the
 * events worth one log line (a Redis outage, a spool incident). */
static void
stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rcv_server *srv = w->data;
	struct rcv_metrics *m = rcv_metrics_default;

	RCV_METRIC_GAUGE(conn_active, (int64_t)srv->n_conns);
	RCV_METRIC_GAUGE(buffer_bytes, (int64_t)srv->buf_bytes);
	if (srv->vfy != NULL) {
		struct vfy_dns_stats ds;

		vfy_dns_get_stats(vfy_get_dns(srv->vfy), &ds);
		rcv_metrics_sync(m, RCV_M_dns_lookups, ds.lookups);
		rcv_metrics_sync(m, RCV_M_dns_resolver_queries, ds.resolver_queries);
		rcv_metrics_sync(m, RCV_M_dns_mem_hits, ds.mem_hits);
		rcv_metrics_sync(m, RCV_M_dns_mem_misses, ds.mem_misses);
		rcv_metrics_sync(m, RCV_M_dns_redis_hits, ds.redis_hits);
		rcv_metrics_sync(m, RCV_M_dns_redis_misses, ds.redis_misses);
		rcv_metrics_sync(m, RCV_M_dns_redis_errors, ds.redis_errors);
		rcv_metrics_sync(m, RCV_M_dns_redis_forged, ds.redis_forged);
		rcv_metrics_sync(m, RCV_M_dns_shared_hits, ds.shared_hits);
		if (ds.redis_forged > g_forged_logged) {
			/* once per interval, however many arrived */
			rcv_log(RCV_LOG_WARN, "conn=- event=dns_cache_forged count=%llu total=%llu "
			    "note=\"values in Redis failed the cache MAC: used as misses; a writer without "
			    "the fleet key, or a gateway with another cache_key_file\"",
			    (unsigned long long)(ds.redis_forged - g_forged_logged),
			    (unsigned long long)ds.redis_forged);
			g_forged_logged = ds.redis_forged;
		}
		RCV_METRIC_GAUGE(dns_redis_up, ds.redis_up > 0);
	}
	if (srv->lmtp != NULL) {
		/* every worker sees the whole spool directory: the host's
		 * depth is reported once, by worker 0, so the gauge summed over
		 * workers is the number of entries on the host */
		RCV_METRIC_GAUGE(spool_depth, g_worker_index == 0 ? (int64_t)lmtp_spool_depth(srv->lmtp) : 0);
		/* each spool outcome is logged when it happens (spool_cb) */
	}
	if (m != NULL) {
		struct vfy_redis_status rs;

		if (rcv_metrics_redis_status(m, &rs) == 0) {
			rcv_metrics_sync(m, RCV_M_stats_redis_errors, rs.errors);
			RCV_METRIC_GAUGE(stats_redis_up, rs.up);
		}
	}
}

/*
 * One line per Redis state change of either user, never one per retry
 * (vfy_redis reports transitions only): the first outcome at start, every
 * up/down, and a change of the kind of failure.  A refused password is an
 * error (the operator must act); an unreachable Redis a warning.  Mail
 * never waits for either: the cache falls back to the resolver, stats
 * keep counting in process.
 */
struct redis_user {
	const char *name, *note;
	enum rcv_metric up;	/* its gauge */
};
static struct redis_user redis_cache = { "redis_cache", "DNS lookups go to the resolver",
	RCV_M_dns_redis_up };
static struct redis_user redis_stats = { "redis_stats", "counting in process", RCV_M_stats_redis_up };

static void
redis_state_cb(void *arg, const struct vfy_redis_status *st)
{
	const struct redis_user *u = arg;
	char why[260];

	if (st->up)
		rcv_log(RCV_LOG_INFO, "conn=- event=%s state=up errors=%llu", u->name,
		    (unsigned long long)st->errors);
	else
		rcv_log(st->fault == VFY_REDIS_AUTH ? RCV_LOG_ERR : RCV_LOG_WARN,
		    "conn=- event=%s state=down fault=%s why=%s retry_in=%.1fs errors=%llu note=\"%s\"",
		    u->name, vfy_redis_fault_str(st->fault), rcv_log_q(why, sizeof(why), st->why,
		    strlen(st->why)), st->retry_in, (unsigned long long)st->errors, u->note);
	rcv_metrics_gauge(rcv_metrics_default, u->up, st->up);
}

/* The verifier's options from the configuration.  Step 9 uses ct_log_list;
 * without one it fails closed unless a DANE usage 1/3 record names the
 * leaf (SMTPSEC.md 4.9); an unusable list is a configuration error
 * (EX_CONFIG): running on would turn our fault into bounces. */
static void
vfy_opts(const struct rcv_config *cfg, struct vfy_options *vo)
{
	*vo = (struct vfy_options){ .ca_file = cfg->ca_file[0] ? cfg->ca_file : NULL,
	    .ct_log_list = cfg->ct_log_list[0] ? cfg->ct_log_list : NULL,
	    .ct_min_scts = (unsigned)cfg->ct_min_scts,
	    .cache_lifetime = (unsigned)(cfg->chain_cache_ttl_ms / 1000),
	    .dns = { .unbound_conf = cfg->unbound_conf[0] ? cfg->unbound_conf : NULL,
	    .trust_anchor_file = cfg->trust_anchor_file[0] ? cfg->trust_anchor_file : NULL,
	    .timeout_ms = (unsigned)cfg->dns_timeout_ms,
	    .cache_max_ttl = (unsigned)(cfg->cache_max_ttl_ms / 1000),
	    .cache_entries = (size_t)cfg->cache_entries, .shcache = g_shcache } };
	if (cfg->dns_cache_redis && cfg->have_redis) {
		vo->dns.cache = VFY_DNS_CACHE_REDIS;
		vfy_redis_url_options(&cfg->redis, &vo->dns.redis);
		vo->dns.redis_state_cb = redis_state_cb;
		vo->dns.redis_state_arg = &redis_cache;
		vo->dns.cache_mac_key = g_have_cache_key ? g_cache_key : NULL;
	}
}

/* start-up check: see rcv_server.h */
int
rcv_server_preflight(const struct rcv_config *cfg, int skip_chain_checks, char *err, size_t errlen)
{
	struct vfy_options vo;
	char why[256];
	WOLFSSL_CTX *ctx = rcv_tls_server_ctx(cfg->certificate, cfg->key, cfg->min_version, why,
	    sizeof(why));

	if (ctx == NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	wolfSSL_CTX_free(ctx);
	if (skip_chain_checks)
		return 0;
	vfy_opts(cfg, &vo);
	return vfy_preflight(&vo, err, errlen);
}

/* One line per spool retry and per entry moved aside, and its counters. */
static void
spool_cb(void *arg, const struct lmtp_spool_event *ev)
{
	char q[300], f[600];
	int warn = strcmp(ev->result, "delivered") != 0 && strcmp(ev->result, "deferred") != 0;

	if (strcmp(ev->result, "expired") == 0)
		RCV_METRIC_ADD(spool_expired, 1);
	else if (strcmp(ev->result, "unreadable") != 0) {
		RCV_METRIC_ADD(spool_retries, 1);
		RCV_METRIC_ADD(spool_delivered, ev->n_delivered);
		RCV_METRIC_ADD(spool_bounced, ev->n_bounced);
		if (ev->n_deferred)
			RCV_METRIC_ADD(spool_deferred, 1);
	}
	rcv_log(warn ? RCV_LOG_WARN : RCV_LOG_INFO, "conn=- event=spool entry=%s from=%s attempt=%u "
	    "result=%s rcpt_delivered=%zu rcpt_deferred=%zu rcpt_bounced=%zu next=%us record_us=%llu why=%s",
	    ev->entry, rcv_log_q(f, sizeof(f), ev->from, strlen(ev->from)), ev->attempt, ev->result,
	    ev->n_delivered, ev->n_deferred, ev->n_bounced, ev->next_s,
	    (unsigned long long)ev->record_us, rcv_log_q(q, sizeof(q), ev->why, strlen(ev->why)));
}

static void
worker_stop(struct rcv_server *srv)
{
	size_t i;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	rcv_log(RCV_LOG_INFO, "conn=- event=stopping conns=%llu", (unsigned long long)srv->n_conns);
	for (i = 0; i < srv->n_lis; i++)
		ev_io_stop(srv->loop, &srv->lis[i].io);
	ev_timer_stop(srv->loop, &srv->accept_pause);
	rcv_conn_shutdown_all(srv->conns);
	if (srv->n_conns == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

/* Keys that need a restart: what the master bound and forked. */
static void
keep_restart_keys(const struct rcv_config *old, struct rcv_config *n, char *ignored, size_t len)
{
	size_t i;
	int listen_changed = old->n_listen != n->n_listen;

	for (i = 0; !listen_changed && i < old->n_listen; i++)
		listen_changed = strcmp(old->listen[i].host, n->listen[i].host) != 0 ||
		    old->listen[i].port != n->listen[i].port;
	ignored[0] = '\0';
	if (listen_changed) {
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%slisten", ignored[0] ? "," : "");
		memcpy(n->listen, old->listen, sizeof(n->listen));
		n->n_listen = old->n_listen;
	}
	if (old->workers != n->workers) {
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%sworkers", ignored[0] ? "," : "");
		n->workers = old->workers;
	}
	if (strcmp(old->user, n->user) != 0) {
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%suser", ignored[0] ? "," : "");
		memcpy(n->user, old->user, sizeof(n->user));
	}
	if (strcmp(old->pid_file, n->pid_file) != 0) {
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%spid_file", ignored[0] ? "," : "");
		memcpy(n->pid_file, old->pid_file, sizeof(n->pid_file));
	}
	/* the resolver and the DNS cache are built once per worker */
	if (strcmp(old->unbound_conf, n->unbound_conf) != 0 || old->dns_timeout_ms != n->dns_timeout_ms ||
	    old->dns_cache_redis != n->dns_cache_redis || old->cache_entries != n->cache_entries ||
	    old->cache_max_ttl_ms != n->cache_max_ttl_ms ||
	    strcmp(old->trust_anchor_file, n->trust_anchor_file) != 0 ||
	    (old->dns_cache_redis && strcmp(old->redis_url_raw, n->redis_url_raw) != 0))
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%s[dns]", ignored[0] ? "," : "");
	if (strcmp(old->cache_key_file, n->cache_key_file) != 0) {
		/* read once at start, before privileges were dropped */
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%scache_key_file",
		    ignored[0] ? "," : "");
		memcpy(n->cache_key_file, old->cache_key_file, sizeof(n->cache_key_file));
	}
	if (strcmp(old->spool_dir, n->spool_dir) != 0 || old->lmtp_connections != n->lmtp_connections ||
	    old->spool_retry_ms != n->spool_retry_ms || old->spool_max_age_ms != n->spool_max_age_ms)
		snprintf(ignored + strlen(ignored), len - strlen(ignored), "%sspool", ignored[0] ? "," : "");
}

static struct rcv_metrics *
metrics_new(struct rcv_server *srv, const struct rcv_config *cfg)
{
	struct rcv_metrics_options mo = { .instance = cfg->instance, .worker = g_worker_index,
	    .interval_ms = (unsigned)cfg->stats_interval_ms };
	char fleet[400], kid[17] = "none";

	if (g_run_id == 0)
		g_run_id = sys_random64() | 1;	/* single-process mode: no master */
	mo.run_id = g_run_id;
	if (g_have_cache_key)
		vfy_cache_key_id(g_cache_key, kid);
	/* the settings compared across the fleet (copied by rcv_metrics_new) */
	snprintf(fleet, sizeof(fleet), "authserv_id=%s cache_key=%s", cfg->authserv_id, kid);
	for (char *q = fleet + 12; *q && q < fleet + 12 + strlen(cfg->authserv_id); q++)
		if (*q == ' ')
			*q = '_';
	mo.fleet = fleet;
	if (cfg->have_redis) {
		vfy_redis_url_options(&cfg->redis, &mo.redis);
		mo.state_cb = redis_state_cb;
		mo.state_arg = &redis_stats;
	}
	return rcv_metrics_new(srv->loop, &mo);
}

/*
 * SIGHUP: read the whole file again.  Invalid (syntax, or a file it names
 * cannot be loaded): nothing changes and the reason is logged.  Valid:
 * every key that can change live is applied for new connections; open
 * ones keep the configuration they started with; keys that need a restart
 * are logged as ignored.
 */
static void
worker_reload(struct rcv_server *srv)
{
	struct rcv_config *n = mem_calloc(1, sizeof(*n));
	const struct rcv_config *old = srv->cfg;
	WOLFSSL_CTX *ctx = NULL;
	char err[512], ignored[128];

	if (rcv_config_load(old->path, n, 0, err, sizeof(err)) != 0)
		goto fail;
	keep_restart_keys(old, n, ignored, sizeof(ignored));
	ctx = rcv_tls_server_ctx(n->certificate, n->key, n->min_version, err, sizeof(err));
	if (ctx == NULL)
		goto fail;
	if (srv->vfy != NULL && n->trust_anchor_file[0] &&
	    vfy_dns_check_trust_anchor(n->trust_anchor_file, err, sizeof(err)) != 0)
		goto fail;
	/* the CA store and the CT list last: vfy_reload swaps them only when
	 * both load */
	if (srv->vfy != NULL && vfy_reload(srv->vfy, n->ca_file[0] ? n->ca_file : NULL,
	    n->ct_log_list[0] ? n->ct_log_list : NULL, err, sizeof(err)) != 0) {
		rcv_log(RCV_LOG_ERR, "conn=- event=reload result=fail why=\"%s\" kept=previous list, CA "
		    "store and configuration", err);
		goto drop;
	}
	if (srv->lmtp != NULL && lmtp_reconfigure(srv->lmtp, n->lmtp_target, (unsigned)n->lmtp_timeout_ms,
	    err, sizeof(err)) != 0) {
		/* the CA store is already the new one: keep it, say so */
		rcv_log(RCV_LOG_ERR, "conn=- event=reload result=partial why=\"lmtp: %s\" kept=previous LMTP "
		    "target", err);
		snprintf(n->lmtp_target, sizeof(n->lmtp_target), "%s", old->lmtp_target);
	}
	/* commit: connections hold a reference to the old TLS context and a
	 * pointer to the old configuration, kept until the worker exits */
	wolfSSL_CTX_free(srv->ctx);
	srv->ctx = ctx;
	if (srv->vfy != NULL && n->ct_log_list[0]) {
		struct vfy_stats vs;

		vfy_get_stats(srv->vfy, &vs);
		rcv_log(RCV_LOG_INFO, "conn=- event=reload ct_log_list=%s logs=%zu", n->ct_log_list,
		    vs.ct_logs);
	}
	if (srv->cfg_owned != NULL) {
		srv->cfg_old = mem_realloc(srv->cfg_old, (srv->n_cfg_old + 1) * sizeof(*srv->cfg_old));
		srv->cfg_old[srv->n_cfg_old++] = srv->cfg_owned;
	}
	srv->cfg_owned = n;
	srv->cfg = n;
	if (n->stats_interval_ms != old->stats_interval_ms) {
		srv->stats_timer.repeat = n->stats_interval_ms / 1000.0;
		ev_timer_again(srv->loop, &srv->stats_timer);
	}
	if (strcmp(n->redis_url_raw, old->redis_url_raw) != 0 || strcmp(n->instance, old->instance) != 0 ||
	    n->stats_interval_ms != old->stats_interval_ms) {
		/* counters not flushed yet go with the old connection's last batch */
		if (rcv_metrics_default != NULL)
			rcv_metrics_flush(rcv_metrics_default);
		rcv_metrics_free(&rcv_metrics_default);
		rcv_metrics_default = metrics_new(srv, n);
	}
	if (ignored[0])
		rcv_log(RCV_LOG_WARN, "conn=- event=reload ignored=%s note=\"needs a restart\"", ignored);
	rcv_log(RCV_LOG_INFO, "conn=- event=reload result=ok certificate=%s ca_file=%s ct_log_list=%s "
	    "lmtp=%s", n->certificate, n->ca_file, n->ct_log_list, n->lmtp_target);
	return;
fail:
	rcv_log(RCV_LOG_ERR, "conn=- event=reload result=fail why=\"%s\" kept=previous configuration", err);
drop:
	wolfSSL_CTX_free(ctx);
	free(n);
}

static void
sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct rcv_server *srv = w->data;

	if (w->signum == SIGHUP) {
		worker_reload(srv);
		return;
	}
	worker_stop(srv);
}

int
rcv_server_load_cache_key(const struct rcv_config *cfg, char *err, size_t errlen)
{
	uint8_t buf[VFY_CACHE_KEY_LEN * 2 + 4];
	struct stat sb;
	ssize_t n;
	size_t i;
	int fd;

	if (cfg->cache_key_file[0] == '\0') {
		if (cfg->dns_cache_redis)
			rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"[dns] cache = redis without "
			    "[redis] cache_key_file: Redis is trusted, whoever can write to it can forge "
			    "DNSSEC results for every gateway\"");
		return 0;
	}
	fd = open(cfg->cache_key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "[redis] cache_key_file %s: %s", cfg->cache_key_file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	/* 32 raw bytes, or 64 hex digits with an optional newline */
	if (n == VFY_CACHE_KEY_LEN) {
		memcpy(g_cache_key, buf, VFY_CACHE_KEY_LEN);
	} else if (n == 2 * VFY_CACHE_KEY_LEN || (n == 2 * VFY_CACHE_KEY_LEN + 1 && buf[n - 1] == '\n')) {
		for (i = 0; i < VFY_CACHE_KEY_LEN; i++) {
			int hi = hex_val(buf[2 * i]), lo = hex_val(buf[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "[redis] cache_key_file %s: not 64 hex digits",
				    cfg->cache_key_file);
				explicit_bzero(buf, sizeof(buf));
				return -1;
			}
			g_cache_key[i] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		snprintf(err, errlen, "[redis] cache_key_file %s: must hold 32 random bytes or 64 hex "
		    "digits (head -c 32 /dev/urandom > FILE), it has %zd bytes", cfg->cache_key_file, n);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	explicit_bzero(buf, sizeof(buf));
	g_have_cache_key = 1;
	if (sb.st_mode & 0004)
		rcv_log(RCV_LOG_WARN, "conn=- event=start warning=\"[redis] cache_key_file %s is "
		    "world-readable\"", cfg->cache_key_file);
	if (!cfg->dns_cache_redis)
		rcv_log(RCV_LOG_INFO, "conn=- event=start note=\"[redis] cache_key_file set, the DNS "
		    "cache is not in Redis\"");
	return 0;
}

/* Run one worker loop in this process on the given sockets; returns the
 * exit code (RCV_EXIT_INIT when it could not start). */
static int
worker_run(const struct rcv_config *cfg, const int *fds, size_t n_fds, int skip_chain_checks)
{
	struct rcv_server *srv = mem_calloc(1, sizeof(*srv));
	struct lmtp_options lo;
	char err[256];
	size_t i;
	int rc = 0;
	ev_tstamp end;

	/* a peer that closes while we write must cost its connection (EPIPE),
	 * not the worker and every session in it */
	signal(SIGPIPE, SIG_IGN);
	srv->loop = ev_default_loop(EVFLAG_AUTO);
	srv->cfg = cfg;
	srv->skip_chain_checks = skip_chain_checks;
	srv->ctx = rcv_tls_server_ctx(cfg->certificate, cfg->key, cfg->min_version, err, sizeof(err));
	if (srv->ctx == NULL) {
		rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"%s\"", err);
		free(srv);
		return RCV_EXIT_INIT;
	}
	lo = (struct lmtp_options){ .target = cfg->lmtp_target, .lhlo_name = cfg->hostname,
	    .connections = (unsigned)cfg->lmtp_connections, .timeout_ms = (unsigned)cfg->lmtp_timeout_ms,
	    .spool_dir = cfg->spool_dir[0] ? cfg->spool_dir : NULL,
	    .spool_retry_ms = (unsigned)cfg->spool_retry_ms, .spool_max_age_ms = cfg->spool_max_age_ms,
	    .spool_cb = spool_cb };
	if (cfg->lmtp_target[0] && lmtp_init(&srv->lmtp, srv->loop, &lo, err, sizeof(err)) != 0) {
		rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"lmtp: %s\"", err);
		wolfSSL_CTX_free(srv->ctx);
		free(srv);
		return RCV_EXIT_INIT;
	}
	if (!skip_chain_checks) {
		struct vfy_options vo;

		vfy_opts(cfg, &vo);
		if (vfy_init(&srv->vfy, srv->loop, &vo, err, sizeof(err)) != 0) {
			rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"verify: %s\"", err);
			if (srv->lmtp)
				lmtp_deinit(&srv->lmtp);
			wolfSSL_CTX_free(srv->ctx);
			free(srv);
			return RCV_EXIT_INIT;
		}
	}
	rcv_metrics_default = metrics_new(srv, cfg);
	if (g_worker_restarted)
		RCV_METRIC_ADD(worker_restarts, 1);
	ev_timer_init(&srv->stats_timer, stats_cb, cfg->stats_interval_ms / 1000.0,
	    cfg->stats_interval_ms / 1000.0);
	srv->stats_timer.data = srv;
	ev_timer_start(srv->loop, &srv->stats_timer);
	ev_unref(srv->loop);
	rcv_iptab_init(&srv->iptab, 64);
	ev_init(&srv->accept_pause, accept_pause_cb);
	srv->accept_pause.data = srv;
	for (i = 0; i < n_fds && i < RCV_CONFIG_MAX_LISTEN; i++) {
		srv->lis[i].fd = fds[i];
		srv->lis[i].srv = srv;
		ev_io_init(&srv->lis[i].io, accept_cb, fds[i], EV_READ);
		srv->lis[i].io.data = &srv->lis[i];
		ev_io_start(srv->loop, &srv->lis[i].io);
	}
	srv->n_lis = i;
	ev_signal_init(&srv->sig_term, sig_cb, SIGTERM);
	ev_signal_init(&srv->sig_int, sig_cb, SIGINT);
	ev_signal_init(&srv->sig_hup, sig_cb, SIGHUP);
	srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	ev_signal_start(srv->loop, &srv->sig_term);
	ev_signal_start(srv->loop, &srv->sig_int);
	ev_signal_start(srv->loop, &srv->sig_hup);
	rcv_log(RCV_LOG_INFO, "conn=- event=worker_ready listeners=%zu tls_min=%d chain_checks=%s",
	    srv->n_lis, cfg->min_version, skip_chain_checks ? "SKIPPED(test)" : "on");
	if (g_ready_wr >= 0) {
		if (write(g_ready_wr, "R", 1) != 1)
			rcv_log(RCV_LOG_WARN, "conn=- event=worker_ready warning=\"cannot tell the master: %s\"",
			    strerror(errno));
		close(g_ready_wr);
		g_ready_wr = -1;
	}
	ev_run(srv->loop, 0);
	while (srv->conns) {
		struct rcv_conn *c = srv->conns;

		rcv_conn_free(&c);
	}
	if (rcv_metrics_default != NULL) {
		ev_ref(srv->loop);
		ev_timer_stop(srv->loop, &srv->stats_timer);
		stats_cb(srv->loop, &srv->stats_timer, 0);
		rcv_metrics_flush(rcv_metrics_default);
		/* give the last batch a moment to leave (bounded) */
		end = ev_time() + 0.3;
		while (ev_time() < end && ev_run(srv->loop, EVRUN_NOWAIT))
			;
		rcv_metrics_free(&rcv_metrics_default);
	}
	if (srv->lmtp)
		lmtp_deinit(&srv->lmtp);
	if (srv->vfy)
		vfy_deinit(&srv->vfy);
	wolfSSL_CTX_free(srv->ctx);
	rcv_iptab_free(&srv->iptab);
	for (i = 0; i < srv->n_cfg_old; i++)
		free(srv->cfg_old[i]);
	free(srv->cfg_old);
	free(srv->cfg_owned);
	rcv_log(RCV_LOG_INFO, "conn=- event=worker_exit accepted=%llu refused_global=%llu "
	    "refused_ip=%llu emails=%llu delivered=%llu failed=%llu",
	    (unsigned long long)srv->st.accepted, (unsigned long long)srv->st.refused_global,
	    (unsigned long long)srv->st.refused_ip, (unsigned long long)srv->st.emails,
	    (unsigned long long)srv->st.delivered, (unsigned long long)srv->st.failed);
	free(srv);
	return rc;
}

/* --- master ------------------------------------------------------------------------------------ */

static volatile sig_atomic_t m_term, m_hup, m_chld;
/* what the master catches (m_sig) and a worker takes back to the default */
static const int m_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

static void
m_sig(int s)
{
	if (s == SIGTERM || s == SIGINT)
		m_term = 1;
	else if (s == SIGHUP)
		m_hup = 1;
	else if (s == SIGCHLD)
		m_chld = 1;
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"unknown user %s\"", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"cannot become %s: %s\"", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static pid_t
spawn(const struct rcv_config *cfg, const int *fds, size_t n_fds, int skip, unsigned index,
    int restarted)
{
	pid_t p;

	g_worker_index = index;
	g_worker_restarted = restarted;
	p = fork();

	if (p == 0) {
		sigset_t none;
		size_t k;

		/* a worker does not outlive its master */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		if (g_ready_rd >= 0)
			close(g_ready_rd);
		sigemptyset(&none);
		for (k = 0; k < sizeof(m_signals) / sizeof(m_signals[0]); k++)
			signal(m_signals[k], SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		{
			int rc = worker_run(cfg, fds, n_fds, skip);

#ifdef RCV_LSAN
			/* a leak makes the worker exit 23, as LSan does at exit() */
			if (__lsan_do_recoverable_leak_check() != 0 && rc == 0)
				rc = 23;
#endif
			_exit(rc);
		}
	}
	return p;
}

/* Wait until every worker of the first set reported ready (a byte on the
 * readiness pipe).  0, or the exit status of a worker that died first (its
 * reason is in its log line), or 1 after 120 s without all of them. */
static int
wait_ready(pid_t *pid, unsigned workers, unsigned *alive)
{
	uint64_t end = sys_now_ms() + 120000;
	unsigned ready = 0, i;

	if (g_ready_rd < 0)
		return 0;	/* no pipe: nothing to wait on */
	while (ready < workers) {
		struct pollfd pf = { g_ready_rd, POLLIN, 0 };
		int st;
		pid_t p;

		if (poll(&pf, 1, 100) > 0) {
			char b[64];
			ssize_t n = read(g_ready_rd, b, sizeof(b));

			if (n > 0)
				ready += (unsigned)n;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < workers; i++)
				if (pid[i] == p) {
					pid[i] = 0;
					(*alive)--;
				}
			st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
			rcv_log(RCV_LOG_ERR, "conn=- event=worker_init_failed pid=%d status=%d "
			    "action=stopping the gateway", (int)p, st);
			return st ? st : 1;
		}
		if (sys_now_ms() > end) {
			rcv_log(RCV_LOG_ERR, "conn=- event=start result=fail why=\"only %u of %u workers "
			    "ready after 120 s\"", ready, workers);
			return 1;
		}
	}
	return 0;
}

int
rcv_server_master(const struct rcv_config *cfg, const int *fds, size_t n_fds, unsigned workers,
    int skip_chain_checks)
{
	pid_t *pid;
	uint64_t *started;
	unsigned *fails;
	unsigned i, alive = 0;
	int init_failed = 0, exit_status, rp[2];
	const struct rcv_config *cur = cfg;	/* for workers started from now on */
	struct rcv_config *cur_owned = NULL;	/* the last reload's */
	struct sigaction sa = { .sa_handler = m_sig };
	sigset_t block, old;

	g_run_id = sys_random64() | 1;	/* before the first fork: every worker shares it */
	if (drop_privileges(cfg->user) < 0)
		return 1;
	if (workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		workers = n > 0 ? (unsigned)n : 1;
	}
	if (workers > 1 && !skip_chain_checks) {
		/* one DNS cache for all workers of this host (1 KiB a slot) */
		size_t slots = (size_t)(cfg->cache_entries / 4);

		g_shcache = vfy_shcache_new(slots < 1024 ? 1024 : slots > 16384 ? 16384 : slots);
	}
	pid = mem_calloc(workers, sizeof(*pid));
	started = mem_calloc(workers, sizeof(*started));
	fails = mem_calloc(workers, sizeof(*fails));
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(m_signals) / sizeof(m_signals[0]); i++) {
		sigaction(m_signals[i], &sa, NULL);
		sigaddset(&block, m_signals[i]);
	}
	/* a closed log pipe or peer costs an error return, not the process */
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (pipe2(rp, O_CLOEXEC) == 0) {
		g_ready_rd = rp[0];
		g_ready_wr = rp[1];
	}
	for (i = 0; i < workers; i++) {
		pid[i] = spawn(cfg, fds, n_fds, skip_chain_checks, i, 0);
		started[i] = sys_now_ms();
		if (pid[i] > 0)
			alive++;
	}
	if (g_ready_wr >= 0) {
		close(g_ready_wr);	/* workers started later tell nobody */
		g_ready_wr = -1;
	}
	/* READY=1 only once every worker has loaded its configuration and
	 * listens; one that fails first stops the gateway with its status */
	exit_status = wait_ready(pid, workers, &alive);
	if (g_ready_rd >= 0) {
		close(g_ready_rd);
		g_ready_rd = -1;
	}
	if (exit_status != 0) {
		for (i = 0; i < workers; i++)
			if (pid[i] > 0)
				kill(pid[i], SIGTERM);
		while (alive > 0 && waitpid(-1, NULL, 0) > 0)
			alive--;
		free(pid);
		free(started);
		free(fails);
		rcv_log(RCV_LOG_INFO, "conn=- event=exit result=fail status=%d", exit_status);
		return exit_status;
	}
	rcv_log(RCV_LOG_INFO, "conn=- event=ready workers=%u", workers);
	sd_notify(0, "READY=1\nSTATUS=accepting SMTPsec connections");
	while (alive > 0) {
		int st;
		pid_t p;

		if (!m_term && !m_hup && !m_chld)
			sigsuspend(&old);
		if (m_hup) {
			struct rcv_config *n = mem_calloc(1, sizeof(*n));
			char err[512], ignored[128];

			m_hup = 0;
			sd_notify(0, "RELOADING=1");
			/* the master checks the file too: it is what a worker
			 * restarted later will run with */
			if (rcv_config_load(cur->path, n, 0, err, sizeof(err)) != 0 ||
			    rcv_server_preflight(n, skip_chain_checks, err, sizeof(err)) != 0) {
				rcv_log(RCV_LOG_ERR, "conn=- event=reload process=master result=fail why=\"%s\" "
				    "kept=previous configuration", err);
				free(n);
			} else {
				keep_restart_keys(cur, n, ignored, sizeof(ignored));
				free(cur_owned);
				cur = cur_owned = n;
			}
			for (i = 0; i < workers; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGHUP);
			rcv_log(RCV_LOG_INFO, "conn=- event=reload workers=%u", workers);
			sd_notify(0, "READY=1");
		}
		if (m_term == 1) {
			m_term = 2;
			sd_notify(0, "STOPPING=1");
			rcv_log(RCV_LOG_INFO, "conn=- event=stopping");
			for (i = 0; i < workers; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGTERM);
		}
		m_chld = 0;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < workers; i++) {
				if (pid[i] != p)
					continue;
				pid[i] = 0;
				alive--;
				if (m_term)
					break;
				if (WIFEXITED(st) && WEXITSTATUS(st) == RCV_EXIT_INIT) {
					/* its reason is logged; the same set-up would fail again */
					rcv_log(RCV_LOG_ERR, "conn=- event=worker_init_failed pid=%d "
					    "status=%d action=stopping the gateway", (int)p, RCV_EXIT_INIT);
					init_failed = RCV_EXIT_INIT;
					m_term = 1;
					break;
				}
				rcv_log(RCV_LOG_WARN, "conn=- event=worker_died pid=%d status=%d", (int)p, st);
				/* restart with backoff: a worker that dies young waits
				 * 2^fails * 100 ms, at most 30 s */
				if (sys_now_ms() - started[i] < 10000)
					fails[i] = fails[i] < 9 ? fails[i] + 1 : 9;
				else
					fails[i] = 0;
				if (fails[i]) {
					struct timespec ts;
					uint64_t ms = 100ull << fails[i];

					if (ms > 30000)
						ms = 30000;
					ts.tv_sec = (time_t)(ms / 1000);
					ts.tv_nsec = (long)(ms % 1000) * 1000000L;
					sigprocmask(SIG_SETMASK, &old, NULL);
					nanosleep(&ts, NULL);
					sigprocmask(SIG_BLOCK, &block, NULL);
				}
				if (m_term)
					break;
				pid[i] = spawn(cur, fds, n_fds, skip_chain_checks, i, 1);
				started[i] = sys_now_ms();
				if (pid[i] > 0)
					alive++;
			}
		}
	}
	free(pid);
	free(started);
	free(fails);
	free(cur_owned);
	rcv_log(RCV_LOG_INFO, "conn=- event=exit%s", init_failed ? " result=fail" : "");
	return init_failed;
}
