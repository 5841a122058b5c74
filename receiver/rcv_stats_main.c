/*
 * smtpsec-stats: read the gateways' stats from Redis (see rcv_metrics.h for
 * the key layout) and print one row per instance plus cluster totals, with
 * per-second rates computed from two samples; or the same data as JSON, as
 * a Prometheus text exposition (format 0.0.4), or as a Nagios-style check
 * (the options: usage() below).
 *
 * An instance whose heartbeat is older than --stale (default: three of its
 * flush intervals, at least 3 s) is shown as stale and left out of totals.
 * The table and JSON modes exit 69 (EX_UNAVAILABLE) when no instance is
 * live; --check exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/mem.h"
#include "lmtp/lmtp.h"
#include "receiver/rcv_config.h"
#include "receiver/rcv_metrics.h"
#include "verify/vfy.h"

#define MAX_INST 256

struct sample {
	char name[256];
	double heartbeat;
	double interval_s;
	int64_t v[RCV_M__COUNT];	/* counters; gauges summed over workers */
	int found;
};

struct snap {
	struct timespec at;
	size_t n;
	struct sample inst[MAX_INST];
	int64_t cluster[RCV_M__COUNT];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsec-stats [-c CONFIG | --url URL | --url-file FILE] [--interval SECONDS]\n"
	    "                     [--json | --prometheus | --check [THRESHOLDS]]\n"
	    "                     [--watch [--count N]] [--stale SECONDS]\n"
	    "  -c CONFIG         take [redis] url from the gateway's configuration file\n"
	    "  --url URL         redis://[user@]host:port[/db] or unix:/path\n"
	    "                    (default redis://127.0.0.1:6379); a password in the URL\n"
	    "                    shows in ps: use -c, --url-file or REDISCLI_AUTH instead\n"
	    "  --url-file FILE   read the URL from the first line of FILE (mode 0600)\n"
	    "  --interval S      seconds between the two samples rates come from (default 1)\n"
	    "  --json            one JSON object per sample, for scripts\n"
	    "  --prometheus      one sample in the Prometheus text format (0.0.4), for\n"
	    "                    node-exporter's textfile collector\n"
	    "    --output FILE   write it to FILE atomically (FILE.tmp, then renamed)\n"
	    "  --check           one Nagios/monit status line; exit 0 OK, 1 WARNING,\n"
	    "                    2 CRITICAL, 3 UNKNOWN. Thresholds:\n"
	    "    --min-live N            CRITICAL below N live instances (default 1)\n"
	    "    --warn-stale N          WARNING at N stale instances (default 1; 0 = never)\n"
	    "    --spool-warn N, --spool-crit N\n"
	    "                            spooled Emails in the live instances (default 100, 1000)\n"
	    "    --spool-dir DIR         also check this host's spool (the gateway's spool_dir):\n"
	    "    --spool-age-warn S, --spool-age-crit S\n"
	    "                            age of its oldest waiting Email (default 3600, 86400)\n"
	    "    --redis-down-crit       CRITICAL (default WARNING) when a live instance\n"
	    "                            reports its DNS cache Redis down\n"
	    "  --watch           refresh like top until interrupted (or --count N times)\n"
	    "  --stale S         heartbeat age that makes an instance stale\n"
	    "                    (default 3 x its flush interval, at least 3 s)\n"
	    "  --version, --help\n"
	    "Environment: REDISCLI_AUTH is the password when the URL carries none.\n"
	    "Exit: 0 ok, 64 usage, 69 Redis unreachable or no live instance, 73 --output\n"
	    "not written, 78 bad configuration; with --check 0/1/2/3 as above.\n");
}

static redisContext *
connect_url(const struct vfy_redis_url *u, char *err, size_t errlen)
{
	struct vfy_redis_options ro;
	struct vfy_redis_sync_err e;
	redisContext *c;
	char where[600];

	if (u->path[0])
		snprintf(where, sizeof(where), "unix:%s", u->path);
	else
		snprintf(where, sizeof(where), "%s:%d", u->host, u->port);
	vfy_redis_url_options(u, &ro);
	ro.handshake_ms = 2000;
	if ((c = vfy_redis_connect_sync(&ro, &e)) != NULL)
		return c;
	if (strcmp(e.cmd, "connect") == 0)
		snprintf(err, errlen, "cannot connect to Redis at %s: %s", where, e.text);
	else if (strcmp(e.cmd, "AUTH") == 0)
		snprintf(err, errlen, "Redis at %s refused the password%s: %s", where,
		    u->user[0] ? " (or user)" : "", e.text);
	else if (strcmp(e.cmd, "SELECT") == 0)
		snprintf(err, errlen, "Redis at %s refused SELECT %d: %s", where, u->db, e.text);
	else
		snprintf(err, errlen, "Redis at %s: %s%s", where, e.text[0] ? e.text : "unexpected reply to PING",
		    strncmp(e.text, "NOAUTH", 6) == 0 ?
		    " (give the password with -c CONFIG, --url-file or REDISCLI_AUTH)" : "");
	return NULL;
}

