/*
 * rcv_config: load and validate the configuration file.  See rcv_config.h.
 *
 * The tokenizer is our own, not libinih: the Debian libinih silently cuts
 * lines at 200 bytes and does not give the handler line numbers, and a
 * gateway must not run with a path or a header list it quietly truncated.
 * Every key is one row of `keys[]` below; nothing else knows key names.
 */
#include "receiver/rcv_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/mem.h"

enum ktype {
	K_STR,		/* copied into a char[] of `max` bytes */
	K_SIZE,		/* uint64_t, K/M/G suffixes */
	K_DURATION,	/* uint64_t milliseconds */
	K_UINT,		/* uint64_t */
	K_LISTEN,	/* repeatable host:port */
	K_WORKERS,	/* auto | 1..64 -> unsigned */
	K_TLSVER,	/* 1.2 | 1.3 -> int 12/13 */
	K_CACHE,	/* memory | redis -> int */
	K_TRACE,	/* comma list of names, * suffix wildcard */
	K_REDIS,	/* redis URL */
};

struct key {
	const char *section, *name;
	enum ktype type;
	size_t off;
	const char *def;	/* default, as it would be written; NULL = none */
	uint64_t min, max;	/* numbers; for K_STR max is the buffer size */
	const char *help;
};

/* The two words of a choice, for the values min and min + 1 */
static const char *const words[][2] = {
	[K_TLSVER] = { "1.2", "1.3" },
	[K_CACHE] = { "memory", "redis" },
};

#define O(f) offsetof(struct rcv_config, f)
#define SZ(f) sizeof(((struct rcv_config *)0)->f)
#define DAY (24ULL * 3600 * 1000)

