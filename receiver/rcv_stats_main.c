/*
 * smtpsec-stats: read the gateways' stats from Redis (see rcv_metrics.h for
 * the key layout) and print one row per instance plus cluster totals, with
 * per-second rates computed from two samples.
 *
 *   smtpsec-stats --url redis://127.0.0.1:6379 [--interval 1] [--json]
 *                 [--watch [--count N]] [--stale SECONDS]
 *
 * An instance whose heartbeat is older than --stale (default: three of its
 * flush intervals, at least 3 s) is shown as stale and left out of totals.
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "receiver/rcv_config.h"
#include "receiver/rcv_metrics.h"

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
	    "usage: smtpsec-stats [-c CONFIG | --url URL] [--interval SECONDS] [--json]\n"
	    "                     [--watch [--count N]] [--stale SECONDS]\n"
	    "  -c CONFIG       take [redis] url from the gateway's configuration file\n"
	    "  --url URL       redis://[user:pass@]host:port[/db] or unix:/path\n"
	    "                  (default redis://127.0.0.1:6379)\n"
	    "  --interval S    seconds between the two samples rates come from (default 1)\n"
	    "  --json          one JSON object per sample, for scripts\n"
	    "  --watch         refresh like top until interrupted (or --count N times)\n"
	    "  --stale S       heartbeat age that makes an instance stale\n"
	    "                  (default 3 x its flush interval, at least 3 s)\n");
}

static redisContext *
connect_url(const struct rcv_redis_url *u)
{
	struct timeval tv = { 2, 0 };
	redisContext *c;
	redisReply *r;
	char where[300];

	if (u->path[0])
		snprintf(where, sizeof(where), "unix:%s", u->path);
	else
		snprintf(where, sizeof(where), "%s:%d", u->host, u->port);

	c = u->path[0] ? redisConnectUnixWithTimeout(u->path, tv)
	    : redisConnectWithTimeout(u->host, u->port, tv);
	if (c == NULL || c->err) {
		fprintf(stderr, "smtpsec-stats: cannot connect to Redis at %s: %s\n", where,
		    c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (u->password[0]) {
		r = u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
		    : redisCommand(c, "AUTH %s", u->password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "smtpsec-stats: Redis at %s refused the password%s: %s\n", where,
			    u->user[0] ? " (or user)" : "", r ? r->str : c->errstr);
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	if (u->db) {
		r = redisCommand(c, "SELECT %d", u->db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "smtpsec-stats: Redis at %s refused SELECT %d: %s\n", where, u->db,
			    r ? r->str : c->errstr);
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	/* a Redis with requirepass answers NOAUTH to the first real command:
	 * find out here, with a reason, not as an empty table */
	r = redisCommand(c, "PING");
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		fprintf(stderr, "smtpsec-stats: Redis at %s: %s%s\n", where,
		    r ? (r->str ? r->str : "unexpected reply to PING") : c->errstr,
		    r && r->str && strncmp(r->str, "NOAUTH", 6) == 0 ?
		    " (give the password in the URL: redis://:PASSWORD@host:port)" : "");
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
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
rate(const struct snap *a, const struct snap *b, const struct sample *bi, int k)
{
	double dt = (double)(b->at.tv_sec - a->at.tv_sec) + (double)(b->at.tv_nsec - a->at.tv_nsec) / 1e9;
	size_t i;

	if (dt <= 0)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->inst[i].name, bi->name) == 0)
			return (double)(bi->v[k] - a->inst[i].v[k]) / dt;
	return 0;
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

static void
print_table(const struct snap *a, const struct snap *b, double stale)
{
	double now = (double)b->at.tv_sec;
	int64_t tot[RCV_M__COUNT] = { 0 };
	double tr[5] = { 0 };
	size_t i, live = 0;
	int k;

	printf("%-28s %-5s %7s %9s %9s %9s %9s %9s %8s %6s\n", "INSTANCE", "STATE",
	    "CONNS", "ACCEPT/s", "EMAIL/s", "DELIV/s", "REJECT/s", "KiB/s", "LMTP_ms", "SPOOL");
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i];
		int st = is_stale(s, now, stale);
		double r[5], lat = s->v[RCV_M_lmtp_latency_count] ?
		    (double)s->v[RCV_M_lmtp_latency_us_sum] / (double)s->v[RCV_M_lmtp_latency_count] / 1000.0 : 0;
		struct snap fake;

		r[0] = rate(a, b, s, RCV_M_conn_accepted);
		r[1] = rate(a, b, s, RCV_M_emails_received);
		r[2] = rate(a, b, s, RCV_M_emails_delivered);
		/* rejected: rate of the sum */
		memset(&fake, 0, sizeof(fake));
		r[3] = 0;
		for (size_t j = 0; j < a->n; j++)
			if (strcmp(a->inst[j].name, s->name) == 0) {
				double dt = (double)(b->at.tv_sec - a->at.tv_sec) + (double)(b->at.tv_nsec - a->at.tv_nsec) / 1e9;
				if (dt > 0)
					r[3] = (double)(rejected(s->v) - rejected(a->inst[j].v)) / dt;
			}
		r[4] = rate(a, b, s, RCV_M_bytes_in) / 1024.0;
		printf("%-28.28s %-5s %7lld %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %6lld\n", s->name,
		    st ? "stale" : "live", (long long)s->v[RCV_M_conn_active], r[0], r[1], r[2], r[3], r[4],
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
}

