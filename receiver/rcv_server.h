/*
 * rcv_server: listeners, accept with connection caps (SMTPSEC.md 7), the
 * per-IP table, the master/worker processes and signals.
 *
 * The master binds every [server] listen address, drops privileges, and
 * forks `workers` workers that share the listening sockets; it restarts a
 * worker that dies (with backoff) and forwards SIGTERM/SIGHUP.  Each worker
 * runs one libev loop with its own TLS context, LMTP pool and connections.
 */
#ifndef RCV_SERVER_H
#define RCV_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "receiver/rcv_config.h"

struct WOLFSSL_CTX;
struct lmtp;
struct rcv_conn;

/* Per client IP connection counts (open addressing, no allocation per
 * connection).  The key is the textual address. */
struct rcv_iptab_ent {
	char ip[48];
	uint32_t count;		/* 0: free slot (tombstones keep used=1) */
	uint8_t used;
};

struct rcv_iptab {
	struct rcv_iptab_ent *ent;
	size_t cap;		/* power of two */
	size_t live;		/* slots with count > 0 */
	size_t used;		/* slots ever used (live + tombstones) */
};

void rcv_iptab_init(struct rcv_iptab *t, size_t cap);
void rcv_iptab_free(struct rcv_iptab *t);
/* Count one more connection from ip unless that would pass max.  1 when
 * admitted, 0 when over the limit. */
int rcv_iptab_take(struct rcv_iptab *t, const char *ip, uint32_t max);
void rcv_iptab_release(struct rcv_iptab *t, const char *ip);

struct rcv_listener {
	int fd;
	ev_io io;
	struct rcv_server *srv;
};

struct rcv_server_stats {
	uint64_t accepted, refused_global, refused_ip;
	uint64_t emails, delivered, failed;
};

struct rcv_server {
	struct ev_loop *loop;
	const struct rcv_config *cfg;
	struct WOLFSSL_CTX *ctx;	/* current; connections hold a reference */
	struct lmtp *lmtp;
	struct vfy *vfy;		/* steps 5-9; NULL only with skip_chain_checks */
	int skip_chain_checks;	/* test only: steps 5-9 not run (logged) */

	struct rcv_listener lis[RCV_CONFIG_MAX_LISTEN];
	size_t n_lis;
	ev_timer accept_pause;
	ev_timer stats_timer;

	struct rcv_iptab iptab;
	uint64_t n_conns;
	struct rcv_conn *conns;	/* list of live connections */
	uint64_t next_conn_id;
	uint64_t buf_bytes;	/* held under [limits] worker_buffer_budget (rcv_conn.c) */

	struct rcv_config *cfg_owned;	/* owned: the configuration of the last
					 * reload (NULL before one) */
	struct rcv_config **cfg_old;	/* owned: replaced ones, which open
					 * connections may still use */
	size_t n_cfg_old;

	int stopping;
	ev_signal sig_term, sig_int, sig_hup;
	struct rcv_server_stats st;
};

/* Bind every listener of cfg (in the master).  fds_r gets cfg->n_listen
 * sockets.  0, or -1 with a reason. */
int rcv_server_bind(const struct rcv_config *cfg, int *fds_r, char *err, size_t errlen);

/* Run the master: fork workers on the bound sockets, supervise, exit code. */
int rcv_server_master(const struct rcv_config *cfg, const int *fds, size_t n_fds,
    unsigned workers, int skip_chain_checks);

/* Exit code of a worker that could not start (certificate, key, LMTP or
 * verification set-up): restarting it cannot help, so the master stops
 * the gateway and exits with it (EX_CONFIG; the units carry
 * RestartPreventExitStatus=78). */
#define RCV_EXIT_INIT 78

/* Load everything local the configuration names (certificate and key, and
 * unless chain checks are skipped: ca_file, ct_log_list,
 * trust_anchor_file) once, to refuse a start with a one-line reason
 * instead of running with a hole.  0, or -1 with the reason. */
int rcv_server_preflight(const struct rcv_config *cfg, int skip_chain_checks, char *err,
    size_t errlen);

/* Read [redis] cache_key_file (once, at start, before privileges are
 * dropped; workers inherit it): 0 (also when none is configured), or -1
 * with the reason.  Warns when the DNS cache is in Redis without a key. */
int rcv_server_load_cache_key(const struct rcv_config *cfg, char *err, size_t errlen);

/* Called by rcv_conn when a connection is gone. */
void rcv_server_conn_closed(struct rcv_server *srv, const char *ip);

#endif
