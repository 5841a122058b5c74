/*
 * rcv_config: the gateway's configuration file (STYLE.md section 8).
 *
 * One INI file, `key = value` in [sections], `#` or `;` comments.  Every key
 * is described by one table (rcv_config.c) with its type, default and
 * range; unknown keys, bad values and out-of-range numbers are errors that
 * name the file and line.  Sizes take K/M/G (powers of 1024), durations
 * ms/s/m/h/d.  After loading, the struct is read-only.
 */
#ifndef RCV_CONFIG_H
#define RCV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verify/vfy.h"

#define RCV_CONFIG_STR		1024
#define RCV_CONFIG_MAX_LISTEN	16
#define RCV_CONFIG_MAX_TRACE	64
#define RCV_CONFIG_MAX_KEYS	64	/* rows of the key table (rcv_config.c) */

struct rcv_listen {
	char host[256];		/* numeric address, no brackets */
	int port;
	int v6;
};

#ifndef RCV_CONFIG_MAX_AUTHSERV
#define RCV_CONFIG_MAX_AUTHSERV 8
#endif

struct rcv_config {
	char path[RCV_CONFIG_STR];
	/* where each key was set, by its row in the key table: 0 = not in the
	 * file (default or derived); key_bad: the file's value was refused */
	unsigned key_line[RCV_CONFIG_MAX_KEYS];
	unsigned char key_bad[RCV_CONFIG_MAX_KEYS];
	unsigned listen_line[RCV_CONFIG_MAX_LISTEN];

	/* [server] */
	struct rcv_listen listen[RCV_CONFIG_MAX_LISTEN];
	size_t n_listen;
	char hostname[256];
	unsigned workers;		/* 0 = auto (one per CPU) */
	char user[64];
	char pid_file[RCV_CONFIG_STR];

	/* [tls] */
	char certificate[RCV_CONFIG_STR];
	char key[RCV_CONFIG_STR];
	int min_version;		/* 12 or 13 */

	/* [dns] */
	char unbound_conf[RCV_CONFIG_STR];
	char trust_anchor_file[RCV_CONFIG_STR];
	uint64_t dns_timeout_ms;
	int dns_cache_redis;		/* 0 memory, 1 redis */
	uint64_t cache_max_ttl_ms;
	uint64_t cache_entries;

	/* [verify] */
	char ca_file[RCV_CONFIG_STR];
	char ct_log_list[RCV_CONFIG_STR];
	uint64_t ct_min_scts;
	uint64_t chain_cache_ttl_ms;

	/* [lmtp] */
	char lmtp_target[RCV_CONFIG_STR];
	uint64_t lmtp_connections;
	uint64_t lmtp_timeout_ms;
	char spool_dir[RCV_CONFIG_STR];
	uint64_t spool_retry_ms;
	uint64_t spool_max_age_ms;
	uint64_t memory_threshold;	/* Email bodies above this go to a file */

	/* [headers] */
	char authserv_id[256];
	int authserv_id_derived;	/* not set: derived from hostname (warned at start) */
	char authserv_also_raw[RCV_CONFIG_STR];
	char authserv_also[RCV_CONFIG_MAX_AUTHSERV][256];	/* also treated as ours */
	size_t n_authserv_also;
	char trace_allow_raw[RCV_CONFIG_STR];
	char trace_allow[RCV_CONFIG_MAX_TRACE][80];
	size_t n_trace_allow;

	/* [redis] */
	char redis_url_raw[RCV_CONFIG_STR];
	int have_redis;
	struct vfy_redis_url redis;
	uint64_t stats_interval_ms;
	char instance[300];
	char cache_key_file[RCV_CONFIG_STR];	/* read once at start (rcv_server) */

	/* [limits] */
	uint64_t max_message_size;
	uint64_t max_recipients;
	uint64_t max_trace_headers;
	uint64_t max_trace_bytes;
	uint64_t worker_buffer_budget;	/* bytes, per worker: see rcv_conn.c */
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t handshake_timeout_ms;
	uint64_t idle_timeout_ms;
};

/* Fill cfg with every default (hostname from gethostname()). */
void rcv_config_defaults(struct rcv_config *cfg);

/* Load path over the defaults and validate.  Returns 0, or -1 with
 * "FILE:LINE: message" (or "FILE: message") in err: the first problem.
 * partial: for the tools that read the gateway's file for some of its keys
 * (smtpsec-verify, smtpsec-stats, smtpsec-spool), [tls] certificate and
 * key are not required. */
int rcv_config_load(const char *path, struct rcv_config *cfg_r, int partial, char *err,
    size_t errlen);

/* Load path and report every problem (not only the first), each as one
 * "FILE:LINE: message" to report(); the keys whose value was refused are
 * marked in key_bad.  Returns the number of problems. */
typedef void rcv_config_report_fn(void *arg, const char *msg);
unsigned rcv_config_load_all(const char *path, struct rcv_config *cfg_r, rcv_config_report_fn *report,
    void *arg);

/* "FILE:LINE" where [section] name was set, or "FILE" when the file does
 * not set it, into buf.  Returns the line, 0 when the key has its default
 * (or a derived value), -1 for an unknown key. */
int rcv_config_where(const struct rcv_config *cfg, const char *section, const char *name,
    char *buf, size_t len);

/* 1 when the file's value of [section] name was refused (and reported). */
int rcv_config_bad(const struct rcv_config *cfg, const char *section, const char *name);

/* Print the configuration in the file's syntax: RCV_CONFIG_DUMP_CHANGED only
 * the keys the file sets to a value other than the default (`-n`);
 * otherwise every key, with "# default: X" after those that differ (`-d`).
 * A Redis password is shown as ***** unless RCV_CONFIG_DUMP_SECRETS. */
#define RCV_CONFIG_DUMP_CHANGED	1
#define RCV_CONFIG_DUMP_SECRETS	2
void rcv_config_dump(const struct rcv_config *cfg, FILE *out, int flags);

/* Print smtpsec-gateway.conf(5) (man(7) source) from the key table. */
void rcv_config_man(FILE *out, const char *version);

/* Parse a Redis URL.  0, or -1 with a reason in *why_r. */
int rcv_config_parse_redis_url(const char *s, struct vfy_redis_url *u_r, const char **why_r);

/* Parse "1.5M"-style sizes and "300s"-style durations (ms). */
int rcv_config_parse_size(const char *s, uint64_t *v_r);
int rcv_config_parse_duration(const char *s, uint64_t *ms_r);

#endif