static const struct key keys[] = {
	{ "server", "listen", K_LISTEN, O(listen), "0.0.0.0:4650", 0, 0,
	  "address to accept SMTPsec on, host:port or [v6]:port; repeatable" },
	{ "server", "hostname", K_STR, O(hostname), NULL, 1, SZ(hostname),
	  "this gateway's name in Received headers (default: gethostname())" },
	{ "server", "workers", K_WORKERS, O(workers), "auto", 0, 64,
	  "worker processes: auto (one per CPU) or 1-64" },
	{ "server", "user", K_STR, O(user), "", 0, SZ(user),
	  "drop privileges to this user after binding (empty: stay)" },
	{ "server", "pid_file", K_STR, O(pid_file), "", 0, SZ(pid_file),
	  "write the master's PID here (empty: none)" },
	{ "tls", "certificate", K_STR, O(certificate), "", 0, SZ(certificate),
	  "PEM certificate chain, leaf first (required)" },
	{ "tls", "key", K_STR, O(key), "", 0, SZ(key),
	  "PEM private key of the certificate (required)" },
	{ "tls", "min_version", K_TLSVER, O(min_version), "1.3", 12, 13,
	  "1.3, or 1.2 to also accept TLS 1.2 (not recommended)" },
	{ "dns", "unbound_conf", K_STR, O(unbound_conf), "", 0, SZ(unbound_conf),
	  "unbound.conf-syntax file for libunbound: stub/forward zones, trust anchors" },
	{ "dns", "trust_anchor_file", K_STR, O(trust_anchor_file), "/usr/share/dns/root.key", 0,
	  SZ(trust_anchor_file), "DNSSEC root trust anchor (empty: only unbound_conf's)" },
	{ "dns", "timeout", K_DURATION, O(dns_timeout_ms), "5s", 100, 120000,
	  "per-lookup timeout; a timeout is a temporary failure" },
	{ "dns", "cache", K_CACHE, O(dns_cache_redis), "memory", 0, 1,
	  "memory (per process) or redis (shared by every gateway)" },
	{ "dns", "cache_max_ttl", K_DURATION, O(cache_max_ttl_ms), "1h", 0, 7 * DAY,
	  "cap on the TTL of cached DNS answers" },
	{ "dns", "cache_entries", K_UINT, O(cache_entries), "100000", 16, 100000000,
	  "in-process DNS cache size (entries, LRU)" },
	{ "verify", "ca_file", K_STR, O(ca_file), "/etc/ssl/certs/ca-certificates.crt", 0,
	  SZ(ca_file), "PEM trust anchors for PKIX" },
	{ "verify", "ct_log_list", K_STR, O(ct_log_list), "/etc/smtpsec/log_list.json", 0,
	  SZ(ct_log_list), "Certificate Transparency log list (Chrome log_list.json v3)" },
	{ "verify", "ct_min_scts", K_UINT, O(ct_min_scts), "1", 0, 16,
	  "valid SCTs from distinct logs the leaf must carry (0 disables CT)" },
	{ "verify", "chain_cache_ttl", K_DURATION, O(chain_cache_ttl_ms), "10m", 0, DAY,
	  "longest time a chain verdict is reused (also bounded by DNS TTLs)" },
	{ "lmtp", "target", K_STR, O(lmtp_target), "unix:/run/dovecot/lmtp", 1, SZ(lmtp_target),
	  "Dovecot LMTP: unix:/path or host:port" },
	{ "lmtp", "connections", K_UINT, O(lmtp_connections), "8", 1, 1024,
	  "LMTP sessions kept per worker" },
	{ "lmtp", "timeout", K_DURATION, O(lmtp_timeout_ms), "60s", 1000, 3600000,
	  "LMTP connect/reply timeout" },
	{ "lmtp", "spool_dir", K_STR, O(spool_dir), "/var/spool/smtpsec", 1, SZ(spool_dir),
	  "durable spool for deferred recipients and large incoming Emails" },
	{ "lmtp", "spool_retry", K_DURATION, O(spool_retry_ms), "1m", 1000, DAY,
	  "first retry delay for spooled recipients (doubles, up to 1h)" },
	{ "lmtp", "spool_max_age", K_DURATION, O(spool_max_age_ms), "5d", 60000, 60 * DAY,
	  "after this, a spooled Email is moved to spool_dir/failed and logged" },
	{ "lmtp", "memory_threshold", K_SIZE, O(memory_threshold), "1M", 4096, 1ULL << 30,
	  "Email bodies larger than this are received into the spool, not memory" },
	{ "headers", "authserv_id", K_STR, O(authserv_id), NULL, 1, SZ(authserv_id),
	  "authserv-id of Authentication-Results: one value for the whole fleet (default, with a "
	  "warning at start: hostname without its first label when it has three or more, e.g. "
	  "mx1.b.example -> b.example)" },
	{ "headers", "authserv_id_also", K_STR, O(authserv_also_raw), "", 0, SZ(authserv_also_raw),
	  "more authserv-ids treated as ours when renaming forged Authentication-Results "
	  "(comma list, e.g. former ids or the hosts' names)" },
	{ "headers", "trace_allow", K_TRACE, O(trace_allow_raw), "Received, X-*", 0,
	  SZ(trace_allow_raw), "trace header names kept in the delivered copy; * suffix wildcard" },
	{ "redis", "url", K_REDIS, O(redis_url_raw), "", 0, SZ(redis_url_raw),
	  "redis://[user:pass@]host:port[/db] or unix:/path; empty: no Redis" },
	{ "redis", "stats_interval", K_DURATION, O(stats_interval_ms), "1s", 100, 3600000,
	  "how often stats are flushed to Redis" },
	{ "redis", "instance", K_STR, O(instance), NULL, 1, SZ(instance),
	  "this gateway's name in the stats (default: hostname:port)" },
	{ "redis", "cache_key_file", K_STR, O(cache_key_file), "", 0, SZ(cache_key_file),
	  "the fleet's DNS cache key (32 random bytes, or 64 hex digits; the same file on every "
	  "gateway): values in Redis are sealed with HMAC-SHA256 and one that fails is a miss; "
	  "empty: Redis is trusted (warned at start)" },
	{ "limits", "max_message_size", K_SIZE, O(max_message_size), "50M", 1024, 1ULL << 40,
	  "largest Email frame; larger ones get too_large" },
	{ "limits", "max_recipients", K_UINT, O(max_recipients), "1000", 1, 100000,
	  "recipients per Email" },
	{ "limits", "max_trace_headers", K_UINT, O(max_trace_headers), "100", 0, 10000,
	  "trace headers per Email" },
	{ "limits", "max_trace_bytes", K_SIZE, O(max_trace_bytes), "64K", 0, 16777215,
	  "bytes of trace headers per Email" },
	{ "limits", "max_connections", K_UINT, O(max_connections), "10000", 1, 1000000,
	  "connections in all (per worker process)" },
	{ "limits", "max_connections_per_ip", K_UINT, O(max_connections_per_ip), "100", 1, 1000000,
	  "connections per client IP (per worker process)" },
	{ "limits", "worker_buffer_budget", K_SIZE, O(worker_buffer_budget), "64M", 2ULL << 20, 1ULL << 40,
	  "memory one worker may hold for partly received Messages, ClientHello chains and in-memory "
	  "bodies across all its sessions; a new Message past it gets internal_error and its "
	  "connection is closed, a body past it goes to the spool early" },
	{ "limits", "handshake_timeout", K_DURATION, O(handshake_timeout_ms), "10s", 100, 600000,
	  "time allowed for the TLS handshake and ClientHello" },
	{ "limits", "idle_timeout", K_DURATION, O(idle_timeout_ms), "300s", 1000, DAY,
	  "close a connection idle this long" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS <= RCV_CONFIG_MAX_KEYS, "raise RCV_CONFIG_MAX_KEYS");

/* The units a number is written in, largest first: a value is printed in
 * the largest one that divides it. */
struct unit {
	const char *suffix;
	uint64_t mul;
};
static const struct unit u_ms[] = {
	{ "d", DAY }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
static const struct unit u_size[] = {
	{ "G", 1ULL << 30 }, { "M", 1ULL << 20 }, { "K", 1ULL << 10 }, { "", 1 } };
static const struct unit u_none[] = { { "", 1 } };

static const struct unit *
units(enum ktype t)
{
	return t == K_SIZE ? u_size : t == K_DURATION ? u_ms : u_none;
}

/* 0 is "0s" as a duration, "0" as a size */
static void
fmt_unit(char *buf, size_t len, uint64_t v, const struct unit *u)
{
	while (v % u->mul != 0 || (v == 0 && u->mul > 1000))
		u++;
	snprintf(buf, len, "%llu%s", (unsigned long long)(v / u->mul), u->suffix);
}

struct parse {
	const char *file;
	struct rcv_config *cfg;
	unsigned char seen[NKEYS];
	char *err;		/* the first problem */
	size_t errlen;
	unsigned nerr;
	rcv_config_report_fn *report;	/* every problem, or NULL */
	void *report_arg;
	int partial;		/* rcv_config_load(partial) */
};

/* Record one problem and go on: a file is read to its end so that a check
 * reports every problem at once.  Always -1. */
static int __attribute__((format(printf, 3, 4)))
fail(struct parse *p, unsigned line, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	int n;

	if (line)
		n = snprintf(msg, sizeof(msg), "%s:%u: ", p->file, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", p->file);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (p->nerr++ == 0 && p->err != NULL && p->errlen)
		snprintf(p->err, p->errlen, "%s", msg);
	if (p->report != NULL)
		p->report(p->report_arg, msg);
	return -1;
}

int
rcv_config_parse_size(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mul = 1ULL << 10; break;
		case 'M': mul = 1ULL << 20; break;
		case 'G': mul = 1ULL << 30; break;
		default: return -1;
		}
		end++;
		/* then nothing, "B" or "iB": 50M, 50MB, 50MiB (not 50Mbb) */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		else if (end[-1] == 'i' || end[-1] == 'I')
			return -1;
		if (*end)
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*v_r = v * mul;
	return 0;
}

int
rcv_config_parse_duration(const char *s, uint64_t *ms_r)
{
	char *end;
	unsigned long long v;
	uint64_t mul;
	size_t i;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	mul = *end == '\0' ? 1000 : 0;	/* a bare number is seconds */
	for (i = 0; mul == 0 && i < sizeof(u_ms) / sizeof(u_ms[0]); i++)
		if (strcmp(end, u_ms[i].suffix) == 0)
			mul = u_ms[i].mul;
	if (mul == 0 || v > UINT64_MAX / mul)
		return -1;
	*ms_r = v * mul;
	return 0;
}

int
rcv_config_parse_redis_url(const char *s, struct vfy_redis_url *u, const char **why_r)
{
	const char *p, *at, *hostend, *slash;
	size_t n;

	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (strncmp(s, "unix:", 5) == 0) {
		n = strlen(s + 5);
		if (n == 0 || s[5] != '/' || n >= sizeof(u->path)) {
			*why_r = "unix: needs an absolute socket path";
			return -1;
		}
		memcpy(u->path, s + 5, n + 1);
		return 0;
	}
	if (strncmp(s, "redis://", 8) != 0) {
		*why_r = "must start with redis:// or unix:";
		return -1;
	}
	p = s + 8;
	at = strrchr(p, '@');
	if (at != NULL) {
		const char *c = memchr(p, ':', (size_t)(at - p));
		size_t ul = c ? (size_t)(c - p) : 0;
		const char *pw = c ? c + 1 : p;
		size_t pl = (size_t)(at - pw);

		if (ul >= sizeof(u->user) || pl >= sizeof(u->password) || pl == 0) {
			*why_r = "bad user:password part";
			return -1;
		}
		memcpy(u->user, p, ul);
		memcpy(u->password, pw, pl);
		p = at + 1;
	}
	slash = strchr(p, '/');
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		if (rb == NULL || (slash && rb > slash)) {
			*why_r = "unterminated [IPv6] host";
			return -1;
		}
		n = (size_t)(rb - p - 1);
		if (n == 0 || n >= sizeof(u->host)) {
			*why_r = "bad host";
			return -1;
		}
		memcpy(u->host, p + 1, n);
		hostend = rb + 1;
	} else {
		hostend = p;
		while (*hostend && *hostend != ':' && *hostend != '/')
			hostend++;
		n = (size_t)(hostend - p);
		if (n == 0 || n >= sizeof(u->host)) {
			*why_r = "missing or long host";
			return -1;
		}
		memcpy(u->host, p, n);
	}
	if (*hostend == ':') {
		char *e;
		long port = strtol(hostend + 1, &e, 10);
		if (e == hostend + 1 || port < 1 || port > 65535 || (*e && *e != '/')) {
			*why_r = "bad port";
			return -1;
		}
		u->port = (int)port;
		hostend = e;
	}
	if (*hostend == '/') {
		char *e;
		long db;

		if (hostend[1] != '\0') {
			db = strtol(hostend + 1, &e, 10);
			if (e == hostend + 1 || *e || db < 0 || db > 1000) {
				*why_r = "bad database number";
				return -1;
			}
			u->db = (int)db;
		}
	} else if (*hostend) {
		*why_r = "garbage after host";
		return -1;
	}
	return 0;
}

static int
parse_listen(const char *v, struct rcv_listen *l)
{
	const char *colon;
	char *e;
	long port;
	size_t n;
	unsigned char tmp[16];

	memset(l, 0, sizeof(*l));
	if (*v == '[') {
		const char *rb = strchr(v, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		n = (size_t)(rb - v - 1);
		if (n == 0 || n >= sizeof(l->host))
			return -1;
		memcpy(l->host, v + 1, n);
		colon = rb + 1;
		l->v6 = 1;
		if (inet_pton(AF_INET6, l->host, tmp) != 1)
			return -1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - v);
		if (n == 0 || n >= sizeof(l->host))
			return -1;
		memcpy(l->host, v, n);
		if (inet_pton(AF_INET, l->host, tmp) != 1)
			return -1;
	}
	port = strtol(colon + 1, &e, 10);
	if (e == colon + 1 || *e || port < 1 || port > 65535)
		return -1;
	l->port = (int)port;
	return 0;
}

/* RFC 5322 field name: printable ASCII except ':' (ftext) */
static int
field_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

static int
parse_trace(struct rcv_config *cfg, const char *v)
{
	const char *p = v;

	cfg->n_trace_allow = 0;
	while (*p) {
		size_t n;

		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		if (n >= sizeof(cfg->trace_allow[0]) || cfg->n_trace_allow == RCV_CONFIG_MAX_TRACE)
			return -1;
		/* a '*' may only end the entry */
		if (memchr(p, '*', n) != NULL && (p[n - 1] != '*' || memchr(p, '*', n - 1) != NULL))
			return -1;
		if (!field_name_ok(p, n - (p[n - 1] == '*')) && !(n == 1 && *p == '*'))
			return -1;
		memcpy(cfg->trace_allow[cfg->n_trace_allow], p, n);
		cfg->trace_allow[cfg->n_trace_allow][n] = '\0';
		cfg->n_trace_allow++;
		p += n;
	}
	return 0;
}

static int
set_value(struct parse *p, unsigned line, const struct key *k, const char *v)
{
	char *base = (char *)p->cfg + k->off;
	uint64_t n = 0;
	unsigned long long u;
	const char *why = "";

	switch (k->type) {
	case K_STR:
		if (strlen(v) >= k->max)
			return fail(p, line, "%s: value too long (at most %llu bytes)", k->name,
			    (unsigned long long)k->max - 1);
		if (k->min && *v == '\0')
			return fail(p, line, "%s: must not be empty", k->name);
		memcpy(base, v, strlen(v) + 1);
		return 0;
	case K_SIZE:
		if (rcv_config_parse_size(v, &n) < 0)
			return fail(p, line, "%s: '%s' is not a size (e.g. 512K, 50M, 1G)", k->name, v);
		break;
	case K_DURATION:
		if (rcv_config_parse_duration(v, &n) < 0)
			return fail(p, line, "%s: '%s' is not a duration (e.g. 500ms, 10s, 5m, 1h, 2d)",
			    k->name, v);
		break;
	case K_UINT:
		if (cli_uint(v, 0, UINT64_MAX, &u) < 0)
			return fail(p, line, "%s: '%s' is not a number", k->name, v);
		n = u;
		break;
	case K_LISTEN: {
		struct rcv_config *c = p->cfg;

		if (c->n_listen == RCV_CONFIG_MAX_LISTEN)
			return fail(p, line, "listen: at most %d addresses", RCV_CONFIG_MAX_LISTEN);
		if (parse_listen(v, &c->listen[c->n_listen]) < 0)
			return fail(p, line, "listen: '%s' is not host:port or [v6]:port with a numeric address",
			    v);
		c->listen_line[c->n_listen] = line;
		c->n_listen++;
		return 0;
	}
	case K_WORKERS:	/* auto: 0 */
		if (strcmp(v, "auto") == 0)
			u = 0;
		else if (cli_uint(v, 1, k->max, &u) < 0)
			return fail(p, line, "workers: '%s' must be auto or 1-%llu", v,
			    (unsigned long long)k->max);
		*(unsigned *)(void *)base = (unsigned)u;
		return 0;
	case K_TLSVER:
	case K_CACHE:
		if (strcmp(v, words[k->type][0]) != 0 && strcmp(v, words[k->type][1]) != 0)
			return fail(p, line, "%s: '%s' must be %s or %s", k->name, v, words[k->type][0],
			    words[k->type][1]);
		*(int *)(void *)base = (int)k->min + (strcmp(v, words[k->type][1]) == 0);
		return 0;
	case K_TRACE:
		if (strlen(v) >= k->max)
			return fail(p, line, "trace_allow: value too long");
		if (parse_trace(p->cfg, v) < 0)
			return fail(p, line, "trace_allow: '%s' must be a comma list of header names, "
			    "each optionally ending in *", v);
		memcpy(base, v, strlen(v) + 1);
		return 0;
	case K_REDIS:
		if (strlen(v) >= k->max)
			return fail(p, line, "url: value too long");
		if (*v == '\0') {
			p->cfg->have_redis = 0;
		} else if (rcv_config_parse_redis_url(v, &p->cfg->redis, &why) < 0) {
			return fail(p, line, "url: '%s': %s", v, why);
		} else
			p->cfg->have_redis = 1;
		memcpy(base, v, strlen(v) + 1);
		return 0;
	}
	if (n < k->min || n > k->max)
		return fail(p, line, "%s: '%s' is out of range (%llu to %llu%s)", k->name, v,
		    (unsigned long long)k->min, (unsigned long long)k->max,
		    k->type == K_DURATION ? " ms" : "");
	*(uint64_t *)(void *)base = n;
	return 0;
}

void
rcv_config_defaults(struct rcv_config *cfg)
{
	struct parse p = { .file = "defaults", .cfg = cfg };
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if (keys[i].def != NULL)
			set_value(&p, 0, &keys[i], keys[i].def);
	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) < 0 || cfg->hostname[0] == '\0')
		strcpy(cfg->hostname, "localhost");
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int
key_row(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
parse_text(struct parse *p, const char *text)
{
	char section[64] = "";
	const char *line = text;
	unsigned lineno = 0;
	int listen_given = 0, section_ok = 0, had_section = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096], *s, *eq, *name, *val;
		int i;

		lineno++;
		if (len >= sizeof(buf)) {
			fail(p, lineno, "line too long");
			line += len + (nl ? 1 : 0);
			continue;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len + (nl ? 1 : 0);
		s = trim(buf);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *rb = strchr(s, ']');

			section_ok = 0;
			had_section = 1;
			section[0] = '\0';
			if (rb == NULL || rb[1] != '\0' || rb - s - 1 <= 0 || (size_t)(rb - s - 1) >= sizeof(section)) {
				fail(p, lineno, "bad section header");
				continue;
			}
			*rb = '\0';
			strcpy(section, s + 1);
			for (i = 0; i < (int)NKEYS; i++)
				if (strcmp(keys[i].section, section) == 0)
					break;
			if (i == (int)NKEYS) {
				/* its keys are not reported one by one */
				fail(p, lineno, "unknown section [%s]", section);
				continue;
			}
			section_ok = 1;
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			fail(p, lineno, "expected key = value");
			continue;
		}
		*eq = '\0';
		name = trim(s);
		val = trim(eq + 1);
		/* an inline comment needs whitespace before it */
		for (char *c = val; *c; c++)
			if ((*c == '#' || *c == ';') && c > val && (c[-1] == ' ' || c[-1] == '\t')) {
				*c = '\0';
				val = trim(val);
				break;
			}
		if (!section_ok) {
			/* after a bad section header: reported there */
			if (!had_section)
				fail(p, lineno, "key '%s' outside any [section]", name);
			continue;
		}
		if ((i = key_row(section, name)) < 0) {
			fail(p, lineno, "unknown key '%s' in [%s]", name, section);
			continue;
		}
		if (keys[i].type == K_LISTEN) {
			if (!listen_given)
				p->cfg->n_listen = 0;
			listen_given = 1;
		} else if (p->seen[i]) {
			fail(p, lineno, "%s given twice in [%s] (first on line %u)", name, section,
			    p->cfg->key_line[i]);
			continue;
		}
		p->seen[i] = 1;
		if (p->cfg->key_line[i] == 0)
			p->cfg->key_line[i] = lineno;
		if (set_value(p, lineno, &keys[i], val) < 0)
			p->cfg->key_bad[i] = 1;
	}
	return p->nerr ? -1 : 0;
}

