/*
 * smtpsec-dnsq: resolve names through verify/vfy_dns on a libev loop and
 * print one parseable line per answer, for the DNS integration tests.
 *
 *   smtpsec-dnsq [--unbound-conf F] [--trust-anchor F] [--timeout-ms N]
 *       [--cache memory|redis] [--redis-host H --redis-port P]
 *       [--redis-password PW] [--max-ttl S] [--pause-ms N] [--cache-key-hex HEX64]
 *       TYPE:NAME...
 *
 * TYPE is SRV or TLSA; names are resolved one after the other, with
 * --pause-ms between them (to test expiry).  Each answer prints as
 *   qname=N type=T result=R status=S ttl=N cache=C ms=N srv=P,W,PORT,TARGET;... tlsa=U,S,M,HEX;... why="..."
 * and a last line "stats lookups=N resolver_queries=N mem_hits=N redis_hits=N ...".
 * Exit status: 0, or 64 on usage errors, 1 when init fails.
 */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/vfy.h"

static struct vfy_dns *dns;
static char **names;
static int n_names, cur;
static double pause_s;
static struct ev_timer next_timer;
static ev_tstamp started;

static void start_next(struct ev_loop *loop);

static void
on_answer(void *arg, const struct vfy_dns_answer *a)
{
	struct ev_loop *loop = arg;
	size_t i, j;

	printf("qname=%s type=%s result=%s status=%s ttl=%u cache=%s ms=%.0f srv=", a->qname,
	    a->qtype == VFY_DNS_T_SRV ? "SRV" : "TLSA", vfy_dns_result_str(a->result),
	    vfy_dns_status_str(a->status), a->ttl,
	    a->from_cache == 0 ? "resolver" : a->from_cache == 1 ? "memory" : "redis",
	    (ev_time() - started) * 1000);
	for (i = 0; i < a->n_srv; i++)
		printf("%s%u,%u,%u,%s", i ? ";" : "", a->srv[i].priority, a->srv[i].weight,
		    a->srv[i].port, a->srv[i].target);
	printf(" tlsa=");
	for (i = 0; i < a->n_tlsa; i++) {
		printf("%s%u,%u,%u,", i ? ";" : "", a->tlsa[i].usage, a->tlsa[i].selector, a->tlsa[i].mtype);
		for (j = 0; j < a->tlsa[i].len; j++)
			printf("%02x", a->tlsa[i].data[j]);
	}
	printf(" why=\"%s\"\n", a->why);
	fflush(stdout);
	if (pause_s > 0) {
		ev_timer_set(&next_timer, pause_s, 0);
		ev_timer_start(loop, &next_timer);
	} else
		start_next(loop);
}

static void
on_next(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	start_next(loop);
}

static void
start_next(struct ev_loop *loop)
{
	char *colon;
	uint16_t t;

	if (cur == n_names) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	colon = strchr(names[cur], ':');
	if (colon == NULL) {
		fprintf(stderr, "bad TYPE:NAME %s\n", names[cur]);
		exit(64);
	}
	t = strncmp(names[cur], "SRV:", 4) == 0 ? VFY_DNS_T_SRV : VFY_DNS_T_TLSA;
	started = ev_time();
	if (vfy_dns_lookup(dns, colon + 1, t, on_answer, loop) == NULL) {
		printf("qname=%s invalid-name\n", colon + 1);
		cur++;
		start_next(loop);
		return;
	}
	cur++;
}

/* every Redis state change, as the gateway would log it */
static void
on_redis_state(void *arg, const struct vfy_redis_status *st)
{
	(void)arg;
	fprintf(stderr, "redis state=%s fault=%s why=\"%s\" errors=%llu\n", st->up ? "up" : "down",
	    vfy_redis_fault_str(st->fault), st->why, (unsigned long long)st->errors);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "unbound-conf", 1, NULL, 'u' }, { "trust-anchor", 1, NULL, 'a' },
		{ "timeout-ms", 1, NULL, 't' }, { "cache", 1, NULL, 'c' },
		{ "redis-host", 1, NULL, 'H' }, { "redis-port", 1, NULL, 'P' },
		{ "redis-password", 1, NULL, 'p' }, { "max-ttl", 1, NULL, 'm' },
		{ "pause-ms", 1, NULL, 's' }, { "cache-key-hex", 1, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfy_dns_options o;
	struct vfy_dns_stats st;
	struct ev_loop *loop = EV_DEFAULT;
	char err[512];
	int opt;

	memset(&o, 0, sizeof(o));
	o.cache_entries = 1000;
	o.redis_state_cb = on_redis_state;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'u': o.unbound_conf = optarg; break;
		case 'a': o.trust_anchor_file = optarg; break;
		case 't': o.timeout_ms = (unsigned)atoi(optarg); break;
		case 'c': o.cache = strcmp(optarg, "redis") == 0 ? VFY_DNS_CACHE_REDIS : VFY_DNS_CACHE_MEMORY; break;
		case 'H': o.redis.host = optarg; break;
		case 'P': o.redis.port = atoi(optarg); break;
		case 'p': o.redis.password = optarg; break;
		case 'm': o.cache_max_ttl = (unsigned)atoi(optarg); break;
		case 's': pause_s = atoi(optarg) / 1000.0; break;
		case 'k': {	/* 64 hex digits: the fleet's cache key */
			static uint8_t k[32];
			size_t i;

			for (i = 0; i < 32 && optarg[2 * i] && optarg[2 * i + 1]; i++) {
				char h[3] = { optarg[2 * i], optarg[2 * i + 1], 0 };

				k[i] = (uint8_t)strtoul(h, NULL, 16);
			}
			o.cache_mac_key = k;
			break;
		}
		default: return 64;
		}
	}
	names = argv + optind;
	n_names = argc - optind;
	if (vfy_dns_init(&dns, loop, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-dnsq: %s\n", err);
		return 1;
	}
	ev_init(&next_timer, on_next);
	/* give an async Redis connect a moment before the first lookup */
	if (o.cache == VFY_DNS_CACHE_REDIS) {
		ev_timer_set(&next_timer, 0.2, 0);
		ev_timer_start(loop, &next_timer);
	} else
		start_next(loop);
	ev_run(loop, 0);
	/* let queued cache writes (Redis SET) go out before exiting */
	if (o.cache == VFY_DNS_CACHE_REDIS) {
		cur = n_names;
		ev_timer_set(&next_timer, 0.2, 0);
		ev_timer_start(loop, &next_timer);
		ev_run(loop, 0);
	}
	vfy_dns_get_stats(dns, &st);
	printf("stats lookups=%llu resolver_queries=%llu mem_hits=%llu redis_hits=%llu redis_misses=%llu "
	    "redis_errors=%llu redis_garbage=%llu tempfails=%llu redis_up=%d redis_forged=%llu\n",
	    (unsigned long long)st.lookups, (unsigned long long)st.resolver_queries,
	    (unsigned long long)st.mem_hits, (unsigned long long)st.redis_hits,
	    (unsigned long long)st.redis_misses, (unsigned long long)st.redis_errors,
	    (unsigned long long)st.redis_garbage, (unsigned long long)st.tempfails, st.redis_up,
	    (unsigned long long)st.redis_forged);
	vfy_dns_deinit(&dns);
	return 0;
}
