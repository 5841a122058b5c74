/*
 * test_diff_dane_pkix: the DANE + PKIX differential oracle (dp.h) over a
 * fixed set of seeds, run by `make test`.  Each seed is one scenario; one
 * in ten is forced into one of the four shapes.  Prints, per
 * scenario class (tag), the count of scenarios, how many passed, and one
 * PASS:/FAIL: line (FAIL when any scenario of the class differs); every
 * difference is printed in full (PEMs, TLSA, names, both verdicts).
 *
 *   test_diff_dane_pkix [-n N] [-s FIRST-SEED] [-q]
 *       N scenarios (default 2000, or $DP_SCENARIOS); -q: no scenario dumps
 *   test_diff_dane_pkix -1 SEED        one scenario, printed whatever the result
 *       (with DP_PRINT_ALL set in the environment)
 *   test_diff_dane_pkix -c DIR         write the seed corpus of fuzz_dane_pkix:
 *       one input per issue shape, plus the all-zero (plain) input
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/diff/dp.h"
#include "tests/unit/t.h"

struct count {
	int n, pass, differ;
};

static struct count by_tag[DP_T_COUNT], by_shape[DP_SHAPE_COUNT];
static int harness_errors;

static void
class_ok(const struct count *c)
{
	if (c->differ > 0)
		T_FAIL("%d of %d scenarios differ from OpenSSL (dumps above)", c->differ, c->n);
}

static void
no_harness_error(void)
{
	T_EQ_INT(harness_errors, 0);
}

static int
shape_of_seed(unsigned long seed)
{
	return seed % 10 == 0 ? 1 + (int)((seed / 10) % (DP_SHAPE_COUNT - 1)) : -1;
}

static int
run_one(unsigned long seed, FILE *report, struct dp_scn *scn, struct dp_result *r)
{
	struct dp_src s;

	dp_src_seed(&s, seed);
	dp_gen(&s, shape_of_seed(seed), scn);
	return dp_compare(scn, r, report);
}

/* Find a seed whose forced shape gives the wanted OpenSSL verdict and
 * write the bytes it drew (first byte = the shape) as a fuzzer input. */
static int
write_corpus(const char *dir)
{
	static const struct { int shape; int want_pass; const char *name; } w[] = {
		{ DP_SHAPE_U0_APPENDED, 0, "u0_appended_ca_off_path" },
		{ DP_SHAPE_NC_ABOVE, 0, "nc_above_issuer" },
		{ DP_SHAPE_SHUFFLED, 1, "valid_chain_shuffled" },
		{ DP_SHAPE_U0_ROOT, 1, "u0_store_root_not_sent" },
	};
	char path[4096];
	FILE *f;

	for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
		for (unsigned long seed = 1; seed < 100000; seed++) {
			struct dp_src s, replay;
			struct dp_scn scn, again;
			struct dp_result r;

			dp_src_seed(&s, seed);
			dp_gen(&s, w[k].shape, &scn);
			if (dp_compare(&scn, &r, NULL) < 0 || r.ossl_pass != w[k].want_pass ||
			    scn.tag[DP_T_NO_NAME] || (w[k].shape == DP_SHAPE_U0_APPENDED && scn.n_tlsa != 1))
				continue;
			s.rec[0] = (uint8_t)(199 + w[k].shape);	/* dp_gen: 1 + b % 4 */
			dp_src_bytes(&replay, s.rec, s.n_rec);
			dp_gen(&replay, -1, &again);
			if (again.shape != scn.shape || again.n != scn.n || again.n_sent != scn.n_sent ||
			    memcmp(again.sent, scn.sent, sizeof(scn.sent)) != 0) {
				fprintf(stderr, "corpus: replay of seed %lu differs\n", seed);
				return -1;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, w[k].name);
			if ((f = fopen(path, "wb")) == NULL || fwrite(s.rec, 1, s.n_rec, f) != s.n_rec ||
			    fclose(f) != 0) {
				fprintf(stderr, "corpus: %s: %s\n", path, strerror(errno));
				return -1;
			}
			printf("%s: seed %lu, %zu bytes, OpenSSL %s, ours %s\n", path, seed, s.n_rec,
			    r.ossl_why, r.ours_why);
			break;
		}
	}
	snprintf(path, sizeof(path), "%s/plain", dir);
	if ((f = fopen(path, "wb")) == NULL || fputc(0, f) == EOF || fclose(f) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long first = 1, n = 2000;
	int quiet = 0, opt, printed = 0;
	const char *env = getenv("DP_SCENARIOS");

	if (env != NULL && *env != '\0')
		n = strtoul(env, NULL, 10);
	while ((opt = getopt(argc, argv, "n:s:q1:c:")) != -1) {
		switch (opt) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 's': first = strtoul(optarg, NULL, 10); break;
		case 'q': quiet = 1; break;
		case '1': {
			struct dp_scn scn;
			struct dp_result r;
			int d = run_one(strtoul(optarg, NULL, 10), NULL, &scn, &r);

			/* print it whatever the result: run again with a report */
			(void)run_one(strtoul(optarg, NULL, 10), stdout, &scn, &r);
			printf("verdicts %s\n", d == 0 ? "agree" : d > 0 ? "differ" : "not compared");
			return d != 0;
		}
		case 'c':
			return write_corpus(optarg) < 0 ? 1 : 0;
		default:
			fprintf(stderr, "usage: %s [-n N] [-s FIRST] [-q] | -1 SEED | -c DIR\n", argv[0]);
			return 64;
		}
	}
	for (unsigned long seed = first; seed < first + n; seed++) {
		struct dp_scn scn;
		struct dp_result r;
		int d = run_one(seed, quiet || printed >= 20 ? NULL : stdout, &scn, &r);

		if (d < 0) {
			harness_errors++;
			printf("harness error at seed %lu: %s | %s\n", seed, r.ours_why, r.ossl_why);
			continue;
		}
		if (d > 0) {
			printf("difference at seed %lu (rerun: %s -1 %lu)\n", seed, argv[0], seed);
			printed++;
		}
		for (int t = 0; t < DP_T_COUNT; t++) {
			if (!scn.tag[t])
				continue;
			by_tag[t].n++;
			by_tag[t].pass += r.ossl_pass;
			by_tag[t].differ += d;
		}
		by_shape[scn.shape].n++;
		by_shape[scn.shape].pass += r.ossl_pass;
		by_shape[scn.shape].differ += d;
	}
	printf("scenarios %lu (seeds %lu..%lu); per class: scenarios, expected pass, differ\n",
	    n, first, first + n - 1);
	for (int t = 0; t < DP_T_COUNT; t++)
		printf("    %-22s %5d %5d %5d\n", dp_tag_name((enum dp_tag)t), by_tag[t].n,
		    by_tag[t].pass, by_tag[t].differ);
	T_RUN(no_harness_error);
	for (int t = 0; t < DP_T_COUNT; t++)
		T_CASE("class", dp_tag_name((enum dp_tag)t), class_ok(&by_tag[t]));
	{
		static const char *const shapes[DP_SHAPE_COUNT] = {
			"random", "u0-appended", "nc-above-issuer", "shuffled", "u0-store-root",
		};

		for (int k = 0; k < DP_SHAPE_COUNT; k++) {
			printf("    shape %-16s %5d %5d %5d\n", shapes[k], by_shape[k].n,
			    by_shape[k].pass, by_shape[k].differ);
			T_CASE("shape", shapes[k], class_ok(&by_shape[k]));
		}
	}
	return T_END();
}