/* the line that set a key, 0 when it has its default */
static unsigned
line_of(const struct parse *p, const char *section, const char *name)
{
	int r = key_row(section, name);

	return r < 0 ? 0 : p->cfg->key_line[r];
}

/* Cross-key checks and derived defaults. */
static int
finish(struct parse *p)
{
	struct rcv_config *c = p->cfg;
	const char *q = c->authserv_also_raw;
	size_t i, j;

	/* each address once: a second bind of it would fail at start (and
	 * 0.0.0.0 or [::] with the same port covers every address of its family) */
	for (i = 1; i < c->n_listen; i++)
		for (j = 0; j < i; j++) {
			const struct rcv_listen *a = &c->listen[j], *b = &c->listen[i];
			int any_a = strcmp(a->host, a->v6 ? "::" : "0.0.0.0") == 0;
			int any_b = strcmp(b->host, b->v6 ? "::" : "0.0.0.0") == 0;

			if (a->port != b->port || a->v6 != b->v6)
				continue;
			if (strcmp(a->host, b->host) == 0) {
				fail(p, c->listen_line[i], "listen: %s%s%s:%d given twice (first on line %u)",
				    b->v6 ? "[" : "", b->host, b->v6 ? "]" : "", b->port, c->listen_line[j]);
				break;
			}
			if (any_a || any_b) {
				fail(p, c->listen_line[i], "listen: %s%s%s:%d overlaps %s%s%s:%d (line %u): "
				    "the wildcard address already covers it",
				    b->v6 ? "[" : "", b->host, b->v6 ? "]" : "", b->port,
				    a->v6 ? "[" : "", a->host, a->v6 ? "]" : "", a->port, c->listen_line[j]);
				break;
			}
		}
	if (c->certificate[0] == '\0' && !c->key_bad[key_row("tls", "certificate")] && !p->partial)
		fail(p, 0, "[tls] certificate is required");
	if (c->key[0] == '\0' && !c->key_bad[key_row("tls", "key")] && !p->partial)
		fail(p, 0, "[tls] key is required");
	if (c->dns_cache_redis && !c->have_redis && !c->key_bad[key_row("redis", "url")])
		fail(p, line_of(p, "dns", "cache"), "[dns] cache = redis needs [redis] url");
	if (c->cache_key_file[0] && c->cache_key_file[0] != '/')
		fail(p, line_of(p, "redis", "cache_key_file"), "[redis] cache_key_file must be an absolute path");
	if (c->unbound_conf[0] == '\0' && c->trust_anchor_file[0] == '\0')
		fail(p, line_of(p, "dns", "trust_anchor_file"), "[dns] needs trust_anchor_file or unbound_conf: "
		    "the gateway never runs without DNSSEC validation");
	if (strncmp(c->lmtp_target, "unix:", 5) == 0) {
		if (c->lmtp_target[5] != '/')
			fail(p, line_of(p, "lmtp", "target"), "[lmtp] target: unix: needs an absolute path");
	} else if (strrchr(c->lmtp_target, ':') == NULL) {
		fail(p, line_of(p, "lmtp", "target"), "[lmtp] target: '%s' must be unix:/path or host:port",
		    c->lmtp_target);
	}
	if (c->authserv_id[0] == '\0') {
		/* RFC 8601 2.5: one authserv-id per ADMD.  The host name differs
		 * per gateway; its parent domain is the same across mx1/mx2. */
		const char *dot = strchr(c->hostname, '.');

		if (dot != NULL && strchr(dot + 1, '.') != NULL && dot[1] != '.')
			snprintf(c->authserv_id, sizeof(c->authserv_id), "%s", dot + 1);
		else
			snprintf(c->authserv_id, sizeof(c->authserv_id), "%s", c->hostname);
		c->authserv_id_derived = 1;
	}
	c->n_authserv_also = 0;
	while (*q) {
		size_t n;

		q += strspn(q, ", \t");
		n = strcspn(q, ", \t");
		if (n == 0)
			break;
		if (n >= sizeof(c->authserv_also[0]) || c->n_authserv_also == RCV_CONFIG_MAX_AUTHSERV) {
			fail(p, line_of(p, "headers", "authserv_id_also"), "[headers] authserv_id_also: "
			    "at most %d ids of at most %zu characters", RCV_CONFIG_MAX_AUTHSERV,
			    sizeof(c->authserv_also[0]) - 1);
			break;
		}
		memcpy(c->authserv_also[c->n_authserv_also], q, n);
		c->authserv_also[c->n_authserv_also++][n] = '\0';
		q += n;
	}
	if (c->instance[0] == '\0')
		snprintf(c->instance, sizeof(c->instance), "%s:%d", c->hostname, c->listen[0].port);
	return p->nerr ? -1 : 0;
}