static int
metric_index(const char *field, size_t len)
{
	int k;

	for (k = 0; k < RCV_M__COUNT; k++) {
		const char *n = rcv_metrics_name(k);
		size_t nl = strlen(n);
		if (rcv_metrics_is_gauge(k)) {
			/* "<gauge>.w<N>" */
			if (len > nl + 2 && memcmp(field, n, nl) == 0 && field[nl] == '.' && field[nl + 1] == 'w')
				return k;
		} else if (len == nl && memcmp(field, n, nl) == 0)
			return k;
	}
	return -1;
}

/* Fold an HGETALL reply into v[] (and heartbeat/interval). */
static void
fold_hash(const redisReply *r, int64_t *v, double *hb, double *iv)
{
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *val = r->element[i + 1];
		int k;

		if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
			continue;
		if (hb && strcmp(f->str, "meta.heartbeat") == 0) {
			*hb = strtod(val->str, NULL);
			continue;
		}
		if (iv && strcmp(f->str, "meta.interval_ms") == 0) {
			*iv = strtod(val->str, NULL) / 1000.0;
			continue;
		}
		k = metric_index(f->str, f->len);
		if (k >= 0)
			v[k] += strtoll(val->str, NULL, 10);
	}
}

static int
take(redisContext *c, struct snap *s)
{
	redisReply *r, *h;
	size_t i;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &s->at);
	r = redisCommand(c, "ZRANGE smtpsec:instances 0 -1");
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "smtpsec-stats: ZRANGE failed: %s\n", r ? (r->str ? r->str : "bad reply") : c->errstr);
		freeReplyObject(r);
		return -1;
	}
	for (i = 0; i < r->elements && s->n < MAX_INST; i++) {
		struct sample *in = &s->inst[s->n];
		if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len >= sizeof(in->name))
			continue;
		memcpy(in->name, r->element[i]->str, r->element[i]->len);
		h = redisCommand(c, "HGETALL smtpsec:stats:%b", in->name, strlen(in->name));
		in->interval_s = 1.0;
		fold_hash(h, in->v, &in->heartbeat, &in->interval_s);
		in->found = h != NULL && h->type == REDIS_REPLY_ARRAY && h->elements > 0;
		freeReplyObject(h);
		s->n++;
	}
	freeReplyObject(r);
	h = redisCommand(c, "HGETALL smtpsec:stats:total");
	fold_hash(h, s->cluster, NULL, NULL);
	freeReplyObject(h);
	return 0;
}

static double
dt_of(const struct snap *a, const struct snap *b)
{
	return (double)(b->at.tv_sec - a->at.tv_sec) + (double)(b->at.tv_nsec - a->at.tv_nsec) / 1e9;
}

static const struct sample *
find_inst(const struct snap *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->inst[i].name, name) == 0)
			return &a->inst[i];
	return NULL;
}

static double
rate(const struct snap *a, const struct snap *b, const struct sample *bi, int k)
{
	const struct sample *p = find_inst(a, bi->name);
	double dt = dt_of(a, b);

	return p != NULL && dt > 0 ? (double)(bi->v[k] - p->v[k]) / dt : 0;
}

static int64_t
rejected(const int64_t *v)
{
	return v[RCV_M_reply_internal_error] + v[RCV_M_reply_service_unavailable] +
	    v[RCV_M_reply_illegal_message] + v[RCV_M_reply_illegal_parameter] +
	    v[RCV_M_reply_too_large] + v[RCV_M_reply_authentication_failed] +
	    v[RCV_M_reply_insufficient_security] + v[RCV_M_reply_unknown_address];
}

static int
is_stale(const struct sample *s, double now, double stale)
{
	double lim = stale > 0 ? stale : (3 * s->interval_s < 3 ? 3 : 3 * s->interval_s);
	return !s->found || now - s->heartbeat > lim;
}

