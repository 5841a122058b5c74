/* Unit tests for base/cli.c: strict numbers, the usage-error line, getopt's errors. */
#include "base/cli.h"
#include "tests/unit/t.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

static void
t_uint(void)
{
	unsigned long long v = 7;
	static const char *const bad[] = { "", "abc", "-1", "+1", " 1", "1 ", "1x", "0x10", "1e3",
	    "1.5", "18446744073709551616", "99999999999999999999999" };
	size_t i;

	T_ASSERT(cli_uint("0", 0, 10, &v) == 0 && v == 0);
	T_ASSERT(cli_uint("10", 0, 10, &v) == 0 && v == 10);
	T_ASSERT(cli_uint("007", 0, 10, &v) == 0 && v == 7);
	T_ASSERT(cli_uint("18446744073709551615", 0, ~0ULL, &v) == 0 && v == ~0ULL);
	T_ASSERT(cli_uint("11", 0, 10, &v) == -1);		/* range */
	T_ASSERT(cli_uint("0", 1, 10, &v) == -1);
	T_ASSERT(cli_uint(NULL, 0, 10, &v) == -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (cli_uint(bad[i], 0, ~0ULL, &v) != -1 || v != 42)
			T_FAIL("'%s' taken as a number (%llu)", bad[i], v);
	}
}

static void
t_double(void)
{
	double d = 9;
	static const char *const bad[] = { "", "abc", "-1", "+1", " 1", "1 ", ".", "1e3", "0x10",
	    "inf", "nan", "1.2.3", "1,5" };
	size_t i;

	T_ASSERT(cli_double("1.5", 0, 10, &d) == 0 && d == 1.5);
	T_ASSERT(cli_double("0.001", 0.001, 10, &d) == 0);
	T_ASSERT(cli_double(".5", 0, 10, &d) == 0 && d == 0.5);
	T_ASSERT(cli_double("3.", 0, 10, &d) == 0 && d == 3);
	T_ASSERT(cli_double("10.5", 0, 10, &d) == -1);
	T_ASSERT(cli_double("0", 0.001, 10, &d) == -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = 42;
		if (cli_double(bad[i], 0, 1e9, &d) != -1 || d != 42)
			T_FAIL("'%s' taken as a number (%g)", bad[i], d);
	}
}

/* "PROG: why" and the --help hint on stderr, EX_USAGE */
static void
t_usage_error(void)
{
	char buf[512];
	int fds[2], saved = dup(2), r;
	ssize_t n;

	T_ASSERT(saved >= 0 && pipe(fds) == 0);
	fflush(stderr);
	dup2(fds[1], 2);
	r = cli_usage_error("prog", "bad --x: '%s'", "y");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	T_ASSERT(n > 0);
	buf[n] = '\0';
	T_EQ_INT(r, 64);
	T_EQ_STR(buf, "prog: bad --x: 'y'\nTry 'prog --help'.\n");
	T_EQ_INT(EX_USAGE, 64);
	T_EQ_INT(EX_NOINPUT, 66);
	T_EQ_INT(EX_UNAVAILABLE, 69);
	T_EQ_INT(EX_TEMPFAIL, 75);
	T_EQ_INT(EX_CONFIG, 78);
	T_ASSERT(CLI_VERSION[0] >= '0' && CLI_VERSION[0] <= '9');
}

/* the three messages, from getopt_long itself */
static void
t_bad_option(void)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *arg, *want;
	} c[] = {
		{ "--count", "option --count needs an argument" },
		{ "-n", "option -n needs an argument" },
		{ "-x", "unknown option -x" },
		{ "--bogus", "unknown option --bogus" },
	};
	char buf[64];
	size_t i;

	opterr = 0;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char a0[] = "prog", a1[16];
		char *argv[] = { a0, a1, NULL };
		int ch;

		snprintf(a1, sizeof(a1), "%s", c[i].arg);
		optind = 0;
		ch = getopt_long(2, argv, ":n:", lo, NULL);
		T_ASSERT(ch == ':' || ch == '?');
		T_EQ_STR(cli_bad_option(ch, argv, buf, sizeof(buf)), c[i].want);
	}
}

int
main(void)
{
	T_RUN(t_uint);
	T_RUN(t_double);
	T_RUN(t_usage_error);
	T_RUN(t_bad_option);
	return T_END();
}