/* The file (at most 1 MiB, no NUL byte) over the defaults: the number of
 * problems, the first in err, every one to report. */
static unsigned
load(const char *path, struct rcv_config *cfg, int partial, char *err, size_t errlen,
    rcv_config_report_fn *report, void *arg)
{
	struct parse p = { .file = path, .cfg = cfg, .err = err, .errlen = errlen, .report = report,
	    .report_arg = arg, .partial = partial };
	size_t len;
	char *text;

	rcv_config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	text = (char *)buf_read_file(path, (1 << 20) - 2, &len);
	if (text == NULL)
		fail(&p, 0, "%s", errno == EFBIG ? "file larger than 1 MiB" : strerror(errno));
	else if (strlen(text) != len)
		fail(&p, 0, "NUL byte in file");
	else {
		parse_text(&p, text);
		finish(&p);
	}
	free(text);
	return p.nerr;
}

int
rcv_config_load(const char *path, struct rcv_config *cfg, int partial, char *err, size_t errlen)
{
	return load(path, cfg, partial, err, errlen, NULL, NULL) ? -1 : 0;
}

unsigned
rcv_config_load_all(const char *path, struct rcv_config *cfg, rcv_config_report_fn *report, void *arg)
{
	return load(path, cfg, 0, NULL, 0, report, arg);
}