static int
is_latency(int k)
{
	return k == RCV_M_lmtp_latency_us_sum || k == RCV_M_lmtp_latency_count ||
	    k == RCV_M_lmtp_latency_le_10ms || k == RCV_M_lmtp_latency_le_100ms ||
	    k == RCV_M_lmtp_latency_le_1s || k == RCV_M_lmtp_latency_gt_1s;
}

/* The gateway counts each LMTP transaction in one latency band; buckets
 * named "le" are cumulative (Prometheus histogram semantics): le_100ms
 * includes le_10ms, le_1s both; gt_1s stays the band above 1 s. */
static void
cumulate(const int64_t *v, int64_t *out)
{
	memcpy(out, v, sizeof(*out) * RCV_M__COUNT);
	out[RCV_M_lmtp_latency_le_100ms] += out[RCV_M_lmtp_latency_le_10ms];
	out[RCV_M_lmtp_latency_le_1s] += out[RCV_M_lmtp_latency_le_100ms];
}

/* Returns the number of live instances. */
static size_t
print_table(const struct snap *a, const struct snap *b, double stale)
{
	double now = (double)b->at.tv_sec, dt = dt_of(a, b);
	int64_t tot[RCV_M__COUNT] = { 0 };
	double tr[5] = { 0 };
	size_t i, live = 0;
	int k;

	printf("%-28s %-5s %7s %9s %9s %9s %9s %9s %8s %6s\n", "INSTANCE", "STATE",
	    "CONNS", "ACCEPT/s", "EMAIL/s", "DELIV/s", "REJECT/s", "KiB/s", "LMTP_ms", "SPOOL");
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i], *p = find_inst(a, s->name);
		int st = is_stale(s, now, stale);
		double r[5], lat = s->v[RCV_M_lmtp_latency_count] ?
		    (double)s->v[RCV_M_lmtp_latency_us_sum] / (double)s->v[RCV_M_lmtp_latency_count] / 1000.0 : 0;

		r[0] = rate(a, b, s, RCV_M_conn_accepted);
		r[1] = rate(a, b, s, RCV_M_emails_received);
		r[2] = rate(a, b, s, RCV_M_emails_delivered);
		/* rejected: rate of the sum */
		r[3] = p != NULL && dt > 0 ? (double)(rejected(s->v) - rejected(p->v)) / dt : 0;
		r[4] = rate(a, b, s, RCV_M_bytes_in) / 1024.0;
		printf("%-28.28s %-5s %7lld %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %6lld\n", s->name,
		    st ? "stale" : s->v[RCV_M_instance_duplicate] > 0 ? "dup" : "live",
		    (long long)s->v[RCV_M_conn_active], r[0], r[1], r[2], r[3], r[4],
		    lat, (long long)s->v[RCV_M_spool_depth]);
		if (st)
			continue;
		live++;
		for (k = 0; k < RCV_M__COUNT; k++)
			tot[k] += s->v[k];
		for (k = 0; k < 5; k++)
			tr[k] += r[k];
	}
	printf("%-28s %-5zu %7lld %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %6lld\n", "TOTAL (live)", live,
	    (long long)tot[RCV_M_conn_active], tr[0], tr[1], tr[2], tr[3], tr[4],
	    tot[RCV_M_lmtp_latency_count] ? (double)tot[RCV_M_lmtp_latency_us_sum] / (double)tot[RCV_M_lmtp_latency_count] / 1000.0 : 0,
	    (long long)tot[RCV_M_spool_depth]);
	printf("cluster since start: received=%lld delivered=%lld rejected=%lld rcpt_spooled=%lld bytes_in=%lld\n",
	    (long long)b->cluster[RCV_M_emails_received], (long long)b->cluster[RCV_M_emails_delivered],
	    (long long)rejected(b->cluster), (long long)b->cluster[RCV_M_rcpt_spooled],
	    (long long)b->cluster[RCV_M_bytes_in]);
	return live;
}

static json_t *
json_counters(const int64_t *raw)
{
	json_t *o = json_object();
	int64_t v[RCV_M__COUNT];
	int k;

	cumulate(raw, v);
	for (k = 0; k < RCV_M__COUNT; k++)
		json_object_set_new(o, rcv_metrics_name(k), json_integer(v[k]));
	return o;
}

static json_t *
json_rate(double r)
{
	/* three decimals, as the printf output had */
	return json_real(round(r * 1000.0) / 1000.0);
}

