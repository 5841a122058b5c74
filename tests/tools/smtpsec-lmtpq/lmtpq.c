/*
 * smtpsec-lmtpq: deliver a message file through lmtp/ to a real LMTP server
 * and print the per-recipient outcome, for the LMTP integration tests.
 *
 *   smtpsec-lmtpq --target unix:/path --from ADDR --rcpt ADDR... --message FILE
 *       [--copies N] [--no-chunking] [--timeout-ms N] [--spool DIR]
 *       [--spool-retry-ms N] [--run-ms N]
 *
 * The file is mmap'd, so a large message costs no memory here.  --copies
 * starts N deliveries at once (pool and queue).  With --run-ms the loop
 * keeps running that long after the deliveries (spool retries).
 * Output: "tx=K tempfail=0|1 why=..." and "tx=K rcpt=ADDR status=S code=N",
 * then "spool delivered=N rejected=N depth=N", "vmhwm_kib=N" (includes the
 * mapped file) and "rss_anon_peak_kib=N" (heap and stacks, sampled every 10 ms).
 */
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmtp/lmtp.h"

static int pending;
static long anon_max;	/* peak anonymous RSS seen, KiB: heap, not the mapped file */

static void
sample_anon(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "RssAnon:", 8) == 0) {
			long v = strtol(line + 8, NULL, 10);
			if (v > anon_max)
				anon_max = v;
		}
	if (f)
		fclose(f);
}
static const char *rcpts[64];
static size_t n_rcpt;
/* spool outcomes, from lmtp_options.spool_cb */
static size_t sp_delivered, sp_rejected, sp_spooled;

static void
on_spool(void *arg, const struct lmtp_spool_event *ev)
{
	(void)arg;
	sp_delivered += ev->n_delivered;
	sp_rejected += ev->n_bounced;
}

static const char *
st_name(enum lmtp_rcpt_status s)
{
	switch (s) {
	case LMTP_RCPT_DELIVERED: return "delivered";
	case LMTP_RCPT_REJECTED: return "rejected";
	case LMTP_RCPT_SPOOLED: return "spooled";
	default: return "tempfail";
	}
}

static void
done(void *arg, const struct lmtp_result *r)
{
	long k = (long)arg;
	size_t i;

	printf("tx=%ld tempfail=%d permfail=%d why=\"%s\"\n", k, r->tempfail, r->permfail,
	    r->why ? r->why : "");
	for (i = 0; i < r->n_rcpt; i++) {
		printf("tx=%ld rcpt=%s status=%s code=%d\n", k, rcpts[i], st_name(r->rcpt[i].status),
		    r->rcpt[i].code);
		sp_spooled += r->rcpt[i].status == LMTP_RCPT_SPOOLED;
	}
	fflush(stdout);
	pending--;
}

static void
on_tick(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	static double waited;
	double run = *(double *)w->data;

	(void)revents;
	sample_anon();
	waited += 0.01;
	if (pending == 0 && waited >= run)
		ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", 1, NULL, 't' }, { "from", 1, NULL, 'f' }, { "rcpt", 1, NULL, 'r' },
		{ "message", 1, NULL, 'm' }, { "copies", 1, NULL, 'c' }, { "no-chunking", 0, NULL, 'n' },
		{ "timeout-ms", 1, NULL, 'T' }, { "spool", 1, NULL, 's' },
		{ "spool-retry-ms", 1, NULL, 'R' }, { "run-ms", 1, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct lmtp_options o;
	struct lmtp *l;
	struct ev_loop *loop = EV_DEFAULT;
	struct ev_timer tick;
	const char *from = NULL, *file = NULL;
	char err[512], line[256];
	long copies = 1, k;
	double run = 0;
	uint8_t *map = NULL;
	size_t len = 0;
	struct lmtp_seg seg;
	FILE *f;
	int opt, fd;

	memset(&o, 0, sizeof(o));
	o.lhlo_name = "lmtpq.test";
	o.spool_cb = on_spool;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 't': o.target = optarg; break;
		case 'f': from = optarg; break;
		case 'r': if (n_rcpt < 64) rcpts[n_rcpt++] = optarg; break;
		case 'm': file = optarg; break;
		case 'c': copies = atol(optarg); break;
		case 'n': o.no_chunking = 1; break;
		case 'T': o.timeout_ms = (unsigned)atoi(optarg); break;
		case 's': o.spool_dir = optarg; break;
		case 'R': o.spool_retry_ms = (unsigned)atoi(optarg); break;
		case 'u': run = atoi(optarg) / 1000.0; break;
		default: return 64;
		}
	}
	if (o.target == NULL || from == NULL || file == NULL || n_rcpt == 0 || copies < 1 || copies > 1000)
		return 64;
	fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 64;
	}
	{
		struct stat sb;

		fstat(fd, &sb);
		len = (size_t)sb.st_size;
		if (len > 0) {
			map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
			if (map == MAP_FAILED)
				return 1;
		}
		close(fd);
	}
	if (lmtp_init(&l, loop, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsec-lmtpq: %s\n", err);
		return 1;
	}
	seg.p = map;
	seg.len = len;
	for (k = 0; k < copies; k++) {
		struct lmtp_msg m = { from, rcpts, n_rcpt, &seg, 1, NULL, 0, -1, 0 };

		pending++;
		lmtp_deliver(l, &m, done, (void *)k);
	}
	tick.data = &run;
	ev_timer_init(&tick, on_tick, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	ev_run(loop, 0);
	printf("spool delivered=%zu rejected=%zu depth=%llu spooled=%zu\n", sp_delivered, sp_rejected,
	    (unsigned long long)lmtp_spool_depth(l), sp_spooled);
	lmtp_deinit(&l);
	if (map)
		munmap(map, len);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("vmhwm_kib=%ld\n", strtol(line + 6, NULL, 10));
	if (f)
		fclose(f);
	printf("rss_anon_peak_kib=%ld\n", anon_max);
	return 0;
}