int
rcv_config_where(const struct rcv_config *cfg, const char *section, const char *name, char *buf,
    size_t len)
{
	int r = key_row(section, name);

	if (r >= 0 && cfg->key_line[r]) {
		snprintf(buf, len, "%s:%u", cfg->path, cfg->key_line[r]);
		return (int)cfg->key_line[r];
	}
	snprintf(buf, len, "%s", cfg->path);
	return r < 0 ? -1 : 0;
}

int
rcv_config_bad(const struct rcv_config *cfg, const char *section, const char *name)
{
	int r = key_row(section, name);

	return r >= 0 && cfg->key_bad[r];
}

/* One key's value as it would be written in the file ("listen": every
 * address, comma-separated, for comparing). */
static void
render(const struct rcv_config *c, const struct key *k, int flags, char *v, size_t len)
{
	const char *base = (const char *)c + k->off;
	size_t j, n;

	switch (k->type) {
	case K_STR:
	case K_TRACE:
		snprintf(v, len, "%s", base);
		break;
	case K_REDIS:
		if (c->redis.password[0] && !(flags & RCV_CONFIG_DUMP_SECRETS)) {
			/* the URL with its password part replaced */
			const char *at = strrchr(base, '@'), *pw = base + 8;
			const char *colon = memchr(pw, ':', at ? (size_t)(at - pw) : 0);

			if (at != NULL && strncmp(base, "redis://", 8) == 0)
				snprintf(v, len, "%.*s*****%s", (int)((colon ? colon + 1 : pw) - base), base, at);
			else
				snprintf(v, len, "*****");
		} else
			snprintf(v, len, "%s", base);
		break;
	case K_SIZE:
	case K_UINT:
	case K_DURATION:
		fmt_unit(v, len, *(const uint64_t *)(const void *)base, units(k->type));
		break;
	case K_LISTEN:
		v[0] = '\0';
		for (j = 0, n = 0; j < c->n_listen && n < len; j++)
			n += (size_t)snprintf(v + n, len - n, c->listen[j].v6 ? "%s[%s]:%d" : "%s%s:%d",
			    j ? ", " : "", c->listen[j].host, c->listen[j].port);
		break;
	case K_WORKERS:
		if (c->workers)
			snprintf(v, len, "%u", c->workers);
		else
			snprintf(v, len, "auto");
		break;
	case K_TLSVER:
	case K_CACHE:
		snprintf(v, len, "%s", words[k->type][*(const int *)(const void *)base != (int)k->min]);
		break;
	}
}