/* Returns the number of live instances. */
static size_t
print_json(const struct snap *a, const struct snap *b, double stale)
{
	double now = (double)b->at.tv_sec;
	int64_t tot[RCV_M__COUNT] = { 0 };
	json_t *root = json_object(), *arr = json_array();
	size_t i, live = 0;
	char *text;
	int k;

	json_object_set_new(root, "time", json_integer((json_int_t)b->at.tv_sec));
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i];
		int st = is_stale(s, now, stale);
		json_t *o = json_object(), *r = json_object();

		json_object_set_new(o, "instance", json_string(s->name));
		json_object_set_new(o, "state", json_string(st ? "stale" : "live"));
		json_object_set_new(o, "heartbeat", json_integer((json_int_t)s->heartbeat));
		json_object_set_new(o, "counters", json_counters(s->v));
		json_object_set_new(r, "conn_accepted", json_rate(rate(a, b, s, RCV_M_conn_accepted)));
		json_object_set_new(r, "emails_received", json_rate(rate(a, b, s, RCV_M_emails_received)));
		json_object_set_new(r, "emails_delivered", json_rate(rate(a, b, s, RCV_M_emails_delivered)));
		json_object_set_new(r, "bytes_in", json_rate(rate(a, b, s, RCV_M_bytes_in)));
		json_object_set_new(o, "rates", r);
		json_array_append_new(arr, o);
		if (st)
			continue;
		live++;
		for (k = 0; k < RCV_M__COUNT; k++)
			tot[k] += s->v[k];
	}
	json_object_set_new(root, "instances", arr);
	json_object_set_new(root, "live", json_integer((json_int_t)live));
	json_object_set_new(root, "totals_live", json_counters(tot));
	json_object_set_new(root, "cluster", json_counters(b->cluster));
	/* an object never fails to encode; out of memory ends in mem_oom */
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	free(text);
	json_decref(root);
	return live;
}

/* --- Prometheus text exposition format 0.0.4 --------------------------- */

static void
prom_name(int k, char *buf, size_t len)
{
	const char *n = rcv_metrics_name(k);
	size_t nl = strlen(n);

	if (rcv_metrics_is_gauge(k) || (nl > 6 && strcmp(n + nl - 6, "_total") == 0))
		snprintf(buf, len, "smtpsec_%s", n);
	else
		snprintf(buf, len, "smtpsec_%s_total", n);
}

static void
prom_family(int k, const char *prefix, char *name, size_t len)
{
	const char *n = rcv_metrics_name(k), *help = rcv_metrics_help(k);
	char base[200];

	prom_name(k, base, sizeof(base));
	snprintf(name, len, "%s%s", prefix, base + strlen("smtpsec_"));
	if (help != NULL)
		printf("# HELP %s %s\n", name, help);
	else if (strncmp(n, "reply_", 6) == 0)
		printf("# HELP %s Error replies sent with ErrorCode %s.\n", name, n + 6);
	else if (strncmp(n, "reject_", 7) == 0)
		printf("# HELP %s Emails refused at verification step %s.\n", name, n + 7);
	else if (strncmp(n, "tempfail_", 9) == 0)
		printf("# HELP %s Emails answered with a temporary failure for %s.\n", name, n + 9);
	else
		printf("# HELP %s smtpsec-gateway %s %s.\n", name, rcv_metrics_is_gauge(k) ? "gauge" : "counter", n);
	printf("# TYPE %s %s\n", name, rcv_metrics_is_gauge(k) ? "gauge" : "counter");
}

/* A sample's start, NAMESUFFIX{instance="V" (the caller closes the labels
 * and prints the value); backslash, double quote and newline in V escaped
 * (format 0.0.4). */
static void
prom_series(const char *name, const char *suffix, const char *v)
{
	printf("%s%s{instance=\"", name, suffix);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			printf("\\n");
		else
			putchar(*v);
	}
	putchar('"');
}

