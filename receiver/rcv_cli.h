/*
 * rcv_cli: what every program's command line shares: sysexits(3) codes,
 * strict numbers, the usage-error line, --version.
 *
 *   0  EX_OK           done
 *   64 EX_USAGE        bad option, missing or malformed argument
 *   66 EX_NOINPUT      an input file named on the command line cannot be read
 *   69 EX_UNAVAILABLE  a service it needs is down (Redis, a listener address)
 *   75 EX_TEMPFAIL     temporary failure, try again later
 *   78 EX_CONFIG       the configuration (file or what it names) is wrong
 */
#ifndef RCV_CLI_H
#define RCV_CLI_H

#include <sysexits.h>

/* A decimal number, digits only (no sign, space, suffix or hex), within
 * min..max.  0, or -1. */
int rcv_cli_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v_r);

/* A decimal number with an optional fraction ("1.5"), within min..max.
 * 0, or -1. */
int rcv_cli_double(const char *s, double min, double max, double *v_r);

/* "PROG: MESSAGE" and "Try 'PROG --help'." on stderr; returns EX_USAGE. */
int rcv_cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "PROG VERSION" (rcv_version.h) on stdout; returns EX_OK. */
int rcv_cli_version(const char *prog);

#endif