void
rcv_config_dump(const struct rcv_config *c, FILE *out, int flags)
{
	struct rcv_config *d = mem_alloc(sizeof(*d));
	const char *sec = "";
	char v[RCV_CONFIG_STR + 64], dv[RCV_CONFIG_STR + 64];
	size_t i, j;
	int first = 1;

	rcv_config_defaults(d);
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		int same;

		render(c, k, flags, v, sizeof(v));
		render(d, k, flags, dv, sizeof(dv));
		/* no default (hostname, authserv_id, instance): derived */
		same = k->def != NULL && strcmp(v, dv) == 0;
		if ((flags & RCV_CONFIG_DUMP_CHANGED) && (c->key_line[i] == 0 || same))
			continue;
		if (strcmp(sec, k->section) != 0) {
			fprintf(out, "%s[%s]\n", first ? "" : "\n", k->section);
			sec = k->section;
			first = 0;
		}
		if (k->type == K_LISTEN) {
			for (j = 0; j < c->n_listen; j++)
				fprintf(out, c->listen[j].v6 ? "%slisten = [%s]:%d" : "%slisten = %s:%d",
				    j ? "\n" : "", c->listen[j].host, c->listen[j].port);
		} else
			fprintf(out, "%s =%s%s", k->name, v[0] ? " " : "", v);
		if (!(flags & RCV_CONFIG_DUMP_CHANGED)) {
			if (k->def == NULL && c->key_line[i] == 0)
				fprintf(out, "  # derived, not set");
			else if (!same && k->def != NULL)
				fprintf(out, "  # default: %s", k->def[0] ? k->def : "(empty)");
		}
		fputc('\n', out);
	}
	free(d);
}