static void
prom_histogram(const char *name, const char *help, const struct snap *b, const int *use)
{
	static const char *const le[] = { "0.01", "0.1", "1", "+Inf" };
	size_t i;
	int j;

	printf("# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i];
		int64_t v[RCV_M__COUNT], cum[4];

		if (!use[i])
			continue;
		cumulate(s->v, v);
		cum[0] = v[RCV_M_lmtp_latency_le_10ms];
		cum[1] = v[RCV_M_lmtp_latency_le_100ms];
		cum[2] = v[RCV_M_lmtp_latency_le_1s];
		cum[3] = v[RCV_M_lmtp_latency_count];
		for (j = 0; j < 4; j++) {
			prom_series(name, "_bucket", s->name);
			printf(",le=\"%s\"} %lld\n", le[j], (long long)cum[j]);
		}
		prom_series(name, "_sum", s->name);
		printf("} %.6f\n", (double)v[RCV_M_lmtp_latency_us_sum] / 1e6);
		prom_series(name, "_count", s->name);
		printf("} %lld\n", (long long)v[RCV_M_lmtp_latency_count]);
	}
}

/* Counters for every instance Redis knows (a stale instance's counters
 * are still its totals); gauges only for live ones (a stale gauge is an
 * old reading).  Returns the number of live instances. */
static size_t
print_prometheus(const struct snap *b, double stale)
{
	double now = (double)b->at.tv_sec;
	int live_of[MAX_INST], all[MAX_INST];
	char name[256];
	size_t i, live = 0;
	int k;

	for (i = 0; i < b->n; i++) {
		live_of[i] = !is_stale(&b->inst[i], now, stale);
		all[i] = b->inst[i].found;
		live += (size_t)live_of[i];
	}
	printf("# HELP smtpsec_instance_up 1 when the instance's heartbeat is recent, 0 when stale.\n"
	    "# TYPE smtpsec_instance_up gauge\n");
	for (i = 0; i < b->n; i++) {
		prom_series("smtpsec_instance_up", "", b->inst[i].name);
		printf("} %d\n", live_of[i]);
	}
	printf("# HELP smtpsec_instance_heartbeat_timestamp_seconds Last heartbeat of the instance (unix time).\n"
	    "# TYPE smtpsec_instance_heartbeat_timestamp_seconds gauge\n");
	for (i = 0; i < b->n; i++) {
		if (!all[i])
			continue;
		prom_series("smtpsec_instance_heartbeat_timestamp_seconds", "", b->inst[i].name);
		printf("} %.0f\n", b->inst[i].heartbeat);
	}
	for (k = 0; k < RCV_M__COUNT; k++) {
		const int *use = rcv_metrics_is_gauge(k) ? live_of : all;

		if (is_latency(k))
			continue;
		prom_family(k, "smtpsec_", name, sizeof(name));
		for (i = 0; i < b->n; i++) {
			if (!use[i])
				continue;
			prom_series(name, "", b->inst[i].name);
			printf("} %lld\n", (long long)b->inst[i].v[k]);
		}
	}
	prom_histogram("smtpsec_lmtp_latency_seconds", "LMTP transaction latency.", b, all);
	/* the cluster hash keeps counting across instance renames and removals */
	for (k = 0; k < RCV_M__COUNT; k++) {
		if (rcv_metrics_is_gauge(k) || is_latency(k))
			continue;
		prom_family(k, "smtpsec_cluster_", name, sizeof(name));
		printf("%s %lld\n", name, (long long)b->cluster[k]);
	}
	return live;
}

/* --- --check: one Nagios status line ------------------------------------ */

struct check_opts {
	long min_live, warn_stale, spool_warn, spool_crit;
	int redis_down_crit;
	const char *spool_dir;		/* this host's spool, for the oldest entry */
	double age_warn, age_crit;
};

/* Age in seconds of the oldest Email waiting in a gateway's spool (not
 * failed/): -1 when there is none, -2 when the directory cannot be read. */
static double
spool_oldest(const char *dir, size_t *n_r)
{
	struct lmtp_spool_item *items;
	double now = (double)time(NULL), oldest = -1;
	size_t i, n;

	*n_r = 0;
	if (lmtp_spool_items(dir, &items, &n) < 0)
		return -2;
	for (i = 0; i < n; i++) {
		if (items[i].failed || items[i].unreadable)
			continue;
		(*n_r)++;
		if (now - (double)items[i].created > oldest)
			oldest = now - (double)items[i].created;
	}
	lmtp_spool_items_free(&items, n);
	return oldest < 0 ? -1 : oldest;
}

