/*
 * smtpsec-metricsq: drives receiver/rcv_metrics on a libev loop, for the
 * stats integration test.  Adds counters on a schedule and lets the module
 * flush them to a real Redis.
 *
 *   smtpsec-metricsq --instance NAME [--worker N] --host H --port P
 *       [--password PW] [--user U] [--db N] [--interval-ms MS]
 *       [--run-ms MS] [--add NAME=DELTA]... [--gauge NAME=VALUE]...
 *       [--add-every-ms MS] [--add-after-ms MS]
 *
 * The --add deltas are applied once at start (or --add-after-ms later), and
 * again every --add-every-ms when given.  At the end it prints "total NAME=VALUE" for
 * every counter it touched and "redis=up|down".
 */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receiver/rcv_metrics.h"

#define MAXA 32

static struct { int k; long long v; int gauge; } adds[MAXA];
static int nadds;
static struct rcv_metrics *m;

static int
lookup(const char *name)
{
	int k;

	for (k = 0; k < RCV_M__COUNT; k++)
		if (strcmp(rcv_metrics_name(k), name) == 0)
			return k;
	return -1;
}

static void
apply(void)
{
	int i;

	for (i = 0; i < nadds; i++) {
		if (adds[i].gauge)
			rcv_metrics_gauge(m, adds[i].k, adds[i].v);
		else
			rcv_metrics_add(m, adds[i].k, (uint64_t)adds[i].v);
	}
}

static void
on_add(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop; (void)w; (void)revents;
	apply();
}

static void
on_end(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)w; (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "instance", 1, NULL, 'I' }, { "worker", 1, NULL, 'W' },
		{ "host", 1, NULL, 'H' }, { "port", 1, NULL, 'P' },
		{ "password", 1, NULL, 'p' }, { "user", 1, NULL, 'U' },
		{ "db", 1, NULL, 'd' }, { "interval-ms", 1, NULL, 'i' },
		{ "run-ms", 1, NULL, 'r' }, { "add", 1, NULL, 'a' },
		{ "gauge", 1, NULL, 'g' }, { "add-every-ms", 1, NULL, 'e' },
		{ "add-after-ms", 1, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct rcv_metrics_options o = { 0 };
	struct ev_loop *loop = EV_DEFAULT;
	struct ev_timer t_end, t_add, t_first;
	long run_ms = 1500, every = 0, after = 0;
	int opt, i;
	struct vfy_redis_status st;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'I': o.instance = optarg; break;
		case 'W': o.worker = (unsigned)atoi(optarg); break;
		case 'H': o.redis.host = optarg; break;
		case 'P': o.redis.port = atoi(optarg); break;
		case 'p': o.redis.password = optarg; break;
		case 'U': o.redis.user = optarg; break;
		case 'd': o.redis.db = atoi(optarg); break;
		case 'i': o.interval_ms = (unsigned)atoi(optarg); break;
		case 'r': run_ms = atol(optarg); break;
		case 'e': every = atol(optarg); break;
		case 'A': after = atol(optarg); break;
		case 'a':
		case 'g': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || nadds == MAXA)
				return 64;
			*eq = '\0';
			adds[nadds].k = lookup(optarg);
			if (adds[nadds].k < 0) {
				fprintf(stderr, "unknown metric %s\n", optarg);
				return 64;
			}
			adds[nadds].v = atoll(eq + 1);
			adds[nadds].gauge = opt == 'g';
			nadds++;
			break;
		}
		default:
			return 64;
		}
	}
	if (run_ms <= 0 || run_ms > 60000)
		return 64;
	m = rcv_metrics_new(loop, &o);
	if (after > 0) {
		ev_timer_init(&t_first, on_add, (double)after / 1000.0, 0);
		ev_timer_start(loop, &t_first);
	} else {
		apply();
	}
	ev_timer_init(&t_end, on_end, (double)run_ms / 1000.0, 0);
	ev_timer_start(loop, &t_end);
	if (every > 0) {
		ev_timer_init(&t_add, on_add, (double)every / 1000.0, (double)every / 1000.0);
		ev_timer_start(loop, &t_add);
	}
	ev_run(loop, 0);
	for (i = 0; i < nadds; i++)
		printf("total %s=%llu\n", rcv_metrics_name(adds[i].k),
		    (unsigned long long)rcv_metrics_get(m, adds[i].k));
	printf("redis=%s\n", rcv_metrics_redis_status(m, &st) == 0 && st.up ? "up" : "down");
	rcv_metrics_free(&m);
	return 0;
}