/* man(7) text: a backslash doubled, a line never starting with . or ' */
static void
man_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

/* the man page's name of each type (min_version and cache: their words) */
static const char *const type_names[] = {
	[K_STR] = "string", [K_SIZE] = "size", [K_DURATION] = "duration", [K_UINT] = "number",
	[K_LISTEN] = "address", [K_WORKERS] = "auto|number", [K_TRACE] = "list", [K_REDIS] = "url",
};

void
rcv_config_man(FILE *out, const char *version)
{
	const char *sec = "";
	size_t i;

	fprintf(out, ".\\\" Generated by smtpsec-gateway --print-conf-man from the key table in\n"
	    ".\\\" receiver/rcv_config.c; edit the table, not this file.\n");
	fprintf(out, ".TH SMTPSEC\\-GATEWAY.CONF 5 \"\" \"smtpsec\\-gateway %s\" \"File Formats\"\n", version);
	fputs(".SH NAME\n"
	    "smtpsec\\-gateway.conf \\- configuration file of the SMTPsec receiving gateway\n"
	    ".SH SYNOPSIS\n"
	    ".B /etc/smtpsec/smtpsec\\-gateway.conf\n"
	    ".SH DESCRIPTION\n"
	    "One INI file read by\n"
	    ".BR smtpsec\\-gateway (8)\n"
	    "at start and on SIGHUP:\n"
	    ".B [section]\n"
	    "headers and\n"
	    ".I key\n"
	    "=\n"
	    ".I value\n"
	    "lines.\n"
	    "A line starting with # or ; is a comment, and so is the rest of a line\n"
	    "from a # or ; that follows a space or tab.\n"
	    "Every key may appear once per file, except\n"
	    ".BR listen ,\n"
	    "which may be repeated.\n"
	    "An unknown section or key, a value of the wrong type, a number out of\n"
	    "range or a key given twice is an error naming the file and line.\n"
	    ".PP\n"
	    "A\n"
	    ".I size\n"
	    "is a number of bytes, optionally followed by K, M or G (powers of 1024),\n"
	    "which may be followed by B or iB (50M, 50MB and 50MiB are the same).\n"
	    "A\n"
	    ".I duration\n"
	    "is a number followed by ms, s, m, h or d (a bare number is seconds).\n"
	    ".PP\n"
	    ".B smtpsec\\-gateway \\-t\n"
	    "checks a file and everything it names;\n"
	    ".B smtpsec\\-gateway \\-n\n"
	    "prints the keys it sets to other values than the defaults, and\n"
	    ".B smtpsec\\-gateway \\-d\n"
	    "every key with its value.\n"
	    ".SH KEYS\n", out);
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (strcmp(sec, k->section) != 0) {
			fprintf(out, ".SS [%s]\n", k->section);
			sec = k->section;
		}
		if (k->type == K_TLSVER || k->type == K_CACHE)
			fprintf(out, ".TP\n\\fB%s\\fR = \\fI%s|%s\\fR", k->name, words[k->type][0],
			    words[k->type][1]);
		else
			fprintf(out, ".TP\n\\fB%s\\fR = \\fI%s\\fR", k->name, type_names[k->type]);
		if (k->def != NULL && k->def[0]) {
			fputs(" (default: \\fB", out);
			man_text(out, k->def);
			fputs("\\fR)", out);
		} else if (k->def != NULL)
			fputs(" (default: empty)", out);
		fputc('\n', out);
		man_text(out, k->help);
		if (k->type == K_UINT || ((k->type == K_SIZE || k->type == K_DURATION) && k->max)) {
			char lo[64], hi[64];

			fmt_unit(lo, sizeof(lo), k->min, units(k->type));
			fmt_unit(hi, sizeof(hi), k->max, units(k->type));
			fprintf(out, "; %s to %s", lo, hi);
		}
		fputs(".\n", out);
	}
	fputs(".SH FILES\n"
	    ".TP\n"
	    ".I /etc/smtpsec/smtpsec\\-gateway.conf\n"
	    "the default configuration file;\n"
	    ".I /etc/smtpsec/INSTANCE.conf\n"
	    "for the smtpsec\\-gateway@INSTANCE unit\n"
	    ".SH SEE ALSO\n"
	    ".BR smtpsec\\-gateway (8),\n"
	    ".BR smtpsec\\-verify (1),\n"
	    ".BR smtpsec\\-stats (1),\n"
	    ".BR smtpsec\\-spool (8)\n", out);
}