static int
run_check(redisContext *c, const char *cerr, double stale, const struct check_opts *o)
{
	static const char *const word[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	struct snap *b;
	char msg[1024], perf[512];
	size_t i, live = 0, nstale = 0;
	int64_t spool = 0, cache_down = 0, dup = 0, mismatch = 0;
	double now, age = -1;
	int status = 0;
	size_t m = 0;

#define RAISE(s) do { if ((s) > status) status = (s); } while (0)
#define SAY(...) do { int r_ = snprintf(msg + m, sizeof(msg) - m, __VA_ARGS__); \
	if (r_ > 0) m = (size_t)r_ < sizeof(msg) - m ? m + (size_t)r_ : sizeof(msg) - 1; } while (0)
	if (c == NULL) {
		printf("SMTPSEC CRITICAL - %s\n", cerr);
		return 2;
	}
	b = mem_calloc(1, sizeof(*b));
	if (take(c, b) < 0) {
		printf("SMTPSEC UNKNOWN - cannot read the stats from Redis\n");
		free(b);
		return 3;
	}
	now = (double)b->at.tv_sec;
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i];
		if (is_stale(s, now, stale)) {
			nstale++;
			continue;
		}
		live++;
		spool += s->v[RCV_M_spool_depth];
		/* gauges are per worker and summed: one worker's cache down
		 * shows as fewer "up" than workers, which the hash does not
		 * say; the total going to 0 is what we can see */
		if (s->v[RCV_M_dns_redis_up] == 0 && s->v[RCV_M_dns_redis_errors] > 0)
			cache_down++;
		/* "> 0 means a problem": two runs of one instance overwrite the
		 * same fields, so the number itself says little */
		if (s->v[RCV_M_instance_duplicate] > 0)
			dup++;
		if (s->v[RCV_M_fleet_mismatch] > 0)
			mismatch++;
	}
	SAY("%zu/%zu instances live", live, b->n);
	if ((long)live < o->min_live) {
		RAISE(2);
		SAY(" (fewer than %ld)", o->min_live);
	}
	if (nstale > 0 && o->warn_stale > 0 && (long)nstale >= o->warn_stale) {
		RAISE(1);
		SAY(", %zu stale", nstale);
	}
	SAY(", Redis reachable, spool %lld", (long long)spool);
	if (spool >= o->spool_crit) {
		RAISE(2);
		SAY(" (>= %ld)", o->spool_crit);
	} else if (spool >= o->spool_warn) {
		RAISE(1);
		SAY(" (>= %ld)", o->spool_warn);
	}
	if (cache_down) {
		RAISE(o->redis_down_crit ? 2 : 1);
		SAY(", DNS cache Redis down on %lld", (long long)cache_down);
	}
	if (dup) {
		RAISE(1);
		SAY(", %lld instance name(s) used by two gateways", (long long)dup);
	}
	if (mismatch) {
		RAISE(1);
		SAY(", fleet settings differ on %lld", (long long)mismatch);
	}
	if (o->spool_dir != NULL) {
		size_t n_dir;

		age = spool_oldest(o->spool_dir, &n_dir);
		if (age == -2) {
			RAISE(3);
			SAY(", cannot read spool %s: %s", o->spool_dir, strerror(errno));
		} else if (age >= 0) {
			SAY(", oldest spooled %.0f s", age);
			if (age >= o->age_crit) {
				RAISE(2);
				SAY(" (>= %.0f)", o->age_crit);
			} else if (age >= o->age_warn) {
				RAISE(1);
				SAY(" (>= %.0f)", o->age_warn);
			}
		}
	}
	snprintf(perf, sizeof(perf), "live=%zu;;%ld;0 stale=%zu;;;0 spool=%lld;%ld;%ld;0", live,
	    o->min_live, nstale, (long long)spool, o->spool_warn, o->spool_crit);
	if (o->spool_dir != NULL && age >= -1) {
		size_t pl = strlen(perf);

		snprintf(perf + pl, sizeof(perf) - pl, " spool_age=%.0fs;%.0f;%.0f;0", age < 0 ? 0 : age,
		    o->age_warn, o->age_crit);
	}
	printf("SMTPSEC %s - %s | %s\n", word[status], msg, perf);
	free(b);
	return status;
#undef RAISE
#undef SAY
}

/* --- number parsing: the whole argument, in range, or a usage error ----- */
/* base/cli takes digits only (cli_double: and an optional fraction): no
 * sign, space, suffix, exponent, hex or inf. */

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	unsigned long long v;

	if (lo < 0 || cli_uint(s, (unsigned long long)lo, (unsigned long long)hi, &v) < 0)
		return -1;
	*out = (long)v;
	return 0;
}

static int
bad_arg(const char *opt, const char *val)
{
	return cli_usage_error("smtpsec-stats", "bad value for --%s: '%s' (a number in range)", opt, val);
}

