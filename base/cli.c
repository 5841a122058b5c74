/*
 * cli: see cli.h.
 */
#include "base/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
cli_uint(const char *s, unsigned long long min, unsigned long long max, unsigned long long *v_r)
{
	unsigned long long v;
	const char *p;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	for (p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

int
cli_double(const char *s, double min, double max, double *v_r)
{
	const char *p = s;
	double v;
	char *end;
	int digits = 0;

	if (s == NULL)
		return -1;
	/* digits [. digits]: no sign, exponent, hex, inf or nan */
	for (; isdigit((unsigned char)*p); p++)
		digits++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	if (digits == 0 || *p != '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

int
cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return EX_USAGE;
}

const char *
cli_bad_option(int ch, char *const argv[], char *buf, size_t len)
{
	if (ch == ':')
		snprintf(buf, len, "option %s needs an argument", argv[optind - 1]);
	else if (optopt)
		snprintf(buf, len, "unknown option -%c", optopt);
	else
		snprintf(buf, len, "unknown option %s", argv[optind - 1]);
	return buf;
}

int
cli_version(const char *prog)
{
	printf("%s %s\n", prog, CLI_VERSION);
	return EX_OK;
}