static void
print_json_counters(const int64_t *v)
{
	int k;

	printf("{");
	for (k = 0; k < RCV_M__COUNT; k++)
		printf("%s\"%s\":%lld", k ? "," : "", rcv_metrics_name(k), (long long)v[k]);
	printf("}");
}

static void
print_json(const struct snap *a, const struct snap *b, double stale)
{
	double now = (double)b->at.tv_sec;
	int64_t tot[RCV_M__COUNT] = { 0 };
	size_t i;
	int k, first = 1;

	printf("{\"time\":%lld,\"instances\":[", (long long)b->at.tv_sec);
	for (i = 0; i < b->n; i++) {
		const struct sample *s = &b->inst[i];
		int st = is_stale(s, now, stale);

		printf("%s{\"instance\":\"", first ? "" : ",");
		first = 0;
		for (const char *p = s->name; *p; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
		printf("\",\"state\":\"%s\",\"heartbeat\":%.0f,\"counters\":", st ? "stale" : "live", s->heartbeat);
		print_json_counters(s->v);
		printf(",\"rates\":{\"conn_accepted\":%.3f,\"emails_received\":%.3f,\"emails_delivered\":%.3f,\"bytes_in\":%.3f}}",
		    rate(a, b, s, RCV_M_conn_accepted), rate(a, b, s, RCV_M_emails_received),
		    rate(a, b, s, RCV_M_emails_delivered), rate(a, b, s, RCV_M_bytes_in));
		if (!st)
			for (k = 0; k < RCV_M__COUNT; k++)
				tot[k] += s->v[k];
	}
	printf("],\"totals_live\":");
	print_json_counters(tot);
	printf(",\"cluster\":");
	print_json_counters(b->cluster);
	printf("}\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "stale", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = "redis://127.0.0.1:6379", *cfgfile = NULL, *why = "";
	double interval = 1.0, stale = 0;
	int json = 0, watch = 0, opt;
	long count = -1, iter;
	struct snap *a, *b, *t;
	struct rcv_redis_url u;
	redisContext *c;

	while ((opt = getopt_long(argc, argv, "u:c:i:jwn:s:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'c': cfgfile = optarg; break;
		case 'i': interval = strtod(optarg, NULL); break;
		case 'j': json = 1; break;
		case 'w': watch = 1; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 's': stale = strtod(optarg, NULL); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind != argc || !(interval > 0 && interval <= 3600) || stale < 0) {
		usage(stderr);
		return 64;
	}
	if (cfgfile != NULL) {
		struct rcv_config *cfg = malloc(sizeof(*cfg));
		char err[1024];

		if (cfg == NULL)
			abort();
		if (rcv_config_load(cfgfile, cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "smtpsec-stats: %s\n", err);
			return 64;
		}
		if (!cfg->have_redis) {
			fprintf(stderr, "smtpsec-stats: %s has no [redis] url\n", cfgfile);
			return 64;
		}
		u = cfg->redis;
		free(cfg);
	} else if (rcv_config_parse_redis_url(url, &u, &why) < 0) {
		fprintf(stderr, "smtpsec-stats: bad Redis URL '%s': %s\n", url, why);
		return 64;
	}
	if ((c = connect_url(&u)) == NULL)
		return 2;
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	if (a == NULL || b == NULL)
		abort();
	if (take(c, a) < 0)
		return 2;
	for (iter = 0; count < 0 || iter < count; iter++) {
		struct timespec ts = { (time_t)interval, (long)((interval - floor(interval)) * 1e9) };
		nanosleep(&ts, NULL);
		if (take(c, b) < 0)
			return 2;
		if (watch && !json)
			printf("\033[H\033[2J");
		if (json)
			print_json(a, b, stale);
		else
			print_table(a, b, stale);
		fflush(stdout);
		if (!watch)
			break;
		t = a; a = b; b = t;
	}
	free(a);
	free(b);
	redisFree(c);
	return 0;
}