/* first line of FILE, without the newline */
static int
read_url_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "smtpsec-stats: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "smtpsec-stats: %s: no URL on the first line\n", path);
		return -1;
	}
	return 0;
}

static int
no_live(size_t live, size_t n)
{
	if (live > 0)
		return 0;
	if (n == 0)
		fprintf(stderr, "smtpsec-stats: no instance has ever reported to this Redis\n");
	else
		fprintf(stderr, "smtpsec-stats: no live instance: all %zu are stale (no recent heartbeat)\n", n);
	return 69;
}

int
main(int argc, char **argv)
{
	enum { O_PROM = 256, O_CHECK, O_URLFILE, O_MINLIVE, O_WSTALE, O_SWARN, O_SCRIT, O_SDIR, O_AWARN, O_ACRIT, O_OUTPUT,
		 O_RDC, O_VERSION };
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "url-file", required_argument, NULL, O_URLFILE },
		{ "config", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, O_PROM },
		{ "check", no_argument, NULL, O_CHECK },
		{ "min-live", required_argument, NULL, O_MINLIVE },
		{ "warn-stale", required_argument, NULL, O_WSTALE },
		{ "spool-warn", required_argument, NULL, O_SWARN },
		{ "spool-crit", required_argument, NULL, O_SCRIT },
		{ "redis-down-crit", no_argument, NULL, O_RDC },
		{ "spool-dir", required_argument, NULL, O_SDIR },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "spool-age-warn", required_argument, NULL, O_AWARN },
		{ "spool-age-crit", required_argument, NULL, O_ACRIT },
		{ "watch", no_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "stale", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct check_opts co = { 1, 1, 100, 1000, 0, NULL, 3600, 86400 };
	const char *url = "redis://127.0.0.1:6379", *cfgfile = NULL, *urlfile = NULL, *why = "";
	const char *pw = getenv("REDISCLI_AUTH"), *output = NULL;
	double interval = 1.0, stale = 0;
	int json = 0, prom = 0, check = 0, watch = 0, opt, rc = 0;
	long count = -1, iter;
	struct snap *a, *b, *t;
	struct vfy_redis_url u;
	char urlbuf[1024], cerr[1200];
	redisContext *c;

	json_set_alloc_funcs(mem_alloc, free);	/* jansson's allocations abort in mem_oom too */
	opterr = 0;	/* reported by cli_usage_error */
	while ((opt = getopt_long(argc, argv, ":u:c:i:jwn:s:hV", lo, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case O_URLFILE: urlfile = optarg; break;
		case 'c': cfgfile = optarg; break;
		case 'i':
			if (cli_double(optarg, 0.001, 3600, &interval) < 0)
				return bad_arg("interval", optarg);
			break;
		case 'j': json = 1; break;
		case O_PROM: prom = 1; break;
		case O_CHECK: check = 1; break;
		case O_MINLIVE:
			if (parse_long(optarg, 0, MAX_INST, &co.min_live) < 0)
				return bad_arg("min-live", optarg);
			break;
		case O_WSTALE:
			if (parse_long(optarg, 0, MAX_INST, &co.warn_stale) < 0)
				return bad_arg("warn-stale", optarg);
			break;
		case O_SWARN:
			if (parse_long(optarg, 0, LONG_MAX, &co.spool_warn) < 0)
				return bad_arg("spool-warn", optarg);
			break;
		case O_SCRIT:
			if (parse_long(optarg, 0, LONG_MAX, &co.spool_crit) < 0)
				return bad_arg("spool-crit", optarg);
			break;
		case O_RDC: co.redis_down_crit = 1; break;
		case O_SDIR: co.spool_dir = optarg; break;
		case O_OUTPUT: output = optarg; break;
		case O_AWARN:
			if (cli_double(optarg, 0, 1e9, &co.age_warn) < 0)
				return bad_arg("spool-age-warn", optarg);
			break;
		case O_ACRIT:
			if (cli_double(optarg, 0, 1e9, &co.age_crit) < 0)
				return bad_arg("spool-age-crit", optarg);
			break;
		case 'w': watch = 1; break;
		case 'n':
			if (parse_long(optarg, 1, LONG_MAX, &count) < 0)
				return bad_arg("count", optarg);
			break;
		case 's':
			if (cli_double(optarg, 0, 1e9, &stale) < 0)
				return bad_arg("stale", optarg);
			break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': case O_VERSION: return cli_version("smtpsec-stats");
		default:	/* ':' or '?' */
			return cli_usage_error("smtpsec-stats", "%s", cli_bad_option(opt, argv, cerr,
			    sizeof(cerr)));
		}
	}
	if (optind != argc)
		return cli_usage_error("smtpsec-stats", "unexpected argument '%s'", argv[optind]);
	if (json + prom + check > 1 || ((prom || check) && watch) || (count >= 0 && !watch) ||
	    (output != NULL && !prom)) {
		fprintf(stderr, "smtpsec-stats: --json, --prometheus and --check exclude each other; "
		    "--watch goes with the table or --json; --count needs --watch; --output needs --prometheus\n");
		usage(stderr);
		return 64;
	}
	if ((cfgfile != NULL) + (urlfile != NULL) + (url != NULL && strcmp(url, "redis://127.0.0.1:6379") != 0) > 1) {
		fprintf(stderr, "smtpsec-stats: give one of -c, --url, --url-file\n");
		return 64;
	}
	if (cfgfile != NULL) {
		struct rcv_config *cfg = mem_alloc(sizeof(*cfg));
		char err[1024];

		if (rcv_config_load(cfgfile, cfg, 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "smtpsec-stats: %s\n", err);
			free(cfg);
			return 78;
		}
		if (!cfg->have_redis) {
			fprintf(stderr, "smtpsec-stats: %s has no [redis] url\n", cfgfile);
			free(cfg);
			return 78;
		}
		u = cfg->redis;
		free(cfg);
	} else {
		if (urlfile != NULL) {
			if (read_url_file(urlfile, urlbuf, sizeof(urlbuf)) < 0)
				return 66;
			url = urlbuf;
		}
		if (rcv_config_parse_redis_url(url, &u, &why) < 0) {
			/* the URL may hold a password: do not echo it */
			fprintf(stderr, "smtpsec-stats: bad Redis URL%s%s: %s\n", urlfile ? " in " : "",
			    urlfile ? urlfile : "", why);
			return urlfile ? 78 : 64;
		}
	}
	if (!u.password[0] && pw != NULL && pw[0]) {
		if (strlen(pw) >= sizeof(u.password)) {
			fprintf(stderr, "smtpsec-stats: REDISCLI_AUTH is too long\n");
			return 64;
		}
		snprintf(u.password, sizeof(u.password), "%s", pw);
	}
	c = connect_url(&u, cerr, sizeof(cerr));
	if (check) {
		rc = run_check(c, cerr, stale, &co);
		if (c)
			redisFree(c);
		return rc;
	}
	if (c == NULL) {
		fprintf(stderr, "smtpsec-stats: %s\n", cerr);
		return 69;
	}
	a = mem_calloc(1, sizeof(*a));
	b = mem_calloc(1, sizeof(*b));
	if (take(c, a) < 0)
		return 69;
	if (prom) {
		char tmp[1100];

		if (output != NULL) {
			if (snprintf(tmp, sizeof(tmp), "%s.tmp", output) >= (int)sizeof(tmp) ||
			    freopen(tmp, "w", stdout) == NULL) {
				fprintf(stderr, "smtpsec-stats: %s: %s\n", tmp, strerror(errno));
				rc = 73;
				goto out;
			}
		}
		rc = no_live(print_prometheus(a, stale), a->n) ? 69 : 0;
		/* a sample with every instance stale is still published: the
		 * instance_up gauges say so */
		if (output != NULL && (fflush(stdout) != 0 || ferror(stdout) || fsync(fileno(stdout)) < 0 ||
		    rename(tmp, output) < 0)) {
			fprintf(stderr, "smtpsec-stats: %s: %s\n", output, strerror(errno));
			unlink(tmp);
			rc = 73;
		}
		goto out;
	}
	for (iter = 0; count < 0 || iter < count; iter++) {
		struct timespec ts = { (time_t)interval, (long)((interval - floor(interval)) * 1e9) };
		size_t live;

		nanosleep(&ts, NULL);
		if (take(c, b) < 0) {
			rc = 69;
			break;
		}
		if (watch && !json)
			printf("\033[H\033[2J");
		live = json ? print_json(a, b, stale) : print_table(a, b, stale);
		fflush(stdout);
		rc = no_live(live, b->n);
		if (!watch)
			break;
		t = a; a = b; b = t;
	}
out:
	free(a);
	free(b);
	redisFree(c);
	return rc;
}
